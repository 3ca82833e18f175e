"""The static heed (`make static`) as a container would run it: alone in a
bare chroot, no /etc, no /dev, no shared library, no dynamic loader. Targets
are IP literals, and localhost, which heed answers itself when no
/etc/hosts knows it (RFC 6761). Servers are real and started here on free
loopback ports: a listener, redis-server, a TLS server with a certificate
made by the openssl command, an HTTP server (Python's http.server) for the
static build's own HTTP/1.1 client.

The binary is $HEED_STATIC_BIN (`make test` builds it and sets it), else
build-static/heed next to this tree; without one, or without root (chroot
needs it), the tests are skipped."""

import base64
import http.server
import json
import os
import re
import shutil
import ssl
import struct
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HeedTestCase, Registry, TcpServer, free_port, ipv6_loopback,  # noqa: E402
                     listener, run)
from pki import OPENSSL, Certs  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATIC = os.environ.get("HEED_STATIC_BIN") or os.path.join(ROOT, "build-static", "heed")
REDIS = shutil.which("redis-server")
CHROOT = shutil.which("chroot") or "/usr/sbin/chroot"
PT_INTERP, PT_DYNAMIC = 3, 2


class HttpApp:
    """An HTTP server on 127.0.0.1 (Python's http.server) with a few
    routes; records each request's path and headers."""

    def __init__(self, reg):
        app = self
        self.requests = []
        self.warming = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                app.requests.append((self.path, dict(self.headers)))
                if self.path == "/legacy":  # HTTP/1.0, the body ends with the close
                    self.protocol_version = "HTTP/1.0"
                    self.send_response(200)
                    self.end_headers()
                    self.wfile.write(b"x" * 3000 + b" status: ok\n")
                    self.close_connection = True
                    return
                if self.path == "/chunked":
                    self.send_response(200)
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for part in (b"sta", b"tus: o", b"k\n"):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                status, headers, body = 200, {}, b"all ok\n"
                if self.path == "/warming":
                    app.warming += 1
                    if app.warming < 3:
                        status, body = 503, b"warming up\n"
                elif self.path == "/moved":
                    status, headers = 301, {"Location": "/health"}
                elif self.path == "/private":
                    want = "Basic " + base64.b64encode(b"ann:s3cret").decode()
                    if self.headers.get("Authorization") != want:
                        status = 401
                elif self.path != "/health":
                    status = 404
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
                pass  # heed hangs up once it has its verdict, before a body ends

        srv = Server(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                             daemon=True)
        t.start()

        def stop():
            srv.shutdown()
            srv.server_close()
            t.join(10)

        reg.callback("http server", stop)
        self.port = srv.server_address[1]


