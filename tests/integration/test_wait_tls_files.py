"""Private CAs and client certificates for https:// and tls:// targets:
`heed wait --cacert FILE --cert FILE --key FILE`, against TLS servers made
here with certificates from the openssl command (tests/integration/pki.py).
SSL_CERT_FILE points at an empty file, so that only --cacert can make a
certificate verify."""

import os
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, Registry, TcpServer, free_port, run_heed  # noqa: E402
from agent_harness import Agent  # noqa: E402
from pki import OPENSSL, Certs  # noqa: E402


class HttpsServer:
    """An HTTPS server on 127.0.0.1 that answers 200 "ok" to one request per
    connection; with client_ca, only to clients whose certificate that CA
    signed."""

    def __init__(self, reg, cert_key, client_ca=None):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert_key)
        if client_ca:
            self.ctx.verify_mode = ssl.CERT_REQUIRED
            self.ctx.load_verify_locations(client_ca)
        self.server = TcpServer(reg, self.handle)
        self.port = self.server.port

    def handle(self, conn):
        try:
            t = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            data = b""
            while b"\r\n\r\n" not in data and len(data) < 65536:
                chunk = t.recv(4096)
                if not chunk:
                    break
                data += chunk
            t.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        except (ssl.SSLError, OSError):
            pass
        t.close()


@unittest.skipIf(not OPENSSL, "openssl command not installed")
class TlsFiles(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.class_reg = Registry()
        cls.certs = Certs(cls.class_reg)
        cls.alice = cls.certs.client("alice")

    @classmethod
    def tearDownClass(cls):
        cls.class_reg.close()

    def env(self):
        e = dict(os.environ)
        e.pop("SSL_CERT_DIR", None)
        e["SSL_CERT_FILE"] = os.devnull  # the system's trust store: nothing
        return e

    def wait(self, *args, t="0.7"):
        return run_heed(["wait", "-t", t] + list(args), env=self.env(), timeout=60)

    def test_tls_target_with_a_private_ca(self):
        srv = harness_tls_server(self.reg, self.certs.leaf)
        url = "tls://127.0.0.1:%d" % srv.port
        rc, out, err = self.wait(url)
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, r"certificate for CN=localhost does not verify: unable to "
                                         r"get local issuer certificate \(use --insecure to skip\)")
        rc, out, err = self.wait("--cacert", self.certs.ca, url, t="30")
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)
        # Another CA's file does not make it verify.
        other = Certs(self.reg, name="another CA")
        rc, out, err = self.wait("--cacert", other.ca, url)
        self.assertEqual(rc, 124, err)
        self.assertIn("does not verify", err)

    def test_https_with_a_client_certificate(self):
        srv = HttpsServer(self.reg, self.certs.leaf, client_ca=self.certs.ca)
        url = "https://127.0.0.1:%d/" % srv.port
        # The CA alone: the server refuses the client without a certificate.
        rc, out, err = self.wait("--cacert", self.certs.ca, url)
        self.assertEqual(rc, 124, err)
        self.assertNotIn("ready", err)
        cert, key = self.alice
        rc, out, err = self.wait("--cacert", self.certs.ca, "--cert", cert, "--key", key, url,
                                 t="30")
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)
        # The certificate and key in one file, as --cert alone.
        both = os.path.join(self.reg.tempdir(), "alice.pem")
        with open(cert) as c, open(key) as k, open(both, "w") as f:
            f.write(c.read() + k.read())
        rc, out, err = self.wait("--cacert=" + self.certs.ca, "--cert=" + both, url, t="30")
        self.assertEqual(rc, 0, err)
        # Without the CA, the server's certificate does not verify.
        rc, out, err = self.wait("--cert", cert, "--key", key, url)
        self.assertEqual(rc, 124, err)

    def test_tls_target_presents_the_client_certificate(self):
        # A TLS 1.2 server that requires a client certificate fails the
        # handshake itself without one, which a tls:// probe sees.
        srv = harness_tls_server(self.reg, self.certs.leaf, client_ca=self.certs.ca,
                                 tls12=True)
        url = "tls://127.0.0.1:%d" % srv.port
        rc, out, err = self.wait("--cacert", self.certs.ca, url)
        self.assertEqual(rc, 124, err)
        self.assertIn("TLS handshake failed", err)
        cert, key = self.alice
        rc, out, err = self.wait("--cacert", self.certs.ca, "--cert", cert, "--key", key, url,
                                 t="30")
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)

    def test_file_errors(self):
        url = "https://127.0.0.1:%d/" % free_port()
        missing = os.path.join(self.reg.tempdir(), "nope.pem")
        cases = [
            (["--cacert", missing, url], "--cacert %s: cannot read: No such file or directory"
             % missing),
            (["--cacert", self.reg.tempdir(), url], "not a regular file"),
            (["--key", self.alice[1], url], "--key without a client certificate: give --cert too"),
            (["--cacert", self.certs.ca, "tcp://127.0.0.1:9"],
             "--cacert, --cert and --key are for https:// and tls:// targets, and none is given"),
        ]
        for args, needle in cases:
            with self.subTest(args=args):
                rc, out, err = self.wait(*args)
                self.assertEqual(rc, 2, err)
                self.assertIn(needle, err)
        # A file that is not PEM: the attempt says which file and why.
        junk = os.path.join(self.reg.tempdir(), "junk.pem")
        with open(junk, "w") as f:
            f.write("not a certificate\n")
        srv = harness_tls_server(self.reg, self.certs.leaf)
        url = "tls://127.0.0.1:%d" % srv.port
        rc, out, err = self.wait("--cacert", self.certs.ca, "--cert", junk, url)
        self.assertEqual(rc, 124, err)
        self.assertIn("certificate %s: " % junk, err)
        cert, _ = self.alice
        rc, out, err = self.wait("--cacert", self.certs.ca, "--cert", cert, "--key",
                                 self.certs.leaf[1], url)
        self.assertEqual(rc, 124, err)
        self.assertIn("key %s: " % self.certs.leaf[1], err)
        self.assertIn("key values mismatch", err)


