"""file:// checks through the API (issue 8, item 8): a write token could
create file:///etc/shadow and read back "passing / exists", learning which
files exist. Now, as exec: checks, they come from the config file only,
unless enable_api_file_checks: true, or the path lies under one of
api_file_paths (no "." or ".." parts, percent-escapes decoded first).
A check stored before the config allowed it no more is kept and shown
critical ("not_allowed"), not run; a reload that allows it again runs it.
The same holds for exec: checks and enable_api_exec_checks."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main  # noqa: E402
from agent_harness import Agent  # noqa: E402

TOKENS = [{"secret": "m", "role": "management"},
          {"secret": "a-w", "role": "write", "tenant": "team-a"}]


class FileChecks(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.reg.tempdir(prefix="heed-files-")
        self.app = os.path.join(self.dir, "app")
        os.mkdir(self.app)
        with open(os.path.join(self.app, "ready"), "w") as f:
            f.write("ok\n")
        with open(os.path.join(self.dir, "secret"), "w") as f:
            f.write("x\n")

    def post(self, a, target, token="a-w", name="f"):
        return a.call("POST", "/v1/checks", {"name": name, "target": target,
                                             "interval": "200ms"}, token=token)

    def test_refused_by_default(self):
        a = Agent(self.reg, {"tokens": TOKENS, "checks": [
            {"name": "cfg-file", "target": "file:///etc/hostname", "interval": "200ms"}]}).start()
        for token in ("a-w", "m"):
            for target in ("file:///etc/shadow", "file://" + os.path.join(self.app, "ready")):
                r = self.post(a, target, token)
                self.assertEqual((r.status, r.code), (403, "file_forbidden"), (token, r))
                self.assertEqual(r.error, "file:// checks come from the config file only (set "
                                          "enable_api_file_checks: true, or list the directories "
                                          "they may look in under api_file_paths)")
        self.assertEqual(a.get("/v1/checks/f", token="a-w").status, 404)
        self.assertEqual(a.get("/v1/checks?ns=*", token="m").json[0]["id"], "cfg-file")
        # Nor by a replace of an API check's target.
        a.ok("POST", "/v1/checks", {"name": "t", "target": "tcp://127.0.0.1:1"}, token="a-w",
             status=201)
        r = a.call("PUT", "/v1/checks/t", {"target": "file:///etc/shadow"}, token="a-w")
        self.assertEqual((r.status, r.code), (403, "file_forbidden"), r)
        self.assertEqual(a.check("t", token="a-w")["target"], "tcp://127.0.0.1:1")
        # The config file's file:// check runs.
        c = a.wait_status("cfg-file", "passing", token="m")
        self.assertEqual(c["output"], "exists")

    def test_allowed_paths(self):
        a = Agent(self.reg, {"tokens": TOKENS, "api_file_paths": [self.app]}).start()
        ready = "file://" + os.path.join(self.app, "ready")
        self.assertEqual(self.post(a, ready).status, 201)
        c = a.wait_status("f", "passing", token="a-w")
        self.assertEqual(c["output"], "exists")
        r = self.post(a, "file://" + os.path.join(self.app, "missing"), name="g")
        self.assertEqual(r.status, 201, r)
        a.wait_check("g", lambda c: c["output"] == "no such file", token="a-w")
        # Outside the directories, or getting out of them: refused, naming why.
        for target in ("file:///etc/shadow", "file://" + self.dir + "/secret",
                       "file://" + self.app + "/../secret", "file://" + self.app + "/%2e%2e/secret",
                       "file://" + self.app + "/./ready", "file://" + self.app + "//ready",
                       "file://" + self.app + "x/ready"):
            r = self.post(a, target, name="h")
            self.assertEqual((r.status, r.code), (403, "file_forbidden"), (target, r))
            self.assertIn("may name only paths under api_file_paths", r.error)
        self.assertEqual(a.get("/v1/checks/h", token="a-w").status, 404)

    def test_enabled_for_all(self):
        a = Agent(self.reg, {"tokens": TOKENS, "enable_api_file_checks": True}).start()
        self.assertEqual(self.post(a, "file:///etc/hostname").status, 201)
        self.assertEqual(a.wait_status("f", "passing", token="a-w")["output"], "exists")

    def test_stored_checks_follow_the_config(self):
        cfg = {"tokens": TOKENS, "enable_api_file_checks": True, "enable_api_exec_checks": True}
        a = Agent(self.reg, cfg).start()
        self.assertEqual(self.post(a, "file:///etc/hostname").status, 201)
        r = a.call("POST", "/v1/checks", {"name": "x", "target": "exec:true",
                                          "interval": "200ms"}, token="a-w")
        self.assertEqual(r.status, 201, r)
        a.wait_status("f", "passing", token="a-w")
        a.wait_status("x", "passing", token="a-w")
        # Turned off (a reload): kept, shown critical, not run.
        a.reload({"tokens": TOKENS})
        c = a.wait_check("f", lambda c: (c["reason"], c["status"]) == ("not_allowed", "critical"), token="a-w")
        self.assertEqual(c["status"], "critical")
        self.assertTrue(c["output"].startswith("not run: file:// checks come from the config "
                                               "file only"), c)
        c = a.wait_check("x", lambda c: (c["reason"], c["status"]) == ("not_allowed", "critical"), token="a-w")
        self.assertEqual((c["status"], c["output"]),
                         ("critical", "not run: exec: checks come from the config file only "
                                         "(set enable_api_exec_checks: true to allow them "
                                         "through the API)"))
        # Across a restart too.
        self.assertEqual(a.stop(), 0, a.stderr())
        a.start()
        a.wait_check("f", lambda c: (c["reason"], c["status"]) == ("not_allowed", "critical"), token="a-w")
        # Allowed again: they run again.
        a.reload(cfg)
        self.assertEqual(a.wait_status("f", "passing", token="a-w")["output"], "exists")
        a.wait_status("x", "passing", token="a-w")


if __name__ == "__main__":
    main()
