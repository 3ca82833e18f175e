"""A store written before tenants had their own check ids is migrated
without loss when the agent restarts onto it: every check (API-created of
three tenants, paused, TTL, and the config file's), its state and its
history are there, each in its tenant; the old keys are gone; the layout
mark makes the next start skip the work; a half-migrated store (as a crash
leaves it) is finished; an unreadable old definition is left in place and
named.

The old layout, as heed 0.1.0 (1029d20) wrote it:
    heed/checks/<id>   the definition, with "tenant": T at its end when it
                       had one
    heed/state/<id>    the state
    history            under the check's id
and no heed/layout key. The test makes such a store from a live one: it
runs the agent, stops it, and rewrites the keys and history names into
the old layout with Python's sqlite3 (the SQLite schema is the same)."""

import json
import os
import sqlite3
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, free_port, main, wait_until  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402

MGMT, A_W, B_W = "m", "a-w", "b-w"
TOKENS = [{"secret": MGMT, "role": "management"},
          {"secret": A_W, "role": "write", "tenant": "team-a"},
          {"secret": B_W, "role": "write", "tenant": "team-b"}]
STABLE = ("tenant", "target", "ttl", "interval", "status", "paused", "last_change", "source")


def db_keys(path):
    db = sqlite3.connect(path)
    try:
        return {bytes(k).decode(): bytes(v).decode() for k, v in
                db.execute("SELECT key, value FROM kv")}
    finally:
        db.close()


def history_names(path):
    db = sqlite3.connect(path)
    try:
        return sorted(bytes(n).decode() for (n,) in db.execute("SELECT name FROM hist_checks"))
    finally:
        db.close()


def to_old_layout(path, only=None):
    """Rewrites the store at path into the layout before per-tenant ids
    (see the top); only: the ids to rewrite (default: all)."""
    db = sqlite3.connect(path)
    try:
        rows = list(db.execute("SELECT key, value FROM kv"))
        for key, value in rows:
            key = bytes(key).decode()
            for prefix in ("heed/checks/", "heed/state/"):
                if not key.startswith(prefix):
                    continue
                tenant, cid = key[len(prefix):].split("/", 1)
                if only is not None and cid not in only:
                    continue
                value = bytes(value)
                if prefix == "heed/checks/" and tenant != "default":
                    d = json.loads(value)
                    d["tenant"] = tenant  # last, as the old agent put it
                    value = json.dumps(d, separators=(",", ":")).encode()
                db.execute("UPDATE kv SET key = ?, value = ? WHERE key = ?",
                           ((prefix + cid).encode(), value, key.encode()))
        for (name,) in list(db.execute("SELECT name FROM hist_checks")):
            tenant, cid = bytes(name).decode().split("/", 1)
            if only is None or cid in only:
                db.execute("UPDATE hist_checks SET name = ? WHERE name = ?",
                           (cid.encode(), name))
        db.execute("DELETE FROM kv WHERE key = ?", (b"heed/layout",))
        # The catalog's node, and its copies of config checks, came after
        # that layout.
        db.execute("DELETE FROM kv WHERE substr(key, 1, 11) = ?", (b"heed/nodes/",))
        for key, value in list(db.execute("SELECT key, value FROM kv")):
            if bytes(key).startswith(b"heed/checks/") and \
                    json.loads(bytes(value)).get("source") == "config":
                db.execute("DELETE FROM kv WHERE key = ?", (key,))
        db.commit()
    finally:
        db.close()


