/* The notifier's key set: put, get, delete, growth past its first buckets, clear, and keys in
 * any script. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/notifier/keyset.h"

static void test_put_get_del(void **state)
{
    (void)state;
    notif_keyset *s = notif_keyset_new();
    int64_t v = 0;
    assert_false(notif_keyset_get(s, "ack/1", &v));
    notif_keyset_put(s, "ack/1", 7);
    notif_keyset_put(s, "ack/1/webhook", 8);
    notif_keyset_put(s, "ack/رقم", 9);
    assert_true(notif_keyset_get(s, "ack/1", &v));
    assert_int_equal(v, 7);
    assert_true(notif_keyset_get(s, "ack/رقم", &v));
    assert_int_equal(v, 9);
    assert_true(notif_keyset_get(s, "ack/1/webhook", NULL));
    notif_keyset_put(s, "ack/1", 70); /* a key already there: its value changes */
    assert_true(notif_keyset_get(s, "ack/1", &v));
    assert_int_equal(v, 70);
    assert_int_equal(notif_keyset_size(s), 3);
    notif_keyset_del(s, "ack/1");
    notif_keyset_del(s, "ack/1"); /* twice is fine */
    notif_keyset_del(s, "never");
    assert_false(notif_keyset_get(s, "ack/1", NULL));
    assert_true(notif_keyset_get(s, "ack/1/webhook", NULL));
    assert_int_equal(notif_keyset_size(s), 2);
    notif_keyset_destroy(&s);
    assert_null(s);
    notif_keyset_destroy(&s);
}

static void test_many_keys_grow_and_clear(void **state)
{
    (void)state;
    notif_keyset *s = notif_keyset_new();
    char key[48];
    for (int i = 0; i < 50000; i++) {
        snprintf(key, sizeof key, "update/%d/1700000000000", i);
        notif_keyset_put(s, key, i);
    }
    assert_int_equal(notif_keyset_size(s), 50000);
    for (int i = 0; i < 50000; i += 7) {
        int64_t v = -1;
        snprintf(key, sizeof key, "update/%d/1700000000000", i);
        assert_true(notif_keyset_get(s, key, &v));
        assert_int_equal(v, i);
        notif_keyset_del(s, key);
        assert_false(notif_keyset_get(s, key, NULL));
    }
    assert_int_equal(notif_keyset_size(s), 50000 - (50000 + 6) / 7);
    notif_keyset_clear(s);
    assert_int_equal(notif_keyset_size(s), 0);
    assert_false(notif_keyset_get(s, "update/1/1700000000000", NULL));
    notif_keyset_put(s, "after-clear", 1);
    assert_true(notif_keyset_get(s, "after-clear", NULL));
    notif_keyset_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_del),
        cmocka_unit_test(test_many_keys_grow_and_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
