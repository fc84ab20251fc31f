/* Message templates per language: deploy/local/templates/<lang>/<kind>.txt, each a first line
 * "Subject: ...", a blank line, then the body. Placeholders are {{name}}; see notif_render.
 * A language tag picks the folder by its primary subtag ("fr-CA" -> fr); a language or a kind
 * that has no file falls back to English. */
#ifndef NOTIF_TEMPLATE_H
#define NOTIF_TEMPLATE_H

#include <stddef.h>

typedef struct notif_templates notif_templates;

/* One placeholder value; name without braces. */
typedef struct {
    const char *name;
    const char *value;
} notif_var;

/* Loads every <lang>/<kind>.txt under `dir` for the languages and kinds the notifier knows.
 * English must be complete (every kind present and well formed); other languages may lack
 * some kinds. NULL with the reason in err. Caller owns the result. */
notif_templates *notif_templates_load(const char *dir, char *err, size_t errlen);
void notif_templates_destroy(notif_templates **t);

/* The language folder a BCP 47 tag selects among those loaded: its primary subtag in lower
 * case when that language has templates, else "en". Never NULL. */
const char *notif_templates_language(const notif_templates *t, const char *tag);

/* Renders template `kind` for language tag `tag` (with fallback) into freshly allocated subject
 * and body (caller frees). Every {{name}} becomes its value; an unknown placeholder is kept as
 * written. A body line that holds a placeholder whose value is empty is left out, so optional
 * parts (a satisfaction link, a name) need no conditionals. -1 when `kind` is unknown. */
__attribute__((warn_unused_result)) int notif_render(const notif_templates *t, const char *tag,
                                                     const char *kind, const notif_var *vars,
                                                     size_t n_vars, char **subject, char **body);

/* Renders one text with the rules above (for tests and the loader). Caller frees. */
char *notif_render_text(const char *text, const notif_var *vars, size_t n_vars);

#endif
