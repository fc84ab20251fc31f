#include "hd/config.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hd/log.h"
#include "hd/utf8.h"
#include "hd/yaml.h"

struct hd_config {
    hd_yaml *root;
    char *path;
};

hd_config *hd_config_load(const char *path, char *err, size_t errlen)
{
    hd_config *cfg = calloc(1, sizeof *cfg);
    if (cfg == NULL)
        abort();
    if (path == NULL || path[0] == '\0')
        return cfg;
    char why[256];
    cfg->root = hd_yaml_load_file(path, why, sizeof why);
    if (cfg->root == NULL) {
        snprintf(err, errlen, "%s: %s", path, why);
        free(cfg);
        return NULL;
    }
    if (cfg->root->kind != HD_YAML_MAP) {
        snprintf(err, errlen, "%s: the top level must be a map of settings", path);
        hd_yaml_free(&cfg->root);
        free(cfg);
        return NULL;
    }
    cfg->path = strdup(path);
    return cfg;
}

void hd_config_destroy(hd_config **cfg)
{
    if (cfg == NULL || *cfg == NULL)
        return;
    hd_yaml_free(&(*cfg)->root);
    free((*cfg)->path);
    free(*cfg);
    *cfg = NULL;
}

const char *hd_config_path(const hd_config *cfg)
{
    return cfg ? cfg->path : NULL;
}

/* HD_ + the key in upper case, dots and dashes as underscores. */
static void env_name(const char *key, char *name, size_t cap)
{
    size_t n = 0;
    for (const char *p = "HD_"; *p && n < cap - 1; p++)
        name[n++] = *p;
    for (const char *p = key; *p && n < cap - 1; p++)
        name[n++] = (char)((*p == '.' || *p == '-') ? '_' : toupper((unsigned char)*p));
    name[n] = '\0';
}

static const char *env_value(const char *key)
{
    char name[128];
    env_name(key, name, sizeof name);
    return getenv(name);
}

static const char *file_value(const hd_config *cfg, const char *key)
{
    if (cfg == NULL || cfg->root == NULL)
        return NULL;
    const hd_yaml *node = cfg->root;
    char part[128];
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len >= sizeof part)
            return NULL;
        memcpy(part, p, len);
        part[len] = '\0';
        node = hd_yaml_get(node, part);
        if (node == NULL)
            return NULL;
        if (dot == NULL)
            return node->kind == HD_YAML_SCALAR ? node->value : NULL;
        p = dot + 1;
    }
}

const char *hd_config_str(const hd_config *cfg, const char *key, const char *def)
{
    const char *v = env_value(key);
    if (v == NULL)
        v = file_value(cfg, key);
    return v ? v : def;
}

int hd_config_int(const hd_config *cfg, const char *key, int64_t lo, int64_t hi, int64_t *out,
                  char *err, size_t errlen)
{
    const char *v = hd_config_str(cfg, key, NULL);
    if (v == NULL)
        return 0;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < lo || n > hi) {
        snprintf(err, errlen, "%s: \"%s\" is not a whole number from %lld to %lld", key, v,
                 (long long)lo, (long long)hi);
        return -1;
    }
    *out = n;
    return 0;
}

/* ---- checking a config against the table of settings ---- */

/* Whether dotted `key` is `pattern`, segment by segment, a "*" segment matching any name. With
 * `prefix`, whether key names a map above pattern (notifier.smtp above notifier.smtp.url). */
static bool key_matches(const char *pattern, const char *key, bool prefix)
{
    const char *p = pattern, *k = key;
    for (;;) {
        size_t pl = strcspn(p, "."), kl = strcspn(k, ".");
        bool any = pl == 1 && *p == '*';
        if (kl == 0 || (!any && (pl != kl || memcmp(p, k, kl) != 0)))
            return false;
        p += pl;
        k += kl;
        if (*k == '\0')
            return prefix ? *p == '.' : *p == '\0';
        if (*p == '\0')
            return false;
        p++;
        k++;
    }
}

const hd_config_key *hd_config_key_find(const char *key)
{
    size_t n;
    const hd_config_key *k = hd_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (key_matches(k[i].key, key, false))
            return &k[i];
    return NULL;
}

static bool is_map_of_settings(const char *key)
{
    size_t n;
    const hd_config_key *k = hd_config_keys(&n);
    for (size_t i = 0; i < n; i++)
        if (key_matches(k[i].key, key, true))
            return true;
    return false;
}

