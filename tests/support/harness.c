#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h and stdint.h, which it needs */

#include "hd/client.h"
#include "hd/clock.h"
#include "hd/transport.h"
#include "test_rules.h"

extern char **environ;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "harness: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static const char *need_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || v[0] == '\0')
        die("%s is not set: run the end-to-end tests through tests/run.sh", name);
    return v;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---------------------------------------------------------------- ports, database, config */

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("cannot find a free port: %s", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

/* The server URL with its database name replaced by `db`. */
static void url_with_db(const char *server, const char *db, char *out, size_t outlen)
{
    const char *scheme = strstr(server, "://");
    const char *host = scheme ? scheme + 3 : server;
    const char *slash = strchr(host, '/');
    const char *query = strchr(host, '?');
    size_t base = slash ? (size_t)(slash - server) : query ? (size_t)(query - server)
                                                           : strlen(server);
    snprintf(out, outlen, "%.*s/%s%s", (int)base, server, db, query ? query : "");
}

static void create_database(ht_env *env)
{
    const char *server = need_env("HD_TEST_PG_URL");
    PGconn *c = PQconnectdb(server);
    if (PQstatus(c) != CONNECTION_OK)
        die("cannot connect to %s: %s", server, PQerrorMessage(c));
    snprintf(env->db_name, sizeof env->db_name, "hd_%s_%d_%d", env->name, (int)getpid(),
             env->seq);
    for (char *p = env->db_name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    char sql[200];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", env->db_name);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        die("%s: %s", sql, PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    url_with_db(server, env->db_name, env->db_url, sizeof env->db_url);
    env->pg = PQconnectdb(env->db_url);
    if (PQstatus(env->pg) != CONNECTION_OK)
        die("cannot connect to %s: %s", env->db_url, PQerrorMessage(env->pg));
}

static const int64_t sla_table[4][5] = {
    {111, 222, 333, 444, 555},
    {1111, 2222, 3333, 4444, 5555},
    {11111, 22222, 33333, 44444, 55555},
    {111111, 222222, 333333, 444444, 555555},
};
static const char *const sla_keys[5] = {"first_response", "update_interval", "resolution",
                                        "tier2_after", "tier3_after"};

int64_t ht_sla_seconds(int p, int what)
{
    return sla_table[p - 1][what];
}

void ht_env_write_config(ht_env *env, const char *extra)
{
    FILE *f = fopen(env->config, "w");
    if (f == NULL)
        die("cannot write %s: %s", env->config, strerror(errno));
    fprintf(f,
            "# written by the end-to-end test harness\n"
            "database_url: \"%s\"\n"
            "intake:\n  endpoint: \"%s\"\n  max_problems: 10\n  store_timeout_ms: 5000\n"
            "store:\n  api: \"%s\"\n  work: \"%s\"\n  events: \"%s\"\n"
            "  lease_ms: %d\n  heartbeat_ms: %d\n"
            "prioritizer:\n  rules: \"%s\"\n  credit: 8\n"
            "router:\n  rules: \"%s\"\n  credit: 8\n"
            "worker:\n  heartbeat_ms: %d\n"
            "sla:\n",
            env->db_url, env->intake_ep, env->api_ep, env->work_ep, env->events_ep,
            env->lease_ms, env->heartbeat_ms, env->priority_rules, env->routing_rules,
            env->heartbeat_ms);
    for (int p = 1; p <= 4; p++) {
        fprintf(f, "  P%d:\n", p);
        for (int w = 0; w < 5; w++)
            fprintf(f, "    %s: %lld\n", sla_keys[w], (long long)sla_table[p - 1][w]);
    }
    if (extra)
        fprintf(f, "%s\n", extra);
    fclose(f);
}

ht_env *ht_env_new(const char *name)
{
    signal(SIGPIPE, SIG_IGN);
    ht_env *env = calloc(1, sizeof *env);
    if (env == NULL)
        abort();
    snprintf(env->name, sizeof env->name, "%s", name);
    snprintf(env->bin, sizeof env->bin, "%s", need_env("HD_TEST_BIN"));
    const char *tmp = need_env("HD_TEST_TMP");
    static int envs; /* several environments in one test binary get different names */
    env->seq = envs++;
    snprintf(env->dir, sizeof env->dir, "%s/%s-%d-%d", tmp, name, (int)getpid(), env->seq);
    if (mkdir(env->dir, 0755) != 0 && errno != EEXIST)
        die("mkdir %s: %s", env->dir, strerror(errno));
    snprintf(env->config, sizeof env->config, "%s/helpdesk.yaml", env->dir);
    snprintf(env->priority_rules, sizeof env->priority_rules, "%s/priority.yaml", env->dir);
    snprintf(env->routing_rules, sizeof env->routing_rules, "%s/routing.yaml", env->dir);
    create_database(env);
    snprintf(env->intake_ep, sizeof env->intake_ep, "tcp://127.0.0.1:%d", free_port());
    snprintf(env->api_ep, sizeof env->api_ep, "tcp://127.0.0.1:%d", free_port());
    snprintf(env->work_ep, sizeof env->work_ep, "tcp://127.0.0.1:%d", free_port());
    snprintf(env->events_ep, sizeof env->events_ep, "tcp://127.0.0.1:%d", free_port());
    env->lease_ms = 1500;
    env->heartbeat_ms = 300;
    ht_env_write_config(env, NULL);
    env->zctx = zmq_ctx_new();
    env->intake = hd_client_new(env->zctx, env->intake_ep);
    env->api = hd_client_new(env->zctx, env->api_ep);
    if (env->zctx == NULL || env->intake == NULL || env->api == NULL)
        die("cannot make the test clients");
    return env;
}

void ht_env_destroy(ht_env **envp)
{
    if (envp == NULL || *envp == NULL)
        return;
    ht_env *env = *envp;
    ht_stop_all(env);
    hd_client *c = env->intake;
    hd_client_destroy(&c);
    c = env->api;
    hd_client_destroy(&c);
    if (env->zctx)
        zmq_ctx_term(env->zctx);
    if (env->pg)
        PQfinish(env->pg);
    free(env);
    *envp = NULL;
}

int ht_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    size_t n = strlen(text);
    int rc = fwrite(text, 1, n, f) == n ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

char *ht_read_file(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        abort();
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (buf == NULL)
                abort();
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

/* ---------------------------------------------------------------- processes */

/* The child's environment: ours without HD_* settings (only HD_TEST_* and HD_LOG_LEVEL stay, so
 * a developer's shell cannot redirect the services), plus `extra`. Built before fork so the
 * child only calls async-signal-safe functions. Caller frees the array, not the strings. */
static char **child_environ(const char *const *extra)
{
    size_t n = 0, m = 0;
    for (char **e = environ; *e; e++)
        n++;
    for (const char *const *e = extra; e && *e; e++)
        m++;
    char **out = calloc(n + m + 1, sizeof *out);
    if (out == NULL)
        abort();
    size_t k = 0;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "HD_", 3) == 0 && strncmp(*e, "HD_TEST_", 8) != 0 &&
            strncmp(*e, "HD_LOG_LEVEL=", 13) != 0)
            continue;
        out[k++] = *e;
    }
    for (const char *const *e = extra; e && *e; e++)
        out[k++] = (char *)*e;
    out[k] = NULL;
    return out;
}

