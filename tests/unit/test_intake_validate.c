/* Contact validation in intake: each rule, the field path each error names, text in many
 * scripts accepted, invalid UTF-8 and oversized fields rejected with their path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../services/intake/intake.h"
#include "../../services/intake/validate.h"

#define MAX_PROBLEMS 10

/* A valid contact with three problems, all in stack storage the test can change. */
typedef struct {
    HdContact c;
    HdCustomer cu;
    HdAccount acc;
    HdLocation loc;
    HdProblem p[12];
    HdProblem *pp[12];
    HdAttribute attr[2];
    HdAttribute *attrs[2];
    hd_error_buf err;
} fixture;

static void fixture_init(fixture *f)
{
    memset(f, 0, sizeof *f);
    helpdesk__v1__contact__init(&f->c);
    helpdesk__v1__customer__init(&f->cu);
    helpdesk__v1__account__init(&f->acc);
    helpdesk__v1__location__init(&f->loc);
    f->c.source = "web";
    f->c.external_id = "form-42";
    f->c.channel = HELPDESK__V1__CHANNEL__CHANNEL_WEB;
    f->c.customer = &f->cu;
    f->c.account = &f->acc;
    f->c.location = &f->loc;
    f->cu.name = "Amélie Dupont";
    f->cu.email = "amelie@example.fr";
    f->cu.phone = "+33 (1) 23-45.67.89";
    f->cu.language = "fr-FR";
    for (int i = 0; i < 2; i++) {
        helpdesk__v1__attribute__init(&f->attr[i]);
        f->attrs[i] = &f->attr[i];
    }
    f->attr[0].key = "plan";
    f->attr[0].value = "gold";
    f->attr[1].key = "note";
    f->attr[1].value = "ok";
    f->cu.attributes = f->attrs;
    f->cu.n_attributes = 2;
    f->acc.account_number = "ACC-1";
    f->loc.city = "Paris";
    for (int i = 0; i < 12; i++) {
        helpdesk__v1__problem__init(&f->p[i]);
        f->p[i].summary = "printer jammed";
        f->pp[i] = &f->p[i];
    }
    f->c.problems = f->pp;
    f->c.n_problems = 3;
}

static fixture *setup_fixture(void)
{
    fixture *f = malloc(sizeof *f);
    assert_non_null(f);
    fixture_init(f);
    return f;
}

