/* `helpdesk watch`: follow the event log live, after catching up from the store if asked. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "hd/clock.h"
#include "hd/signals.h"
#include "hd/transport.h"

/* While watching with no events arriving, ask the store this often whether any were missed
 * (a subscriber can lose the first events while connecting, or some at the high-water mark). */
#define IDLE_CHECK_MS 2000
#define CATCH_UP_LIMIT 1000

typedef struct {
    const cli_env *env;
    cli_args opts; /* --from, --count, --json */
    void *ctx;
    void *sub;
    hd_client *store;
    cli_json *j;  /* NULL: text */
    int64_t last; /* seq of the last event printed; -1 before the first */
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
    cli_output_event(stdout, w->j, e);
    w->last = e->seq;
    w->printed++;
}

/* Prints every event after w->last that the store has. 0, or the exit code on failure. */
static int catch_up(watcher *w, int timeout_ms)
{
    if (w->store == NULL && (w->store = cli_connect(w->ctx, "the store", w->env->store,
                                                     &w->env->store_curve)) == NULL)
        return CLI_NO_ANSWER;
    while (!done(w)) {
        HdEventsSince body = HELPDESK__V1__EVENTS_SINCE__INIT;
        body.after_seq = w->last < 0 ? 0 : w->last;
        body.limit = CATCH_UP_LIMIT;
        HdRequest req = HELPDESK__V1__REQUEST__INIT;
        req.body_case = HELPDESK__V1__REQUEST__BODY_EVENTS_SINCE;
        req.events_since = &body;
        HdReply *rep;
        int rc = cli_call(w->store, "the store", w->env->store, &req, timeout_ms, 1,
                          HELPDESK__V1__REPLY__BODY_EVENTS, NULL, &rep);
        if (rc != CLI_OK)
            return rc;
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
        fprintf(stderr,
                "warning: events %" PRId64 "..%" PRId64 " were missed and the store "
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

int cli_watch_run(const cli_command *cmd, const cli_env *env, int argc, char **argv)
{
    watcher w = {.env = env, .last = -1};
    enum cli_parse p = cli_command_parse(cmd, env, argc, argv, &w.opts);
    if (p != CLI_PARSE_OK)
        return p == CLI_PARSE_HELP ? CLI_OK : CLI_USAGE;
    int sigfd = hd_signals_open(); /* before the context: its threads inherit the mask */
    if (sigfd < 0) {
        fprintf(stderr, "error: cannot take signals: %s\n", strerror(errno));
        return CLI_NO_ANSWER;
    }
    w.ctx = zmq_ctx_new();
    if (w.opts.json)
        w.j = cli_json_new();
    int rc = CLI_NO_ANSWER;
    /* Subscribe first, then catch up: live events queue in the SUB socket meanwhile, and
     * those already printed by the catch-up are skipped by their seq. */
    w.sub = hd_socket_open(w.ctx, ZMQ_SUB, env->events, false, &env->store_curve);
    if (w.sub == NULL) {
        fprintf(stderr, "error: cannot subscribe to events at \"%s\"\n", env->events);
        goto out;
    }
    if (w.opts.given & CLI_O_FROM) {
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
