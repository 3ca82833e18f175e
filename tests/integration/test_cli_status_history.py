"""`heed status` names the checks that are not passing (critical first,
with their output's first line, at most ten of each status, then how many
more), and `heed checks history ID [--since D] [--step S]` prints a check's
results over time, against a real agent."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import Agent, client_env, tcp_listener  # noqa: E402


class Status(HeedTestCase):
    def test_names_checks_not_passing(self):
        up = tcp_listener(self.reg)
        good = "tcp://127.0.0.1:%d" % up.port
        checks = [{"name": "up", "target": good, "interval": "200ms"},
                  {"name": "slow", "target": good, "interval": "200ms",
                   "expect": {"latency_ms": 1}, "failures_before_warning": 1}]
        # Twelve critical checks: ten are named, then "... and 2 more".
        checks += [{"name": "down-%02d" % i, "target": "tcp://127.0.0.1:1", "interval": "200ms",
                    "failures_before_critical": 1} for i in range(12)]
        a = Agent(self.reg, {"checks": checks}).start()
        for cid in ["down-%02d" % i for i in range(12)] + ["up", "slow"]:
            a.wait_check(cid, lambda c: c["last_checked"], what="%s checked" % cid)
        a.wait_status("up", "passing")
        env = client_env(a)
        rc, out, err = run_heed(["status"], env=env)
        self.assertEqual(rc, 2, err)
        lines = out.splitlines()
        i = lines.index("Not passing:")
        named = lines[i + 1:]
        self.assertEqual(len([ln for ln in named if ln.startswith("  critical  down-")]), 10,
                         out)
        self.assertTrue(all(re.fullmatch(r"  critical  down-\d\d: connection refused", ln)
                            for ln in named[:10]), out)
        self.assertEqual(named[10], "  ... and 2 more critical (heed checks list --status "
                                    "critical)")
        self.assertNotIn("  critical  up", out)
        # Pausing every failing check: nothing is named, exit 0 (or 1 for
        # "slow" when it was slow).
        for k in range(12):
            a.ok("PUT", "/v1/checks/down-%02d/pause" % k)
        rc, out, err = run_heed(["status"], env=env)
        self.assertIn(rc, (0, 1), out + err)
        if rc == 0:
            self.assertNotIn("Not passing:", out)
        else:
            self.assertRegex(out, r"Not passing:\n  warning   slow: slow: ")
        self.assertEqual(a.stop(), 0)


class History(HeedTestCase):
    def test_history_of_a_check(self):
        up = tcp_listener(self.reg)
        a = Agent(self.reg, {"checks": [{"name": "db", "target": "tcp://127.0.0.1:%d" % up.port,
                                         "interval": "200ms"}]}).start()
        a.wait_status("db", "passing")
        up.stop()
        a.wait_status("db", "critical")
        env = client_env(a)
        rc, out, err = run_heed(["checks", "history", "db"], env=env)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^TIME +STATUS +LATENCY +REASON$")
        rows = lines[1:-1]
        self.assertTrue(all(re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z  \w+ +[\d.]+m?s  \w+", r)
                            for r in rows), out)
        self.assertTrue(any(re.search(r"passing .* ok$", r) for r in rows), out)
        self.assertTrue(any(re.search(r"critical .* connect_refused$", r) for r in rows), out)
        m = re.fullmatch(r"db: (\d+) results?, (\d+) passing \([\d.]+%\)", lines[-1])
        self.assertTrue(m, lines[-1])
        self.assertEqual(int(m.group(1)), len(rows))
        self.assertEqual(int(m.group(2)), sum(1 for r in rows if " passing " in r))
        # Per minute: the worst status of each minute and its counts.
        rc, out, err = run_heed(["checks", "history", "db", "--since", "10m", "--step", "1m"],
                                env=env)
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^TIME +STATUS +RUNS +OK +LATENCY MIN/AVG/MAX\n")
        self.assertRegex(out, r"\n\S+:00\.000Z  critical +\d+ +\d+  [\d.]+m?s / ")
        # JSON: the agent's reply.
        rc, out, err = run_heed(["checks", "history", "db", "--since", "1h", "--json"], env=env)
        self.assertEqual(rc, 0, err)
        self.assertIn('"step":"raw"', out.replace(" ", ""))
        # Nothing in a range: said so.
        rc, out, err = run_heed(["checks", "history", "db", "--since", "1h", "--until", "59m"],
                                env=env)
        self.assertEqual((rc, out), (0, "db: no results in this range\n"), err)
        # Bad values and ids are the agent's errors, named.
        rc, out, err = run_heed(["checks", "history", "db", "--since", "yesterday"], env=env)
        self.assertEqual(rc, 1)
        self.assertIn("since: expected RFC 3339 time, Unix seconds or a duration ago, "
                      "got 'yesterday'", err)
        rc, out, err = run_heed(["checks", "history", "nope"], env=env)
        self.assertEqual(rc, 1)
        self.assertIn("no check 'nope'", err)
        rc, out, err = run_heed(["checks", "history"], env=env)
        self.assertEqual(rc, 2)
        self.assertIn("history needs a check id", err)
        rc, out, err = run_heed(["checks", "list", "--since", "1h"], env=env)
        self.assertEqual(rc, 2)
        self.assertIn("flag '--since' does not apply to 'list'", err)
        self.assertEqual(a.stop(), 0)


if __name__ == "__main__":
    main()
