"""tls:// targets against TLS servers made here: certificates from the
openssl command (a CA, a leaf valid 10 days for localhost and 127.0.0.1, a
leaf for another name, a leaf that expired in 2020), served by Python's ssl
module on free loopback ports. heed trusts the test CA only when
SSL_CERT_FILE points at it, as OpenSSL's default paths allow."""

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HeedTestCase, Registry, TcpServer, finish, free_port,  # noqa: E402
                     run_heed, still_running)
from pki import OPENSSL, Certs  # noqa: E402

class TlsServer:
    """A TLS server on 127.0.0.1: handshakes, then waits for the client to
    close. Records the SNI names it was sent."""

    def __init__(self, reg, cert_key, port=0):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*cert_key)
        self.sni = []
        self.ctx.sni_callback = lambda sock, name, ctx: self.sni.append(name)
        self.server = TcpServer(reg, self.handle, port=port)
        self.port = self.server.port

    def handle(self, conn):
        try:
            t = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            t.recv(1)
        except (ssl.SSLError, OSError):
            pass
        t.close()


@unittest.skipIf(not OPENSSL, "openssl command not installed")
class TlsTests(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.class_reg = Registry()
        cls.certs = Certs(cls.class_reg)

    @classmethod
    def tearDownClass(cls):
        cls.class_reg.close()

    def env(self, trust=True):
        e = dict(os.environ)
        e.pop("SSL_CERT_DIR", None)
        if trust:
            e["SSL_CERT_FILE"] = self.certs.ca
        else:
            e["SSL_CERT_FILE"] = os.devnull  # no CA at all: nothing verifies
        return e

    def wait_json(self, url, *flags, trust=True):
        rc, out, err = run_heed(["wait", "-t", "0.5", "--json"] + list(flags) + [url],
                                env=self.env(trust))
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out + err)
        return rc, json.loads(lines[0])

    def test_insecure_passes_without_the_ca(self):
        srv = TlsServer(self.reg, self.certs.leaf)
        url = "tls://127.0.0.1:%d" % srv.port
        rc, out, err = run_heed(["wait", "-t", "5", "--insecure", url], env=self.env(False))
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.assertReadyLine(err, url), 1)
        self.assertEqual(srv.sni, [None])  # no SNI for an address

    def test_verification_fails_without_the_ca(self):
        srv = TlsServer(self.reg, self.certs.leaf)
        url = "tls://127.0.0.1:%d" % srv.port
        rc, out, err = run_heed(["wait", "-t", "0.5", url], env=self.env(False))
        self.assertEqual(rc, 124)
        self.assertTimeoutLine(err, url, r"certificate for CN=localhost does not verify: unable "
                               r"to get local issuer certificate \(use --insecure to skip\)")
        rc, j = self.wait_json(url, trust=False)
        self.assertEqual(j["reason"], "tls_fail")

    def test_verified_by_name_and_address(self):
        srv = TlsServer(self.reg, self.certs.leaf)
        for url in ["tls://127.0.0.1:%d" % srv.port, "tls://localhost:%d/" % srv.port]:
            with self.subTest(url=url):
                rc, out, err = run_heed(["wait", "-t", "5", url], env=self.env())
                self.assertEqual(rc, 0, err)
                self.assertEqual(self.assertReadyLine(err, url), 1)
        self.assertIn("localhost", srv.sni)

    def test_host_name_mismatch(self):
        srv = TlsServer(self.reg, self.certs.other)
        url = "tls://localhost:%d" % srv.port
        rc, j = self.wait_json(url)
        self.assertEqual(rc, 124)
        self.assertEqual(j["reason"], "tls_fail")
        self.assertEqual(j["last_error"], "certificate for CN=other.test does not verify: "
                         "hostname mismatch (use --insecure to skip)")
        rc, j = self.wait_json(url, "-k")
        self.assertEqual(rc, 0)
        self.assertTrue(j["ready"])

    def test_cert_days_left(self):
        srv = TlsServer(self.reg, self.certs.leaf)
        url = "tls://localhost:%d" % srv.port
        rc, j = self.wait_json(url, "--cert-days-left", "14")
        self.assertEqual(rc, 124)
        self.assertEqual(j["reason"], "tls_expiring")
        self.assertRegex(j["last_error"], r"^certificate for CN=localhost expires in (9|10) days "
                         r"\(\d{4}-\d\d-\d\d\), fewer than 14$")
        rc, j = self.wait_json(url, "--cert-days-left=9")
        self.assertEqual(rc, 0, j)
        rc, out, err = run_heed(["wait", "--cert-days-left", "x", url])
        self.assertEqual(rc, 2)
        self.assertIn("invalid --cert-days-left 'x'", err)

    def test_expired(self):
        srv = TlsServer(self.reg, self.certs.expired)
        url = "tls://127.0.0.1:%d" % srv.port
        for flags in ([], ["--insecure"]):  # expiry is checked even when insecure
            with self.subTest(flags=flags):
                rc, j = self.wait_json(url, *flags)
                self.assertEqual(rc, 124)
                self.assertEqual(j["reason"], "tls_expired")
                self.assertRegex(j["last_error"], r"^certificate for CN=expired\.test expired "
                                 r"\d+ days ago \(2020-02-01\)$")

    def test_not_a_tls_server(self):
        def hello(conn):
            conn.sendall(b"220 hello, this is not TLS\r\n")
        srv = TcpServer(self.reg, hello)
        rc, j = self.wait_json("tls://127.0.0.1:%d" % srv.port, "-k")
        self.assertEqual(rc, 124)
        self.assertEqual(j["reason"], "tls_fail")
        self.assertTrue(j["last_error"].startswith("TLS handshake failed: "), j["last_error"])

    def test_refused_then_ready(self):
        port = free_port()
        url = "tls://127.0.0.1:%d" % port
        rc, j = self.wait_json(url, "-k")
        self.assertEqual(j["reason"], "connect_refused")
        proc = self.reg.spawn_heed(["wait", "-t", "30", "-k", url], env=self.env())
        self.assertTrue(still_running(proc, 0.3), "ready before the server started")
        TlsServer(self.reg, self.certs.leaf, port=port)
        rc, out, err = finish(proc, 40)
        self.assertEqual(rc, 0, err)
        self.assertGreater(self.assertReadyLine(err, url), 1)


if __name__ == "__main__":
    import harness
    harness.main()
