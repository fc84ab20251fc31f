/* CurveZMQ: key files, the allow list, the curve.* settings with errors naming the setting,
 * keygen, and the ZAP handler admitting and refusing real clients over loopback TCP. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "hd/clock.h"
#include "hd/config.h"
#include "hd/curve.h"
#include "hd/transport.h"

static char dir[64];

static void path_of(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

static void write_text(const char *name, const char *text)
{
    char p[256];
    path_of(p, sizeof p, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *const env_keys[] = {
    "HD_CURVE_ENABLED",          "HD_CURVE_CLIENT_SECRET_KEY_FILE",
    "HD_CURVE_STORE_PUBLIC_KEY_FILE", "HD_CURVE_STORE_SECRET_KEY_FILE",
    "HD_CURVE_ALLOWED_CLIENTS",  "HD_CURVE_INTAKE_PUBLIC_KEY_FILE",
};

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/hd-curve-test-XXXXXX");
    assert_non_null(mkdtemp(dir));
    for (size_t i = 0; i < sizeof env_keys / sizeof *env_keys; i++)
        unsetenv(env_keys[i]);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    for (size_t i = 0; i < sizeof env_keys / sizeof *env_keys; i++)
        unsetenv(env_keys[i]);
    return 0;
}

/* keygen into dir; the public key in pub. */
static void keygen(const char *name, char pub[HD_CURVE_KEY_LEN + 1])
{
    char err[512];
    assert_int_equal(hd_curve_keygen(dir, name, pub, err, sizeof err), 0);
}

static void assert_has(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL)
        fail_msg("\"%s\" does not mention \"%s\"", text, needle);
}

static void test_keygen_files_and_modes(void **state)
{
    (void)state;
    char pub[HD_CURVE_KEY_LEN + 1], p[256], key[HD_CURVE_KEY_LEN + 1], err[512];
    keygen("alpha", pub);
    assert_int_equal(strlen(pub), HD_CURVE_KEY_LEN);
    struct stat st;
    path_of(p, sizeof p, "alpha.key");
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* The secret key file gives back the same public key. */
    assert_int_equal(hd_curve_key_load(p, "s", key, err, sizeof err), 0);
    char derived[HD_CURVE_KEY_LEN + 1];
    assert_int_equal(zmq_curve_public(derived, key), 0);
    assert_string_equal(derived, pub);
    path_of(p, sizeof p, "alpha.pub");
    assert_int_equal(hd_curve_key_load(p, "s", key, err, sizeof err), 0);
    assert_string_equal(key, pub);
    /* Never overwritten, and the old keys are intact. */
    char again[HD_CURVE_KEY_LEN + 1];
    assert_int_equal(hd_curve_keygen(dir, "alpha", again, err, sizeof err), -1);
    assert_has(err, "exists");
    assert_int_equal(hd_curve_key_load(p, "s", key, err, sizeof err), 0);
    assert_string_equal(key, pub);
    /* A .pub alone also blocks (nothing half-written). */
    write_text("beta.pub", "x\n");
    assert_int_equal(hd_curve_keygen(dir, "beta", again, err, sizeof err), -1);
    path_of(p, sizeof p, "beta.key");
    assert_int_not_equal(access(p, F_OK), 0);
    assert_int_equal(hd_curve_keygen(dir, "../up", again, err, sizeof err), -1);
    assert_has(err, "--name");
    assert_false(hd_curve_key_name_ok(""));
    assert_false(hd_curve_key_name_ok("-x"));
    assert_true(hd_curve_key_name_ok("store-1.prod_a"));
    /* A missing folder is made. */
    char sub[128];
    snprintf(sub, sizeof sub, "%s/new", dir);
    assert_int_equal(hd_curve_keygen(sub, "gamma", again, err, sizeof err), 0);
}

