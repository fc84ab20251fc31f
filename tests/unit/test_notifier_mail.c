/* Notifier email and webhook documents: RFC 2047 subjects, the MIME message, JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/notifier/mail.h"
#include "hd/utf8.h"

/* Decodes base64 (no line breaks) into out; returns the length. */
static size_t unbase64(const char *in, size_t n, char *out)
{
    static const char A[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    size_t len = 0;
    for (size_t i = 0; i < n && in[i] != '='; i++) {
        const char *p = strchr(A, in[i]);
        assert_non_null(p);
        acc = (acc << 6) | (uint32_t)(p - A);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[len++] = (char)((acc >> bits) & 0xFF);
        }
    }
    out[len] = '\0';
    return len;
}

/* Decodes every encoded word of a subject header value; each word must be whole UTF-8. */
static void decode_subject(const char *enc, char *out)
{
    out[0] = '\0';
    const char *p = enc;
    while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
        p += 10;
        const char *end = strstr(p, "?=");
        assert_non_null(end);
        assert_true((size_t)(end - p) + 12 <= 75); /* RFC 2047 word length */
        char word[128];
        size_t n = unbase64(p, (size_t)(end - p), word);
        assert_true(hd_utf8_valid(word, n)); /* never splits a character */
        strcat(out, word);
        p = end + 2;
    }
}

static void test_subject_ascii(void **state)
{
    (void)state;
    char *s = notif_mail_subject("Ticket #12 resolved");
    assert_string_equal(s, "Ticket #12 resolved");
    free(s);
    s = notif_mail_subject("evil\r\nBcc: x@y");
    assert_string_equal(s, "evil  Bcc: x@y"); /* no header injection */
    free(s);
}

static void test_subject_rfc2047(void **state)
{
    (void)state;
    const char *inputs[] = {"Ticket #12 résolu", "تم حلّ تذكرتك #12 — شكرًا جزيلًا لصبرك وتعاونك معنا",
                            "آپ کا ٹکٹ #12 حل ہو گیا ہے", "é"};
    for (size_t i = 0; i < 4; i++) {
        char *s = notif_mail_subject(inputs[i]);
        assert_true(strncmp(s, "=?UTF-8?B?", 10) == 0);
        for (const char *c = s; *c; c++)
            assert_true((unsigned char)*c < 0x80);
        char back[1024];
        decode_subject(s, back);
        assert_string_equal(back, inputs[i]);
        /* folded lines stay short */
        for (const char *line = s; line;) {
            const char *nl = strstr(line, "\r\n");
            size_t len = nl ? (size_t)(nl - line) : strlen(line);
            assert_true(len <= 76);
            line = nl ? nl + 2 : NULL;
        }
        free(s);
    }
}

static void test_address(void **state)
{
    (void)state;
    char a[64];
    assert_int_equal(notif_mail_address("Help Desk <desk@example.com>", a, sizeof a), 0);
    assert_string_equal(a, "desk@example.com");
    assert_int_equal(notif_mail_address(" x@y.org ", a, sizeof a), 0);
    assert_string_equal(a, "x@y.org");
    assert_int_equal(notif_mail_address("nobody", a, sizeof a), -1);
    assert_int_equal(notif_mail_address("", a, sizeof a), -1);
}

static const char *header(const char *msg, const char *name, char *out, size_t len)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\r\n%s: ", name);
    const char *p = strstr(msg, pat);
    if (p == NULL && strncmp(msg, pat + 2, strlen(pat) - 2) == 0)
        p = msg - 2;
    if (p == NULL)
        return NULL;
    p += strlen(pat);
    size_t n = strcspn(p, "\r");
    snprintf(out, len, "%.*s", (int)n, p);
    return out;
}

