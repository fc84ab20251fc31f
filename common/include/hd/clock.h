/* Wall-clock time for timestamps on tickets, monotonic time for timers. */
#ifndef HD_CLOCK_H
#define HD_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch. */
int64_t hd_now_ms(void);
/* Milliseconds on CLOCK_MONOTONIC: for timeouts, leases and heartbeats. */
int64_t hd_mono_ms(void);

#endif