def program_headers(path):
    """The p_type of each program header of a 64-bit little-endian ELF."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            raise ValueError("%s: not a 64-bit little-endian ELF file" % path)
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        types = []
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            types.append(struct.unpack("<I", f.read(4))[0])
        return types


@unittest.skipIf(not os.path.isfile(STATIC), "no static heed (make static builds it): " + STATIC)
@unittest.skipIf(os.geteuid() != 0, "chroot needs root")
class StaticChrootTests(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.class_reg = Registry()
        cls.jail = cls.class_reg.tempdir(prefix="heed-chroot-")
        shutil.copy2(STATIC, os.path.join(cls.jail, "heed"))

    @classmethod
    def tearDownClass(cls):
        cls.class_reg.close()

    def tearDown(self):
        # Nothing was written into the chroot: it still holds only heed.
        self.assertEqual(os.listdir(self.jail), ["heed"])

    def wait(self, *args, timeout=30):
        """`heed wait ARGS` inside the chroot: (rc, stdout, stderr, seconds)."""
        start = time.monotonic()
        p = run([CHROOT, self.jail, "/heed", "wait"] + list(args), timeout=timeout,
                env={"PATH": "/"})
        return p.returncode, p.stdout, p.stderr, time.monotonic() - start

    def test_binary_is_static(self):
        types = program_headers(STATIC)
        self.assertNotIn(PT_INTERP, types, "the binary names a dynamic loader")
        self.assertNotIn(PT_DYNAMIC, types, "the binary has a dynamic section")

    def test_tcp_ip_literals(self):
        port = free_port()
        listener(self.reg, port)
        rc, out, err, _ = self.wait("-t", "10s", "tcp://127.0.0.1:%d" % port)
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, "tcp://127.0.0.1:%d" % port)
        if ipv6_loopback():
            port6 = free_port(ipv6=True)
            listener(self.reg, port6, host="::1")
            url = "tcp://[::1]:%d" % port6
            rc, out, err, _ = self.wait("-t", "10s", url)
            self.assertEqual(rc, 0, err)
            self.assertReadyLine(err, url)

    def test_refused_then_timeout(self):
        url = "tcp://127.0.0.1:%d" % free_port()
        rc, out, err, _ = self.wait("-t", "0.3s", url)
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "connection refused")

    def test_localhost_without_etc_hosts(self):
        port = free_port()
        listener(self.reg, port)
        for url in ("tcp://localhost:%d" % port, "tcp://db.localhost:%d" % port):
            with self.subTest(url=url):
                rc, out, err, _ = self.wait("-t", "10s", "--json", url)
                self.assertEqual(rc, 0, err)
                r = json.loads(out)
                self.assertEqual((r["target"], r["ready"], r["reason"]), (url, True, "ok"))

    def test_exec_and_file_without_dev(self):
        # exec: heed runs itself; there is no /dev/null to give it as stdin.
        port = free_port()
        listener(self.reg, port)
        url = "exec:/heed wait -q -t 5s tcp://127.0.0.1:%d" % port
        rc, out, err, _ = self.wait("-t", "10s", url, "file:///heed")
        self.assertEqual(rc, 0, err)
        lines = err.splitlines(keepends=True)
        self.assertEqual(len(lines), 2, err)
        self.assertReadyLine([x for x in lines if "exec:" in x][0], url)
        self.assertReadyLine([x for x in lines if "file:" in x][0], "file:///heed")

    def test_https_is_not_in_this_build(self):
        port = free_port()
        listener(self.reg, port)  # a server is there: the refusal is the build's, not the net's
        url = "https://127.0.0.1:%d/" % port
        rc, out, err, took = self.wait("-t", "30s", url)
        self.assertEqual(rc, 2, err)
        self.assertIn("%s: https:// targets are not in this build" % url, err)
        self.assertIn("no libcurl", err)
        self.assertLess(took, 10, "refused at once, not after retries")

    def test_http_of_its_own(self):
        app = HttpApp(self.reg)
        base = "http://127.0.0.1:%d" % app.port
        rc, out, err, _ = self.wait("-t", "20s", "--body-contains", "all ok", base + "/health")
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, base + "/health")
        path, headers = app.requests[-1]
        self.assertEqual(path, "/health")
        self.assertEqual(headers["Host"], "127.0.0.1:%d" % app.port)
        self.assertRegex(headers["User-Agent"], r"^heed/\d")
        # 503 until the third request: retried until ready.
        rc, out, err, _ = self.wait("-t", "20s", base + "/warming")
        self.assertEqual(rc, 0, err)
        self.assertGreaterEqual(self.assertReadyLine(err, base + "/warming"), 3)
        # Chunked, and delimited by the close (HTTP/1.0).
        for path in ("/chunked", "/legacy"):
            with self.subTest(path=path):
                rc, out, err, _ = self.wait("-t", "20s", "--json", "--body-contains", "status: ok",
                                            base + path)
                self.assertEqual(rc, 0, err)
                self.assertEqual(json.loads(out)["reason"], "ok")
        # Basic authentication from the URL; the password is never shown.
        url = "http://ann:s3cret@127.0.0.1:%d/private" % app.port
        rc, out, err, _ = self.wait("-t", "20s", url)
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, "http://ann:***@127.0.0.1:%d/private" % app.port)
        self.assertNotIn("s3cret", err)

    def test_http_not_ready(self):
        app = HttpApp(self.reg)
        base = "http://127.0.0.1:%d" % app.port
        cases = [(["--body-contains", "nope"], "/health", r"HTTP 200, body lacks 'nope'"),
                 ([], "/moved", r"HTTP 301 \(redirects are not followed unless asked\)"),
                 ([], "/private", r"HTTP 401")]
        for flags, path, message in cases:
            with self.subTest(path=path):
                rc, out, err, _ = self.wait("-t", "0.5s", *(flags + [base + path]))
                self.assertEqual(rc, 124, err)
                self.assertTimeoutLine(err, base + path, message)

    @unittest.skipIf(not REDIS, "redis-server not installed")
    def test_redis(self):
        port = free_port()
        d = self.reg.tempdir(prefix="heed-redis-")
        self.reg.popen([REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--dir", d, "--requirepass", "secret"])
        rc, out, err, _ = self.wait("-t", "20s", "redis://:secret@127.0.0.1:%d" % port)
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, "redis://:***@127.0.0.1:%d" % port)
        self.assertNotIn("secret", err)

    @unittest.skipIf(not OPENSSL, "openssl command not installed")
    def test_tls_with_linked_openssl(self):
        certs = Certs(self.reg)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*certs.leaf)

        def handle(conn):
            try:
                t = ctx.wrap_socket(conn, server_side=True)
                t.recv(1)
                t.close()
            except (ssl.SSLError, OSError):
                pass

        server = TcpServer(self.reg, handle)
        url = "tls://127.0.0.1:%d" % server.port
        # No CA store in the chroot: verification fails, and says why.
        rc, out, err, _ = self.wait("-t", "0.5s", "--json", url)
        self.assertEqual(rc, 124, err)
        r = json.loads(out)
        self.assertFalse(r["ready"])
        self.assertIn("certificate", r["last_error"])
        rc, out, err, _ = self.wait("-t", "10s", "--insecure", url)
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)


@unittest.skipIf(not os.path.isfile(STATIC), "no static heed (make static builds it): " + STATIC)
class StaticAgentConfigTests(HeedTestCase):
    def test_https_check_is_refused_by_name(self):
        d = self.reg.tempdir()
        path = os.path.join(d, "heed.yaml")
        with open(path, "w") as f:
            f.write("data_dir: %s/data\nchecks:\n"
                    "  - {id: web, name: web, target: \"https://127.0.0.1:8443/\", interval: 5s}\n"
                    "  - {id: app, name: app, target: \"http://127.0.0.1:8080/\", interval: 5s}\n"
                    % d)
        p = run([STATIC, "agent", "-c", path, "--validate"], timeout=30)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertRegex(p.stderr, r"^%s:3:\d+: checks\[0\]\.target: https:// targets are not in "
                         r"this build: the static heed has no libcurl" % re.escape(path))
        self.assertNotIn("checks[1]", p.stderr)  # http:// is spoken by the static heed
        self.assertFalse(os.path.exists(os.path.join(d, "data")))


if __name__ == "__main__":
    import harness
    harness.main()