static const hd_config_section *section_find(const char *name)
{
    size_t n;
    const hd_config_section *s = hd_config_sections(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    return NULL;
}

typedef struct {
    const hd_config *cfg;
    unsigned service;
    hd_config_problem *p;
} checker;

__attribute__((format(printf, 4, 5))) static int problem(checker *c, const char *key,
                                                         const char *source, const char *fmt,
                                                         ...)
{
    snprintf(c->p->key, sizeof c->p->key, "%s", key);
    snprintf(c->p->source, sizeof c->p->source, "%s", source);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->p->reason, sizeof c->p->reason, fmt, ap);
    va_end(ap);
    return -1;
}

/* Whether v is one of the words (any case). */
static bool word_of(const char *v, const char *const *words)
{
    for (; *words; words++)
        if (strcasecmp(v, *words) == 0)
            return true;
    return false;
}

/* Whether v is a value of k's type and range; why says what is wrong otherwise. */
static bool value_ok(const hd_config_key *k, const char *v, char *why, size_t cap)
{
    static const char *const bools[] = {"true", "yes", "on", "1", "false", "no", "off", "0", "",
                                        NULL};
    if (k->type == HD_CONFIG_INT) {
        char *end;
        errno = 0;
        long long n = strtoll(v, &end, 10);
        if (errno == 0 && end != v && *end == '\0' && n >= k->lo && n <= k->hi)
            return true;
        snprintf(why, cap, "\"%.60s\" is not a whole number from %lld to %lld", v,
                 (long long)k->lo, (long long)k->hi);
        return false;
    }
    if (k->type == HD_CONFIG_BOOL) {
        if (word_of(v, bools))
            return true;
        snprintf(why, cap, "\"%.60s\" is not true or false", v);
        return false;
    }
    if (hd_utf8_valid(v, strlen(v)))
        return true;
    snprintf(why, cap, "the value is not valid UTF-8 text");
    return false;
}

/* The settings of a section, for a message: "api, work, events, ...". */
static void section_keys(const char *section, char *out, size_t cap)
{
    size_t n, len = strlen(section), used = 0;
    const hd_config_key *k = hd_config_keys(&n);
    out[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++)
        if (strncmp(k[i].key, section, len) == 0 && k[i].key[len] == '.')
            used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? ", " : "",
                                     k[i].key + len + 1);
}

static int unknown_key(checker *c, const char *key, const char *source)
{
    char section[64], known[400];
    snprintf(section, sizeof section, "%.*s", (int)strcspn(key, "."), key);
    section_keys(section, known, sizeof known);
    return problem(c, key, source, "no such setting; section %s has: %s", section, known);
}

/* One node of the file at dotted `path`; `owned`: the service owns its section. */
static int check_node(checker *c, const hd_yaml *node, const char *path, bool owned)
{
    char src[600];
    snprintf(src, sizeof src, "%s:%d", c->cfg->path, node->line);
    const hd_config_key *k = hd_config_key_find(path);
    bool reads = k != NULL && (k->readers & c->service) != 0;
    if (node->kind == HD_YAML_SCALAR) {
        char why[300];
        if (k == NULL && node->value[0] == '\0' && is_map_of_settings(path))
            return 0; /* `teams:` with every entry commented out: an empty map */
        if (k == NULL)
            return owned ? unknown_key(c, path, src) : 0;
        if (reads && !value_ok(k, node->value, why, sizeof why))
            return problem(c, path, src, "%s", why);
        return 0;
    }
    if (k != NULL)
        return reads || owned ? problem(c, path, src, "must be one value, not a %s",
                                        node->kind == HD_YAML_MAP ? "map" : "list")
                              : 0;
    if (node->kind == HD_YAML_SEQ || !is_map_of_settings(path))
        return owned ? unknown_key(c, path, src) : 0;
    for (const hd_yaml *child = node->child; child; child = child->next) {
        char sub[160];
        snprintf(sub, sizeof sub, "%s.%s", path, child->key);
        if (check_node(c, child, sub, owned) != 0)
            return -1;
    }
    return 0;
}

static int check_file(checker *c)
{
    const hd_yaml *root = c->cfg->root;
    for (const hd_yaml *top = root ? root->child : NULL; top; top = top->next) {
        const hd_config_section *s = section_find(top->key);
        if (s == NULL) {
            char src[600], names[300] = "";
            size_t n, used = 0;
            const hd_config_section *all = hd_config_sections(&n);
            for (size_t i = 0; i < n && used < sizeof names; i++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s",
                                         i ? ", " : "", all[i].name);
            snprintf(src, sizeof src, "%s:%d", c->cfg->path, top->line);
            return problem(c, top->key, src, "not a setting of any service; the sections are: %s",
                           names);
        }
        if (check_node(c, top, top->key, (s->owners & c->service) != 0) != 0)
            return -1;
    }
    return 0;
}

