/* test_resolver — util/resolver's answers that need no name server:
 * names under localhost (RFC 6761) that no hosts file knows, as in a bare
 * chroot or a scratch image, and reverse lookups (hd_resolve_name) from the
 * system's /etc/hosts (which maps localhost to 127.0.0.1 on any Debian; c-ares
 * 1.18 reads no other file for them). The resolver's only name server is a
 * closed UDP port on 127.0.0.1, so DNS always fails at once.
 * tests/integration/test_ping_names.py covers hosts files and PTR records of
 * its own, and test_static_chroot.py localhost without any /etc/hosts. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/resolver.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct result_s {
    int done, status, naddrs;
    char addrs[HD_RESOLVE_MAX_ADDRS][INET6_ADDRSTRLEN + 8];
    char name[256];
} result_t;

/* "ADDR:PORT" or "[ADDR]:PORT". */
static void text(const struct sockaddr_storage *ss, char *out, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
        snprintf(out, len, "[%s]:%d", a, ntohs(s6->sin6_port));
    } else {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
        snprintf(out, len, "%s:%d", a, ntohs(s4->sin_port));
    }
}

static void on_addrs(int status, const struct sockaddr_storage *addrs, int naddrs, const char *msg,
                     void *arg)
{
    (void)msg;
    result_t *r = arg;
    r->done = 1;
    r->status = status;
    r->naddrs = naddrs;
    for (int i = 0; i < naddrs && i < HD_RESOLVE_MAX_ADDRS; i++)
        text(&addrs[i], r->addrs[i], sizeof(r->addrs[i]));
}

static void on_name(int status, const char *name, const char *msg, void *arg)
{
    result_t *r = arg;
    r->done = 1;
    r->status = status;
    snprintf(r->name, sizeof(r->name), "%s", status == HD_RESOLVE_OK ? name : msg);
}

typedef struct fixture_s {
    struct event_base *base;
    hd_resolver_t *r;
} fixture_t;

/* A resolver whose name server refuses. */
static fixture_t *fixture(void)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    /* A UDP port on 127.0.0.1 that was free a moment ago: closed. */
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_int_equal(bind(u, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(u, (struct sockaddr *)&sa, &sl), 0);
    close(u);
    char server[64], err[200];
    snprintf(server, sizeof(server), "127.0.0.1:%d", ntohs(sa.sin_port));
    f->base = event_base_new();
    f->r = hd_resolver_new_servers(f->base, server, err, sizeof(err));
    assert_non_null(f->r);
    return f;
}

static void fixture_free(fixture_t *f)
{
    hd_resolver_free(f->r);
    event_base_free(f->base);
    free(f);
}

static void wait_for(fixture_t *f, result_t *r)
{
    for (int i = 0; i < 1000 && !r->done; i++)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_true(r->done);
}

static result_t resolve(fixture_t *f, const char *host, int family)
{
    result_t r;
    memset(&r, 0, sizeof(r));
    hd_resolve(f->r, host, 8500, family, on_addrs, &r);
    wait_for(f, &r);
    return r;
}

static void test_localhost_subdomains_without_hosts_entry(void **state)
{
    (void)state;
    fixture_t *f = fixture();
    const char *names[] = {"db.localhost", "DB.LocalHost", "db.localhost.", "a.b.localhost"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        result_t r = resolve(f, names[i], AF_UNSPEC);
        assert_int_equal(r.status, HD_RESOLVE_OK);
        assert_int_equal(r.naddrs, 2);
        assert_string_equal(r.addrs[0], "[::1]:8500");
        assert_string_equal(r.addrs[1], "127.0.0.1:8500");
    }
    result_t r = resolve(f, "db.localhost", AF_INET);
    assert_int_equal(r.status, HD_RESOLVE_OK);
    assert_int_equal(r.naddrs, 1);
    assert_string_equal(r.addrs[0], "127.0.0.1:8500");
    r = resolve(f, "db.localhost", AF_INET6);
    assert_int_equal(r.naddrs, 1);
    assert_string_equal(r.addrs[0], "[::1]:8500");
    /* Only localhost and names under it. */
    const char *others[] = {"localhostx", "notlocalhost", "localhost.test", "xlocalhost."};
    for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
        r = resolve(f, others[i], AF_UNSPEC);
        assert_int_not_equal(r.status, HD_RESOLVE_OK);
    }
    /* localhost itself: /etc/hosts answers, a loopback address. */
    r = resolve(f, "localhost", AF_INET);
    assert_int_equal(r.status, HD_RESOLVE_OK);
    assert_int_equal(strncmp(r.addrs[0], "127.", 4), 0);
    fixture_free(f);
}

static result_t name_of(fixture_t *f, const char *addr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, addr, &s6->sin6_addr), 1);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, addr, &s4->sin_addr), 1);
    }
    result_t r;
    memset(&r, 0, sizeof(r));
    hd_resolve_name(f->r, &ss, on_name, &r);
    wait_for(f, &r);
    return r;
}

static void test_reverse_from_hosts_file(void **state)
{
    (void)state;
    fixture_t *f = fixture();
    result_t r = name_of(f, "127.0.0.1");
    assert_int_equal(r.status, HD_RESOLVE_OK);
    assert_string_equal(r.name, "localhost");
    /* In no hosts file, and DNS refuses: a failure with a reason. */
    r = name_of(f, "127.0.0.254");
    assert_int_not_equal(r.status, HD_RESOLVE_OK);
    assert_true(strlen(r.name) > 0);
    fixture_free(f);
}

static void test_cancel_reverse(void **state)
{
    (void)state;
    fixture_t *f = fixture();
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
    s4->sin_family = AF_INET;
    inet_pton(AF_INET, "127.0.0.1", &s4->sin_addr);
    result_t r;
    memset(&r, 0, sizeof(r));
    hd_resolve_req_t *q = hd_resolve_name(f->r, &ss, on_name, &r);
    hd_resolve_cancel(q);
    event_base_loop(f->base, EVLOOP_NONBLOCK);
    assert_false(r.done);
    /* An outstanding request dies with the resolver, without a callback. */
    hd_resolve_name(f->r, &ss, on_name, &r);
    fixture_free(f);
    assert_false(r.done);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_localhost_subdomains_without_hosts_entry),
        cmocka_unit_test(test_reverse_from_hosts_file),
        cmocka_unit_test(test_cancel_reverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
