#include "template.h"

#include "hd/strbuf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/utf8.h"

static const char *const LANGS[] = {"en", "fr", "id", "ar", "ur"};
#define N_LANGS (sizeof LANGS / sizeof LANGS[0])
static const char *const KINDS[] = {"ack",       "update",          "reply",   "escalated",
                                    "escalated_internal", "breach_internal", "resolved"};
#define N_KINDS (sizeof KINDS / sizeof KINDS[0])
/* A template is a short letter; anything bigger is a mistake in the file. */
#define MAX_TEMPLATE_BYTES ((size_t)64 * 1024)

typedef struct {
    char *subject; /* NULL: this language has no such template */
    char *body;
} tmpl;

struct notif_templates {
    tmpl t[N_LANGS][N_KINDS];
    bool have_lang[N_LANGS];
};

static int lang_index(const char *lang)
{
    for (size_t i = 0; i < N_LANGS; i++)
        if (strcmp(LANGS[i], lang) == 0)
            return (int)i;
    return -1;
}

static int kind_index(const char *kind)
{
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(KINDS[i], kind) == 0)
            return (int)i;
    return -1;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    char *buf = malloc(MAX_TEMPLATE_BYTES + 1);
    if (buf == NULL)
        abort();
    size_t n = fread(buf, 1, MAX_TEMPLATE_BYTES + 1, f);
    fclose(f);
    if (n > MAX_TEMPLATE_BYTES) {
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Splits "Subject: ...\n\nbody" into its parts; CRLF files are accepted. -1 with why. */
static int parse_template(char *text, size_t len, tmpl *out, char *err, size_t errlen)
{
    if (!hd_utf8_valid(text, len)) {
        snprintf(err, errlen, "not valid UTF-8 text");
        return -1;
    }
    const char *p = text;
    if (len >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
        (unsigned char)p[2] == 0xBF)
        p += 3; /* a byte order mark some editors add */
    if (strncmp(p, "Subject:", 8) != 0) {
        snprintf(err, errlen, "the first line must be \"Subject: ...\"");
        return -1;
    }
    p += 8;
    while (*p == ' ' || *p == '\t')
        p++;
    size_t slen = strcspn(p, "\r\n");
    const char *rest = p + slen;
    if (*rest == '\r')
        rest++;
    if (*rest == '\n')
        rest++;
    if (*rest == '\r')
        rest++;
    if (*rest != '\n') {
        snprintf(err, errlen, "a blank line must follow the subject line");
        return -1;
    }
    rest++;
    out->subject = strndup(p, slen);
    /* Bodies are kept with LF line ends; the mail module writes CRLF. */
    char *body = malloc(strlen(rest) + 1);
    if (out->subject == NULL || body == NULL)
        abort();
    size_t n = 0;
    for (const char *q = rest; *q; q++)
        if (*q != '\r')
            body[n++] = *q;
    body[n] = '\0';
    out->body = body;
    return 0;
}

static int load_one(notif_templates *t, const char *dir, size_t li, size_t ki, char *err,
                    size_t errlen)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s/%s.txt", dir, LANGS[li], KINDS[ki]);
    size_t len = 0;
    char *text = read_file(path, &len);
    if (text == NULL) {
        if (li == 0) {
            snprintf(err, errlen, "%s: cannot read the English template (every kind needs one)",
                     path);
            return -1;
        }
        return 0; /* falls back to English */
    }
    char why[256];
    int rc = parse_template(text, len, &t->t[li][ki], why, sizeof why);
    free(text);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", path, why);
        return -1;
    }
    t->have_lang[li] = true;
    return 0;
}

notif_templates *notif_templates_load(const char *dir, char *err, size_t errlen)
{
    notif_templates *t = calloc(1, sizeof *t);
    if (t == NULL)
        abort();
    for (size_t li = 0; li < N_LANGS; li++)
        for (size_t ki = 0; ki < N_KINDS; ki++)
            if (load_one(t, dir, li, ki, err, errlen) != 0) {
                notif_templates_destroy(&t);
                return NULL;
            }
    return t;
}

