#include "validate.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hd/utf8.h"

#define INVALID HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD

/* Fields whose limit differs from INTAKE_TEXT_MAX, named by their message type, so the limit
 * holds wherever the message appears. */
static const struct {
    const ProtobufCMessageDescriptor *type;
    const char *field;
    size_t max;
} text_limits[] = {
    {&helpdesk__v1__problem__descriptor, "description", INTAKE_DESCRIPTION_MAX},
    {&helpdesk__v1__problem__descriptor, "summary", INTAKE_SUMMARY_MAX},
};

static size_t text_limit(const ProtobufCMessageDescriptor *type, const char *field)
{
    for (size_t i = 0; i < sizeof text_limits / sizeof text_limits[0]; i++)
        if (text_limits[i].type == type && strcmp(text_limits[i].field, field) == 0)
            return text_limits[i].max;
    return INTAKE_TEXT_MAX;
}

/* Offset of the first byte that is not part of a valid UTF-8 sequence. */
static size_t utf8_bad_offset(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t n = 1;
        while (n <= 4 && (i + n > len || !hd_utf8_valid(s + i, n)))
            n++;
        if (n > 4)
            return i;
        i += n;
    }
    return len;
}

static int check_text(const char *s, const char *path, size_t max, hd_error_buf *err)
{
    if (s == NULL)
        return 0;
    size_t len = strlen(s);
    if (!hd_utf8_valid(s, len)) {
        hd_error_set(err, INVALID, path,
                     "%s is not valid UTF-8 (bad byte at offset %zu); send all text as UTF-8",
                     path, utf8_bad_offset(s, len));
        return -1;
    }
    if (len > max) {
        hd_error_set(err, INVALID, path, "%s is %zu bytes long; at most %zu bytes are accepted",
                     path, len, max);
        return -1;
    }
    return 0;
}

static int walk(const ProtobufCMessage *m, char *path, size_t cap, hd_error_buf *err);

/* One value of a field: a string is checked, a message is walked. */
static int check_value(const ProtobufCMessageDescriptor *type, const ProtobufCFieldDescriptor *f,
                       const void *value, char *path, size_t cap, hd_error_buf *err)
{
    if (f->type == PROTOBUF_C_TYPE_STRING)
        return check_text(*(char *const *)value, path, text_limit(type, f->name), err);
    if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)value;
        return sub ? walk(sub, path, cap, err) : 0;
    }
    return 0;
}

static int walk_field(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f, char *path,
                      size_t cap, hd_error_buf *err)
{
    if (f->type != PROTOBUF_C_TYPE_STRING && f->type != PROTOBUF_C_TYPE_MESSAGE)
        return 0;
    const char *base = (const char *)m;
    size_t at = strlen(path);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
        if (which != f->id)
            return 0;
    }
    snprintf(path + at, cap - at, "%s%s", at ? "." : "", f->name);
    if (f->label != PROTOBUF_C_LABEL_REPEATED)
        return check_value(m->descriptor, f, base + f->offset, path, cap, err);
    size_t n = *(const size_t *)(base + f->quantifier_offset);
    char *const *items = *(char *const *const *)(base + f->offset);
    size_t named = strlen(path);
    for (size_t i = 0; i < n; i++) {
        snprintf(path + named, cap - named, "[%zu]", i);
        if (check_value(m->descriptor, f, &items[i], path, cap, err) != 0)
            return -1;
    }
    return 0;
}

static int walk(const ProtobufCMessage *m, char *path, size_t cap, hd_error_buf *err)
{
    size_t at = strlen(path);
    for (unsigned i = 0; i < m->descriptor->n_fields; i++) {
        int rc = walk_field(m, &m->descriptor->fields[i], path, cap, err);
        path[at] = '\0';
        if (rc != 0)
            return -1;
    }
    return 0;
}

int intake_check_strings(const ProtobufCMessage *m, const char *prefix, hd_error_buf *err)
{
    char path[256];
    snprintf(path, sizeof path, "%s", prefix ? prefix : "");
    return walk(m, path, sizeof path, err);
}

static bool blank(const char *s)
{
    if (s == NULL)
        return true;
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

bool intake_source_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > INTAKE_SOURCE_MAX)
        return false;
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7E)
            return false;
    return true;
}

/* A domain: labels of letters, digits, dashes or non-ASCII bytes (internationalised names),
 * separated by single dots, at least two labels, the last at least two characters. */
static bool domain_valid(const char *d)
{
    size_t labels = 0;
    const char *start = d;
    for (const char *p = d;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t label = (size_t)(p - start);
            if (label == 0 || start[0] == '-' || p[-1] == '-')
                return false;
            labels++;
            if (*p == '\0')
                return labels >= 2 && label >= 2;
            start = p + 1;
            continue;
        }
        unsigned char c = (unsigned char)*p;
        if (!(isalnum(c) || c == '-' || c >= 0x80))
            return false;
    }
}

bool intake_email_valid(const char *s)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    if (len > INTAKE_EMAIL_MAX || at == NULL || strchr(at + 1, '@') != NULL)
        return false;
    if (at == s || at - s > 64)
        return false;
    for (const char *p = s; p < at; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c == 0x7F || strchr("\"(),:;<>[\\]", c) != NULL)
            return false;
    }
    if (s[0] == '.' || at[-1] == '.' || strstr(s, "..") != NULL)
        return false;
    return domain_valid(at + 1);
}

bool intake_phone_valid(const char *s)
{
    int digits = 0;
    const char *p = s;
    if (*p == '+')
        p++;
    for (; *p; p++) {
        if (isdigit((unsigned char)*p))
            digits++;
        else if (strchr(" -.()", *p) == NULL)
            return false;
    }
    return digits >= INTAKE_PHONE_DIGITS_MIN && digits <= INTAKE_PHONE_DIGITS_MAX;
}

