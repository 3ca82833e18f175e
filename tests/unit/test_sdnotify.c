/* test_sdnotify: the notification datagrams reach a socket the test
 * listens on, at a path and at an abstract name; the watchdog's variables
 * are read as systemd sets them; bad names are refused. */
#include "util/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

/* A datagram socket bound to name (a path, or "@abstract"). */
static int listen_at(const char *name)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t len = strlen(name);
    memcpy(sa.sun_path, name, len);
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    if (name[0] == '@') {
        sa.sun_path[0] = '\0';
        sl--;
    }
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sl), 0);
    return fd;
}

static void expect_datagram(int fd, const char *want)
{
    char buf[256];
    ssize_t r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    assert_true(r >= 0);
    buf[r] = '\0';
    assert_string_equal(buf, want);
}

static void test_path_socket(void **state)
{
    (void)state;
    char dir[] = "/tmp/heed-sdnotify-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof(path), "%s/notify", dir);
    int fd = listen_at(path);
    hd_sdnotify_t n;
    assert_int_equal(hd_sdnotify_init_from(&n, path, NULL, NULL, 1), 0);
    assert_int_equal(hd_sdnotify_send(&n, "READY=1"), 1);
    assert_int_equal(hd_sdnotify_send(&n, "STOPPING=1\nSTATUS=bye"), 1);
    expect_datagram(fd, "READY=1");
    expect_datagram(fd, "STOPPING=1\nSTATUS=bye");
    assert_int_equal(n.watchdog_us, 0);
    hd_sdnotify_close(&n);
    close(fd);
    /* The listener gone: the error is told, nothing breaks. */
    unlink(path);
    assert_int_equal(hd_sdnotify_init_from(&n, path, NULL, NULL, 1), 0);
    assert_true(hd_sdnotify_send(&n, "READY=1") < 0);
    hd_sdnotify_close(&n);
    rmdir(dir);
}

static void test_abstract_socket(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof(name), "@heed-sdnotify-test-%ld", (long)getpid());
    int fd = listen_at(name);
    hd_sdnotify_t n;
    assert_int_equal(hd_sdnotify_init_from(&n, name, "2000000", NULL, 1), 0);
    assert_int_equal(hd_sdnotify_send(&n, "WATCHDOG=1"), 1);
    expect_datagram(fd, "WATCHDOG=1");
    assert_int_equal(n.watchdog_us, 2000000);
    hd_sdnotify_close(&n);
    close(fd);
}

static void test_nothing_to_notify(void **state)
{
    (void)state;
    hd_sdnotify_t n;
    assert_int_equal(hd_sdnotify_init_from(&n, NULL, "1000", NULL, 1), 0);
    assert_int_equal(n.fd, -1);
    assert_int_equal(hd_sdnotify_send(&n, "READY=1"), 0);
    assert_int_equal(hd_sdnotify_init_from(&n, "", NULL, NULL, 1), 0);
    assert_int_equal(hd_sdnotify_send(&n, "READY=1"), 0);
    /* Neither absolute nor abstract (vsock:, a relative path): refused. */
    assert_int_equal(hd_sdnotify_init_from(&n, "run/notify", NULL, NULL, 1), -EAFNOSUPPORT);
    assert_int_equal(hd_sdnotify_send(&n, "READY=1"), 0);
    char longname[200];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(hd_sdnotify_init_from(&n, longname, NULL, NULL, 1), -ENAMETOOLONG);
}

static void test_watchdog_values(void **state)
{
    (void)state;
    hd_sdnotify_t n;
    const char *sock = "@heed-sdnotify-unused";
    /* For this pid, for another, malformed, zero. */
    assert_int_equal(hd_sdnotify_init_from(&n, sock, "500000", "42", 42), 0);
    assert_int_equal(n.watchdog_us, 500000);
    hd_sdnotify_close(&n);
    assert_int_equal(hd_sdnotify_init_from(&n, sock, "500000", "43", 42), 0);
    assert_int_equal(n.watchdog_us, 0);
    hd_sdnotify_close(&n);
    assert_int_equal(hd_sdnotify_init_from(&n, sock, "5s", NULL, 42), 0);
    assert_int_equal(n.watchdog_us, 0);
    hd_sdnotify_close(&n);
    assert_int_equal(hd_sdnotify_init_from(&n, sock, "0", NULL, 42), 0);
    assert_int_equal(n.watchdog_us, 0);
    hd_sdnotify_close(&n);
}

static void test_environment_taken(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof(name), "@heed-sdnotify-env-%ld", (long)getpid());
    int fd = listen_at(name);
    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "3000000", 1);
    char pid[32];
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    hd_sdnotify_t n;
    assert_int_equal(hd_sdnotify_init(&n), 0);
    assert_int_equal(n.watchdog_us, 3000000);
    /* A child (an exec check) inherits none of them. */
    assert_null(getenv("NOTIFY_SOCKET"));
    assert_null(getenv("WATCHDOG_USEC"));
    assert_null(getenv("WATCHDOG_PID"));
    assert_int_equal(hd_sdnotify_send(&n, "READY=1"), 1);
    expect_datagram(fd, "READY=1");
    hd_sdnotify_close(&n);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_socket),       cmocka_unit_test(test_abstract_socket),
        cmocka_unit_test(test_nothing_to_notify), cmocka_unit_test(test_watchdog_values),
        cmocka_unit_test(test_environment_taken),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