void notif_templates_destroy(notif_templates **t)
{
    if (t == NULL || *t == NULL)
        return;
    for (size_t li = 0; li < N_LANGS; li++)
        for (size_t ki = 0; ki < N_KINDS; ki++) {
            free((*t)->t[li][ki].subject);
            free((*t)->t[li][ki].body);
        }
    free(*t);
    *t = NULL;
}

const char *notif_templates_language(const notif_templates *t, const char *tag)
{
    char primary[9];
    size_t n = 0;
    for (const char *p = tag ? tag : ""; *p && *p != '-' && *p != '_' && n < sizeof primary - 1;
         p++)
        primary[n++] = (char)tolower((unsigned char)*p);
    primary[n] = '\0';
    int li = lang_index(primary);
    if (li < 0 || !t->have_lang[li])
        return "en";
    return LANGS[li];
}

static const notif_var *find_var(const notif_var *vars, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(vars[i].name) == len && memcmp(vars[i].name, name, len) == 0)
            return &vars[i];
    return NULL;
}

/* Renders one line (without its line end) into b. False when a placeholder in it was empty. */
static bool render_line(hd_strbuf *b, const char *line, size_t len, const notif_var *vars, size_t n)
{
    bool complete = true;
    size_t i = 0;
    while (i < len) {
        const char *open = memmem(line + i, len - i, "{{", 2);
        if (open == NULL) {
            hd_strbuf_add(b, line + i, len - i);
            break;
        }
        size_t at = (size_t)(open - line);
        const char *close = memmem(line + at + 2, len - at - 2, "}}", 2);
        if (close == NULL) {
            hd_strbuf_add(b, line + i, len - i);
            break;
        }
        hd_strbuf_add(b, line + i, at - i);
        const char *name = line + at + 2;
        size_t nlen = (size_t)(close - name);
        const notif_var *v = find_var(vars, n, name, nlen);
        size_t end = (size_t)(close - line) + 2;
        if (v == NULL) {
            hd_strbuf_add(b, line + at, end - at); /* unknown: keep it visible */
        } else {
            const char *val = v->value ? v->value : "";
            if (val[0] == '\0')
                complete = false;
            hd_strbuf_add(b, val, strlen(val));
        }
        i = end;
    }
    return complete;
}

char *notif_render_text(const char *text, const notif_var *vars, size_t n_vars)
{
    hd_strbuf out = {0};
    hd_strbuf_add(&out, "", 0);
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, "\n");
        hd_strbuf line = {0};
        hd_strbuf_add(&line, "", 0);
        bool keep = render_line(&line, p, len, vars, n_vars);
        bool has_nl = p[len] == '\n';
        if (keep) {
            hd_strbuf_add(&out, line.s, line.len);
            if (has_nl)
                hd_strbuf_add(&out, "\n", 1);
        }
        free(line.s);
        p += len + (has_nl ? 1 : 0);
    }
    return out.s;
}

int notif_render(const notif_templates *t, const char *tag, const char *kind,
                 const notif_var *vars, size_t n_vars, char **subject, char **body)
{
    int ki = kind_index(kind);
    if (ki < 0)
        return -1;
    int li = lang_index(notif_templates_language(t, tag));
    const tmpl *m = &t->t[li][ki];
    if (m->subject == NULL)
        m = &t->t[0][ki];
    if (m->subject == NULL) /* loading refuses an incomplete English set; never trust it here */
        return -1;
    hd_strbuf s = {0};
    hd_strbuf_add(&s, "", 0);
    (void)render_line(&s, m->subject, strlen(m->subject), vars, n_vars);
    *subject = s.s;
    *body = notif_render_text(m->body, vars, n_vars);
    return 0;
}
