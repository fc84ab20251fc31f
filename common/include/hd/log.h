/* One line per event worth knowing: "ts level service key=value ...", on stderr. */
#ifndef HD_LOG_H
#define HD_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum hd_log_level { HD_LOG_DEBUG, HD_LOG_INFO, HD_LOG_WARN, HD_LOG_ERROR };

/* Names the service in every line; `service` must outlive the process (a literal). */
void hd_log_init(const char *service);
/* Lines below `level` are dropped; HD_LOG_LEVEL=debug|info|warn|error sets it at init. */
void hd_log_set_level(enum hd_log_level level);
void hd_log(enum hd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line that can repeat as fast as a peer sends (a client that never reads, a flood of bad
 * frames) is logged at most once per interval_ms (1000 when 0); the next line that passes says
 * how many were held back (held_back=N). One static per call site:
 *   static hd_log_limit lim = {.interval_ms = 1000};
 *   hd_log_limited(&lim, HD_LOG_WARN, "event=reply_failed ..."); */
typedef struct hd_log_limit {
    int interval_ms;
    bool logged;
    int64_t next_ms;
    long held_back;
} hd_log_limit;
void hd_log_limited(hd_log_limit *lim, enum hd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Makes text safe to log inside key="...": quotes become ' and line breaks spaces. */
void hd_log_clean(char *s);

#define hd_debug(...) hd_log(HD_LOG_DEBUG, __VA_ARGS__)
#define hd_info(...) hd_log(HD_LOG_INFO, __VA_ARGS__)
#define hd_warn(...) hd_log(HD_LOG_WARN, __VA_ARGS__)
#define hd_error(...) hd_log(HD_LOG_ERROR, __VA_ARGS__)

#endif
