"""heed ping's reverse lookups (-n, -d) and its unprivileged ping socket,
in a network namespace this test creates and deletes.

Reverse lookups go through c-ares on the loop. In the namespace, ip netns
exec shows heed this test's /etc/hosts and /etc/resolv.conf
(/etc/netns/NS/), whose name server is a real dnsmasq on the namespace's
127.0.0.1:53 with PTR records; the reverse zone of 127.0.9.0/24 is
forwarded to a server that records each question and never answers, so
that lookups made one after another (a blocking getnameinfo()) and lookups
made at once can be told apart. The static heed, alone in a chroot with
only those two files, shows that its lookups need nothing else.

The unprivileged ping socket is used by a real non-root user: heed runs
under setpriv as nobody (uid and gid 65534, no groups, no capabilities),
with the namespace's net.ipv4.ping_group_range letting gid 65534 in, and
refused when the range does not."""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HEED, HeedTestCase, Registry, wait_until  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STATIC = os.environ.get("HEED_STATIC_BIN") or os.path.join(ROOT, "build-static", "heed")
DNSMASQ = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if os.path.exists("/usr/sbin/dnsmasq")
                                      else None)
SETPRIV = shutil.which("setpriv")
NOBODY = 65534
SILENT = ["127.0.9.%d" % i for i in range(1, 7)]  # their PTR questions are never answered

# Records every question (its arrival time and name) and answers none.
BLACKHOLE = r'''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
log = open(sys.argv[2], "a", buffering=1)
while True:
    q, peer = s.recvfrom(4096)
    labels, i = [], 12
    while i < len(q) and q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode("ascii", "replace"))
        i += 1 + q[i]
    log.write("%.6f %s\n" % (time.monotonic(), ".".join(labels).lower()))
'''


def read_lines(path):
    with open(path) as f:
        return f.read().splitlines()


def ip(*args):
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)
    if p.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), p.stderr.strip()))


class Namespace:
    """A network namespace with lo up and its own /etc/hosts and
    /etc/resolv.conf (for ip netns exec); deleted at the registry's close."""

    made = 0

    def __init__(self, reg):
        Namespace.made += 1
        self.name = "hdn%d-%d" % (os.getpid(), Namespace.made)
        self.etc = "/etc/netns/" + self.name
        ip("netns", "add", self.name)
        reg.callback("namespace " + self.name, lambda: ip("netns", "del", self.name))
        ip("-n", self.name, "link", "set", "lo", "up")
        os.makedirs(self.etc)
        reg.callback("directory " + self.etc, lambda: shutil.rmtree(self.etc))
        self.hosts = "127.0.0.1 localhost\n127.0.0.7 seven.test\n"
        self.resolv = "nameserver 127.0.0.1\n"
        with open(self.etc + "/hosts", "w") as f:
            f.write(self.hosts)
        with open(self.etc + "/resolv.conf", "w") as f:
            f.write(self.resolv)

    def argv(self, *argv):
        return ["ip", "netns", "exec", self.name] + list(argv)

    def run(self, *argv, timeout=60):
        env = dict(os.environ)  # the sanitizers' options pass; no socket kind is forced
        env.pop("HEED_ICMP_SOCKET", None)
        p = subprocess.run(self.argv(*argv), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, env=env)
        return p.returncode, p.stdout, p.stderr

    def sysctl(self, setting):
        subprocess.run(self.argv("sysctl", "-qw", setting), check=True, timeout=20)


def have_netns():
    return os.geteuid() == 0 and shutil.which("ip") is not None


