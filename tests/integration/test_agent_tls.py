"""heed agent's API over HTTPS, as Consul serves it (issue 8 item 14), with
certificates this test makes with the openssl command: CA "A" signs the
agent's certificate (localhost, 127.0.0.1), an expired one, and a client
certificate; CA "B" signs another server and client certificate. Python's
ssl module is the client.

  * a good chain answers 200, keep-alive and a large streamed list
    included; a client that trusts another CA, or an expired certificate,
    is refused by the client;
  * verify_incoming: a client without a certificate, or with one from
    another CA, is refused in the handshake: no HTTP is read (the agent's
    request counters do not move, its handshake failures do);
  * plain HTTP on the HTTPS port gets a 400 in plain HTTP, and the port
    goes on serving HTTPS; a client that never finishes its handshake is
    closed after header_timeout;
  * min_version TLSv1.3 refuses a TLS 1.2 client;
  * SIGHUP takes a new certificate for new connections; one that does not
    load leaves the old in place;
  * beyond loopback, plain HTTP needs allow_plaintext: refused without it
    before binding, and served with TLS or allow_plaintext on an address
    of a network namespace the test makes."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, HeedTestCase, main, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import Agent, to_yaml  # noqa: E402
from test_probe_tls import OPENSSL, Certs  # noqa: E402


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def client_ctx(ca, cert_key=None, max_version=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert_key:
        ctx.load_cert_chain(*cert_key)
    if max_version:
        ctx.maximum_version = max_version
    return ctx


def https(port, path, ctx, method="GET", timeout=10):
    """One request over HTTPS on a new connection: (status, body)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=scaled(timeout))
    try:
        conn.request(method, path, headers={"Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def refused(port, ctx, timeout=10):
    """The TLS connection fails: in the handshake, or (TLS 1.3, where the
    server judges the client's certificate after the client finished) at
    the first read, before any HTTP reply. Returns the error text."""
    try:
        status, _ = https(port, "/v1/status", ctx, timeout=timeout)
    except (ssl.SSLError, ConnectionError, http.client.HTTPException) as e:
        return str(e)
    raise AssertionError("expected a refused handshake, got HTTP %d" % status)


@unittest.skipIf(not OPENSSL, "openssl command not installed")
class Tls(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Certs(self.reg)  # CA A: leaf (localhost, 127.0.0.1), expired, other
        self.b = Certs(self.reg)  # CA B
        self.tls = {"cert_file": self.a.leaf[0], "key_file": self.a.leaf[1]}

    def agent(self, tls=None, **cfg):
        cfg["tls"] = dict(self.tls, **(tls or {}))
        return Agent(self.reg, cfg).start()

    def counters(self, agent, ctx):
        _, body = https(agent.port, "/metrics", ctx)
        text = body.decode()
        return (sum(metric(text, "heed_api_requests_total", '{class="%dxx"}' % k) for k in
                    range(1, 6)),
                metric(text, "heed_api_tls_handshake_failures_total"))

    def test_good_chain_keep_alive_and_a_streamed_list(self):
        checks = [{"id": "c%03d" % i, "name": "c%03d" % i, "ttl": "1h"} for i in range(600)]
        ag = self.agent(checks=checks)
        self.assertIn("API: https://127.0.0.1:%d/v1/checks" % ag.port, ag.stdout())
        ctx = client_ctx(self.a.ca)
        status, body = https(ag.port, "/v1/status", ctx)
        self.assertEqual((status, json.loads(body)["checks"]["critical"]), (200, 600))
        # Keep-alive over TLS, then a list of ~300 KB streamed in chunks.
        conn = http.client.HTTPSConnection("127.0.0.1", ag.port, context=ctx,
                                           timeout=scaled(10))
        for path in ("/v1/status", "/v1/checks/c007", "/v1/checks"):
            conn.request("GET", path)
            r = conn.getresponse()
            data = r.read()
            self.assertEqual(r.status, 200, data[:200])
        conn.close()
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.assertEqual([c["id"] for c in json.loads(data)], ["c%03d" % i for i in range(600)])
        # A client that trusts another CA refuses the agent.
        self.assertIn("certificate verify failed", refused(ag.port, client_ctx(self.b.ca)))
        self.assertEqual(ag.stop(), 0, ag.stderr())

    def test_the_cli_over_https_with_and_without_client_certificates(self):
        # heed status / heed checks against the agent itself (the CLI's own
        # tests use a Python HTTPS server); the agent wants client
        # certificates of CA A.
        ag = self.agent({"ca_file": self.a.ca, "verify_incoming": True},
                        checks=[{"name": "hb", "ttl": "1h"}])
        addr = "https://127.0.0.1:%d" % ag.port
        mine = self.a.client("cli")
        rc, out, err = run_heed(["status", "--addr", addr, "--cacert", self.a.ca,
                                 "--cert", mine[0], "--key", mine[1]])
        self.assertEqual(rc, 2, err)  # the TTL check is critical until reported
        self.assertIn("critical", out)
        env = dict(os.environ, HEED_HTTP_ADDR=addr, HEED_CACERT=self.a.ca,
                   HEED_CLIENT_CERT=mine[0], HEED_CLIENT_KEY=mine[1])
        rc, out, err = run_heed(["checks", "list"], env=env)
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"(?m)^hb\s+critical")
        # Consul's variable names, as fallbacks.
        cenv = dict(os.environ, CONSUL_HTTP_ADDR="127.0.0.1:%d" % ag.port, CONSUL_HTTP_SSL="true",
                    CONSUL_CACERT=self.a.ca, CONSUL_CLIENT_CERT=mine[0],
                    CONSUL_CLIENT_KEY=mine[1])
        rc, out, err = run_heed(["checks", "get", "hb"], env=cenv)
        self.assertEqual((rc, err), (0, ""), out)
        # No client certificate: the agent refuses it, and the CLI says so.
        rc, out, err = run_heed(["status", "--addr", addr, "--cacert", self.a.ca])
        self.assertEqual(rc, 3, err)
        self.assertIn("requires a client certificate", err)
        # One from CA B: refused, naming the file.
        theirs = self.b.client("intruder")
        rc, out, err = run_heed(["checks", "list", "--addr", addr, "--cacert", self.a.ca,
                                 "--cert", theirs[0], "--key", theirs[1]])
        self.assertEqual(rc, 3, err)
        self.assertIn("refused the client certificate %s (from --cert)" % theirs[0], err)
        # The agent's certificate against the wrong CA.
        rc, out, err = run_heed(["status", "--addr", addr, "--cacert", self.b.ca,
                                 "--cert", mine[0], "--key", mine[1]])
        self.assertEqual(rc, 3, err)
        self.assertIn("does not verify against %s (from --cacert)" % self.b.ca, err)

    def test_expired_certificate_is_refused_by_the_client(self):
        ag = self.agent({"cert_file": self.a.expired[0], "key_file": self.a.expired[1]})
        ctx = client_ctx(self.a.ca)
        ctx.check_hostname = False  # the expired leaf is for expired.test
        self.assertIn("certificate has expired", refused(ag.port, ctx))

    def test_verify_incoming(self):
        ag = self.agent({"ca_file": self.a.ca, "verify_incoming": True})
        good = client_ctx(self.a.ca, self.a.other)
        status, _ = https(ag.port, "/v1/status", good)
        self.assertEqual(status, 200)
        replies0, failures0 = self.counters(ag, good)
        # No certificate, and one from CA B: refused in the handshake.
        for ctx in (client_ctx(self.a.ca), client_ctx(self.a.ca, self.b.other)):
            err = refused(ag.port, ctx)
            self.assertRegex(err, r"(?i)certificate|alert|reset|EOF", err)
        replies1, failures1 = self.counters(ag, good)
        self.assertEqual(replies1, replies0 + 1)  # the /metrics read just before only
        self.assertEqual(failures1, failures0 + 2)
        # Still the same with TLS 1.2, where the refusal is in the handshake.
        err = refused(ag.port, client_ctx(self.a.ca, max_version=ssl.TLSVersion.TLSv1_2))
        self.assertRegex(err, r"(?i)handshake|certificate|alert")
        self.assertEqual(ag.stop(), 0, ag.stderr())

    def test_plain_http_and_stalled_handshakes(self):
        ag = self.agent(limits={"header_timeout": "1s"})
        s = socket.create_connection(("127.0.0.1", ag.port), timeout=scaled(5))
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            data += d
        s.close()
        self.assertTrue(data.startswith(b"HTTP/1.1 400 Bad Request\r\n"), data)
        body = json.loads(data.split(b"\r\n\r\n", 1)[1])
        self.assertEqual(body, {"error": "this port speaks HTTPS: use https://",
                                "code": "tls_required"})
        # A client that connects and says nothing, or half a ClientHello.
        for first in (b"", b"\x16\x03\x01\x02\x00\x01\x00"):
            t0 = time.monotonic()
            s = socket.create_connection(("127.0.0.1", ag.port), timeout=scaled(10))
            s.sendall(first)
            try:
                self.assertEqual(s.recv(100), b"")
            except ConnectionResetError:
                pass
            took = time.monotonic() - t0
            s.close()
            self.assertGreater(took, 0.8)
            self.assertLess(took, scaled(5))
        status, _ = https(ag.port, "/v1/status", client_ctx(self.a.ca))
        self.assertEqual(status, 200)
        self.assertEqual(ag.stop(), 0, ag.stderr())

    def test_min_version(self):
        ag = self.agent({"min_version": "TLSv1.3"})
        err = refused(ag.port, client_ctx(self.a.ca, max_version=ssl.TLSVersion.TLSv1_2))
        self.assertRegex(err, r"(?i)version|alert|handshake")
        status, _ = https(ag.port, "/v1/status", client_ctx(self.a.ca))
        self.assertEqual(status, 200)

    def test_sighup_takes_a_new_certificate(self):
        ag = self.agent()
        old_ctx, new_ctx = client_ctx(self.a.ca), client_ctx(self.b.ca)
        held = http.client.HTTPSConnection("127.0.0.1", ag.port, context=old_ctx,
                                           timeout=scaled(10))
        held.request("GET", "/v1/status")
        self.assertEqual(held.getresponse().read()[:1], b"{")
        self.tls = {"cert_file": self.b.leaf[0], "key_file": self.b.leaf[1]}
        ag.reload({"tls": self.tls}, expect="reloaded")
        self.assertEqual(https(ag.port, "/v1/status", new_ctx)[0], 200)
        self.assertIn("certificate verify failed", refused(ag.port, old_ctx))
        # The connection made before the reload goes on with the old one.
        held.request("GET", "/v1/status")
        self.assertEqual(held.getresponse().status, 200)
        held.close()
        # A key that does not belong to the certificate: refused, the
        # running certificate stays.
        ag.reload({"tls": {"cert_file": self.b.leaf[0], "key_file": self.a.leaf[1]}},
                  expect="reload failed")
        self.assertIn("does not belong to cert_file", ag.stderr())
        self.assertEqual(https(ag.port, "/v1/status", new_ctx)[0], 200)
        self.assertEqual(ag.stop(), 0, ag.stderr())

    def test_bad_tls_files_stop_the_start(self):
        cfg = {"tls": {"cert_file": "/nonexistent/cert.pem", "key_file": self.a.leaf[1]}}
        ag = Agent(self.reg, cfg)
        proc = ag.spawn()
        self.assertEqual(proc.wait(scaled(20)), 1)
        self.assertIn("heed agent: tls.cert_file /nonexistent/cert.pem: cannot read: "
                      "No such file or directory", ag.stderr())
        with open(os.path.join(ag.dir, "notapem"), "w") as f:
            f.write("hello\n")
        ag.write_config({"tls": {"cert_file": os.path.join(ag.dir, "notapem"),
                                 "key_file": self.a.leaf[1]}})
        proc = ag.spawn()
        self.assertEqual(proc.wait(scaled(20)), 1)
        self.assertIn("tls.cert_file (a PEM certificate) %s: " % os.path.join(ag.dir, "notapem"),
                      ag.stderr())


class Namespace:
    """A network namespace with an address of its own on its loopback
    device, deleted at the end of the test."""

    def __init__(self, reg, addr):
        self.name = "hdtls%d" % (os.getpid() % 100000)
        self.addr = addr
        subprocess.run(["ip", "netns", "add", self.name], check=True, timeout=20)
        reg.callback("delete netns " + self.name,
                     lambda: subprocess.run(["ip", "netns", "del", self.name], timeout=20))
        for args in (["link", "set", "lo", "up"], ["addr", "add", addr + "/32", "dev", "lo"]):
            subprocess.run(["ip", "-n", self.name] + args, check=True, timeout=20)

    def argv(self, *argv):
        return ["ip", "netns", "exec", self.name] + list(argv)


@unittest.skipIf(not OPENSSL, "openssl command not installed")
class BeyondLoopback(HeedTestCase):
    ADDR = "10.79.0.1"

    def config(self, dir, port, **extra):
        cfg = {"bind": "%s:%d" % (self.ADDR, port), "data_dir": os.path.join(dir, "data"),
               "tokens": [{"secret": "m-secret", "role": "management"}]}
        cfg.update(extra)
        path = os.path.join(dir, "heed.yaml")
        with open(path, "w") as f:
            f.write(to_yaml(cfg))
        return path

    def test_refused_without_tls_or_allow_plaintext(self):
        # Refused before binding: nothing is sent anywhere.
        d = self.reg.tempdir()
        rc, out, err = run_heed(["agent", "-c", self.config(d, 8500)])
        self.assertEqual(rc, 1, err)
        self.assertIn("heed agent: refusing to listen on %s over plain HTTP: tokens would cross "
                      "the network in clear text. Configure tls (cert_file, key_file), or set "
                      "allow_plaintext: true" % self.ADDR, err)

    @unittest.skipIf(os.geteuid() != 0 or not shutil.which("ip"), "needs root and ip(8)")
    def test_served_with_tls_or_allow_plaintext_in_a_namespace(self):
        ns = Namespace(self.reg, self.ADDR)
        certs = Certs(self.reg)
        for extra in ({"allow_plaintext": True},
                      {"tls": {"cert_file": certs.leaf[0], "key_file": certs.leaf[1]}}):
            d = self.reg.tempdir()
            path = self.config(d, 18500, **extra)
            with open(os.path.join(d, "out"), "w") as o, open(os.path.join(d, "err"), "w") as e:
                proc = self.reg.popen(ns.argv(HEED, "agent", "-c", path), stdout=o, stderr=e)
            def read(name):
                with open(os.path.join(d, name)) as f:
                    return f.read()
            wait_until(lambda: proc.poll() is not None or "API:" in read("out"), 20,
                       what="the agent's API line")
            self.assertIsNone(proc.poll(), read("err"))
            scheme = "https" if "tls" in extra else "http"
            curl = ["curl", "-s", "-H", "X-Consul-Token: m-secret", "--max-time", "10"]
            if "tls" in extra:
                # The certificate is for 127.0.0.1 and localhost: check the
                # chain, and pin the name with --resolve.
                curl += ["--cacert", certs.ca, "--resolve", "localhost:18500:" + self.ADDR]
                url = "https://localhost:18500/v1/status"
            else:
                url = "http://%s:18500/v1/status" % self.ADDR
            r = subprocess.run(ns.argv(*curl, url), capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 0, (scheme, r.stderr))
            self.assertIn('"checks"', r.stdout)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(scaled(30)), 0)


if __name__ == "__main__":
    main()
