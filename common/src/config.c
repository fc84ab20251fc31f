#include "hd/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hd/log.h"
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

static const char *env_value(const char *key)
{
    char name[128] = "HD_";
    size_t n = 3;
    for (const char *p = key; *p && n < sizeof name - 1; p++)
        name[n++] = (char)((*p == '.' || *p == '-') ? '_' : toupper((unsigned char)*p));
    name[n] = '\0';
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

/* The --config value, or NULL when absent; -1 on any other argument. */
static int config_arg(int argc, char **argv, const char **path)
{
    *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            *path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            *path = argv[i] + 9;
        else
            return -1;
    }
    return 0;
}

hd_config *hd_config_from_args(int argc, char **argv, const char *program, int *exit_code)
{
    const char *path;
    if (config_arg(argc, argv, &path) != 0) {
        fprintf(stderr, "usage: %s [--config FILE]   (or HD_CONFIG=FILE; HD_* overrides keys)\n",
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
    }
    return cfg;
}
