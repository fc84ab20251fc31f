#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "format.h"
#include "hd/client.h"
#include "hd/clock.h"
#include "hd/config.h"
#include "hd/signals.h"
#include "hd/transport.h"

#define SUBMIT_ATTEMPTS 3

static int usage_error(const char *command, const char *msg)
{
    fprintf(stderr, "helpdesk %s: %s\n", command, msg);
    return CLI_USAGE;
}

static int refused(const HdError *e)
{
    const char *field = e && e->field ? e->field : "";
    const char *msg = e && e->message && e->message[0] ? e->message : "the request was refused";
    if (field[0])
        fprintf(stderr, "error: %s: %s\n", field, msg);
    else
        fprintf(stderr, "error: %s\n", msg);
    return CLI_REFUSED;
}

/* One request to `endpoint`. CLI_OK with *out set (caller frees), or the exit code after
 * printing why. `expect` is the reply body that counts as success. */
static int call(hd_client *c, const char *what, const char *endpoint, HdRequest *req,
                int timeout_ms, int attempts, Helpdesk__V1__Reply__BodyCase expect,
                HdReply **out)
{
    *out = NULL;
    HdReply *rep = NULL;
    /* Retried on no answer, and on "unavailable" (intake could not reach the store): the
     * request is idempotent, so a retry never makes anything twice. */
    for (int i = 0; i < attempts; i++) {
        hd_reply_free(rep);
        rep = hd_client_call_retry(c, req, timeout_ms, 1);
        if (rep && !(rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR && rep->error &&
                     rep->error->code == HELPDESK__V1__ERROR_CODE__ERROR_UNAVAILABLE))
            break;
    }
    if (rep == NULL) {
        fprintf(stderr, "error: no answer from %s at %s within %d ms", what, endpoint,
                timeout_ms);
        fprintf(stderr, attempts > 1 ? " (tried %d times)\n" : "\n", attempts);
        return CLI_NO_ANSWER;
    }
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR) {
        int rc = refused(rep->error);
        hd_reply_free(rep);
        return rc;
    }
    if (rep->body_case != expect) {
        fprintf(stderr, "error: %s sent an unexpected reply\n", what);
        hd_reply_free(rep);
        return CLI_REFUSED;
    }
    *out = rep;
    return CLI_OK;
}

static hd_client *connect_to(void *ctx, const char *what, const char *endpoint)
{
    hd_client *c = hd_client_new(ctx, endpoint);
    if (c == NULL)
        fprintf(stderr, "error: cannot connect to %s at \"%s\"\n", what, endpoint);
    return c;
}