static void test_message(void **state)
{
    (void)state;
    notif_mail m = {.from = "Help Desk <desk@example.com>",
                    .to = "amina@example.org",
                    .subject = "تذكرتك #42",
                    .body = "عزيزتي أمينة،\nتم استلام طلبك.\n",
                    .key = "ack/7",
                    .language = "ar",
                    .ticket_id = 42,
                    .date_ms = 1700000000000LL};
    char *msg = notif_mail_build(&m);
    char v[512];
    assert_non_null(header(msg, "From", v, sizeof v));
    assert_string_equal(v, "Help Desk <desk@example.com>");
    assert_non_null(header(msg, "To", v, sizeof v));
    assert_string_equal(v, "amina@example.org");
    assert_non_null(header(msg, "Date", v, sizeof v));
    assert_string_equal(v, "Tue, 14 Nov 2023 22:13:20 +0000");
    assert_non_null(header(msg, "Message-ID", v, sizeof v));
    assert_string_equal(v, "<helpdesk.ack.7.42@example.com>");
    assert_non_null(header(msg, "MIME-Version", v, sizeof v));
    assert_string_equal(v, "1.0");
    assert_non_null(header(msg, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; charset=UTF-8");
    assert_non_null(header(msg, "Content-Transfer-Encoding", v, sizeof v));
    assert_string_equal(v, "8bit");
    assert_non_null(header(msg, "Subject", v, sizeof v));
    char subject[256];
    decode_subject(v, subject);
    assert_string_equal(subject, "تذكرتك #42");
    /* headers end with an empty line, the body follows with CRLF line ends */
    const char *body = strstr(msg, "\r\n\r\n");
    assert_non_null(body);
    assert_string_equal(body + 4, "عزيزتي أمينة،\r\nتم استلام طلبك.\r\n");
    for (const char *p = msg; *p; p++)
        if (*p == '\n')
            assert_true(p > msg && p[-1] == '\r'); /* no bare LF */
    free(msg);
}

static void test_long_line_base64(void **state)
{
    (void)state;
    char *body = malloc(3001);
    memset(body, 'a', 3000);
    body[3000] = '\0';
    notif_mail m = {.from = "d@e.com", .to = "x@y.com", .subject = "s", .body = body,
                    .key = "k", .ticket_id = 1, .date_ms = 0};
    char *msg = notif_mail_build(&m);
    char v[128];
    assert_non_null(header(msg, "Content-Transfer-Encoding", v, sizeof v));
    assert_string_equal(v, "base64");
    const char *p = strstr(msg, "\r\n\r\n") + 4;
    char *joined = calloc(1, strlen(p) + 1), *dec = calloc(1, strlen(p) + 1);
    size_t n = 0;
    for (; *p; p++) {
        if (*p == '\r' || *p == '\n')
            continue;
        joined[n++] = *p;
    }
    unbase64(joined, n, dec);
    assert_int_equal(strlen(dec), 3002);
    assert_int_equal(memcmp(dec + 3000, "\r\n", 2), 0);
    free(joined);
    free(dec);
    free(msg);
    free(body);
}

static void test_webhook_json(void **state)
{
    (void)state;
    int64_t ids[] = {5, 6};
    notif_webhook_doc d = {.key = "ack/3", .kind = "ack", .event_kind = "created",
                           .audience = "customer", .recipient = "a@b.c", .language = "ur",
                           .subject = "ٹکٹ \"#5\"", .body = "line1\nline2\t\\\x01",
                           .ticket_id = 5, .event_seq = 9, .at = 100, .tickets = ids,
                           .n_tickets = 2, .attempt = 1};
    char *j = notif_webhook_json(&d);
    assert_string_equal(j, "{\"key\":\"ack/3\",\"kind\":\"ack\",\"event_kind\":\"created\","
                           "\"ticket_id\":5,\"event_seq\":9,\"at\":100,\"attempt\":1,"
                           "\"tickets\":[5,6],\"audience\":\"customer\",\"recipient\":\"a@b.c\","
                           "\"language\":\"ur\",\"subject\":\"ٹکٹ \\\"#5\\\"\","
                           "\"body\":\"line1\\nline2\\t\\\\\\u0001\"}");
    free(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subject_ascii),  cmocka_unit_test(test_subject_rfc2047),
        cmocka_unit_test(test_address),        cmocka_unit_test(test_message),
        cmocka_unit_test(test_long_line_base64), cmocka_unit_test(test_webhook_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
