"""The public status page and its badges (docs/status-page.md), against a
real agent with tokens configured: /status and /status/GROUP need no token;
a private group is answered exactly as a missing one (404, the same bytes);
no output or target is shown unless the group says so, and a password in a
target never; 90 day bars with today's figure from the history; badges are
well-formed SVG in the status's colour; everything printed is escaped;
?window= is strict; status_page: errors name file:line:col and the key
(--validate); a reload that makes a group public shows it; the routes
have their own rate limit per client."""

import html.parser
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402

MGMT = "m-s3cr3t"
SVG = "{http://www.w3.org/2000/svg}"
XSS = "<script>alert(1)</script>"


class Bars(html.parser.HTMLParser):
    """Per section (group) id: the titles of the spans in its div.bars, and
    the text of the page."""

    def __init__(self):
        super().__init__()
        self.sections, self.cur, self.in_bars, self.text = {}, None, False, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.cur = a.get("id")
            self.sections[self.cur] = []
        elif tag == "div" and a.get("class") == "bars":
            self.in_bars = True
        elif tag == "span" and self.in_bars:
            self.sections[self.cur].append(a.get("title"))

    def handle_endtag(self, tag):
        if tag == "div":
            self.in_bars = False

    def handle_data(self, data):
        self.text.append(data)


def bars(body):
    p = Bars()
    p.feed(body.decode())
    return p.sections, "".join(p.text)


def badge(reply):
    """The message rect's colour and the texts of a badge reply."""
    root = ET.fromstring(reply.body)
    assert root.tag == SVG + "svg", root.tag
    rects = [r for r in root.iter(SVG + "rect") if r.get("x")]
    texts = [t.text for t in root.iter(SVG + "text")]
    return rects[0].get("fill"), texts, root.find(SVG + "title").text


