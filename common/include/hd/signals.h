/* Signals as a file descriptor for the service loop: SIGTERM/SIGINT stop, SIGHUP reloads.
 * Call hd_signals_open() before zmq_ctx_new(): ZeroMQ's I/O threads inherit the blocked mask,
 * so the signals reach only the descriptor. */
#ifndef HD_SIGNALS_H
#define HD_SIGNALS_H

/* A signalfd for SIGTERM, SIGINT and SIGHUP (blocked for normal delivery); -1 on failure. */
int hd_signals_open(void);
/* The next pending signal number, or 0 when none is pending. */
int hd_signals_take(int fd);

#endif
