"""heed agent's checks API, black box: create, read, replace, delete, pause
and resume; the errors a client gets (404, 405, 409, 400 with the place or
the key, 413, 403 for exec:); and that no GET changes anything. One agent
per test, on its own data_dir and loopback port, against a TCP listener
the test owns."""

import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402

VIEW_KEYS = {"id", "name", "target", "interval", "timeout", "expect", "tags", "tenant",
             "status", "output", "latency_ms", "last_checked", "last_change"}
DEF_KEYS = ("id", "name", "target", "interval", "timeout", "expect", "tags",
            "success_before_passing", "failures_before_warning", "failures_before_critical")


def definition(c):
    return {k: c.get(k) for k in DEF_KEYS}


class ChecksApi(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.up = tcp_listener(self.reg)
        self.target = "tcp://127.0.0.1:%d" % self.up.port
        self.agent = Agent(self.reg, {
            "node": "api-test",
            "limits": {"max_body_bytes": "1KiB"},
            "checks": [{"name": "from-file", "target": self.target, "interval": "500ms"},
                       {"name": "file-exec", "target": "exec:true", "interval": "500ms"}],
        }).start()

    def test_create_get_replace_delete(self):
        a = self.agent
        body = {"name": "web", "target": self.target, "interval": "500ms", "timeout": "400ms",
                "tags": ["edge", "web"], "failures_before_critical": 2}
        r = a.call("POST", "/v1/checks", body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers.get("location"), "/v1/checks/web")
        self.assertLessEqual(VIEW_KEYS, set(r.json), r.json)
        self.assertEqual((r.json["id"], r.json["name"], r.json["target"], r.json["interval"],
                          r.json["timeout"], r.json["tags"], r.json["failures_before_critical"],
                          r.json["source"], r.json["tenant"]),
                         ("web", "web", self.target, "500ms", "400ms", ["edge", "web"], 2,
                          "api", "default"))
        # Defaults filled in as the config file's.
        self.assertEqual((r.json["success_before_passing"], r.json["failures_before_warning"],
                          r.json["expect"]), (1, 1, {}))
        created = definition(r.json)

        # The new check runs, and passes against the listener.
        c = a.wait_status("web", "passing")
        self.assertEqual(definition(c), created)
        self.assertEqual(c["output"], "connected")
        self.assertIsNotNone(c["last_checked"])

        # The list has the file's checks and the API's, sorted by id.
        lst = a.ok("GET", "/v1/checks")
        self.assertEqual([x["id"] for x in lst], ["file-exec", "from-file", "web"])
        self.assertEqual([x["source"] for x in lst], ["config", "config", "api"])
        self.assertEqual([x["id"] for x in a.ok("GET", "/v1/checks?tag=edge")], ["web"])
        self.assertEqual([x["id"] for x in a.ok("GET", "/v1/checks?tag=nope")], [])

        # PUT replaces the whole definition: what it leaves out is the default.
        r = a.call("PUT", "/v1/checks/web", {"target": self.target, "interval": "1s"})
        self.assertEqual(r.status, 200, r)
        c = a.check("web")
        self.assertEqual((c["interval"], c["timeout"], c["tags"], c["failures_before_critical"],
                          c["name"]), ("1s", "1s", [], 3, "web"))
        # ... and a GET's body, edited, can be PUT back: read-only keys are ignored.
        c["tags"] = ["edited"]
        r = a.call("PUT", "/v1/checks/web", c)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(a.check("web")["tags"], ["edited"])
        # A body whose id is not the path's is refused.
        r = a.call("PUT", "/v1/checks/web", {"id": "other", "target": self.target})
        self.assertEqual((r.status, r.code), (400, "bad_field"), r)
        self.assertIn("id", r.error)
        r = a.call("PUT", "/v1/checks/nope", {"target": self.target})
        self.assertEqual((r.status, r.code), (404, "not_found"), r)

        # DELETE: gone from GET and the list; a second DELETE is a 404.
        r = a.call("DELETE", "/v1/checks/web")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json, {"id": "web", "deleted": True})
        r = a.get("/v1/checks/web")
        self.assertEqual((r.status, r.code), (404, "not_found"), r)
        self.assertIn("web", r.error)
        self.assertNotIn("web", a.checks())
        r = a.call("DELETE", "/v1/checks/web")
        self.assertEqual((r.status, r.code), (404, "not_found"), r)
        # The id is free again.
        self.assertEqual(a.call("POST", "/v1/checks", {"id": "web", "name": "Web again",
                                                       "target": self.target}).status, 201)
        self.assertEqual(a.check("web")["name"], "Web again")

    def test_pause_and_resume(self):
        a = self.agent
        a.ok("POST", "/v1/checks", {"name": "p", "target": self.target, "interval": "200ms"},
             status=201)
        a.wait_status("p", "passing")
        r = a.call("PUT", "/v1/checks/p/pause")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["paused"]), ("maintenance", True))
        paused = a.check("p")
        self.assertEqual((paused["status"], paused["paused"]), ("maintenance", True))
        # A paused check does not run: several intervals later nothing moved.
        time.sleep(scaled(0.7))
        self.assertEqual(a.check("p"), paused)
        # Pausing twice is harmless and changes nothing.
        self.assertEqual(a.call("PUT", "/v1/checks/p/pause").status, 200)
        self.assertEqual(a.check("p"), paused)

        r = a.call("PUT", "/v1/checks/p/resume")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["paused"], False)
        # Resumed, it keeps the status it had when paused, and runs again.
        self.assertEqual(r.json["status"], "passing")
        c = a.wait_check("p", lambda c: c["last_checked"] > paused["last_checked"],
                         what="a run of p after resume")
        self.assertEqual(c["status"], "passing")

        # A config file's check may be paused and resumed through the API.
        self.assertEqual(a.call("PUT", "/v1/checks/from-file/pause").json["status"],
                         "maintenance")
        self.assertEqual(a.check("from-file")["status"], "maintenance")
        self.assertEqual(a.call("PUT", "/v1/checks/from-file/resume").status, 200)
        a.wait_status("from-file", "passing")
        r = a.call("PUT", "/v1/checks/nope/pause")
        self.assertEqual((r.status, r.code), (404, "not_found"), r)

    def test_not_found_method_not_allowed_conflicts(self):
        a = self.agent
        for path in ("/v1/nothing", "/v2/checks", "/v1/checks/x/y/z"):
            r = a.get(path)
            self.assertEqual((r.status, r.code), (404, "not_found"), (path, r))
        r = a.get("/v1/checks/nope")
        self.assertEqual((r.status, r.code), (404, "not_found"), r)
        self.assertIn("nope", r.error)

        r = a.call("PATCH", "/v1/checks/from-file", {})
        self.assertEqual((r.status, r.code), (405, "method_not_allowed"), r)
        self.assertEqual(r.headers.get("allow"), "GET, PUT, DELETE")
        r = a.call("DELETE", "/v1/checks")
        self.assertEqual((r.status, r.code), (405, "method_not_allowed"), r)
        self.assertEqual(r.headers.get("allow"), "GET, POST")
        r = a.call("POST", "/v1/checks/from-file/pause", {})
        self.assertEqual(r.status, 405, r)
        self.assertEqual(r.headers.get("allow"), "PUT")

        body = {"name": "dup", "target": self.target}
        self.assertEqual(a.call("POST", "/v1/checks", body).status, 201)
        r = a.call("POST", "/v1/checks", dict(body, interval="3s"))
        self.assertEqual((r.status, r.code), (409, "conflict"), r)
        self.assertEqual(a.check("dup")["interval"], "10s", "the 409 changed the check")
        # The id of a config file's check is taken too.
        r = a.call("POST", "/v1/checks", {"name": "from-file", "target": self.target})
        self.assertEqual((r.status, r.code), (409, "conflict"), r)

        # A config file's check is changed in the file, not here.
        before = a.check("from-file")
        r = a.call("PUT", "/v1/checks/from-file", {"target": self.target, "interval": "9s"})
        self.assertEqual((r.status, r.code), (409, "from_config"), r)
        self.assertIn("config file", r.error)
        r = a.call("DELETE", "/v1/checks/from-file")
        self.assertEqual((r.status, r.code), (409, "from_config"), r)
        after = a.check("from-file")
        self.assertEqual((after["interval"], after["source"]), (before["interval"], "config"))

    def test_bad_bodies(self):
        a = self.agent
        defs = lambda: {cid: definition(c) for cid, c in a.checks().items()}  # noqa: E731
        before = defs()
        # Not JSON: the message gives line and column.
        r = a.call("POST", "/v1/checks", '{"name": "x",\n  "target": tcp}')
        self.assertEqual((r.status, r.code), (400, "bad_json"), r)
        self.assertRegex(r.error, r"line 2 column \d+")
        for text, kind in (("[1, 2]", "an array"), ('"x"', "a string")):
            r = a.call("POST", "/v1/checks", text)
            self.assertEqual((r.status, r.code), (400, "bad_json"), (text, r))
            self.assertIn("must be a JSON object, not " + kind, r.error)
        # A duplicate key is ambiguous: refused.
        r = a.call("POST", "/v1/checks", '{"name": "x", "name": "y", "target": "tcp://h:1"}')
        self.assertEqual((r.status, r.code), (400, "bad_json"), r)

        # Bad fields: the message names the key and what was expected.
        cases = [
            ({"name": "x", "target": self.target, "interval": "soon"},
             "interval", "expected a duration"),
            ({"name": "x", "target": self.target, "interval": "10ms"}, "interval", "100ms"),
            ({"name": "x", "target": self.target, "intervall": "1s"}, "intervall", "unknown key"),
            ({"name": "x", "target": self.target, "timeout": "5s", "interval": "1s"},
             "timeout", "longer than the interval"),
            ({"name": "x", "target": "gopher://h:70"}, "target", "gopher"),
            ({"name": "x", "target": self.target, "tags": "web"}, "tags", "expected a list"),
            ({"name": "x", "target": self.target, "expect": {"status": [200]}},
             "expect.status", "only for http"),
            ({"name": "x", "target": self.target, "failures_before_critical": 0},
             "failures_before_critical", "1 to 10000"),
            ({"name": "x", "target": self.target, "ttl": "1s"}, "ttl", "not both"),
            ({"name": "x y", "target": self.target}, "name", "add an id"),
        ]
        for body, key, what in cases:
            r = a.call("POST", "/v1/checks", body)
            self.assertEqual((r.status, r.code), (400, "bad_field"), (body, r))
            self.assertRegex(r.error, r"(^|: )%s: .*%s" % (re.escape(key), re.escape(what)))
        r = a.call("POST", "/v1/checks", {"name": "x"})
        self.assertEqual((r.status, r.code), (400, "bad_field"), r)
        self.assertIn("missing key target", r.error)
        r = a.call("POST", "/v1/checks", "")
        self.assertEqual((r.status, r.code), (400, "bad_request"), r)
        self.assertEqual(defs(), before, "a refused body changed the checks")

        # Over limits.max_body_bytes (1 KiB): 413, and the agent serves on.
        big = {"name": "big", "target": self.target, "tags": ["t%04d" % i for i in range(200)]}
        r = a.call("POST", "/v1/checks", big)
        self.assertEqual((r.status, r.code), (413, "too_large"), r)
        self.assertIn("1024", r.error)
        self.assertEqual(a.get("/v1/checks/big").status, 404)
        self.assertEqual(defs(), before)
        # Just under the limit is fine.
        fits = {"name": "fits", "target": self.target, "tags": ["t%02d" % i for i in range(60)]}
        self.assertLess(len(json.dumps(fits)), 1024)
        self.assertEqual(a.call("POST", "/v1/checks", fits).status, 201)

    def test_exec_checks_only_when_enabled(self):
        a = self.agent
        r = a.call("POST", "/v1/checks", {"name": "sh", "target": "exec:true"})
        self.assertEqual((r.status, r.code), (403, "exec_forbidden"), r)
        self.assertIn("enable_api_exec_checks", r.error)
        self.assertEqual(a.get("/v1/checks/sh").status, 404)
        # Nor by replacing an API check's target.
        a.ok("POST", "/v1/checks", {"name": "plain", "target": self.target}, status=201)
        r = a.call("PUT", "/v1/checks/plain", {"target": "exec:true"})
        self.assertEqual((r.status, r.code), (403, "exec_forbidden"), r)
        self.assertEqual(a.check("plain")["target"], self.target)
        # The config file's exec check runs.
        self.assertEqual(a.wait_status("file-exec", "passing")["target"], "exec:true")

        b = Agent(self.reg, {"enable_api_exec_checks": True}).start()
        r = b.call("POST", "/v1/checks", {"name": "sh", "target": "exec:false",
                                          "interval": "200ms", "failures_before_critical": 1})
        self.assertEqual(r.status, 201, r)
        # exit 1 is a warning, as a Nagios plugin's
        b.wait_status("sh", "warning")
        self.assertEqual(b.call("PUT", "/v1/checks/sh", {"target": "exec:true",
                                                         "interval": "200ms"}).status, 200)
        b.wait_status("sh", "passing")

    def test_gets_change_nothing(self):
        a = self.agent
        a.ok("POST", "/v1/checks", {"name": "g", "target": self.target, "interval": "200ms",
                                    "tags": ["x"]}, status=201)
        a.wait_status("g", "passing")
        # Everything paused: from now on only a request could change a check.
        for cid in ("g", "from-file", "file-exec"):
            a.ok("PUT", "/v1/checks/%s/pause" % cid)
        snap = a.ok("GET", "/v1/checks")
        gets = ["/v1/checks", "/v1/checks?status=passing", "/v1/checks?tag=x", "/v1/checks/g",
                "/v1/checks/g/history", "/v1/checks/g/history?step=1m", "/v1/status",
                "/metrics", "/v1/checks/nope", "/v1/checks/g/pause", "/v1/checks/g/resume",
                "/v1/agent/check/pass/g", "/v1/checks/g?pretty"]
        for _ in range(3):
            for path in gets:
                r = a.get(path)
                self.assertIn(r.status, (200, 404, 405), (path, r))
        # HEAD and OPTIONS change nothing either.
        for method in ("HEAD", "OPTIONS"):
            a.call(method, "/v1/checks/g/resume")
        self.assertEqual(a.ok("GET", "/v1/checks"), snap)
        # ... and nothing was written that a restart would show.
        self.assertEqual(a.stop(), 0, a.stderr())
        a.start()
        self.assertEqual(a.ok("GET", "/v1/checks"), snap)