static int setup(void **state)
{
    *state = setup_fixture();
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void expect_field(fixture *f, const char *field)
{
    assert_int_equal(intake_validate_contact(&f->c, MAX_PROBLEMS, &f->err), -1);
    assert_int_equal(f->err.pb.code, HELPDESK__V1__ERROR_CODE__ERROR_INVALID_FIELD);
    assert_string_equal(f->err.pb.field, field);
    assert_true(strlen(f->err.pb.message) > 10);
}

static void expect_ok(fixture *f)
{
    int rc = intake_validate_contact(&f->c, MAX_PROBLEMS, &f->err);
    if (rc != 0)
        fail_msg("rejected: %s: %s", f->err.field, f->err.message);
}

static void test_valid_contact(void **state)
{
    expect_ok(*state);
}

static void test_source_rules(void **state)
{
    fixture *f = *state;
    f->c.source = "";
    expect_field(f, "source");
    f->c.source = "has space";
    expect_field(f, "source");
    f->c.source = "caf\xc3\xa9"; /* not ASCII */
    expect_field(f, "source");
    char longsrc[70];
    memset(longsrc, 'a', 65);
    longsrc[65] = '\0';
    f->c.source = longsrc;
    expect_field(f, "source");
    longsrc[64] = '\0';
    expect_ok(f);
}

static void test_external_id_rules(void **state)
{
    fixture *f = *state;
    f->c.external_id = "";
    expect_field(f, "external_id");
    char id[210];
    memset(id, 'x', 201);
    id[201] = '\0';
    f->c.external_id = id;
    expect_field(f, "external_id");
    id[200] = '\0';
    expect_ok(f);
}

static void test_channel_required(void **state)
{
    fixture *f = *state;
    f->c.channel = HELPDESK__V1__CHANNEL__CHANNEL_UNSPECIFIED;
    expect_field(f, "channel");
    f->c.channel = (Helpdesk__V1__Channel)99;
    expect_field(f, "channel");
}

static void test_customer_rules(void **state)
{
    fixture *f = *state;
    f->c.customer = NULL;
    expect_field(f, "customer");
    f->c.customer = &f->cu;
    f->cu.name = "  ";
    expect_field(f, "customer.name");
    f->cu.name = "Budi";
    f->cu.email = "";
    f->cu.phone = "";
    expect_field(f, "customer.email");
    assert_non_null(strstr(f->err.message, "email or phone"));
    f->cu.phone = "0812 3456 7890";
    expect_ok(f);
    f->cu.phone = "";
    f->cu.email = "budi@contoh.co.id";
    expect_ok(f);
}

static void test_email_syntax(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"plain", "a@b", "a@@b.com", "a@b@c.com", "a b@c.com", "@c.com",
                         "a@.com", "a@c..com", "a@c.com.", "a@-c.com", ".a@c.com", "a@c.x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f->cu.email = (char *)bad[i];
        expect_field(f, "customer.email");
    }
    char longmail[400];
    memset(longmail, 'a', 60);
    strcpy(longmail + 60, "@");
    for (int i = 0; i < 50; i++)
        strcat(longmail, "abcd.");
    strcat(longmail, "com"); /* 60 + 1 + 250 + 3 > 254 */
    f->cu.email = longmail;
    expect_field(f, "customer.email");
    const char *good[] = {"a@b.co", "first.last+tag@mail.example.org", "x_y@xn--p1ai.xn--p1ai",
                          "محمد@مثال.مصر"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        f->cu.email = (char *)good[i];
        expect_ok(f);
    }
}

static void test_phone_syntax(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"12345", "+1 (555) 12a4567", "++1234567", "1234+567",
                         "123456789012345678901", "phone"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f->cu.phone = (char *)bad[i];
        expect_field(f, "customer.phone");
    }
    const char *good[] = {"123456", "+92 300 1234567", "(021) 555-0199", "+62.812.3456.7890",
                          "12345678901234567890"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        f->cu.phone = (char *)good[i];
        expect_ok(f);
    }
}

static void test_language_tag(void **state)
{
    fixture *f = *state;
    const char *bad[] = {"f r", "-fr", "fr-", "fr--FR", "1fr", "français",
                         "abcdefghijklmnopqrstuvwxyzabcdefghij", "fr-abcdefghi"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f->cu.language = (char *)bad[i];
        expect_field(f, "customer.language");
    }
    const char *good[] = {"ar", "ur-PK", "id", "fr", "zh-Hant-TW", "en-GB-oxendict", ""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        f->cu.language = (char *)good[i];
        expect_ok(f);
    }
}

static void test_problem_count(void **state)
{
    fixture *f = *state;
    f->c.n_problems = 0;
    expect_field(f, "problems");
    f->c.n_problems = MAX_PROBLEMS + 1;
    expect_field(f, "problems");
    f->c.n_problems = MAX_PROBLEMS;
    expect_ok(f);
    f->c.n_problems = 1;
    expect_ok(f);
}

static void test_problem_summary_required(void **state)
{
    fixture *f = *state;
    f->p[2].summary = "";
    expect_field(f, "problems[2].summary");
    f->p[2].summary = "ok";
    f->p[1].urgency = (Helpdesk__V1__Level)9;
    expect_field(f, "problems[1].urgency");
    f->p[1].urgency = HELPDESK__V1__LEVEL__LEVEL_HIGH;
    f->p[0].impact = (Helpdesk__V1__Level)7;
    expect_field(f, "problems[0].impact");
    f->p[0].impact = HELPDESK__V1__LEVEL__LEVEL_LOW;
    /* found by fuzz_request: the store keeps users_affected in an integer column */
    f->p[0].users_affected = (uint32_t)INT32_MAX + 1u;
    expect_field(f, "problems[0].users_affected");
    f->p[0].users_affected = (uint32_t)INT32_MAX;
    expect_ok(f);
}

