"""heed agent's tokens from the config file: no token 401, an unknown one
403 bad_token, a read token may not write, a tenant's token sees and
changes only its tenant's checks (another tenant's answer 404, as missing
ones), other tokens the default tenant's and others' with ?ns=; both
"Authorization: Bearer" and "X-Consul-Token" work. And per-token rate
limits (rate_limits.api): 429 with Retry-After."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, wait_until  # noqa: E402
from agent_harness import Agent  # noqa: E402

MGMT, A_WRITE, A_READ, B_WRITE, READER = "m-s3cr3t", "a-w", "a-r", "b-w", "r-all"
TOKENS = [{"secret": MGMT, "role": "management"},
          {"secret": A_WRITE, "role": "write", "tenant": "team-a"},
          {"secret": A_READ, "role": "read", "tenant": "team-a"},
          {"secret": B_WRITE, "role": "write", "tenant": "team-b"},
          {"secret": READER, "role": "read"}]


class Auth(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg, {"tokens": TOKENS, "checks": [
            {"name": "shared", "target": "tcp://127.0.0.1:1", "interval": "1h"}]}).start()

    def ids(self, token, **kw):
        r = self.a.get("/v1/checks", token=token, **kw)
        self.assertEqual(r.status, 200, r)
        return [c["id"] for c in r.json]

    def test_no_token_and_bad_token(self):
        a = self.a
        for method, path in (("GET", "/v1/checks"), ("GET", "/v1/checks/shared"),
                             ("POST", "/v1/checks"), ("GET", "/metrics"),
                             ("GET", "/v1/status"), ("DELETE", "/v1/checks/shared")):
            r = a.call(method, path, {"name": "x", "target": "tcp://h:1"}
                       if method == "POST" else None)
            self.assertEqual((r.status, r.code), (401, "no_token"), (method, path, r))
            self.assertIn("Bearer", r.headers.get("www-authenticate", ""))
            r = a.call(method, path, token="nope")
            self.assertEqual((r.status, r.code), (403, "bad_token"), (method, path, r))
            self.assertNotIn("nope", r.error)
        # An empty token is no token; a secret's prefix or case variant is not it.
        self.assertEqual(a.call("GET", "/v1/checks", headers={"X-Consul-Token": ""}).code,
                         "no_token")
        for t in (MGMT[:-1], MGMT.upper(), MGMT + "x"):
            self.assertEqual(a.get("/v1/checks", token=t).code, "bad_token", t)
        # Unknown paths are 404 even without a token (routing comes first).
        self.assertEqual(a.get("/v1/nothing").status, 404)
        self.assertEqual(a.get("/v1/checks/shared").status, 401)
        self.assertEqual(a.get("/v1/checks/shared", token=MGMT).status, 200)

    def test_roles_and_tenants(self):
        a = self.a
        body = {"name": "a-web", "target": "tcp://127.0.0.1:1", "interval": "1h"}
        # Read tokens may not write, with or without a tenant.
        for t in (A_READ, READER):
            r = a.call("POST", "/v1/checks", body, token=t)
            self.assertEqual((r.status, r.code), (403, "forbidden"), (t, r))
            self.assertIn("write", r.error)
            r = a.call("PUT", "/v1/checks/shared/pause", token=t)
            self.assertEqual((r.status, r.code), (403, "forbidden"), (t, r))
        self.assertEqual(a.check("shared", token=MGMT)["paused"], False)

        # team-a's write token creates a check that belongs to team-a ...
        r = a.call("POST", "/v1/checks", body, token=A_WRITE)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json["tenant"], "team-a")
        # ... and may not create one for another tenant.
        r = a.call("POST", "/v1/checks", dict(body, name="sneaky", tenant="team-b"),
                   token=A_WRITE)
        self.assertEqual((r.status, r.code), (403, "forbidden"), r)
        self.assertEqual(r.error, "this token works in tenant 'team-a' only")
        self.assertEqual(a.get("/v1/checks/sneaky?ns=team-b", token=MGMT).status, 404)
        # Management may: its check belongs to team-b, by its body.
        r = a.call("POST", "/v1/checks", {"name": "b-db", "target": "tcp://127.0.0.1:1",
                                          "interval": "1h", "tenant": "team-b"}, token=MGMT)
        self.assertEqual((r.status, r.json["tenant"]), (201, "team-b"), r)

        # Who sees what: a tenant's token its tenant's checks; any other
        # token the default tenant's (the config file's check), another
        # tenant's with ?ns=, every tenant's with ?ns=*.
        self.assertEqual(self.ids(MGMT), ["shared"])
        self.assertEqual(self.ids(READER), ["shared"])
        for t in (MGMT, READER):
            self.assertEqual([c["id"] for c in a.get("/v1/checks?ns=*", token=t).json],
                             ["shared", "a-web", "b-db"])  # by tenant, then id
            self.assertEqual([c["id"] for c in a.get("/v1/checks?ns=team-a", token=t).json],
                             ["a-web"])
        self.assertEqual(self.ids(A_WRITE), ["a-web"])
        self.assertEqual(self.ids(A_READ, token_header="consul"), ["a-web"])
        self.assertEqual(self.ids(B_WRITE), ["b-db"])

        # team-b can neither read nor change team-a's check: every route
        # answers as for a check that does not exist.
        for method, path in (("GET", "/v1/checks/%s"), ("GET", "/v1/checks/%s/history"),
                             ("DELETE", "/v1/checks/%s"), ("PUT", "/v1/checks/%s/pause"),
                             ("PUT", "/v1/checks/%s")):
            replies = [a.call(method, path % cid, body if method == "PUT" and
                              path.endswith("%s") else None, token=B_WRITE)
                       for cid in ("a-web", "no-such")]
            self.assertEqual([(r.status, r.code) for r in replies],
                             [(404, "not_found")] * 2, (method, path, replies))
            self.assertEqual(replies[0].error.replace("a-web", "no-such"), replies[1].error)
            self.assertEqual(replies[0].error, "no check 'a-web' in tenant 'team-b'")
        c = a.check("a-web", token=A_READ)
        self.assertEqual((c["paused"], c["tenant"]), (False, "team-a"))
        # Nor see it in /metrics or count it in /v1/status.
        text = a.get("/metrics", token=B_WRITE).body.decode()
        self.assertIn('check="b-db",tenant="team-b"', text)
        self.assertNotIn('check="a-web"', text)
        self.assertNotIn('check="shared"', text)
        st = a.get("/v1/status", token=B_WRITE).json
        self.assertEqual(sum(st["checks"].values()), 1)
        self.assertEqual(sum(a.get("/v1/status", token=MGMT).json["checks"].values()), 1)
        self.assertEqual(sum(a.get("/v1/status?ns=*", token=MGMT).json["checks"].values()), 3)
        # team-a may not move its check to team-b.
        r = a.call("PUT", "/v1/checks/a-web", dict(body, tenant="team-b"), token=A_WRITE)
        self.assertEqual((r.status, r.code), (403, "forbidden"), r)
        self.assertEqual(a.check("a-web?ns=team-a", token=MGMT)["tenant"], "team-a")

        # team-a's own write token changes it (Bearer and X-Consul-Token alike).
        r = a.call("PUT", "/v1/checks/a-web/pause", token=A_WRITE, token_header="consul")
        self.assertEqual((r.status, r.json["status"]), (200, "maintenance"), r)
        r = a.call("PUT", "/v1/checks/a-web", dict(body, interval="2h"), token=A_WRITE)
        self.assertEqual((r.status, r.json["interval"], r.json["tenant"]), (200, "2h", "team-a"),
                         r)
        # Management deletes any tenant's check, naming its tenant.
        r = a.call("DELETE", "/v1/checks/b-db", token=MGMT, token_header="consul")
        self.assertEqual(r.status, 404, r)
        r = a.call("DELETE", "/v1/checks/b-db?ns=team-b", token=MGMT, token_header="consul")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.ids(B_WRITE), [])
        r = a.call("DELETE", "/v1/checks/a-web", token=A_WRITE)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([c["id"] for c in a.get("/v1/checks?ns=*", token=MGMT).json], ["shared"])

    def test_tenant_survives_a_restart(self):
        a = self.a
        a.ok("POST", "/v1/checks", {"name": "a-web", "target": "tcp://127.0.0.1:1",
                                    "interval": "1h"}, token=A_WRITE, status=201)
        self.assertEqual(a.stop(), 0, a.stderr())
        a.start()
        self.assertEqual(self.ids(A_WRITE), ["a-web"])
        self.assertEqual(self.ids(B_WRITE), [])
        self.assertEqual(a.get("/v1/checks/a-web", token=B_WRITE).status, 404)
        self.assertEqual(a.check("a-web?ns=team-a", token=MGMT)["tenant"], "team-a")

    def test_both_token_headers(self):
        a = self.a
        for style in ("bearer", "consul"):
            self.assertEqual(a.get("/v1/checks/shared", token=MGMT, token_header=style).status,
                             200, style)
            self.assertEqual(a.get("/v1/checks", token="bad", token_header=style).code,
                             "bad_token", style)
        r = a.get("/v1/checks", headers={"Authorization": "bearer " + READER})
        self.assertEqual(r.status, 200, r)
        r = a.get("/v1/checks", headers={"Authorization": "Basic " + READER})
        self.assertEqual(r.code, "no_token", r)


class RateLimits(HeedTestCase):
    def test_api_rate_limit_per_token(self):
        a = Agent(self.reg, {"tokens": TOKENS,
                             "rate_limits": {"api": {"rate": "1/m", "burst": 3}}}).start()
        self.assertEqual(a.call("POST", "/v1/checks", {"name": "x", "target": "tcp://h:1"},
                                token=A_WRITE).status, 201)
        for i in range(2):
            self.assertEqual(a.get("/v1/status", token=A_WRITE).status, 200, i)
        r = a.get("/v1/checks", token=A_WRITE)
        self.assertEqual((r.status, r.code), (429, "rate_limited"), r)
        retry = r.headers.get("retry-after", "")
        self.assertRegex(retry, r"^\d+$")
        self.assertTrue(1 <= int(retry) <= 60, retry)
        self.assertIn("retry in %s s" % retry, r.error)
        r = a.call("POST", "/v1/checks", {"name": "y", "target": "tcp://h:1"}, token=A_WRITE)
        self.assertEqual((r.status, r.code), (429, "rate_limited"), r)
        self.assertEqual(a.get("/v1/checks/y", token=MGMT).status, 404)
        # The token's tenant's other token has its own bucket.
        self.assertEqual(a.get("/v1/status", token=A_READ).status, 200)
        # Another token has its own bucket.
        for i in range(3):
            self.assertEqual(a.get("/v1/status", token=B_WRITE, token_header="consul").status,
                             200, i)
        self.assertEqual(a.get("/v1/status", token=B_WRITE).status, 429)
        self.assertEqual(a.get("/v1/status", token=MGMT).status, 200)

    def test_api_rate_limit_per_address_without_tokens(self):
        a = Agent(self.reg, {"rate_limits": {"api": {"rate": "2/s", "burst": 2}}}).start()
        replies = [a.get("/v1/status") for _ in range(6)]
        self.assertEqual([r.status for r in replies[:2]], [200, 200])
        limited = [r for r in replies if r.status == 429]
        self.assertTrue(limited, replies)
        self.assertEqual(limited[0].code, "rate_limited")
        self.assertIn("this address", limited[0].error)
        self.assertEqual(limited[0].headers.get("retry-after"), "1")
        # The bucket refills: 2 a second.
        wait_until(lambda: a.get("/v1/status").status == 200, 5, interval=0.2,
                   what="the bucket to refill")


if __name__ == "__main__":
    main()
