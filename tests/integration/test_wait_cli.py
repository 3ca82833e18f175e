"""heed wait's command line as a user meets it: help, usage errors, exit
codes, the timeout line, `-- COMMAND`, --json, --any, --quiet, and the
file: and exec: targets. The servers are bare loopback listeners."""

import json
import os
import pty
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (HeedTestCase, finish, free_port, listener, run_heed, scaled,  # noqa: E402
                     still_running)

JSON_KEYS = {"target", "ready", "attempts", "elapsed_ms", "last_error", "reason", "output",
             "permanent"}


class Help(HeedTestCase):
    def test_top_level_help(self):
        rc, out, err = run_heed(["--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("usage: heed COMMAND", out)
        self.assertRegex(out, r"(?m)^  wait +wait until services are ready")
        self.assertEqual(err, "")

    def test_help_wait_and_wait_help_are_the_same_page(self):
        rc1, out1, err1 = run_heed(["help", "wait"])
        rc2, out2, err2 = run_heed(["wait", "--help"])
        self.assertEqual((rc1, rc2), (0, 0), err1 + err2)
        self.assertTrue(out1.startswith("usage: heed wait [flags] TARGET..."), out1)
        self.assertEqual(out1, out2)
        for word in ("--timeout", "--any", "--json", "--quiet", "postgres://", "exec:"):
            self.assertIn(word, out1)
        self.assertEqual(err1 + err2, "")

    def test_version(self):
        rc, out, err = run_heed(["--version"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^heed \d+\.\d+\.\d+\n$")


class UsageErrors(HeedTestCase):
    """Exit 2 and one line on stderr that names what is wrong."""

    CASES = [
        (["frobnicate"], "unknown command 'frobnicate'"),
        (["help", "frobnicate"], "unknown command 'frobnicate'"),
        (["--frobnicate"], "unknown flag '--frobnicate'"),
        (["wait", "--frobnicate", "tcp://127.0.0.1:9"], "unknown flag '--frobnicate'"),
        (["wait", "gopher://127.0.0.1:70/"], "unknown scheme 'gopher'"),
        (["wait", "tcp://127.0.0.1:70000"], "port '70000' out of range"),
        (["wait", "tcp://host"], "tcp://host: tcp URL needs a port"),
        (["wait", "tcp://[::1:5432"], "tcp://[::1:5432: unterminated '['"),
        (["wait", "tcp://[::g]:5432"], "invalid IPv6 address '::g'"),
        (["wait", "icmp://::1"], "icmp://::1: IPv6 address '::1' needs brackets: [::1]"),
        (["wait", "tcp://::1:5432"], "IPv6 address needs brackets: [::1]:5432, or [::1:5432]"),
        (["wait"], "no target given"),
        (["wait", "-t", "soon", "tcp://127.0.0.1:9"], "invalid duration 'soon'"),
        (["wait", "--status", "2xx", "http://127.0.0.1:9/"], "invalid --status '2xx'"),
        (["wait", "tcp://127.0.0.1:9", "--"], "'--' must be followed by a command"),
        (["wait", "-t"], "flag '-t' needs a value"),
    ]

    def test_usage_errors(self):
        for args, expect in self.CASES:
            with self.subTest(args=args):
                rc, out, err = run_heed(args)
                self.assertEqual(rc, 2, err)
                self.assertEqual(out, "")
                self.assertEqual(err.count("\n"), 1, err)
                self.assertTrue(err.startswith("heed"), err)
                self.assertIn(expect, err)

    def test_good_and_bad_target_together_is_a_usage_error(self):
        port = free_port()
        rc, out, err = run_heed(["wait", "-t", "5", "tcp://127.0.0.1:%d" % port, "redis://x:99999"])
        self.assertEqual(rc, 2, err)
        self.assertIn("redis://x:99999", err)


class Timeout(HeedTestCase):
    def test_target_that_never_comes(self):
        port = free_port()
        display = "tcp://127.0.0.1:%d" % port
        t0 = time.monotonic()
        rc, out, err = run_heed(["wait", "-t", "0.5", display])
        took = time.monotonic() - t0
        self.assertEqual(rc, 124, err)
        self.assertEqual(out, "")
        self.assertEqual(err.count("\n"), 1, err)
        attempts, secs = self.assertTimeoutLine(err, display, "connection refused")
        self.assertGreaterEqual(attempts, 2)
        self.assertGreaterEqual(secs, 0.5)
        self.assertLess(secs, 0.5 + scaled(0.3))
        self.assertGreaterEqual(took, 0.5)
        self.assertLess(took, 0.5 + scaled(1.5))

    def test_zero_timeout_means_never_give_up(self):
        port = free_port()
        proc = self.reg.spawn_heed(["wait", "-t", "0", "tcp://127.0.0.1:%d" % port])
        self.assertTrue(still_running(proc, 1.2), "heed -t 0 gave up")
        listener(self.reg, port)
        rc, _, err = finish(proc, 5)
        self.assertEqual(rc, 0, err)


class RunCommand(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.port = free_port()
        listener(self.reg, self.port)
        self.target = "tcp://127.0.0.1:%d" % self.port

    def test_exit_status_is_the_commands(self):
        rc, out, err = run_heed(["wait", "-t", "5", self.target, "--", "sh", "-c", "exit 7"])
        self.assertEqual(rc, 7, err)
        self.assertReadyLine(err, self.target)

    def test_command_replaces_heed_and_keeps_its_pid(self):
        proc = self.reg.spawn_heed(["wait", "-t", "5", self.target, "--",
                                    "sh", "-c", "echo $$; echo args: \"$@\"", "sh", "a b", "c"])
        rc, out, err = finish(proc, 10)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "%d\nargs: a b c\n" % proc.pid)

    def test_command_does_not_run_on_timeout(self):
        d = self.reg.tempdir()
        marker = os.path.join(d, "ran")
        never = "tcp://127.0.0.1:%d" % free_port()
        rc, out, err = run_heed(["wait", "-t", "0.3", never, "--", "touch", marker])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, never, "connection refused")
        self.assertFalse(os.path.exists(marker), "the command ran although heed timed out")

    def test_command_runs_only_once_ready(self):
        d = self.reg.tempdir()
        marker = os.path.join(d, "ran")
        port = free_port()
        proc = self.reg.spawn_heed(["wait", "-t", "20", "tcp://127.0.0.1:%d" % port, "--",
                                    "touch", marker])
        self.assertTrue(still_running(proc, 0.4))
        self.assertFalse(os.path.exists(marker), "the command ran before the target was ready")
        listener(self.reg, port)
        rc, _, err = finish(proc, 10)
        self.assertEqual(rc, 0, err)
        self.assertTrue(os.path.exists(marker))

    def test_command_inherits_no_child_of_heed(self):
        """With --any, an exec: probe still running is killed and reaped
        before heed becomes the command: no zombie is handed on."""
        proc = self.reg.spawn_heed(["wait", "--any", "-t", "10", self.target, "exec:sleep 30",
                                    "--", "sh", "-c", "echo ready; exec sleep 1"])
        line = proc.stdout.readline()
        self.assertEqual(line, "ready\n")
        self.assertEqual(harness.descendants(proc.pid), [])
        rc, _, err = finish(proc, 10)
        self.assertEqual(rc, 0, err)

    def test_command_not_found(self):
        rc, out, err = run_heed(["wait", "-t", "5", self.target, "--", "heed-no-such-command-4711"])
        self.assertEqual(rc, 127, err)
        self.assertIn("cannot run 'heed-no-such-command-4711'", err)

    def test_command_not_executable(self):
        d = self.reg.tempdir()
        rc, out, err = run_heed(["wait", "-t", "5", self.target, "--", d])
        self.assertEqual(rc, 126, err)
        self.assertIn("cannot run '%s'" % d, err)


class Output(HeedTestCase):
    def test_json_one_object_per_target(self):
        up = free_port()
        listener(self.reg, up)
        down = free_port()
        rc, out, err = run_heed(["wait", "--json", "-t", "0.5",
                                 "tcp://127.0.0.1:%d" % up, "tcp://127.0.0.1:%d" % down])
        self.assertEqual(rc, 124, err)
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertEqual(len(lines), 2, out)
        objs = [json.loads(line) for line in lines]
        for o in objs:
            self.assertEqual(set(o), JSON_KEYS)
        ready, never = objs
        self.assertEqual(ready["target"], "tcp://127.0.0.1:%d" % up)
        self.assertIs(ready["ready"], True)
        self.assertEqual(ready["attempts"], 1)
        self.assertIsNone(ready["last_error"])
        self.assertEqual(ready["reason"], "ok")
        self.assertEqual(ready["output"], "connected")
        self.assertIs(ready["permanent"], False)
        self.assertLess(ready["elapsed_ms"], scaled(300))
        self.assertEqual(never["target"], "tcp://127.0.0.1:%d" % down)
        self.assertIs(never["ready"], False)
        self.assertGreaterEqual(never["attempts"], 2)
        self.assertEqual(never["last_error"], "connection refused")
        self.assertEqual(never["reason"], "connect_refused")
        self.assertIsNone(never["output"])
        self.assertIs(never["permanent"], False)  # a refused connection is retried
        self.assertGreaterEqual(never["elapsed_ms"], 500)

    def test_json_all_ready(self):
        up = free_port()
        listener(self.reg, up)
        rc, out, err = run_heed(["wait", "--json", "-t", "5", "tcp://127.0.0.1:%d" % up])
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "")
        o = json.loads(out)
        self.assertTrue(out.endswith("}\n") and out.count("\n") == 1, out)
        self.assertEqual((o["ready"], o["last_error"], o["reason"]), (True, None, "ok"))

    def test_any_one_ready_is_enough(self):
        up = free_port()
        listener(self.reg, up)
        never = free_port()
        t0 = time.monotonic()
        rc, out, err = run_heed(["wait", "--any", "-t", "20", "tcp://127.0.0.1:%d" % never,
                                 "tcp://127.0.0.1:%d" % up])
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - t0, scaled(2))
        self.assertReadyLine(err, "tcp://127.0.0.1:%d" % up)

    def test_without_any_all_must_be_ready(self):
        up = free_port()
        listener(self.reg, up)
        never = "tcp://127.0.0.1:%d" % free_port()
        rc, out, err = run_heed(["wait", "-t", "0.5", never, "tcp://127.0.0.1:%d" % up])
        self.assertEqual(rc, 124, err)
        lines = err.splitlines()
        self.assertEqual(len(lines), 2, err)
        self.assertRegex(lines[0], r"^heed: tcp://127\.0\.0\.1:%d ready " % up)
        self.assertTimeoutLine(err, never, "connection refused")

    def test_quiet_prints_nothing(self):
        up = free_port()
        listener(self.reg, up)
        never = free_port()
        for flag in ("--quiet", "-q"):
            with self.subTest(flag=flag):
                rc, out, err = run_heed(["wait", flag, "-t", "5", "tcp://127.0.0.1:%d" % up])
                self.assertEqual((rc, out, err), (0, "", ""))
                rc, out, err = run_heed(["wait", flag, "-t", "0.3", "tcp://127.0.0.1:%d" % never])
                self.assertEqual((rc, out, err), (124, "", ""))


class Terminal(HeedTestCase):
    def test_progress_line_on_a_terminal_is_cleared_when_ready(self):
        port = free_port()
        master, slave = pty.openpty()
        self.reg.callback("pty", lambda: os.close(master))
        try:
            proc = self.reg.spawn_heed(["wait", "-t", "20", "tcp://127.0.0.1:%d" % port],
                                       stderr=slave)
        finally:
            os.close(slave)
        self.assertTrue(still_running(proc, 0.7))
        listener(self.reg, port)
        rc, out, _ = finish(proc, 10)
        self.assertEqual(rc, 0)
        seen = b""
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the other side is closed
                break
            if not chunk:
                break
            seen += chunk
        text = seen.decode()
        self.assertRegex(text, r"\r\x1b\[Kheed: waiting \d+\.\d s, 0/1 ready; "
                         r"tcp://127\.0\.0\.1:%d: connection refused" % port)
        # The last progress line is erased before the result is printed.
        self.assertRegex(text, r"\r\x1b\[Kheed: tcp://127\.0\.0\.1:%d ready "
                         r"\(\d+ attempts, \d+\.\d s\)\r?\n(\r\x1b\[K)?$" % port)


class FileAndExec(HeedTestCase):
    def test_file_that_appears_later(self):
        d = self.reg.tempdir()
        path = os.path.join(d, "ready.flag")
        url = "file://" + path
        proc = self.reg.spawn_heed(["wait", "-t", "20", url])
        self.assertTrue(still_running(proc, 0.3), "heed returned before the file existed")
        with open(path, "w"):
            pass
        t0 = time.monotonic()
        rc, out, err = finish(proc, 10)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - t0, scaled(1.5))
        self.assertGreater(self.assertReadyLine(err, url), 1)

    def test_missing_file_times_out(self):
        d = self.reg.tempdir()
        url = "file://" + os.path.join(d, "never")
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "no such file")

    def test_exec_fails_then_succeeds(self):
        d = self.reg.tempdir()
        counter = os.path.join(d, "count")
        script = ("n=$(cat %s 2>/dev/null || echo 0); echo $((n + 1)) > %s; "
                  "test $n -ge 1" % (counter, counter))
        url = "exec:sh -c '%s'" % script
        rc, out, err = run_heed(["wait", "-t", "10", url])
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.assertReadyLine(err, url), 2)
        with open(counter) as f:
            self.assertEqual(f.read(), "2\n")

    def test_exec_failure_shows_its_output(self):
        url = "exec:sh -c 'echo warming up; exit 1'"
        rc, out, err = run_heed(["wait", "-t", "%g" % scaled(1.0), url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "exit status 1: warming up")


class AttachedValue(HeedTestCase):
    def test_t2s_works_as_t_2s(self):
        url = "tcp://127.0.0.1:%d" % free_port()
        for flags in (["-t0.4s"], ["-t", "0.4s"], ["-t=0.4s"], ["-t0.4"]):
            with self.subTest(flags=flags):
                t0 = time.monotonic()
                rc, out, err = run_heed(["wait"] + flags + [url], timeout=30)
                self.assertEqual(rc, 124, err)
                _, secs = self.assertTimeoutLine(err, url, "connection refused")
                # The 0.4 s timeout, not the 60 s default.
                self.assertGreaterEqual(secs, 0.3)
                self.assertLess(time.monotonic() - t0, scaled(10))
        rc, out, err = run_heed(["wait", "-tsoon", url])
        self.assertEqual(rc, 2)
        self.assertIn("-t: invalid duration 'soon'", err)


class PermanentFailures(HeedTestCase):
    """A failure that no retry can cure ends the wait at once with exit 2
    and the reason; a refused connection is retried until the timeout."""

    def test_missing_command_fails_at_once(self):
        url = "exec:heed-no-such-command-4711 --flag"
        t0 = time.monotonic()
        rc, out, err = run_heed(["wait", "-t", "60", url], timeout=90)
        took = time.monotonic() - t0
        self.assertEqual(rc, 2, err)
        self.assertEqual(err, "heed: %s: cannot run 'heed-no-such-command-4711': No such file or "
                              "directory (1 attempt, 0.0 s; not retried)\n" % url)
        self.assertLess(took, scaled(20), "retried until the timeout")

    def test_missing_command_json(self):
        url = "exec:heed-no-such-command-4711"
        rc, out, err = run_heed(["wait", "--json", "-t", "60", url], timeout=90)
        self.assertEqual(rc, 2, err)
        self.assertEqual(err, "")
        o = json.loads(out)
        self.assertEqual(set(o), JSON_KEYS)
        self.assertEqual((o["ready"], o["attempts"], o["reason"], o["permanent"]),
                         (False, 1, "exec_not_found", True))
        self.assertIn("No such file or directory", o["last_error"])

    def test_not_executable_fails_at_once(self):
        d = self.reg.tempdir()
        rc, out, err = run_heed(["wait", "-t", "60", "exec:" + d], timeout=90)
        self.assertEqual(rc, 2, err)
        self.assertIn("Permission denied (1 attempt", err)

    def test_no_libcurl_fails_at_once(self):
        # A libcurl.so.4 that cannot load, found first through
        # LD_LIBRARY_PATH: heed's dlopen of libcurl fails.
        d = self.reg.tempdir()
        open(os.path.join(d, "libcurl.so.4"), "w").close()
        env = dict(os.environ, LD_LIBRARY_PATH=d)
        url = "http://127.0.0.1:%d/" % free_port()
        rc, out, err = run_heed(["wait", "-t", "60", url], env=env, timeout=90)
        self.assertEqual(rc, 2, err)
        self.assertRegex(err, r"^heed: %s: cannot load libcurl\.so\.4 .*\(1 attempt, \d+\.\d s; "
                              r"not retried\)\n$" % url)

    def test_with_any_the_others_still_count(self):
        up = free_port()
        listener(self.reg, up)
        rc, out, err = run_heed(["wait", "--any", "-t", "30", "exec:heed-no-such-command-4711",
                                 "tcp://127.0.0.1:%d" % up], timeout=60)
        self.assertEqual(rc, 0, err)
        self.assertIn("tcp://127.0.0.1:%d ready" % up, err)
        rc, out, err = run_heed(["wait", "--any", "-t", "60", "exec:heed-no-such-command-4711",
                                 "exec:heed-no-such-command-4712"], timeout=90)
        self.assertEqual(rc, 2, err)
        self.assertEqual(err.count("not retried"), 2, err)

    def test_refused_connection_is_retried(self):
        url = "tcp://127.0.0.1:%d" % free_port()
        rc, out, err = run_heed(["wait", "-t", "%g" % scaled(1.0), url])
        self.assertEqual(rc, 124, err)
        attempts, _ = self.assertTimeoutLine(err, url, "connection refused")
        self.assertGreater(attempts, 1)


if __name__ == "__main__":
    harness.main()
