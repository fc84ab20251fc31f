#include "hd/http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hd/log.h"

/* A scrape or a probe is tiny; a client that stalls is dropped after this. */
#define CONNECTION_TIMEOUT_S 10
#define MAX_CONNECTIONS 64

struct hd_http {
    struct MHD_Daemon *daemon;
    hd_metrics *m;
    int64_t stale_ms;
    int port;
};

static enum MHD_Result respond(struct MHD_Connection *c, unsigned status, const char *type,
                               char *body, size_t len, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum MHD_Result text(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char body[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : (size_t)n >= sizeof body ? sizeof body - 1 : (size_t)n;
    return respond(c, status, "text/plain; charset=utf-8", body, len, MHD_RESPMEM_MUST_COPY);
}

static enum MHD_Result healthz(const hd_http *h, struct MHD_Connection *c)
{
    int64_t age = hd_metrics_beat_age_ms(h->m);
    if (age > h->stale_ms)
        return text(c, MHD_HTTP_SERVICE_UNAVAILABLE,
                    "the service loop has not turned for %lld ms (limit %lld ms)\n", (long long)age,
                    (long long)h->stale_ms);
    return text(c, MHD_HTTP_OK, "ok\n");
}

static enum MHD_Result readyz(const hd_http *h, struct MHD_Connection *c)
{
    const char *reason = NULL;
    if (hd_metrics_ready(h->m, &reason))
        return text(c, MHD_HTTP_OK, "ready\n");
    return text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "not ready: %s\n", reason ? reason : "");
}

static enum MHD_Result metrics(const hd_http *h, struct MHD_Connection *c)
{
    size_t len = 0;
    char *body = hd_metrics_render(h->m, &len);
    return respond(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len,
                   MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **state)
{
    (void)version;
    (void)upload_data;
    (void)state;
    const hd_http *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *upload_size = 0; /* a body is not read: the answer does not depend on it */
        return text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET is served here\n");
    }
    if (strcmp(url, "/healthz") == 0)
        return healthz(h, c);
    if (strcmp(url, "/readyz") == 0)
        return readyz(h, c);
    if (strcmp(url, "/metrics") == 0)
        return metrics(h, c);
    return text(c, MHD_HTTP_NOT_FOUND, "not found: try /healthz, /readyz or /metrics\n");
}

/* "HOST:PORT" -> host (empty for any) and port. -1 when there is no port. */
static int split_listen(const char *listen, char *host, size_t hostlen, char *port, size_t portlen)
{
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= portlen)
        return -1;
    const char *h = listen;
    size_t n = (size_t)(colon - listen);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') { /* [::1]:8080 */
        h++;
        n -= 2;
    }
    if (n >= hostlen)
        return -1;
    memcpy(host, h, n);
    host[n] = '\0';
    if (strcmp(host, "*") == 0)
        host[0] = '\0';
    snprintf(port, portlen, "%s", colon + 1);
    return 0;
}

static struct MHD_Daemon *start_daemon(hd_http *h, const struct sockaddr *addr)
{
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
    if (addr->sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* The thread inherits this mask: SIGTERM, SIGINT and SIGHUP stay for the service's
     * signalfd, whatever order main() did things in. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, addr,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                         MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS, MHD_OPTION_END);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return d;
}

hd_http *hd_http_start(const char *listen, hd_metrics *m, int64_t stale_ms, char *err,
                       size_t errlen)
{
    char host[256], port[16];
    if (listen == NULL || split_listen(listen, host, sizeof host, port, sizeof port) != 0) {
        snprintf(err, errlen, "\"%s\" is not HOST:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080",
                 listen ? listen : "");
        return NULL;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "\"%s\": %s", listen, gai_strerror(gai));
        return NULL;
    }
    hd_http *h = calloc(1, sizeof *h);
    if (h == NULL)
        abort();
    h->m = m;
    h->stale_ms = stale_ms;
    h->daemon = start_daemon(h, res->ai_addr);
    freeaddrinfo(res);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s (address in use, or not this host's?)", listen);
        free(h);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? (int)info->port : 0;
    return h;
}

void hd_http_stop(hd_http **h)
{
    if (h == NULL || *h == NULL)
        return;
    MHD_stop_daemon((*h)->daemon);
    free(*h);
    *h = NULL;
}

int hd_http_port(const hd_http *h) { return h ? h->port : 0; }

int hd_http_from_config(const hd_config *cfg, hd_metrics *m, int64_t stale_ms, hd_http **out)
{
    *out = NULL;
    const char *listen = hd_config_str(cfg, "http.listen", "");
    if (listen == NULL || listen[0] == '\0')
        return 0;
    char err[512];
    *out = hd_http_start(listen, m, stale_ms, err, sizeof err);
    if (*out == NULL) {
        hd_log_clean(err);
        hd_error("event=config_failed key=http.listen error=\"%s\"", err);
        return -1;
    }
    char host[256] = "", port[16];
    (void)split_listen(listen, host, sizeof host, port, sizeof port); /* parsed once already */
    hd_info("event=http_listening addr=%s port=%d", host[0] ? host : "0.0.0.0", hd_http_port(*out));
    return 0;
}
