"""heed agent on SIGHUP reads its config file again: a check that did not
change keeps its state (last_change, status), a removed one is gone (404),
an added one appears, a changed one takes its new definition, and checks
created through the API are untouched. Tokens, limits and rate limits are
taken too (a deleted token stops working at once). A broken file leaves
the running config in place, and stderr says why with file:line:column.
bind and data_dir need a restart, which stderr says only when they
changed."""

import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402


def metric(text, name):
    m = re.search(r"^%s(?:\{\})? (\S+)$" % re.escape(name), text, re.MULTILINE)
    return float(m.group(1)) if m else None


class Reload(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.up = tcp_listener(self.reg)
        self.target = "tcp://127.0.0.1:%d" % self.up.port

    def chk(self, name, interval="300ms", **kw):
        return dict({"name": name, "target": self.target, "interval": interval}, **kw)

    def test_sighup_applies_changes_and_keeps_unchanged_state(self):
        v1 = {"node": "reload-test",
              "checks": [self.chk("keep", tags=["same"]), self.chk("change"),
                         self.chk("retarget"), self.chk("remove")]}
        a = Agent(self.reg, v1).start()
        a.ok("POST", "/v1/checks", self.chk("from-api"), status=201)
        for cid in ("keep", "change", "retarget", "remove", "from-api"):
            a.wait_status(cid, "passing")
        a.ok("PUT", "/v1/checks/change/pause")
        a.ok("PUT", "/v1/checks/retarget/pause")
        other = tcp_listener(self.reg)
        before = a.checks()

        v2 = {"node": "reload-test",
              "checks": [self.chk("added", tags=["new"]), self.chk("keep", tags=["same"]),
                         self.chk("change", interval="1s", failures_before_critical=5),
                         self.chk("retarget", target="tcp://127.0.0.1:%d" % other.port)]}
        a.reload(v2, expect="reloaded")
        self.assertIn("heed agent: reloaded %s: 5 checks" % a.path, a.stderr())
        after = a.checks()
        self.assertEqual(sorted(after), ["added", "change", "from-api", "keep", "retarget"])
        # Unchanged: same definition and state, and it runs on.
        for k in ("status", "last_change", "tags", "interval", "source"):
            self.assertEqual(after["keep"][k], before["keep"][k], k)
        a.wait_check("keep", lambda c: c["last_checked"] > before["keep"]["last_checked"],
                     what="keep runs on after the reload")
        self.assertEqual(a.check("keep")["last_change"], before["keep"]["last_change"])
        # Removed: gone.
        r = a.get("/v1/checks/remove")
        self.assertEqual((r.status, r.code), (404, "not_found"), r)
        r = a.get("/v1/checks/remove/history")
        self.assertEqual(r.status, 404, r)
        # Changed: the new definition; paused checks stay paused, as after
        # an API replace, whether the target changed or not.
        c = after["change"]
        self.assertEqual((c["interval"], c["failures_before_critical"], c["source"]),
                         ("1s", 5, "config"))
        self.assertEqual((c["status"], c["paused"]), ("maintenance", True))
        c = after["retarget"]
        self.assertEqual(c["target"], "tcp://127.0.0.1:%d" % other.port)
        self.assertEqual((c["status"], c["paused"]), ("maintenance", True))
        # Added: there, and it runs.
        self.assertEqual((after["added"]["source"], after["added"]["tags"]), ("config", ["new"]))
        a.wait_status("added", "passing")
        # The API's check is not the file's business.
        self.assertEqual(after["from-api"]["last_change"], before["from-api"]["last_change"])
        self.assertEqual(after["from-api"]["source"], "api")

        text = a.get("/metrics").body.decode()
        self.assertEqual(metric(text, "heed_config_reloads_total"), 1.0)
        self.assertEqual(metric(text, "heed_config_reload_errors_total"), 0.0)
        self.assertEqual(a.stop(), 0, a.stderr())

        # What the reload did survives a restart.
        a.start()
        self.assertEqual(sorted(a.checks()), ["added", "change", "from-api", "keep", "retarget"])
        self.assertEqual(a.check("retarget")["status"], "maintenance")
        self.assertEqual(a.check("change")["interval"], "1s")

    def test_broken_file_leaves_running_config(self):
        v1 = {"checks": [self.chk("one"), self.chk("two", tags=["t"])]}
        a = Agent(self.reg, v1).start()
        a.wait_status("one", "passing")
        a.wait_status("two", "passing")
        before = {cid: {k: c[k] for k in ("interval", "tags", "last_change", "source")}
                  for cid, c in a.checks().items()}

        bad = ("checks:\n"
               "  - name: one\n"
               "    target: %s\n"
               "    interval: soon\n" % self.target)
        a.reload(bad, expect="reload failed")
        err = a.stderr()
        self.assertIn("heed agent: reload failed, the running config stays:", err)
        self.assertRegex(err, r"%s:4:15: checks\[0\]\.interval: expected a duration"
                         % re.escape(a.path))
        now = {cid: {k: c[k] for k in ("interval", "tags", "last_change", "source")}
               for cid, c in a.checks().items()}
        self.assertEqual(now, before)
        # Both checks still run.
        for cid in ("one", "two"):
            last = a.check(cid)["last_checked"]
            a.wait_check(cid, lambda c, last=last: c["last_checked"] > last,
                         what="%s runs on" % cid)

        # Not even YAML; and an unknown key.
        for text, want in (("checks: [\n", r":\d+:\d+: "),
                           ("checks:\n  - name: one\n    target: %s\n    colour: red\n"
                            % self.target, r":4:5: checks\[0\]\.colour: unknown key")):
            a.reload(text, expect="reload failed")
            self.assertRegex(a.stderr(), re.escape(a.path) + want)
            self.assertEqual(sorted(a.checks()), ["one", "two"])
        text = a.get("/metrics").body.decode()
        self.assertEqual(metric(text, "heed_config_reload_errors_total"), 3.0)
        self.assertEqual(metric(text, "heed_config_reloads_total"), 0.0)

        # A good file afterwards is taken.
        a.reload({"checks": [self.chk("two", tags=["t"])]}, expect="reloaded")
        self.assertEqual(sorted(a.checks()), ["two"])
        self.assertEqual(a.check("two")["last_change"], before["two"]["last_change"])
        self.assertEqual(a.stop(signal.SIGINT), 0, a.stderr())

    def test_sighup_reloads_tokens_limits_and_rate_limits(self):
        v1 = {"tokens": [{"secret": "m-1", "role": "management"},
                         {"secret": "w-old", "role": "write"}],
              "limits": {"max_body_bytes": "64KiB"}}
        a = Agent(self.reg, v1).start()
        a.ok("POST", "/v1/checks", self.chk("by-old"), token="w-old", status=201)
        big = dict(self.chk("big"), tags=["x" * 60] * 30)  # ~2 KB of JSON
        a.ok("POST", "/v1/checks", big, token="m-1", status=201)
        a.ok("DELETE", "/v1/checks/big", token="m-1")

        v2 = {"tokens": [{"secret": "m-1", "role": "management"},
                         {"secret": "w-new", "role": "write"}],
              "limits": {"max_body_bytes": "1KiB"},
              "rate_limits": {"api": {"rate": "1/m", "burst": 3}}}
        a.reload(v2, expect="reloaded")
        self.assertNotIn("take effect at the next start", a.stderr())
        # The deleted token is refused, for reads and writes alike.
        for method, path, body in (("POST", "/v1/checks", self.chk("x")),
                                   ("DELETE", "/v1/checks/by-old", None),
                                   ("GET", "/v1/checks", None)):
            r = a.call(method, path, body, token="w-old")
            self.assertEqual((r.status, r.code), (403, "bad_token"), (method, path, r))
        # The added one works.
        a.ok("POST", "/v1/checks", self.chk("by-new"), token="w-new", status=201)
        # The lowered body limit applies.
        r = a.call("POST", "/v1/checks", big, token="m-1")
        self.assertEqual((r.status, r.code), (413, "too_large"), r)
        self.assertIn("limit of 1024 bytes", r.error)
        # The new rate: 3 at once for m-1 (the 413 took none), then 429.
        for _ in range(3):
            a.ok("GET", "/v1/status", token="m-1")
        r = a.get("/v1/status", token="m-1")
        self.assertEqual((r.status, r.code), (429, "rate_limited"), r)
        self.assertEqual(a.stop(), 0, a.stderr())

    def test_restart_note_only_when_bind_or_data_dir_changed(self):
        other = os.path.join(self.reg.tempdir(), "data")
        cfg = {"checks": [self.chk("one")]}
        a = Agent(self.reg, cfg).start("--data-dir", other)
        # The file names another data_dir than --data-dir: that is no change.
        a.reload(cfg, expect="reloaded")
        cfg2 = dict(cfg, data_dir=os.path.join(self.reg.tempdir(), "elsewhere"))
        a.reload(cfg2, expect="reloaded")
        self.assertNotIn("take effect at the next start", a.stderr())
        # A new bind in the file is one: said, and the API stays where it is.
        cfg3 = dict(cfg2, bind="127.0.0.1:%d" % (a.port + 1))
        a.reload(cfg3, expect="reloaded")
        self.assertEqual(a.stderr().count("heed agent: reload: bind and data_dir changes take "
                                          "effect at the next start"), 1, a.stderr())
        a.ok("GET", "/v1/status")
        self.assertEqual(a.stop(), 0, a.stderr())


if __name__ == "__main__":
    main()
