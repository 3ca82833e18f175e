"""heed ping against fping (Debian's fping 5.1) on the same target lists, in
a private pair of network namespaces (see netns.py): hosts that answer
(loopback), a silent host, a host behind a router that answers "host
unreachable", and names that do not resolve. Output is compared line for
line once round-trip times are masked; heed prints a target's "is
unreachable" line when it gives up rather than at the very end, so lines
are compared as sorted lists where fping's order depends on timing.
"ICMP Host Unreachable" lines on stderr are compared as strictly as the
rest, one per echo request: the router in netns.py answers every request
sent to 10.78.x, never rate-limited, so fping prints the same lines on
every run.

Also here because they need a namespace: the unprivileged ping socket
(HEED_ICMP_SOCKET=dgram with net.ipv4.ping_group_range opened inside the
namespace) and `heed wait icmp://` against the silent and erroring hosts."""

import json
import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import netns  # noqa: E402

HEED = harness.HEED
ALIVE, SILENT, ERRING = "127.0.0.1", "10.77.0.2", "10.78.0.5"
NET = None


def setUpModule():
    global NET
    if not netns.have_netns() or not shutil.which("fping"):
        raise unittest.SkipTest("needs root, ip netns and fping")
    NET = netns.Net()


def tearDownModule():
    if NET:
        NET.close()


def mask(text):
    """Round-trip times and elapsed time vary between runs: mask them."""
    text = re.sub(r"\d+\.\d+e[+-]\d+|\d+\.\d+|NaN", "T", text)
    return re.sub(r"(?m)^\[T\] ", "", text)


def lines(text):
    return sorted(l for l in text.splitlines())


def error_line(target):
    """What both print on stderr for an echo request the router refuses."""
    return "ICMP Host Unreachable from 10.77.0.2 for ICMP Echo sent to %s\n" % target


