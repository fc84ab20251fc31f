/* Rules files shared by the stages (prioritizer, router): an ordered list of named rules, each
 * with a `when:` map of conditions on a ticket, and the stage's own outcome (a priority, a
 * queue...). This module reads the list and the conditions from an hd_yaml tree, with
 * "source:line: key: reason" errors, and finds the first rule a ticket matches; each stage
 * reads its own outcome through a callback and keeps its own fallbacks.
 *
 * Conditions (a stage picks which of them it accepts): category, keywords (substring of the
 * summary or description), priority, channel, site, city, country, language, organization, vip,
 * contract_level, product, min_users, urgency, impact, attributes (map of customer attribute ->
 * value or list), queue (the ticket's current queue), to_tier (2 or 3: the tier an escalation
 * request asks for; a fact of the request, not of the ticket, see hd_cond_facts). A list means
 * "any of"; every condition given must hold. Text comparisons ignore ASCII case and the case
 * of Latin-1 letters (É/é); other scripts compare byte-exact. */
#ifndef HD_RULES_H
#define HD_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd/proto.h"
#include "hd/yaml.h"

/* Where load errors go. A plain value over the caller's storage: nothing to free. */
typedef struct {
    const char *source; /* names the file in messages */
    char *err;          /* receives "source:line: path: reason" */
    size_t errlen;
} hd_rules_ctx;

/* Writes "source:line: path: reason" into ctx->err (line 0 when node is NULL); returns -1. */
__attribute__((format(printf, 4, 5))) int hd_rules_fail(hd_rules_ctx *ctx, const hd_yaml *node,
                                                        const char *path, const char *fmt, ...);
/* A map whose keys are all in `allowed` (NULL-terminated; NULL allows any), none given twice.
 * `expected` lists them for the message. */
__attribute__((warn_unused_result)) int hd_rules_check_map(hd_rules_ctx *ctx, const hd_yaml *node,
                                                           const char *path,
                                                           const char *const *allowed,
                                                           const char *expected);
/* Non-empty valid UTF-8 text of at most 256 bytes. */
__attribute__((warn_unused_result)) int hd_rules_check_text(hd_rules_ctx *ctx, const hd_yaml *node,
                                                            const char *path);
/* Text that is one word (no spaces, quotes, '=' or '\') of at most 64 bytes: rule and queue
 * names go into logs, ticket history and CLI filters. */
__attribute__((warn_unused_result)) int hd_rules_check_word(hd_rules_ctx *ctx, const hd_yaml *node,
                                                            const char *path);

/* True when `needle` occurs in `hay`, ignoring ASCII and Latin-1 letter case. */
bool hd_cond_text_contains(const char *hay, const char *needle);

/* What a request adds to the ticket for conditions to look at: the escalation stage matches
 * to_tier on it. Conditions on a fact never hold when the facts are NULL or the value 0. */
typedef struct {
    uint32_t to_tier;
} hd_cond_facts;

/* The conditions of one `when:` map. Opaque. */
typedef struct hd_cond_set hd_cond_set;

/* Reads a `when:` map whose keys must be among `keys` (NULL-terminated, in the order the error
 * message lists them; each must be one of the conditions above). 0 with a new set in *out that
 * the caller owns, or -1 with *out NULL and the reason in ctx. */
__attribute__((warn_unused_result)) int hd_cond_set_load(hd_rules_ctx *ctx, const hd_yaml *when,
                                                         const char *path, const char *const *keys,
                                                         hd_cond_set **out);
/* True when every condition holds for t; NULL (no conditions) always holds. */
bool hd_cond_set_matches(const hd_cond_set *s, const HdTicket *t);
/* The same with the request's facts (may be NULL). */
bool hd_cond_set_matches_facts(const hd_cond_set *s, const HdTicket *t, const hd_cond_facts *f);
/* Safe on NULL and twice; sets *s to NULL. */
void hd_cond_set_destroy(hd_cond_set **s);

/* What a stage's rules look like. Static data of the stage: it must outlive the rules. */
typedef struct {
    const char *const *rule_keys; /* keys a rule may have, NULL-terminated */
    const char *rule_expected;    /* the same for messages: "name, when, priority" */
    const char *const *cond_keys; /* conditions accepted under when:, NULL-terminated */
    /* Names kept for the stage's fallbacks ("default"...), refused as rule names with
     * "\"<name>\" is <reserved_why>". */
    bool (*reserved)(const char *name);
    const char *reserved_why;
    /* Each rule carries payload_size zeroed bytes for the stage's outcome, filled by
     * load_payload after the name and the conditions (`rule` is the rule's map, `path`
     * "rules[i]"), and released by free_payload (may be NULL) even when loading failed. */
    size_t payload_size;
    int (*load_payload)(hd_rules_ctx *ctx, const hd_yaml *rule, const char *path, void *payload);
    void (*free_payload)(void *payload);
    /* The key of the list in the file, for messages ("escalation[2].queue"); NULL: "rules". */
    const char *list_key;
} hd_rules_spec;

/* The rules of one file, in order. Opaque. */
typedef struct hd_rules hd_rules;

/* Reads the `rules:` list (`list` may be NULL: no rules). Every rule needs a unique name that
 * is one word and not reserved. 0 with new rules in *out that the caller owns, or -1 with *out
 * NULL and the reason in ctx. */
__attribute__((warn_unused_result)) int hd_rules_load(hd_rules_ctx *ctx, const hd_yaml *list,
                                                      const hd_rules_spec *spec, hd_rules **out);
/* Safe on NULL and twice; sets *r to NULL. */
void hd_rules_destroy(hd_rules **r);
/* 0 for NULL. */
size_t hd_rules_count(const hd_rules *r);
/* The payload of the first rule whose conditions all hold for t, with the rule's name in
 * *name; NULL when no rule matches. Both point into r. */
const void *hd_rules_match(const hd_rules *r, const HdTicket *t, const char **name);
/* The same with the request's facts (may be NULL). */
const void *hd_rules_match_facts(const hd_rules *r, const HdTicket *t, const hd_cond_facts *f,
                                 const char **name);

#endif
