"""tcp:// and unix:// targets against real sockets: a listener that comes
late, IPv6, a name that must be resolved, unix sockets that appear late or
are stale, and ports nobody listens on (which must never look ready)."""

import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (HeedTestCase, ephemeral_free_ports, finish, free_port,  # noqa: E402
                     ipv6_loopback, listener, run_heed, scaled, still_running)


class Tcp(HeedTestCase):
    def test_listener_that_opens_late(self):
        port = free_port()
        url = "tcp://127.0.0.1:%d" % port
        proc = self.reg.spawn_heed(["wait", "-t", "20", url])
        self.assertTrue(still_running(proc, 0.5), "heed returned before anything listened")
        listener(self.reg, port)
        opened = time.monotonic()
        rc, out, err = finish(proc, 10)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - opened, scaled(0.5))
        self.assertEqual(out, "")
        self.assertGreater(self.assertReadyLine(err, url), 1)

    def test_listener_on_a_port_in_use_by_nobody_else(self):
        """The probe really connects: the listener's accept queue holds it."""
        port = free_port()
        sock = listener(self.reg, port)
        rc, _, err = run_heed(["wait", "-t", "5", "tcp://127.0.0.1:%d" % port])
        self.assertEqual(rc, 0, err)
        sock.settimeout(scaled(2))
        conn, peer = sock.accept()
        conn.close()
        self.assertEqual(peer[0], "127.0.0.1")

    def _close_seen_by_server(self, query):
        """How the server's side of a ready probe's connection ends: "eof"
        (FIN) or "reset" (RST)."""
        port = free_port()
        sock = listener(self.reg, port)
        rc, _, err = run_heed(["wait", "-t", "5", "tcp://127.0.0.1:%d%s" % (port, query)])
        self.assertEqual(rc, 0, err)
        sock.settimeout(scaled(2))
        conn, _ = sock.accept()
        conn.settimeout(scaled(2))
        try:
            data = conn.recv(16)
            return "eof" if data == b"" else "data %r" % data
        except ConnectionResetError:
            return "reset"
        finally:
            conn.close()

    def test_close_is_a_reset_by_default(self):
        """A connect-only check closes with RST, as HAProxy's checks do, so
        it leaves no TIME_WAIT behind; ?close=graceful sends a FIN."""
        self.assertEqual(self._close_seen_by_server(""), "reset")
        self.assertEqual(self._close_seen_by_server("?close=reset"), "reset")
        self.assertEqual(self._close_seen_by_server("?close=graceful"), "eof")

    def test_close_query_is_checked(self):
        rc, _, err = run_heed(["wait", "-t", "1", "tcp://127.0.0.1:1?close=never"])
        self.assertEqual(rc, 2, err)
        self.assertIn("tcp close 'never' is not reset or graceful", err)

    def test_ipv6_literal(self):
        if not ipv6_loopback():
            self.skipTest("::1 is not available")
        port = free_port(ipv6=True)
        url = "tcp://[::1]:%d" % port
        listener(self.reg, port, host="::1")
        rc, out, err = run_heed(["wait", "-t", "5", url])
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)

    def test_ipv6_is_not_ipv4(self):
        """A listener on 127.0.0.1 does not make [::1] ready."""
        if not ipv6_loopback():
            self.skipTest("::1 is not available")
        port = free_port(ipv6=True)
        listener(self.reg, port, host="127.0.0.1")
        url = "tcp://[::1]:%d" % port
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "connection refused")

    def test_localhost_is_resolved(self):
        port = free_port(ipv6=ipv6_loopback())
        url = "tcp://localhost:%d" % port
        proc = self.reg.spawn_heed(["wait", "-t", "20", url])
        self.assertTrue(still_running(proc, 0.3))
        listener(self.reg, port, host="127.0.0.1")
        rc, out, err = finish(proc, 10)
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)

    def test_port_nobody_listens_on_is_never_ready(self):
        """Ports inside the ephemeral range, probed fast and in parallel: a
        connect that meets itself (source port == destination port) is not a
        server. Before the fix in conn.c a few of 200 came out "ready"."""
        ports = ephemeral_free_ports(200)
        rc, out, err = run_heed(["wait", "--json", "-t", "1.5", "--interval", "1ms",
                                 "--max-interval", "1ms"]
                                + ["tcp://127.0.0.1:%d" % p for p in ports], timeout=30)
        self.assertEqual(rc, 124, err)
        objs = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(objs), len(ports))
        ready = [o["target"] for o in objs if o["ready"]]
        self.assertEqual(ready, [], "ready although nobody listens")
        self.assertEqual({o["reason"] for o in objs}, {"connect_refused"})


class Unix(HeedTestCase):
    def test_socket_that_appears_late(self):
        d = self.reg.tempdir()
        path = os.path.join(d, "app.sock")
        url = "unix://" + path
        proc = self.reg.spawn_heed(["wait", "-t", "20", url])
        self.assertTrue(still_running(proc, 0.4), "heed returned before the socket existed")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.reg.callback("unix listener", s.close)
        s.bind(path)
        s.listen(8)
        opened = time.monotonic()
        rc, out, err = finish(proc, 10)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - opened, scaled(0.5))
        self.assertGreater(self.assertReadyLine(err, url), 1)

    def test_missing_socket(self):
        d = self.reg.tempdir()
        url = "unix://" + os.path.join(d, "none.sock")
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "socket does not exist")

    def test_stale_socket_file_is_not_ready(self):
        """The file of a server that died: it exists, nobody listens."""
        d = self.reg.tempdir()
        path = os.path.join(d, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)
        s.listen(1)
        s.close()
        self.assertTrue(os.path.exists(path))
        url = "unix://" + path
        rc, out, err = run_heed(["wait", "-t", "0.5", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "connection refused")
        # ... and it becomes ready once a server takes the path over.
        os.unlink(path)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.reg.callback("unix listener", s.close)
        s.bind(path)
        s.listen(8)
        rc, out, err = run_heed(["wait", "-t", "5", url])
        self.assertEqual(rc, 0, err)

    def test_regular_file_is_not_a_socket(self):
        d = self.reg.tempdir()
        path = os.path.join(d, "plain")
        with open(path, "w") as f:
            f.write("not a socket")
        url = "unix://" + path
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "connection refused")


if __name__ == "__main__":
    harness.main()
