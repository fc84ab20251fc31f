/* A small JSON writer for the CLI's --json output: text goes out as given (UTF-8 kept byte for
 * byte), with quotes, backslashes and control characters escaped; bytes that are not valid
 * UTF-8 become U+FFFD so the output always parses. Commas are placed by the writer. */
#ifndef CLI_JSON_H
#define CLI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_json cli_json;

/* Caller owns the result; cli_json_destroy is safe on NULL and twice. */
cli_json *cli_json_new(void);
void cli_json_destroy(cli_json **j);

void cli_json_begin_object(cli_json *j);
void cli_json_end_object(cli_json *j);
void cli_json_begin_array(cli_json *j);
void cli_json_end_array(cli_json *j);
/* The key of the next value, inside an object. */
void cli_json_key(cli_json *j, const char *key);
/* A string value; NULL writes null. */
void cli_json_string(cli_json *j, const char *s);
void cli_json_int(cli_json *j, int64_t v);
void cli_json_uint(cli_json *j, uint64_t v);
void cli_json_bool(cli_json *j, bool v);
/* A number with 6 significant digits; NaN and infinities write null. */
void cli_json_double(cli_json *j, double v);
void cli_json_null(cli_json *j);

/* Key and value in one call. */
void cli_json_kstr(cli_json *j, const char *key, const char *s);
void cli_json_kint(cli_json *j, const char *key, int64_t v);
void cli_json_kbool(cli_json *j, const char *key, bool v);

/* The text written so far (NUL-terminated, owned by j), and clearing for the next document. */
const char *cli_json_text(const cli_json *j);
size_t cli_json_len(const cli_json *j);
void cli_json_clear(cli_json *j);

#endif
