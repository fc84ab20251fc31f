/* The end-to-end test harness: a fresh database on the test PostgreSQL, free loopback ports, a
 * config file, real service processes with their logs, polling waits with deadlines, and
 * client/SQL helpers. Environment (set by tests/run.sh): HD_TEST_PG_URL (a server URL ending in
 * a database name), HD_TEST_BIN (the folder with hd-* and helpdesk), HD_TEST_TMP (scratch). */
#ifndef HD_TEST_HARNESS_H
#define HD_TEST_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hd/codec.h"

#define HT_MAX_PROCS 24

/* One service process started by the harness. */
typedef struct {
    pid_t pid;
    char name[64];   /* e.g. "hd-prioritizer" */
    char log[560];   /* its stderr and stdout */
    int status;      /* wait status once reaped */
    bool reaped;
} ht_proc;

/* One test environment: a database, four endpoints, a folder with the config and rules files. */
typedef struct {
    char name[64];
    char dir[400];          /* HD_TEST_TMP/<name>-<pid> */
    char bin[400];          /* HD_TEST_BIN */
    char db_name[96];
    char db_url[1024];      /* the fresh database, given to the store */
    char config[480];       /* dir/helpdesk.yaml */
    char priority_rules[480];
    char routing_rules[480];
    char intake_ep[64], api_ep[64], work_ep[64], events_ep[64];
    void *zctx;
    void *intake;           /* hd_client * */
    void *api;              /* hd_client * */
    void *pg;               /* PGconn * on db_url */
    ht_proc procs[HT_MAX_PROCS];
    int nprocs;
    int lease_ms, heartbeat_ms;
    bool in_test; /* set by ht_test_setup, cleared by ht_pass */
    int seq;      /* this environment's number in the process, for unique names */
    int runs;     /* ht_run calls so far, for their output file names */
} ht_env;

/* SLA seconds the harness writes into every config: sla.P<p>.<what>. Distinct from the built-in
 * defaults so a test can tell the config was used. p is 1..4; what 0..4 = first_response,
 * update_interval, resolution, tier2_after, tier3_after. */
int64_t ht_sla_seconds(int p, int what);

/* Creates the environment: database, ports, folder, config (no rules files yet). The config
 * has store.lease_ms 1500, store/worker heartbeat_ms 300, credit 8 for each stage, the rules
 * paths dir/priority.yaml and dir/routing.yaml, and the SLA table of ht_sla_seconds. Aborts the
 * whole test binary when the environment itself cannot be made. Caller frees with
 * ht_env_destroy, which stops every service still running. */
ht_env *ht_env_new(const char *name);
void ht_env_destroy(ht_env **env);
/* Rewrites the config file with extra YAML lines appended at top level (NULL: none). */
void ht_env_write_config(ht_env *env, const char *extra);

/* Writes `text` to `path`. 0 or -1. */
int ht_write_file(const char *path, const char *text);
/* Reads a whole file (NUL-terminated, caller frees); NULL when missing. */
char *ht_read_file(const char *path, size_t *len);

/* Starts BIN_DIR/<bin> --config <config>, stderr and stdout into dir/<bin>-<n>.log, with `env`
 * (NULL-terminated "K=V" list, may be NULL) added to the environment. NULL on failure. */
ht_proc *ht_start(ht_env *env, const char *bin, const char *const *extra_env);
/* Waits until the process logs "event=ready". false when it exits first or on timeout. */
bool ht_wait_ready(ht_env *env, ht_proc *p, int timeout_ms);
/* ht_start + ht_wait_ready; NULL when it does not get ready (its log tail is printed). */
ht_proc *ht_start_ready(ht_env *env, const char *bin, const char *const *extra_env);
/* Waits for the process to exit; true when it did (p->status holds the wait status). */
bool ht_wait_exit(ht_proc *p, int timeout_ms);
/* SIGTERM, wait up to timeout_ms, then SIGKILL. Returns the exit code (0..255), 128+signal
 * when it died from a signal, or -1 when it had to be killed. */
