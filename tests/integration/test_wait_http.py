"""http:// and https:// targets against a real HTTP server in the test
process (http.server in a thread): a service that answers 503 while it
warms up, --status, --body-contains, redirects and --follow, TLS with a
self-signed certificate made by the openssl CLI, and servers that do not
speak HTTP."""

import http.server
import json
import os
import shutil
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, TcpServer, finish, run, run_heed, scaled  # noqa: E402

# How long a "not ready" check waits: the first http attempt loads libcurl
# and, for https, OpenSSL, which takes a while on a loaded machine.
SHORT = "%g" % min(scaled(1.0), 2.0)


class App:
    """What the test server answers, and what it saw."""

    def __init__(self, warmup=0):
        self.warmup = warmup  # answer 503 to this many /health requests first
        self.lock = threading.Lock()
        self.requests = []  # (path, user agent, status sent)

    def answer(self, path):
        with self.lock:
            n = sum(1 for r in self.requests if r[0] == path)
        if path == "/health":
            if n < self.warmup:
                return 503, {}, b"warming up\n"
            return 200, {}, b"OK\n"
        if path == "/ok":
            return 200, {}, b"status: OK\n"
        if path == "/starting":
            return 200, {}, b"status: starting\n"
        if path == "/nocontent":
            return 204, {}, b""
        if path == "/moved":
            return 302, {"Location": "/ok"}, b""
        return 404, {}, b"not found\n"