static pid_t spawn(const char *path, char *const argv[], char **envp, const char *out_path,
                   const char *err_path)
{
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int err = strcmp(out_path, err_path) == 0
                  ? out
                  : open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || err < 0 || devnull < 0)
        die("cannot open %s: %s", out_path, strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(devnull, 0);
        dup2(out, 1);
        dup2(err, 2);
        execve(path, argv, envp);
        static const char msg[] = "harness: exec failed\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    close(devnull);
    if (err != out)
        close(err);
    close(out);
    return pid;
}

enum { MAX_WRAP = 8 };

/* BIN_DIR/bin --config CONFIG, behind the n words of wrap (none: run directly). */
static ht_proc *launch(ht_env *env, const char *const *wrap, size_t n, const char *bin,
                       const char *const *extra_env)
{
    if (n > MAX_WRAP || env->nprocs >= HT_MAX_PROCS)
        return NULL;
    ht_proc *p = &env->procs[env->nprocs];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", bin);
    snprintf(p->log, sizeof p->log, "%s/%s-%d.log", env->dir, bin, env->nprocs);
    char path[700];
    snprintf(path, sizeof path, "%s/%s", env->bin, bin);
    if (access(path, X_OK) != 0 || (n > 0 && access(wrap[0], X_OK) != 0)) {
        fprintf(stderr, "harness: %s%s%s is missing or not executable\n", path,
                n > 0 ? " or " : "", n > 0 ? wrap[0] : "");
        return NULL;
    }
    char *argv[MAX_WRAP + 4];
    for (size_t i = 0; i < n; i++)
        argv[i] = (char *)wrap[i];
    argv[n] = path;
    argv[n + 1] = "--config";
    argv[n + 2] = env->config;
    argv[n + 3] = NULL;
    char **envp = child_environ(extra_env);
    p->pid = spawn(argv[0], argv, envp, p->log, p->log);
    free(envp);
    env->nprocs++;
    return p;
}