class StatusPage(HeedTestCase):
    def config(self, groups, extra_checks=(), title="Acme <status> & co"):
        return {
            "tokens": [{"secret": MGMT, "role": "management"}],
            "checks": [
                {"name": "web-ok", "target": "tcp://127.0.0.1:%d" % self.up.port,
                 "interval": "1s", "tags": ["web"]},
                {"name": "db-down", "target": "tcp://127.0.0.1:1", "interval": "1s",
                 "tags": ["db"]},
                {"name": "private-thing", "target": "tcp://127.0.0.1:1", "interval": "1h",
                 "tags": ["internal"]},
                {"id": "xss", "name": XSS, "target": "tcp://127.0.0.1:%d" % self.up.port,
                 "interval": "1s", "tags": ["xss"]},
                {"name": "secretive", "target": "http://alice:hunter2@127.0.0.1:1/secret-path",
                 "interval": "1h", "tags": ["secretive"]},
                {"name": "reporter", "ttl": "1h", "tags": ["secretive"]},
            ] + [{"name": "bulk-%02d" % i, "target": "tcp://127.0.0.1:%d" % self.up.port,
                   "interval": "1s", "tags": ["bulk"]} for i in range(20)] + list(extra_checks),
            "status_page": {"title": title, "groups": groups},
        }

    GROUPS = [
        {"name": "web", "title": "Web <b>site</b>", "public": True, "match": {"tags": ["web"]}},
        {"name": "db", "public": True, "match": {"tags": ["db"]}},
        {"name": "internal", "public": False, "match": {"tags": ["internal"]}},
        {"name": "xss", "public": True, "match": {"tags": ["xss"]}},
        {"name": "hidden", "public": True, "match": {"tags": ["secretive"]}},
        {"name": "shown", "public": True, "match": {"tags": ["secretive"]},
         "show_output": True, "show_target": True},
        {"name": "bulk", "public": True, "match": {"tags": ["bulk"]}},
    ]

    def setUp(self):
        super().setUp()
        self.up = tcp_listener(self.reg)
        self.a = Agent(self.reg, self.config(self.GROUPS)).start()
        # The reporter's output: something the hidden group must not show.
        r = self.a.call("PUT", "/v1/agent/check/update/reporter",
                        {"Status": "passing", "Output": "OUTPUT-hunter3-marker"}, token=MGMT)
        self.assertEqual(r.status, 200, r)
        # The first snapshot is taken after every check has its status.
        self.a.wait_status("web-ok", "passing", token=MGMT)
        self.a.wait_status("db-down", "critical", token=MGMT)
        self.a.wait_status("xss", "passing", token=MGMT)
        self.a.wait_status("reporter", "passing", token=MGMT)
        self.a.wait_status("secretive", "critical", token=MGMT)
        for i in range(20):
            self.a.wait_check("bulk-%02d" % i, lambda c: c["last_checked"], token=MGMT)

    def test_public_without_token(self):
        a = self.a
        # The API itself still needs a token ...
        self.assertEqual(a.get("/v1/checks").status, 401)
        # ... the status page does not, and ignores one that is wrong.
        for token in (None, "not-a-token", MGMT):
            r = a.get("/status", token=token)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
            csp = r.headers["content-security-policy"]
            self.assertIn("default-src 'none'", csp)
            self.assertNotIn("script-src", csp)
            self.assertEqual(r.headers["x-content-type-options"], "nosniff")
            self.assertRegex(r.headers["cache-control"], r"max-age=\d+")
        sections, text = bars(r.body)
        self.assertEqual(sorted(sections), ["bulk", "db", "hidden", "shown", "web", "xss"])
        self.assertIn("Web <b>site</b>", text)  # the title as text, not markup
        self.assertIn("web-ok", text)
        self.assertIn("db-down", text)
        self.assertIn("Some systems are down", text)
        self.assertNotIn(b"<script", r.body)
        self.assertNotIn(b"hunter2", r.body)
        r = a.get("/status/web")
        self.assertEqual(r.status, 200, r)
        sections, text = bars(r.body)
        self.assertEqual(list(sections), ["web"])
        self.assertNotIn("db-down", text)
        self.assertIn("passing", text)
        # HEAD is answered as GET, without the body.
        r = a.call("HEAD", "/status/web")
        self.assertEqual((r.status, r.body), (200, b""))

    def test_private_is_missing(self):
        a = self.a
        for suffix in ("", "/badge.svg", "/uptime.svg", "/uptime.svg?window=7d"):
            private = a.get("/status/internal" + suffix)
            missing = a.get("/status/no-such-group" + suffix)
            tokened = a.get("/status/internal" + suffix, token=MGMT)
            self.assertEqual(private.status, 404, suffix)
            for r in (missing, tokened):
                self.assertEqual((r.status, r.body, r.headers["content-type"]),
                                 (private.status, private.body,
                                  private.headers["content-type"]), suffix)
        self.assertNotIn(b"internal", private.body)
        body = a.get("/status").body
        self.assertNotIn(b"private-thing", body)
        self.assertNotIn(b"internal", body)
        # A group name that is not a name at all is 404 as well.
        self.assertEqual(a.get("/status/..%2F..%2Fv1%2Fchecks").status, 404)

    def test_output_and_target_only_when_configured(self):
        a = self.a
        hidden = a.get("/status/hidden")
        self.assertEqual(hidden.status, 200, hidden)
        _, text = bars(hidden.body)
        self.assertIn("secretive", text)
        self.assertIn("reporter", text)
        self.assertLess(text.index("reporter"), text.index("secretive"))  # by name
        for secret in (b"OUTPUT-hunter3-marker", b"hunter2", b"secret-path", b"127.0.0.1",
                       b"alice", b"connection refused", b"refused"):
            self.assertNotIn(secret, hidden.body)
        shown = a.get("/status/shown")
        self.assertEqual(shown.status, 200, shown)
        self.assertIn(b"OUTPUT-hunter3-marker", shown.body)
        self.assertIn(b"secret-path", shown.body)
        self.assertIn(b"***", shown.body)
        self.assertNotIn(b"hunter2", shown.body)  # the password, never
        # The index shows each group as its own config says.
        index = a.get("/status").body.decode()
        start = index.index('<section id="hidden"')
        part = index[start:index.index("</section>", start)]
        self.assertNotIn("OUTPUT-hunter3-marker", part)
        self.assertNotIn("secret-path", part)

    def test_ninety_bars_and_today(self):
        sections, _ = bars(self.a.get("/status").body)
        for name, titles in sections.items():
            self.assertEqual(len(titles), 90, name)
            self.assertTrue(all(t and ":" in t for t in titles), titles)
        today = time.strftime("%Y-%m-%d", time.gmtime())
        self.assertRegex(sections["web"][-1], r"^%s: 100%% \(\d+ results\)$" % today)
        self.assertRegex(sections["db"][-1], r"^%s: 0%% \(\d+ results\)$" % today)
        # A group of more checks than the page reads at once: each has its history.
        self.assertRegex(sections["bulk"][-1], r"^%s: 100%% \(\d+ results\)$" % today)
        body = self.a.get("/status/bulk").body.decode()
        self.assertEqual(body.count("passing &middot; 100%"), 20, body)
        # Days before the agent ran have no data, not 100%.
        self.assertTrue(sections["web"][0].endswith(": no data"), sections["web"][0])

    def test_badges(self):
        a = self.a
        r = a.get("/status/web/badge.svg")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers["content-type"], "image/svg+xml; charset=utf-8")
        self.assertRegex(r.headers["cache-control"], r"max-age=\d+")
        color, texts, title = badge(r)
        self.assertEqual((color, title), ("#44cc11", "Web <b>site</b>: up"))
        self.assertIn("up", texts)
        color, texts, title = badge(a.get("/status/db/badge.svg"))
        self.assertEqual((color, title), ("#e05d44", "db: down"))
        for window in ("24h", "7d", "30d", "90d"):
            color, texts, title = badge(a.get("/status/web/uptime.svg?window=" + window))
            self.assertEqual((color, title), ("#44cc11", "uptime %s: 100%%" % window))
            color, texts, title = badge(a.get("/status/db/uptime.svg?window=" + window))
            self.assertEqual((color, title), ("#e05d44", "uptime %s: 0%%" % window))
        # The default window is 24h.
        self.assertEqual(badge(a.get("/status/web/uptime.svg"))[2], "uptime 24h: 100%")
        # ?window= is strict.
        for bad in ("1y", "24H", "7d%20", "", "7d&window=30d&x", "%00", "7d%00"):
            r = a.get("/status/web/uptime.svg?window=" + bad)
            if bad == "7d&window=30d&x":  # the first value counts, and it is valid
                self.assertEqual(r.status, 200, r)
                continue
            self.assertEqual(r.status, 400, (bad, r))
            if "%00" not in bad:  # the router's own 400 refuses an encoded NUL first
                self.assertIn(b"window: expected 24h, 7d, 30d or 90d", r.body)

    def test_escaping(self):
        r = self.a.get("/status/xss")
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(b"<script", r.body)
        self.assertIn(b"&lt;script&gt;alert(1)&lt;/script&gt;", r.body)
        self.assertIn(b"<title>Acme &lt;status&gt; &amp; co</title>", r.body)
        _, text = bars(r.body)
        self.assertIn(XSS, text)  # shown as text
        # The badge of a group whose title is markup is still well-formed.
        color, texts, title = badge(self.a.get("/status/web/badge.svg"))
        self.assertIn("Web <b>site</b>", texts)

    def test_reload_makes_public(self):
        a = self.a
        self.assertEqual(a.get("/status/internal").status, 404)
        groups = [dict(g, public=True) if g["name"] == "internal" else g for g in self.GROUPS]
        a.reload(self.config(groups))
        r = a.get("/status/internal")
        self.assertEqual(r.status, 200, r)
        self.assertIn(b"private-thing", r.body)
        # And back: private again is 404 at once, whatever the cache holds.
        a.reload(self.config(self.GROUPS), expect="reload")
        self.assertEqual(a.get("/status/internal").status, 404)

    def test_rate_limit(self):
        a = self.a
        # rate_limits.status_page, taken at a reload: 1 a minute, burst 3.
        cfg = self.config(self.GROUPS)
        cfg["rate_limits"] = {"status_page": {"rate": "1/m", "burst": 3}}
        a.reload(cfg)
        codes = []
        deadline = time.monotonic() + scaled(10)
        while len(codes) < 60 and 429 not in codes and time.monotonic() < deadline:
            codes.append(a.get("/status/web/badge.svg").status)
        self.assertEqual(codes, [200, 200, 200, 429])
        r = a.get("/status/web/badge.svg")
        self.assertEqual(r.status, 429)
        self.assertTrue(int(r.headers["retry-after"]) > 0, r.headers)
        # Another route has its own bucket.
        self.assertEqual(a.get("/status/db").status, 200)


    def test_cached_snapshot(self):
        """Requests within the snapshot's life get the same page (the
        history is not read again), and many at once are all answered."""
        a = self.a
        first = a.get("/status/db").body
        self.assertEqual(a.get("/status/db").body, first)
        results = []

        def one():
            results.append(a.get("/status"))
        threads = [threading.Thread(target=one) for _ in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(30))
        self.assertEqual(len(results), 16)
        self.assertEqual({r.status for r in results}, {200})
        self.assertEqual(len({r.body for r in results}), 1)
        stamp = re.search(rb"Updated [0-9TZ:.-]+", first).group(0)
        self.assertIn(stamp, results[0].body)


