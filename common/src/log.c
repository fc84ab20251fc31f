#include "hd/log.h"

#include "hd/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *log_service = "hd";
static enum hd_log_level log_min = HD_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void hd_log_init(const char *service)
{
    log_service = service;
    const char *env = getenv("HD_LOG_LEVEL");
    if (env == NULL)
        return;
    for (int i = 0; i < 4; i++)
        if (strcmp(env, level_names[i]) == 0)
            log_min = (enum hd_log_level)i;
}

void hd_log_set_level(enum hd_log_level level)
{
    log_min = level;
}

static void log_line(enum hd_log_level level, const char *suffix, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

static void log_line(enum hd_log_level level, const char *suffix, const char *fmt, va_list ap)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[2048];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level], log_service);
    if (n < 0 || (size_t)n >= sizeof line)
        n = 0;
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    size_t used = strlen(line);
    snprintf(line + used, sizeof line - used, "%s", suffix);
    /* One fputs per line so lines from several threads or processes do not interleave. */
    size_t len = strlen(line);
    if (len < sizeof line - 1) {
        line[len] = '\n';
        line[len + 1] = '\0';
    }
    fputs(line, stderr);
}

void hd_log(enum hd_log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, "", fmt, ap);
    va_end(ap);
}

void hd_log_limited(hd_log_limit *lim, enum hd_log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    int64_t now = hd_mono_ms();
    if (lim->logged && now < lim->next_ms) {
        lim->held_back++;
        return;
    }
    char suffix[48] = "";
    if (lim->held_back > 0)
        snprintf(suffix, sizeof suffix, " held_back=%ld", lim->held_back);
    lim->logged = true;
    lim->next_ms = now + (lim->interval_ms > 0 ? lim->interval_ms : 1000);
    lim->held_back = 0;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, suffix, fmt, ap);
    va_end(ap);
}

void hd_log_clean(char *s)
{
    for (; *s; s++) {
        if (*s == '"')
            *s = '\'';
        else if (*s == '\n' || *s == '\r')
            *s = ' ';
    }
}