static void print_json(cli_json *j)
{
    fputs(cli_json_text(j), stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

int cli_submit_run(const cli_env *env, int argc, char **argv)
{
    char err[512];
    bool json = env->json;
    cli_submit *s;
    enum cli_parse p = cli_submit_parse(argc, argv, &s, &json, err, sizeof err);
    if (p == CLI_PARSE_HELP) {
        cli_usage(stdout, "submit");
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
    hd_client *c = connect_to(NULL, "intake", env->intake);
    int rc = CLI_NO_ANSWER;
    HdReply *rep = NULL;
    if (c)
        rc = call(c, "intake", env->intake, &req, env->timeout_ms, SUBMIT_ATTEMPTS,
                  HELPDESK__V1__REPLY__BODY_RECEIPT, &rep);
    if (rc == CLI_NO_ANSWER)
        fprintf(stderr, "retry with: helpdesk submit --source %s --external-id %s ...\n",
                contact->source, contact->external_id);
    if (rc == CLI_OK && json) {
        cli_json *j = cli_json_new();
        cli_json_receipt(j, rep->receipt, contact->source, contact->external_id);
        print_json(j);
        cli_json_destroy(&j);
    } else if (rc == CLI_OK) {
        cli_print_receipt(stdout, rep->receipt);
    }
    hd_reply_free(rep);
    hd_client_destroy(&c);
    cli_submit_destroy(&s);
    return rc;
}

int cli_show_run(const cli_env *env, int argc, char **argv)
{
    char err[512];
    bool json = env->json;
    int64_t id = 0;
    enum cli_parse p = cli_show_parse(argc, argv, &id, &json, err, sizeof err);
    if (p == CLI_PARSE_HELP) {
        cli_usage(stdout, "show");
        return CLI_OK;
    }
    if (p != CLI_PARSE_OK)
        return usage_error("show", err);
    HdGetTicket body = HELPDESK__V1__GET_TICKET__INIT;
    body.ticket_id = id;
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_TICKET;
    req.get_ticket = &body;
    hd_client *c = connect_to(NULL, "the store", env->store);
    if (c == NULL)
        return CLI_NO_ANSWER;
    HdReply *rep;
    int rc = call(c, "the store", env->store, &req, env->timeout_ms, 1,
                  HELPDESK__V1__REPLY__BODY_TICKET, &rep);
    if (rc == CLI_OK && json) {
        cli_json *j = cli_json_new();
        cli_json_detail(j, rep->ticket);
        print_json(j);
        cli_json_destroy(&j);
    } else if (rc == CLI_OK) {
        cli_print_ticket(stdout, rep->ticket);
    }
    hd_reply_free(rep);
    hd_client_destroy(&c);
    return rc;
}

int cli_list_run(const cli_env *env, int argc, char **argv)
{
    char err[512];
    bool json = env->json;
    HdListTickets body;
    enum cli_parse p = cli_list_parse(argc, argv, &body, &json, err, sizeof err);
    if (p == CLI_PARSE_HELP) {
        cli_usage(stdout, "list");
        return CLI_OK;
    }
    if (p != CLI_PARSE_OK)
        return usage_error("list", err);
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_LIST_TICKETS;
    req.list_tickets = &body;
    hd_client *c = connect_to(NULL, "the store", env->store);
    if (c == NULL)
        return CLI_NO_ANSWER;
    HdReply *rep;
    int rc = call(c, "the store", env->store, &req, env->timeout_ms, 1,
                  HELPDESK__V1__REPLY__BODY_TICKETS, &rep);
    if (rc == CLI_OK && json) {
        cli_json *j = cli_json_new();
        cli_json_list(j, rep->tickets);
        print_json(j);
        cli_json_destroy(&j);
    } else if (rc == CLI_OK) {
        cli_print_list(stdout, rep->tickets);
    }
    hd_reply_free(rep);
    hd_client_destroy(&c);
    return rc;
}

/* --- watch --- */

/* While watching with no events arriving, ask the store this often whether any were missed
 * (a subscriber can lose the first events while connecting, or some at the high-water mark). */
#define IDLE_CHECK_MS 2000
#define CATCH_UP_LIMIT 1000

typedef struct {
    const cli_env *env;
    cli_watch_opts opts;
    bool json;
    void *ctx;
    void *sub;
    hd_client *store;
    cli_json *j;
    int64_t last;   /* seq of the last event printed; -1 before the first */
    int64_t printed;
} watcher;

static bool done(const watcher *w)
{
    return w->opts.count > 0 && w->printed >= w->opts.count;
}

static void show_event(watcher *w, const HdTicketEvent *e)
{
    if (done(w) || (w->last >= 0 && e->seq <= w->last))
        return; /* already shown: catch-up and live overlap */
    if (w->json) {
        cli_json_clear(w->j);
        cli_json_event(w->j, e);
        print_json(w->j);
    } else {
        cli_print_event_line(stdout, e);
        fflush(stdout);
    }
    w->last = e->seq;
    w->printed++;
}

/* Prints every event after w->last that the store has. 0, or the exit code on failure. */
static int catch_up(watcher *w, int timeout_ms)
{
    if (w->store == NULL && (w->store = connect_to(w->ctx, "the store", w->env->store)) == NULL)
        return CLI_NO_ANSWER;
    while (!done(w)) {
        HdEventsSince body = HELPDESK__V1__EVENTS_SINCE__INIT;
        body.after_seq = w->last < 0 ? 0 : w->last;
        body.limit = CATCH_UP_LIMIT;
        HdRequest req = HELPDESK__V1__REQUEST__INIT;
        req.body_case = HELPDESK__V1__REQUEST__BODY_EVENTS_SINCE;
        req.events_since = &body;
        HdReply *rep;
        int rc = call(w->store, "the store", w->env->store, &req, timeout_ms, 1,
                      HELPDESK__V1__REPLY__BODY_EVENTS, &rep);
        if (rc != CLI_OK || rep == NULL)
            return rc != CLI_OK ? rc : CLI_NO_ANSWER;
        const HdEventBatch *b = rep->events;
        int64_t before = w->last;
        for (size_t i = 0; i < b->n_events; i++)
            show_event(w, b->events[i]);
        bool more = b->n_events > 0 && w->last > before && w->last < b->last_seq;
        hd_reply_free(rep);
        if (!more)
            break;
    }
    return CLI_OK;
}

static void on_live(watcher *w, HdTicketEvent *e)
{
    if (w->last >= 0 && e->seq > w->last + 1 && catch_up(w, w->env->timeout_ms) != CLI_OK)
        fprintf(stderr, "warning: events %" PRId64 "..%" PRId64 " were missed and the store "
                        "did not answer to fill the gap\n",
                w->last + 1, e->seq - 1);
    show_event(w, e);
}

static int watch_loop(watcher *w, int sigfd)
{
    int64_t last_activity = hd_mono_ms();
    while (!done(w)) {
        zmq_pollitem_t items[] = {{.socket = w->sub, .events = ZMQ_POLLIN},
                                  {.fd = sigfd, .events = ZMQ_POLLIN}};
        int rc = zmq_poll(items, 2, 500);
        if (rc < 0 && errno != EINTR)
            return CLI_NO_ANSWER;
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN)) {
            int sig = hd_signals_take(sigfd);
            if (sig == SIGINT || sig == SIGTERM)
                return CLI_OK;
        }
        HdTicketEvent *e;
        while (!done(w) && (e = hd_subscriber_recv(w->sub, ZMQ_DONTWAIT)) != NULL) {
            on_live(w, e);
            hd_event_free(e);
            last_activity = hd_mono_ms();
        }
        if (w->last >= 0 && hd_mono_ms() - last_activity >= IDLE_CHECK_MS) {
            int quick = w->env->timeout_ms < 1000 ? w->env->timeout_ms : 1000;
            (void)catch_up(w, quick); /* best effort: the store may be restarting */
            last_activity = hd_mono_ms();
        }
    }
    return CLI_OK;
}

int cli_watch_run(const cli_env *env, int argc, char **argv)
{
    char err[512];
    watcher w = {.env = env, .json = env->json, .last = -1};
    enum cli_parse p = cli_watch_parse(argc, argv, &w.opts, &w.json, err, sizeof err);
    if (p == CLI_PARSE_HELP) {
        cli_usage(stdout, "watch");
        return CLI_OK;
    }
    if (p != CLI_PARSE_OK)
        return usage_error("watch", err);
    int sigfd = hd_signals_open(); /* before the context: its threads inherit the mask */
    if (sigfd < 0) {
        fprintf(stderr, "error: cannot take signals: %s\n", strerror(errno));
        return CLI_NO_ANSWER;
    }
    w.ctx = zmq_ctx_new();
    w.j = cli_json_new();
    int rc = CLI_NO_ANSWER;
    /* Subscribe first, then catch up: live events queue in the SUB socket meanwhile, and
     * those already printed by the catch-up are skipped by their seq. */
    w.sub = hd_socket_new(w.ctx, ZMQ_SUB, env->events, false);
    if (w.sub == NULL) {
        fprintf(stderr, "error: cannot subscribe to events at \"%s\"\n", env->events);
        goto out;
    }
    if (w.opts.has_from) {
        w.last = w.opts.from;
        if ((rc = catch_up(&w, env->timeout_ms)) != CLI_OK)
            goto out;
    }
    rc = watch_loop(&w, sigfd);
out:
    hd_socket_close(&w.sub);
    hd_client_destroy(&w.store);
    cli_json_destroy(&w.j);
    zmq_ctx_term(w.ctx);
    close(sigfd);
    return rc;
}

/* --- help --- */

static const char overview[] =
    "usage: helpdesk [global options] COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  submit   take a contact: customer, account, location and one or more --problem\n"
    "  show ID  a ticket and its whole history\n"
    "  list     tickets, filtered by --queue, --status, --priority\n"
    "  watch    follow ticket events live (--from SEQ to catch up first)\n"
    "  help [COMMAND]\n"
    "\n"
    "global options (before the command):\n"
    "  --config FILE       config file (else $HD_CONFIG)\n"
    "  --intake ENDPOINT   intake (else $HD_INTAKE_ENDPOINT, intake.endpoint, " HD_DEFAULT_INTAKE
    ")\n"
    "  --store ENDPOINT    store api (else $HD_STORE_API, store.api, " HD_DEFAULT_STORE_API ")\n"
    "  --events ENDPOINT   store events (else $HD_STORE_EVENTS, store.events, "
    HD_DEFAULT_STORE_EVENTS ")\n"
    "  --timeout MS        how long to wait for an answer (default 5000)\n"
    "  --json              print JSON for scripts\n"
    "\n"
    "exit status: 0 ok, 1 refused by the server, 2 usage error, 3 no answer\n";

static const char submit_help[] =
    "usage: helpdesk submit [options] --problem SUMMARY [problem options] [--problem ...]\n"
    "\n"
    "contact:   --source S (default cli)  --external-id X (default: generated and printed;\n"
    "           reuse it to retry)  --channel phone|email|web|chat|on_site|api (default phone)\n"
    "           --agent NAME\n"
    "customer:  --name N  --email E  --phone P  --language TAG  --organization O  --vip\n"
    "           --attr KEY=VALUE (repeatable)\n"
    "account:   --account N  --contract LEVEL  --licence L  --product P  --model M  --serial S\n"
    "location:  --site S  --building B  --floor F  --room R  --address A  --city C\n"
    "           --country C\n"
    "problems:  --problem SUMMARY starts a problem; these describe the last one:\n"
    "           --category C  --description D  --users N\n"
    "           --urgency low|medium|high|critical  --impact low|medium|high|critical\n"
    "\n"
    "Each problem becomes its own ticket. Prints \"contact 12: tickets 31 32\"; a contact sent\n"
    "again with the same --source and --external-id makes no new tickets (already received).\n"
    "Retries up to 3 times when intake does not answer.\n";

static const char show_help[] =
    "usage: helpdesk show ID [--json]\n"
    "\n"
    "The ticket (status, priority, queue and tier, customer, account, location, problem, SLA\n"
    "deadlines in UTC, the rules that decided) and its history, one line per event.\n";

static const char list_help[] =
    "usage: helpdesk list [--queue Q] [--status S] [--priority P1..P4] [--limit N] [--json]\n"
    "\n"
    "statuses: new triaged queued in_progress waiting_customer resolved closed reopened\n"
    "limit: 1..1000 (default 100)\n";

static const char watch_help[] =
    "usage: helpdesk watch [--from SEQ] [--count N] [--json]\n"
    "\n"
    "Follows ticket events as they happen, one line each (one JSON object per line with\n"
    "--json). --from SEQ first prints every event after SEQ from the store's log, then\n"
    "follows live with no gap and no repeat. --count N stops after N events. Ctrl-C stops.\n";

bool cli_command_known(const char *command)
{
    static const char *const names[] = {"submit", "show", "list", "watch", "help"};
    for (size_t i = 0; command && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(command, names[i]) == 0)
            return true;
    return false;
}

void cli_usage(FILE *out, const char *command)
{
    const char *text = overview;
    if (command && strcmp(command, "submit") == 0)
        text = submit_help;
    else if (command && strcmp(command, "show") == 0)
        text = show_help;
    else if (command && strcmp(command, "list") == 0)
        text = list_help;
    else if (command && strcmp(command, "watch") == 0)
        text = watch_help;
    fputs(text, out);
}
