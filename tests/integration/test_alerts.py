"""The alert engine (issue 10) end to end: a real `heed agent` whose TTL
checks the test turns critical and passing through the API, alert rules
and a webhook notifier pointing at a receiver the test runs on a loopback
port (Python's http.server, answering 2xx or 503 as the test says).

Sequences: triggered and resolved; `for:` holding and cancelling; a
reminder; flapping once and its end; a maintenance window (no alert, status
maintenance); a receiver down then up (nothing lost, each event delivered
once); SIGKILL of the agent in the middle of retries (nothing lost, nothing
acknowledged sent again); a restart between failure and recovery (the
resolved still goes out); the outbox cap dropping the oldest and counting
it; GET /v1/events with ?check, tenants and a blocking ?index."""

import json
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import Agent  # noqa: E402
from test_notifiers import ALERTMANAGER, Alertmanager, Receiver  # noqa: E402


class Hook(Receiver):
    """The webhook receiver, with what it acknowledged by event id."""

    def __init__(self, reg):
        super().__init__(reg)
        self.lock = threading.Lock()

    def events(self, acked_only=True):
        """The events received (bodies decoded), in order; only those it
        answered 2xx when acked_only."""
        out = []
        for r in list(self.requests):
            if acked_only and not r.get("acked"):
                continue
            out.append(json.loads(r["body"]))
        return out

    def kinds(self, check=None):
        return [(e["kind"], e["status"]) for e in self.events()
                if check is None or e["check"]["id"] == check]


def hook_receiver(reg):
    h = Hook(reg)
    # Marks each request with whether it was answered 2xx: the status is
    # read when the request arrives (the handler reads outer.status then).
    orig = h.server.RequestHandlerClass.do_POST

    def do_post(handler):
        before = len(h.requests)
        status = h.status
        orig(handler)
        with h.lock:
            for r in h.requests[before:]:
                if "acked" not in r:
                    r["acked"] = 200 <= status < 300
    h.server.RequestHandlerClass.do_POST = do_post
    return h


def ttl_check(name, tags=("web",)):
    return {"name": name, "ttl": "1h", "tags": list(tags)}