ht_proc *ht_start(ht_env *env, const char *bin, const char *const *extra_env)
{
    return launch(env, NULL, 0, bin, extra_env);
}

static int exit_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

bool ht_alive(ht_proc *p)
{
    if (p == NULL || p->reaped)
        return false;
    pid_t r = waitpid(p->pid, &p->status, WNOHANG);
    if (r == p->pid) {
        p->reaped = true;
        return false;
    }
    return true;
}

bool ht_wait_exit(ht_proc *p, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    for (;;) {
        if (!ht_alive(p))
            return true;
        if (hd_mono_ms() >= deadline)
            return false;
        sleep_ms(10);
    }
}

bool ht_log_contains(const ht_proc *p, const char *needle)
{
    char *text = ht_read_file(p->log, NULL);
    bool found = text && strstr(text, needle) != NULL;
    free(text);
    return found;
}

long ht_proc_status_kb(pid_t pid, const char *key)
{
    char path[64], line[256];
    size_t klen = strlen(key);
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0)
            kb = strtol(line + klen, NULL, 10);
    fclose(f);
    return kb;
}

int ht_log_count(const ht_proc *p, const char *needle)
{
    char *text = ht_read_file(p->log, NULL);
    int n = 0;
    for (const char *s = text; s && (s = strstr(s, needle)) != NULL; s += strlen(needle))
        n++;
    free(text);
    return n;
}

typedef struct {
    const ht_proc *p;
    const char *needle;
    int count;
} log_wait;

static bool log_reached(void *arg)
{
    const log_wait *w = arg;
    return ht_log_count(w->p, w->needle) >= w->count;
}

bool ht_wait_log(const ht_proc *p, const char *needle, int count, int timeout_ms)
{
    log_wait w = {p, needle, count};
    return ht_wait_until(log_reached, &w, timeout_ms);
}

bool ht_wait_ready(ht_env *env, ht_proc *p, int timeout_ms)
{
    (void)env;
    int64_t deadline = hd_mono_ms() + timeout_ms;
    for (;;) {
        if (ht_log_contains(p, "event=ready"))
            return true;
        if (!ht_alive(p) || hd_mono_ms() >= deadline)
            return false;
        sleep_ms(20);
    }
}

static void dump_log(const ht_proc *p, int lines)
{
    size_t len = 0;
    char *text = ht_read_file(p->log, &len);
    if (text == NULL)
        return;
    size_t start = len;
    int seen = 0;
    while (start > 0) {
        if (text[start - 1] == '\n' && start != len && ++seen >= lines)
            break;
        start--;
    }
    fprintf(stderr, "----- %s (pid %d) %s, last %d lines:\n%s", p->name, (int)p->pid, p->log,
            lines, text + start);
    if (len && text[len - 1] != '\n')
        fputc('\n', stderr);
    free(text);
}

void ht_dump_logs(const ht_env *env, int lines)
{
    for (int i = 0; i < env->nprocs; i++)
        dump_log(&env->procs[i], lines);
}

ht_proc *ht_start_ready(ht_env *env, const char *bin, const char *const *extra_env)
{
    ht_proc *p = ht_start(env, bin, extra_env);
    if (p == NULL)
        return NULL;
    if (!ht_wait_ready(env, p, 30000)) {
        fprintf(stderr, "harness: %s did not log event=ready\n", bin);
        dump_log(p, 40);
        return NULL;
    }
    return p;
}

int ht_stop(ht_proc *p, int timeout_ms)
{
    if (p == NULL)
        return -1;
    if (!ht_alive(p))
        return exit_code(p->status);
    kill(p->pid, SIGTERM);
    if (ht_wait_exit(p, timeout_ms))
        return exit_code(p->status);
    fprintf(stderr, "harness: %s (pid %d) ignored SIGTERM for %d ms; killing it\n", p->name,
            (int)p->pid, timeout_ms);
    ht_kill9(p);
    return -1;
}

void ht_kill9(ht_proc *p)
{
    if (p == NULL || !ht_alive(p))
        return;
    kill(p->pid, SIGKILL);
    while (waitpid(p->pid, &p->status, 0) < 0 && errno == EINTR) {
    }
    p->reaped = true;
}

bool ht_log_has_sanitizer_report(const ht_proc *p)
{
    char *text = ht_read_file(p->log, NULL);
    bool found = text && (strstr(text, "AddressSanitizer") || strstr(text, "LeakSanitizer") ||
                          strstr(text, "runtime error:"));
    free(text);
    return found;
}

