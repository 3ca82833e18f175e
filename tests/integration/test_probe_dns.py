"""dns:// targets against a real name server: Debian's dnsmasq on a free
loopback port, with records of every supported type under the zone test.
(where unknown names are NXDOMAIN). heed asks it through server=; no query
leaves the machine."""

import json
import os
import shutil
import socket
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (HeedTestCase, finish, free_port, run_heed, still_running,  # noqa: E402
                     wait_until)

DNSMASQ = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq")
                                      else None)


def answers(port, name, qtype=1):
    """The answer count of a UDP query to 127.0.0.1:port, or None."""
    q = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    q += struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    try:
        s.sendto(q, ("127.0.0.1", port))
        r = s.recv(4096)
        return struct.unpack(">H", r[6:8])[0]
    except OSError:
        return None
    finally:
        s.close()


class Dnsmasq:
    """dnsmasq in the foreground on 127.0.0.1:port, ended by pid."""

    def __init__(self, reg):
        self.reg = reg
        self.port = free_port()
        self.argv = [DNSMASQ, "--keep-in-foreground", "--port=%d" % self.port,
                     "--listen-address=127.0.0.1", "--bind-interfaces", "--no-resolv",
                     "--no-hosts", "--no-poll", "--conf-file=/dev/null", "--pid-file=",
                     "--user=%s" % _user(), "--local=/test/",
                     "--address=/example.test/127.0.0.7",
                     "--txt-record=example.test,v=spf1 -all",
                     "--txt-record=example.test,second record",
                     "--mx-host=example.test,mail.example.test,10",
                     "--cname=www.other.test,example.test",
                     "--log-facility=/dev/null"]

    def start(self):
        self.reg.popen(self.argv)
        wait_until(lambda: answers(self.port, "example.test") == 1, 10,
                   what="dnsmasq on port %d" % self.port)

    def url(self, name, query=""):
        return "dns://%s?server=127.0.0.1:%d%s" % (name, self.port, query)


def _user():
    import pwd
    return pwd.getpwuid(os.getuid()).pw_name


@unittest.skipIf(not DNSMASQ, "dnsmasq not installed (Debian's dnsmasq-base)")
class DnsTests(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.dns = Dnsmasq(self.reg)

    def wait_json(self, url, *flags, timeout="0.5"):
        rc, out, err = run_heed(["wait", "-t", timeout, "--json"] + list(flags) + [url])
        lines = out.splitlines()
        self.assertEqual(len(lines), 1, out + err)
        return rc, json.loads(lines[0])

    def test_ready_once_the_server_answers(self):
        url = self.dns.url("example.test")
        proc = self.reg.spawn_heed(["wait", "-t", "30", url])
        self.assertTrue(still_running(proc, 0.3), "ready before the server started")
        self.dns.start()
        rc, out, err = finish(proc, 40)
        self.assertEqual(rc, 0, err)
        self.assertGreater(self.assertReadyLine(err, url), 1)

    def test_expected_records(self):
        self.dns.start()
        for url in [self.dns.url("example.test", "&expect=127.0.0.7"),
                    self.dns.url("EXAMPLE.test", "&type=a&expect=127.0.0.7"),
                    self.dns.url("example.test", "&type=TXT&expect=v%3Dspf1%20-all"),
                    self.dns.url("example.test", "&type=txt&expect=second%20record"),
                    self.dns.url("example.test", "&type=MX&expect=mail.example.test."),
                    self.dns.url("example.test", "&type=MX&expect=10%20MAIL.example.test"),
                    self.dns.url("www.other.test", "&type=CNAME&expect=example.test")]:
            with self.subTest(url=url):
                rc, out, err = run_heed(["wait", "-t", "5", url])
                self.assertEqual(rc, 0, err)
                self.assertEqual(self.assertReadyLine(err, url), 1)

    def test_mismatch_lists_the_answers(self):
        self.dns.start()
        url = self.dns.url("example.test", "&expect=127.0.0.8")
        rc, out, err = run_heed(["wait", "-t", "0.5", url])
        self.assertEqual(rc, 124)
        self.assertTimeoutLine(err, url, r"example\.test A: expected 127\.0\.0\.8, got 127\.0\.0\.7")
        rc, j = self.wait_json(url)
        self.assertEqual(rc, 124)
        self.assertFalse(j["ready"])
        self.assertEqual(j["reason"], "dns_mismatch")

        url = self.dns.url("example.test", "&type=TXT&expect=v%3Dspf1")
        rc, j = self.wait_json(url)
        self.assertEqual(j["reason"], "dns_mismatch")
        self.assertIn('example.test TXT: expected v=spf1, got ', j["last_error"])
        self.assertIn('"v=spf1 -all"', j["last_error"])
        self.assertIn('"second record"', j["last_error"])

        rc, j = self.wait_json(self.dns.url("example.test", "&type=MX&expect=20%20mail.example.test"))
        self.assertEqual(j["reason"], "dns_mismatch")
        self.assertEqual(j["last_error"],
                         "example.test MX: expected 20 mail.example.test, got 10 mail.example.test")

    def test_not_found(self):
        self.dns.start()
        rc, j = self.wait_json(self.dns.url("nope.test"))
        self.assertEqual(rc, 124)
        self.assertEqual(j["reason"], "dns_not_found")
        self.assertEqual(j["last_error"], "nope.test A: no such name")
        rc, j = self.wait_json(self.dns.url("example.test", "&type=AAAA"))
        self.assertEqual(j["reason"], "dns_not_found")
        self.assertEqual(j["last_error"], "example.test AAAA: no record of this type")
        # An expected IPv6 address makes AAAA the type.
        rc, j = self.wait_json(self.dns.url("example.test", "&expect=::7"))
        self.assertEqual(j["last_error"], "example.test AAAA: no record of this type")

    def test_no_server(self):
        url = self.dns.url("example.test")  # nobody listens on that port
        rc, j = self.wait_json(url)
        self.assertEqual(rc, 124)
        self.assertEqual(j["reason"], "dns_fail")
        self.assertTrue(j["last_error"].startswith("example.test A: lookup failed: "),
                        j["last_error"])
        self.assertGreater(j["attempts"], 1)

    def test_usage_errors(self):
        for url, msg in [("dns://example.test?type=SRV", "unknown dns type 'SRV'"),
                         ("dns://example.test?server=dns.example", "dns server 'dns.example' is "
                          "not ADDR[:PORT]"),
                         ("dns://example.test?x=1", "unknown dns query key 'x'"),
                         ("dns://example.test:53", "dns URLs take no port")]:
            with self.subTest(url=url):
                rc, out, err = run_heed(["wait", "-t", "1", url])
                self.assertEqual(rc, 2, err)
                self.assertIn(msg, err)


if __name__ == "__main__":
    import harness
    harness.main()