class Matching(HeedTestCase):
    """Groups by service, tag and tenant; paused checks show maintenance."""

    def test_services_tenants_maintenance(self):
        up = tcp_listener(self.reg)
        target = "tcp://127.0.0.1:%d" % up.port
        a = Agent(self.reg, {
            "tokens": [{"secret": MGMT, "role": "management"}],
            "services": [{"name": "front", "tags": ["edge"], "port": up.port,
                          "checks": [{"target": target, "interval": "1s"}]}],
            "checks": [{"name": "paused-one", "target": target, "interval": "1s",
                        "tags": ["quiet"]}],
            "status_page": {"groups": [
                {"name": "by-service", "public": True, "match": {"services": ["front"]}},
                {"name": "by-service-tag", "public": True, "match": {"tags": ["edge"]}},
                {"name": "team-a", "public": True, "match": {"tenant": "team-a"}},
                {"name": "team-b", "public": True, "match": {"tenant": "team-b"}},
                {"name": "quiet", "public": True, "match": {"tags": ["quiet"]}},
            ]}}).start()
        r = a.call("POST", "/v1/checks", {"name": "a-secret-check", "target": target,
                                          "interval": "1s", "tenant": "team-a"}, token=MGMT)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(a.call("PUT", "/v1/checks/paused-one/pause", token=MGMT).status, 200)
        a.wait_status("service:front", "passing", token=MGMT)
        a.wait_status("a-secret-check", "passing", token=MGMT, headers={"X-Consul-Namespace":
                                                                         "team-a"})
        a.wait_status("paused-one", "maintenance", token=MGMT)

        for group in ("by-service", "by-service-tag"):
            body = a.get("/status/" + group).body
            self.assertIn(b"service:front", body, group)
            self.assertNotIn(b"paused-one", body)
            self.assertNotIn(b"a-secret-check", body)
        self.assertIn(b"a-secret-check", a.get("/status/team-a").body)
        b = a.get("/status/team-b")
        self.assertEqual(b.status, 200)
        self.assertNotIn(b"a-secret-check", b.body)  # another tenant's check: not there
        color, texts, title = badge(a.get("/status/team-b/badge.svg"))
        self.assertEqual((color, title), ("#9f9f9f", "team-b: no checks"))
        color, texts, title = badge(a.get("/status/quiet/badge.svg"))
        self.assertEqual((color, title), ("#007ec6", "quiet: maintenance"))
        self.assertIn(b"maintenance", a.get("/status/quiet").body)


    def test_no_public_group(self):
        """Without a public group there is no status page at all."""
        a = Agent(self.reg, {"checks": [{"name": "c", "target": "tcp://127.0.0.1:1",
                                         "interval": "1h"}],
                             "status_page": {"groups": [{"name": "all"}]}}).start()
        missing = a.get("/status/never-configured")
        self.assertEqual(missing.status, 404)
        for path in ("/status", "/status/all", "/status/all/badge.svg",
                     "/status/all/uptime.svg"):
            r = a.get(path)
            self.assertEqual((r.status, r.body), (404, missing.body), path)
        self.assertEqual(a.get("/v1/checks").status, 200)  # the API is as it was