int ht_stop_all(ht_env *env)
{
    int bad = 0;
    for (int i = env->nprocs - 1; i >= 0; i--) {
        ht_proc *p = &env->procs[i];
        if (!ht_alive(p))
            continue;
        int code = ht_stop(p, 10000);
        if (code != 0) {
            fprintf(stderr, "harness: %s (pid %d) exited with %d on SIGTERM, not 0\n", p->name,
                    (int)p->pid, code);
            bad++;
        }
    }
    for (int i = 0; i < env->nprocs; i++) {
        if (ht_log_has_sanitizer_report(&env->procs[i])) {
            fprintf(stderr, "harness: sanitizer report in %s\n", env->procs[i].log);
            dump_log(&env->procs[i], 60);
            bad++;
        }
    }
    return bad;
}

int ht_test_setup(void **state)
{
    ht_env *env = *state;
    env->in_test = true;
    return 0;
}

int ht_test_teardown(void **state)
{
    ht_env *env = *state;
    if (env->in_test) {
        fprintf(stderr, "harness: test failed; service logs follow\n");
        ht_dump_logs(env, 30);
    }
    env->in_test = false;
    return 0;
}

void ht_pass(ht_env *env)
{
    env->in_test = false;
}

bool ht_wait_until(bool (*cond)(void *arg), void *arg, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (hd_mono_ms() >= deadline)
            return false;
        sleep_ms(25);
    }
}

int ht_run(ht_env *env, const char *const *argv, const char *const *extra_env, char *out,
           size_t outlen, char *err, size_t errlen, int timeout_ms)
{
    char path[700], out_path[700], err_path[700];
    if (strchr(argv[0], '/'))
        snprintf(path, sizeof path, "%s", argv[0]);
    else
        snprintf(path, sizeof path, "%s/%s", env->bin, argv[0]);
    int n = env->runs++;
    snprintf(out_path, sizeof out_path, "%s/run-%d.out", env->dir, n);
    snprintf(err_path, sizeof err_path, "%s/run-%d.err", env->dir, n);
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **args = calloc(argc + 1, sizeof *args);
    if (args == NULL)
        abort();
    args[0] = path;
    for (size_t i = 1; i < argc; i++)
        args[i] = (char *)argv[i];
    char **envp = child_environ(extra_env);
    ht_proc p = {.pid = spawn(path, args, envp, out_path, err_path)};
    free(envp);
    free(args);
    int code = ht_wait_exit(&p, timeout_ms) ? exit_code(p.status) : -1;
    if (code == -1)
        ht_kill9(&p);
    char *text = ht_read_file(out_path, NULL);
    snprintf(out, outlen, "%s", text ? text : "");
    free(text);
    text = ht_read_file(err_path, NULL);
    snprintf(err, errlen, "%s", text ? text : "");
    free(text);
    return code;
}

bool ht_actor_is(const char *actor, const char *prefix, pid_t pid)
{
    if (actor == NULL || strncmp(actor, prefix, strlen(prefix)) != 0 ||
        actor[strlen(prefix)] != '@')
        return false;
    char tail[32];
    snprintf(tail, sizeof tail, ":%d", (int)pid);
    size_t a = strlen(actor), t = strlen(tail);
    return a > t && strcmp(actor + a - t, tail) == 0;
}

/* ---------------------------------------------------------------- contacts and requests */

void ht_contact_init(ht_contact *x, const char *source, const char *external_id)
{
    memset(x, 0, sizeof *x);
    helpdesk__v1__contact__init(&x->c);
    helpdesk__v1__customer__init(&x->customer);
    helpdesk__v1__account__init(&x->account);
    helpdesk__v1__location__init(&x->location);
    x->c.source = (char *)source;
    x->c.external_id = (char *)external_id;
    x->c.channel = HELPDESK__V1__CHANNEL__CHANNEL_WEB;
    x->c.agent = "e2e-test";
    x->c.received_at = hd_now_ms();
    x->customer.name = "Test Customer";
    x->customer.email = "customer@example.com";
    x->customer.phone = "+33 1 23 45 67 89";
    x->customer.language = "en";
    x->customer.organization = "Example Org";
    x->account.account_number = "AC-1";
    x->account.contract_level = "standard";
    x->account.product = "Widget";
    x->account.model = "W-100";
    x->account.serial_number = "SN-1";
    x->location.site = "hq";
    x->location.city = "Paris";
    x->location.country = "FR";
    x->c.customer = &x->customer;
    x->c.account = &x->account;
    x->c.location = &x->location;
    x->c.problems = x->problems;
}

