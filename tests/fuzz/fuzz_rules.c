/* libFuzzer target: a priority or routing rules file, as bytes. Parses the YAML, builds both
 * kinds of rules from the tree (each refuses what is not its own), and when they load, decides
 * a few tickets with them, so matching runs over whatever conditions the input managed to set
 * up (Latin-1 case folding, Arabic text, lists, attributes). */
#include <stddef.h>
#include <stdint.h>

#include "hd/sla.h"
#include "hd/yaml.h"
#include "prioritizer.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    HdTicket t;
    HdCustomer cu;
    HdAccount ac;
    HdLocation lo;
    HdProblem pr;
    HdAttribute at;
    HdAttribute *atp[1];
} sample;

static void sample_init(sample *s, int which)
{
    HdTicket t = HELPDESK__V1__TICKET__INIT;
    HdCustomer cu = HELPDESK__V1__CUSTOMER__INIT;
    HdAccount ac = HELPDESK__V1__ACCOUNT__INIT;
    HdLocation lo = HELPDESK__V1__LOCATION__INIT;
    HdProblem pr = HELPDESK__V1__PROBLEM__INIT;
    HdAttribute at = HELPDESK__V1__ATTRIBUTE__INIT;
    s->t = t;
    s->cu = cu;
    s->ac = ac;
    s->lo = lo;
    s->pr = pr;
    s->at = at;
    s->atp[0] = &s->at;
    s->t.customer = &s->cu;
    s->t.account = &s->ac;
    s->t.location = &s->lo;
    s->t.problem = &s->pr;
    s->cu.n_attributes = 1;
    s->cu.attributes = s->atp;
    s->t.id = 7;
    s->t.created_at = INT64_C(1700000000000);
    s->t.status = HELPDESK__V1__STATUS__STATUS_TRIAGED;
    s->t.tier = 1;
    if (which == 0) {
        s->t.channel = HELPDESK__V1__CHANNEL__CHANNEL_EMAIL;
        s->t.priority = HELPDESK__V1__PRIORITY__PRIORITY_P1_ENTERPRISE_FAILURE;
        s->t.queue = "network-ops";
        s->cu.language = "fr";
        s->cu.organization = "Société Générale";
        s->cu.vip = 1;
        s->ac.contract_level = "gold";
        s->ac.product = "Routeur X";
        s->lo.site = "Paris-Nord";
        s->lo.city = "Paris";
        s->lo.country = "FR";
        s->pr.category = "network";
        s->pr.summary = "Panne du réseau ÉTAGE 3";
        s->pr.description = "Tout le site est down";
        s->pr.users_affected = 120;
        s->pr.urgency = HELPDESK__V1__LEVEL__LEVEL_CRITICAL;
        s->pr.impact = HELPDESK__V1__LEVEL__LEVEL_HIGH;
        s->at.key = "segment";
        s->at.value = "enterprise";
    } else {
        s->t.channel = HELPDESK__V1__CHANNEL__CHANNEL_PHONE;
        s->t.priority = HELPDESK__V1__PRIORITY__PRIORITY_P3_REGULAR_SERVICE;
        s->t.queue = "service-desk";
        s->t.tier = 2;
        s->cu.language = "ar";
        s->cu.organization = "شركة الاتصالات";
        s->ac.contract_level = "standard";
        s->ac.product = "طابعة";
        s->lo.city = "کراچی";
        s->lo.country = "PK";
        s->pr.category = "printer";
        s->pr.summary = "الطابعة لا تعمل";
        s->pr.description = "پرنٹر کام نہیں کر رہا";
        s->pr.users_affected = 1;
        s->pr.urgency = HELPDESK__V1__LEVEL__LEVEL_LOW;
        s->pr.impact = HELPDESK__V1__LEVEL__LEVEL_MEDIUM;
        s->at.key = "region";
        s->at.value = "جنوب";
    }
}

static void decide_prio(const prio_rules *r)
{
    hd_sla sla;
    hd_sla_defaults(&sla);
    (void)prio_rules_count(r);
    (void)prio_rules_default(r);
    for (int i = 0; i < 2; i++) {
        sample s;
        sample_init(&s, i);
        prio_decision d;
        prio_decide(r, &sla, &s.t, INT64_C(1700000000000), &d);
    }
}

static void decide_route(const route_rules *r)
{
    (void)route_rules_count(r);
    (void)route_rules_default_queue(r);
    (void)route_rules_escalation_count(r);
    (void)route_rules_manager_count(r);
    for (int i = 0; i < 2; i++) {
        sample s;
        sample_init(&s, i);
        route_decision d;
        route_decide(r, &s.t, &d);
        for (uint32_t to = 0; to <= 4; to++) {
            HdEscalationRequest req = HELPDESK__V1__ESCALATION_REQUEST__INIT;
            req.to_tier = to;
            req.from_tier = s.t.tier;
            route_escalation e;
            (void)route_target_tier(&s.t, &req);
            route_escalate(r, &s.t, &req, &e);
        }
        route_escalation e;
        route_escalate(r, &s.t, NULL, &e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    hd_yaml *root = hd_yaml_load_string((const char *)data, size, err, sizeof err);
    if (root == NULL)
        return 0;
    prio_rules *p = prio_rules_from_yaml(root, "fuzz.yaml", err, sizeof err);
    if (p != NULL)
        decide_prio(p);
    prio_rules_destroy(&p);
    prio_rules_destroy(&p);
    route_rules *r = route_rules_from_yaml(root, "fuzz.yaml", err, sizeof err);
    if (r != NULL)
        decide_route(r);
    route_rules_destroy(&r);
    route_rules_destroy(&r);
    hd_yaml_free(&root);
    hd_yaml_free(&root);
    return 0;
}