class Validate(HeedTestCase):
    def validate(self, text):
        d = self.reg.tempdir()
        path = os.path.join(d, "heed.yaml")
        with open(path, "w") as f:
            f.write("data_dir: %s/data\n" % d + text)
        p = subprocess.run([HEED, "agent", "--validate", "-c", path], capture_output=True,
                           text=True, timeout=scaled(30))
        return p.returncode, p.stderr.replace(path, "heed.yaml")

    def test_errors_name_the_key(self):
        cases = [
            ("status_page:\n  groups:\n    - name: Web!\n",
             "heed.yaml:4:13: status_page.groups[0].name: expected a group name of 1 to 64 "
             "of a-z, 0-9, _ and -, got \"Web!\""),
            ("status_page:\n  groups:\n    - name: web\n      public: yes\n",
             "heed.yaml:5:15: status_page.groups[0].public: expected true or false"),
            ("status_page:\n  groups:\n    - name: web\n      colour: red\n",
             "heed.yaml:5:7: status_page.groups[0].colour: unknown key"),
            ("status_page:\n  groups:\n    - name: web\n    - name: web\n",
             "heed.yaml:5:7: status_page.groups[1].name: the same name as "
             "status_page.groups[0]"),
            ("status_page:\n  groups:\n    - title: x\n",
             "heed.yaml:4:7: status_page.groups[0]: missing key name"),
            ("status_page:\n  groups:\n    - name: web\n      match: {tag: [x]}\n",
             "heed.yaml:5:15: status_page.groups[0].match.tag: unknown key"),
            ("status_page:\n  groups: web\n",
             "heed.yaml:3:11: status_page.groups: expected a list of groups"),
        ]
        for text, want in cases:
            rc, err = self.validate(text)
            self.assertEqual(rc, 1, (text, err))
            self.assertIn(want, err, text)
        rc, err = self.validate(
            "status_page:\n  title: Acme\n  groups:\n    - name: web_1-x\n      public: true\n"
            "      match: {tags: [web]}\n      show_output: false\n      show_target: true\n")
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    main()
