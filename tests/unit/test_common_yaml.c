/* The YAML tree used by config and rules files: shapes, line numbers, errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "hd/yaml.h"

static hd_yaml *load(const char *text, char *err, size_t errlen)
{
    return hd_yaml_load_string(text, strlen(text), err, errlen);
}

static void test_maps_and_sequences(void **state)
{
    (void)state;
    char err[256] = "";
    const char *text = "name: desk\n"
                       "rules:\n"
                       "  - name: outage\n"
                       "    priority: P1\n"
                       "    keywords: [down, \"متوقفة\"]\n"
                       "  - name: other\n"
                       "    priority: P3\n"
                       "nested:\n"
                       "  inner:\n"
                       "    value: 42\n";
    hd_yaml *y = load(text, err, sizeof err);
    assert_non_null(y);
    assert_int_equal(y->kind, HD_YAML_MAP);
    assert_int_equal(y->count, 3);
    assert_string_equal(hd_yaml_str(y, "name"), "desk");
    const hd_yaml *rules = hd_yaml_get(y, "rules");
    assert_non_null(rules);
    assert_int_equal(rules->kind, HD_YAML_SEQ);
    assert_int_equal(rules->count, 2);
    const hd_yaml *first = rules->child;
    assert_int_equal(first->kind, HD_YAML_MAP);
    assert_int_equal(first->line, 3);
    assert_string_equal(hd_yaml_str(first, "priority"), "P1");
    const hd_yaml *kw = hd_yaml_get(first, "keywords");
    assert_non_null(kw);
    assert_int_equal(kw->kind, HD_YAML_SEQ);
    assert_int_equal(kw->count, 2);
    assert_string_equal(kw->child->next->value, "متوقفة");
    assert_int_equal(kw->line, 5);
    const hd_yaml *second = first->next;
    assert_int_equal(second->line, 6);
    assert_string_equal(hd_yaml_str(second, "priority"), "P3");
    assert_int_equal(hd_yaml_get(second, "priority")->line, 7);
    const hd_yaml *inner = hd_yaml_get(hd_yaml_get(y, "nested"), "inner");
    assert_string_equal(hd_yaml_str(inner, "value"), "42");
    assert_int_equal(hd_yaml_get(inner, "value")->line, 10);
    hd_yaml_free(&y);
    assert_null(y);
    hd_yaml_free(&y); /* safe twice */
}

static void test_lookups_on_the_wrong_kind(void **state)
{
    (void)state;
    char err[256];
    hd_yaml *y = load("a: [1, 2]\nb: text\n", err, sizeof err);
    assert_non_null(y);
    assert_null(hd_yaml_get(y, "missing"));
    assert_null(hd_yaml_str(y, "a"));          /* a sequence, not a scalar */
    assert_null(hd_yaml_get(hd_yaml_get(y, "b"), "x")); /* a scalar, not a map */
    assert_null(hd_yaml_get(NULL, "a"));
    hd_yaml_free(&y);
}

static void test_empty_document_is_an_empty_map(void **state)
{
    (void)state;
    char err[256];
    hd_yaml *y = load("", err, sizeof err);
    assert_non_null(y);
    assert_int_equal(y->kind, HD_YAML_MAP);
    assert_int_equal(y->count, 0);
    hd_yaml_free(&y);
    y = load("# only a comment\n", err, sizeof err);
    assert_non_null(y);
    assert_int_equal(y->count, 0);
    hd_yaml_free(&y);
}

static void test_syntax_errors_name_the_line(void **state)
{
    (void)state;
    char err[256] = "";
    hd_yaml *y = load("a: 1\nb: 2\nc: [unclosed\n", err, sizeof err);
    assert_null(y);
    assert_non_null(strstr(err, "line "));
    err[0] = '\0';
    y = load("a: 1\n  b: 2\n", err, sizeof err);
    assert_null(y);
    assert_non_null(strstr(err, "line 2"));
    err[0] = '\0';
    y = load("a: &x 1\nb: *x\n", err, sizeof err); /* aliases are refused */
    assert_null(y);
    assert_non_null(strstr(err, "line 2"));
    err[0] = '\0';
    y = load("? [a, b]\n: 1\n", err, sizeof err); /* keys must be scalars */
    assert_null(y);
    assert_non_null(strstr(err, "line"));
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/hd-yaml-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "store:\n  lease_ms: 1500\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char err[256];
    hd_yaml *y = hd_yaml_load_file(path, err, sizeof err);
    unlink(path);
    assert_non_null(y);
    assert_string_equal(hd_yaml_str(hd_yaml_get(y, "store"), "lease_ms"), "1500");
    hd_yaml_free(&y);
    y = hd_yaml_load_file("/nonexistent/file.yaml", err, sizeof err);
    assert_null(y);
    assert_non_null(strstr(err, "/nonexistent/file.yaml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maps_and_sequences),
        cmocka_unit_test(test_lookups_on_the_wrong_kind),
        cmocka_unit_test(test_empty_document_is_an_empty_map),
        cmocka_unit_test(test_syntax_errors_name_the_line),
        cmocka_unit_test(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