class Migrate(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.up = tcp_listener(self.reg)
        up = "tcp://127.0.0.1:%d" % self.up.port
        self.a = Agent(self.reg, {"tokens": TOKENS, "checks": [
            {"name": "cfg", "target": up, "interval": "200ms"}]}).start()
        a = self.a
        for tok, body in ((A_W, {"name": "web", "target": up, "interval": "200ms"}),
                          (A_W, {"name": "held", "target": up, "interval": "200ms"}),
                          (B_W, {"name": "db", "target": "tcp://127.0.0.1:%d" % free_port(),
                                 "interval": "200ms", "timeout": "100ms",
                                 "failures_before_critical": 1}),
                          (MGMT, {"name": "hb", "ttl": "1h"})):
            a.ok("POST", "/v1/checks", body, token=tok, status=201)
        a.ok("PUT", "/v1/agent/check/pass/hb?note=alive", token=MGMT)
        a.wait_status("web", "passing", token=A_W)
        a.wait_status("held", "passing", token=A_W)
        a.ok("PUT", "/v1/checks/held/pause", token=A_W)
        a.wait_status("cfg", "passing", token=MGMT)
        for tok, cid in ((A_W, "web"), (B_W, "db"), (MGMT, "cfg")):
            wait_until(lambda: len(self.history(tok, cid)) >= 3, 10,
                       what="three results of %s" % cid)
        self.where = {"web": A_W, "held": A_W, "db": B_W, "hb": MGMT, "cfg": MGMT}
        self.db = os.path.join(a.data_dir, "heed.db")

    def history(self, token, cid):
        return self.a.ok("GET", "/v1/checks/%s/history?step=raw" % cid, token=token)["points"]

    def snapshot(self):
        out = {}
        for cid, tok in self.where.items():
            c = self.a.check(cid, token=tok)
            out[cid] = ({k: c.get(k) for k in STABLE}, self.history(tok, cid))
        return out

    def assert_kept(self, before):
        for cid, (view, hist) in before.items():
            tok = self.where[cid]
            c = self.a.check(cid, token=tok)
            self.assertEqual({k: c.get(k) for k in STABLE}, view, cid)
            now = self.history(tok, cid)
            # Every point from before is still there (more came since).
            self.assertEqual(now[:len(hist)], hist, cid)

    def test_the_agent_restarts_onto_an_old_store(self):
        a = self.a
        before = self.snapshot()
        self.assertEqual(a.stop(), 0, a.stderr())
        self.assertEqual(history_names(self.db),
                         ["default/cfg", "default/hb", "team-a/held", "team-a/web", "team-b/db"])
        to_old_layout(self.db)
        keys = db_keys(self.db)
        self.assertEqual(sorted(k for k in keys if k.startswith("heed/")),
                         ["heed/checks/db", "heed/checks/hb", "heed/checks/held",
                          "heed/checks/web", "heed/state/cfg", "heed/state/db",
                          "heed/state/hb", "heed/state/held", "heed/state/web"])
        self.assertEqual(json.loads(keys["heed/checks/web"])["tenant"], "team-a")

        a.start()
        self.assertIn("heed agent: migrated the store to per-tenant check ids: 5 checks\n",
                      a.stderr())
        self.assert_kept(before)
        self.assertEqual(a.check("hb", token=MGMT)["output"], "alive")
        # Each tenant sees its own and nothing else.
        ids = lambda tok: [c["id"] for c in a.ok("GET", "/v1/checks", token=tok)]  # noqa: E731
        self.assertEqual(ids(A_W), ["held", "web"])
        self.assertEqual(ids(B_W), ["db"])
        self.assertEqual(ids(MGMT), ["cfg", "hb"])
        self.assertEqual(a.get("/v1/checks/web", token=B_W).status, 404)
        # The old keys are gone, the new ones hold it all, the layout is marked.
        self.assertEqual(a.stop(), 0, a.stderr())
        keys = db_keys(self.db)
        # (and the catalog's record of this agent's node, named after the host)
        self.assertEqual(len([k for k in keys if k.startswith("heed/nodes/")]), 1)
        self.assertEqual(sorted(k for k in keys
                                if k.startswith("heed/") and not k.startswith("heed/nodes/")),
                         ["heed/checks/default/cfg", "heed/checks/default/hb",
                          "heed/checks/team-a/held",
                          "heed/checks/team-a/web", "heed/checks/team-b/db", "heed/layout",
                          "heed/state/default/cfg", "heed/state/default/hb",
                          "heed/state/team-a/held", "heed/state/team-a/web",
                          "heed/state/team-b/db"])
        self.assertEqual(keys["heed/layout"], "2")
        self.assertNotIn("tenant", json.loads(keys["heed/checks/team-a/web"]))
        self.assertEqual(history_names(self.db),
                         ["default/cfg", "default/hb", "team-a/held", "team-a/web", "team-b/db"])
        # The next start does not migrate again.
        a.start()
        self.assertNotIn("migrated", a.stderr())
        self.assert_kept(before)

    def test_a_half_migrated_store_is_finished(self):
        a = self.a
        before = self.snapshot()
        self.assertEqual(a.stop(), 0, a.stderr())
        # A crash after some checks moved: "web" and "cfg" still in the old
        # place, the rest in the new, no mark; and an old definition that
        # no heed could read.
        to_old_layout(self.db, only={"web", "cfg"})
        db = sqlite3.connect(self.db)
        db.execute("INSERT INTO kv VALUES (?, ?, 1, 1, 1, 0)", (b"heed/checks/bad", b"{not json"))
        db.commit()
        db.close()
        a.start()
        err = a.stderr()
        self.assertIn("heed agent: migrating the store: heed/checks/bad is unreadable; left as "
                      "it is\n", err)
        self.assertIn("heed agent: migrated the store to per-tenant check ids: 2 checks\n", err)
        self.assert_kept(before)
        self.assertEqual(a.stop(), 0, a.stderr())
        keys = db_keys(self.db)
        self.assertEqual(keys["heed/checks/bad"], "{not json")
        self.assertIn("heed/checks/team-a/web", keys)
        self.assertNotIn("heed/checks/web", keys)
        self.assertNotIn("heed/state/cfg", keys)
        self.assertEqual(keys["heed/layout"], "2")


if __name__ == "__main__":
    main()
