"""Long values, as the config schema and the API allow them, reach the agent
whole: a 4,000-byte expect.body_contains through POST /v1/checks and in the
config file (at start-up, under --validate and on SIGHUP), and long targets.
Values of 2-16 KiB once overran the YAML reader's arena (a heap overflow that
aborted --validate with 134 and corrupted the agent's heap); values over a
limit are refused with an error that names the key and the limit."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, run_heed  # noqa: E402
from agent_harness import Agent, ControlledHttp, to_yaml  # noqa: E402


def text(n, fill):
    """n bytes that end differently from how they start, so a value cut
    short or overwritten is seen."""
    return fill * (n - 3) + "end"


class LongValues(HeedTestCase):
    def test_post_4000_byte_body_contains(self):
        want = text(4000, "a")
        web = ControlledHttp(self.reg)
        web.set(200, ("<p>" + want + "</p>").encode())
        a = Agent(self.reg, {"node": "long"}).start()
        body = {"name": "long-body", "target": "http://127.0.0.1:%d/" % web.port,
                "interval": "200ms", "expect": {"body_contains": want}}
        r = a.call("POST", "/v1/checks", body)
        self.assertEqual(r.status, 201, r)
        c = a.check("long-body")
        self.assertEqual(c["expect"]["body_contains"], want)
        # The check runs with the whole value: the page contains it.
        a.wait_status("long-body", "passing")
        # The documented limit, and one byte over it.
        body["name"] = "at-limit"
        body["expect"]["body_contains"] = text(4096, "b")
        r = a.call("POST", "/v1/checks", body)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(a.check("at-limit")["expect"]["body_contains"], text(4096, "b"))
        body["name"] = "over-limit"
        body["expect"]["body_contains"] = text(4097, "c")
        r = a.call("POST", "/v1/checks", body)
        self.assertEqual(r.status, 400, r)
        self.assertIn("body_contains", r.error)
        self.assertIn("4096 bytes", r.error)
        self.assertEqual(a.get("/v1/checks/over-limit").status, 404)
        # The agent is whole after all this: it lists both and stops cleanly.
        self.assertEqual(sorted(a.checks()), ["at-limit", "long-body"])
        self.assertEqual(a.stop(), 0)

    def config(self, port, body_contains, path_len=3000):
        return {"node": "long", "checks": [
            {"name": "web", "target": "http://127.0.0.1:%d/%s" % (port, text(path_len, "p")),
             "interval": "200ms", "expect": {"body_contains": body_contains}}]}

    def test_config_file_long_values_start_validate_and_sighup(self):
        v1, v2 = text(4000, "x"), text(3000, "y")
        web = ControlledHttp(self.reg)
        web.set(200, (v1 + v2).encode())
        a = Agent(self.reg, self.config(web.port, v1))
        rc, out, err = run_heed(["agent", "--validate", "-c", a.path])
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "%s: ok (1 checks, 0 services, 0 tokens)\n" % a.path)

        a.start()
        c = a.wait_status("web", "passing")
        self.assertEqual(c["expect"]["body_contains"], v1)
        self.assertEqual(c["target"], "http://127.0.0.1:%d/%s" % (web.port, text(3000, "p")))

        # SIGHUP with other long values: the new definition, still running.
        a.reload(self.config(web.port, v2, path_len=4000), expect="reloaded")
        c = a.check("web")
        self.assertEqual(c["expect"]["body_contains"], v2)
        self.assertEqual(c["target"], "http://127.0.0.1:%d/%s" % (web.port, text(4000, "p")))
        # A new target starts afresh: critical, then passing.
        c = a.wait_status("web", "passing")
        # And the same file again: nothing changed, the check keeps its state.
        a.reload(self.config(web.port, v2, path_len=4000), expect="reloaded")
        self.assertEqual(a.check("web")["last_change"], c["last_change"])
        self.assertIsNone(a.proc.poll())
        self.assertEqual(a.stop(), 0)

    def test_config_file_3000_byte_tag_is_refused_by_name(self):
        # Tags are at most 256 bytes: a 3,000-byte one is an error that says
        # so, under --validate, at start-up and on SIGHUP (not an abort).
        long_tag = {"node": "long", "checks": [
            {"name": "t", "target": "tcp://127.0.0.1:1", "tags": ["web", text(3000, "t")]}]}
        want = "checks[0].tags[1]: expected text without control characters of 1 to 256 bytes"
        a = Agent(self.reg, long_tag)
        rc, out, err = run_heed(["agent", "--validate", "-c", a.path])
        self.assertEqual((rc, out), (1, ""), err)
        self.assertIn(want, err)

        proc = a.spawn()
        self.assertEqual(proc.wait(30), 1)
        self.assertIn(want, a.stderr())

        good = {"node": "long", "checks": [
            {"name": "t", "target": "tcp://127.0.0.1:1", "tags": ["web", text(256, "t")]}]}
        a.write_config(good)
        a.start()
        self.assertEqual(a.check("t")["tags"], ["web", text(256, "t")])
        a.reload(long_tag, expect="reload failed")
        self.assertIn(want, a.stderr())
        # The running config stays; the agent answers.
        self.assertEqual(a.check("t")["tags"], ["web", text(256, "t")])
        # And again, for the same file: still refused, still up.
        a.reload(long_tag, expect="reload failed")
        self.assertEqual(a.stderr().count(want), 2)
        self.assertEqual(a.check("t")["tags"], ["web", text(256, "t")])
        self.assertEqual(a.stop(), 0)


if __name__ == "__main__":
    main()
