"""`heed checks` and `heed status` over https://: --cacert, --cert and
--key, HEED_CACERT, HEED_CLIENT_CERT and HEED_CLIENT_KEY with Consul's
CONSUL_* names as fallbacks, CONSUL_HTTP_SSL=true, and the errors a user
sees when the agent's certificate does not verify or the agent refuses
the client's (each names the file and what failed).

The server is an HTTPS server this test starts (Python's http.server
wrapped with ssl, certificates from the openssl command, with and without
required client certificates) that answers the routes these commands use
as the agent does, and records what it was sent."""

import http.server
import json
import os
import re
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, free_port, main, run_heed, scaled  # noqa: E402
from agent_harness import client_env  # noqa: E402
from pki import OPENSSL, Certs  # noqa: E402

TOKEN = "tls-s3cret"


def now_rfc3339():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % (t % 1 * 1000)


def check(cid, target="http://127.0.0.1:8080/health"):
    """A check as GET /v1/checks/ID shows it."""
    at = now_rfc3339()
    return {"id": cid, "name": cid, "target": target, "interval": "10s", "timeout": "5s",
            "success_before_passing": 1, "failures_before_warning": 1,
            "failures_before_critical": 3, "tags": [], "expect": {}, "tenant": None,
            "service_id": None, "source": "api", "status": "passing", "output": "HTTP 200",
            "reason": "ok", "latency_ms": 0.41, "last_checked": at, "last_change": at,
            "last_success": at, "paused": False}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_one(self, method):
        srv = self.server
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        srv.requests.append((method, self.path, self.headers.get("Authorization")))
        if srv.token and self.headers.get("Authorization") != "Bearer " + srv.token:
            return self.reply(401, {"error": "this request needs a token", "code": "unauthorized"})
        path = self.path.split("?")[0]
        if method == "GET" and path == "/v1/status":
            return self.reply(200, {"node": "tls-node", "version": "0.1.0",
                                    "started": now_rfc3339(), "uptime_s": 42.0,
                                    "checks": {"passing": 1, "warning": 0, "critical": 0,
                                               "maintenance": 0},
                                    "results_total": 7})
        if method == "GET" and path == "/v1/checks":
            return self.reply(200, [check("web")])
        if method == "GET" and path == "/v1/checks/web":
            return self.reply(200, check("web"))
        if method == "POST" and path == "/v1/checks":
            d = json.loads(body)
            return self.reply(201, check(d.get("id") or d["name"], d.get("target", "")))
        if path.startswith("/v1/checks/"):
            return self.reply(404, {"error": "no check '%s'" % path[11:], "code": "not_found"})
        return self.reply(404, {"error": "no route", "code": "not_found"})

    def do_GET(self):
        self.handle_one("GET")

    def do_POST(self):
        self.handle_one("POST")


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def finish_request(self, request, client_address):
        # The handshake runs in the connection's thread, not the accept loop.
        if not self.ctx:
            return super().finish_request(request, client_address)
        request.settimeout(scaled(10))
        tls = self.ctx.wrap_socket(request, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError) as e:
            self.tls_errors.append(str(e))
            if self.graceful:  # the alert is sent: let the client read it before the end
                self.drain(tls)
            tls.close()
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    @staticmethod
    def drain(tls):
        try:
            tls.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + scaled(2)
            while time.monotonic() < deadline and tls.recv(4096):
                pass
        except OSError:
            pass


class FakeAgent:
    """An HTTPS (or, with cert_key None, plain HTTP) server on 127.0.0.1
    that answers as the agent. client_ca: require client certificates
    signed by it. A failed handshake ends with the alert and a close at
    once, as a server that frees the connection does (the client may meet
    the reset before the alert), or with graceful, after the client has
    had the time to read the alert. Stopped by the registry."""

    def __init__(self, reg, cert_key, client_ca=None, token=None, graceful=False):
        ctx = None
        if cert_key:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.load_cert_chain(*cert_key)
            if client_ca:
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(client_ca)
        self.port = free_port()
        self.httpd = _Server(("127.0.0.1", self.port), _Handler)
        self.httpd.ctx, self.httpd.token, self.httpd.graceful = ctx, token, graceful
        self.httpd.requests, self.httpd.tls_errors = [], []
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        reg.callback("fake agent on port %d" % self.port, self.stop)
        self.addr = "%s://127.0.0.1:%d" % ("https" if cert_key else "http", self.port)

    @property
    def requests(self):
        return self.httpd.requests

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def clean_env(**extra):
    return client_env(None, **extra)


