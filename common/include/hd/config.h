/* Service configuration: one YAML file (shared by all services, a section per service) plus
 * environment overrides. The key "store.lease_ms" is overridden by HD_STORE_LEASE_MS: upper
 * case, dots and dashes become underscores. */
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

/* What every service's main does first: accepts only `[--config FILE]` (else HD_CONFIG, else
 * no file) and loads it. NULL when it cannot, with *exit_code set: 2 after printing the usage
 * line for a bad argument, 1 after logging why the file could not be loaded. */
hd_config *hd_config_from_args(int argc, char **argv, const char *program, int *exit_code);

/* The path of the config file, or NULL. */
const char *hd_config_path(const hd_config *cfg);

/* Default endpoints, shared so every service and client agrees. */
#define HD_DEFAULT_INTAKE "tcp://127.0.0.1:5550"
#define HD_DEFAULT_STORE_API "tcp://127.0.0.1:5551"
#define HD_DEFAULT_STORE_WORK "tcp://127.0.0.1:5552"
#define HD_DEFAULT_STORE_EVENTS "tcp://127.0.0.1:5553"

#endif