HdProblem *ht_contact_add(ht_contact *x, const char *category, const char *summary,
                          const char *description)
{
    if (x->c.n_problems >= HT_MAX_PROBLEMS)
        abort();
    HdProblem *p = &x->problem[x->c.n_problems];
    helpdesk__v1__problem__init(p);
    p->category = (char *)category;
    p->summary = (char *)summary;
    p->description = (char *)description;
    x->problems[x->c.n_problems++] = p;
    return p;
}

HdReply *ht_submit(ht_env *env, const HdContact *c)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdSubmitContact s = HELPDESK__V1__SUBMIT_CONTACT__INIT;
    s.contact = (HdContact *)c;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SUBMIT;
    req.submit = &s;
    return hd_client_call_retry(env->intake, &req, 10000, 2);
}

HdReply *ht_store_call(ht_env *env, HdRequest *req)
{
    return hd_client_call_retry(env->api, req, 10000, 2);
}

HdReply *ht_get_ticket(ht_env *env, int64_t id)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdGetTicket g = HELPDESK__V1__GET_TICKET__INIT;
    g.ticket_id = id;
    req.body_case = HELPDESK__V1__REQUEST__BODY_GET_TICKET;
    req.get_ticket = &g;
    return ht_store_call(env, &req);
}

HdReply *ht_list(ht_env *env, Helpdesk__V1__Status status, int64_t after_id, uint32_t limit)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdListTickets l = HELPDESK__V1__LIST_TICKETS__INIT;
    l.status = status;
    l.after_id = after_id;
    l.limit = limit;
    req.body_case = HELPDESK__V1__REQUEST__BODY_LIST_TICKETS;
    req.list_tickets = &l;
    return ht_store_call(env, &req);
}

HdReply *ht_events_since(ht_env *env, int64_t after_seq, uint32_t limit)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdEventsSince e = HELPDESK__V1__EVENTS_SINCE__INIT;
    e.after_seq = after_seq;
    e.limit = limit;
    req.body_case = HELPDESK__V1__REQUEST__BODY_EVENTS_SINCE;
    req.events_since = &e;
    return ht_store_call(env, &req);
}

HdReply *ht_raw_call(ht_env *env, const char *endpoint, int nframes, const void *const *frames,
                     const size_t *lens, int timeout_ms)
{
    void *s = hd_socket_new(env->zctx, ZMQ_DEALER, endpoint, false);
    if (s == NULL)
        return NULL;
    HdReply *rep = NULL;
    for (int i = 0; i < nframes; i++)
        if (zmq_send(s, frames[i], lens[i], i + 1 < nframes ? ZMQ_SNDMORE : 0) < 0)
            goto out;
    rep = ht_dealer_recv_wait(s, timeout_ms);
out:
    hd_socket_close(&s);
    return rep;
}

long ht_count_status(ht_env *env, Helpdesk__V1__Status status)
{
    long count = 0;
    int64_t after = 0;
    for (;;) {
        HdReply *rep = ht_list(env, status, after, 1000);
        if (rep == NULL || rep->body_case != HELPDESK__V1__REPLY__BODY_TICKETS) {
            hd_reply_free(rep);
            return -1;
        }
        size_t n = rep->tickets->n_tickets;
        count += (long)n;
        if (n > 0)
            after = rep->tickets->tickets[n - 1]->id;
        hd_reply_free(rep);
        if (n < 1000)
            return count;
    }
}

Helpdesk__V1__Status ht_ticket_status(ht_env *env, int64_t id)
{
    HdReply *rep = ht_get_ticket(env, id);
    Helpdesk__V1__Status s = HELPDESK__V1__STATUS__STATUS_UNSPECIFIED;
    if (rep && rep->body_case == HELPDESK__V1__REPLY__BODY_TICKET && rep->ticket->ticket)
        s = rep->ticket->ticket->status;
    hd_reply_free(rep);
    return s;
}

/* ---------------------------------------------------------------- SQL */

long ht_sql_long(ht_env *env, const char *sql)
{
    PGresult *r = PQexec(env->pg, sql);
    long v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1 && PQnfields(r) >= 1 &&
        !PQgetisnull(r, 0, 0))
        v = strtol(PQgetvalue(r, 0, 0), NULL, 10);
    else
        fprintf(stderr, "harness: SQL failed: %s: %s\n", sql, PQerrorMessage(env->pg));
    PQclear(r);
    return v;
}

char *ht_sql_text(ht_env *env, const char *sql)
{
    PGresult *r = PQexec(env->pg, sql);
    char *v = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) >= 1 && PQnfields(r) >= 1 &&
        !PQgetisnull(r, 0, 0)) {
        v = strdup(PQgetvalue(r, 0, 0));
        if (v == NULL)
            abort();
    } else {
        fprintf(stderr, "harness: SQL failed: %s: %s\n", sql, PQerrorMessage(env->pg));
    }
    PQclear(r);
    return v;
}

