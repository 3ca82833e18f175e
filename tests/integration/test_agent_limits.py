"""heed agent against clients that would take it down, all on loopback:
the attackers connect from 127.0.0.2-11 (bound as source addresses), the
well-behaved client from 127.0.0.1. Issue 8:

  * item 2: run out of file descriptors (the test lowers the agent's
    limit itself, as a shell or unit file would): the agent raises its
    soft limit to the hard one, caps connections below it, evicts idle
    connections or pauses accepting instead of spinning; /v1/status still
    answers, the agent's CPU stays low, stderr gets a few lines at most;
  * item 3: 10 addresses x 200 idle connections, re-opened as fast as the
    agent closes them, do not lock a well-behaved client out;
  * item 9: 1,000 checks, and 1,500 connections that ask for the list or
    /metrics and never read: the agent's memory stays bounded and
    /v1/status answers;
  * IPv6 clients count per /64: in a network namespace the test makes,
    three addresses of one /64 share one client's cap, another /64 has
    its own.

Every flood is bounded in count and time, and its sockets are closed by
the test. The figures (CPU, RSS, latencies) are printed for the record;
the asserted bounds are generous (they hold under ASan): timing goals are
bench/'s."""

import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, SLOW, HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, http_call, tcp_listener, to_yaml  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
ATTACKERS = ["127.0.0.%d" % i for i in range(2, 12)]

# The test itself holds thousands of sockets.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if _soft < _hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard, _hard))


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid, key):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^%s:\s+(\d+) kB" % key, f.read(), re.M)
    return int(m.group(1))


def nofile(pid):
    with open("/proc/%d/limits" % pid) as f:
        m = re.search(r"^Max open files\s+(\d+)\s+(\d+)", f.read(), re.M)
    return int(m.group(1)), int(m.group(2))


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else None


