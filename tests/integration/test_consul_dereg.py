"""Consul's DeregisterCriticalServiceAfter on a real agent: a service whose
check stays critical for that long (1m, the least heed and Consul take) is
deregistered with its checks, and says so on stderr; a service whose check
passes stays. This test waits a minute by nature, so it has a file of its
own (ctest runs it beside the others)."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, wait_until  # noqa: E402
from agent_harness import Agent  # noqa: E402


class Dereg(HeedTestCase):
    def test_critical_service_is_deregistered(self):
        a = Agent(self.reg, {"node": "n1"}).start()
        for sid in ("doomed", "fine"):
            r = a.call("PUT", "/v1/agent/service/register",
                       {"Name": sid, "ID": sid,
                        "Check": {"CheckID": sid + "-ttl", "TTL": "10m",
                                  "DeregisterCriticalServiceAfter": "1m"}})
            self.assertEqual(r.status, 200, r)
        t0 = time.monotonic()
        self.assertEqual(a.call("PUT", "/v1/agent/check/pass/fine-ttl").status, 200)
        # Still there well before the minute is up.
        time.sleep(1.0)
        self.assertEqual(sorted(a.ok("GET", "/v1/agent/services")), ["doomed", "fine"])

        def gone():
            return sorted(a.ok("GET", "/v1/agent/services")) == ["fine"]
        wait_until(gone, 90, interval=0.5, what="doomed deregistered")
        self.assertGreaterEqual(time.monotonic() - t0, 58)
        self.assertEqual(sorted(a.checks()), ["fine-ttl"])
        self.assertEqual(a.ok("GET", "/v1/health/service/doomed"), [])
        self.assertIn("heed agent: service doomed (tenant default) deregistered: check "
                      "doomed-ttl critical for", a.stderr())


if __name__ == "__main__":
    main()