int ht_sql_exec(ht_env *env, const char *sql)
{
    PGresult *r = PQexec(env->pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "harness: SQL failed: %s: %s\n", sql, PQerrorMessage(env->pg));
    PQclear(r);
    return rc;
}

/* ---------------------------------------------------------------- group fixtures */

int ht_write_test_rules(ht_env *env)
{
    if (ht_write_file(env->priority_rules, HT_PRIORITY_RULES) != 0 ||
        ht_write_file(env->routing_rules, HT_ROUTING_RULES) != 0)
        return -1;
    return 0;
}

/* The fixture's first member is its ht_env *, so a pointer to the fixture is a pointer to it. */
static ht_env **fixture_env(void **state)
{
    return *state;
}

void *ht_fixture_new(size_t size, const char *name)
{
    if (size < sizeof(ht_env *))
        die("a fixture begins with its ht_env *");
    ht_env **f = calloc(1, size);
    if (f == NULL)
        abort();
    *f = ht_env_new(name);
    if (ht_write_test_rules(*f) != 0)
        die("cannot write the rules files in %s", (*f)->dir);
    return f;
}

int ht_fixture_teardown(void **state)
{
    ht_env **f = fixture_env(state);
    if (f) {
        ht_env_destroy(f);
        free(f);
    }
    return 0;
}

int ht_fixture_test_setup(void **state)
{
    void *env = *fixture_env(state);
    return ht_test_setup(&env);
}

int ht_fixture_test_teardown(void **state)
{
    void *env = *fixture_env(state);
    return ht_test_teardown(&env);
}

int ht_start_pipeline(ht_env *env, ht_proc **store, ht_proc **intake, ht_proc **prio,
                      ht_proc **router)
{
    static const char *const bins[] = {"hd-store", "hd-intake", "hd-prioritizer", "hd-router"};
    ht_proc **slots[] = {store, intake, prio, router};
    for (size_t i = 0; i < sizeof bins / sizeof bins[0]; i++) {
        if (slots[i] == NULL)
            continue;
        *slots[i] = ht_start_ready(env, bins[i], NULL);
        if (*slots[i] == NULL) {
            ht_dump_logs(env, 40);
            return -1;
        }
    }
    return 0;
}

void ht_test_services_exit_cleanly(void **state)
{
    ht_env *env = *fixture_env(state);
    assert_int_equal(ht_stop_all(env), 0);
    ht_pass(env);
}

/* ---------------------------------------------------------------- waits and checks */

typedef struct {
    ht_env *env;
    const int64_t *ids;
    size_t n;
    Helpdesk__V1__Status status;
} status_wait;

static bool tickets_have_status(void *arg)
{
    const status_wait *w = arg;
    for (size_t i = 0; i < w->n; i++)
        if (ht_ticket_status(w->env, w->ids[i]) != w->status)
            return false;
    return true;
}

bool ht_wait_tickets_status(ht_env *env, const int64_t *ids, size_t n,
                            Helpdesk__V1__Status status, int timeout_ms)
{
    status_wait w = {env, ids, n, status};
    return ht_wait_until(tickets_have_status, &w, timeout_ms);
}

/* Waits until sock has something to read or the deadline (hd_mono_ms) passes. */
static bool poll_in(void *sock, int64_t deadline)
{
    int64_t left = deadline - hd_mono_ms();
    if (left <= 0)
        return false;
    zmq_pollitem_t item = {.socket = sock, .events = ZMQ_POLLIN};
    return zmq_poll(&item, 1, (long)left) > 0;
}

HdReply *ht_dealer_recv_wait(void *sock, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    while (hd_mono_ms() < deadline) {
        if (!poll_in(sock, deadline))
            continue;
        HdReply *rep = hd_dealer_recv(sock, ZMQ_DONTWAIT);
        if (rep)
            return rep;
    }
    return NULL;
}

HdTicketEvent *ht_subscriber_recv_wait(void *sub, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    while (hd_mono_ms() < deadline) {
        if (!poll_in(sub, deadline))
            continue;
        HdTicketEvent *e = hd_subscriber_recv(sub, ZMQ_DONTWAIT);
        if (e)
            return e;
    }
    return NULL;
}

