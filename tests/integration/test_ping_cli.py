"""heed ping's command line on loopback only (127.0.0.0/8 and ::1 answer on
Linux): help, argument errors (exit 3, naming the argument), targets from a
file and standard input, -g ranges (IPv4 and IPv6), --json, --rate, -l with
^C, and a large sweep that must find every host in little memory."""

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, run_heed, scaled  # noqa: E402

def _icmp_allowed():
    """A raw socket (root) or an unprivileged ping socket can be opened."""
    import socket
    for kind in (socket.SOCK_RAW, socket.SOCK_DGRAM):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
            return True
        except OSError:
            pass
    return False


ROOT_ONLY = unittest.skipUnless(_icmp_allowed(), "needs an ICMP socket (root or "
                                "net.ipv4.ping_group_range)")


def run_input(args, text, timeout=30):
    p = subprocess.run([harness.HEED] + args, input=text, capture_output=True, text=True,
                       timeout=scaled(timeout))
    return p.returncode, p.stdout, p.stderr


class Help(HeedTestCase):
    def test_help(self):
        rc, out, err = run_heed(["ping", "--help"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(out.startswith("usage: heed ping [flags] [TARGET...]"), out)
        for word in ("-c N", "-C N", "-g ADDR/PREFIX", "--json", "--rate", "-x N", "-X N",
                     "ping_group_range"):
            self.assertIn(word, out)
        rc, out, _ = run_heed(["--help"])
        self.assertRegex(out, r"(?m)^  ping +ICMP liveness sweep")

    def test_durations_with_a_unit(self):
        # -t2s works as -t 2s and as -t 2000 (milliseconds, fping's unit).
        for flags in (["-t2s"], ["-t", "2s"], ["-t", "2000"], ["-t500ms"]):
            with self.subTest(flags=flags):
                rc, out, err = run_heed(["ping", "-r", "0"] + flags + ["127.0.0.1"])
                self.assertEqual((rc, out), (0, "127.0.0.1 is alive\n"), err)
        rc, out, err = run_heed(["ping", "-t", "2x", "127.0.0.1"])
        self.assertEqual(rc, 3, err)
        self.assertIn("invalid value '2x' for -t", err)

    def test_version_as_fping(self):
        # fping -v prints its version; heed ping -v, -V and --version print
        # heed's, the same as heed --version, and send nothing (a target
        # given with it is not pinged: no "is alive" line).
        _, want, _ = run_heed(["--version"])
        self.assertRegex(want, r"^heed \d+\.\d+\.\d+\n$")
        for flags in (["-v"], ["-V"], ["--version"], ["-V", "127.0.0.1"]):
            with self.subTest(flags=flags):
                rc, out, err = run_heed(["ping"] + flags)
                self.assertEqual((rc, out, err), (0, want, ""))


class ArgErrors(HeedTestCase):
    def bad(self, args, needle):
        rc, out, err = run_heed(["ping"] + args)
        self.assertEqual(rc, 3, "%s: %s%s" % (args, out, err))
        self.assertEqual(out, "")
        self.assertIn(needle, err)
        self.assertTrue(err.startswith("heed ping: "), err)

    def test_errors_name_the_argument(self):
        self.bad(["-c", "x", "127.0.0.1"], "invalid value 'x' for -c")
        self.bad(["-c0", "127.0.0.1"], "invalid value '0' for -c")
        self.bad(["-z", "127.0.0.1"], "unknown flag '-z'")
        self.bad(["--frobnicate", "127.0.0.1"], "unknown flag '--frobnicate'")
        self.bad(["-t", "-5", "127.0.0.1"], "invalid value '-5' for -t")
        self.bad(["-B", "9", "127.0.0.1"], "invalid value '9' for -B")
        self.bad(["--rate", "0", "127.0.0.1"], "invalid value '0' for --rate")
        self.bad(["-c", "1", "-l", "127.0.0.1"], "only one of -c, -C and -l")
        self.bad(["-g", "127.0.0.300/24"], "'127.0.0.300' is not an IPv4 or IPv6 address")
        self.bad(["-g", "127.0.0.1"], "'127.0.0.1' is not ADDRESS/PREFIX")
        self.bad(["-g", "127.0.0.0/33"], "prefix length must be 0 to 32")
        self.bad(["-g", "127.0.0.9", "127.0.0.1"], "range start '127.0.0.9' is after its end")
        self.bad(["-g"], "-g needs a range")
        self.bad(["-c"], "flag '-c' needs a value")

    def test_missing_file(self):
        rc, out, err = run_heed(["ping", "-f", "/nonexistent/targets"])
        self.assertEqual(rc, 4)
        self.assertIn("cannot read /nonexistent/targets", err)


@ROOT_ONLY
class Targets(HeedTestCase):
    def test_file_and_stdin(self):
        text = "# fleet\n127.0.0.1\n\n  127.0.0.2 trailing words ignored\n::1\n"
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        want = ["127.0.0.1 is alive", "127.0.0.2 is alive", "::1 is alive"]
        rc, out, err = run_heed(["ping", "-f", f.name])
        self.assertEqual((rc, sorted(out.splitlines())), (0, want), err)
        rc, out, err = run_input(["ping", "-f", "-"], text)
        self.assertEqual((rc, sorted(out.splitlines())), (0, want), err)
        rc, out, err = run_input(["ping"], text)
        self.assertEqual((rc, sorted(out.splitlines())), (0, want), err)
        # count mode reads standard input once and pads names to the longest
        rc, out, err = run_input(["ping", "-c", "1", "-q"], text)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"(?m)^::1       : xmt/rcv/%loss = 1/1/0%, min/avg/max = ")

    def test_generate_v4_v6(self):
        rc, out, err = run_heed(["ping", "-a", "-g", "127.0.0.0/30"])
        self.assertEqual((rc, out), (0, "127.0.0.1\n127.0.0.2\n"), err)
        rc, out, err = run_heed(["ping", "-a", "-g", "::1/128"])
        self.assertEqual((rc, out), (0, "::1\n"), err)
        rc, out, err = run_heed(["ping", "-a", "-g", "127.0.0.255", "127.0.1.1"])
        self.assertEqual(out.splitlines(), ["127.0.0.255", "127.0.1.0", "127.0.1.1"], err)

    def test_json(self):
        rc, out, err = run_heed(["ping", "--json", "-c", "2", "-p", "20", "127.0.0.1", "::1"])
        self.assertEqual(rc, 0, err)
        objs = [json.loads(l) for l in out.splitlines()]
        self.assertEqual([o["host"] for o in objs], ["127.0.0.1", "::1"])
        for o in objs:
            self.assertEqual(set(o), {"host", "address", "alive", "xmt", "rcv", "loss",
                                      "min_ms", "avg_ms", "max_ms"})
            self.assertEqual((o["alive"], o["xmt"], o["rcv"], o["loss"]), (True, 2, 2, 0))
            self.assertLessEqual(o["min_ms"], o["avg_ms"])
            self.assertLessEqual(o["avg_ms"], o["max_ms"])
        self.assertEqual(err, "")

    def test_rate_paces_the_sweep(self):
        t0 = time.monotonic()
        rc, out, err = run_heed(["ping", "-q", "-s", "--rate", "100", "-g", "127.0.0.0/28"])
        elapsed = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertIn("      14 alive", err)
        self.assertGreaterEqual(elapsed, 0.12)  # 14 packets at 100/s: 130 ms at least

    def test_count_timestamps(self):
        rc, out, err = run_heed(["ping", "-D", "-c", "2", "-p", "10", "127.0.0.1"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^\[\d+\.\d{5}\] 127\.0\.0\.1 : \[0\], 64 bytes, \d+\.\d+ ms "
                              r"\(\d+\.\d+ avg, 0% loss\)\n\[\d+\.\d{5}\] 127\.0\.0\.1 : \[1\]")

    def test_loop_until_interrupted(self):
        p = self.reg.spawn_heed(["ping", "-l", "-p", "20", "127.0.0.1"])
        time.sleep(scaled(0.3))
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=scaled(10))
        self.assertEqual(p.returncode, 0, err)
        self.assertGreaterEqual(len(out.splitlines()), 3)
        self.assertRegex(err, r"\n127\.0\.0\.1 : xmt/rcv/%loss = (\d+)/\1/0%, min/avg/max = ")


@ROOT_ONLY
class Progress(HeedTestCase):
    def test_progress_line_on_a_terminal(self):
        import pty
        master, slave = pty.openpty()
        self.addCleanup(os.close, master)
        p = self.reg.popen([harness.HEED, "ping", "-q", "-s", "--rate", "4000", "-g",
                            "127.0.0.0/21"], stderr=slave)
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + scaled(20)
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break  # the child closed the terminal
            if not chunk:
                break
            seen += chunk
        p.wait(timeout=scaled(10))
        self.assertEqual(p.returncode, 0, seen)
        text = seen.decode(errors="replace")
        self.assertRegex(text, r"\r\x1b\[Kheed ping: \d+/2046 done, \d+ alive, 0 unreachable, "
                               r"\d+ in flight")
        self.assertIn("\r\x1b[K\r\n", text)  # cleared before the statistics
        self.assertIn("2046 alive", text)


@ROOT_ONLY
class Sweep(HeedTestCase):
    def test_large_sweep_finds_everyone_in_little_memory(self):
        # 127.0.0.0/14: 262,142 hosts. Peak RSS is that of the whole process.
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rc, out, err = run_heed(["ping", "-i", "0", "-r", "1", "-t", "500", "-q", "-s", "-g",
                                 "127.0.0.0/14"], timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertIn(" 262142 targets\n  262142 alive\n       0 unreachable", err)
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        if harness.SLOW == 1.0 and peak_kb > before:
            self.assertLess(peak_kb, 8 * 1024, "peak RSS %d KB" % peak_kb)


if __name__ == "__main__":
    harness.main()