class SlowClients(HeedTestCase):
    def test_half_sent_requests_do_not_block_others(self):
        up = tcp_listener(self.reg)
        a = Agent(self.reg, {"checks": [{"name": "c", "target": "tcp://127.0.0.1:%d" % up.port,
                                         "interval": "200ms"}]}).start()
        stalled = []
        self.addCleanup(lambda: [s.close() for s in stalled])
        halves = [b"GET /v1/che",
                  b"GET /v1/checks HTTP/1.1\r\nHost: x\r\n",
                  b"POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\n{\"na",
                  b"PUT /v1/checks/c/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n"]
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", a.port), timeout=scaled(10))
            s.sendall(halves[i % len(halves)])
            stalled.append(s)
        # Meanwhile others are answered, promptly, and the checks run.
        for _ in range(10):
            t0 = time.monotonic()
            r = a.get("/v1/status", timeout=5)
            self.assertEqual(r.status, 200, r)
            self.assertLess(time.monotonic() - t0, scaled(2.0))
        c = a.wait_status("c", "passing")
        a.wait_check("c", lambda x: x["last_checked"] > c["last_checked"],
                     what="a later run of c")
        self.assertEqual(a.ok("POST", "/v1/checks", {"name": "d", "target": "tcp://h:1"},
                              status=201)["id"], "d")
        # The stalled ones are still waiting for the rest of their request:
        # none of them got an answer.
        for s in stalled:
            s.settimeout(0.01)
            try:
                self.assertEqual(s.recv(100), b"", "a stalled client got an answer")
            except socket.timeout:
                pass
        # The pause that never got its body did not happen.
        self.assertEqual(a.check("c")["paused"], False)
        # One that finishes its request late is answered.
        s = stalled[1]
        s.settimeout(scaled(10))
        s.sendall(b"\r\n")
        self.assertRegex(s.recv(4096), rb"^HTTP/1.1 200 OK\r\n")


if __name__ == "__main__":
    main()
