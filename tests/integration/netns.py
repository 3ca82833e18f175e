"""netns — a private network for the ICMP tests, made of namespaces this
test creates and always deletes.

    ns "a" (where heed and fping run)         ns "b" (the far side)
    lo: 127.0.0.1/8, ::1                      net.ipv4.icmp_echo_ignore_all=1
    veth 10.77.0.1/24  <------------------->  veth 10.77.0.2/24   (a silent host)
    route 10.78.0.0/24 via 10.77.0.2          route 10.78.0.0/24 dev <dead end>
                                              (ICMP Host Unreachable for 10.78.x)

Every echo request to 10.78.x gets exactly one "ICMP Host Unreachable from
10.77.0.2", about 10-20 ms later, however many are sent: "b" routes
10.78.0.0/24 onto a veth ("dead end", whose peer is also in "b") where no
one answers ARP, with one ARP probe and a 10 ms retransmit time, so each
lookup fails after one probe and the kernel answers every packet queued
on it with Host Unreachable (ipv4_link_failure -> icmp_send). Those errors
are limited only by the per-namespace ICMP limits, which "b" lifts
(icmp_ratelimit=0, icmp_msgs_per_sec and icmp_msgs_burst high).

Not `ip route add unreachable 10.78.0.0/24`: errors for such routes come
from ip_error(), which allows a source a burst of 5 and then 1 a second
(net.ipv4.route.error_burst / error_cost, sysctls of the host's initial
namespace only; a test must not change them). A test module sends far more
than that, so which of heed or fping got an error, and so printed an
"ICMP Host Unreachable" line, depended on timing.

Names resolve against a DNS responder in "a" on 127.0.0.1:53 that answers
NXDOMAIN to every question (/etc/netns/<a>/resolv.conf points at it), so
"a name that does not resolve" means the same thing to glibc (fping) and
c-ares (heed). /etc/netns/<a>/hosts is the host's /etc/hosts ("localhost"
as usual) plus the names in HOSTS, which both read the same way.

Nothing here can reach beyond the two namespaces: "a" has routes only to
its veth and to "b", and "b" has no other interface than its side of that
veth and the dead-end pair.
"""

import os
import shutil
import subprocess
import sys
import time

# Names in namespace "a"'s /etc/hosts, besides the host's own entries.
HOSTS = {"erring.test": "10.78.0.7"}  # behind the router: Host Unreachable

DNS_SERVER = r'''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
s.settimeout(1.0)
end = time.time() + float(sys.argv[1])
while time.time() < end:
    try:
        q, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    if len(q) < 12:
        continue
    # same id and question; QR, RD copied, RA, RCODE 3 (NXDOMAIN); no answers
    flags = 0x8000 | (q[2] << 8 & 0x0100) | 0x0080 | 3
    s.sendto(q[:2] + bytes([flags >> 8, flags & 255]) + q[4:6] + b"\0\0\0\0" + q[10:12] + q[12:], peer)
'''


def have_netns():
    return os.geteuid() == 0 and shutil.which("ip") is not None


def _ip(*args, check=True):
    p = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=20)
    if check and p.returncode != 0:
        raise RuntimeError("ip %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


class Net:
    """The two namespaces; use as a context manager, or call close()."""

    def __init__(self, dns=True):
        tag = "hdp%d%d" % (os.getpid() % 100000, int(time.time() * 1000) % 100000)
        self.a, self.b = tag + "a", tag + "b"
        self.etc = "/etc/netns/" + self.a
        self.dns = None
        self._made = []
        try:
            self._setup(dns)
        except BaseException:
            self.close()
            raise

    def _setup(self, dns):
        a, b = self.a, self.b
        _ip("netns", "add", a)
        self._made.append(a)
        _ip("netns", "add", b)
        self._made.append(b)
        va, vb = a[-10:] + "v", b[-10:] + "v"
        _ip("link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b)
        _ip("-n", a, "link", "set", "lo", "up")
        _ip("-n", a, "addr", "add", "10.77.0.1/24", "dev", va)
        _ip("-n", a, "link", "set", va, "up")
        _ip("-n", a, "route", "add", "10.78.0.0/24", "via", "10.77.0.2")
        _ip("-n", b, "link", "set", "lo", "up")
        _ip("-n", b, "addr", "add", "10.77.0.2/24", "dev", vb)
        _ip("-n", b, "link", "set", vb, "up")
        # the dead end: ARP for 10.78.x goes out of dx and is never answered
        dx, dy = b[-10:] + "x", b[-10:] + "y"
        _ip("link", "add", dx, "netns", b, "type", "veth", "peer", "name", dy, "netns", b)
        _ip("-n", b, "link", "set", dx, "up")
        _ip("-n", b, "link", "set", dy, "up")
        self.sysctl(b, "net.ipv4.neigh.%s.mcast_solicit=1" % dx,
                    "net.ipv4.neigh.%s.ucast_solicit=0" % dx,
                    "net.ipv4.neigh.%s.app_solicit=0" % dx,
                    "net.ipv4.neigh.%s.retrans_time_ms=10" % dx)
        _ip("-n", b, "route", "add", "10.78.0.0/24", "dev", dx)
        self.sysctl(b, "net.ipv4.ip_forward=1", "net.ipv4.icmp_echo_ignore_all=1",
                    "net.ipv4.icmp_ratelimit=0", "net.ipv4.icmp_msgs_per_sec=100000",
                    "net.ipv4.icmp_msgs_burst=10000")
        if dns:
            os.makedirs(self.etc, exist_ok=True)
            with open(self.etc + "/resolv.conf", "w") as f:
                f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
            with open("/etc/hosts") as f:
                hosts = f.read()
            if hosts and not hosts.endswith("\n"):
                hosts += "\n"
            with open(self.etc + "/hosts", "w") as f:
                f.write(hosts + "".join("%s %s\n" % (addr, name) for name, addr in HOSTS.items()))
            self.dns = subprocess.Popen(["ip", "netns", "exec", a, sys.executable, "-c",
                                         DNS_SERVER, "600"], stdin=subprocess.DEVNULL)
            time.sleep(0.2)

    def sysctl(self, ns, *settings):
        for kv in settings:
            subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", kv], check=True,
                           timeout=20)

    def run(self, argv, timeout=60, env=None, input=None, ns=None):
        """Runs argv inside namespace "a"; returns (rc, stdout, stderr)."""
        full = ["ip", "netns", "exec", ns or self.a] + list(argv)
        try:
            p = subprocess.run(full, capture_output=True, text=True, timeout=timeout,
                               env=env, input=input,
                               stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("%s still running after %d s (killed)"
                                 % (" ".join(argv), timeout)) from e
        return p.returncode, p.stdout, p.stderr

    def close(self):
        if self.dns:
            self.dns.terminate()
            try:
                self.dns.wait(10)
            except subprocess.TimeoutExpired:
                self.dns.kill()
                self.dns.wait(10)
            self.dns = None
        for ns in reversed(self._made):
            _ip("netns", "del", ns, check=False)
        self._made = []
        if os.path.isdir(self.etc):
            shutil.rmtree(self.etc, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