static void test_key_file_errors_name_the_setting(void **state)
{
    (void)state;
    char p[256], key[HD_CURVE_KEY_LEN + 1], err[512], pub[HD_CURVE_KEY_LEN + 1];
    keygen("k", pub);

    assert_int_equal(hd_curve_key_load(NULL, "curve.x_file", key, err, sizeof err), -1);
    assert_has(err, "curve.x_file: not set");

    path_of(p, sizeof p, "missing.pub");
    assert_int_equal(hd_curve_key_load(p, "curve.x_file", key, err, sizeof err), -1);
    assert_has(err, "curve.x_file: ");
    assert_has(err, "missing.pub: No such file");

    char text[256];
    snprintf(text, sizeof text, "# a comment\n\n%s   # maya's laptop\n", pub);
    write_text("commented.pub", text);
    path_of(p, sizeof p, "commented.pub");
    assert_int_equal(hd_curve_key_load(p, "curve.x_file", key, err, sizeof err), 0);
    assert_string_equal(key, pub);

    write_text("short.pub", "# header\nabc\n");
    path_of(p, sizeof p, "short.pub");
    assert_int_equal(hd_curve_key_load(p, "curve.x_file", key, err, sizeof err), -1);
    assert_has(err, "curve.x_file: ");
    assert_has(err, "line 2: not a key");

    /* 40 characters, but '~' is not Z85. */
    snprintf(text, sizeof text, "%.39s~\n", pub);
    write_text("badchar.pub", text);
    path_of(p, sizeof p, "badchar.pub");
    assert_int_equal(hd_curve_key_load(p, "curve.x_file", key, err, sizeof err), -1);
    assert_has(err, "line 1: not a key");

    snprintf(text, sizeof text, "%s\n%s\n", pub, pub);
    write_text("two.pub", text);
    path_of(p, sizeof p, "two.pub");
    assert_int_equal(hd_curve_key_load(p, "curve.x_file", key, err, sizeof err), -1);
    assert_has(err, "line 2: a key file holds one key");

    write_text("empty.pub", "# nothing here\n");
    path_of(p, sizeof p, "empty.pub");
    assert_int_equal(hd_curve_key_load(p, "curve.x_file", key, err, sizeof err), -1);
    assert_has(err, "holds no key");

    snprintf(text, sizeof text, "%s trailing-words\n", pub);
    write_text("trailing.pub", text);
    path_of(p, sizeof p, "trailing.pub");
    assert_int_equal(hd_curve_key_load(p, "curve.x_file", key, err, sizeof err), -1);
}

static void decode(const char *z85, unsigned char bin[32])
{
    assert_non_null(zmq_z85_decode(bin, z85));
}

static void test_allow_list_file(void **state)
{
    (void)state;
    char a[HD_CURVE_KEY_LEN + 1], b[HD_CURVE_KEY_LEN + 1], c[HD_CURVE_KEY_LEN + 1];
    char text[512], p[256], err[512];
    keygen("a", a);
    keygen("b", b);
    keygen("c", c);
    snprintf(text, sizeof text, "# operators\n%s  # maya\n\n   %s\n#%s\n", a, b, c);
    write_text("allowed.txt", text);
    path_of(p, sizeof p, "allowed.txt");
    hd_curve_allow *al = hd_curve_allow_load(p, "curve.allowed_clients", err, sizeof err);
    assert_non_null(al);
    assert_int_equal(hd_curve_allow_count(al), 2);
    unsigned char bin[32];
    decode(a, bin);
    assert_true(hd_curve_allow_has(al, bin));
    decode(b, bin);
    assert_true(hd_curve_allow_has(al, bin));
    decode(c, bin); /* commented out */
    assert_false(hd_curve_allow_has(al, bin));
    hd_curve_allow_destroy(&al);
    hd_curve_allow_destroy(&al);

    snprintf(text, sizeof text, "%s\nnot-a-key\n", a);
    write_text("bad.txt", text);
    path_of(p, sizeof p, "bad.txt");
    assert_null(hd_curve_allow_load(p, "curve.allowed_clients", err, sizeof err));
    assert_has(err, "curve.allowed_clients: ");
    assert_has(err, "bad.txt: line 2: not a key");

    write_text("none.txt", "# nobody yet\n");
    path_of(p, sizeof p, "none.txt");
    assert_null(hd_curve_allow_load(p, "curve.allowed_clients", err, sizeof err));
    assert_has(err, "lists no key");

    assert_null(hd_curve_allow_load(NULL, "curve.allowed_clients", err, sizeof err));
    assert_has(err, "curve.allowed_clients: not set");
    path_of(p, sizeof p, "nowhere");
    assert_null(hd_curve_allow_load(p, "curve.allowed_clients", err, sizeof err));
    assert_has(err, "No such file");
}

