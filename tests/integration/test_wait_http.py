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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, TcpServer, finish, run, run_heed, scaled  # noqa: E402


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

    def test_503_forever_times_out_with_the_status(self):
        app = App(warmup=10**9)
        port = serve(self.reg, app)
        url = "http://127.0.0.1:%d/health" % port
        rc, out, err = run_heed(["wait", "-t", "0.5", url])
        self.assertEqual(rc, 124, err)
        attempts, _ = self.assertTimeoutLine(err, url, "HTTP 503")
        # The attempt in flight at the deadline may or may not have reached
        # the server, and may or may not be counted.
        self.assertLessEqual(abs(attempts - len(app.requests)), 1, (attempts, app.requests))
        self.assertGreater(attempts, 2)

    def test_status_list(self):
        port = serve(self.reg, App())
        ok = "http://127.0.0.1:%d/ok" % port
        rc, out, err = run_heed(["wait", "-t", "0.5", "--status", "204", ok])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, ok, "HTTP 200")
        nocontent = "http://127.0.0.1:%d/nocontent" % port
        rc, out, err = run_heed(["wait", "-t", "5", "--status", "204", nocontent])
        self.assertEqual(rc, 0, err)
        rc, out, err = run_heed(["wait", "-t", "5", "--status=200,204", ok, nocontent])
        self.assertEqual(rc, 0, err)

    def test_not_found_is_not_ready(self):
        port = serve(self.reg, App())
        url = "http://127.0.0.1:%d/nothing-here" % port
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "HTTP 404")

    def test_body_contains(self):
        port = serve(self.reg, App())
        ok = "http://127.0.0.1:%d/ok" % port
        rc, out, err = run_heed(["wait", "-t", "5", "--body-contains", "OK", ok])
        self.assertEqual(rc, 0, err)
        starting = "http://127.0.0.1:%d/starting" % port
        rc, out, err = run_heed(["wait", "-t", "0.3", "--body-contains", "OK", starting])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, starting, "HTTP 200, body lacks 'OK'")

    def test_redirect_followed_only_when_asked(self):
        app = App()
        port = serve(self.reg, app)
        url = "http://127.0.0.1:%d/moved" % port
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, r"HTTP 302 \(redirects are not followed unless asked\)")
        self.assertNotIn("/ok", [r[0] for r in app.requests])
        rc, out, err = run_heed(["wait", "-t", "5", "--follow", url])
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)
        self.assertEqual([r[0] for r in app.requests][-2:], ["/moved", "/ok"])


class Https(HeedTestCase):
    def setUp(self):
        super().setUp()
        if not shutil.which("openssl"):
            self.skipTest("no openssl CLI")
        d = self.reg.tempdir()
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
             "-days", "1", "-keyout", key, "-out", cert], timeout=60, check=True)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.app = App()
        self.port = serve(self.reg, self.app, tls=ctx)

    def test_self_signed_certificate_fails_verification(self):
        url = "https://localhost:%d/ok" % self.port
        rc, out, err = run_heed(["wait", "-t", "1", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, r"SSL certificate problem: self[- ]signed certificate")
        self.assertEqual(self.app.requests, [], "a request got through unverified TLS")
        rc, out, err = run_heed(["wait", "-t", "0.5", "--json", url])
        self.assertEqual(json.loads(out)["reason"], "tls_fail")

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
        rc, out, err = run_heed(["wait", "-t", "0.5", url])
        self.assertEqual(rc, 124, err)
        self.assertIn(url + ": ", err)


class NotHttp(HeedTestCase):
    def timeout_json(self, url):
        rc, out, err = run_heed(["wait", "-t", "0.5", url])
        self.assertEqual(rc, 124, err)
        rc, jout, _ = run_heed(["wait", "-t", "0.3", "--json", url])
        self.assertEqual(rc, 124)
        return err, json.loads(jout)

    def test_server_that_sends_garbage(self):
        def garbage(conn):
            conn.recv(4096)
            conn.sendall(b"\x00\x01garbage, not HTTP\r\n\r\n")
        srv = TcpServer(self.reg, garbage)
        url = "http://127.0.0.1:%d/" % srv.port
        err, o = self.timeout_json(url)
        self.assertTimeoutLine(err, url, "Received HTTP/0.9 when not allowed")
        self.assertEqual(o["reason"], "bad_reply")
        self.assertGreater(srv.connections, 1)

    def test_server_that_reads_the_request_and_closes(self):
        srv = TcpServer(self.reg, lambda conn: conn.recv(4096))
        url = "http://127.0.0.1:%d/" % srv.port
        err, o = self.timeout_json(url)
        self.assertTimeoutLine(err, url, "Empty reply from server")
        self.assertEqual(o["reason"], "closed")

    def test_server_that_closes_at_once(self):
        """Closing with the request unread resets the connection, unless
        the close came first."""
        srv = TcpServer(self.reg, lambda conn: None)
        url = "http://127.0.0.1:%d/" % srv.port
        err, o = self.timeout_json(url)
        self.assertTimeoutLine(err, url, "(Empty reply from server|Recv failure: Connection reset "
                               "by peer|Send failure: (Connection reset by peer|Broken pipe))")
        self.assertEqual(o["reason"], "closed")

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
