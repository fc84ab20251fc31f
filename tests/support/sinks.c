#include "sinks.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hd/clock.h"

/* Debian's interpreter: python3-aiosmtpd is installed for it, not for a python3 that a
 * developer's PATH may put first (pyenv and the like). */
#define SINK_PYTHON "/usr/bin/python3"
#define SINK_READY_MS 15000

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int ht_source_path(const char *rel, char *out, size_t len)
{
    char cwd[512];
    if (getcwd(cwd, sizeof cwd) != NULL) {
        snprintf(out, len, "%s/%s", cwd, rel);
        if (access(out, R_OK) == 0)
            return 0;
    }
    const char *bin = getenv("HD_TEST_BIN"); /* <tree>/build/<O>/bin */
    if (bin != NULL) {
        snprintf(out, len, "%s/../../../%s", bin, rel);
        char *real = realpath(out, NULL);
        if (real != NULL) {
            snprintf(out, len, "%s", real);
            free(real);
            return 0;
        }
    }
    fprintf(stderr, "sinks: cannot find %s in the source tree\n", rel);
    return -1;
}

int ht_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static bool sink_alive(ht_sink *s)
{
    if (s->pid <= 0)
        return false;
    int st;
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
        s->pid = 0;
        return false;
    }
    return true;
}

static void print_log(const ht_sink *s)
{
    char *text = ht_read_file(s->log, NULL);
    fprintf(stderr, "----- %s:\n%s\n", s->log, text ? text : "(no log)");
    free(text);
}

static pid_t spawn_sink(const char *script, int port, const char *dir, const char *log)
{
    char portbuf[16];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (out < 0 || in < 0) {
        if (out >= 0)
            close(out);
        if (in >= 0)
            close(in);
        return -1;
    }
    char *argv[] = {SINK_PYTHON, (char *)script, portbuf, (char *)dir, NULL};
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in, 0);
        dup2(out, 1);
        dup2(out, 2);
        execv(SINK_PYTHON, argv);
        _exit(127);
    }
    close(in);
    close(out);
    return pid;
}

int ht_sink_start(ht_env *env, ht_sink *s, ht_sink_kind kind, const char *name)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    char script[512];
    if (ht_source_path(kind == HT_SINK_SMTP ? "tests/support/smtp_sink.py"
                                            : "tests/support/http_sink.py",
                       script, sizeof script) != 0)
        return -1;
    snprintf(s->dir, sizeof s->dir, "%s/%s", env->dir, name);
    snprintf(s->log, sizeof s->log, "%s/%s.log", env->dir, name);
    if (mkdir(s->dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "sinks: mkdir %s: %s\n", s->dir, strerror(errno));
        return -1;
    }
    /* The port is picked free and handed over; should another process grab it in between,
     * the sink exits (address in use) and we try another. */
    for (int tries = 0; tries < 3; tries++) {
        s->port = ht_closed_port();
        s->pid = spawn_sink(script, s->port, s->dir, s->log);
        if (s->pid < 0)
            return -1;
        int64_t deadline = hd_mono_ms() + SINK_READY_MS;
        while (sink_alive(s) && !port_accepts(s->port) && hd_mono_ms() < deadline)
            nap_ms(20);
        if (sink_alive(s) && port_accepts(s->port)) {
            if (kind == HT_SINK_SMTP)
                snprintf(s->url, sizeof s->url, "smtp://127.0.0.1:%d", s->port);
            else
                snprintf(s->url, sizeof s->url, "http://127.0.0.1:%d/hook", s->port);
            return 0;
        }
        (void)ht_sink_stop(s);
    }
    fprintf(stderr, "sinks: %s did not accept connections\n", name);
    print_log(s);
    return -1;
}

int ht_sink_stop(ht_sink *s)
{
    if (s == NULL || s->pid <= 0)
        return -1;
    kill(s->pid, SIGTERM);
    int64_t deadline = hd_mono_ms() + 5000;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid)
            break;
        if (hd_mono_ms() >= deadline) {
            kill(s->pid, SIGKILL);
            while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
            }
            s->pid = 0;
            return -1;
        }
        nap_ms(10);
    }
    s->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* ---------------------------------------------------------------- what they received */

/* The numbers N of the files <prefix>N<suffix> in dir, ascending. */
static size_t numbered_files(const char *dir, const char *prefix, const char *suffix,
                             int **out)
{
    size_t n = 0, cap = 16;
    int *v = malloc(cap * sizeof *v);
    if (v == NULL)
        abort();
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        size_t pl = strlen(prefix), sl = strlen(suffix);
        while ((e = readdir(d)) != NULL) {
            size_t l = strlen(e->d_name);
            if (l <= pl + sl || strncmp(e->d_name, prefix, pl) != 0 ||
                strcmp(e->d_name + l - sl, suffix) != 0)
                continue;
            if (n == cap) {
                cap *= 2;
                v = realloc(v, cap * sizeof *v);
                if (v == NULL)
                    abort();
            }
            v[n++] = atoi(e->d_name + pl);
        }
        closedir(d);
    }
    for (size_t i = 1; i < n; i++) /* insertion sort: a few hundred at most */
        for (size_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            int t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    return n;
}

