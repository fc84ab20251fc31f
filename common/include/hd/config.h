/* Service configuration: one YAML file (the service's own, or one shared by all services, a
 * section per service) plus environment overrides. The key "store.lease_ms" is overridden by
 * HD_STORE_LEASE_MS: upper case, dots and dashes become underscores. Every setting is in the
 * table of config_keys.c, which hd_config_check holds a service's config to at start. */
#ifndef HD_CONFIG_H
#define HD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hd_config hd_config;

/* Loads `path` (NULL: no file, environment and defaults only). NULL on failure, with the reason
 * in err. Caller owns the result. */
hd_config *hd_config_load(const char *path, char *err, size_t errlen);
void hd_config_destroy(hd_config **cfg);

/* The text at a dotted key, the environment first; `def` when neither has it. */
const char *hd_config_str(const hd_config *cfg, const char *key, const char *def);
/* An integer in [lo, hi] at a dotted key; *out holds the default on entry. -1 with
 * "key: reason" in err when the value is not a whole number in range. */
__attribute__((warn_unused_result)) int hd_config_int(const hd_config *cfg, const char *key,
                                                      int64_t lo, int64_t hi, int64_t *out,
                                                      char *err, size_t errlen);

/* What every service's main does first: accepts only `[--config FILE] [--check-config]` (else
 * HD_CONFIG, else no file), loads it and checks it (hd_config_check) for the service `program`
 * names. NULL when it cannot, with *exit_code set: 2 after printing the usage line for a bad
 * argument, 1 after logging why the file could not be loaded or which setting is wrong
 * (`event=config_invalid key=K source=FILE:LINE|HD_VAR reason="..."`), 0 after
 * --check-config found nothing wrong. */
hd_config *hd_config_from_args(int argc, char **argv, const char *program, int *exit_code);

/* The path of the config file, or NULL. */
const char *hd_config_path(const hd_config *cfg);

/* ---- the table of settings (config_keys.c) and the check every service makes at start ---- */

/* Who reads a setting: one bit per executable. */
enum {
    HD_SVC_STORE = 1u << 0,
    HD_SVC_INTAKE = 1u << 1,
    HD_SVC_PRIORITIZER = 1u << 2,
    HD_SVC_ROUTER = 1u << 3,
    HD_SVC_TIMER = 1u << 4,
    HD_SVC_NOTIFIER = 1u << 5,
    HD_SVC_CLI = 1u << 6,
};

typedef enum { HD_CONFIG_TEXT, HD_CONFIG_INT, HD_CONFIG_BOOL } hd_config_type;

/* One setting. A key segment "*" stands for any one name (notifier.teams.*.email). */
typedef struct {
    const char *key;
    hd_config_type type;
    int64_t lo, hi;   /* HD_CONFIG_INT: the accepted range */
    const char *def;  /* the default as the README gives it; NULL when there is none */
    unsigned readers; /* HD_SVC_* bits */
} hd_config_key;

/* A top-level section of the file and the services that own it: an unknown key in it is an
 * error for them, and nobody else minds it (a shared file serves every service). */
typedef struct {
    const char *name;
    unsigned owners;
} hd_config_section;

/* Every setting of every service, and every section. */
const hd_config_key *hd_config_keys(size_t *n);
const hd_config_section *hd_config_sections(size_t *n);
/* The setting a dotted key names (with "*" segments matching any name), or NULL. */
const hd_config_key *hd_config_key_find(const char *key);
/* The HD_SVC_* bit of an executable name ("hd-store"); 0 when it is not a service. */
unsigned hd_config_service(const char *program);

/* What hd_config_check found wrong: the setting, where its value came from ("FILE:LINE" or
 * the environment variable's name) and why. */
typedef struct {
    char key[160];
    char source[600];
    char reason[300];
} hd_config_problem;

/* Checks the file and the HD_* environment for `service` (HD_SVC_* bits): a key the file or
 * the environment gives in a section the service owns must be a known setting; every value of
 * a setting the service reads must have its type and range; a top-level key that is no section
 * at all is refused by every service. -1 with the first problem in *p. */
__attribute__((warn_unused_result)) int hd_config_check(const hd_config *cfg, unsigned service,
                                                        hd_config_problem *p);

/* Default endpoints, shared so every service and client agrees. */
#define HD_DEFAULT_INTAKE "tcp://127.0.0.1:5550"
#define HD_DEFAULT_STORE_API "tcp://127.0.0.1:5551"
#define HD_DEFAULT_STORE_WORK "tcp://127.0.0.1:5552"
#define HD_DEFAULT_STORE_EVENTS "tcp://127.0.0.1:5553"

#endif
