/* Helpers the rule-driven unit tests (prioritizer, router) share: a ticket as the store sends
 * it, YAML from a string, the needles an error message must hold, and a temporary file.
 * Header-only (static inline): unit tests include it as "../support/unit_helpers.h" and are not
 * linked with the .c files of tests/support. Failures are cmocka failures of the running test. */
#ifndef HD_TEST_UNIT_HELPERS_H
#define HD_TEST_UNIT_HELPERS_H

#include <setjmp.h> /* before cmocka.h, which needs these */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "hd/proto.h"
#include "hd/yaml.h"

#define UT_MAX_ATTRS 4

/* A ticket with every sub-message present and empty, like one the store sends. */
typedef struct {
    HdTicket t;
    HdProblem problem;
    HdCustomer customer;
    HdAccount account;
    HdLocation location;
    HdAttribute attr[UT_MAX_ATTRS];
    HdAttribute *attrs[UT_MAX_ATTRS];
} ut_ticket;

static inline void ut_ticket_init(ut_ticket *f, int64_t id, Helpdesk__V1__Status status)
{
    memset(f, 0, sizeof *f);
    helpdesk__v1__ticket__init(&f->t);
    helpdesk__v1__problem__init(&f->problem);
    helpdesk__v1__customer__init(&f->customer);
    helpdesk__v1__account__init(&f->account);
    helpdesk__v1__location__init(&f->location);
    f->t.id = id;
    f->t.status = status;
    f->t.problem = &f->problem;
    f->t.customer = &f->customer;
    f->t.account = &f->account;
    f->t.location = &f->location;
    f->customer.attributes = f->attrs;
}

/* Adds a customer attribute key=value (strings must outlive f). */
static inline void ut_ticket_attr(ut_ticket *f, const char *key, const char *value)
{
    size_t i = f->customer.n_attributes++;
    assert_true(i < UT_MAX_ATTRS);
    helpdesk__v1__attribute__init(&f->attr[i]);
    f->attr[i].key = (char *)key;
    f->attr[i].value = (char *)value;
    f->attrs[i] = &f->attr[i];
}

/* The YAML tree of `text`; a YAML syntax error fails the test (it is the rules, not the YAML,
 * that the callers test). Caller frees with hd_yaml_free. */
static inline hd_yaml *ut_yaml(const char *text)
{
    char err[512] = "";
    hd_yaml *y = hd_yaml_load_string(text, strlen(text), err, sizeof err);
    if (y == NULL)
        fail_msg("yaml: %s", err);
    return y;
}

/* Fails unless err holds every one of the NULL-terminated needles. */
static inline void ut_assert_err_has(const char *err, const char *const *needles)
{
    for (size_t i = 0; needles[i]; i++)
        if (strstr(err, needles[i]) == NULL)
            fail_msg("error \"%s\" lacks \"%s\"", err, needles[i]);
}

/* A NULL-terminated list of strings, in place: UT_NEEDLES("a.yaml:3:", "rules[0]"). */
#define UT_NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Writes text to a new file named after `prefix` (like "/tmp/hd-x-"); returns its path (caller
 * unlinks and frees). */
static inline char *ut_write_temp(const char *prefix, const char *text)
{
    size_t n = strlen(prefix) + sizeof "XXXXXX";
    char *path = malloc(n);
    assert_non_null(path);
    memcpy(path, prefix, strlen(prefix));
    memcpy(path + strlen(prefix), "XXXXXX", sizeof "XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

#endif
