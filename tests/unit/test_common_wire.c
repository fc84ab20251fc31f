/* Strings with NUL bytes: protobuf-c would cut them short silently, so the codec refuses them
 * and names the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hd/codec.h"

/* Packs a submit request whose second problem's summary is `summary`, into a malloc'd buffer. */
static uint8_t *pack_submit(const char *summary, size_t *len)
{
    HdProblem p0 = HELPDESK__V1__PROBLEM__INIT, p1 = HELPDESK__V1__PROBLEM__INIT;
    p0.summary = "première panne";
    p1.summary = (char *)summary;
    HdProblem *problems[] = {&p0, &p1};
    HdContact c = HELPDESK__V1__CONTACT__INIT;
    c.source = "web";
    c.external_id = "x-1";
    c.n_problems = 2;
    c.problems = problems;
    HdSubmitContact sub = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    sub.contact = &c;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.id = 7;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &sub;
    *len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(*len);
    assert_non_null(buf);
    protobuf_c_message_pack(&req.base, buf);
    return buf;
}

static void clean_strings_pass(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_submit("الشبكة متوقفة", &len);
    char field[128] = "";
    assert_int_equal(hd_request_check_strings(buf, len, field, sizeof field), 0);
    free(buf);
}

static void nul_in_string_is_named(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_submit("abXcd", &len);
    uint8_t *x = memmem(buf, len, "abXcd", 5);
    assert_non_null(x);
    x[2] = '\0';
    HdRequest *req = hd_request_decode(buf, len);
    assert_non_null(req); /* protobuf-c accepts it, and would hand back "ab" */
    assert_string_equal(req->submit->contact->problems[1]->summary, "ab");
    hd_request_free(req);
    char field[128] = "";
    assert_int_equal(hd_request_check_strings(buf, len, field, sizeof field), -1);
    assert_string_equal(field, "problems[1].summary");
    free(buf);
}

static void truncated_wire_is_not_a_nul_error(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = pack_submit("ok", &len);
    char field[128] = "";
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(hd_request_check_strings(buf, cut, field, sizeof field), 0);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(clean_strings_pass),
        cmocka_unit_test(nul_in_string_is_named),
        cmocka_unit_test(truncated_wire_is_not_a_nul_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
