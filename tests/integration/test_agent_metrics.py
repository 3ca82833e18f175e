"""heed agent's GET /metrics (Prometheus text that `promtool check metrics`
accepts, with heed_check_status and friends for every check) and GET
/v1/status (the counts by status), against checks in each status."""

import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, run  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402

PROMTOOL = shutil.which("promtool")
ODD_NAME = 'say "hi" \\ ünïcode'


def samples(text):
    """{(name, frozenset of label pairs): value} of a Prometheus text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)', line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def value(s, metric, **labels):
    """The value of the one sample of metric whose labels include labels."""
    want = set(labels.items())
    found = [v for (n, ls), v in s.items() if n == metric and want <= ls]
    assert len(found) == 1, "%s%s: %d samples" % (metric, labels, len(found))
    return found[0]


class Metrics(HeedTestCase):
    def setUp(self):
        super().setUp()
        up = tcp_listener(self.reg)
        self.a = Agent(self.reg, {"node": "metrics-node", "checks": [
            {"name": "up", "target": "tcp://127.0.0.1:%d" % up.port, "interval": "200ms"},
            {"name": "down", "target": "tcp://127.0.0.1:1", "interval": "200ms",
             "failures_before_critical": 1},
            {"id": "odd", "name": ODD_NAME, "target": "tcp://127.0.0.1:%d" % up.port,
             "interval": "200ms"},
            {"name": "hb", "ttl": "1h"}]}).start()
        a = self.a
        a.ok("POST", "/v1/checks", {"name": "paused", "target": "tcp://127.0.0.1:1",
                                    "interval": "1h"}, status=201)
        a.ok("PUT", "/v1/checks/paused/pause")
        a.ok("PUT", "/v1/agent/check/warn/hb")
        a.wait_status("up", "passing")
        a.wait_status("odd", "passing")
        a.wait_check("down", lambda c: c["status"] == "critical" and c["last_checked"])

    @unittest.skipUnless(PROMTOOL, "promtool not installed (Debian package prometheus)")
    def test_promtool_accepts_metrics(self):
        r = self.a.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertRegex(r.headers["content-type"], r"^text/plain; version=0\.0\.4")
        p = run([PROMTOOL, "check", "metrics"], input=r.body.decode(), check=False,
                stdin=None)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, "", ""))

    def test_check_metrics(self):
        text = self.a.get("/metrics").body.decode()
        s = samples(text)
        st = {cid: value(s, "heed_check_status", check=cid)
              for cid in ("up", "down", "odd", "hb", "paused")}
        self.assertEqual(st, {"up": 0, "down": 2, "odd": 0, "hb": 1, "paused": 3})
        self.assertEqual(value(s, "heed_check_status", check="up", kind="tcp", name="up"), 0)
        self.assertEqual(value(s, "heed_check_status", check="hb", kind="ttl"), 1)
        # The odd name comes out escaped as the text format wants.
        self.assertIn('name="say \\"hi\\" \\\\ ünïcode"', text)
        self.assertEqual(value(s, "heed_check_up", check="up"), 1)
        self.assertEqual(value(s, "heed_check_up", check="down"), 0)
        self.assertGreater(value(s, "heed_check_runs_total", check="up"), 0)
        self.assertGreater(value(s, "heed_check_last_success_timestamp_seconds", check="up"),
                           1.6e9)
        self.assertEqual(value(s, "heed_check_last_success_timestamp_seconds", check="down"), 0)
        self.assertGreater(value(s, "heed_check_latency_seconds", check="up"), 0)
        counts = {k: value(s, "heed_checks", status=k)
                  for k in ("passing", "warning", "critical", "maintenance")}
        self.assertEqual(counts, {"passing": 2, "warning": 1, "critical": 1, "maintenance": 1})
        self.assertGreaterEqual(value(s, "heed_check_results_total"), 3)
        self.assertEqual(value(s, "heed_config_reloads_total"), 0)
        # A few checks never fill the store's history queue.
        self.assertEqual(value(s, "heed_history_rows_dropped_total"), 0)
        self.assertGreater(value(s, "heed_scheduler_lag_seconds_count"), 0)
        self.assertGreater(value(s, "heed_api_requests_total", **{"class": "2xx"}), 0)

        # The agent's API counters follow what clients saw.
        before = value(s, "heed_api_requests_total", **{"class": "4xx"})
        self.assertEqual(self.a.get("/v1/checks/nope").status, 404)
        s = samples(self.a.get("/metrics").body.decode())
        self.assertEqual(value(s, "heed_api_requests_total", **{"class": "4xx"}), before + 1)
        # A deleted check leaves /metrics.
        self.a.ok("DELETE", "/v1/checks/paused")
        s = samples(self.a.get("/metrics").body.decode())
        self.assertFalse([k for k in s if ("check", "paused") in k[1]])
        self.assertEqual(value(s, "heed_checks", status="maintenance"), 0)

    def test_status(self):
        r = self.a.get("/v1/status")
        self.assertEqual(r.status, 200, r)
        st = r.json
        self.assertEqual(st["node"], "metrics-node")
        self.assertRegex(st["version"], r"^\d+\.\d+\.\d+")
        self.assertRegex(st["started"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
        self.assertGreater(st["uptime_s"], 0)
        self.assertEqual(st["checks"], {"passing": 2, "warning": 1, "critical": 1,
                                        "maintenance": 1})
        self.assertGreaterEqual(st["results_total"], 3)
        # The counts follow the checks.
        self.a.ok("PUT", "/v1/agent/check/pass/hb")
        self.a.ok("PUT", "/v1/checks/down/pause")
        self.assertEqual(self.a.get("/v1/status").json["checks"],
                         {"passing": 3, "warning": 0, "critical": 0, "maintenance": 2})


if __name__ == "__main__":
    main()