int ht_stop(ht_proc *p, int timeout_ms);
/* SIGKILL and reap. */
void ht_kill9(ht_proc *p);
bool ht_alive(ht_proc *p);
/* Stops every service still running (SIGTERM); returns how many did not exit with status 0 or
 * whose log holds a sanitizer report. */
int ht_stop_all(ht_env *env);
/* True when the log of p mentions a sanitizer report. */
bool ht_log_has_sanitizer_report(const ht_proc *p);
bool ht_log_contains(const ht_proc *p, const char *needle);
/* A "kB" line of /proc/PID/status ("VmHWM:" the peak resident memory, "VmRSS:" the current),
 * -1 when unknown. */
long ht_proc_status_kb(pid_t pid, const char *key);
/* How many times `needle` occurs in the process's log. */
int ht_log_count(const ht_proc *p, const char *needle);
/* Polls the log until `needle` occurs at least `count` times; false when timeout_ms passes
 * first (the caller says what it waited for). */
bool ht_wait_log(const ht_proc *p, const char *needle, int count, int timeout_ms);
/* Prints the last `lines` lines of every service log to stderr. */
void ht_dump_logs(const ht_env *env, int lines);

/* Per-test setup/teardown for cmocka (state is the ht_env * of the group): a test that does
 * not reach its final ht_pass(env) failed, and the teardown prints the service log tails. */
int ht_test_setup(void **state);
int ht_test_teardown(void **state);
void ht_pass(ht_env *env);

/* Polls cond(arg) every few milliseconds until it holds (true) or timeout_ms passes (false). */
bool ht_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms);

/* A contact with its nested messages in one place; strings point at caller-owned text. */
#define HT_MAX_PROBLEMS 16
typedef struct {
    HdContact c;
    HdCustomer customer;
    HdAccount account;
    HdLocation location;
    HdProblem problem[HT_MAX_PROBLEMS];
    HdProblem *problems[HT_MAX_PROBLEMS];
} ht_contact;

/* A valid contact (web channel, a customer with email and phone, an account and a location),
 * no problems yet. source and external_id must outlive x. */
void ht_contact_init(ht_contact *x, const char *source, const char *external_id);
/* Adds a problem; returns it so the caller can set more fields. */
HdProblem *ht_contact_add(ht_contact *x, const char *category, const char *summary,
                          const char *description);

/* Requests. Each returns the reply (caller frees with hd_reply_free) or NULL on no answer. */
HdReply *ht_submit(ht_env *env, const HdContact *c);
HdReply *ht_get_ticket(ht_env *env, int64_t id);
HdReply *ht_list(ht_env *env, Helpdesk__V1__Status status, int64_t after_id, uint32_t limit);
HdReply *ht_events_since(ht_env *env, int64_t after_seq, uint32_t limit);
HdReply *ht_store_call(ht_env *env, HdRequest *req);
/* Sends the raw frames on a fresh DEALER to `endpoint` and waits for one [""][Reply]. NULL on
 * no answer within timeout_ms. */
HdReply *ht_raw_call(ht_env *env, const char *endpoint, int nframes, const void *const *frames,
                     const size_t *lens, int timeout_ms);
/* How many tickets have this status (paging through list_tickets); -1 on error. */
long ht_count_status(ht_env *env, Helpdesk__V1__Status status);
/* The status of a ticket, or 0 (unspecified) when it cannot be read. */
Helpdesk__V1__Status ht_ticket_status(ht_env *env, int64_t id);

/* A number from one SQL query on the test database (the first column of the first row);
 * -1 on error (printed). */
long ht_sql_long(ht_env *env, const char *sql);
/* The text of the first column of the first row (caller frees); NULL on error or NULL. */
char *ht_sql_text(ht_env *env, const char *sql);
/* Runs a statement; 0 or -1. */
int ht_sql_exec(ht_env *env, const char *sql);

