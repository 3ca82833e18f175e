"""The dashboard (/ui): its files, built into the binary and served
without a token (Content-Type, ETag and 304, a strict
Content-Security-Policy); its JSON (/v1/ui/checks and /v1/ui/services:
filters, paging and counts on the server, uptime and sparklines from the
history, the token's scope); and the page itself in headless Chromium
driven by playwright-core: it shows every check, turns a check red within
an interval of its target dying and green when it returns, with no reload;
it filters by text, tag and status; it pages; it shows a check's page with
its history chart and events; it asks for a token, refuses a wrong one and
shows the right one's checks only. A screenshot is saved under the build
directory (its path is printed). The browser tests skip (77) when node,
Chromium or playwright-core is missing; the API tests run anyway."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402
from browser import Browser, browser_missing  # noqa: E402

INTERVAL = 2  # seconds: the tcp checks' interval
MISC = 60     # TTL checks besides: more than one page of the page's 50


def artifact_dir():
    """Where screenshots go: the build directory's test-artifacts/."""
    d = os.path.join(os.path.dirname(os.path.abspath(HEED)), "test-artifacts")
    os.makedirs(d, exist_ok=True)
    return d


def page_errors(b):
    """The page's script errors and console errors, but for the browser's
    own line about a reply that was not 2xx (a 401 before the token, a 404
    from /v1/events on an agent without it)."""
    return [e for e in b.console_errors() if not e.startswith("Failed to load resource")]


def base_config(web_port, db_port):
    checks = [
        {"name": "web", "target": "tcp://127.0.0.1:%d" % web_port, "interval": "%ds" % INTERVAL,
         "timeout": "1s", "tags": ["web", "prod"], "failures_before_critical": 1},
        {"name": "db-primary", "target": "tcp://127.0.0.1:%d" % db_port,
         "interval": "%ds" % INTERVAL, "timeout": "1s", "tags": ["db"],
         "failures_before_critical": 1},
        {"name": "heartbeat", "ttl": "1h", "tags": ["cron"]},
    ]
    checks += [{"name": "x-job-%03d" % i, "ttl": "1h", "tags": ["misc"]} for i in range(MISC)]
    return {"checks": checks,
            "services": [{"name": "shop", "id": "shop-1", "address": "127.0.0.1",
                          "port": web_port, "tags": ["web"],
                          "checks": [{"target": "tcp://127.0.0.1:%d" % web_port,
                                      "interval": "%ds" % INTERVAL}]}]}