/* The value of header line "name: value" in the head of a .txt (before the blank line). */
static void head_value(const char *text, const char *name, char *out, size_t len)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = text; *p && *p != '\n';) {
        const char *eol = strchr(p, '\n');
        if (eol == NULL)
            eol = p + strlen(p);
        if ((size_t)(eol - p) > nl + 1 && strncmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, len, "%.*s", (int)(eol - v), v);
            return;
        }
        p = *eol ? eol + 1 : eol;
    }
}

static bool read_mail(const ht_sink *s, int n, ht_mail *m)
{
    char path[640];
    memset(m, 0, sizeof *m);
    m->n = n;
    snprintf(path, sizeof path, "%s/msg-%d.txt", s->dir, n);
    char *text = ht_read_file(path, NULL);
    if (text == NULL)
        return false;
    head_value(text, "rcpt", m->rcpt, sizeof m->rcpt);
    head_value(text, "key", m->key, sizeof m->key);
    head_value(text, "subject", m->subject, sizeof m->subject);
    head_value(text, "content_type", m->content_type, sizeof m->content_type);
    head_value(text, "transfer_encoding", m->transfer_encoding, sizeof m->transfer_encoding);
    char ms[32];
    head_value(text, "received_ms", ms, sizeof ms);
    m->received_ms = strtoll(ms, NULL, 10);
    const char *body = strstr(text, "\n\n");
    m->body = strdup(body ? body + 2 : "");
    free(text);
    snprintf(path, sizeof path, "%s/msg-%d.eml", s->dir, n);
    m->raw = ht_read_file(path, NULL);
    if (m->raw == NULL)
        m->raw = strdup("");
    if (m->body == NULL || m->raw == NULL)
        abort();
    return true;
}

size_t ht_smtp_mails(const ht_sink *s, ht_mail **out)
{
    int *nums;
    size_t n = numbered_files(s->dir, "msg-", ".txt", &nums);
    ht_mail *v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (read_mail(s, nums[i], &v[k]))
            k++;
    free(nums);
    *out = v;
    return k;
}

void ht_mails_free(ht_mail **mails, size_t n)
{
    if (mails == NULL || *mails == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free((*mails)[i].body);
        free((*mails)[i].raw);
    }
    free(*mails);
    *mails = NULL;
}

size_t ht_smtp_count_key(const ht_sink *s, const char *key)
{
    ht_mail *m;
    size_t n = ht_smtp_mails(s, &m), c = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].key, key) == 0)
            c++;
    ht_mails_free(&m, n);
    return c;
}

size_t ht_http_posts(const ht_sink *s, char ***out)
{
    int *nums;
    size_t n = numbered_files(s->dir, "post-", ".json", &nums);
    char **v = calloc(n ? n : 1, sizeof *v);
    if (v == NULL)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char path[640];
        snprintf(path, sizeof path, "%s/post-%d.json", s->dir, nums[i]);
        if ((v[k] = ht_read_file(path, NULL)) != NULL)
            k++;
    }
    free(nums);
    *out = v;
    return k;
}

void ht_posts_free(char ***posts, size_t n)
{
    if (posts == NULL || *posts == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free((*posts)[i]);
    free(*posts);
    *posts = NULL;
}

size_t ht_http_count_key(const ht_sink *s, const char *key)
{
    char **p;
    size_t n = ht_http_posts(s, &p), c = 0;
    char got[256];
    for (size_t i = 0; i < n; i++)
        if (ht_json_str(p[i], "key", got, sizeof got) && strcmp(got, key) == 0)
            c++;
    ht_posts_free(&p, n);
    return c;
}

/* Where the value of member `name` starts (after the colon and blanks); NULL when absent. The
 * notifier's documents are flat, so a plain search for "name": is enough; a string value that
 * happens to contain the same text comes after the member itself. */
static const char *json_member(const char *json, const char *name)
{
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\"", name);
    for (const char *p = strstr(json, pat); p; p = strstr(p + 1, pat)) {
        const char *v = p + strlen(pat);
        while (*v == ' ')
            v++;
        if (*v != ':')
            continue;
        v++;
        while (*v == ' ')
            v++;
        return v;
    }
    return NULL;
}

static size_t utf8_put(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

bool ht_json_str(const char *json, const char *name, char *out, size_t len)
{
    const char *v = json_member(json, name);
    if (v == NULL || *v != '"' || len == 0)
        return false;
    size_t k = 0;
    for (v++; *v && *v != '"' && k + 4 < len; v++) {
        if (*v != '\\') {
            out[k++] = *v;
            continue;
        }
        v++;
        switch (*v) {
        case 'n': out[k++] = '\n'; break;
        case 't': out[k++] = '\t'; break;
        case 'r': out[k++] = '\r'; break;
        case 'b': out[k++] = '\b'; break;
        case 'f': out[k++] = '\f'; break;
        case 'u': {
            char hex[5] = {0};
            for (int i = 0; i < 4 && v[1 + i]; i++)
                hex[i] = v[1 + i];
            k += utf8_put((unsigned)strtoul(hex, NULL, 16), out + k);
            v += strlen(hex);
            break;
        }
        case '\0': v--; break;
        default: out[k++] = *v; break; /* \" \\ \/ */
        }
    }
    out[k] = '\0';
    return true;
}

bool ht_json_int(const char *json, const char *name, int64_t *v)
{
    const char *p = json_member(json, name);
    if (p == NULL || !(*p == '-' || (*p >= '0' && *p <= '9')))
        return false;
    *v = strtoll(p, NULL, 10);
    return true;
}
