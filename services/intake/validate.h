/* Validation of a Contact before intake asks the store to make tickets from it: plain
 * functions over the protobuf structs, so they are tested without ZeroMQ. */
#ifndef INTAKE_VALIDATE_H
#define INTAKE_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "hd/codec.h"

/* Byte limits for text fields that have no limit of their own. */
#define INTAKE_TEXT_MAX 1024
#define INTAKE_SUMMARY_MAX 512
#define INTAKE_DESCRIPTION_MAX 16384
#define INTAKE_SOURCE_MAX 64
#define INTAKE_EXTERNAL_ID_MAX 200
#define INTAKE_EMAIL_MAX 254
#define INTAKE_LANGUAGE_MAX 35
#define INTAKE_PHONE_DIGITS_MIN 6
#define INTAKE_PHONE_DIGITS_MAX 20

/* Checks every string field of `m` and of the messages nested in it, walked through the
 * protobuf-c descriptors so fields added to the protocol later are covered too: valid UTF-8 and
 * within its byte limit. On failure fills err (ERROR_INVALID_FIELD, field = the path such as
 * "problems[2].description", relative to `prefix`, which may be "") and returns -1. */
__attribute__((warn_unused_result)) int intake_check_strings(const ProtobufCMessage *m,
                                                             const char *prefix,
                                                             hd_error_buf *err);

/* The whole contact: text encoding and sizes, then the rules of the help desk (required fields,
 * email and phone syntax, language tag, 1..max_problems problems). 0, or -1 with err filled. */
__attribute__((warn_unused_result)) int intake_validate_contact(const HdContact *c,
                                                                int max_problems,
                                                                hd_error_buf *err);

/* Syntax checks, exposed for tests. */
bool intake_email_valid(const char *s);
bool intake_phone_valid(const char *s);
bool intake_language_valid(const char *s);
bool intake_source_valid(const char *s);

#endif