class UiApi(HeedTestCase):
    """What the page reads, without a browser."""

    def setUp(self):
        super().setUp()
        self.web = tcp_listener(self.reg)
        self.db = tcp_listener(self.reg)
        cfg = base_config(self.web.port, self.db.port)
        cfg["tokens"] = [{"secret": "m", "role": "management"},
                         {"secret": "r", "role": "read"},
                         {"secret": "ta", "role": "write", "tenant": "team-a"}]
        self.a = Agent(self.reg, cfg).start()
        self.a.wait_status("web", "passing", token="m")
        self.a.wait_status("db-primary", "passing", token="m")

    def test_files_are_public_typed_cached_and_locked_down(self):
        a = self.a
        for path, ctype in (("/ui", "text/html"), ("/ui/", "text/html"),
                            ("/ui/index.html", "text/html"),
                            ("/ui/app.js", "text/javascript"), ("/ui/app.css", "text/css"),
                            ("/ui/favicon.svg", "image/svg+xml")):
            r = a.get(path)  # no token, on an agent that has tokens
            self.assertEqual(r.status, 200, (path, r))
            self.assertTrue(r.headers["content-type"].startswith(ctype), (path, r.headers))
            self.assertIn("script-src 'self'", r.headers["content-security-policy"])
            self.assertIn("default-src 'none'", r.headers["content-security-policy"])
            self.assertEqual(r.headers["cache-control"], "no-cache")
            etag = r.headers["etag"]
            self.assertRegex(etag, r'^"[0-9a-f]{16}"$')
            again = a.get(path, headers={"If-None-Match": etag})
            self.assertEqual((again.status, again.body), (304, b""), path)
            other = a.get(path, headers={"If-None-Match": '"0000000000000000"'})
            self.assertEqual(other.status, 200)
        page = a.get("/ui").body.decode()
        self.assertIn('<script src="/ui/app.js"', page)
        self.assertNotIn("http://", page.replace("http://www.w3.org", ""))  # nothing elsewhere
        self.assertNotIn("https://", page)
        r = a.get("/")  # a browser pointed at the agent
        self.assertEqual((r.status, r.headers["location"]), (302, "/ui/"))
        r = a.get("/ui/nope.js")
        self.assertEqual((r.status, r.json["code"]), (404, "not_found"))
        # A token sent to a public file is not even looked at.
        self.assertEqual(a.get("/ui/app.js", token="wrong").status, 200)
        # The data is not public.
        self.assertEqual(a.get("/v1/ui/checks").status, 401)
        self.assertEqual(a.get("/v1/ui/checks", token="wrong").json["code"], "bad_token")
        self.assertEqual(a.get("/v1/ui/services").status, 401)

    def test_checks_filters_counts_paging_history(self):
        a = self.a
        total = 4 + MISC  # and the service's check

        def page():  # once web's first results are in its history (written ~0.1 s late)
            got = a.ok("GET", "/v1/ui/checks?history=1", token="r")
            web = next(c for c in got["checks"] if c["id"] == "web")
            return got if web["uptime"]["24h"] is not None and web["spark"] else None
        p = wait_until(page, 5, interval=0.1, what="web's history in /v1/ui/checks")
        self.assertEqual(p["matched"], total)
        self.assertEqual(len(p["checks"]), 50)
        self.assertEqual(p["counts"], {"passing": 3, "warning": 0, "critical": 1 + MISC,
                                       "maintenance": 0, "total": total})
        ids = [c["id"] for c in p["checks"]]
        self.assertEqual(ids, sorted(ids))
        web = next(c for c in p["checks"] if c["id"] == "web")
        self.assertEqual((web["status"], web["kind"], web["tags"], web["target"]),
                         ("passing", "tcp", ["web", "prod"], "tcp://127.0.0.1:%d" % self.web.port))
        self.assertGreater(web["latency_ms"], 0)
        self.assertEqual(web["uptime"]["24h"], 100.0)
        self.assertEqual(web["uptime"]["30d"], 100.0)
        self.assertTrue(web["spark"] and web["spark"][0][2] == "passing", web["spark"])
        hb = next(c for c in p["checks"] if c["id"] == "heartbeat")
        self.assertEqual((hb["kind"], hb["target"], hb["status"]), ("ttl", None, "critical"))
        # The next page, from "next", holds the rest, none twice.
        p2 = a.ok("GET", "/v1/ui/checks?after=%s" % p["next"], token="r")
        self.assertEqual(p2["next"], None)
        seen = ids + [c["id"] for c in p2["checks"]]
        self.assertEqual(len(seen), total)
        self.assertEqual(set(seen), {"web", "db-primary", "heartbeat", "service:shop-1"} |
                         {"x-job-%03d" % i for i in range(MISC)})
        self.assertNotIn("uptime", p2["checks"][0])  # only asked with history=1
        # Text (any case, in id, name, target or tags), tag, status.
        self.assertEqual([c["id"] for c in a.ok("GET", "/v1/ui/checks?q=DB-PRI",
                                                 token="r")["checks"]], ["db-primary"])
        q = a.ok("GET", "/v1/ui/checks?q=%d" % self.db.port, token="r")  # in the target
        self.assertEqual([c["id"] for c in q["checks"]], ["db-primary"])
        t = a.ok("GET", "/v1/ui/checks?tag=prod", token="r")
        self.assertEqual([c["id"] for c in t["checks"]], ["web"])
        s = a.ok("GET", "/v1/ui/checks?status=passing", token="r")
        self.assertEqual([c["id"] for c in s["checks"]], ["db-primary", "service:shop-1", "web"])
        # Counts are of what text and tag match, whatever status is asked.
        self.assertEqual(s["counts"]["total"], total)
        m = a.ok("GET", "/v1/ui/checks?tag=misc&status=critical&limit=5", token="r")
        self.assertEqual((m["matched"], len(m["checks"]), m["counts"]["critical"]),
                         (MISC, 5, MISC))
        # The worst first: critical (by key), then passing; pages from "next"
        # ("RANK:KEY") give each exactly once.
        seen, after = [], None
        while True:
            pg = a.ok("GET", "/v1/ui/checks?sort=status&limit=20" +
                      ("&after=" + after if after else ""), token="r")
            seen += [(c["status"], c["id"]) for c in pg["checks"]]
            after = pg["next"]
            if not after:
                break
            self.assertRegex(after, r"^[0-3]:")
        crit = sorted(i for s_, i in seen if s_ == "critical")
        self.assertEqual(seen, [("critical", i) for i in crit] +
                         [("passing", i) for i in ["db-primary", "service:shop-1", "web"]])
        self.assertEqual(len(crit), 1 + MISC)
        for bad, word in (("status=down", "status"), ("limit=0", "limit"),
                          ("limit=100000", "limit"), ("limit=x", "limit"),
                          ("sort=age", "sort"), ("sort=status&after=web", "after")):
            r = a.get("/v1/ui/checks?" + bad, token="r")
            self.assertEqual((r.status, r.json["code"]), (400, "bad_query"), bad)
            self.assertIn(word, r.json["error"])

    def test_services(self):
        s = self.a.ok("GET", "/v1/ui/services", token="r")
        self.assertEqual([x["id"] for x in s["services"]], ["shop-1"])
        shop = s["services"][0]
        self.assertEqual((shop["name"], shop["port"], shop["tags"]),
                         ("shop", self.web.port, ["web"]))
        # Its health is Consul's: the worst of its own checks and its
        # node's (the agent's TTL checks, critical here).
        def own_passing():
            x = self.a.ok("GET", "/v1/ui/services", token="r")["services"][0]
            own = [c for c in x["checks"] if not c["node_check"]]
            return x if [(c["id"], c["status"]) for c in own] == \
                [("service:shop-1", "passing")] else None
        shop = wait_until(own_passing, 15, what="shop's own check passing")
        self.assertEqual(shop["status"], "critical")
        self.assertIn(("heartbeat", "critical", True),
                      [(c["id"], c["status"], c["node_check"]) for c in shop["checks"]])
        self.assertEqual(self.a.ok("GET", "/v1/ui/services?status=critical",
                                   token="r")["matched"], 1)
        self.assertEqual(self.a.ok("GET", "/v1/ui/services?status=passing",
                                   token="r")["services"], [])
        self.assertEqual(self.a.ok("GET", "/v1/ui/services?q=nothing-such",
                                   token="r")["services"], [])
        self.assertEqual(self.a.ok("GET", "/v1/ui/services?tag=web",
                                   token="r")["counts"]["total"], 1)
        for bad in ("status=up", "limit=-1"):
            r = self.a.get("/v1/ui/services?" + bad, token="r")
            self.assertEqual((r.status, r.json["code"]), (400, "bad_query"), bad)

    def test_a_tenant_token_sees_its_tenant_only(self):
        a = self.a
        a.ok("POST", "/v1/checks", {"name": "team-a-only", "ttl": "1h", "tenant": "team-a"},
             status=201, token="m")
        p = a.ok("GET", "/v1/ui/checks", token="ta")
        self.assertEqual([c["id"] for c in p["checks"]], ["team-a-only"])
        self.assertEqual(p["counts"]["total"], 1)
        self.assertEqual(a.ok("GET", "/v1/ui/services", token="ta")["services"], [])
        r = a.ok("GET", "/v1/ui/checks?q=team-a", token="r")  # the default tenant's view
        self.assertEqual(r["checks"], [])


