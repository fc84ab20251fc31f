/* libFuzzer target: the shared config file. The bytes go to a file (hd_config_load takes a
 * path, as every service's main does) and every key a service reads is read back, through the
 * same functions the services use; the YAML tree is also walked directly. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hd/config.h"
#include "hd/sla.h"
#include "hd/yaml.h"
#include "intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const STR_KEYS[] = {
    "database_url", "intake.endpoint", "store.api",        "store.work", "store.events",
    "prioritizer.rules", "router.rules", "notifier.templates", "sla.P1",  "",
    ".",            "store..api",      "sla.P1.first_response.x",
};
static const char *const INT_KEYS[] = {
    "store.lease_ms",     "store.heartbeat_ms", "intake.max_problems", "intake.store_timeout_ms",
    "prioritizer.credit", "router.credit",      "worker.heartbeat_ms", "sla.P4.tier3_after",
};

/* Visits every node, as a rules loader would. */
static size_t walk(const hd_yaml *n, int depth)
{
    size_t seen = 0;
    for (; n != NULL && depth < 64; n = n->next) {
        seen++;
        if (n->kind == HD_YAML_MAP && n->child != NULL && n->child->key != NULL) {
            (void)hd_yaml_get(n, n->child->key);
            (void)hd_yaml_str(n, n->child->key);
        }
        seen += walk(n->child, depth + 1);
    }
    return seen;
}

static void read_config(const hd_config *cfg)
{
    char err[256];
    for (size_t i = 0; i < sizeof STR_KEYS / sizeof *STR_KEYS; i++)
        (void)hd_config_str(cfg, STR_KEYS[i], "default");
    for (size_t i = 0; i < sizeof INT_KEYS / sizeof *INT_KEYS; i++) {
        int64_t v = 5;
        (void)hd_config_int(cfg, INT_KEYS[i], INT64_MIN, INT64_MAX, &v, err, sizeof err);
        v = 5;
        (void)hd_config_int(cfg, INT_KEYS[i], 1, 1000, &v, err, sizeof err);
    }
    hd_sla sla;
    (void)hd_sla_from_config(&sla, cfg, err, sizeof err);
    intake_settings s;
    (void)intake_settings_load(cfg, &s, err, sizeof err);
    (void)hd_config_path(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    hd_yaml *root = hd_yaml_load_string((const char *)data, size, err, sizeof err);
    if (root != NULL)
        (void)walk(root, 0);
    hd_yaml_free(&root);

    static char path[64];
    if (path[0] == '\0')
        snprintf(path, sizeof path, "/tmp/hd-fuzz-config-%ld.yaml", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    size_t wrote = fwrite(data, 1, size, f);
    if (fclose(f) != 0 || wrote != size)
        return 0;
    hd_config *cfg = hd_config_load(path, err, sizeof err);
    if (cfg != NULL)
        read_config(cfg);
    hd_config_problem p;
    for (unsigned service = 1; cfg != NULL && service <= HD_SVC_CLI; service <<= 1)
        (void)hd_config_check(cfg, service, &p);
    hd_config_destroy(&cfg);
    hd_config_destroy(&cfg);
    return 0;
}