/* Runs BIN_DIR/<argv[0]> (or argv[0] itself when it holds a '/') with argv (NULL-terminated)
 * and `extra_env`, captures stdout and stderr (NUL-terminated, truncated to their sizes). Returns the exit code, 128+signal when
 * killed by a signal, or -1 on timeout (the process is killed). */
int ht_run(ht_env *env, const char *const *argv, const char *const *extra_env, char *out,
           size_t outlen, char *err, size_t errlen, int timeout_ms);

/* "<prefix>@...:<pid>": the worker name a service with this pid uses. */
bool ht_actor_is(const char *actor, const char *prefix, pid_t pid);

/* ---------------------------------------------------------------- group fixtures
 * An end-to-end file keeps its fixture in a struct whose FIRST member is `ht_env *env`, and
 * cmocka's group state points at that struct; the helpers below serve any such struct, so a
 * file only declares what its own tests need next to the env. */

/* Writes HT_PRIORITY_RULES and HT_ROUTING_RULES (test_rules.h) to env->priority_rules and
 * env->routing_rules. 0 or -1. */
int ht_write_test_rules(ht_env *env);
/* A zeroed fixture of `size` bytes (at least one ht_env *) whose env is ht_env_new(name) with
 * the test rules files written. Like ht_env_new, aborts the binary when that cannot be made. */
void *ht_fixture_new(size_t size, const char *name);
/* cmocka group teardown for such a fixture: ht_env_destroy (which stops every service still
 * running) and free. A NULL state is fine. */
int ht_fixture_teardown(void **state);
/* cmocka per-test setup/teardown for such a fixture: ht_test_setup/ht_test_teardown of its
 * env (a test that does not reach ht_pass failed, and its service logs are printed). */
int ht_fixture_test_setup(void **state);
int ht_fixture_test_teardown(void **state);
/* A test of a group whose fixture uses the two functions above. */
#define HT_TEST(name)                                                                      \
    cmocka_unit_test_setup_teardown(name, ht_fixture_test_setup, ht_fixture_test_teardown)

/* Starts, in pipeline order and each one ready before the next, the services whose slot is not
 * NULL: hd-store, hd-intake, hd-prioritizer, hd-router (with the env's config, no extra
 * environment). 0 when all are ready; -1 after printing the service logs otherwise. */
int ht_start_pipeline(ht_env *env, ht_proc **store, ht_proc **intake, ht_proc **prio,
                      ht_proc **router);

/* The last test of a group (state: such a fixture): every service still running stops on
 * SIGTERM with exit status 0 and no sanitizer report in any service log. Listed under the name
 * "test_services_exit_cleanly" with HT_TEST_SERVICES_EXIT_CLEANLY(setup, teardown). */
void ht_test_services_exit_cleanly(void **state);
#define HT_TEST_SERVICES_EXIT_CLEANLY(setup, teardown)                                     \
    {"test_services_exit_cleanly", ht_test_services_exit_cleanly, setup, teardown, NULL}

/* ---------------------------------------------------------------- waits and checks */

/* Polls until every one of the n tickets `ids` has `status`; false when timeout_ms passes
 * first. */
bool ht_wait_tickets_status(ht_env *env, const int64_t *ids, size_t n,
                            Helpdesk__V1__Status status, int timeout_ms);
/* The next Reply on a DEALER socket (hd_dealer_recv), waiting up to timeout_ms; NULL on none. */
HdReply *ht_dealer_recv_wait(void *sock, int timeout_ms);
/* The next TicketEvent on a SUB socket (hd_subscriber_recv), waiting up to timeout_ms; NULL on
 * none. */
HdTicketEvent *ht_subscriber_recv_wait(void *sub, int timeout_ms);

/* cmocka checks (they fail the running test): */
/* ht_submit that must give a receipt; a refusal fails with the error's field and message.
 * Caller frees the reply. */
HdReply *ht_submit_ok(ht_env *env, const HdContact *c);
/* Byte-exact: got is not NULL and has the same length and the same bytes as want. */
void ht_assert_bytes(const char *got, const char *want);
/* The reply is an error with this code and field, with a message a person can act on. */
void ht_assert_error(const HdReply *rep, Helpdesk__V1__ErrorCode code, const char *field);