class UiBrowser(HeedTestCase):
    """The page in headless Chromium."""

    def setUp(self):
        super().setUp()
        why = browser_missing()
        if why:
            self.skipTest(why)

    def start_agent(self, extra=None):
        self.web = tcp_listener(self.reg)
        self.db = tcp_listener(self.reg)
        cfg = base_config(self.web.port, self.db.port)
        cfg.update(extra or {})
        self.a = Agent(self.reg, cfg).start()
        self.base = "http://127.0.0.1:%d" % self.a.port
        return self.a

    def rows(self, b):
        """The rows shown: [(id, status)]."""
        return [tuple(x) for x in b.eval(
            "[...document.querySelectorAll('#rows tr.check')]"
            ".map(r => [r.dataset.check, r.dataset.status])")]

    def wait_rows(self, b, expr, what, timeout=10):
        b.wait("(() => { const ids = [...document.querySelectorAll('#rows tr.check')]"
               ".map(r => r.dataset.check); return %s; })()" % expr, timeout)

    def test_dashboard_live_filters_pages_and_check_page(self):
        a = self.start_agent()
        a.wait_status("web", "passing")
        b = Browser(self.reg)
        b.goto(self.base + "/ui/")
        b.wait("document.body.dataset.ready === '1' && "
               "document.querySelectorAll('#rows tr.check').length === 50")
        b.eval("window.__sameDocument = 'yes'")  # a reload would lose it
        total = 4 + MISC  # and the service's check
        self.assertEqual(b.eval("document.getElementById('count-total').textContent"),
                         str(total))
        # Every check: this page and the next.
        first = self.rows(b)
        b.click("#page-next")
        self.wait_rows(b, "ids.length === %d" % (total - 50), "the second page")
        second = self.rows(b)
        self.assertEqual({i for i, _ in first + second},
                         {"web", "db-primary", "heartbeat", "service:shop-1"} |
                         {"x-job-%03d" % i for i in range(MISC)})
        self.assertEqual(len(first + second), total)
        self.assertIn(("heartbeat", "critical"), first + second)
        b.click("#page-first")
        self.wait_rows(b, "ids.includes('web') && ids.length === 50", "the first page")
        b.wait("document.querySelector('#rows tr[data-check=\"web\"] td.up24')"
               ".textContent === '100%'")
        self.assertEqual(b.eval("document.querySelectorAll("
                                "'#rows tr[data-check=\"web\"] .spark polyline').length"), 1)

        # The target dies: red within an interval (the check's next run,
        # critical at its first failure) and the page's poll; no reload.
        web_port = self.web.port
        b.wait("document.querySelector('#rows tr[data-check=\"web\"]')"
               ".dataset.status === 'passing'")
        self.web.stop()
        self.web.sock.close()
        t0 = time.monotonic()
        b.wait("document.querySelector('#rows tr[data-check=\"web\"]')"
               ".dataset.status === 'critical'", timeout=INTERVAL + 1.5)
        took = time.monotonic() - t0
        print("web turned red on the page %.2f s after its target died" % took)
        # The counts follow: web, then the service's check on the same port
        # (critical at its third failure), and the TTL checks.
        b.wait("document.getElementById('count-critical').textContent === '%d'" % (3 + MISC),
               timeout=3 * INTERVAL + 2)
        self.assertEqual(b.eval("document.title"), "(%d critical, 0 warning) heed" % (3 + MISC))
        # It comes back: green again.
        self.web = tcp_listener(self.reg, port=web_port)
        b.wait("document.querySelector('#rows tr[data-check=\"web\"]')"
               ".dataset.status === 'passing'", timeout=INTERVAL + 4)
        self.assertEqual(b.eval("window.__sameDocument"), "yes")
        # Its uptime now counts the failure.
        web = a.ok("GET", "/v1/ui/checks?tag=prod&history=1")["checks"][0]
        self.assertEqual(web["id"], "web")
        self.assertTrue(0 < web["uptime"]["24h"] < 100, web["uptime"])
        self.assertIn("critical", [pt[2] for pt in web["spark"]])
        self.assertEqual(b.navigations(), 1)

        # Filters: text, tag, status (on the server: the page shows the
        # first 50 of what matches).
        b.fill("#filter-text", "db-pri")
        self.wait_rows(b, "ids.join() === 'db-primary'", "the text filter")
        b.fill("#filter-text", "")
        b.fill("#filter-tag", "prod")
        self.wait_rows(b, "ids.join() === 'web'", "the tag filter")
        b.fill("#filter-tag", "")
        b.click("#statuses button[data-status=passing]")
        self.wait_rows(b, "ids.join() === 'db-primary,service:shop-1,web'", "the status filter")
        b.click("#statuses button[data-status=critical]")
        self.wait_rows(b, "ids.length === 50 && ids.includes('heartbeat') && "
                          "!ids.includes('web')", "the critical filter")
        b.click("#statuses button[data-status='']")
        self.wait_rows(b, "ids.length === 50 && ids.includes('web')", "no filter")
        # Problems first: the critical checks lead, the passing ones last.
        b.click("#sort-status")
        self.wait_rows(b, "ids[0] === 'heartbeat' && !ids.includes('web')", "problems first")
        b.click("#page-next")
        self.wait_rows(b, "ids.length === %d && ids.slice(-3).join() === "
                          "'db-primary,service:shop-1,web'" % (total - 50), "the last page")
        b.click("#sort-status")
        self.wait_rows(b, "ids.length === 50 && ids.includes('web')", "by id again")

        shot = os.path.join(artifact_dir(), "ui-dashboard.png")
        b.screenshot(shot)
        print("screenshot: %s" % shot)
        self.assertGreater(os.path.getsize(shot), 10000)

        # Services, from the catalog.
        b.click("#nav-services")
        b.wait("document.querySelector('#rows tr.service[data-service=\"shop-1\"]')")
        b.wait("document.querySelector('#rows tr[data-service=\"shop-1\"]')"
               ".dataset.status === 'critical'")  # its node's TTL checks are

        # A check's page: its facts, its history chart, its events.
        b.click("#nav-checks")
        b.wait("document.querySelector('#rows tr[data-check=\"web\"] a')")
        b.click("#rows tr[data-check=\"web\"] a")
        b.wait("!document.getElementById('check-view').hidden && "
               "document.getElementById('cv-name').textContent === 'web'")
        b.wait("document.querySelectorAll('#cv-chart svg polyline.lat').length === 1")
        # Its events: the list /v1/events gives (the alert engine's), or
        # "No events." when it gives none or the agent has no such route.
        ev = a.get("/v1/events?check=web&limit=50")
        if ev.status == 200 and ev.json:
            b.wait("document.querySelectorAll('#cv-events tr.event').length >= %d"
                   % len(ev.json))
        else:
            b.wait("!document.getElementById('cv-no-events').hidden && "
                   "document.querySelectorAll('#cv-events tr.event').length === 0")
        self.assertEqual(b.eval("document.getElementById('check-view').dataset.status"),
                         "passing")
        shot = os.path.join(artifact_dir(), "ui-check.png")
        b.screenshot(shot)
        print("screenshot: %s" % shot)

        # Nothing was asked of anything but this agent.
        off = [u for u in b.requests() if not u.startswith(self.base + "/")]
        self.assertEqual(off, [])
        self.assertEqual(page_errors(b), [])

    def test_token_prompt(self):
        a = self.start_agent({"tokens": [{"secret": "m", "role": "management"},
                                         {"secret": "team-a-reader", "role": "read",
                                          "tenant": "team-a"}]})
        a.ok("POST", "/v1/checks", {"name": "a-only", "ttl": "1h", "tenant": "team-a"},
             status=201, token="m")
        b = Browser(self.reg)
        b.goto(self.base + "/ui/")
        # The files load without a token; the data asks for one.
        b.wait("document.getElementById('token-dialog').open")
        self.assertEqual(self.rows(b), [])
        b.fill("#token-input", "not-a-token")
        b.click("#token-submit")
        b.wait("document.getElementById('token-dialog').open && "
               "!document.getElementById('token-error').hidden")
        self.assertEqual(self.rows(b), [])
        b.fill("#token-input", "m")
        b.click("#token-submit")
        b.wait("!document.getElementById('token-dialog').open && "
               "document.querySelectorAll('#rows tr.check').length === 50")
        self.assertEqual(b.eval("sessionStorage.getItem('heed-token')"), "m")
        # A management token reaches every tenant: ns=* (or a tenant's name).
        self.assertNotIn("a-only", [i for i, _ in self.rows(b)])
        b.fill("#filter-ns", "*")
        b.fill("#filter-text", "a-only")
        self.wait_rows(b, "ids.join() === 'a-only'", "team-a's check with ns=*")
        b.click("#rows tr[data-check=\"a-only\"] a")
        b.wait("!document.getElementById('check-view').hidden && "
               "document.getElementById('cv-name').textContent === 'a-only'")
        b.click("#nav-checks")
        b.fill("#filter-text", "")
        b.fill("#filter-ns", "team-a")
        self.wait_rows(b, "ids.join() === 'a-only'", "team-a's checks with ns=team-a")
        b.fill("#filter-ns", "")
        self.wait_rows(b, "ids.length === 50 && !ids.includes('a-only')", "the default tenant")
        # A tenant's token shows that tenant's checks only.
        b.click("#token-button")
        b.wait("document.getElementById('token-dialog').open")
        b.fill("#token-input", "team-a-reader")
        b.click("#token-submit")
        self.wait_rows(b, "ids.join() === 'a-only'", "team-a's checks")
        self.assertEqual(b.eval("document.getElementById('count-total').textContent"), "1")
        # Another tenant is refused to it, and the page says so.
        b.fill("#filter-ns", "default")
        b.wait("!document.getElementById('error').hidden && document.getElementById('error')"
               ".textContent.includes('403')")
        b.fill("#filter-ns", "")
        b.wait("document.getElementById('error').hidden")
        self.assertEqual(page_errors(b), [])


if __name__ == "__main__":
    main()
