/* hd_log_limited: a line that repeats as fast as a peer sends is written once per interval, and
 * the next one written says how many were held back. The log goes to stderr, which the test
 * points at a temporary file to read what was written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hd/log.h"

/* Runs fn with stderr sent to a temporary file; returns what was written (malloc'd). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char path[] = "/tmp/hd-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    fn(arg);
    fflush(stderr);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)len, 0), len);
    close(fd);
    unlink(path);
    return text;
}

static int count_lines(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

static void flood(void *arg)
{
    hd_log_limit *lim = arg;
    for (int i = 0; i < 1000; i++)
        hd_log_limited(lim, HD_LOG_WARN, "event=reply_failed n=%d", i);
}

static void test_a_flood_is_one_line_per_interval(void **state)
{
    (void)state;
    hd_log_limit lim = {.interval_ms = 60000};
    char *text = capture_stderr(flood, &lim);
    assert_int_equal(count_lines(text, "event=reply_failed"), 1);
    assert_non_null(strstr(text, "n=0"));
    assert_null(strstr(text, "held_back"));
    assert_int_equal(lim.held_back, 999);
    free(text);
}

static void after_interval(void *arg)
{
    hd_log_limit *lim = arg;
    lim->next_ms = 0; /* the interval has passed */
    hd_log_limited(lim, HD_LOG_WARN, "event=reply_failed n=%d", 1000);
}

static void test_the_next_line_counts_what_was_held_back(void **state)
{
    (void)state;
    hd_log_limit lim = {.interval_ms = 60000};
    free(capture_stderr(flood, &lim));
    char *text = capture_stderr(after_interval, &lim);
    assert_int_equal(count_lines(text, "event=reply_failed"), 1);
    assert_non_null(strstr(text, "n=1000 held_back=999\n"));
    assert_int_equal(lim.held_back, 0);
    free(text);
}

static void test_a_line_below_the_level_is_not_counted(void **state)
{
    (void)state;
    hd_log_set_level(HD_LOG_ERROR);
    hd_log_limit lim = {.interval_ms = 60000};
    char *text = capture_stderr(flood, &lim);
    hd_log_set_level(HD_LOG_INFO);
    assert_string_equal(text, "");
    assert_int_equal(lim.held_back, 0);
    free(text);
}

int main(void)
{
    hd_log_init("test");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_flood_is_one_line_per_interval),
        cmocka_unit_test(test_the_next_line_counts_what_was_held_back),
        cmocka_unit_test(test_a_line_below_the_level_is_not_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