class Compare(unittest.TestCase):
    maxDiff = None

    def both(self, args, timeout=60):
        h = NET.run([HEED, "ping"] + args, timeout=timeout)
        f = NET.run(["fping"] + args, timeout=timeout)
        return h, f

    def same(self, args, sort=True):
        (hrc, hout, herr), (frc, fout, ferr) = self.both(args)
        self.assertEqual(hrc, frc, "exit codes differ for %s\nheed: %s%s\nfping: %s%s"
                         % (args, hout, herr, fout, ferr))
        conv = lines if sort else (lambda t: t.splitlines())
        self.assertEqual(conv(mask(hout)), conv(mask(fout)), "stdout for %s" % args)
        self.assertEqual(conv(mask(herr)), conv(mask(ferr)), "stderr for %s" % args)
        return hrc, hout, herr

    def test_alive_silent_erring(self):
        rc, out, err = self.same(["-t", "100", "-r", "1", ALIVE, SILENT, ERRING, "::1"])
        self.assertEqual(rc, 1)
        self.assertIn("%s is unreachable" % SILENT, out)
        # one line per echo request: the first and the retry
        self.assertEqual(err, 2 * error_line(ERRING))

    def test_all_alive(self):
        rc, out, _ = self.same([ALIVE, "127.0.0.2", "::1", "localhost"])
        self.assertEqual(rc, 0)
        self.assertEqual(lines(out), lines("127.0.0.1 is alive\n127.0.0.2 is alive\n"
                                           "::1 is alive\nlocalhost is alive\n"))

    def test_name_not_found(self):
        rc, out, err = self.same(["-t", "100", "nosuch.invalid", ALIVE])
        self.assertEqual(rc, 2)
        self.assertEqual(err, "nosuch.invalid: Name or service not known\n")

    def test_count(self):
        rc, out, err = self.same(["-c", "2", "-p", "50", "-t", "100", ALIVE, SILENT, "::1"])
        self.assertEqual(rc, 1)
        self.assertIn("10.77.0.2 : [1], timed out (NaN avg, 100% loss)", out)
        self.assertIn("10.77.0.2 : xmt/rcv/%loss = 2/0/100%", err)

    def test_count_order_of_summaries(self):
        # the closing lines come in input order, after a blank line
        _, _, err = self.same(["-c", "1", "-t", "100", SILENT, ALIVE, "127.0.0.3"], sort=False)
        self.assertTrue(err.startswith("\n10.77.0.2 : xmt/rcv/%loss = 1/0/100%\n"), err)

    def test_vcount(self):
        rc, _, err = self.same(["-C", "3", "-p", "30", "-t", "100", ALIVE, SILENT])
        self.assertEqual(rc, 1)
        self.assertIn("10.77.0.2 : - - -", err)

    def test_quiet_count(self):
        _, _, err = self.same(["-q", "-c", "2", "-p", "30", "-t", "100", ALIVE, SILENT, ERRING])
        self.assertNotIn("ICMP", err)

    def test_stats(self):
        (hrc, hout, herr), (frc, fout, ferr) = self.both(
            ["-s", "-t", "100", "-r", "2", ALIVE, SILENT, "nosuch.invalid"])
        self.assertEqual(hrc, frc)
        self.assertEqual(hout, fout)
        self.assertEqual(mask(herr), mask(ferr))
        self.assertIn("       3 timeouts (waiting for response)", herr)

    def test_alive_and_unreachable_lists(self):
        self.same(["-a", "-t", "100", "-r", "0", ALIVE, SILENT, "127.0.0.9"])
        self.same(["-u", "-t", "100", "-r", "0", ALIVE, SILENT, "127.0.0.9"])
        self.same(["-a", "-q", "-c", "1", "-t", "100", ALIVE, SILENT])

    def test_generate(self):
        rc, out, _ = self.same(["-a", "-g", "127.0.0.0/29"])
        self.assertEqual(len(out.splitlines()), 6)
        self.same(["-a", "-g", "127.0.0.250", "127.0.1.2"])
        rc, out, err = self.same(["-u", "-t", "100", "-r", "0", "-g", "10.78.0.0/30"])
        self.assertEqual(lines(out), ["10.78.0.1", "10.78.0.2"])
        self.assertEqual(lines(err), lines(error_line("10.78.0.1") + error_line("10.78.0.2")))

    def test_lists_keep_icmp_errors(self):
        # -a, -u and -x choose what stdout lists; like fping, heed still
        # prints ICMP errors on stderr (it dropped them: bug). Only -q silences them.
        for flags in (["-u"], ["-a"], ["-x", "1"], ["-u", "-c", "1"]):
            _, _, err = self.same(flags + ["-t", "100", "-r", "0", ALIVE, ERRING])
            self.assertIn(error_line(ERRING), err, flags)
        _, out, err = self.same(["-q", "-t", "100", "-r", "0", ALIVE, ERRING])
        self.assertEqual((out, err), ("", ""))

    def test_every_error_is_reported(self):
        # Each of many requests in a row gets its error, and the next run
        # still does: with the router's old `route unreachable`, the kernel
        # answered 5 and then 1 a second, and the lines came and went.
        rc, out, err = self.same(["-t", "100", "-r", "0", "-g", "10.78.0.0/28"])
        self.assertEqual(rc, 1)
        self.assertEqual(lines(err), lines("".join(error_line("10.78.0.%d" % i)
                                                   for i in range(1, 15))))
        _, _, err = self.same(["-t", "100", "-r", "0", "10.78.0.9"])
        self.assertEqual(err, error_line("10.78.0.9"))

    def test_error_names_the_target(self):
        # "sent to" names the target as its other lines do: the name given,
        # or with -A the address (heed printed the address always: bug)
        name, addr = "erring.test", netns.HOSTS["erring.test"]
        _, out, err = self.same(["-t", "100", "-r", "0", name])
        self.assertEqual((out, err), ("%s is unreachable\n" % name, error_line(name)))
        _, out, err = self.same(["-A", "-t", "100", "-r", "0", name])
        self.assertEqual((out, err), ("%s is unreachable\n" % addr, error_line(addr)))
        _, out, err = self.same(["-c", "1", "-t", "100", name])
        self.assertIn(error_line(name), err)

    def test_min_reachable(self):
        rc, out, _ = self.same(["-x", "1", "-t", "100", "-r", "0", ALIVE, SILENT])
        self.assertEqual((rc, out), (0, "Enough hosts reachable (required: 1, reachable: 1)\n"))
        rc, out, _ = self.same(["-x", "2", "-q", "-t", "100", "-r", "0", ALIVE, SILENT])
        self.assertEqual(rc, 1)

    def test_elapsed_and_addr(self):
        self.same(["-e", ALIVE])
        self.same(["-a", "-e", ALIVE])
        self.same(["-A", "localhost"])

    def test_data_size(self):
        self.same(["-b", "100", "-c", "1", ALIVE])