/* An HD_* variable in a section the service owns must name a setting (a typo would otherwise
 * be ignored without a word). */
static int check_env_names(checker *c)
{
    size_t ns, nk;
    const hd_config_section *s = hd_config_sections(&ns);
    const hd_config_key *k = hd_config_keys(&nk);
    for (char **e = environ; *e; e++) {
        char name[160], prefix[64], pattern[160];
        size_t len = strcspn(*e, "=");
        if (strncmp(*e, "HD_", 3) != 0 || len >= sizeof name)
            continue;
        snprintf(name, sizeof name, "%.*s", (int)len, *e);
        bool owned = false, known = false;
        for (size_t i = 0; i < ns && !owned; i++) {
            env_name(s[i].name, prefix, sizeof prefix);
            size_t pl = strlen(prefix);
            owned = (s[i].owners & c->service) && strncmp(name, prefix, pl) == 0 &&
                    (name[pl] == '\0' || name[pl] == '_');
        }
        for (size_t i = 0; i < nk && owned && !known; i++) {
            env_name(k[i].key, pattern, sizeof pattern);
            known = fnmatch(pattern, name, 0) == 0;
        }
        if (owned && !known)
            return problem(c, name, name, "no setting is named so (HD_ + the key in capitals, "
                                          "dots as underscores: store.lease_ms is "
                                          "HD_STORE_LEASE_MS)");
    }
    return 0;
}

/* Every setting the service reads that the environment gives must have its type and range. */
static int check_env_values(checker *c)
{
    size_t n;
    const hd_config_key *k = hd_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        char name[160], why[300];
        if ((k[i].readers & c->service) == 0 || strchr(k[i].key, '*') != NULL)
            continue;
        env_name(k[i].key, name, sizeof name);
        const char *v = getenv(name);
        if (v != NULL && !value_ok(&k[i], v, why, sizeof why))
            return problem(c, k[i].key, name, "%s", why);
    }
    return 0;
}

int hd_config_check(const hd_config *cfg, unsigned service, hd_config_problem *p)
{
    checker c = {.cfg = cfg, .service = service, .p = p};
    memset(p, 0, sizeof *p);
    return check_file(&c) == 0 && check_env_values(&c) == 0 && check_env_names(&c) == 0 ? 0
                                                                                        : -1;
}

/* The --config value, or NULL when absent, and whether --check-config was given; -1 on any
 * other argument. */
static int config_arg(int argc, char **argv, const char **path, bool *check_only)
{
    *path = NULL;
    *check_only = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            *path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            *path = argv[i] + 9;
        else if (strcmp(argv[i], "--check-config") == 0)
            *check_only = true;
        else
            return -1;
    }
    return 0;
}

/* Makes a key from a file fit in key=value: anything but visible ASCII becomes '?'. */
static void clean_token(char *s)
{
    for (; *s; s++)
        if (*s <= ' ' || *s == '"' || *s == 0x7f)
            *s = '?';
}

/* hd_config_check for the service `program` names; logs the problem. */
static int check_for(const hd_config *cfg, const char *program)
{
    unsigned service = hd_config_service(program);
    hd_config_problem p;
    if (service == 0 || hd_config_check(cfg, service, &p) == 0)
        return 0;
    clean_token(p.key);
    hd_log_clean(p.source);
    hd_log_clean(p.reason);
    hd_error("event=config_invalid key=%s source=\"%s\" reason=\"%s\"", p.key, p.source,
             p.reason);
    return -1;
}

hd_config *hd_config_from_args(int argc, char **argv, const char *program, int *exit_code)
{
    const char *path;
    bool check_only;
    if (config_arg(argc, argv, &path, &check_only) != 0) {
        fprintf(stderr,
                "usage: %s [--config FILE] [--check-config]   (or HD_CONFIG=FILE; HD_* "
                "overrides keys)\n",
                program);
        *exit_code = 2;
        return NULL;
    }
    if (path == NULL)
        path = getenv("HD_CONFIG");
    char err[512];
    hd_config *cfg = hd_config_load(path, err, sizeof err);
    if (cfg == NULL) {
        hd_log_clean(err);
        hd_error("event=config_invalid error=\"%s\"", err);
        *exit_code = 1;
        return NULL;
    }
    if (check_for(cfg, program) != 0) {
        *exit_code = 1;
        hd_config_destroy(&cfg);
    } else if (check_only) {
        hd_info("event=config_ok path=%s", path && path[0] ? path : "(none)");
        *exit_code = 0;
        hd_config_destroy(&cfg);
    }
    return cfg;
}