static void test_many_scripts_accepted(void **state)
{
    fixture *f = *state;
    f->cu.name = "عبد الله بن محمد";
    f->cu.organization = "شركة الاتصالات";
    f->p[0].summary = "الطابعة لا تعمل في الطابق الثالث";
    f->p[0].description = "توقفت الطابعة عن الطباعة منذ الصباح، والشاشة تعرض خطأ.";
    f->p[1].summary = "ای میل نہیں آ رہی";
    f->p[1].description = "کل سے میرے ان باکس میں کوئی ای میل نہیں آئی۔";
    f->p[2].summary = "L'écran ne s'allume plus — ça clignote";
    f->p[2].description = "Imprimante hors ligne; « urgent » pour l'équipe.";
    f->loc.address = "Jl. Jenderal Sudirman No. 5, Jakarta Pusat";
    f->attr[1].value = "Pelanggan setia sejak 2019 🙂";
    expect_ok(f);
}

static void test_invalid_utf8_names_path(void **state)
{
    fixture *f = *state;
    f->p[2].description = "caf\xc3"; /* truncated sequence */
    expect_field(f, "problems[2].description");
    assert_non_null(strstr(f->err.message, "UTF-8"));
    f->p[2].description = "";
    f->attr[0].value = "\xed\xa0\x80"; /* a surrogate */
    expect_field(f, "customer.attributes[0].value");
    f->attr[0].value = "gold";
    f->attr[1].key = "\xc0\xaf"; /* overlong */
    expect_field(f, "customer.attributes[1].key");
    f->attr[1].key = "note";
    f->loc.room = "\xff";
    expect_field(f, "location.room");
    f->loc.room = "";
    f->c.agent = "Jos\xe9"; /* Latin-1 */
    expect_field(f, "agent");
    f->c.agent = "";
    f->acc.serial_number = "\xf4\x90\x80\x80"; /* above U+10FFFF */
    expect_field(f, "account.serial_number");
}

static void test_oversized_fields(void **state)
{
    fixture *f = *state;
    char *big = malloc(20000);
    assert_non_null(big);
    memset(big, 'a', 19999);
    big[19999] = '\0';
    f->p[1].description = big;
    expect_field(f, "problems[1].description");
    assert_non_null(strstr(f->err.message, "16384"));
    big[16384] = '\0';
    expect_ok(f);
    big[513] = '\0';
    f->p[0].summary = big;
    expect_field(f, "problems[0].summary");
    big[512] = '\0';
    expect_ok(f);
    memset(big, 'b', 1100);
    big[1025] = '\0';
    f->loc.address = big;
    f->p[0].summary = "ok";
    expect_field(f, "location.address");
    big[1024] = '\0';
    f->p[1].description = "";
    expect_ok(f);
    /* The limit is in bytes: 600 two-byte Arabic letters are 1200 bytes. */
    char *arabic = malloc(1300);
    assert_non_null(arabic);
    arabic[0] = '\0';
    for (int i = 0; i < 600; i++)
        strcat(arabic, "ش");
    f->cu.organization = arabic;
    expect_field(f, "customer.organization");
    free(arabic);
    free(big);
}

static void test_check_strings_prefix(void **state)
{
    fixture *f = *state;
    f->p[0].category = "\x80";
    assert_int_equal(intake_check_strings(&f->c.base, "contact", &f->err), -1);
    assert_string_equal(f->err.field, "contact.problems[0].category");
}

static void test_accept_sets_received_at(void **state)
{
    fixture *f = *state;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &f->c;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    assert_int_equal(intake_accept(&req, MAX_PROBLEMS, 12345, &f->err), 0);
    assert_int_equal(f->c.received_at, 12345);
    assert_int_equal(intake_accept(&req, MAX_PROBLEMS, 99999, &f->err), 0);
    assert_int_equal(f->c.received_at, 12345); /* the client's own time is kept */
    s.contact = NULL;
    assert_int_equal(intake_accept(&req, MAX_PROBLEMS, 1, &f->err), -1);
    assert_string_equal(f->err.field, "contact");
}