class AlertCase(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.hook = hook_receiver(self.reg)

    def agent(self, checks, rule=None, alerting=None, maintenance=None, extra=None):
        rule = dict(rule or {})
        rule.setdefault("notify", ["hook"])
        cfg = {
            "node": "n1",
            "checks": checks,
            "notify": [{"name": "hook", "webhook": {"url": self.hook.url()}}],
            "alerts": [rule],
            "alerting": dict({"retry_min": "100ms", "retry_max": "400ms"}, **(alerting or {})),
        }
        if maintenance:
            cfg["maintenance"] = maintenance
        cfg.update(extra or {})
        return Agent(self.reg, cfg)

    def set(self, a, cid, how, note=""):
        r = a.call("PUT", "/v1/agent/check/%s/%s?note=%s" % (how, cid, note))
        self.assertEqual(r.status, 200, r.body)

    def wait_kinds(self, want, check=None, timeout=15):
        wait_until(lambda: self.hook.kinds(check) == want, scaled(timeout),
                   what="receiver to get %s (has %s)" % (want, self.hook.kinds(check)))

    def events(self, a, query=""):
        r = a.get("/v1/events" + query)
        self.assertEqual(r.status, 200, r.body)
        return r.json

    def metric(self, a, name):
        text = a.get("/metrics").body.decode()
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None


class TestSequences(AlertCase):
    def test_triggered_then_resolved(self):
        a = self.agent([ttl_check("web1"), ttl_check("db1", tags=["db"])],
                       rule={"match": {"tags": ["web"]}}).start()
        self.set(a, "web1", "pass")
        self.set(a, "db1", "pass")
        self.set(a, "db1", "fail")  # not matched by the rule
        self.set(a, "web1", "fail", "down")
        self.wait_kinds([("triggered", "critical")])
        ev = self.hook.events()[0]
        self.assertEqual(ev["check"]["id"], "web1")
        self.assertEqual(ev["old_status"], "passing")
        self.assertEqual(ev["output"], "down")
        self.assertEqual(ev["node"], "n1")
        self.assertEqual(self.hook.requests[0]["headers"].get("Idempotency-Key"), ev["id"])
        self.set(a, "web1", "warn")
        self.set(a, "web1", "pass")
        self.wait_kinds([("triggered", "critical"), ("triggered", "warning"),
                         ("resolved", "passing")])
        ids = [e["id"] for e in self.hook.events()]
        self.assertEqual(len(set(ids)), 3)
        # Each carries when the failure began, the resolved too.
        since = self.hook.events()[0]["since"]
        self.assertIsNotNone(since)
        self.assertEqual([e["since"] for e in self.hook.events()], [since] * 3)
        # GET /v1/events: newest first, every delivery delivered (recorded
        # once the receiver answered).
        wait_until(lambda: all(e["deliveries"][0]["state"] == "delivered"
                               for e in self.events(a)), scaled(5), what="deliveries recorded")
        evs = self.events(a)
        self.assertEqual([e["kind"] for e in evs], ["resolved", "triggered", "triggered"])
        self.assertEqual([e["id"] for e in evs], ids[::-1])
        for e in evs:
            self.assertEqual(len(e["deliveries"]), 1)
            d = e["deliveries"][0]
            self.assertEqual((d["notifier"], d["state"], d["attempts"]), ("hook", "delivered", 1))
            self.assertIsNotNone(d["delivered_at"])
        self.assertEqual(self.events(a, "?check=db1"), [])
        self.assertEqual(len(self.events(a, "?check=web1&limit=2")), 2)
        self.assertEqual(a.get("/v1/events?limit=0").status, 400)
        self.assertEqual(self.metric(a, "heed_alert_events_total"), 3)
        self.assertEqual(self.metric(a, 'heed_alert_deliveries_total{result="delivered"}'), 3)

    def test_for_cancels_then_holds(self):
        a = self.agent([ttl_check("web1")], rule={"for": "2s"}).start()
        self.set(a, "web1", "pass")
        self.set(a, "web1", "fail")
        evs = self.events(a)
        self.assertEqual(evs[0]["deliveries"][0]["state"], "held")
        self.set(a, "web1", "pass")  # back within for: cancelled, no resolved
        time.sleep(scaled(3))
        self.assertEqual(self.hook.requests, [])
        evs = self.events(a)
        self.assertEqual([e["kind"] for e in evs], ["triggered"])
        self.assertEqual(evs[0]["deliveries"][0]["state"], "cancelled")
        # Failing for longer than for: told once, after it.
        t0 = time.monotonic()
        self.set(a, "web1", "fail")
        self.wait_kinds([("triggered", "critical")])
        self.assertGreaterEqual(time.monotonic() - t0, 1.5)
        self.set(a, "web1", "pass")
        self.wait_kinds([("triggered", "critical"), ("resolved", "passing")])

    def test_reminder(self):
        a = self.agent([ttl_check("web1")], rule={"remind_every": "2s"}).start()
        self.set(a, "web1", "pass")
        self.set(a, "web1", "fail")
        self.wait_kinds([("triggered", "critical"), ("reminder", "critical")], timeout=20)
        self.set(a, "web1", "pass")
        self.wait_kinds([("triggered", "critical"), ("reminder", "critical"),
                         ("resolved", "passing")])
        time.sleep(scaled(3))  # no reminder once passing
        self.assertEqual(len(self.hook.events()), 3)

    def test_flapping_alerts_once_and_settles(self):
        a = self.agent([ttl_check("web1")],
                       alerting={"flapping": {"changes": 3, "window": "3s"}}).start()
        self.set(a, "web1", "pass")
        for how in ["fail", "pass", "fail", "pass", "fail", "pass", "fail"]:
            self.set(a, "web1", how)
        # Changes: the first pass (from "not checked yet"), then triggered,
        # resolved; the fourth change starts flapping; the rest are quiet;
        # 3 s without a change ends it, at critical.
        self.wait_kinds([("triggered", "critical"), ("resolved", "passing"),
                         ("flapping", "critical"), ("flapping_end", "critical")], timeout=20)
        self.assertTrue(self.hook.events()[2]["flapping"])
        self.assertFalse(self.hook.events()[3]["flapping"])

    def test_maintenance_window(self):
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
        a = self.agent([ttl_check("web1"), ttl_check("web2", tags=["web", "db"])],
                       maintenance=[{"match": {"tags": ["db"]}, "start": start,
                                     "duration": "1h"}]).start()
        self.set(a, "web1", "pass")
        self.set(a, "web2", "pass")
        wait_until(lambda: a.check("web2")["status"] == "maintenance", scaled(5),
                   what="web2 shown in maintenance")
        self.assertEqual(a.check("web1")["status"], "passing")
        self.set(a, "web2", "fail")
        self.set(a, "web1", "fail")
        self.wait_kinds([("triggered", "critical")])
        time.sleep(scaled(1.5))
        self.assertEqual([e["check"]["id"] for e in self.hook.events()], ["web1"])
        self.assertEqual(a.check("web2")["status"], "maintenance")

    def test_service_match_and_event_service(self):
        start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
        a = self.agent([ttl_check("web1", tags=["x"])], rule={"match": {"services": ["shop"]}},
                       maintenance=[{"match": {"tags": ["quiet"]}, "start": start,
                                     "duration": "1h"}],
                       extra={"services": [
                           {"name": "shop", "tags": ["front"],
                            "checks": [{"name": "shop-hb", "ttl": "1h"}]},
                           {"name": "back", "tags": ["quiet"],
                            "checks": [{"name": "back-hb", "ttl": "1h"}]}]}).start()
        ids = {c["service_id"]: c["id"] for c in a.checks().values() if c.get("service_id")}
        self.assertEqual(set(ids), {"shop", "back"})
        # The service's tag puts its check in the window.
        wait_until(lambda: a.check(ids["back"])["status"] == "maintenance", scaled(5),
                   what="back's check in maintenance")
        for cid in [ids["shop"], "web1"]:
            self.set(a, cid, "pass")
            self.set(a, cid, "fail")
        self.wait_kinds([("triggered", "critical")])
        ev = self.hook.events()[0]
        self.assertEqual(ev["check"]["id"], ids["shop"])
        self.assertEqual(ev["service"], {"id": "shop", "name": "shop", "tags": ["front"]})
        time.sleep(scaled(1))
        self.assertEqual(len(self.hook.events()), 1)  # web1 is not of the service

    def test_rule_matches_an_api_registered_service(self):
        a = self.agent([ttl_check("solo", tags=["x"])], rule={"match": {"tags": ["pay"]}}).start()
        r = a.call("PUT", "/v1/agent/service/register",
                   {"Name": "billing", "ID": "bill1", "Tags": ["pay"],
                    "Check": {"CheckID": "bill-ttl", "TTL": "1h"}})
        self.assertEqual(r.status, 200, r.body)
        for cid in ["bill-ttl", "solo"]:
            self.set(a, cid, "pass")
            self.set(a, cid, "fail")
        self.wait_kinds([("triggered", "critical")])
        ev = self.hook.events()[0]
        self.assertEqual(ev["check"]["id"], "bill-ttl")
        self.assertEqual(ev["service"], {"id": "bill1", "name": "billing", "tags": ["pay"]})
        time.sleep(scaled(1))
        self.assertEqual(len(self.hook.events()), 1)  # solo has no service tagged pay

    def test_reload_takes_new_rules_and_notifiers(self):
        a = self.agent([ttl_check("web1"), ttl_check("db1", tags=["db"])],
                       rule={"match": {"tags": ["web"]}}).start()
        for cid in ["web1", "db1"]:
            self.set(a, cid, "pass")
        self.set(a, "web1", "fail")
        self.wait_kinds([("triggered", "critical")], check="web1")
        other = hook_receiver(self.reg)
        cfg = dict(a.config_dict)
        cfg["notify"] = [{"name": "hook", "webhook": {"url": other.url()}}]
        cfg["alerts"] = [{"match": {"tags": ["db"]}, "notify": ["hook"]}]
        a.reload(cfg)
        self.set(a, "db1", "fail")
        wait_until(lambda: [e["check"]["id"] for e in other.events()] == ["db1"], scaled(10),
                   what="db1's alert at the new URL")
        self.set(a, "web1", "pass")  # no rule for web any more
        time.sleep(scaled(1))
        self.assertEqual([e["check"]["id"] for e in other.events()], ["db1"])
        self.assertEqual(len(self.hook.events()), 1)

    def test_validate_names_bad_rules(self):
        a = self.agent([ttl_check("web1")], rule={"notify": ["nope"], "for": "soon"},
                       maintenance=[{"start": "yesterday", "duration": "1h", "every": "year"}])
        rc, _, err = run_heed(["agent", "--validate", "-c", a.path])
        self.assertEqual(rc, 1)
        self.assertRegex(err, r"heed\.yaml:\d+:\d+: alerts\[0\]\.notify\[0\]: no notifier "
                              r"named \"nope\"")
        self.assertRegex(err, r"heed\.yaml:\d+:\d+: alerts\[0\]\.for: expected a duration")
        self.assertRegex(err, r"heed\.yaml:\d+:\d+: maintenance\[0\]\.start: expected an RFC 3339")
        self.assertRegex(err, r"heed\.yaml:\d+:\d+: maintenance\[0\]\.every: expected day or week")


class TestDurability(AlertCase):
    def test_receiver_down_then_up_loses_nothing(self):
        checks = [ttl_check("c%d" % i) for i in range(5)]
        a = self.agent(checks).start()
        for c in checks:
            self.set(a, c["name"], "pass")
        self.hook.status = 503
        for c in checks:
            self.set(a, c["name"], "fail")
        wait_until(lambda: len(self.hook.requests) >= 3, scaled(10), what="tries while down")
        wait_until(lambda: (self.metric(a, "heed_alert_delivery_retries_total") or 0) >= 2,
                   scaled(10), what="retries counted")
        d = self.events(a)[-1]["deliveries"][0]
        self.assertEqual(d["state"], "pending")
        self.assertGreaterEqual(d["attempts"], 1)
        self.assertIn("503", d["last_error"])
        self.assertIsNotNone(d["next_try"])
        self.hook.status = 200
        wait_until(lambda: len(self.hook.events()) == 5, scaled(15), what="all five delivered")
        time.sleep(scaled(1))
        got = [e["check"]["id"] for e in self.hook.events()]
        self.assertEqual(got, ["c%d" % i for i in range(5)])  # in order, each once
        self.assertEqual(self.metric(a, "heed_alert_outbox_events"), 0)

    def test_sigkill_during_retries(self):
        checks = [ttl_check("c%d" % i) for i in range(4)]
        a = self.agent(checks).start()
        for c in checks:
            self.set(a, c["name"], "pass")
        self.set(a, "c0", "fail")
        self.wait_kinds([("triggered", "critical")], check="c0")
        acked = self.hook.events()[0]["id"]
        self.hook.status = 503
        for c in checks[1:]:
            self.set(a, c["name"], "fail")
        wait_until(lambda: len(self.hook.requests) >= 3, scaled(10), what="retries")
        a.stop(sig=signal.SIGKILL)
        self.hook.status = 200
        a.start()
        wait_until(lambda: len(self.hook.events()) == 4, scaled(15), what="all four delivered")
        time.sleep(scaled(1.5))
        ids = [e["id"] for e in self.hook.events()]
        self.assertEqual(len(ids), 4, ids)
        self.assertEqual(len(set(ids)), 4, ids)  # nothing acknowledged sent again
        self.assertEqual(ids[0], acked)
        self.assertEqual(sorted(e["check"]["id"] for e in self.hook.events()[1:]),
                         ["c1", "c2", "c3"])

    def test_restart_keeps_what_was_told(self):
        a = self.agent([ttl_check("web1")]).start()
        self.set(a, "web1", "pass")
        self.set(a, "web1", "fail")
        self.wait_kinds([("triggered", "critical")])
        a.stop()
        a.start()
        time.sleep(scaled(1))
        self.assertEqual(len(self.hook.events()), 1)  # nothing repeated
        self.set(a, "web1", "pass")
        self.wait_kinds([("triggered", "critical"), ("resolved", "passing")])
        # A new event after the restart takes a new id.
        self.assertNotEqual(self.hook.events()[0]["id"], self.hook.events()[1]["id"])

    def test_outbox_cap_drops_oldest(self):
        checks = [ttl_check("c%d" % i) for i in range(5)]
        a = self.agent(checks, alerting={"outbox_max": 3, "retry_min": "5s",
                                         "retry_max": "5s"}).start()
        for c in checks:
            self.set(a, c["name"], "pass")
        self.hook.status = 503
        for c in checks:
            self.set(a, c["name"], "fail")
        wait_until(lambda: self.metric(a, "heed_alert_events_dropped_total") == 2, scaled(10),
                   what="two events dropped")
        self.assertEqual(self.metric(a, "heed_alert_outbox_events"), 3)

        def states():
            return {e["check"]["id"]: e["deliveries"][0]["state"] for e in self.events(a)}
        # The records are written after the drop is counted.
        wait_until(lambda: list(states().values()).count("dropped") == 2, scaled(5),
                   what="two deliveries recorded dropped")
        states = states()
        dropped = sorted(k for k, v in states.items() if v == "dropped")
        self.assertEqual(len(dropped), 2, states)
        # The oldest go first (one in flight to the receiver is not dropped).
        self.assertTrue(set(dropped) <= {"c0", "c1", "c2"}, states)
        self.assertEqual((states["c3"], states["c4"]), ("pending", "pending"), states)
        self.assertEqual(sum(v == "pending" for v in states.values()), 3, states)
        self.assertIn("outbox", a.stderr())


class TestEventsApi(AlertCase):
    def test_blocking_index(self):
        a = self.agent([ttl_check("web1")]).start()
        self.set(a, "web1", "pass")
        r = a.get("/v1/events")
        idx = int(r.headers["x-consul-index"])
        out = {}

        def blocked():
            out["r"] = a.get("/v1/events?index=%d&wait=20s" % idx, timeout=30)
        t = threading.Thread(target=blocked)
        t0 = time.monotonic()
        t.start()
        time.sleep(scaled(0.5))
        self.assertNotIn("r", out)
        self.set(a, "web1", "fail")
        t.join(scaled(20))
        self.assertIn("r", out)
        self.assertLess(time.monotonic() - t0, 15)
        self.assertGreater(int(out["r"].headers["x-consul-index"]), idx)
        self.assertEqual(out["r"].json[0]["kind"], "triggered")

    def test_tenants_see_only_their_events(self):
        a = self.agent([ttl_check("web1")], extra={"tokens": [
            {"secret": "mgmt-token-123456", "role": "management"},
            {"secret": "acme-token-123456", "role": "write", "tenant": "acme"},
        ]}).start()
        T = "mgmt-token-123456"
        r = a.call("PUT", "/v1/agent/check/pass/web1", token=T)
        self.assertEqual(r.status, 200, r.body)
        r = a.call("PUT", "/v1/agent/check/fail/web1", token=T)
        self.assertEqual(r.status, 200, r.body)
        self.wait_kinds([("triggered", "critical")])
        self.assertEqual(len(a.get("/v1/events", token=T).json), 1)
        self.assertEqual(a.get("/v1/events", token="acme-token-123456").json, [])
        self.assertEqual(a.get("/v1/events").status, 401)


class TestAlertingApi(AlertCase):
    MG = "mgmt-token-123456"
    ACME = "acme-token-123456"

    def test_notifiers_and_rules_from_the_api(self):
        other = hook_receiver(self.reg)
        a = self.agent([ttl_check("web1"), ttl_check("web2", tags=["api"])],
                       rule={"match": {"tags": ["web"]}},
                       alerting={"webhook_allow": ["127.0.0.1/32", "localhost"]},
                       extra={"tokens": [
                           {"secret": self.MG, "role": "management"},
                           {"secret": self.ACME, "role": "write", "tenant": "acme"}]}).start()
        T = self.MG
        ns = a.get("/v1/notifiers", token=T).json
        self.assertEqual([(n["name"], n["source"]) for n in ns], [("hook", "config")])
        # exec from the API: refused, naming why.
        r = a.call("POST", "/v1/notifiers", {"name": "x", "exec": {"command": ["/bin/true"]}},
                   token=T)
        self.assertIn(r.status, (400, 403), r.body)
        self.assertIn("config file only", r.json["error"])
        # webhook_allow: 127.0.0.2 is not in it; 127.0.0.1 is.
        r = a.call("POST", "/v1/notifiers",
                   {"name": "far", "webhook": {"url": "http://127.0.0.2:%d/x" % other.port}},
                   token=T)
        self.assertEqual(r.status, 403, r.body)
        self.assertIn("webhook_allow", r.json["error"])
        r = a.call("POST", "/v1/notifiers",
                   {"name": "apihook", "webhook": {"url": other.url(),
                                                   "headers": {"X-Key": "s3cret-value"}}},
                   token=T)
        self.assertEqual(r.status, 200, r.body)
        r = a.call("POST", "/v1/notifiers", {"name": "apihook", "webhook": {"url": other.url()}},
                   token=T)
        self.assertEqual(r.status, 409, r.body)
        r = a.call("POST", "/v1/notifiers", {"name": "hook", "webhook": {"url": other.url()}},
                   token=T)
        self.assertEqual(r.status, 409, r.body)
        listed = a.get("/v1/notifiers", token=T)
        self.assertNotIn(b"s3cret-value", listed.body)
        self.assertEqual([n["source"] for n in listed.json], ["config", "api"])
        # A rule naming it; one naming nothing known is refused.
        r = a.call("POST", "/v1/alerts", {"id": "r1", "notify": ["nope"]}, token=T)
        self.assertEqual(r.status, 400, r.body)
        r = a.call("POST", "/v1/alerts", {"id": "r1", "notify": ["apihook"], "for": "soon"},
                   token=T)
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("for", r.json["error"])
        r = a.call("POST", "/v1/alerts",
                   {"id": "r1", "notify": ["apihook"], "match": {"tags": ["api"]}}, token=T)
        self.assertEqual(r.status, 200, r.body)
        rules = a.get("/v1/alerts", token=T).json
        self.assertEqual([(x.get("id"), x["source"]) for x in rules],
                         [(None, "config"), ("r1", "api")])
        # The tenant sees none of it, and cannot use the management's notifier.
        self.assertEqual(a.get("/v1/alerts", token=self.ACME).json, [])
        self.assertEqual(a.get("/v1/notifiers", token=self.ACME).json, [])
        r = a.call("POST", "/v1/alerts", {"id": "t1", "notify": ["apihook"]}, token=self.ACME)
        self.assertEqual(r.status, 400, r.body)
        # It works, and survives a restart.
        self.set_t(a, "web2", "pass")
        self.set_t(a, "web2", "fail")
        wait_until(lambda: [e["check"]["id"] for e in other.events()] == ["web2"], scaled(10),
                   what="the API's notifier to get web2's alert")
        self.assertEqual(other.requests[0]["headers"].get("X-Key"), "s3cret-value")
        self.assertEqual(self.hook.events(), [])  # the config rule matches tag web only
        a.stop()
        a.start()
        self.assertEqual([x.get("id") for x in a.get("/v1/alerts", token=T).json], [None, "r1"])
        self.set_t(a, "web2", "pass")
        wait_until(lambda: [e["kind"] for e in other.events()] == ["triggered", "resolved"],
                   scaled(10), what="the resolved after a restart")
        # Replacing: a new header for the notifier, no resolved for the rule.
        r = a.call("PUT", "/v1/notifiers/apihook",
                   {"webhook": {"url": other.url(), "headers": {"X-Key": "n3w-value"}}}, token=T)
        self.assertEqual(r.status, 200, r.body)
        r = a.call("PUT", "/v1/alerts/r1", {"notify": ["apihook"], "match": {"tags": ["api"]},
                                            "send_resolved": False}, token=T)
        self.assertEqual(r.status, 200, r.body)
        self.assertFalse([x for x in a.get("/v1/alerts", token=T).json
                          if x.get("id") == "r1"][0]["send_resolved"])
        self.assertEqual(a.call("PUT", "/v1/alerts/nope", {"notify": ["apihook"]},
                                token=T).status, 404)
        self.assertEqual(a.call("PUT", "/v1/notifiers/hook", {"webhook": {"url": other.url()}},
                                token=T).status, 403)
        self.set_t(a, "web2", "fail")
        wait_until(lambda: len(other.events()) == 3, scaled(10), what="the third alert")
        self.assertEqual(other.requests[-1]["headers"].get("X-Key"), "n3w-value")
        self.set_t(a, "web2", "pass")
        time.sleep(scaled(1))
        self.assertEqual(len(other.events()), 3)  # send_resolved: false now
        # Deleting: the config's are read-only; a used notifier waits for its rule.
        self.assertEqual(a.call("DELETE", "/v1/notifiers/hook", token=T).status, 403)
        self.assertEqual(a.call("DELETE", "/v1/notifiers/apihook", token=T).status, 409)
        self.assertEqual(a.call("DELETE", "/v1/alerts/r1", token=self.ACME).status, 404)
        self.assertEqual(a.call("DELETE", "/v1/alerts/r1", token=T).status, 200)
        self.assertEqual(a.call("DELETE", "/v1/notifiers/apihook", token=T).status, 200)
        self.assertEqual([n["name"] for n in a.get("/v1/notifiers", token=T).json], ["hook"])
        self.assertEqual(a.call("POST", "/v1/alerts", {"id": "r2", "notify": ["hook"]}).status,
                         401)

    def set_t(self, a, cid, how):
        r = a.call("PUT", "/v1/agent/check/%s/%s" % (how, cid), token=self.MG)
        self.assertEqual(r.status, 200, r.body)


@unittest.skipUnless(ALERTMANAGER, "prometheus-alertmanager is not installed (scripts/deps.sh)")
class TestAlertmanager(AlertCase):
    def test_alerts_visible_in_alertmanager(self):
        am = Alertmanager(self.reg)
        checks = [ttl_check("c%d" % i) for i in range(3)]
        a = self.agent(checks, rule={"notify": ["am"]},
                       extra={"notify": [{"name": "am", "alertmanager": {"url": am.url()}}]})
        a.start()
        for c in checks:
            self.set(a, c["name"], "pass")
        for c in checks:
            self.set(a, c["name"], "fail")
        wait_until(lambda: len(am.alerts()) == 3, scaled(15), what="three alerts in Alertmanager")
        ids = {e["check"]["id"]: e["id"] for e in self.events(a)}
        got = {x["labels"]["check"]: x["annotations"]["event_id"] for x in am.alerts()}
        self.assertEqual(got, ids)
        self.assertEqual({x["labels"]["severity"] for x in am.alerts()}, {"critical"})
        # Each alert links back to its check's page on this agent's dashboard.
        self.assertEqual({x["generatorURL"] for x in am.alerts()},
                         {"http://127.0.0.1:%d/ui/#/check/%s" % (a.port, c["name"])
                          for c in checks})
        for c in checks:
            self.set(a, c["name"], "pass")
        wait_until(lambda: am.alerts() == [], scaled(15), what="the alerts resolved")
        wait_until(lambda: all(e["deliveries"][0]["state"] == "delivered"
                               for e in self.events(a)), scaled(5), what="deliveries recorded")


if __name__ == "__main__":
    main()
