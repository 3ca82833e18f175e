"""The headers every Consul read carries, on a catalog route and a KV
route of a real agent: X-Consul-Index, -KnownLeader, -LastContact,
X-Consul-Effective-Consistency as ?stale and ?consistent ask (and
Consul's 400 for both at once), and X-Consul-Default-ACL-Policy: allow on
an agent without tokens, deny on one with them."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main  # noqa: E402
from agent_harness import Agent  # noqa: E402

MGMT = "m-s3cr3t"


class Headers(HeedTestCase):
    def test_read_headers(self):
        a = Agent(self.reg, {"node": "n1"}).start()
        self.assertEqual(a.call("PUT", "/v1/kv/k", "v").status, 200)
        for path in ("/v1/catalog/services", "/v1/kv/k", "/v1/health/service/none"):
            r = a.get(path)
            self.assertEqual(r.status, 200, r)
            h = r.headers
            self.assertGreater(int(h["x-consul-index"]), 0, path)
            self.assertEqual((h["x-consul-knownleader"], h["x-consul-lastcontact"],
                              h["x-consul-effective-consistency"],
                              h["x-consul-default-acl-policy"]),
                             ("true", "0", "leader", "allow"), path)
            sep = "&" if "?" in path else "?"
            r = a.get(path + sep + "stale")
            self.assertEqual(r.headers["x-consul-effective-consistency"], "stale", path)
            r = a.get(path + sep + "consistent")
            self.assertEqual(r.headers["x-consul-effective-consistency"], "consistent", path)
            r = a.get(path + sep + "stale&consistent")
            self.assertEqual((r.status, r.body),
                             (400, b"Cannot specify ?stale with ?consistent, conflicting "
                                   b"semantics."), path)

    def test_acl_policy_with_tokens(self):
        a = Agent(self.reg, {"node": "n1",
                             "tokens": [{"secret": MGMT, "role": "management"}]}).start()
        r = a.get("/v1/catalog/services", token=MGMT)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["x-consul-default-acl-policy"], "deny")


if __name__ == "__main__":
    main()
