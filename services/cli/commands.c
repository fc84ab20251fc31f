/* Running a command: parse its arguments by the table's grammar, send its request, show the
 * answer through the output module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define SUBMIT_ATTEMPTS 3

static int usage_error(const char *command, const char *msg)
{
    fprintf(stderr, "helpdesk %s: %s\n", command, msg);
    return CLI_USAGE;
}

static int refused(const HdError *e, const char *empty)
{
    const char *field = e && e->field ? e->field : "";
    const char *msg = e && e->message && e->message[0] ? e->message : "the request was refused";
    if (e && e->code == HELPDESK__V1__ERROR_CODE__ERROR_EMPTY && empty)
        msg = empty;
    if (field[0])
        fprintf(stderr, "error: %s: %s\n", field, msg);
    else
        fprintf(stderr, "error: %s\n", msg);
    return CLI_REFUSED;
}

static bool unavailable(const HdReply *rep)
{
    return rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error &&
           rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE;
}

int cli_call(hd_client *c, const char *what, const char *endpoint, HdRequest *req, int timeout_ms,
             int attempts, Helpdesk__V1__Reply__BodyCase expect, const char *empty, HdReply **out)
{
    *out = NULL;
    HdReply *rep = NULL;
    /* Retried on no answer, and on "unavailable" (intake could not reach the store), only
     * when the caller says the request is idempotent (attempts > 1). */
    for (int i = 0; i < attempts; i++) {
        hd_reply_free(rep);
        rep = hd_client_call_retry(c, req, timeout_ms, 1);
        if (rep && !unavailable(rep))
            break;
    }
    if (rep == NULL) {
        fprintf(stderr, "error: no answer from %s at %s within %d ms", what, endpoint, timeout_ms);
        fprintf(stderr, attempts > 1 ? " (tried %d times)\n" : "\n", attempts);
        return CLI_NO_ANSWER;
    }
    int rc = CLI_OK;
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR) {
        rc = refused(rep->error, empty);
    } else if (rep->body_case != expect) {
        fprintf(stderr, "error: %s sent an unexpected reply\n", what);
        rc = CLI_REFUSED;
    }
    if (rc != CLI_OK)
        hd_reply_free(rep);
    else
        *out = rep;
    return rc;
}

hd_client *cli_connect(void *ctx, const char *what, const char *endpoint,
                       const hd_curve_opts *curve)
{
    hd_client *c = hd_client_open(ctx, endpoint, curve);
    if (c == NULL)
        fprintf(stderr, "error: cannot connect to %s at \"%s\"\n", what, endpoint);
    return c;
}

enum cli_parse cli_command_parse(const cli_command *cmd, const cli_env *env, int argc, char **argv,
                                 cli_args *a)
{
    char err[512];
    *a = (cli_args){.json = env->json};
    enum cli_parse p = cli_args_parse(&cmd->grammar, argc, argv, a, err, sizeof err);
    if (p == CLI_PARSE_HELP)
        cli_usage(stdout, cmd);
    else if (p != CLI_PARSE_OK)
        (void)usage_error(cmd->grammar.name, err);
    return p;
}

int cli_request_run(const cli_command *cmd, const cli_env *env, int argc, char **argv)
{
    cli_args a;
    enum cli_parse p = cli_command_parse(cmd, env, argc, argv, &a);
    if (p != CLI_PARSE_OK)
        return p == CLI_PARSE_HELP ? CLI_OK : CLI_USAGE;
    const char *actor = NULL;
    if (cmd->actor && (actor = cli_actor(a.agent, getenv("HD_AGENT"), getenv("USER"))) == NULL)
        return usage_error(cmd->grammar.name, "who is acting? give --agent NAME or set HD_AGENT");
    cli_request r;
    cli_request_build(cmd, &a, actor, &r);
    char empty[300];
    snprintf(empty, sizeof empty, "no ticket waiting in queue %s", a.queue ? a.queue : "");
    hd_client *c = cli_connect(NULL, "the store", env->store, &env->store_curve);
    if (c == NULL)
        return CLI_NO_ANSWER;
    HdReply *rep;
    /* One attempt: an action sent twice would be done twice. */
    int rc =
        cli_call(c, "the store", env->store, &r.req, env->timeout_ms, 1, cmd->reply, empty, &rep);
    if (rc == CLI_OK)
        cli_output(stdout, a.json, cmd->output, rep);
    else if (rc == CLI_NO_ANSWER && cmd->actor && a.id > 0)
        fprintf(stderr, "the store may have done it anyway: check with helpdesk show %lld before "
                        "trying again\n",
                (long long)a.id);
    hd_reply_free(rep);
    hd_client_destroy(&c);
    return rc;
}

int cli_submit_run(const cli_command *cmd, const cli_env *env, int argc, char **argv)
{
    char err[512];
    bool json = env->json;
    cli_submit *s;
    enum cli_parse p = cli_submit_parse(argc, argv, &s, &json, err, sizeof err);
    if (p == CLI_PARSE_HELP) {
        cli_usage(stdout, cmd);
        return CLI_OK;
    }
    if (p != CLI_PARSE_OK)
        return usage_error("submit", err);
    HdContact *contact = cli_submit_contact(s);
    if (cli_submit_generated(s))
        fprintf(stderr, "external id %s (to retry: --source %s --external-id %s)\n",
                contact->external_id, contact->source, contact->external_id);
    HdSubmitContact body = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    body.contact = contact;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &body;
    hd_client *c = cli_connect(NULL, "intake", env->intake, &env->intake_curve);
    int rc = CLI_NO_ANSWER;
    HdReply *rep = NULL;
    if (c) /* idempotent by source and external id: retried */
        rc = cli_call(c, "intake", env->intake, &req, env->timeout_ms, SUBMIT_ATTEMPTS, cmd->reply,
                      NULL, &rep);
    if (rc == CLI_NO_ANSWER)
        fprintf(stderr, "retry with: helpdesk submit --source %s --external-id %s ...\n",
                contact->source, contact->external_id);
    if (rc == CLI_OK)
        cli_output_receipt(stdout, json, rep->receipt, contact->source, contact->external_id);
    hd_reply_free(rep);
    hd_client_destroy(&c);
    cli_submit_destroy(&s);
    return rc;
}

int cli_help_run(const cli_command *cmd, const cli_env *env, int argc, char **argv)
{
    (void)cmd;
    (void)env;
    if (argc > 1)
        return usage_error("help", "takes at most one COMMAND");
    const cli_command *topic = argc == 1 ? cli_command_find(argv[0]) : NULL;
    if (argc == 1 && topic == NULL) {
        fprintf(stderr, "helpdesk: no command \"%s\" (see helpdesk help)\n", argv[0]);
        return CLI_USAGE;
    }
    cli_usage(stdout, topic);
    return CLI_OK;
}
