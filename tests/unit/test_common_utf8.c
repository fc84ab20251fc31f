/* hd_utf8_valid / hd_utf8_length: what intake relies on to store text byte-exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hd/utf8.h"

static bool valid(const char *s)
{
    return hd_utf8_valid(s, strlen(s));
}

static void test_multilingual_text_is_valid(void **state)
{
    (void)state;
    assert_true(valid("Imprimante en panne au 2e étage, très urgent"));
    assert_true(valid("Printer di lantai dua rusak"));
    assert_true(valid("الشبكة متوقفة في مركز البيانات"));
    assert_true(valid("ہمارا سرور بند ہے، براہ کرم مدد کریں"));
    assert_true(valid("日本語のテキスト and emoji 🚑"));
    assert_true(valid(""));
    assert_true(hd_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF, the last code point */
    assert_true(hd_utf8_valid("\xed\x9f\xbf", 3));     /* U+D7FF, just below the surrogates */
    assert_true(hd_utf8_valid("\xee\x80\x80", 3));     /* U+E000, just above them */
}

static void test_length_counts_code_points(void **state)
{
    (void)state;
    const char *ar = "مرحبا";
    assert_int_equal(hd_utf8_length(ar, strlen(ar)), 5);
    assert_int_equal(hd_utf8_length("été", strlen("été")), 3);
    assert_int_equal(hd_utf8_length("🚑x", strlen("🚑x")), 2);
    assert_int_equal(hd_utf8_length("", 0), 0);
}

static void test_overlong_forms_are_rejected(void **state)
{
    (void)state;
    assert_false(hd_utf8_valid("\xc0\xaf", 2));         /* '/' in two bytes */
    assert_false(hd_utf8_valid("\xc1\xbf", 2));
    assert_false(hd_utf8_valid("\xe0\x80\xaf", 3));     /* '/' in three bytes */
    assert_false(hd_utf8_valid("\xe0\x9f\xbf", 3));     /* U+07FF in three bytes */
    assert_false(hd_utf8_valid("\xf0\x80\x80\xaf", 4)); /* '/' in four bytes */
    assert_false(hd_utf8_valid("\xf0\x8f\xbf\xbf", 4)); /* U+FFFF in four bytes */
    assert_false(hd_utf8_valid("\xc0\x80", 2));         /* "modified UTF-8" NUL */
}

static void test_surrogates_are_rejected(void **state)
{
    (void)state;
    assert_false(hd_utf8_valid("\xed\xa0\x80", 3)); /* U+D800 */
    assert_false(hd_utf8_valid("\xed\xbf\xbf", 3)); /* U+DFFF */
    assert_false(hd_utf8_valid("\xed\xa0\xbd\xed\xb8\x80", 6)); /* CESU-8 pair */
}

static void test_truncated_sequences_are_rejected(void **state)
{
    (void)state;
    const char *ar = "مرحبا";
    assert_false(hd_utf8_valid(ar, strlen(ar) - 1)); /* cut inside the last letter */
    assert_false(hd_utf8_valid("\xe2\x82", 2));
    assert_false(hd_utf8_valid("\xf0\x9f\x9a", 3));
    assert_false(hd_utf8_valid("a\xc3", 2));
    assert_false(hd_utf8_valid("\xe2\x28\xa1", 3)); /* a continuation byte missing mid-way */
    assert_false(hd_utf8_valid("\x80", 1));         /* a lone continuation byte */
    assert_false(hd_utf8_valid("abc\xbf", 4));
}

static void test_beyond_unicode_and_bad_bytes_are_rejected(void **state)
{
    (void)state;
    assert_false(hd_utf8_valid("\xf4\x90\x80\x80", 4)); /* U+110000 */
    assert_false(hd_utf8_valid("\xf5\x80\x80\x80", 4));
    assert_false(hd_utf8_valid("\xf8\x88\x80\x80\x80", 5)); /* old five-byte form */
    assert_false(hd_utf8_valid("\xfe", 1));
    assert_false(hd_utf8_valid("\xff", 1));
    assert_false(hd_utf8_valid("a\0b", 3)); /* NUL would cut the text in C and in PostgreSQL */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multilingual_text_is_valid),
        cmocka_unit_test(test_length_counts_code_points),
        cmocka_unit_test(test_overlong_forms_are_rejected),
        cmocka_unit_test(test_surrogates_are_rejected),
        cmocka_unit_test(test_truncated_sequences_are_rejected),
        cmocka_unit_test(test_beyond_unicode_and_bad_bytes_are_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