HdReply *ht_submit_ok(ht_env *env, const HdContact *c)
{
    HdReply *rep = ht_submit(env, c);
    if (rep == NULL)
        fail_msg("intake did not answer the submission of %s/%s", c->source, c->external_id);
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR)
        fail_msg("intake refused %s/%s: field=%s message=%s", c->source, c->external_id,
                 rep->error->field, rep->error->message);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_RECEIPT);
    return rep;
}

void ht_assert_bytes(const char *got, const char *want)
{
    assert_non_null(got);
    assert_int_equal(strlen(got), strlen(want));
    assert_memory_equal(got, want, strlen(want));
}

void ht_assert_error(const HdReply *rep, Helpdesk__V1__ErrorCode code, const char *field)
{
    assert_non_null(rep);
    if (rep->body_case != HELPDESK__V1__REPLY__BODY_ERROR)
        fail_msg("expected an error naming %s, got reply body %d", field, rep->body_case);
    if (rep->error->code != code || strcmp(rep->error->field, field) != 0)
        fail_msg("expected error %s field \"%s\", got %s field \"%s\" (%s)",
                 hd_error_code_name(code), field, hd_error_code_name(rep->error->code),
                 rep->error->field, rep->error->message);
    assert_true(strlen(rep->error->message) > 0); /* a sentence a person can act on */
}

/* ---------------------------------------------------------------- technician workflow and
 * escalation (issue 3) */

int ht_write_rules(ht_env *env, const char *priority_rules, const char *routing_rules)
{
    if (ht_write_file(env->priority_rules, priority_rules) != 0 ||
        ht_write_file(env->routing_rules, routing_rules) != 0)
        return -1;
    return 0;
}

ht_proc *ht_start_timer(ht_env *env, const char *const *extra_env)
{
    return ht_start_ready(env, "hd-escalation-timer", extra_env);
}

HdReply *ht_act(ht_env *env, HdTicketAction *action)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    req.body_case = HELPDESK__V1__REQUEST__BODY_ACT;
    req.act = action;
    return hd_client_call(env->api, &req, 10000);
}

HdReply *ht_act_ok(ht_env *env, HdTicketAction *action)
{
    HdReply *rep = ht_act(env, action);
    if (rep == NULL)
        fail_msg("the store did not answer act on ticket %lld", (long long)action->ticket_id);
    if (rep->body_case == HELPDESK__V1__REPLY__BODY_ERROR)
        fail_msg("the store refused act %d on ticket %lld: %s field=%s: %s",
                 (int)action->action_case, (long long)action->ticket_id,
                 hd_error_code_name(rep->error->code), rep->error->field, rep->error->message);
    assert_int_equal(rep->body_case, HELPDESK__V1__REPLY__BODY_TICKET);
    return rep;
}

HdReply *ht_next(ht_env *env, const char *queue, const char *agent)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdNextTicket n = HELPDESK__V1__NEXT_TICKET__INIT;
    n.queue = (char *)queue;
    n.agent = (char *)agent;
    req.body_case = HELPDESK__V1__REQUEST__BODY_NEXT;
    req.next = &n;
    return hd_client_call(env->api, &req, 10000);
}

HdReply *ht_search(ht_env *env, const char *text, int64_t similar_to, uint32_t limit)
{
    HdRequest req = HELPDESK__V1__REQUEST__INIT;
    HdSearchSolutions s = HELPDESK__V1__SEARCH_SOLUTIONS__INIT;
    s.text = (char *)(text ? text : "");
    s.similar_to = similar_to;
    s.limit = limit;
    req.body_case = HELPDESK__V1__REQUEST__BODY_SEARCH;
    req.search = &s;
    return ht_store_call(env, &req);
}

int64_t ht_last_seq(ht_env *env)
{
    HdReply *rep = ht_events_since(env, INT64_MAX / 2, 1);
    int64_t seq = -1;
    if (rep && rep->body_case == HELPDESK__V1__REPLY__BODY_EVENTS)
        seq = rep->events->last_seq;
    hd_reply_free(rep);
    return seq;
}

long ht_count_events(ht_env *env, int64_t ticket_id, const char *kind, const char *where)
{
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = '%s'%s%s",
             (long long)ticket_id, kind, where ? " AND " : "", where ? where : "");
    return ht_sql_long(env, sql);
}

/* ---------------------------------------------------------------- CurveZMQ (issue 4) */

int ht_keygen(ht_env *env, const char *dir, const char *name, char *pub)
{
    const char *argv[] = {"helpdesk", "keygen", "--out", dir, "--name", name, NULL};
    char out[256], err[1024];
    int code = ht_run(env, argv, NULL, out, sizeof out, err, sizeof err, 20000);
    size_t len = strcspn(out, "\n");
    if (code != 0 || len != HD_CURVE_KEY_LEN) {
        fprintf(stderr, "harness: helpdesk keygen --name %s exited %d: %s%s\n", name, code, out,
                err);
        return -1;
    }
    memcpy(pub, out, len);
    pub[len] = '\0';
    return 0;
}