static void test_allow_list_directory(void **state)
{
    (void)state;
    char a[HD_CURVE_KEY_LEN + 1], b[HD_CURVE_KEY_LEN + 1], p[256], err[512];
    keygen("a", a); /* a.key sits next to a.pub and is not read */
    keygen("b", b);
    hd_curve_allow *al = hd_curve_allow_load(dir, "curve.allowed_clients", err, sizeof err);
    assert_non_null(al);
    assert_int_equal(hd_curve_allow_count(al), 2);
    unsigned char bin[32];
    decode(b, bin);
    assert_true(hd_curve_allow_has(al, bin));
    hd_curve_allow_destroy(&al);

    write_text("broken.pub", "nonsense\n");
    assert_null(hd_curve_allow_load(dir, "curve.allowed_clients", err, sizeof err));
    assert_has(err, "curve.allowed_clients: ");
    assert_has(err, "broken.pub: line 1: not a key");
    path_of(p, sizeof p, "broken.pub");
    unlink(p);

    char empty[256];
    path_of(empty, sizeof empty, "empty");
    assert_int_equal(mkdir(empty, 0700), 0);
    assert_null(hd_curve_allow_load(empty, "curve.allowed_clients", err, sizeof err));
    assert_has(err, "lists no key");
}

static void test_settings(void **state)
{
    (void)state;
    char err[512], pub[HD_CURVE_KEY_LEN + 1], store[HD_CURVE_KEY_LEN + 1], p[256];
    hd_config *cfg = hd_config_load(NULL, err, sizeof err);
    assert_non_null(cfg);
    bool on = true;
    assert_int_equal(hd_curve_enabled(cfg, &on, err, sizeof err), 0);
    assert_false(on); /* off by default */
    hd_curve_opts o;
    assert_int_equal(hd_curve_client_config(cfg, "store", &o, err, sizeof err), 0);
    assert_false(o.enabled);

    setenv("HD_CURVE_ENABLED", "maybe", 1);
    assert_int_equal(hd_curve_enabled(cfg, &on, err, sizeof err), -1);
    assert_has(err, "curve.enabled: \"maybe\"");
    setenv("HD_CURVE_ENABLED", "Yes", 1);
    assert_int_equal(hd_curve_enabled(cfg, &on, err, sizeof err), 0);
    assert_true(on);

    assert_int_equal(hd_curve_client_config(cfg, "store", &o, err, sizeof err), -1);
    assert_has(err, "curve.client_secret_key_file: not set");
    keygen("me", pub);
    keygen("store", store);
    path_of(p, sizeof p, "me.key");
    setenv("HD_CURVE_CLIENT_SECRET_KEY_FILE", p, 1);
    assert_int_equal(hd_curve_client_config(cfg, "store", &o, err, sizeof err), -1);
    assert_has(err, "curve.store_public_key_file: not set");
    path_of(p, sizeof p, "store.pub");
    setenv("HD_CURVE_STORE_PUBLIC_KEY_FILE", p, 1);
    assert_int_equal(hd_curve_client_config(cfg, "store", &o, err, sizeof err), 0);
    assert_true(o.enabled);
    assert_false(o.server);
    assert_string_equal(o.public_key, pub);
    assert_string_equal(o.server_key, store);
    assert_int_equal(hd_curve_client_config(cfg, "intake", &o, err, sizeof err), -1);
    assert_has(err, "curve.intake_public_key_file: not set");

    /* A server without its key, then without an allow list. */
    void *ctx = zmq_ctx_new();
    hd_zap *zap = NULL;
    assert_int_equal(hd_curve_server_start(cfg, "store", ctx, &o, &zap, err, sizeof err), -1);
    assert_has(err, "curve.store_secret_key_file: not set");
    path_of(p, sizeof p, "store.key");
    setenv("HD_CURVE_STORE_SECRET_KEY_FILE", p, 1);
    assert_int_equal(hd_curve_server_start(cfg, "store", ctx, &o, &zap, err, sizeof err), -1);
    assert_has(err, "curve.allowed_clients: not set");
    assert_null(zap);
    zmq_ctx_term(ctx);
    hd_config_destroy(&cfg);
}

/* ---- the ZAP handler over loopback ---- */