@unittest.skipIf(not OPENSSL, "openssl command not installed")
class AgentCheckTlsFiles(HeedTestCase):
    """A check's tls: {ca_file, cert_file, key_file} in the config file; the
    API refuses them (the agent would read files a client names)."""

    def test_config_check_with_a_client_certificate(self):
        certs = Certs(self.reg)
        cert, key = certs.client("agent")
        srv = HttpsServer(self.reg, certs.leaf, client_ca=certs.ca)
        tls = harness_tls_server(self.reg, certs.leaf)
        url = "https://127.0.0.1:%d/" % srv.port
        cfg = {"checks": [
            {"name": "mtls", "target": url, "interval": "300ms",
             "tls": {"ca_file": certs.ca, "cert_file": cert, "key_file": key}},
            {"name": "nocert", "target": url, "interval": "300ms",
             "tls": {"ca_file": certs.ca}},
            {"name": "edge", "target": "tls://127.0.0.1:%d" % tls.port, "interval": "300ms",
             "expect": {"cert_days_left": 1},  # the test leaf lives 10 days
             "tls": {"ca_file": certs.ca}},
        ]}
        a = Agent(self.reg, cfg)
        a.start()
        c = a.wait_status("mtls", "passing")
        self.assertEqual(c["output"], "HTTP 200")
        self.assertEqual(c["tls"], {"ca_file": certs.ca, "cert_file": cert, "key_file": key})
        a.wait_status("edge", "passing")
        c = a.wait_status("nocert", "critical")
        self.assertNotEqual(c["reason"], "ok")
        r = a.call("POST", "/v1/checks", {"name": "x", "target": url,
                                          "tls": {"ca_file": certs.ca}})
        self.assertEqual((r.status, r.code), (403, "tls_files_forbidden"), r)
        self.assertIn("come from the config file only", r.error)


def harness_tls_server(reg, cert_key, client_ca=None, tls12=False):
    """A TLS server that handshakes and waits for the client to close."""

    class Srv:
        pass

    s = Srv()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*cert_key)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)

    def handle(conn):
        try:
            t = ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            t.recv(1)
        except (ssl.SSLError, OSError):
            pass
        t.close()

    s.server = TcpServer(reg, handle)
    s.port = s.server.port
    return s


if __name__ == "__main__":
    harness.main()