class HeedOnly(unittest.TestCase):
    """What fping 5.1 cannot compare: -X, IPv6 ranges, the ping socket, wait."""

    def test_fast_reachable_stops_early(self):
        rc, out, err = NET.run([HEED, "ping", "-X", "1", "-t", "2000", "-r", "3", SILENT,
                                ALIVE], timeout=30)
        self.assertEqual(rc, 0, err)
        self.assertIn("Enough hosts reachable (required: 1, reachable: 1)", out)

    def test_json(self):
        rc, out, err = NET.run([HEED, "ping", "--json", "-t", "100", "-r", "1", ALIVE, SILENT,
                                "nosuch.invalid"])
        self.assertEqual(rc, 2, err)
        objs = {o["host"]: o for o in map(json.loads, out.splitlines())}
        self.assertEqual(set(objs), {ALIVE, SILENT, "nosuch.invalid"})
        self.assertEqual(objs[SILENT], {"host": SILENT, "address": SILENT, "alive": False,
                                        "xmt": 2, "rcv": 0, "loss": 100, "min_ms": None,
                                        "avg_ms": None, "max_ms": None})
        self.assertEqual(objs["nosuch.invalid"], {"host": "nosuch.invalid", "address": None,
                                                  "alive": False,
                                                  "error": "Name or service not known"})
        self.assertTrue(objs[ALIVE]["alive"])
        self.assertEqual(err, "")

    def test_ping_socket(self):
        NET.sysctl(NET.a, "net.ipv4.ping_group_range=0 0")
        try:
            env = dict(os.environ, HEED_ICMP_SOCKET="dgram")
            rc, out, err = NET.run([HEED, "ping", "-t", "100", "-r", "0", ALIVE, "::1", SILENT,
                                    ERRING], env=env)
            self.assertEqual(rc, 1, err)
            self.assertEqual(lines(out), lines("127.0.0.1 is alive\n::1 is alive\n"
                                               "10.77.0.2 is unreachable\n"
                                               "10.78.0.5 is unreachable\n"))
            self.assertIn("ICMP Host Unreachable from 10.77.0.2 for ICMP Echo sent to "
                          "10.78.0.5", err)
        finally:
            NET.sysctl(NET.a, "net.ipv4.ping_group_range=1 0")
        # closed again: the error names both socket kinds and the sysctl
        rc, out, err = NET.run([HEED, "ping", ALIVE], env=dict(os.environ,
                                                             HEED_ICMP_SOCKET="dgram"))
        self.assertEqual(rc, 4)
        self.assertIn("net.ipv4.ping_group_range is '1 0'", err)

    def test_long_name_keeps_whole_summaries(self):
        # Summaries pad every name to the longest target given; one longer
        # than a fixed 8 KiB line once overran it (-c: a crash) or cut the
        # times off the line (-C).
        name = "a" * 8300 + ".invalid"
        pad = re.escape(ALIVE.ljust(len(name)))
        rc, out, err = NET.run([HEED, "ping", "-c", "1", "-t", "200", ALIVE, name])
        self.assertEqual(rc, 2, err[-300:])
        self.assertIn(name + ": ", err)
        self.assertRegex(err, r"(?m)^%s : xmt/rcv/%%loss = 1/1/0%%, min/avg/max = "
                              r"[\d.]+/[\d.]+/[\d.]+$" % pad)
        rc, out, err = NET.run([HEED, "ping", "-C", "2", "-p", "20", "-t", "200", ALIVE, name])
        self.assertEqual(rc, 2, err[-300:])
        self.assertRegex(err, r"(?m)^%s : [\d.]+ [\d.]+$" % pad)

    def test_wait_icmp(self):
        rc, out, err = NET.run([HEED, "wait", "-t", "5s", "icmp://127.0.0.1", "icmp://[::1]"])
        self.assertEqual(rc, 0, err)
        rc, out, err = NET.run([HEED, "wait", "-t", "500ms", "icmp://" + ERRING])
        self.assertEqual(rc, 124)
        self.assertRegex(err, r"icmp://10\.78\.0\.5: ICMP Host Unreachable from 10\.77\.0\.2 "
                              r"\(\d+ attempts?, ")
        rc, out, err = NET.run([HEED, "wait", "-t", "500ms", "--attempt-timeout", "100ms",
                                "--json", "icmp://" + SILENT])
        self.assertEqual(rc, 124)
        self.assertIn('"reason":"timeout"', out)


if __name__ == "__main__":
    harness.main()
