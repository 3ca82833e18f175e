"""Tenants as Consul's namespaces (docs/tenancy.md), through the API of a
real agent: ids unique within a tenant (team-a, team-b and the default
tenant each have a check "web"); a tenant's token works in its tenant
without saying so; other tokens work in "default" and reach another tenant
with ?ns= (or the X-Consul-Namespace header), every tenant's lists with
?ns=*; another tenant's check answers exactly as a missing one on every
route (GET, PUT, DELETE, pause, resume, history, the TTL routes); POST of
an id another tenant uses is no conflict; a replace keeps the check's
tenant unless a management token names another (a move, with its state
and history); /metrics series of two tenants' "web" do not collide; and
all of it holds after a restart."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, wait_until  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402

MGMT, A_W, A_R, B_W, READER, WRITER = "m", "a-w", "a-r", "b-w", "reader", "writer"
TOKENS = [{"secret": MGMT, "role": "management"},
          {"secret": A_W, "role": "write", "tenant": "team-a"},
          {"secret": A_R, "role": "read", "tenant": "team-a"},
          {"secret": B_W, "role": "write", "tenant": "team-b"},
          {"secret": READER, "role": "read"},
          {"secret": WRITER, "role": "write"}]


class Tenants(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.up = tcp_listener(self.reg)
        self.up_target = "tcp://127.0.0.1:%d" % self.up.port
        self.a = Agent(self.reg, {"tokens": TOKENS, "checks": [
            {"name": "cfg", "target": self.up_target, "interval": "1h"}]}).start()

    def post(self, body, token, status=201, query=""):
        return self.a.ok("POST", "/v1/checks" + query, body, token=token, status=status)

    def ids(self, token, query=""):
        r = self.a.get("/v1/checks" + query, token=token)
        self.assertEqual(r.status, 200, r)
        return [(c["tenant"], c["id"]) for c in r.json]

    def three_webs(self):
        """team-a, team-b and the default tenant each make a check "web",
        each with its own target."""
        a = self.a
        targets = {}
        for tok, port in ((A_W, 1), (B_W, 2), (MGMT, 3)):
            body = {"name": "web", "target": "tcp://127.0.0.%d:1" % port, "interval": "1h"}
            c = self.post(body, tok)
            targets[c["tenant"]] = c["target"]
        self.assertEqual(targets, {"team-a": "tcp://127.0.0.1:1", "team-b": "tcp://127.0.0.2:1",
                                   "default": "tcp://127.0.0.3:1"})
        return targets

    def test_same_id_in_three_tenants(self):
        a = self.a
        targets = self.three_webs()
        self.assertEqual(a.check("web", token=A_R)["target"], targets["team-a"])
        self.assertEqual(a.check("web", token=B_W)["target"], targets["team-b"])
        self.assertEqual(a.check("web", token=MGMT)["target"], targets["default"])
        self.assertEqual(a.check("web?ns=team-b", token=MGMT)["target"], targets["team-b"])
        self.assertEqual(a.check("web", token=READER,
                                 headers={"X-Consul-Namespace": "team-a"})["target"],
                         targets["team-a"])
        # ?ns= wins over the header.
        self.assertEqual(a.check("web?ns=team-b", token=MGMT,
                                 headers={"X-Consul-Namespace": "team-a"})["tenant"], "team-b")
        # Lists: a tenant's own; default without ns; ns=* all, by tenant then id.
        self.assertEqual(self.ids(A_R), [("team-a", "web")])
        self.assertEqual(self.ids(B_W, "?ns=*"), [("team-b", "web")])
        self.assertEqual(self.ids(MGMT), [("default", "cfg"), ("default", "web")])
        self.assertEqual(self.ids(READER, "?ns=*"),
                         [("default", "cfg"), ("default", "web"), ("team-a", "web"),
                          ("team-b", "web")])
        # Changing one tenant's "web" leaves the others alone.
        r = a.call("PUT", "/v1/checks/web/pause", token=A_W)
        self.assertEqual((r.status, r.json["status"], r.json["tenant"]),
                         (200, "maintenance", "team-a"))
        self.assertFalse(a.check("web", token=B_W)["paused"])
        self.assertFalse(a.check("web", token=MGMT)["paused"])
        self.assertEqual(a.call("DELETE", "/v1/checks/web", token=B_W).status, 200)
        self.assertEqual(a.get("/v1/checks/web", token=B_W).status, 404)
        self.assertTrue(a.check("web", token=A_R)["paused"])
        self.assertEqual(a.check("web", token=MGMT)["target"], targets["default"])
        # /metrics: one series per tenant's "web", each labelled; a tenant
        # reads its own series only.
        text = a.get("/metrics?ns=*", token=READER).body.decode()
        self.assertIn('heed_check_up{check="web",tenant="team-a"} 0', text)
        self.assertIn('heed_check_up{check="web",tenant="default"} 0', text)
        self.assertNotIn('tenant="team-b"', text)
        text = a.get("/metrics", token=A_R).body.decode()
        self.assertIn('heed_check_status{check="web",tenant="team-a",name="web",kind="tcp"} 3',
                      text)
        self.assertEqual(text.count("heed_check_up{"), 1, text)
        self.assertNotIn('tenant="default"', text)
        # /v1/status counts the scope's checks.
        self.assertEqual(a.get("/v1/status", token=A_R).json["checks"]["maintenance"], 1)
        self.assertEqual(sum(a.get("/v1/status", token=MGMT).json["checks"].values()), 2)
        self.assertEqual(sum(a.get("/v1/status?ns=*", token=MGMT).json["checks"].values()), 3)

        # After a restart every tenant's "web" is still its own.
        self.assertEqual(a.stop(), 0, a.stderr())
        a.start()
        self.assertEqual(self.ids(READER, "?ns=*"),
                         [("default", "cfg"), ("default", "web"), ("team-a", "web")])
        c = a.check("web", token=A_R)
        self.assertEqual((c["target"], c["paused"]), (targets["team-a"], True))
        self.assertEqual(a.check("web", token=MGMT)["target"], targets["default"])

    def test_another_tenants_check_is_a_missing_one(self):
        a = self.a
        self.post({"name": "secret-a", "target": "tcp://127.0.0.1:1", "interval": "1h"}, A_W)
        self.post({"name": "hb", "ttl": "1h"}, A_W)
        body = {"name": "x", "target": "tcp://127.0.0.1:1", "interval": "1h"}
        routes = [("GET", "/v1/checks/%s", None), ("PUT", "/v1/checks/%s", body),
                  ("DELETE", "/v1/checks/%s", None), ("PUT", "/v1/checks/%s/pause", None),
                  ("PUT", "/v1/checks/%s/resume", None), ("GET", "/v1/checks/%s/history", None),
                  ("PUT", "/v1/agent/check/pass/%s", None),
                  ("PUT", "/v1/agent/check/warn/%s?note=x", None),
                  ("PUT", "/v1/agent/check/fail/%s", None),
                  ("PUT", "/v1/agent/check/update/%s", {"Status": "passing"})]
        for token, query in ((B_W, ""), (MGMT, ""), (READER, ""), (WRITER, ""),
                             (MGMT, "?ns=team-b"), (B_W, "?ns=team-b")):
            for method, path, b in routes:
                if token == READER and method != "GET":
                    continue  # the role answers first, whatever the id
                sep = "&" if "?" in path else "?"
                got = {}
                for cid in ("secret-a", "hb", "never-was"):
                    p = path % cid + (sep + query[1:] if query else "")
                    r = a.call(method, p, b, token=token)
                    got[cid] = (r.status, r.headers.get("content-type"),
                                r.body.decode().replace(cid, "ID"))
                self.assertEqual(got["secret-a"][0], 404, (token, method, path, got))
                self.assertEqual(got["secret-a"], got["never-was"], (token, method, path))
                self.assertEqual(got["hb"], got["never-was"], (token, method, path))
        # Nothing was changed by all that.
        c = a.check("secret-a", token=A_R)
        self.assertEqual((c["paused"], c["name"]), (False, "secret-a"))
        self.assertEqual(a.check("hb", token=A_R)["status"], "critical")
        # Naming the other tenant with a tenant's token: 403 whether or not
        # the check exists there.
        for cid in ("secret-a", "never-was"):
            r = a.get("/v1/checks/%s?ns=team-a" % cid, token=B_W)
            self.assertEqual((r.status, r.code, r.error),
                             (403, "forbidden", "this token works in tenant 'team-b' only"))
        # POST of an id another tenant has is no conflict: the id is free here.
        c = self.post({"name": "secret-a", "target": "tcp://127.0.0.2:1", "interval": "1h"}, B_W)
        self.assertEqual((c["tenant"], c["target"]), ("team-b", "tcp://127.0.0.2:1"))
        r = a.call("POST", "/v1/checks", {"name": "secret-a", "target": "tcp://127.0.0.3:1"},
                   token=B_W)
        self.assertEqual((r.status, r.error),
                         (409, "a check with id 'secret-a' exists in tenant 'team-b'"))
        self.assertEqual(a.check("secret-a", token=A_R)["target"], "tcp://127.0.0.1:1")
        # The TTL routes work in the token's tenant: team-a's "hb" passes,
        # team-b's "hb" stays as it was.
        self.post({"name": "hb", "ttl": "1h"}, B_W)
        r = a.call("PUT", "/v1/agent/check/pass/hb?note=fine", token=A_W)
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(a.check("hb", token=A_R)["status"], "passing")
        self.assertEqual(a.check("hb", token=B_W)["status"], "critical")
        r = a.call("PUT", "/v1/agent/check/warn/hb?ns=team-b", token=MGMT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(a.check("hb", token=B_W)["status"], "warning")
        # Bad namespaces are named.
        r = a.get("/v1/checks/hb?ns=*", token=MGMT)
        self.assertEqual((r.status, r.code), (400, "bad_query"), r)
        r = a.get("/v1/checks?ns=a/b", token=MGMT)
        self.assertEqual((r.status, r.code), (400, "bad_query"), r)
        self.assertIn("ns: expected a tenant name", r.error)

    def test_a_replace_keeps_the_tenant(self):
        """Issue 8, item 6: a PUT without "tenant" from a management or a
        tenant-less token used to set the tenant to null."""
        a = self.a
        body = {"name": "web", "target": "tcp://127.0.0.1:1", "interval": "1h"}
        self.post(body, A_W)
        for token in (MGMT, WRITER):
            for b in (dict(body, interval="2h"), dict(body, interval="3h", tenant=None),
                      dict(body, interval="4h", tenant="team-a")):
                r = a.call("PUT", "/v1/checks/web?ns=team-a", b, token=token)
                self.assertEqual((r.status, r.json["tenant"], r.json["interval"]),
                                 (200, "team-a", b["interval"]), r)
                # The owner still has it, and may change it.
                self.assertEqual(a.check("web", token=A_R)["interval"], b["interval"])
        # GET, then PUT the same body back: nothing moves.
        got = a.check("web", token=A_W)
        r = a.call("PUT", "/v1/checks/web", got, token=A_W)
        self.assertEqual((r.status, r.json["tenant"]), (200, "team-a"), r)
        r = a.call("PUT", "/v1/checks/web?ns=team-a", got, token=MGMT)
        self.assertEqual((r.status, r.json["tenant"]), (200, "team-a"), r)
        # Only management moves a check to another tenant.
        for token in (A_W, WRITER):
            r = a.call("PUT", "/v1/checks/web?ns=team-a", dict(body, tenant="team-b"),
                       token=token)
            self.assertEqual((r.status, r.code), (403, "forbidden"), (token, r))
        self.assertEqual(a.check("web", token=A_R)["tenant"], "team-a")
        r = a.call("PUT", "/v1/checks/web?ns=team-a", dict(body, tenant="bad/name"), token=MGMT)
        self.assertEqual((r.status, r.code), (400, "bad_field"), r)
        self.assertTrue(r.error.startswith("tenant: "), r)

    def test_management_moves_a_check_with_its_state_and_history(self):
        a = self.a
        self.post({"name": "web", "target": self.up_target, "interval": "200ms"}, A_W)
        a.wait_status("web", "passing", token=A_R)
        wait_until(lambda: len(a.ok("GET", "/v1/checks/web/history", token=A_R)["points"]) >= 2,
                   10, what="two results of team-a's web")
        self.post({"name": "web", "target": "tcp://127.0.0.1:1", "interval": "1h"}, B_W)
        # team-b has a "web": moving team-a's there is a conflict.
        body = {"name": "web", "target": self.up_target, "interval": "200ms"}
        r = a.call("PUT", "/v1/checks/web?ns=team-a", dict(body, tenant="team-b"), token=MGMT)
        self.assertEqual((r.status, r.error),
                         (409, "a check with id 'web' exists in tenant 'team-b'"), r)
        self.assertEqual(a.check("web", token=A_R)["status"], "passing")
        # To the default tenant it may go, its state with it.
        before = a.check("web", token=A_R)
        r = a.call("PUT", "/v1/checks/web?ns=team-a", dict(body, tenant="default"), token=MGMT)
        self.assertEqual((r.status, r.json["tenant"], r.json["status"]),
                         (200, "default", "passing"), r)
        self.assertEqual(a.get("/v1/checks/web", token=A_R).status, 404)
        moved = a.check("web", token=MGMT)
        self.assertEqual((moved["status"], moved["last_change"]),
                         ("passing", before["last_change"]))
        pts = a.ok("GET", "/v1/checks/web/history", token=MGMT)["points"]
        self.assertGreaterEqual(len(pts), 2, pts)
        # And it stays there over a restart, state and history included.
        self.assertEqual(a.stop(), 0, a.stderr())
        a.start()
        self.assertEqual(a.get("/v1/checks/web", token=A_R).status, 404)
        again = a.check("web", token=MGMT)
        self.assertEqual((again["tenant"], again["last_change"]),
                         ("default", moved["last_change"]))
        self.assertGreaterEqual(len(a.ok("GET", "/v1/checks/web/history", token=MGMT)["points"]),
                                len(pts))
        self.assertEqual(a.check("web", token=B_W)["target"], "tcp://127.0.0.1:1")

    def test_tokens_without_a_tenant(self):
        """A read or write token without a tenant reaches every tenant,
        within its role: it works in "default" unless it names another."""
        a = self.a
        c = self.post({"name": "w", "target": "tcp://127.0.0.1:1", "interval": "1h"}, WRITER,
                      query="?ns=team-a")
        self.assertEqual(c["tenant"], "team-a")
        c = self.post({"name": "w", "target": "tcp://127.0.0.1:1", "interval": "1h",
                       "tenant": "team-b"}, WRITER)
        self.assertEqual(c["tenant"], "team-b")
        # The body and ns must agree when both name a tenant.
        r = a.call("POST", "/v1/checks?ns=team-a", {"name": "z", "target": "tcp://127.0.0.1:1",
                                                    "tenant": "team-b"}, token=WRITER)
        self.assertEqual((r.status, r.code), (400, "bad_field"), r)
        self.assertEqual(self.ids(WRITER), [("default", "cfg")])
        self.assertEqual(self.ids(READER, "?ns=team-a"), [("team-a", "w")])
        self.assertEqual(a.call("DELETE", "/v1/checks/w?ns=team-a", token=READER).status, 403)
        self.assertEqual(a.call("DELETE", "/v1/checks/w?ns=team-a", token=WRITER).status, 200)
        self.assertEqual(self.ids(B_W), [("team-b", "w")])
        # The config file's checks are the default tenant's.
        self.assertEqual(a.check("cfg", token=READER)["tenant"], "default")
        self.assertEqual(a.get("/v1/checks/cfg", token=A_R).status, 404)


if __name__ == "__main__":
    main()