/* ---------------------------------------------------------------- technician workflow and
 * escalation (issue 3) */

/* Writes both rules files of the env (priority and routing) with this text. 0 or -1. */
int ht_write_rules(ht_env *env, const char *priority_rules, const char *routing_rules);
/* Starts hd-escalation-timer with the env's config and `extra_env`, ready. NULL otherwise. */
ht_proc *ht_start_timer(ht_env *env, const char *const *extra_env);
/* One act{action} on the store api, asked ONCE (an action is not idempotent: a retry could
 * note twice). The reply (caller frees) or NULL on no answer within 10 s. */
HdReply *ht_act(ht_env *env, HdTicketAction *action);
/* act{} that must succeed: fails the test with the store's error otherwise. Caller frees. */
HdReply *ht_act_ok(ht_env *env, HdTicketAction *action);
/* next{queue, agent}, asked once. Caller frees the reply; NULL on no answer. */
HdReply *ht_next(ht_env *env, const char *queue, const char *agent);
/* search{text, similar_to, limit}. Caller frees the reply; NULL on no answer. */
HdReply *ht_search(ht_env *env, const char *text, int64_t similar_to, uint32_t limit);
/* The newest seq of the event log (events_since with a huge after_seq); -1 on error. */
int64_t ht_last_seq(ht_env *env);
/* How many events of this kind (hd_event_kind_name, e.g. "escalated") the ticket has, by SQL
 * over ticket_events, with an optional extra SQL condition (NULL: none); -1 on error. */
long ht_count_events(ht_env *env, int64_t ticket_id, const char *kind, const char *where);

/* ---------------------------------------------------------------- CurveZMQ (issue 4) */

/* Runs `helpdesk keygen --out dir --name name`; the public key it printed goes into pub (41
 * bytes). 0, or -1 after printing what it said. */
int ht_keygen(ht_env *env, const char *dir, const char *name, char *pub);
/* Replaces env->intake and env->api by CurveZMQ clients with the key pair of the secret key file
 * and the servers' public key files, so every ht_* request speaks CURVE. 0 or -1 (printed). */
int ht_env_curve_clients(ht_env *env, const char *client_key_file, const char *store_pub_file,
                         const char *intake_pub_file);
/* Writes env's config with CurveZMQ on: the key pairs store, intake and (for every client)
 * services in the folder `keys`, the allow list `allowed`. */
void ht_env_write_curve_config(ht_env *env, const char *keys, const char *allowed);

/* ---------------------------------------------------------------- HTTP port (issue 5) */

/* The port a service logged with event=http_listening (started with http.listen on port 0),
 * waiting up to timeout_ms for the line; -1 when it does not come. */
int ht_http_port(const ht_proc *p, int timeout_ms);
/* GET http://127.0.0.1:port/path (HTTP/1.1, Connection: close) over a plain socket: the status
 * code, with the body (NUL-terminated, truncated to cap) in body (may be NULL); -1 when there
 * is no complete answer within timeout_ms. */
int ht_http_get(int port, const char *path, char *body, size_t cap, int timeout_ms);
/* Polls GET path until it answers `status`; false when timeout_ms passes first. */
bool ht_wait_http_status(int port, const char *path, int status, int timeout_ms);

/* ---------------------------------------------------------------- multi-host (issue 5) */

/* ht_start with the command behind a wrapper: runs wrap[0] (an absolute path) with the
 * arguments wrap..., BIN_DIR/<bin>, --config, <config>; e.g. wrap = {"/usr/sbin/ip", "netns",
 * "exec", NS, NULL} starts the service in the network namespace NS. The wrapper must exec the
 * service, as `ip netns exec` does, so that p->pid is the service's own and signals reach it.
 * At most 8 wrapper words. NULL on failure. */
ht_proc *ht_start_wrapped(ht_env *env, const char *const *wrap, const char *bin,
                          const char *const *extra_env);

#endif
