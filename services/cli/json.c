#include "json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/utf8.h"

#define MAX_DEPTH 64

struct cli_json {
    char *buf;
    size_t len, cap;
    int depth;
    bool first[MAX_DEPTH]; /* no value yet at this depth: no comma before the next */
    bool after_key;        /* the next value follows a key: no comma */
};

cli_json *cli_json_new(void)
{
    cli_json *j = calloc(1, sizeof *j);
    if (j == NULL)
        abort();
    j->cap = 256;
    j->buf = malloc(j->cap);
    if (j->buf == NULL)
        abort();
    cli_json_clear(j);
    return j;
}

void cli_json_destroy(cli_json **j)
{
    if (j == NULL || *j == NULL)
        return;
    free((*j)->buf);
    free(*j);
    *j = NULL;
}

void cli_json_clear(cli_json *j)
{
    j->len = 0;
    j->buf[0] = '\0';
    j->depth = 0;
    j->first[0] = true;
    j->after_key = false;
}

const char *cli_json_text(const cli_json *j)
{
    return j->buf;
}

size_t cli_json_len(const cli_json *j)
{
    return j->len;
}

static void put(cli_json *j, const char *s, size_t n)
{
    if (j->len + n + 1 > j->cap) {
        while (j->len + n + 1 > j->cap)
            j->cap *= 2;
        j->buf = realloc(j->buf, j->cap);
        if (j->buf == NULL)
            abort();
    }
    memcpy(j->buf + j->len, s, n);
    j->len += n;
    j->buf[j->len] = '\0';
}

static void puts_(cli_json *j, const char *s)
{
    put(j, s, strlen(s));
}

/* Before any value: a comma unless it is the first at its level or follows a key. */
static void separate(cli_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        put(j, ",", 1);
    j->first[j->depth] = false;
}

static void open_(cli_json *j, const char *c)
{
    separate(j);
    put(j, c, 1);
    if (j->depth < MAX_DEPTH - 1)
        j->depth++;
    j->first[j->depth] = true;
}

static void close_(cli_json *j, const char *c)
{
    put(j, c, 1);
    if (j->depth > 0)
        j->depth--;
}

void cli_json_begin_object(cli_json *j) { open_(j, "{"); }
void cli_json_end_object(cli_json *j) { close_(j, "}"); }
void cli_json_begin_array(cli_json *j) { open_(j, "["); }
void cli_json_end_array(cli_json *j) { close_(j, "]"); }

/* Length of the valid UTF-8 sequence at s (at most `left` bytes), or 0. */
static size_t utf8_seq(const char *s, size_t left)
{
    for (size_t n = 1; n <= 4 && n <= left; n++)
        if (hd_utf8_valid(s, n))
            return n;
    return 0;
}

static void put_quoted(cli_json *j, const char *s)
{
    put(j, "\"", 1);
    size_t len = strlen(s);
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(j, esc, 2);
        } else if (c == '\n') {
            puts_(j, "\\n");
        } else if (c == '\t') {
            puts_(j, "\\t");
        } else if (c == '\r') {
            puts_(j, "\\r");
        } else if (c < 0x20 || c == 0x7F) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            puts_(j, esc);
        } else if (c < 0x80) {
            put(j, (const char *)&s[i], 1);
        } else {
            size_t n = utf8_seq(s + i, len - i);
            if (n == 0) {
                puts_(j, "\\ufffd");
                i++;
                continue;
            }
            put(j, s + i, n);
            i += n;
            continue;
        }
        i++;
    }
    put(j, "\"", 1);
}

void cli_json_key(cli_json *j, const char *key)
{
    separate(j);
    put_quoted(j, key);
    put(j, ":", 1);
    j->after_key = true;
}

void cli_json_string(cli_json *j, const char *s)
{
    if (s == NULL) {
        cli_json_null(j);
        return;
    }
    separate(j);
    put_quoted(j, s);
}

void cli_json_int(cli_json *j, int64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRId64, v);
    separate(j);
    puts_(j, num);
}

void cli_json_uint(cli_json *j, uint64_t v)
{
    char num[32];
    snprintf(num, sizeof num, "%" PRIu64, v);
    separate(j);
    puts_(j, num);
}

void cli_json_double(cli_json *j, double v)
{
    if (!isfinite(v)) {
        cli_json_null(j);
        return;
    }
    char num[32];
    snprintf(num, sizeof num, "%.6g", v);
    separate(j);
    puts_(j, num);
}

void cli_json_bool(cli_json *j, bool v)
{
    separate(j);
    puts_(j, v ? "true" : "false");
}

void cli_json_null(cli_json *j)
{
    separate(j);
    puts_(j, "null");
}

void cli_json_kstr(cli_json *j, const char *key, const char *s)
{
    cli_json_key(j, key);
    cli_json_string(j, s);
}

void cli_json_kint(cli_json *j, const char *key, int64_t v)
{
    cli_json_key(j, key);
    cli_json_int(j, v);
}

void cli_json_kbool(cli_json *j, const char *key, bool v)
{
    cli_json_key(j, key);
    cli_json_bool(j, v);
}