/* A client of `endpoint` with our key pair and the server's public key file. */
static hd_client *curve_client(ht_env *env, const char *endpoint, const hd_curve_opts *me,
                               const char *server_pub_file)
{
    hd_curve_opts o = *me;
    char err[1024];
    if (hd_curve_key_load(server_pub_file, "server key", o.server_key, err, sizeof err) != 0) {
        fprintf(stderr, "harness: %s\n", err);
        return NULL;
    }
    return hd_client_open(env->zctx, endpoint, &o);
}

void ht_env_write_curve_config(ht_env *env, const char *keys, const char *allowed)
{
    char extra[4096];
    snprintf(extra, sizeof extra,
             "curve:\n"
             "  enabled: true\n"
             "  store_secret_key_file: \"%s/store.key\"\n"
             "  store_public_key_file: \"%s/store.pub\"\n"
             "  intake_secret_key_file: \"%s/intake.key\"\n"
             "  intake_public_key_file: \"%s/intake.pub\"\n"
             "  client_secret_key_file: \"%s/services.key\"\n"
             "  allowed_clients: \"%s\"\n",
             keys, keys, keys, keys, keys, allowed);
    ht_env_write_config(env, extra);
}

int ht_env_curve_clients(ht_env *env, const char *client_key_file, const char *store_pub_file,
                         const char *intake_pub_file)
{
    hd_curve_opts me = {.enabled = true};
    char err[1024];
    if (hd_curve_key_load(client_key_file, "client key", me.secret_key, err, sizeof err) != 0 ||
        zmq_curve_public(me.public_key, me.secret_key) != 0) {
        fprintf(stderr, "harness: %s\n", err);
        return -1;
    }
    hd_client *api = curve_client(env, env->api_ep, &me, store_pub_file);
    hd_client *intake = curve_client(env, env->intake_ep, &me, intake_pub_file);
    if (api == NULL || intake == NULL) {
        hd_client_destroy(&api);
        hd_client_destroy(&intake);
        return -1;
    }
    hd_client *old = env->api;
    hd_client_destroy(&old);
    old = env->intake;
    hd_client_destroy(&old);
    env->api = api;
    env->intake = intake;
    return 0;
}

/* ---------------------------------------------------------------- HTTP port (issue 5) */

int ht_http_port(const ht_proc *p, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    do {
        char *log = ht_read_file(p->log, NULL);
        const char *line = log ? strstr(log, "event=http_listening") : NULL;
        const char *at = line ? strstr(line, " port=") : NULL;
        int port = at ? atoi(at + 6) : -1;
        free(log);
        if (port > 0)
            return port;
        sleep_ms(10);
    } while (hd_mono_ms() < deadline);
    return -1;
}

/* Reads until the peer closes or the deadline; the bytes read. */
static size_t read_all(int fd, char *buf, size_t cap, int64_t deadline)
{
    size_t got = 0;
    while (got < cap - 1) {
        int64_t left = deadline - hd_mono_ms();
        if (left <= 0)
            break;
        struct timeval tv = {.tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t r = read(fd, buf + got, cap - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    return got;
}

int ht_http_get(int port, const char *path, char *body, size_t cap, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    static char resp[1 << 20];
    int status = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, req, (size_t)n) == n && read_all(fd, resp, sizeof resp, deadline) > 0 &&
        sscanf(resp, "HTTP/1.%*d %d", &status) == 1) {
        const char *start = strstr(resp, "\r\n\r\n");
        if (body != NULL && cap > 0)
            snprintf(body, cap, "%s", start ? start + 4 : "");
    } else {
        status = -1;
    }
    close(fd);
    return status;
}

bool ht_wait_http_status(int port, const char *path, int status, int timeout_ms)
{
    int64_t deadline = hd_mono_ms() + timeout_ms;
    do {
        if (ht_http_get(port, path, NULL, 0, 1000) == status)
            return true;
        sleep_ms(20);
    } while (hd_mono_ms() < deadline);
    return false;
}

/* ---------------------------------------------------------------- multi-host (issue 5) */

ht_proc *ht_start_wrapped(ht_env *env, const char *const *wrap, const char *bin,
                          const char *const *extra_env)
{
    size_t n = 0;
    while (wrap != NULL && wrap[n] != NULL)
        n++;
    return n == 0 ? NULL : launch(env, wrap, n, bin, extra_env);
}
