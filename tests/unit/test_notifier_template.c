/* Notifier templates: the language a tag picks (with fallback to English), rendering with
 * UTF-8 values in Arabic and Urdu, optional lines, and the real templates in deploy/local. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../services/notifier/template.h"
#include "hd/utf8.h"

static const char *KINDS[] = {"ack",      "update",          "reply",   "escalated",
                              "escalated_internal", "breach_internal", "resolved"};

static void write_file(const char *dir, const char *lang, const char *kind, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, lang);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/%s/%s.txt", dir, lang, kind);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* English complete, French with only "ack", Arabic with only "reply" (CRLF line ends). */
static char *make_dir(void)
{
    char *dir = strdup("/tmp/test_notifier_tmpl.XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "Subject: EN %s #{{ticket}}\n\nHello {{name}},\n%s body.\n",
                 KINDS[i], KINDS[i]);
        write_file(dir, "en", KINDS[i], text);
    }
    write_file(dir, "fr", "ack", "Subject: Demande reçue {{tickets}}\n\nBonjour {{name}},\n");
    write_file(dir, "ar", "reply",
               "Subject: رد: تذكرتك #{{ticket}}\r\n\r\nعزيزي {{name}}،\r\n{{message}}\r\n");
    return dir;
}

static void remove_dir(char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void test_language_pick(void **state)
{
    (void)state;
    char *dir = make_dir();
    char err[512] = "";
    notif_templates *t = notif_templates_load(dir, err, sizeof err);
    assert_non_null(t);
    assert_string_equal(notif_templates_language(t, "fr"), "fr");
    assert_string_equal(notif_templates_language(t, "fr-CA"), "fr");
    assert_string_equal(notif_templates_language(t, "FR_be"), "fr");
    assert_string_equal(notif_templates_language(t, "ar-EG"), "ar");
    assert_string_equal(notif_templates_language(t, "id"), "en"); /* no folder: fallback */
    assert_string_equal(notif_templates_language(t, "de-DE"), "en");
    assert_string_equal(notif_templates_language(t, ""), "en");
    assert_string_equal(notif_templates_language(t, NULL), "en");
    assert_string_equal(notif_templates_language(t, "francais"), "en");
    notif_templates_destroy(&t);
    notif_templates_destroy(&t); /* safe twice */
    remove_dir(dir);
}

static void test_kind_fallback(void **state)
{
    (void)state;
    char *dir = make_dir();
    char err[512] = "";
    notif_templates *t = notif_templates_load(dir, err, sizeof err);
    assert_non_null(t);
    notif_var v[] = {{"ticket", "12"}, {"tickets", "#12, #13"}, {"name", "Zoë"},
                     {"message", "مرحبا"}};
    char *subject = NULL, *body = NULL;
    /* French has ack but not resolved: resolved falls back to English. */
    assert_int_equal(notif_render(t, "fr-CA", "ack", v, 4, &subject, &body), 0);
    assert_string_equal(subject, "Demande reçue #12, #13");
    assert_string_equal(body, "Bonjour Zoë,\n");
    free(subject);
    free(body);
    assert_int_equal(notif_render(t, "fr", "resolved", v, 4, &subject, &body), 0);
    assert_string_equal(subject, "EN resolved #12");
    free(subject);
    free(body);
    /* CRLF file: line ends become LF. */
    assert_int_equal(notif_render(t, "ar", "reply", v, 4, &subject, &body), 0);
    assert_string_equal(subject, "رد: تذكرتك #12");
    assert_string_equal(body, "عزيزي Zoë،\nمرحبا\n");
    free(subject);
    free(body);
    assert_int_equal(notif_render(t, "en", "nonsense", v, 4, &subject, &body), -1);
    notif_templates_destroy(&t);
    remove_dir(dir);
}

static void test_missing_english_fails(void **state)
{
    (void)state;
    char *dir = strdup("/tmp/test_notifier_tmpl.XXXXXX");
    assert_non_null(mkdtemp(dir));
    write_file(dir, "en", "ack", "Subject: x\n\nbody\n");
    char err[512] = "";
    assert_null(notif_templates_load(dir, err, sizeof err));
    assert_non_null(strstr(err, "update.txt"));
    write_file(dir, "en", "update", "no subject line\n");
    assert_null(notif_templates_load(dir, err, sizeof err));
    remove_dir(dir);
}

static void test_render_utf8_and_optional_lines(void **state)
{
    (void)state;
    const char *text = "محترم {{name}}،\n"
                       "مسئلہ: {{summary}}\n"
                       "Link: {{satisfaction}}\n"
                       "{{unknown}} stays\n"
                       "no newline at end {{ticket}}";
    notif_var v[] = {{"name", "عائشہ خان"},
                     {"summary", "پرنٹر کام نہیں کر رہا"},
                     {"satisfaction", ""},
                     {"ticket", "7"}};
    char *out = notif_render_text(text, v, 4);
    assert_string_equal(out, "محترم عائشہ خان،\n"
                             "مسئلہ: پرنٹر کام نہیں کر رہا\n"
                             "{{unknown}} stays\n"
                             "no newline at end 7");
    assert_true(hd_utf8_valid(out, strlen(out)));
    free(out);
    /* An unclosed placeholder is text. */
    out = notif_render_text("a {{name", v, 4);
    assert_string_equal(out, "a {{name");
    free(out);
}

/* The shipped templates: every language has every kind, and Arabic/Urdu render right. */
static void test_shipped_templates(void **state)
{
    (void)state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", __FILE__);
    char *slash = strstr(dir, "tests/unit/");
    assert_non_null(slash);
    snprintf(slash, sizeof dir - (size_t)(slash - dir), "deploy/local/templates");
    char err[512] = "";
    notif_templates *t = notif_templates_load(dir, err, sizeof err);
    if (t == NULL)
        fail_msg("%s", err);
    const char *langs[] = {"en", "fr", "id", "ar", "ur"};
    notif_var v[] = {{"ticket", "42"},     {"tickets", "#42, #43"}, {"name", "Name"},
                     {"summary", "S"},     {"priority", "P1"},      {"queue", "q"},
                     {"tier", "2"},        {"solution", "Sol"},     {"message", "Msg"},
                     {"interval", "30 x"}, {"satisfaction", "http://x/42"}};
    for (size_t li = 0; li < 5; li++) {
        assert_string_equal(notif_templates_language(t, langs[li]), langs[li]);
        for (size_t k = 0; k < sizeof KINDS / sizeof KINDS[0]; k++) {
            char *s = NULL, *b = NULL;
            assert_int_equal(notif_render(t, langs[li], KINDS[k], v, 11, &s, &b), 0);
            assert_non_null(strstr(s, "42")); /* the ticket number is in every subject */
            assert_null(strstr(b, "{{"));
            assert_true(hd_utf8_valid(b, strlen(b)));
            free(s);
            free(b);
        }
    }
    char *s = NULL, *b = NULL;
    assert_int_equal(notif_render(t, "ar-SA", "resolved", v, 11, &s, &b), 0);
    assert_non_null(strstr(s, "تم حلّ تذكرتك"));
    assert_non_null(strstr(b, "http://x/42"));
    free(s);
    free(b);
    assert_int_equal(notif_render(t, "ur-PK", "ack", v, 11, &s, &b), 0);
    assert_non_null(strstr(b, "ہیلپ ڈیسک"));
    free(s);
    free(b);
    notif_templates_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_language_pick),
        cmocka_unit_test(test_kind_fallback),
        cmocka_unit_test(test_missing_english_fails),
        cmocka_unit_test(test_render_utf8_and_optional_lines),
        cmocka_unit_test(test_shipped_templates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
