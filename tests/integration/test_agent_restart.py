"""What heed agent keeps across a restart on the same data_dir: checks
created through the API with their definitions, their last state before
any new run (a paused check stays paused, last_change does not move), and
their history; after SIGTERM (exit 0) and after kill -9 in the middle of a
burst of API writes, where no write that was answered 201 may be lost."""

import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, http_call, tcp_listener  # noqa: E402


class Restart(HeedTestCase):
    def test_sigterm_and_start_again_keeps_checks_state_history(self):
        up = tcp_listener(self.reg)
        target = "tcp://127.0.0.1:%d" % up.port
        a = Agent(self.reg, {"checks": [{"name": "cfg", "target": target,
                                         "interval": "300ms"}]}).start()
        a.ok("POST", "/v1/checks", {"name": "steady", "target": target, "interval": "200ms",
                                    "tags": ["keep"]}, status=201)
        a.ok("POST", "/v1/checks", {"name": "held", "target": target, "interval": "200ms"},
             status=201)
        a.ok("POST", "/v1/checks", {"name": "svc", "ttl": "1h"}, status=201)
        a.ok("POST", "/v1/checks", {"name": "moved", "target": target, "interval": "200ms"},
             status=201)
        a.wait_status("held", "passing")
        a.ok("PUT", "/v1/checks/held/pause")
        a.wait_status("moved", "passing")
        a.ok("PUT", "/v1/checks/moved/pause")
        # A new target: the state starts afresh (still paused), and that is
        # what the store must have too.
        r = a.ok("PUT", "/v1/checks/moved", {"target": "tcp://127.0.0.1:1", "interval": "1s"})
        self.assertEqual((r["status"], r["paused"], r["last_checked"]),
                         ("maintenance", True, None))
        a.ok("PUT", "/v1/agent/check/pass/svc?note=hello")
        a.wait_status("steady", "passing")
        wait_until(lambda: len(a.ok("GET", "/v1/checks/steady/history")["points"]) >= 3, 10,
                   what="three results of steady")
        # A long interval from now on: after the restart the check will not
        # run again during this test, so what it shows is what was stored.
        # (Same target: the replace keeps its state.)
        r = a.ok("PUT", "/v1/checks/steady", {"target": target, "interval": "24h",
                                              "tags": ["keep"],
                                              "expect": {"latency_ms": 1000}})
        self.assertEqual((r["status"], r["interval"]), ("passing", "24h"))
        a.wait_status("cfg", "passing")

        before = a.checks()
        history = {cid: a.ok("GET", "/v1/checks/%s/history" % cid)["points"]
                   for cid in ("steady", "held", "svc", "cfg")}
        self.assertEqual(a.stop(), 0, a.stderr())
        self.assertIn("heed agent: SIGTERM, stopping", a.stderr())
        up.stop()  # a run after the restart would now fail: it would show

        a.start()
        self.assertIn("5 checks", a.stdout())
        after = a.checks()
        self.assertEqual(sorted(after), ["cfg", "held", "moved", "steady", "svc"])
        # Everything the API showed of the API's checks is as it was.
        for cid in ("steady", "held", "svc", "moved"):
            self.assertEqual(after[cid], before[cid], cid)
        self.assertEqual((after["held"]["status"], after["held"]["paused"]),
                         ("maintenance", True))
        self.assertEqual((after["svc"]["status"], after["svc"]["output"]), ("passing", "hello"))
        self.assertEqual(after["steady"]["status"], "passing")
        self.assertEqual(after["cfg"]["source"], "config")
        # The history has every earlier point.
        for cid, pts in history.items():
            now = a.ok("GET", "/v1/checks/%s/history" % cid)["points"]
            self.assertEqual(now[:len(pts)], pts, cid)
        self.assertGreaterEqual(len(history["steady"]), 3)
        self.assertGreaterEqual(len(history["held"]), 1)

        # The restarted agent runs its checks: the config's sees the target gone.
        a.wait_status("cfg", "warning")
        # A paused check stays paused until resumed, then runs at once. It
        # was passing when paused, and the restart kept that: resumed, it
        # is passing until its run says otherwise (a failure after passes:
        # warning first, as the thresholds say).
        r = a.ok("PUT", "/v1/checks/held/resume")
        self.assertEqual((r["status"], r["paused"]), ("passing", False))
        c = a.wait_check("held", lambda c: c["last_checked"] != before["held"]["last_checked"],
                         what="a run of held after resume")
        self.assertEqual((c["status"], c["reason"]), ("warning", "connect_refused"))
        a.wait_status("held", "critical")
        # And it stops cleanly again.
        self.assertEqual(a.stop(), 0, a.stderr())

    def test_kill_9_during_a_burst_loses_no_acknowledged_write(self):
        a = Agent(self.reg, {}).start()
        a.ok("POST", "/v1/checks", {"name": "paused-before", "target": "tcp://127.0.0.1:1",
                                    "interval": "1h"}, status=201)
        a.ok("PUT", "/v1/checks/paused-before/pause")

        acked, refused, lock = [], [], threading.Lock()
        threads, per_thread = 4, 75

        def burst(k):
            for i in range(per_thread):
                cid = "w%d-%03d" % (k, i)
                body = {"id": cid, "name": "burst %s" % cid, "interval": "1h",
                        "target": "tcp://127.0.0.1:%d" % (1000 + k * 100 + i), "tags": [cid]}
                try:
                    r = http_call(a.port, "POST", "/v1/checks", body, timeout=10)
                except OSError:
                    return  # the agent is gone
                with lock:
                    (acked if r.status == 201 else refused).append((cid, body, r))

        workers = [threading.Thread(target=burst, args=(k,), daemon=True)
                   for k in range(threads)]
        for t in workers:
            t.start()
        wait_until(lambda: len(acked) >= 80, 30, interval=0.001, what="80 acknowledged POSTs")
        self.assertEqual(a.stop(signal.SIGKILL), -signal.SIGKILL)
        for t in workers:
            t.join(scaled(15))
            self.assertFalse(t.is_alive(), "a client thread hangs")
        self.assertEqual(refused, [], "POSTs answered other than 201")
        self.assertLess(len(acked), threads * per_thread,
                        "the burst ended before the kill: nothing was in flight")

        a.start()
        now = a.checks()
        lost = [cid for cid, _, _ in acked if cid not in now]
        self.assertEqual(lost, [], "acknowledged, then lost to kill -9")
        for cid, body, r in acked:
            c = now[cid]
            self.assertEqual((c["name"], c["target"], c["interval"], c["tags"], c["source"]),
                             (body["name"], body["target"], "1h", [cid], "api"))
            # The definition is the one the 201 showed.
            for k in ("id", "name", "target", "interval", "timeout", "expect", "tags",
                      "tenant", "success_before_passing", "failures_before_warning",
                      "failures_before_critical"):
                self.assertEqual(c[k], r.json[k], (cid, k))
        # Nothing else came back: only checks some POST asked for.
        extra = set(now) - {cid for cid, _, _ in acked} - {"paused-before"}
        self.assertTrue(all(x.startswith("w") and len(x) == 6 for x in extra), extra)
        self.assertLessEqual(len(extra), threads, "more unanswered POSTs than clients")
        # The pause acknowledged before the burst holds too.
        c = now["paused-before"]
        self.assertEqual((c["status"], c["paused"]), ("maintenance", True))
        # The store is sound: the agent writes on and stops cleanly.
        a.ok("POST", "/v1/checks", {"name": "after", "target": "tcp://127.0.0.1:1"},
             status=201)
        self.assertEqual(a.stop(), 0, a.stderr())
        a.start()
        self.assertIn("after", a.checks())

    def test_every_check_changing_at_once_is_stored(self):
        # 600 checks whose status changes within one interval: more state
        # writes than the agent keeps in flight (256), so most wait their
        # turn. Every change must still be stored within a second, and a
        # stop must store every check's last run.
        up = tcp_listener(self.reg)
        target = "tcp://127.0.0.1:%d" % up.port
        ids = ["m%03d" % i for i in range(600)]

        def config(interval):
            return {"checks": [{"id": i, "name": i, "target": target, "interval": interval}
                               for i in ids]}

        def count(a, status):
            return a.ok("GET", "/v1/status")["checks"][status]

        # First results: 600 changes from "not checked yet" to passing.
        a = Agent(self.reg, config("500ms")).start()
        wait_until(lambda: count(a, "passing") == 600, 30, what="600 passing checks")
        time.sleep(scaled(1.5))  # runs since the status writes: the stop must write them
        before = a.checks()
        self.assertEqual(a.stop(), 0, a.stderr())
        a.write_config(config("24h"))  # no run during the checks below: they show the store
        a.start()
        after = a.checks()
        for i in ids:
            self.assertEqual(after[i]["status"], "passing", i)
            self.assertGreaterEqual(after[i]["last_checked"], before[i]["last_checked"], i)
        self.assertEqual(a.stop(), 0, a.stderr())

        # The target goes away: 600 changes to warning, then to critical
        # (the third failure), then kill -9.
        up.stop()
        a.write_config(config("500ms"))
        a.start()
        wait_until(lambda: count(a, "critical") == 600, 30, what="600 critical checks")
        time.sleep(scaled(1.0))
        self.assertEqual(a.stop(signal.SIGKILL), -signal.SIGKILL)
        a.write_config(config("24h"))
        a.start()
        after = a.checks()
        lost = [i for i in ids if (after[i]["status"], after[i]["reason"])
                != ("critical", "connect_refused")]
        self.assertEqual(lost, [], "status changes lost to kill -9")


    def test_a_second_agent_on_the_same_data_dir_is_refused(self):
        first = Agent(self.reg, {}).start()
        first.ok("POST", "/v1/checks", {"name": "mine", "ttl": "1h"}, status=201)
        second = Agent(self.reg, {}, data_dir=first.data_dir)
        proc = second.spawn()
        self.assertEqual(proc.wait(scaled(20)), 1)
        self.assertIn("one agent per data_dir", second.stderr())
        self.assertIn(os.path.join(first.data_dir, "heed.db"), second.stderr())
        # The first one is untouched, and once it has stopped the data_dir
        # is free again, with what the first one wrote.
        self.assertEqual(first.check("mine")["id"], "mine")
        self.assertEqual(first.stop(), 0)
        second.start()
        self.assertEqual(second.check("mine")["id"], "mine")


if __name__ == "__main__":
    main()