/* A client of the server at `ep`: curve with key pair `name`, or plain when name is NULL. */
static void *client(void *ctx, const char *ep, const char *name, const char *server_pub)
{
    hd_curve_opts o = {0};
    if (name) {
        char p[256], err[512];
        path_of(p, sizeof p, name);
        assert_int_equal(hd_curve_key_load(p, "k", o.secret_key, err, sizeof err), 0);
        assert_int_equal(zmq_curve_public(o.public_key, o.secret_key), 0);
        snprintf(o.server_key, sizeof o.server_key, "%s", server_pub);
        o.enabled = true;
    }
    void *s = hd_socket_open(ctx, ZMQ_DEALER, ep, false, &o);
    assert_non_null(s);
    assert_int_equal(zmq_send(s, name ? name : "plain", name ? strlen(name) : 5, 0),
                     (int)(name ? strlen(name) : 5));
    return s;
}

/* The frames that reach the ROUTER within ms: their bodies joined by ','. */
static void collect(void *router, int ms, char *out, size_t cap)
{
    out[0] = '\0';
    int64_t end = hd_mono_ms() + ms;
    for (int64_t left; (left = end - hd_mono_ms()) > 0;) {
        zmq_pollitem_t it = {.socket = router, .events = ZMQ_POLLIN};
        if (zmq_poll(&it, 1, (long)left) <= 0)
            continue;
        char id[256], body[64];
        assert_true(zmq_recv(router, id, sizeof id, 0) >= 0);
        int n = zmq_recv(router, body, sizeof body - 1, 0);
        assert_true(n >= 0);
        body[n] = '\0';
        size_t used = strlen(out);
        snprintf(out + used, cap - used, "%s%s", used ? "," : "", body);
    }
}

static void test_zap_admits_only_listed_keys(void **state)
{
    (void)state;
    char srv[HD_CURVE_KEY_LEN + 1], good[HD_CURVE_KEY_LEN + 1], bad[HD_CURVE_KEY_LEN + 1];
    char p[256], allow[256], err[512];
    keygen("server", srv);
    keygen("good", good);
    keygen("bad", bad);
    path_of(allow, sizeof allow, "allowed.txt");
    char text[128];
    snprintf(text, sizeof text, "%s\n", good);
    write_text("allowed.txt", text);
    path_of(p, sizeof p, "server.key");
    setenv("HD_CURVE_ENABLED", "true", 1);
    setenv("HD_CURVE_STORE_SECRET_KEY_FILE", p, 1);
    setenv("HD_CURVE_ALLOWED_CLIENTS", allow, 1);
    hd_config *cfg = hd_config_load(NULL, err, sizeof err);

    /* The refusal lines go to stderr: catch them in a file. */
    char logp[256];
    path_of(logp, sizeof logp, "stderr.log");
    fflush(stderr);
    int saved = dup(2), fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);

    void *sctx = zmq_ctx_new(), *cctx = zmq_ctx_new();
    hd_curve_opts o;
    hd_zap *zap = NULL;
    assert_int_equal(hd_curve_server_start(cfg, "store", sctx, &o, &zap, err, sizeof err), 0);
    assert_non_null(zap);
    assert_true(o.server);
    assert_string_equal(o.public_key, srv);
    void *router = hd_curve_bind(sctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", &o, "unit");
    assert_non_null(router);
    char ep[128];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);

    /* Three attempts with the bad key (libzmq gives up a socket whose handshake failed). */
    void *c_bad = client(cctx, ep, "bad.key", srv);
    void *c_bad2 = client(cctx, ep, "bad.key", srv);
    void *c_bad3 = client(cctx, ep, "bad.key", srv);
    void *c_plain = client(cctx, ep, NULL, srv);
    void *c_good = client(cctx, ep, "good.key", srv);
    char got[256];
    collect(router, 1500, got, sizeof got);

    hd_socket_close(&c_bad);
    hd_socket_close(&c_bad2);
    hd_socket_close(&c_bad3);
    hd_socket_close(&c_plain);
    hd_socket_close(&c_good);
    hd_socket_close(&router);
    hd_zap_stop(&zap);
    hd_zap_stop(&zap);
    zmq_ctx_term(sctx);
    zmq_ctx_term(cctx);
    hd_config_destroy(&cfg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);

    assert_string_equal(got, "good.key"); /* the others never got through */
    char *log = NULL;
    FILE *f = fopen(logp, "r");
    assert_non_null(f);
    log = calloc(1, 65536);
    assert_non_null(log);
    size_t n = fread(log, 1, 65535, f);
    fclose(f);
    log[n] = '\0';
    char want[128];
    snprintf(want, sizeof want, "socket=unit peer=127.0.0.1 mechanism=CURVE client_key=%s", bad);
    assert_has(log, "event=curve_refused");
    assert_has(log, want);
    /* Retries of the same key on the same socket within 10 s are held back: one line. */
    const char *first = strstr(log, want);
    assert_null(strstr(first + 1, want));
    assert_null(strstr(log, good));
    /* The plain client never reached ZAP; its failed handshake is logged all the same (as a
     * mechanism mismatch, or as the client hanging up first: which one is a race). */
    if (strstr(log, "socket=unit peer=127.0.0.1 mechanism=not_curve reason=\"the client does "
                    "not use CurveZMQ\"") == NULL)
        assert_has(log, "socket=unit peer=127.0.0.1 mechanism=unknown reason=\"the client hung "
                        "up in the handshake: ");
    free(log);
}

