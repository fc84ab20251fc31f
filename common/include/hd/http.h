/* The service's own HTTP port (libmicrohttpd, its own thread): GET /healthz, /readyz and
 * /metrics from an hd_metrics registry; anything else 404.
 *   /healthz  200 "ok" while the loop beats (hd_metrics_beat) at least every stale_ms, else 503
 *   /readyz   200 "ready" when hd_metrics_ready, else 503 with the reason
 *   /metrics  Prometheus text exposition format 0.0.4 */
#ifndef HD_HTTP_H
#define HD_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "hd/config.h"
#include "hd/metrics.h"

typedef struct hd_http hd_http;

/* Serves `m` on `listen`, "HOST:PORT" (an IPv4 address, "[IPv6]", a host name, or empty or "*"
 * for any address; port 0 picks a free one). The serving thread blocks every signal, so the
 * service's signalfd keeps them. NULL with the reason in err when it cannot listen. m must
 * outlive the result. */
hd_http *hd_http_start(const char *listen, hd_metrics *m, int64_t stale_ms, char *err,
                       size_t errlen);
/* Stops the thread and closes the port; safe on NULL and twice; sets *h to NULL. */
void hd_http_stop(hd_http **h);
/* The port it listens on. */
int hd_http_port(const hd_http *h);

/* What every service does: `http.listen` (HD_HTTP_LISTEN) from the config; empty (the default)
 * is off: 0 and *out NULL. Otherwise starts it and logs event=http_listening addr=A port=N.
 * -1 (logged, naming http.listen) when it cannot listen. */
__attribute__((warn_unused_result)) int hd_http_from_config(const hd_config *cfg, hd_metrics *m,
                                                            int64_t stale_ms, hd_http **out);

#endif