/* Looks like BCP 47: subtags of 1..8 letters or digits joined by dashes, the first letters. */
bool intake_language_valid(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > INTAKE_LANGUAGE_MAX || !isalpha((unsigned char)s[0]))
        return false;
    size_t sub = 0;
    for (const char *p = s;; p++) {
        if (*p == '-' || *p == '\0') {
            if (sub == 0 || sub > 8)
                return false;
            if (*p == '\0')
                return true;
            sub = 0;
            continue;
        }
        if (!isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80)
            return false;
        sub++;
    }
}

static int check_identity(const HdContact *c, hd_error_buf *err)
{
    if (blank(c->source)) {
        hd_error_set(err, INVALID, "source", "source is required: name the system or channel "
                                             "the contact came from, e.g. \"web\"");
        return -1;
    }
    if (!intake_source_valid(c->source)) {
        hd_error_set(err, INVALID, "source",
                     "source must be 1..%d printable ASCII characters without spaces",
                     INTAKE_SOURCE_MAX);
        return -1;
    }
    if (blank(c->external_id)) {
        hd_error_set(err, INVALID, "external_id",
                     "external_id is required: the sender's own id for this contact, reused "
                     "on retries so it is taken only once");
        return -1;
    }
    if (strlen(c->external_id) > INTAKE_EXTERNAL_ID_MAX) {
        hd_error_set(err, INVALID, "external_id", "external_id is longer than %d bytes",
                     INTAKE_EXTERNAL_ID_MAX);
        return -1;
    }
    if (c->channel == HELPDESK__V1__CHANNEL__CHANNEL_UNSPECIFIED) {
        hd_error_set(err, INVALID, "channel",
                     "channel is required: phone, email, web, chat, on_site or api");
        return -1;
    }
    if (c->channel > HELPDESK__V1__CHANNEL__CHANNEL_API) {
        hd_error_set(err, INVALID, "channel", "channel %d is not a known channel",
                     (int)c->channel);
        return -1;
    }
    return 0;
}

static int check_customer(const HdCustomer *cu, hd_error_buf *err)
{
    if (cu == NULL) {
        hd_error_set(err, INVALID, "customer", "customer is required: who reported the problem");
        return -1;
    }
    if (blank(cu->name)) {
        hd_error_set(err, INVALID, "customer.name", "customer.name is required");
        return -1;
    }
    bool email = !blank(cu->email), phone = !blank(cu->phone);
    if (!email && !phone) {
        hd_error_set(err, INVALID, "customer.email",
                     "give the customer's email or phone, so the help desk can reach them");
        return -1;
    }
    if (email && !intake_email_valid(cu->email)) {
        hd_error_set(err, INVALID, "customer.email",
                     "customer.email is not an address like name@example.com (one @, no "
                     "spaces, at most %d bytes)",
                     INTAKE_EMAIL_MAX);
        return -1;
    }
    if (phone && !intake_phone_valid(cu->phone)) {
        hd_error_set(err, INVALID, "customer.phone",
                     "customer.phone must be %d to %d digits, with an optional leading + and "
                     "spaces, dashes, dots or parentheses",
                     INTAKE_PHONE_DIGITS_MIN, INTAKE_PHONE_DIGITS_MAX);
        return -1;
    }
    if (!blank(cu->language) && !intake_language_valid(cu->language)) {
        hd_error_set(err, INVALID, "customer.language",
                     "customer.language must be a language tag such as \"fr\", \"ar\" or "
                     "\"id-ID\"");
        return -1;
    }
    return 0;
}

static int check_level(Helpdesk__V1__Level l, size_t i, const char *name, hd_error_buf *err)
{
    if ((unsigned)l <= HELPDESK__V1__LEVEL__LEVEL_CRITICAL)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "problems[%zu].%s", i, name);
    hd_error_set(err, INVALID, path, "%s must be low, medium, high or critical", path);
    return -1;
}

static int check_problems(const HdContact *c, int max_problems, hd_error_buf *err)
{
    if (c->n_problems == 0) {
        hd_error_set(err, INVALID, "problems", "a contact must report at least one problem");
        return -1;
    }
    if (c->n_problems > (size_t)max_problems) {
        hd_error_set(err, INVALID, "problems",
                     "%zu problems in one contact; at most %d are accepted, split the rest "
                     "into another contact",
                     c->n_problems, max_problems);
        return -1;
    }
    for (size_t i = 0; i < c->n_problems; i++) {
        const HdProblem *p = c->problems[i];
        char path[64];
        snprintf(path, sizeof path, "problems[%zu].summary", i);
        if (p == NULL || blank(p->summary)) {
            hd_error_set(err, INVALID, path, "%s is required: one line saying what is wrong",
                         path);
            return -1;
        }
        if (check_level(p->urgency, i, "urgency", err) != 0 ||
            check_level(p->impact, i, "impact", err) != 0)
            return -1;
        if (p->users_affected > INT32_MAX) { /* the store keeps it in an integer column */
            snprintf(path, sizeof path, "problems[%zu].users_affected", i);
            hd_error_set(err, INVALID, path, "%s is too large: at most %d", path, INT32_MAX);
            return -1;
        }
    }
    return 0;
}

int intake_validate_contact(const HdContact *c, int max_problems, hd_error_buf *err)
{
    if (c == NULL) {
        hd_error_set(err, INVALID, "contact", "the request carries no contact");
        return -1;
    }
    if (intake_check_strings(&c->base, "", err) != 0)
        return -1;
    if (check_identity(c, err) != 0 || check_customer(c->customer, err) != 0 ||
        check_problems(c, max_problems, err) != 0)
        return -1;
    return 0;
}