/* Frames reaching the ROUTER until one says `want` or ms pass: true when it came. */
static bool arrives(void *router, int ms, const char *want)
{
    char got[256] = "";
    int64_t end = hd_mono_ms() + ms;
    while (strstr(got, want) == NULL && hd_mono_ms() < end)
        collect(router, 50, got + strlen(got), sizeof got - strlen(got));
    return strstr(got, want) != NULL;
}

static void allow_only(const char *a, const char *b)
{
    char text[128];
    snprintf(text, sizeof text, "%s\n%s%s", a, b ? b : "", b ? "\n" : "");
    write_text("allowed.txt", text);
}

/* SIGHUP's reload: a key added to the list gets in from its next handshake on; a list that does
 * not load is refused and the old one stays; a key taken off is refused again. */
static void test_zap_reload(void **state)
{
    (void)state;
    char srv[HD_CURVE_KEY_LEN + 1], good[HD_CURVE_KEY_LEN + 1], late[HD_CURVE_KEY_LEN + 1];
    char p[256], allow[256], err[512];
    keygen("server", srv);
    keygen("good", good);
    keygen("late", late);
    allow_only(good, NULL);
    path_of(allow, sizeof allow, "allowed.txt");
    path_of(p, sizeof p, "server.key");
    setenv("HD_CURVE_ENABLED", "true", 1);
    setenv("HD_CURVE_STORE_SECRET_KEY_FILE", p, 1);
    setenv("HD_CURVE_ALLOWED_CLIENTS", allow, 1);
    hd_config *cfg = hd_config_load(NULL, err, sizeof err);
    void *sctx = zmq_ctx_new(), *cctx = zmq_ctx_new();
    hd_curve_opts o;
    hd_zap *zap = NULL;
    assert_int_equal(hd_curve_server_start(cfg, "store", sctx, &o, &zap, err, sizeof err), 0);
    void *router = hd_curve_bind(sctx, ZMQ_ROUTER, "tcp://127.0.0.1:*", &o, "unit");
    assert_non_null(router);
    char ep[128];
    size_t eplen = sizeof ep;
    assert_int_equal(zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, ep, &eplen), 0);

    void *c[5];
    c[0] = client(cctx, ep, "late.key", srv);
    assert_false(arrives(router, 800, "late.key"));
    allow_only(good, late);
    assert_int_equal(hd_zap_reload(zap, err, sizeof err), 0);
    c[1] = client(cctx, ep, "late.key", srv);
    assert_true(arrives(router, 5000, "late.key"));

    write_text("allowed.txt", "nonsense\n");
    assert_int_equal(hd_zap_reload(zap, err, sizeof err), -1);
    assert_has(err, "curve.allowed_clients: ");
    c[2] = client(cctx, ep, "late.key", srv); /* the list before the broken one still holds */
    assert_true(arrives(router, 5000, "late.key"));

    allow_only(good, NULL);
    assert_int_equal(hd_zap_reload(zap, err, sizeof err), 0);
    c[3] = client(cctx, ep, "late.key", srv);
    c[4] = client(cctx, ep, "good.key", srv);
    assert_true(arrives(router, 5000, "good.key"));
    assert_false(arrives(router, 800, "late.key"));

    for (int i = 0; i < 5; i++)
        hd_socket_close(&c[i]);
    hd_socket_close(&router);
    hd_zap_stop(&zap);
    assert_int_equal(hd_zap_reload(NULL, err, sizeof err), 0); /* curve off: nothing to do */
    zmq_ctx_term(sctx);
    zmq_ctx_term(cctx);
    hd_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_keygen_files_and_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_file_errors_name_the_setting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allow_list_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zap_admits_only_listed_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zap_reload, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
