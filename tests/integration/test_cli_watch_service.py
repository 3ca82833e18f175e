"""`heed watch service NAME` against a real agent: COMMAND runs at once and
once per change of that service's instances or health (the JSON of
/v1/health/service/NAME on stdin), not for another service; --passing
keeps only passing instances, --tag T those tagged T. Skipped, visibly,
while the agent has no catalog routes."""

import json
import os
import signal
import sys
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, client_env, read_watch_runs, watch_handler  # noqa: E402
from consul_clients import py  # noqa: E402

warnings.filterwarnings("ignore", category=ResourceWarning)


env_for = client_env


read_runs = read_watch_runs


class WatchService(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg).start()
        self.c = py(self.a)
        self.log = os.path.join(self.reg.tempdir(), "runs")
        self.handler = watch_handler(self.log)

    def settle(self, n, what):
        wait_until(lambda: len(read_runs(self.log)) >= n, 15, what=what)
        time.sleep(scaled(0.5))
        runs = read_runs(self.log)
        self.assertEqual(len(runs), n, runs)
        return runs

    def test_service(self):
        w = self.reg.spawn_heed(["watch", "service", "web", "--tag", "v1", "--"] + self.handler,
                                env=env_for(self.a))
        [(_, v0)] = self.settle(1, "the first run")
        self.assertEqual(v0, [])
        self.c.agent.service.register("web", service_id="web1", port=8080, tags=["v1"],
                                      check={"TTL": "60s", "Status": "passing"})
        runs = self.settle(2, "a run for the registration")
        self.assertEqual([e["Service"]["ID"] for e in runs[1][1]], ["web1"])
        self.assertEqual(runs[1][1][0]["Checks"][-1]["Status"], "passing")
        self.c.agent.service.register("db", service_id="db1", port=5432)
        self.settle(2, "no run for another service")
        # (python3-consul's ttl_fail sends a GET, which Consul 1.x refuses: PUT it.)
        r = self.a.call("PUT", "/v1/agent/check/fail/service:web1?note=down")
        self.assertEqual(r.status, 200, r)
        runs = self.settle(3, "a run for the health change")
        self.assertEqual(runs[2][1][0]["Checks"][-1]["Status"], "critical")
        w.send_signal(signal.SIGTERM)
        self.assertEqual(harness.finish(w)[0], 0)
        # --passing: the critical instance is not there.
        rc, out, _ = harness.run_heed(["watch", "service", "web", "--passing"],
                                      env=env_for(self.a))
        self.assertEqual((rc, json.loads(out)), (0, []))
        rc, out, _ = harness.run_heed(["watch", "service", "web"], env=env_for(self.a))
        self.assertEqual([e["Service"]["ID"] for e in json.loads(out)], ["web1"])
        rc, out, _ = harness.run_heed(["watch", "service", "web", "--tag", "v2"],
                                      env=env_for(self.a))
        self.assertEqual((rc, json.loads(out)), (0, []))


if __name__ == "__main__":
    main()
