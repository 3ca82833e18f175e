"""The TLS protocol floor: a tls:// check that passes only when the server
refuses the versions named (`heed wait --tls-refuses tls1.0,tls1.1`, a
check's expect: {tls_refuses: [tls1.0, tls1.1]}), and reports the weakest
version the server accepts. The servers are `openssl s_server` instances
started here with different protocol settings; Debian's OpenSSL offers TLS
1.0 and 1.1 only at security level 0, which those servers and heed's probe
set for themselves."""

import json
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from agent_harness import Agent  # noqa: E402
from harness import HeedTestCase, Registry, free_port, run_heed, wait_until  # noqa: E402
from pki import OPENSSL, Certs  # noqa: E402

LEGACY = ["-cipher", "DEFAULT:@SECLEVEL=0"]


def s_server(reg, certs, *protocol):
    """An openssl s_server on 127.0.0.1 with the protocol flags given;
    returns its port once it accepts connections."""
    cert, key = certs.leaf
    port = free_port()
    log = os.path.join(reg.tempdir(prefix="heed-s-server-"), "s_server.log")
    with open(log, "w") as out:
        reg.popen([OPENSSL, "s_server", "-accept", "127.0.0.1:%d" % port, "-cert", cert,
                   "-key", key, "-www", "-quiet"] + list(protocol),
                  stdout=out, stderr=subprocess.STDOUT)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_until(up, 20, what="openssl s_server on port %d" % port)
    return port


def s_client_accepts(port, version):
    """What the openssl command itself says: does the server take version?"""
    r = subprocess.run([OPENSSL, "s_client", "-connect", "127.0.0.1:%d" % port, version,
                        "-cipher", "DEFAULT:@SECLEVEL=0"], input=b"", capture_output=True,
                       timeout=20)
    return r.returncode == 0


