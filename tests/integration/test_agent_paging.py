"""GET /v1/checks in pages (?limit=N&after=ID), on an agent with 1,050
checks: without limit the whole list comes as before; with one, pages in
id order, each with a Link to the next (RFC 8288) until the last, which
has none; following the Links gives every check exactly once, filters
(status, tag, ns) carried along; after= taken by hand; across tenants
(ns=*) the key is "tenant/id"; checks that come and go between pages are
neither repeated nor lost when they were there throughout; bad limit= and
after= are named; and `heed checks list` pages through all of them."""

import json
import os
import re
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, run_heed  # noqa: E402
from agent_harness import Agent  # noqa: E402

N = 1050
MGMT, A_W = "m", "a-w"
LINK = re.compile(r'^<(/v1/checks\?[^>]*)>; rel="next"$')


def ids(n):
    return ["c%04d" % i for i in range(n)]


class Paging(HeedTestCase):
    def setUp(self):
        super().setUp()
        checks = [{"name": cid, "ttl": "1h", "tags": ["even"] if i % 2 == 0 else []}
                  for i, cid in enumerate(ids(N))]
        self.a = Agent(self.reg, {"tokens": [{"secret": MGMT, "role": "management"},
                                             {"secret": A_W, "role": "write",
                                              "tenant": "team-a"}],
                                  "checks": checks}).start(timeout=60)

    def pages(self, path, token=MGMT):
        """Follows the Links from path; returns the pages (lists of checks)
        and the raw sizes."""
        out, sizes = [], []
        for _ in range(N + 2):  # bounded: more pages than checks is a bug
            r = self.a.get(path, token=token)
            self.assertEqual(r.status, 200, r)
            out.append(r.json)
            sizes.append(len(r.body))
            link = r.headers.get("link")
            if not link:
                return out, sizes
            m = LINK.match(link)
            self.assertTrue(m, link)
            path = m.group(1)
        self.fail("the Links never end")

    def test_pages_follow_links(self):
        a = self.a
        whole = a.get("/v1/checks", token=MGMT)
        self.assertEqual([c["id"] for c in whole.json], ids(N))
        self.assertNotIn("link", whole.headers)
        pages, sizes = self.pages("/v1/checks?limit=100")
        self.assertEqual([len(p) for p in pages], [100] * 10 + [50])
        self.assertEqual([c["id"] for p in pages for c in p], ids(N))
        # Each page is a tenth of the whole, give or take.
        self.assertLess(max(sizes), len(whole.body) / 8)
        # The Link names the last id; after= by hand does the same.
        r = a.get("/v1/checks?limit=100", token=MGMT)
        self.assertEqual(r.headers["link"], '</v1/checks?limit=100&after=c0099>; rel="next"')
        r = a.get("/v1/checks?limit=100&after=c0999", token=MGMT)
        self.assertEqual([c["id"] for c in r.json], ids(N)[1000:])
        self.assertNotIn("link", r.headers)
        r = a.get("/v1/checks?limit=50&after=c1049", token=MGMT)
        self.assertEqual((r.json, r.headers.get("link")), ([], None))
        # An after= that is no check's id still places the page.
        r = a.get("/v1/checks?limit=2&after=c0100x", token=MGMT)
        self.assertEqual([c["id"] for c in r.json], ["c0101", "c0102"])
        # Filters ride along in the Links.
        pages, _ = self.pages("/v1/checks?tag=even&limit=200")
        got = [c["id"] for p in pages for c in p]
        self.assertEqual(got, ids(N)[::2])
        r = a.get("/v1/checks?tag=even&status=critical&limit=200", token=MGMT)
        self.assertEqual(r.headers["link"], '</v1/checks?status=critical&tag=even&limit=200'
                                            '&after=c0398>; rel="next"')

    def test_across_tenants_and_changes_between_pages(self):
        a = self.a
        for cid in ("a1", "zz"):
            a.ok("POST", "/v1/checks", {"name": cid, "ttl": "1h"}, token=A_W, status=201)
        pages, _ = self.pages("/v1/checks?ns=*&limit=500")
        got = [(c["tenant"], c["id"]) for p in pages for c in p]
        self.assertEqual(got, [("default", i) for i in ids(N)] +
                         [("team-a", "a1"), ("team-a", "zz")])
        r = a.get("/v1/checks?ns=*&limit=500", token=MGMT)
        self.assertEqual(r.headers["link"],
                         '</v1/checks?ns=%2A&limit=500&after=default%2Fc0499>; rel="next"')
        # A tenant's token pages its own.
        pages, _ = self.pages("/v1/checks?limit=1", token=A_W)
        self.assertEqual([[c["id"] for c in p] for p in pages], [["a1"], ["zz"]])
        # Between pages: one check seen goes, one not yet seen goes, one
        # comes after the cursor. Nothing repeats; what stayed is all there.
        first = a.get("/v1/checks?ns=team-a&limit=1", token=MGMT)
        self.assertEqual([c["id"] for c in first.json], ["a1"])
        a.ok("DELETE", "/v1/checks/a1", token=A_W)
        a.ok("POST", "/v1/checks", {"name": "mm", "ttl": "1h"}, token=A_W, status=201)
        path = LINK.match(first.headers["link"]).group(1)
        rest, _ = self.pages(path)
        self.assertEqual([c["id"] for p in rest for c in p], ["mm", "zz"])

    def test_bad_paging(self):
        a = self.a
        for q, msg in (("limit=0", "limit: expected a whole number from 1 to 100000, got '0'"),
                       ("limit=-3", "limit: expected a whole number from 1 to 100000, got '-3'"),
                       ("limit=ten", "limit: expected a whole number from 1 to 100000, "
                                     "got 'ten'"),
                       ("limit=100001", "limit: expected a whole number from 1 to 100000, "
                                        "got '100001'"),
                       ("limit=5&after=" + "x" * 1025,
                        "after: longer than 1024 bytes; give the last key of a page")):
            r = a.get("/v1/checks?" + q, token=MGMT)
            self.assertEqual((r.status, r.code, r.error), (400, "bad_query", msg), q)
        # An empty after= is the first page.
        r = a.get("/v1/checks?limit=1&after=", token=MGMT)
        self.assertEqual([c["id"] for c in r.json], ["c0000"])

    def test_cli_lists_every_page(self):
        a = self.a
        env = {k: v for k, v in os.environ.items()
               if k not in ("HEED_HTTP_ADDR", "CONSUL_HTTP_ADDR", "HEED_TOKEN",
                            "CONSUL_HTTP_TOKEN", "HEED_NAMESPACE", "CONSUL_NAMESPACE")}
        env.update(HEED_HTTP_ADDR="127.0.0.1:%d" % a.port, HEED_TOKEN=MGMT)

        def requests():
            text = a.get("/metrics", token=MGMT).body.decode()
            return int(re.search(r'heed_api_requests_total\{class="2xx"\} (\d+)', text).group(1))
        before = requests()
        rc, out, err = run_heed(["checks", "list"], env=env)
        self.assertEqual((rc, err), (0, ""))
        lines = out.splitlines()
        self.assertTrue(lines[0].startswith("ID "), lines[0])
        self.assertEqual([l.split()[0] for l in lines[1:]], ids(N))
        # Three pages of 500 (and the /metrics call itself).
        self.assertEqual(requests() - before, 3 + 1)
        rc, out, err = run_heed(["checks", "list", "--json"], env=env)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual([c["id"] for c in json.loads(out)], ids(N))
        # Across tenants: TENANT/ID in the table.
        a.ok("POST", "/v1/checks", {"name": "web", "ttl": "1h"}, token=A_W, status=201)
        rc, out, err = run_heed(["checks", "list", "--ns", "*", "--tag", "even"], env=env)
        self.assertEqual((rc, err), (0, ""))
        rows = [l.split()[0] for l in out.splitlines()[1:]]
        self.assertEqual(rows, ["default/" + i for i in ids(N)[::2]])
        env["HEED_NAMESPACE"] = "team-a"
        rc, out, err = run_heed(["checks", "list"], env=env)
        self.assertEqual([l.split()[0] for l in out.splitlines()[1:]], ["web"])
        rc, out, err = run_heed(["checks", "get", "web", "--ns", "default"], env=env)
        self.assertEqual(rc, 1)
        self.assertEqual(err, "heed checks: no check 'web' in tenant 'default' "
                              "(HTTP 404 not_found)\n")


if __name__ == "__main__":
    main()