static void test_accept_wrong_body(void **state)
{
    fixture *f = *state;
    HdGetTicket g = HELPDESK__V1__GET_TICKET__INIT;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_TICKET;
    req.get_ticket = &g;
    assert_int_equal(intake_accept(&req, MAX_PROBLEMS, 1, &f->err), -1);
    assert_int_equal(f->err.pb.code, HELPDESK__V1__ERROR_CODE__ERROR_BAD_REQUEST);
    assert_string_equal(f->err.field, "body");
}

/* protobuf-c 1.4 does not check UTF-8 when unpacking: a contact with bad bytes decodes, and
 * intake's own check must catch it after decoding. */
static void test_decoded_invalid_utf8_caught(void **state)
{
    fixture *f = *state;
    f->p[1].description = "bad \xfe byte";
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = &f->c;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    zmq_msg_t msg;
    assert_int_equal(hd_request_pack(&req, &msg), 0);
    HdRequest *back = hd_request_decode(zmq_msg_data(&msg), zmq_msg_size(&msg));
    zmq_msg_close(&msg);
    assert_non_null(back);
    assert_int_equal(intake_accept(back, MAX_PROBLEMS, 1, &f->err), -1);
    assert_string_equal(f->err.field, "problems[1].description");
    hd_request_free(back);
}


/* Appends a varint. */
static size_t put_varint(uint8_t *out, size_t v)
{
    size_t n = 0;
    do {
        out[n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
    return n;
}

/* Found by fuzz_request: protobuf-c keeps a field-0 tag written as 81 00 as an unknown field
 * and re-packs it as 01, which it then refuses. Intake must forward a contact the store can
 * decode, so it drops unknown fields. */
static void test_forwarded_contact_decodes(void **state)
{
    fixture *f = *state;
    size_t clen = protobuf_c_message_get_packed_size(&f->c.base);
    uint8_t *contact = malloc(clen + 10);
    assert_non_null(contact);
    protobuf_c_message_pack(&f->c.base, contact);
    static const uint8_t field0[10] = {0x81, 0x00, 0, 0, 0, 0, 0, 0, 0, 0};
    memcpy(contact + clen, field0, sizeof field0);
    clen += sizeof field0;
    uint8_t *wire = malloc(clen + 32);
    assert_non_null(wire);
    size_t n = 0, sub = 1 + put_varint((uint8_t[10]){0}, clen) + clen;
    wire[n++] = 0x08; /* id = 1 */
    wire[n++] = 0x01;
    wire[n++] = 0x52; /* submit */
    n += put_varint(wire + n, sub);
    wire[n++] = 0x0a; /* submit.contact */
    n += put_varint(wire + n, clen);
    memcpy(wire + n, contact, clen);
    n += clen;
    HdRequest *req = hd_request_decode(wire, n);
    assert_non_null(req);
    assert_int_equal(intake_accept(req, MAX_PROBLEMS, 1, &f->err), 0);
    HdCreateTickets ct = HELPDESK__V1__CREATE_TICKETS__INIT;
    ct.contact = req->submit->contact;
    HdRequest fwd = HELPDESK__V1__REQUEST__INIT;
    fwd.body_case = HELPDESK__V1__REQUEST__BODY_CREATE_TICKETS;
    fwd.create_tickets = &ct;
    size_t flen = protobuf_c_message_get_packed_size(&fwd.base);
    uint8_t *out = malloc(flen);
    assert_non_null(out);
    protobuf_c_message_pack(&fwd.base, out);
    HdRequest *back = hd_request_decode(out, flen);
    assert_non_null(back);
    assert_string_equal(back->create_tickets->contact->external_id, "form-42");
    hd_request_free(back);
    hd_request_free(req);
    free(out);
    free(wire);
    free(contact);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_valid_contact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_id_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_channel_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_customer_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_email_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phone_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_language_tag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_problem_count, setup, teardown),
        cmocka_unit_test_setup_teardown(test_problem_summary_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_scripts_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8_names_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_strings_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_sets_received_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_wrong_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoded_invalid_utf8_caught, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarded_contact_decodes, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