@unittest.skipIf(not have_netns(), "network namespaces need root and ip")
@unittest.skipIf(not DNSMASQ, "dnsmasq not installed (Debian's dnsmasq-base)")
class ReverseLookupTests(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.class_reg = reg = Registry()
        try:
            cls.ns = Namespace(reg)
            d = reg.tempdir(prefix="heed-rdns-")
            cls.asked = os.path.join(d, "asked")
            open(cls.asked, "w").close()
            reg.popen(cls.ns.argv(sys.executable, "-c", BLACKHOLE, "5300", cls.asked))
            reg.popen(cls.ns.argv(
                DNSMASQ, "--keep-in-foreground", "--port=53", "--listen-address=127.0.0.1",
                "--bind-interfaces", "--no-resolv", "--no-hosts", "--no-poll",
                "--conf-file=/dev/null", "--pid-file=", "--user=root", "--cache-size=0",
                "--local=/127.in-addr.arpa/",
                "--ptr-record=5.0.0.127.in-addr.arpa,five.test",
                "--ptr-record=6.0.0.127.in-addr.arpa,a-much-longer-name.test",
                "--server=/9.0.127.in-addr.arpa/127.0.0.1#5300",
                "--log-facility=/dev/null"))
            wait_until(lambda: cls.ns.run("python3", "-c", PTR_PROBE)[1].strip() == "five.test",
                       10, what="dnsmasq in namespace " + cls.ns.name)
        except BaseException:
            reg.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.class_reg.close()

    def ping(self, *args, binary=HEED):
        return self.ns.run(binary, "ping", *args)

    def test_names_from_hosts_and_dns(self):
        for flag in ("-n", "-d"):
            with self.subTest(flag=flag):
                rc, out, err = self.ping(flag, "127.0.0.1", "127.0.0.5", "127.0.0.7", "127.0.0.8")
                self.assertEqual(rc, 0, err)
                # 127.0.0.8 has no name (NXDOMAIN): shown as given, as fping does.
                self.assertEqual(sorted(out.splitlines()),
                                 ["127.0.0.8 is alive", "five.test is alive",
                                  "localhost is alive", "seven.test is alive"], err)

    def test_count_mode_pads_to_the_longest_name(self):
        rc, out, err = self.ping("-n", "-c", "1", "-p", "20", "127.0.0.1", "127.0.0.6")
        self.assertEqual(rc, 0, err)
        summary = [x.split(" : ")[0] for x in err.splitlines() if "xmt/rcv" in x]
        self.assertEqual(summary, ["localhost" + " " * 14, "a-much-longer-name.test"], err)
        self.assertIn("a-much-longer-name.test : [0], 64 bytes", out)

    def test_lookups_run_at_once(self):
        start = len(read_lines(self.asked))
        rc, out, err = self.ping("-n", *SILENT)
        self.assertEqual(rc, 0, err)
        # No answer: each target is shown by its address once c-ares gives up.
        self.assertEqual(sorted(out.splitlines()), sorted("%s is alive" % a for a in SILENT))
        first = {}
        for line in read_lines(self.asked)[start:]:
            t, name = line.split()
            first.setdefault(name, float(t))
        wanted = {".".join(reversed(a.split("."))) + ".in-addr.arpa" for a in SILENT}
        self.assertEqual(set(first), wanted)
        # All were asked before the first could have timed out (1 s a try):
        # one blocking lookup after another could not do that.
        spread = max(first.values()) - min(first.values())
        self.assertLess(spread, 0.9, "questions arrived over %.2f s" % spread)

    @unittest.skipIf(not os.path.isfile(STATIC), "no static heed (make static builds it)")
    def test_static_heed_in_a_chroot_without_nss(self):
        jail = self.reg.tempdir(prefix="heed-chroot-")
        os.mkdir(os.path.join(jail, "etc"))
        with open(os.path.join(jail, "etc", "hosts"), "w") as f:
            f.write(self.ns.hosts)
        with open(os.path.join(jail, "etc", "resolv.conf"), "w") as f:
            f.write(self.ns.resolv)
        shutil.copy2(STATIC, os.path.join(jail, "heed"))
        rc, out, err = self.ns.run("chroot", jail, "/heed", "ping", "-n", "127.0.0.1",
                                   "127.0.0.5", "127.0.0.7", "127.0.0.8")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sorted(out.splitlines()),
                         ["127.0.0.8 is alive", "five.test is alive", "localhost is alive",
                          "seven.test is alive"], err)


# Asks the namespace's dnsmasq for 127.0.0.5's name (is it up yet?).
PTR_PROBE = r'''
import socket, struct
q = struct.pack(">HHHHHH", 9, 0x0100, 1, 0, 0, 0) + b"\x015\x010\x010\x03127\x07in-addr\x04arpa\x00" + struct.pack(">HH", 12, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
try:
    s.sendto(q, ("127.0.0.1", 53))
    r = s.recv(4096)
    i = len(q) + 12  # the answer: name pointer, type, class, ttl, rdlength, then the name
    labels = []
    while r[i]:
        labels.append(r[i + 1:i + 1 + r[i]].decode())
        i += 1 + r[i]
    print(".".join(labels))
except (OSError, IndexError):
    print("")
'''


@unittest.skipIf(not have_netns(), "network namespaces need root and ip")
@unittest.skipIf(not SETPRIV, "setpriv not installed (util-linux)")
class UnprivilegedSocketTests(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.ns = Namespace(self.reg)

    def as_nobody(self, *args):
        return self.ns.run(SETPRIV, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY,
                           "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
                           HEED, "ping", *args)

    def test_nobody_pings_through_the_ping_socket(self):
        self.ns.sysctl("net.ipv4.ping_group_range=%d %d" % (NOBODY, NOBODY))
        targets = ["127.0.0.1"]
        if harness.ipv6_loopback():
            targets.append("::1")
        rc, out, err = self.as_nobody("-c", "2", "-p", "20", *targets)
        self.assertEqual(rc, 0, err)
        for t in targets:
            self.assertRegex(out, r"(?m)^%s +: \[1\], 64 bytes" % t.replace(".", r"\."))
            self.assertRegex(err, r"(?m)^%s +: xmt/rcv/%%loss = 2/2/0%%"
                             % t.replace(".", r"\."))

    def test_nobody_outside_the_range_is_told_why(self):
        self.ns.sysctl("net.ipv4.ping_group_range=1 0")
        rc, out, err = self.as_nobody("127.0.0.1")
        self.assertEqual(rc, 4, out + err)
        self.assertIn("raw socket: Operation not permitted (needs root or CAP_NET_RAW)", err)
        self.assertIn("group %d is outside net.ipv4.ping_group_range '1 0'" % NOBODY, err)


if __name__ == "__main__":
    harness.main()