@unittest.skipIf(not OPENSSL, "openssl command not installed")
class TlsFloor(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.class_reg = Registry()
        cls.certs = Certs(cls.class_reg)
        r = cls.class_reg
        cls.modern = s_server(r, cls.certs, "-no_tls1", "-no_tls1_1")
        cls.legacy = s_server(r, cls.certs, "-min_protocol", "TLSv1", *LEGACY)
        cls.from11 = s_server(r, cls.certs, "-min_protocol", "TLSv1.1", *LEGACY)
        cls.only13 = s_server(r, cls.certs, "-tls1_3")

    @classmethod
    def tearDownClass(cls):
        cls.class_reg.close()

    def wait(self, port, refuses, t="0.8"):
        url = "tls://127.0.0.1:%d" % port
        rc, out, err = run_heed(["wait", "--json", "-t", t, "--cacert", self.certs.ca,
                                 "--cert-days-left", "1", "--tls-refuses", refuses, url],
                                timeout=60)
        return rc, json.loads(out)

    def test_servers_are_what_the_test_says(self):
        # The openssl command agrees with the settings (so a heed verdict
        # below is about heed).
        self.assertTrue(s_client_accepts(self.legacy, "-tls1"))
        self.assertFalse(s_client_accepts(self.modern, "-tls1"))
        self.assertFalse(s_client_accepts(self.modern, "-tls1_1"))
        self.assertTrue(s_client_accepts(self.modern, "-tls1_2"))

    def test_modern_server_passes_and_names_its_weakest_version(self):
        rc, o = self.wait(self.modern, "tls1.0,tls1.1", t="30")
        self.assertEqual(rc, 0, o)
        self.assertEqual(o["reason"], "ok")
        self.assertRegex(o["output"], r"^certificate for CN=localhost expires in \d+ days "
                                      r"\(\d{4}-\d\d-\d\d\); refuses TLS 1\.0, TLS 1\.1; weakest "
                                      r"accepted: TLS 1\.2$")

    def test_text_output(self):
        url = "tls://127.0.0.1:%d" % self.modern
        rc, out, err = run_heed(["wait", "-t", "30", "--cacert", self.certs.ca, "--tls-refuses",
                                 "tls1.0,tls1.1", url], timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"^heed: %s ready \(1 attempt, \d+\.\d s\): certificate for "
                              r"CN=localhost .*; refuses TLS 1\.0, TLS 1\.1; weakest accepted: "
                              r"TLS 1\.2\n$" % url)
        url = "tls://127.0.0.1:%d" % self.legacy
        rc, out, err = run_heed(["wait", "-t", "0.5", "--cacert", self.certs.ca, "--tls-refuses",
                                 "tls1.0,tls1.1", url], timeout=60)
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, r"accepts TLS 1\.0, TLS 1\.1, which it must refuse; "
                                         r"weakest accepted: TLS 1\.0")

    def test_legacy_server_fails_naming_what_it_accepts(self):
        rc, o = self.wait(self.legacy, "tls1.0,tls1.1")
        self.assertEqual(rc, 124, o)
        self.assertEqual(o["reason"], "tls_weak_protocol")
        self.assertEqual(o["last_error"], "accepts TLS 1.0, TLS 1.1, which it must refuse; "
                                          "weakest accepted: TLS 1.0")

    def test_server_that_accepts_only_tls11_of_the_two(self):
        rc, o = self.wait(self.from11, "tls1.0,tls1.1")
        self.assertEqual(rc, 124, o)
        self.assertEqual(o["last_error"], "accepts TLS 1.1, which it must refuse; weakest "
                                          "accepted: TLS 1.1")
        # Asked to refuse TLS 1.0 only, the same server passes.
        rc, o = self.wait(self.from11, "tls1.0", t="30")
        self.assertEqual(rc, 0, o)
        self.assertIn("refuses TLS 1.0; weakest accepted: TLS 1.1", o["output"])

    def test_tls13_only(self):
        rc, o = self.wait(self.only13, "tls1.0,tls1.1,tls1.2", t="30")
        self.assertEqual(rc, 0, o)
        self.assertIn("refuses TLS 1.0, TLS 1.1, TLS 1.2; weakest accepted: TLS 1.3",
                      o["output"])

    def test_server_that_wants_a_client_certificate(self):
        # The floor's handshakes present the client certificate too: a
        # server that takes TLS 1.0 from clients with a certificate is
        # caught, not taken for one that refuses TLS 1.0.
        port = s_server(self.reg, self.certs, "-Verify", "1", "-CAfile", self.certs.ca,
                        "-min_protocol", "TLSv1", "-max_protocol", "TLSv1.2", *LEGACY)
        cert, key = self.certs.client("floor")
        url = "tls://127.0.0.1:%d" % port
        rc, out, err = run_heed(["wait", "--json", "-t", "0.8", "--cacert", self.certs.ca,
                                 "--cert", cert, "--key", key, "--cert-days-left", "1",
                                 "--tls-refuses", "tls1.0,tls1.1", url], timeout=60)
        self.assertEqual(rc, 124, out + err)
        self.assertEqual(json.loads(out)["last_error"], "accepts TLS 1.0, TLS 1.1, which it must "
                                                        "refuse; weakest accepted: TLS 1.0")

    def test_bad_version_name_is_a_usage_error(self):
        rc, out, err = run_heed(["wait", "--tls-refuses", "tls1.0,sslv3",
                                 "tls://127.0.0.1:%d" % self.modern])
        self.assertEqual(rc, 2, err)
        self.assertIn("--tls-refuses: unknown TLS version 'sslv3' (expected tls1.0, tls1.1, "
                      "tls1.2 or tls1.3)", err)

    def test_agent_check(self):
        checks = [{"name": name, "target": "tls://127.0.0.1:%d" % port, "interval": "500ms",
                   "tls": {"ca_file": self.certs.ca},
                   "expect": {"cert_days_left": 1, "tls_refuses": ["tls1.0", "tls1.1"]}}
                  for name, port in (("modern", self.modern), ("legacy", self.legacy))]
        a = Agent(self.reg, {"checks": checks}).start()
        c = a.wait_status("modern", "passing")
        self.assertIn("weakest accepted: TLS 1.2", c["output"])
        self.assertEqual(c["expect"]["tls_refuses"], ["tls1.0", "tls1.1"])
        c = a.wait_check("legacy", lambda c: c["last_checked"], what="a run of legacy")
        self.assertEqual((c["status"], c["reason"]), ("critical", "tls_weak_protocol"))
        self.assertEqual(c["output"], "accepts TLS 1.0, TLS 1.1, which it must refuse; weakest "
                                      "accepted: TLS 1.0")


if __name__ == "__main__":
    harness.main()
