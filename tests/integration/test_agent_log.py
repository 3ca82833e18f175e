"""What `heed agent` logs and how fast --dev means something: one line per
status change on stdout (time, check, old -> new, output), a check's first
result included, pauses too; `--log-format json` gives the same as JSON
lines; a bad --log-format is a usage error. `heed agent --dev` runs its
sample checks at once, so that `heed status` passes a moment after the
start instead of up to an interval later."""

import json
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, HeedTestCase, main, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import API_LINE, Agent, client_env, tcp_listener  # noqa: E402

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


class Log(HeedTestCase):
    def test_text_lines_for_each_change(self):
        up = tcp_listener(self.reg)
        target = "tcp://127.0.0.1:%d" % up.port
        a = Agent(self.reg, {"checks": [{"name": "db", "target": target,
                                         "interval": "200ms"}]}).start()

        def line(pattern):
            rx = re.compile("^" + TIME + " " + pattern + "$", re.MULTILINE)
            return wait_until(lambda: rx.search(a.stdout()), scaled(15),
                              what="a log line like %r in %r" % (pattern, a.stdout()))
        line(r"check db: unchecked -> passing: connected")
        up.stop()
        # failures_before_warning 1, failures_before_critical 3 (the defaults).
        line(r"check db: passing -> warning: connection refused")
        line(r"check db: warning -> critical: connection refused")
        a.ok("PUT", "/v1/checks/db/pause")
        line(r"check db: critical -> maintenance: .*")
        # One line per change, not per run.
        self.assertEqual(len(re.findall(r"check db: \w+ -> critical", a.stdout())), 1, a.stdout())
        self.assertEqual(a.stop(), 0)

    def test_json_lines(self):
        a = Agent(self.reg, {"checks": [{"name": "bad", "target": "tcp://127.0.0.1:1",
                                         "interval": "200ms"}]}).start("--log-format", "json")

        def first():
            for ln in a.stdout().splitlines():
                if ln.startswith("{"):
                    return json.loads(ln)
        rec = wait_until(first, scaled(15), what="a JSON log line")
        self.assertRegex(rec.pop("time"), "^" + TIME + "$")
        self.assertRegex(rec.pop("output"), "refused")
        self.assertEqual(rec, {"check": "bad", "tenant": "default", "old": None,
                               "new": "critical"})
        self.assertEqual(a.stop(), 0)

    def test_bad_log_format(self):
        rc, out, err = run_heed(["agent", "--dev", "--log-format", "yaml"])
        self.assertEqual(rc, 2)
        self.assertIn("--log-format: 'yaml' is neither text nor json", err)


class Dev(HeedTestCase):
    def test_dev_checks_run_at_once(self):
        out = os.path.join(self.reg.tempdir(prefix="heed-dev-"), "stdout")
        with open(out, "w") as f:
            proc = self.reg.popen([HEED, "agent", "--dev", "--bind", "127.0.0.1:0"], stdout=f,
                                  grace=10.0)

        def port():
            with open(out) as f:
                m = API_LINE.search(f.read())
            return m and int(m.group(2))
        p = wait_until(port, scaled(20), what="the API line")

        class A:  # what client_env needs of an agent
            pass
        A.port = p
        env = client_env(A)
        # Every sample check has a result within a few seconds (their
        # intervals are 10 s and more: without running at once, the first
        # results would be spread over them).
        def all_passing():
            rc, o, e = run_heed(["status"], env=env)
            return rc == 0 and "0 critical" in o and o
        wait_until(all_passing, scaled(5), interval=0.2, what="heed status exit 0")
        rc, o, e = run_heed(["checks", "list"], env=env)
        self.assertEqual(rc, 0, e)
        self.assertNotIn("not checked yet", o)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(scaled(30)), 0)


if __name__ == "__main__":
    main()