def limit_nofile(soft, hard):
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class Flood:
    """Connections to the agent from the attackers' addresses, each
    sending request (or nothing) and never reading; closed by close() or
    at the end of the test."""

    def __init__(self, reg, port, per_addr, request=b"", rcvbuf=None, addrs=ATTACKERS):
        self.port, self.request, self.rcvbuf = port, request, rcvbuf
        self.socks = []
        self.opened = self.failed = 0
        self.lock = threading.Lock()
        reg.callback("close the flood's sockets", self.close)
        for _ in range(per_addr):
            for addr in addrs:
                self.open(addr)

    def open(self, addr):
        s = socket.socket()
        try:
            if self.rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
            s.bind((addr, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", self.port))
            if self.request:
                s.sendall(self.request)
        except OSError:
            s.close()
            self.failed += 1
            return
        with self.lock:
            self.socks.append((addr, s))
            self.opened += 1

    def reap(self):
        """Closes the sockets the agent closed; returns their addresses."""
        gone = []
        with self.lock:
            keep = []
            for addr, s in self.socks:
                try:
                    closed = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
                except BlockingIOError:
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    s.close()
                    gone.append(addr)
                else:
                    keep.append((addr, s))
            self.socks = keep
        return gone

    def close(self):
        with self.lock:
            for _, s in self.socks:
                s.close()
            self.socks = []


class Limits(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.up = tcp_listener(self.reg)

    def status_ok(self, agent, timeout=5):
        """GET /v1/status answers 200 within timeout (scaled); its time."""
        t0 = time.monotonic()
        r = agent.call("GET", "/v1/status", timeout=timeout)
        took = time.monotonic() - t0
        self.assertEqual(r.status, 200, r)
        self.assertLess(took, scaled(timeout))
        return took

    def test_soft_limit_raised_to_hard(self):
        a = Agent(self.reg, {}, preexec_fn=limit_nofile(256, 4096)).start()
        self.assertEqual(nofile(a.proc.pid), (4096, 4096))
        a.stop()
        b = Agent(self.reg, {}, preexec_fn=limit_nofile(256, 256)).start()
        self.assertEqual(nofile(b.proc.pid), (256, 256))

    def exhaust(self, config):
        """1,100 idle connections from 6 addresses against an agent limited
        to 256 descriptors; returns (agent, cpu share, stderr lines)."""
        a = Agent(self.reg, config, preexec_fn=limit_nofile(256, 256)).start()
        pid = a.proc.pid
        flood = Flood(self.reg, a.port, 184, addrs=ATTACKERS[:6])
        self.assertGreater(flood.opened, 1000)
        c0, t0 = cpu_s(pid), time.monotonic()
        time.sleep(3)
        share = (cpu_s(pid) - c0) / (time.monotonic() - t0)
        took = self.status_ok(a)
        err = a.stderr()
        print("\n  %s: %d connections opened, agent CPU %.1f%% over 3 s, /v1/status in %.1f ms, "
              "%d stderr lines" % (config.get("limits", "defaults"), flood.opened, share * 100,
                                   took * 1000, len(err.splitlines())), file=sys.stderr)
        flood.close()
        return a, share, err

    def test_descriptor_exhaustion_with_derived_cap(self):
        # 256 descriptors: the cap is 192 connections, a quarter kept.
        a, share, err = self.exhaust({})
        self.assertLess(share, 0.5)  # the issue saw 100 %
        self.assertEqual(err, "")  # nothing to complain about: the cap held
        text = a.get("/metrics").body.decode()
        self.assertGreater(metric(text, "heed_api_connections_evicted_total"), 800)
        self.assertEqual(a.stop(), 0, a.stderr())

    def test_descriptor_exhaustion_past_the_limit(self):
        # A cap the descriptors cannot hold: accept() fails with EMFILE.
        a, share, err = self.exhaust({"limits": {"max_conns": 5000}})
        self.assertLess(share, 0.5)
        accept_lines = [l for l in err.splitlines() if "cannot accept" in l]
        self.assertLessEqual(len(accept_lines), 6, err)  # at most one a second
        self.assertLess(len(err), 4000)  # the issue saw 140 MB
        text = a.get("/metrics").body.decode()
        room = metric(text, "heed_api_connections_evicted_total")
        self.assertGreater(room, 800)  # each idle connection evicted gave a descriptor back
        self.assertEqual(a.stop(), 0, a.stderr())

    def test_idle_clients_do_not_lock_others_out(self):
        # The old fixed cap, 1,024; the attackers hold 200 connections each
        # (the per-client default) from 10 addresses, and re-open every one
        # the agent closes, for as long as the good client works.
        a = Agent(self.reg, {"limits": {"max_conns": 1024}}).start()
        flood = Flood(self.reg, a.port, 200)
        self.assertGreater(flood.opened, 1900)
        stop = threading.Event()
        reopened = [0]

        def attack():
            end = time.monotonic() + scaled(30)
            while not stop.is_set() and time.monotonic() < end and reopened[0] < 50000:
                for addr in flood.reap():
                    flood.open(addr)
                    reopened[0] += 1
                time.sleep(0.01)
        t = threading.Thread(target=attack, daemon=True)
        t.start()
        times, bad = [], []
        try:
            for i in range(100):
                t0 = time.monotonic()
                try:
                    r = http_call(a.port, "GET", "/v1/status", timeout=10)
                    if r.status != 200:
                        bad.append(r.status)
                except OSError as e:
                    bad.append(repr(e))
                times.append(time.monotonic() - t0)
        finally:
            stop.set()
            t.join(scaled(40))
        times.sort()
        print("\n  100 requests under 10 x 200 idle connections (%d re-opened): median %.1f ms, "
              "p99 %.1f ms, max %.1f ms, failed %d" % (reopened[0], times[50] * 1000,
                                                        times[98] * 1000, times[-1] * 1000,
                                                        len(bad)), file=sys.stderr)
        self.assertEqual(bad, [])
        self.assertLess(times[-1], scaled(5))
        text = a.get("/metrics").body.decode()
        self.assertGreater(metric(text, "heed_api_connections_evicted_total"), 900)
        flood.close()
        self.assertEqual(a.stop(), 0, a.stderr())

    def test_unread_replies_stay_bounded(self):
        checks = [{"id": "c%04d" % i, "name": "c%04d" % i,
                   "target": "tcp://127.0.0.1:%d" % self.up.port, "interval": "1h"}
                  for i in range(1000)]
        # Under ASan: its quarantine keeps up to 256 MB of freed memory on
        # purpose; without it RSS is heed's, plus redzones and shadow
        # memory (hence the larger bound below).
        env = os.environ.get("ASAN_OPTIONS")
        if SLOW > 1:
            os.environ["ASAN_OPTIONS"] = (env + ":" if env else "") + \
                "quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
        try:
            a = Agent(self.reg, {"checks": checks}).start()
        finally:
            if env is None:
                os.environ.pop("ASAN_OPTIONS", None)
            else:
                os.environ["ASAN_OPTIONS"] = env
        pid = a.proc.pid
        size = len(a.get("/v1/checks").body)
        self.assertGreater(size, 300000)
        rss0 = status_kb(pid, "VmRSS")
        lst = Flood(self.reg, a.port, 100, rcvbuf=4096,
                    request=b"GET /v1/checks HTTP/1.1\r\nHost: x\r\n\r\n")
        met = Flood(self.reg, a.port, 50, rcvbuf=4096,
                    request=b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((lst.opened, met.opened), (1000, 500))
        peak = 0
        for _ in range(6):
            time.sleep(0.5)
            peak = max(peak, status_kb(pid, "VmRSS"))
        # The loop renders 1,500 big replies meanwhile (4 s under ASan on an
        # idle machine): the bound says "it answered", generously.
        took = self.status_ok(a, timeout=10)
        hwm = status_kb(pid, "VmHWM")
        text = a.get("/metrics").body.decode()
        print("\n  1,000 unread GET /v1/checks (%d bytes each) + 500 unread /metrics: RSS %.1f -> "
              "%.1f MB (peak seen %.1f, VmHWM %.1f), unsent held %.1f MB, closed for it %d, "
              "/v1/status in %.1f ms"
              % (size, rss0 / 1024, status_kb(pid, "VmRSS") / 1024, peak / 1024, hwm / 1024,
                 metric(text, "heed_api_unsent_bytes") / 1e6,
                 metric(text, "heed_api_slow_readers_closed_total", '{reason="unsent_total"}'),
                 took * 1000), file=sys.stderr)
        self.assertLess(hwm, (100 if SLOW == 1 else 150) * 1024)  # the issue saw 571 MB
        lst.close()
        met.close()
        self.assertEqual(a.stop(), 0, a.stderr())

    @unittest.skipIf(os.geteuid() != 0 or not shutil.which("ip"), "needs root and ip(8)")
    def test_ipv6_clients_count_per_64(self):
        ns = "hdlim%d" % (os.getpid() % 100000)
        subprocess.run(["ip", "netns", "add", ns], check=True, timeout=20)
        self.reg.callback("delete netns " + ns,
                          lambda: subprocess.run(["ip", "netns", "del", ns], timeout=20))
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True, timeout=20)
        addrs = ["2001:db8:1:2::1", "2001:db8:1:2::10", "2001:db8:1:2::11", "2001:db8:1:2::12",
                 "2001:db8:1:3::10"]
        for a in addrs:
            subprocess.run(["ip", "-n", ns, "addr", "add", a + "/128", "dev", "lo", "nodad"],
                           check=True, timeout=20)
        d = self.reg.tempdir()
        cfg = os.path.join(d, "heed.yaml")
        with open(cfg, "w") as f:
            f.write(to_yaml({"bind": "[%s]:18600" % addrs[0], "data_dir": os.path.join(d, "data"),
                             "tokens": [{"secret": "m", "role": "management"}],
                             "allow_plaintext": True, "limits": {"max_conns_per_client": 2}}))
        with open(os.path.join(d, "out"), "w") as o, open(os.path.join(d, "err"), "w") as e:
            proc = self.reg.popen(["ip", "netns", "exec", ns, HEED, "agent", "-c", cfg],
                                  stdout=o, stderr=e)

        def up():
            with open(os.path.join(d, "out")) as f:
                return proc.poll() is not None or "API:" in f.read()
        wait_until(up, 20, what="the agent's API line")
        self.assertIsNone(proc.poll())
        client = r"""
import json, socket, sys
out, keep = [], []
for src in sys.argv[2:]:
    s = socket.socket(socket.AF_INET6)
    s.bind((src, 0))
    s.settimeout(5)
    s.connect((sys.argv[1], 18600))
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Consul-Token: m\r\n\r\n")
    try:
        out.append(s.recv(12).decode() or "closed")
    except ConnectionResetError:  # closed at once, the request unread
        out.append("closed")
    except OSError as e:
        out.append("error " + str(e))
    keep.append(s)
print(json.dumps(out))
"""
        r = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", client] + addrs,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        # ::10 and ::11 fill 2001:db8:1:2::/64's two; ::12 is refused;
        # 2001:db8:1:3::10 is another client.
        self.assertEqual(json.loads(r.stdout), ["HTTP/1.1 200", "HTTP/1.1 200", "closed",
                                                "HTTP/1.1 200"])
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(scaled(30)), 0)


if __name__ == "__main__":
    main()