@unittest.skipIf(not OPENSSL, "openssl command not installed")
class CliTls(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        from harness import Registry
        cls.class_reg = Registry()
        cls.pki = Certs(cls.class_reg)                   # the agent's CA, and its clients'
        cls.wrong = Certs(cls.class_reg, "another CA")   # one heed must not trust
        cls.alice = cls.pki.client("alice")
        cls.mallory = cls.wrong.client("mallory")

    @classmethod
    def tearDownClass(cls):
        cls.class_reg.close()

    def heed(self, args, **env):
        return run_heed(args, timeout=20, env=clean_env(**env))

    def assertUnreachable(self, res, cmd, message):
        rc, out, err = res
        self.assertEqual((rc, out), (3, ""), err)
        self.assertEqual(err, "heed %s: %s\n" % (cmd, message))
        self.assertNotIn(TOKEN, err)

    def test_https_with_the_ca_from_flags_or_environment(self):
        agent = FakeAgent(self.reg, self.pki.leaf, token=TOKEN)
        ca = self.pki.ca
        rc, out, err = self.heed(["status", "--addr", agent.addr, "--cacert", ca,
                                  "--token", TOKEN])
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("Node:     tls-node\n", out)
        self.assertIn("Agent:    %s\n" % agent.addr, out)
        self.assertEqual(agent.requests[-1], ("GET", "/v1/status", "Bearer " + TOKEN))

        rc, out, err = self.heed(["checks", "list"], HEED_HTTP_ADDR=agent.addr, HEED_CACERT=ca,
                                 HEED_TOKEN=TOKEN)
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"(?m)^web +passing ")
        # Consul's names, and CONSUL_HTTP_SSL=true for a host:port address.
        rc, out, err = self.heed(["checks", "get", "web"],
                                 CONSUL_HTTP_ADDR="127.0.0.1:%d" % agent.port,
                                 CONSUL_HTTP_SSL="true", CONSUL_CACERT=ca,
                                 CONSUL_HTTP_TOKEN=TOKEN)
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("web", out)
        rc, out, err = self.heed(["checks", "add", "--name", "db", "--target",
                                  "tcp://127.0.0.1:5432", "--addr", agent.addr, "--cacert", ca],
                                 HEED_TOKEN=TOKEN)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "added check db: tcp://127.0.0.1:5432 every 10s\n")
        self.assertEqual(agent.requests[-1], ("POST", "/v1/checks", "Bearer " + TOKEN))
        # HEED_* before CONSUL_*: a wrong CONSUL_CACERT is not used ...
        rc, out, err = self.heed(["status"], HEED_HTTP_ADDR=agent.addr, HEED_CACERT=ca,
                                 CONSUL_CACERT=self.wrong.ca, HEED_TOKEN=TOKEN)
        self.assertEqual((rc, err), (0, ""))
        # ... unless it is the only one, and then the message names it.
        res = self.heed(["status"], HEED_HTTP_ADDR=agent.addr, CONSUL_CACERT=self.wrong.ca,
                        HEED_TOKEN=TOKEN)
        self.assertUnreachable(res, "status",
                               "the agent's certificate at %s does not verify against %s (from "
                               "CONSUL_CACERT): SSL certificate problem: unable to get local "
                               "issuer certificate" % (agent.addr, self.wrong.ca))

    def test_agent_certificate_that_does_not_verify(self):
        good = FakeAgent(self.reg, self.pki.leaf)
        res = self.heed(["checks", "list", "--addr", good.addr, "--token", TOKEN])
        self.assertUnreachable(res, "checks",
                               "the agent's certificate at %s does not verify against the "
                               "system's CA certificates: SSL certificate problem: unable to get "
                               "local issuer certificate; give the agent's CA with --cacert (or "
                               "HEED_CACERT)" % good.addr)
        res = self.heed(["status", "--addr", good.addr, "--cacert", self.wrong.ca,
                         "--token", TOKEN])
        self.assertUnreachable(res, "status",
                               "the agent's certificate at %s does not verify against %s (from "
                               "--cacert): SSL certificate problem: unable to get local issuer "
                               "certificate" % (good.addr, self.wrong.ca))
        expired = FakeAgent(self.reg, self.pki.expired)
        res = self.heed(["status", "--addr", expired.addr], HEED_CACERT=self.pki.ca)
        self.assertUnreachable(res, "status",
                               "the agent's certificate at %s does not verify against %s (from "
                               "HEED_CACERT): SSL certificate problem: certificate has expired"
                               % (expired.addr, self.pki.ca))
        other = FakeAgent(self.reg, self.pki.other)
        res = self.heed(["checks", "get", "web", "--addr", other.addr, "--cacert", self.pki.ca])
        self.assertUnreachable(res, "checks",
                               "the agent's certificate at %s does not verify against %s (from "
                               "--cacert): SSL: no alternative certificate subject name matches "
                               "target host name '127.0.0.1'" % (other.addr, self.pki.ca))
        # Nothing was sent to any of them: no request, no token.
        for a in (good, expired, other):
            self.assertEqual(a.requests, [])

    def test_client_certificate_missing_or_refused(self):
        # A server that lets the client read its alert: the alert is shown.
        agent = FakeAgent(self.reg, self.pki.leaf, client_ca=self.pki.ca, token=TOKEN,
                          graceful=True)
        base = ["--addr", agent.addr, "--cacert", self.pki.ca, "--token", TOKEN]
        res = self.heed(["status"] + base)
        self.assertUnreachable(res, "status",
                               "the agent at %s requires a client certificate (tlsv13 alert "
                               "certificate required): give --cert and --key (or "
                               "HEED_CLIENT_CERT and HEED_CLIENT_KEY)" % agent.addr)
        cert, key = self.mallory
        res = self.heed(["checks", "list", "--cert", cert, "--key", key] + base)
        self.assertUnreachable(res, "checks",
                               "the agent at %s refused the client certificate %s (from --cert): "
                               "tlsv1 alert unknown ca" % (agent.addr, cert))
        self.assertEqual(agent.requests, [])
        # A server that closes at once: the client may meet the closed
        # connection before the alert; it is the same failure, said as well.
        abrupt = FakeAgent(self.reg, self.pki.leaf, client_ca=self.pki.ca)
        base = ["--addr", abrupt.addr, "--cacert", self.pki.ca]
        for _ in range(3):
            rc, out, err = self.heed(["status"] + base)
            self.assertEqual((rc, out), (3, ""))
            self.assertRegex(err, r"^heed status: the agent at %s requires a client certificate "
                                  r"\((tlsv13 alert certificate required|it asked for a "
                                  r"certificate, then closed the connection)\): give --cert and "
                                  r"--key \(or HEED_CLIENT_CERT and HEED_CLIENT_KEY\)\n$"
                             % re.escape(abrupt.addr))
            rc, out, err = self.heed(["status", "--cert", cert, "--key", key] + base)
            self.assertEqual((rc, out), (3, ""))
            self.assertRegex(err, r"^heed status: the agent at %s refused the client "
                                  r"certificate %s \(from --cert\): (tlsv1 alert unknown ca|it "
                                  r"asked for a certificate, then closed the connection)\n$"
                             % (re.escape(abrupt.addr), re.escape(cert)))
        self.assertEqual(abrupt.requests, [])

    def test_client_certificates(self):
        agent = FakeAgent(self.reg, self.pki.leaf, client_ca=self.pki.ca, token=TOKEN)
        base = ["--addr", agent.addr, "--cacert", self.pki.ca, "--token", TOKEN]

        cert, key = self.alice
        rc, out, err = self.heed(["status", "--cert", cert, "--key", key] + base)
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("Node:     tls-node\n", out)
        rc, out, err = self.heed(["checks", "list"] + base, HEED_CLIENT_CERT=cert,
                                 HEED_CLIENT_KEY=key)
        self.assertEqual((rc, err), (0, ""))
        rc, out, err = self.heed(["checks", "get", "web"], CONSUL_HTTP_ADDR=agent.addr,
                                 CONSUL_CACERT=self.pki.ca, CONSUL_CLIENT_CERT=cert,
                                 CONSUL_CLIENT_KEY=key, CONSUL_HTTP_TOKEN=TOKEN)
        self.assertEqual((rc, err), (0, ""))
        # The key may sit in the certificate's file.
        both = os.path.join(self.reg.tempdir(), "alice.pem")
        with open(both, "w") as f, open(cert) as c, open(key) as k:
            f.write(c.read() + k.read())
        rc, out, err = self.heed(["status", "--cert", both] + base)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(len(agent.requests), 4)
        self.assertTrue(all(r[2] == "Bearer " + TOKEN for r in agent.requests))
        # A file that is not a certificate: named, with OpenSSL's reason.
        junk = os.path.join(self.reg.tempdir(), "junk.pem")
        with open(junk, "w") as f:
            f.write("not a certificate\n")
        rc, out, err = self.heed(["status", "--cert", junk, "--key", key] + base)
        self.assertEqual((rc, out), (3, ""))
        self.assertTrue(err.startswith("heed status: cannot use the TLS files (--cacert %s, "
                                       "--cert %s, --key %s): " % (self.pki.ca, junk, key)), err)
        self.assertIn(junk, err[err.index("): "):])

    def test_usage_errors(self):
        missing = os.path.join(self.reg.tempdir(), "missing.pem")
        agent = FakeAgent(self.reg, self.pki.leaf)
        for cmd, rc in (("checks", 2), ("status", 3)):
            args = [cmd] + (["list"] if cmd == "checks" else []) + ["--addr", agent.addr]
            for extra, env, message in (
                    (["--cacert", missing], {}, "--cacert %s: cannot read: No such file or "
                                                "directory" % missing),
                    ([], {"HEED_CLIENT_CERT": missing}, "HEED_CLIENT_CERT %s: cannot read: No "
                                                        "such file or directory" % missing),
                    (["--cert", self.pki.ca[:-len("/ca.pem")]], {},
                     "--cert %s: not a regular file" % self.pki.ca[:-len("/ca.pem")]),
                    (["--key", self.alice[1]], {}, "--key without a client certificate: give "
                                                   "--cert (or HEED_CLIENT_CERT) too"),
                    ([], {"CONSUL_CLIENT_KEY": self.alice[1]},
                     "CONSUL_CLIENT_KEY without a client certificate: give --cert (or "
                     "HEED_CLIENT_CERT) too"),
                    ([], {"HEED_HTTP_SSL": "maybe"},
                     "HEED_HTTP_SSL: expected true or false, got 'maybe'")):
                r, out, err = self.heed(args + extra, **env)
                self.assertEqual((r, out), (rc, ""), (extra, env, err))
                self.assertEqual(err, "heed %s: %s (see heed %s --help)\n" % (cmd, message, cmd))
        # TLS flags for a plain address are a mistake; variables are only used for https://.
        plain = FakeAgent(self.reg, None)
        r, out, err = self.heed(["checks", "list", "--addr", plain.addr, "--cacert",
                                 self.pki.ca])
        self.assertEqual((r, out), (2, ""))
        self.assertEqual(err, "heed checks: --cacert: the agent address %s is not https:// "
                              "(give https://, or set HEED_HTTP_SSL=true) (see heed checks "
                              "--help)\n" % plain.addr)
        r, out, err = self.heed(["checks", "list", "--addr", plain.addr],
                                CONSUL_CACERT=self.wrong.ca, HEED_CLIENT_KEY=missing)
        self.assertEqual((r, err), (0, ""))
        # https:// to a server that speaks plain HTTP.
        res = self.heed(["status", "--addr", "https://127.0.0.1:%d" % plain.port,
                         "--cacert", self.pki.ca])
        rc, out, err = res
        self.assertEqual((rc, out), (3, ""))
        self.assertRegex(err, r"^heed status: the agent at https://127\.0\.0\.1:%d does not "
                              r"answer TLS \(.*wrong version number\): is it http://\?\n$"
                              % plain.port)

    def test_help_names_the_flags_and_variables(self):
        for cmd in ("checks", "status"):
            rc, out, err = run_heed([cmd, "--help"])
            self.assertEqual((rc, err), (0, ""))
            for word in ("--cacert FILE", "--cert FILE", "--key FILE", "HEED_CACERT",
                         "CONSUL_CACERT", "HEED_CLIENT_CERT", "CONSUL_CLIENT_CERT",
                         "HEED_CLIENT_KEY", "CONSUL_CLIENT_KEY", "CONSUL_HTTP_SSL"):
                self.assertIn(word, out, cmd)


if __name__ == "__main__":
    main()
