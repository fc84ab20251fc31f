/* libFuzzer target: the notifier's template rendering. The input is the template text, then
 * after a NUL byte the values of the placeholders, NUL-separated, so both the template and the
 * customer-supplied values (names, summaries in any script) are hostile. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const NAMES[] = {"name", "ticket", "summary", "queue", "priority", "message", "tier", "solution", ""};
#define N_NAMES (sizeof NAMES / sizeof *NAMES)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    notif_var vars[N_NAMES];
    size_t n = 0;
    size_t text_len = strlen(buf);
    /* Values follow the template; missing ones are empty, which drops their lines. */
    char *p = text_len < size ? buf + text_len + 1 : buf + size;
    for (; n < N_NAMES; n++) {
        vars[n].name = NAMES[n];
        vars[n].value = p;
        if (p < buf + size)
            p += strlen(p) + 1;
        if (p > buf + size)
            p = buf + size;
    }
    char *out = notif_render_text(buf, vars, n);
    free(out);
    out = notif_render_text(buf, NULL, 0);
    free(out);
    free(buf);
    return 0;
}