def serve(reg, app, tls=None):
    """Runs a ThreadingHTTPServer for app on 127.0.0.1; returns its port."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            status, headers, body = app.answer(self.path)
            with app.lock:
                app.requests.append((self.path, self.headers.get("User-Agent"), status))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a client that gave up on TLS is expected here

    srv = Server(("127.0.0.1", 0), Handler)
    if tls:
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()

    def stop():
        srv.shutdown()
        srv.server_close()
        t.join(10)

    reg.callback("http server", stop)
    return srv.server_address[1]


class Http(HeedTestCase):
    def test_ready_only_after_the_503s_end(self):
        app = App(warmup=3)
        port = serve(self.reg, app)
        url = "http://127.0.0.1:%d/health" % port
        rc, out, err = run_heed(["wait", "-t", "20", url])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.assertReadyLine(err, url), 4)
        self.assertEqual([r[2] for r in app.requests], [503, 503, 503, 200])
        self.assertTrue(all(r[1].startswith("heed/") for r in app.requests), app.requests)

    def test_each_target_not_ready_gets_its_line(self):
        app = App(warmup=10**9)
        port = serve(self.reg, app)
        base = "http://127.0.0.1:%d" % port
        urls = [base + "/health", base + "/nothing-here", base + "/moved"]
        rc, out, err = run_heed(["wait", "-t", SHORT] + urls)
        self.assertEqual(rc, 124, err)
        self.assertEqual(len(err.splitlines()), 3, err)
        attempts, _ = self.assertTimeoutLine(err, urls[0], "HTTP 503")
        self.assertTimeoutLine(err, urls[1], "HTTP 404")
        self.assertTimeoutLine(err, urls[2],
                               r"HTTP 302 \(redirects are not followed unless asked\)")
        # The attempt in flight at the deadline may or may not have reached
        # the server, and may or may not be counted.
        n503 = sum(1 for r in app.requests if r[0] == "/health")
        self.assertLessEqual(abs(attempts - n503), 1, (attempts, n503))
        self.assertGreater(attempts, 1)
        self.assertNotIn("/ok", [r[0] for r in app.requests], "a redirect was followed")

    def test_status_list(self):
        port = serve(self.reg, App())
        ok = "http://127.0.0.1:%d/ok" % port
        nocontent = "http://127.0.0.1:%d/nocontent" % port
        (rc1, _, err1), (rc2, _, err2), (rc3, _, err3) = self.run_heeds(
            ["wait", "-t", SHORT, "--status", "204", ok],
            ["wait", "-t", "5", "--status", "204", nocontent],
            ["wait", "-t", "5", "--status=200,204", ok, nocontent])
        self.assertEqual(rc1, 124, err1)
        self.assertTimeoutLine(err1, ok, "HTTP 200")
        self.assertEqual(rc2, 0, err2)
        self.assertReadyLine(err2, nocontent)
        self.assertEqual(rc3, 0, err3)

    def test_body_contains(self):
        port = serve(self.reg, App())
        ok = "http://127.0.0.1:%d/ok" % port
        starting = "http://127.0.0.1:%d/starting" % port
        (rc1, _, err1), (rc2, _, err2) = self.run_heeds(
            ["wait", "-t", "5", "--body-contains", "OK", ok],
            ["wait", "-t", SHORT, "--body-contains", "OK", starting])
        self.assertEqual(rc1, 0, err1)
        self.assertReadyLine(err1, ok)
        self.assertEqual(rc2, 124, err2)
        self.assertTimeoutLine(err2, starting, "HTTP 200, body lacks 'OK'")

    def test_redirect_followed_when_asked(self):
        app = App()
        port = serve(self.reg, app)
        url = "http://127.0.0.1:%d/moved" % port
        rc, out, err = run_heed(["wait", "-t", "5", "--follow", url])
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)
        self.assertEqual([r[0] for r in app.requests], ["/moved", "/ok"])


class Https(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("no openssl CLI")
        reg = harness.Registry()
        cls.addClassCleanup(reg.close)
        d = reg.tempdir()
        cls.cert, cls.key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-days", "1", "-keyout", cls.key, "-out", cls.cert], timeout=60, check=True)

    def setUp(self):
        super().setUp()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.app = App()
        self.port = serve(self.reg, self.app, tls=ctx)

    def test_self_signed_certificate_fails_verification(self):
        url = "https://localhost:%d/ok" % self.port
        (rc, out, err), (jrc, jout, _) = self.run_heeds(["wait", "-t", SHORT, url],
                                                        ["wait", "-t", SHORT, "--json", url])
        self.assertEqual((rc, jrc), (124, 124), err)
        self.assertTimeoutLine(err, url, r"SSL certificate problem: self[- ]signed certificate")
        self.assertEqual(json.loads(jout)["reason"], "tls_fail")
        self.assertEqual(self.app.requests, [], "a request got through unverified TLS")

    def test_insecure_accepts_it(self):
        url = "https://127.0.0.1:%d/ok" % self.port
        for flag in ("--insecure", "-k"):
            with self.subTest(flag=flag):
                rc, out, err = run_heed(["wait", "-t", "5", flag, url])
                self.assertEqual(rc, 0, err)
                self.assertReadyLine(err, url)
        self.assertEqual([r[2] for r in self.app.requests], [200, 200])

    def test_plain_http_to_a_tls_port_is_not_ready(self):
        url = "http://127.0.0.1:%d/ok" % self.port
        rc, out, err = run_heed(["wait", "-t", SHORT, url])
        self.assertEqual(rc, 124, err)
        self.assertIn(url + ": ", err)


class NotHttp(HeedTestCase):
    def test_servers_that_do_not_speak_http(self):
        def garbage(conn):
            conn.recv(4096)
            conn.sendall(b"\x00\x01garbage, not HTTP\r\n\r\n")

        servers = [TcpServer(self.reg, garbage),
                   TcpServer(self.reg, lambda conn: conn.recv(4096)),  # reads, then closes
                   TcpServer(self.reg, lambda conn: None)]  # closes at once
        urls = ["http://127.0.0.1:%d/" % srv.port for srv in servers]
        (rc, out, err), (jrc, jout, _) = self.run_heeds(["wait", "-t", SHORT] + urls,
                                                        ["wait", "-t", SHORT, "--json"] + urls)
        self.assertEqual((rc, jrc), (124, 124), err)
        objs = [json.loads(line) for line in jout.splitlines()]
        self.assertEqual([o["target"] for o in objs], urls)

        self.assertTimeoutLine(err, urls[0], "Received HTTP/0.9 when not allowed")
        self.assertEqual(objs[0]["reason"], "bad_reply")
        self.assertGreater(servers[0].connections, 1)

        self.assertTimeoutLine(err, urls[1], "Empty reply from server")
        self.assertEqual(objs[1]["reason"], "closed")

        # Closing with the request unread resets the connection, unless the
        # close came first.
        self.assertTimeoutLine(err, urls[2], "(Empty reply from server|"
                               "Recv failure: Connection reset by peer|"
                               "Send failure: (Connection reset by peer|Broken pipe))")
        self.assertEqual(objs[2]["reason"], "closed")

    def test_server_that_never_answers_hits_the_attempt_timeout(self):
        hold = threading.Event()
        srv = TcpServer(self.reg, lambda conn: hold.wait(scaled(5)))
        self.reg.callback("release the held connection", hold.set)  # runs before srv.stop
        url = "http://127.0.0.1:%d/" % srv.port
        t0 = time.monotonic()
        proc = self.reg.spawn_heed(["wait", "-t", "1", "--attempt-timeout", "200ms", url])
        rc, out, err = finish(proc, 10)
        self.assertEqual(rc, 124, err)
        self.assertLess(time.monotonic() - t0, scaled(3))
        self.assertTimeoutLine(err, url, r"Operation timed out after \d+ milliseconds.*")


if __name__ == "__main__":
    harness.main()
