"""heed agent's checks change state as their targets do: a TCP check at a
500 ms interval against a listener the test stops and starts turns warning
within about one interval of the listener going away, critical after
failures_before_critical results, and passing again once it is back; an
HTTP check follows its server's status, body and latency; and
TTL checks, which the service itself keeps passing through Consul's
/v1/agent/check/pass|warn|fail|update API, turn critical when it stops."""

import os
import sys
import time
import unittest
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, ControlledHttp, tcp_listener  # noqa: E402


def ts(text):
    """An API time ("2026-11-22T00:33:16.996Z") as Unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class StateChanges(HeedTestCase):
    @staticmethod
    def history_through(a, cid, when):
        """The raw history of cid once it has the result of time when."""
        def get():
            h = a.ok("GET", "/v1/checks/%s/history?step=raw" % cid)
            return h if h["points"] and h["points"][-1]["ts"] >= when else None
        return wait_until(get, 10, interval=0.05, what="%s's history up to %s" % (cid, when))

    def test_tcp_target_dies_and_returns(self):
        up = tcp_listener(self.reg)
        port = up.port
        a = Agent(self.reg, {"checks": [{
            "name": "db", "target": "tcp://127.0.0.1:%d" % port, "interval": "500ms",
            "timeout": "400ms", "failures_before_warning": 1, "failures_before_critical": 3}]})
        a.start()
        c = a.wait_status("db", "passing")
        self.assertEqual((c["output"], c["reason"]), ("connected", "ok"))

        # The listener goes: warning at the next run, within about an interval.
        stopped = time.time()
        up.stop()
        w = a.wait_status("db", "warning", timeout=5)
        self.assertEqual(w["reason"], "connect_refused", w)
        self.assertIn("refused", w["output"])
        took = ts(w["last_change"]) - stopped
        self.assertLess(took, 0.5 + scaled(0.5), "warning %.2f s after the target died" % took)
        # Critical at the third failure in a row, about two intervals later.
        c = a.wait_status("db", "critical", timeout=8)
        gap = ts(c["last_change"]) - ts(w["last_change"])
        self.assertLess(gap, 2 * 0.5 + scaled(1.0), "critical too late after warning")
        self.assertEqual(c["last_success"], w["last_success"])
        pts = self.history_through(a, "db", c["last_change"])["points"]
        failed = [pt["ts"] for pt in pts if pt["status"] != "passing"
                  and pt["ts"] <= c["last_change"]]
        self.assertEqual(failed, [w["last_change"], failed[1], c["last_change"]],
                         "warning at the first failure, critical at the third")

        # Back: passing at the next run.
        back = time.time()
        tcp_listener(self.reg, port=port)
        p = a.wait_status("db", "passing", timeout=5)
        took = ts(p["last_change"]) - back
        self.assertLess(took, 0.5 + scaled(0.5), "passing %.2f s after the target came back"
                        % took)
        self.assertEqual(p["output"], "connected")
        self.assertGreaterEqual(ts(p["last_success"]), back - 0.01)

        # The history has the whole story: passing, the failures, passing.
        # (History is written after the state, on the store's own time.)
        h = self.history_through(a, "db", p["last_change"])
        self.assertEqual(h["step"], "raw")
        seq = [pt["status"] for pt in h["points"]]
        self.assertEqual(seq[0], "passing", seq)
        self.assertEqual(seq[-1], "passing", seq)
        self.assertGreaterEqual(seq.count("critical"), 3, seq)
        reasons = {pt["reason"] for pt in h["points"] if pt["status"] == "critical"}
        self.assertEqual(reasons, {"connect_refused"})
        times = [pt["ts"] for pt in h["points"]]
        self.assertEqual(times, sorted(times))

    def test_http_target_status_body_latency(self):
        srv = ControlledHttp(self.reg)
        a = Agent(self.reg, {"checks": [{
            "name": "web", "target": "http://127.0.0.1:%d/health" % srv.port,
            "interval": "300ms", "timeout": "300ms", "failures_before_critical": 1,
            "expect": {"status": [200], "body_contains": "OK", "latency_ms": 100}}]})
        a.start()
        c = a.wait_status("web", "passing")
        self.assertEqual(c["reason"], "ok")
        srv.set(503, b"OK but busy")
        c = a.wait_status("web", "critical")
        self.assertIn("503", c["output"])
        srv.set(200, b"NOPE")
        c = a.wait_check("web", lambda c: c["status"] == "critical" and "503" not in c["output"],
                         what="web critical for its body")
        self.assertIn("OK", c["output"])
        srv.set(200, b"all OK", delay=0.15)
        c = a.wait_status("web", "warning")
        self.assertRegex(c["output"], r"^slow: \d+\.\d ms > 100 ms")
        srv.set(200, b"all OK")
        a.wait_status("web", "passing")
        self.assertGreater(srv.requests, 4)
        self.assertEqual(srv.paths, {"/health"})

    def test_success_before_passing(self):
        up = tcp_listener(self.reg)
        a = Agent(self.reg, {"checks": [{
            "name": "slowstart", "target": "tcp://127.0.0.1:%d" % up.port,
            "interval": "300ms", "success_before_passing": 3}]})
        a.start()
        c = a.wait_status("slowstart", "passing", timeout=10)
        # Three passing results before the status turned: the first run is
        # at the earliest right after the start.
        h = self.history_through(a, "slowstart", c["last_change"])["points"]
        firsts = [pt for pt in h if ts(pt["ts"]) <= ts(c["last_change"]) + 0.001]
        self.assertGreaterEqual(len(firsts), 3, h)


class TtlChecks(HeedTestCase):
    def test_ttl_updates_and_expiry(self):
        a = Agent(self.reg, {"checks": [{"name": "from-file", "ttl": "1s"}]}).start()
        a.ok("POST", "/v1/checks", {"name": "svc", "ttl": "2s"}, status=201)
        c = a.check("svc")
        self.assertEqual((c["ttl"], c["status"]), ("2s", "critical"))
        self.assertNotIn("target", c)

        r = a.call("PUT", "/v1/agent/check/pass/svc?note=all%20good")
        self.assertEqual(r.status, 200, r)
        self.assert_consul_empty(r)
        c = a.check("svc")
        self.assertEqual((c["status"], c["output"]), ("passing", "all good"))
        # Kept alive by updates well within the TTL, it stays passing.
        for _ in range(8):
            time.sleep(0.25)
            r = a.call("PUT", "/v1/agent/check/pass/svc")
            self.assertEqual(r.status, 200, r)
            self.assert_consul_empty(r)  # no change: replied before any write
            self.assertEqual(a.check("svc")["status"], "passing")
        last = a.check("svc")
        self.assertEqual(last["output"], "")

        # No update within the TTL: critical, and it says why.
        c = a.wait_status("svc", "critical", timeout=10)
        self.assertIn("TTL expired", c["output"])
        waited = ts(c["last_change"]) - ts(last["last_checked"])
        self.assertGreaterEqual(waited, 2.0 - 0.01, "expired %.2f s after the update" % waited)
        self.assertLess(waited, 2.0 + scaled(1.0))
        # The expiry is in the history, after the passing updates.
        pts = StateChanges.history_through(a, "svc", c["last_change"])["points"]
        self.assertEqual(pts[-1]["status"], "critical", pts)
        self.assertEqual(pts[-2]["status"], "passing", pts)

        # warn and fail, with a note; update with {"Status", "Output"}.
        self.assertEqual(a.call("PUT", "/v1/agent/check/warn/svc?note=disk%2090%25").status, 200)
        self.assertEqual([a.check("svc")[k] for k in ("status", "output")],
                         ["warning", "disk 90%"])
        self.assertEqual(a.call("PUT", "/v1/agent/check/fail/svc?note=down").status, 200)
        self.assertEqual([a.check("svc")[k] for k in ("status", "output")], ["critical", "down"])
        r = a.call("PUT", "/v1/agent/check/update/svc", {"Status": "passing", "Output": "back"})
        self.assertEqual(r.status, 200, r)
        self.assert_consul_empty(r)
        self.assertEqual([a.check("svc")[k] for k in ("status", "output")], ["passing", "back"])
        r = a.call("PUT", "/v1/agent/check/update/svc", {"Status": "warning"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([a.check("svc")[k] for k in ("status", "output")], ["warning", ""])

        for body in ({"Status": "sunny"}, {"Output": "x"}, {"Status": 1}):
            r = a.call("PUT", "/v1/agent/check/update/svc", body)
            self.assertEqual((r.status, r.code), (400, "bad_field"), (body, r))
            self.assertIn("Status", r.error)
        self.assertEqual(a.check("svc")["status"], "warning")
        r = a.call("PUT", "/v1/agent/check/pass/nope")
        self.assertEqual((r.status, r.code), (404, "not_found"), r)
        a.ok("POST", "/v1/checks", {"name": "probe", "target": "tcp://127.0.0.1:1"}, status=201)
        r = a.call("PUT", "/v1/agent/check/pass/probe")
        self.assertEqual((r.status, r.code), (400, "not_ttl"), r)
        r = a.call("GET", "/v1/agent/check/pass/svc")
        self.assertEqual(r.status, 405, r)

        # A note that is not UTF-8: each bad byte shows as U+FFFD, in the
        # API and in the store (this used to drop "output" from the GET and
        # abort the agent when it wrote the state).
        r = a.call("PUT", "/v1/agent/check/fail/svc?note=bad%FF%C3")
        self.assertEqual(r.status, 200, r)
        self.assertEqual([a.check("svc")[k] for k in ("status", "output")],
                         ["critical", "bad\ufffd\ufffd"])
        self.assertIn("bad\ufffd\ufffd", [c["output"] for c in a.ok("GET", "/v1/checks")])
        self.assertEqual(a.call("GET", "/v1/status").status, 200)
        # An Output over the 4 KiB cap, cut by bytes: the agent used to
        # abort when it stored a cut in the middle of a UTF-8 sequence.
        r = a.call("PUT", "/v1/agent/check/update/svc", {"Status": "passing",
                                                        "Output": "\u00e9" * 5000})
        self.assertEqual(r.status, 200, r)
        # Cut below 4,096 bytes at a character boundary: 2,047 whole ones.
        self.assertEqual(a.check("svc")["output"], "\u00e9" * 2047)

        # A TTL check from the config file works the same way.
        self.assertEqual(a.call("PUT", "/v1/agent/check/pass/from-file").status, 200)
        self.assertEqual(a.check("from-file")["status"], "passing")
        c = a.wait_status("from-file", "critical", timeout=10)
        self.assertIn("TTL expired", c["output"])

    def assert_consul_empty(self, r):
        """Consul's reply to a TTL update: 200, no body and no Content-Type
        (not evhttp's default text/html)."""
        self.assertEqual((r.body, r.headers.get("content-length")), (b"", "0"), r.headers)
        self.assertNotIn("content-type", r.headers)

    def test_paused_ttl_check_does_not_expire(self):
        a = Agent(self.reg, {}).start()
        a.ok("POST", "/v1/checks", {"name": "svc", "ttl": "1s"}, status=201)
        a.ok("PUT", "/v1/agent/check/pass/svc")
        a.ok("PUT", "/v1/checks/svc/pause")
        # Updates while paused leave it in maintenance.
        a.ok("PUT", "/v1/agent/check/fail/svc")
        self.assertEqual(a.check("svc")["status"], "maintenance")
        time.sleep(scaled(1.5))
        c = a.check("svc")
        self.assertEqual(c["status"], "maintenance")
        self.assertNotIn("TTL expired", c["output"])
        a.ok("PUT", "/v1/checks/svc/resume")
        a.ok("PUT", "/v1/agent/check/pass/svc")
        self.assertEqual(a.check("svc")["status"], "passing")
        c = a.wait_status("svc", "critical", timeout=10)
        self.assertIn("TTL expired", c["output"])


if __name__ == "__main__":
    main()
