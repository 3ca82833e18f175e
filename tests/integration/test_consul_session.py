"""Consul's sessions and locks (/v1/session, PUT /v1/kv ?acquire ?release)
on a real agent, driven by Debian's python3-consul and npm's consul
client, unchanged: a lock held by one client is refused to the other
until it is released, or until the holder's session TTL passes (between
TTL and 2 x TTL); destroy frees (release) or deletes (delete) the keys,
then lock-delay refuses a new acquire for a while; a session whose check
goes critical ends and frees its lock; sessions survive a restart;
blocking reads of the session list; tenants; and bad bodies get Consul's
status and a message naming the field."""

import http.client
import json
import os
import sys
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, tcp_listener  # noqa: E402
from consul_clients import py, node, node_missing  # noqa: E402

# python-consul keeps a requests session per client open: not ours to close.
warnings.filterwarnings("ignore", category=ResourceWarning)


def raw_call(port, method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(30))
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


class Locks(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg).start()
        self.c = py(self.a)

    def test_python_holds_node_is_refused_until_release(self):
        why = node_missing()
        if why:
            self.skipTest(why)
        kv, sess = self.c.kv, self.c.session
        s1 = sess.create(name="py-leader", ttl=30, lock_delay=0)
        self.assertTrue(kv.put("service/leader", "python", acquire=s1))
        _, e = kv.get("service/leader")
        self.assertEqual((e["Session"], e["LockIndex"], e["Value"]), (s1, 1, b"python"))
        # The holder updates its value without losing the lock.
        self.assertTrue(kv.put("service/leader", "python2", acquire=s1))
        self.assertEqual(kv.get("service/leader")[1]["LockIndex"], 1)
        got = node(self.reg, self.a, """
            const s = await consul.session.create({name: 'node-follower', ttl: '30s'});
            const r = {id: s.ID};
            r.acquire = String(await consul.kv.set({key: 'service/leader', value: 'node',
                                                    acquire: s.ID}));
            r.release = String(await consul.kv.set({key: 'service/leader', value: 'x',
                                                    release: s.ID}));
            const e = await consul.kv.get('service/leader');
            r.holder = e.Session; r.value = e.Value;
            out(r);
        """)
        self.assertIn(got["acquire"], ("false", "undefined"))  # the client's word for false
        self.assertIn(got["release"], ("false", "undefined"))  # not its lock to release
        self.assertEqual((got["holder"], got["value"]), (s1, "python2"))
        s2 = got["id"]
        # python releases: the lock is free (no lock-delay on a release).
        self.assertTrue(kv.put("service/leader", "bye", release=s1))
        _, e = kv.get("service/leader")
        self.assertNotIn("Session", e)
        self.assertEqual((e["LockIndex"], e["Value"]), (1, b"bye"))
        got = node(self.reg, self.a, """
            const r = {};
            r.acquire = await consul.kv.set({key: 'service/leader', value: 'node',
                                             acquire: %s});
            const e = await consul.kv.get('service/leader');
            r.holder = e.Session; r.lockIndex = e.LockIndex;
            out(r);
        """ % json.dumps(s2))
        self.assertEqual(got, {"acquire": True, "holder": s2, "lockIndex": 2})
        # A plain put keeps the holder, as Consul's.
        self.assertTrue(kv.put("service/leader", "overwritten"))
        self.assertEqual(kv.get("service/leader")[1]["Session"], s2)
        sessions = {s["ID"]: s for s in sess.list()[1]}
        self.assertEqual(set(sessions), {s1, s2})
        self.assertEqual(sessions[s1]["Name"], "py-leader")
        self.assertEqual(sessions[s1]["TTL"], "30s")
        self.assertEqual(sessions[s1]["LockDelay"], 0)
        self.assertEqual(sessions[s2]["LockDelay"], 15 * 10**9)
        self.assertEqual(sessions[s1]["Behavior"], "release")
        self.assertEqual(sessions[s1]["NodeChecks"], ["serfHealth"])

    def test_ttl_expiry_frees_the_lock(self):
        why = node_missing()
        if why:
            self.skipTest(why)
        kv, sess = self.c.kv, self.c.session
        s1 = sess.create(name="doomed", ttl=10, lock_delay=0)
        t0 = time.monotonic()
        self.assertTrue(kv.put("jobs/migrate", "py", acquire=s1))
        # node retries once a second; it must not win before the TTL and
        # must win by 2 x TTL (and a margin).
        got = node(self.reg, self.a, """
            const s = await consul.session.create({name: 'waiter', ttl: '60s'});
            const tries = [];
            for (let i = 0; i < 40; i++) {
              const ok = await consul.kv.set({key: 'jobs/migrate', value: 'node',
                                              acquire: s.ID});
              tries.push(ok === true);
              if (ok === true) break;
              await new Promise((res) => setTimeout(res, 1000));
            }
            out({id: s.ID, tries: tries});
        """, timeout=90)
        took = time.monotonic() - t0
        self.assertTrue(got["tries"][-1], "node never got the lock: %r" % got)
        self.assertGreaterEqual(took, 10 - 0.5, "the lock was free before the TTL")
        self.assertLess(took, scaled(20 + 8))
        _, e = kv.get("jobs/migrate")
        self.assertEqual((e["Session"], e["Value"], e["LockIndex"]), (got["id"], b"node", 2))
        self.assertEqual(sess.info(s1)[1], None)
        # Renewing keeps a session alive past its TTL.
        s3 = sess.create(name="renewed", ttl=10)
        for _ in range(5):
            time.sleep(5)
            self.assertEqual(sess.renew(s3)["ID"], s3)
        self.assertIsNotNone(sess.info(s3)[1])

    def test_destroy_release_delete_and_lock_delay(self):
        kv, sess = self.c.kv, self.c.session
        rel = sess.create(name="rel", lock_delay=3)
        dele = sess.create(name="del", behavior="delete", lock_delay=0)
        self.assertTrue(kv.put("a/rel", "1", acquire=rel))
        self.assertTrue(kv.put("a/del", "2", acquire=dele))
        self.assertTrue(kv.put("a/free", "3"))
        self.assertTrue(sess.destroy(dele))
        self.assertIsNone(kv.get("a/del")[1])           # delete behaviour: gone
        self.assertTrue(sess.destroy(rel))
        _, e = kv.get("a/rel")                           # release behaviour: kept, freed
        self.assertNotIn("Session", e)
        self.assertEqual(e["Value"], b"1")
        self.assertEqual(kv.get("a/free")[1]["Value"], b"3")
        other = sess.create(name="other", lock_delay=0)
        t0 = time.monotonic()
        self.assertFalse(kv.put("a/rel", "x", acquire=other))   # lock-delay: 3 s
        self.assertTrue(kv.put("a/del", "x", acquire=other))    # no delay there
        wait_until(lambda: kv.put("a/rel", "y", acquire=other), scaled(10), interval=0.2,
                   what="the lock-delay to end")
        self.assertGreaterEqual(time.monotonic() - t0, 2.5)
        self.assertTrue(sess.destroy("no-such-session"))       # true, as Consul
        self.assertEqual(sorted(s["ID"] for s in sess.list()[1]), [other])

    def test_critical_check_ends_the_session(self):
        up = tcp_listener(self.reg)
        a = self.a
        body = {"name": "db-up", "target": "tcp://127.0.0.1:%d" % up.port, "interval": "1s"}
        a.ok("POST", "/v1/checks", body, status=201)
        # Sessions read a check's stored state: wait for the store (the
        # catalog's /v1/agent/checks shows it), not the agent's registry,
        # which knows a result before it is durable.
        wait_until(lambda: a.get("/v1/agent/checks").json.get("db-up", {}).get("Status")
                   == "passing", scaled(15), what="db-up passing in the store")
        kv, sess = self.c.kv, self.c.session
        # A session on a check that does not exist, or that is critical, is refused.
        st, text = raw_call(a.port, "PUT", "/v1/session/create", json.dumps(
            {"Checks": ["serfHealth", "missing"]}))
        self.assertEqual((st, text), (500, b"Missing check 'missing' registration"))
        s = sess.create(name="guarded", checks=["serfHealth", "db-up"], lock_delay=0)
        self.assertEqual(sess.info(s)[1]["NodeChecks"], ["serfHealth", "db-up"])
        self.assertTrue(kv.put("db/primary", "me", acquire=s))
        up.stop()
        a.wait_status("db-up", "critical", timeout=scaled(20))
        wait_until(lambda: sess.info(s)[1] is None, scaled(10), what="the session to end")
        _, e = kv.get("db/primary")
        self.assertNotIn("Session", e)
        self.assertEqual(e["Value"], b"me")
        st, text = raw_call(a.port, "PUT", "/v1/session/create", json.dumps(
            {"NodeChecks": ["db-up"]}))
        self.assertEqual((st, text), (500, b"Check 'db-up' is in critical state"))

    def test_sessions_survive_a_restart(self):
        kv, sess = self.c.kv, self.c.session
        s = sess.create(name="durable", ttl=60, behavior="delete")
        self.assertTrue(kv.put("keep/lock", "v", acquire=s))
        before = sess.info(s)[1]
        self.a.stop()
        self.a.start()
        c = py(self.a)
        after = c.session.info(s)[1]
        self.assertEqual(after, before)
        _, e = c.kv.get("keep/lock")
        self.assertEqual(e["Session"], s)
        self.assertTrue(c.session.destroy(s))
        self.assertIsNone(c.kv.get("keep/lock")[1])

    def test_blocking_list_wakes_on_a_session_change(self):
        sess = self.c.session
        idx, items = sess.list()
        self.assertEqual(items, [])
        res, done = [], threading.Event()

        def run():
            res.append(py(self.a).session.list(index=idx, wait="20s"))
            done.set()
        threading.Thread(target=run, daemon=True).start()
        self.c.kv.put("unrelated", "x")
        self.assertFalse(done.wait(1.0), "woken by a KV write")
        s = sess.create(name="new")
        self.assertTrue(done.wait(scaled(10)))
        idx2, items = res[0]
        self.assertGreater(int(idx2), int(idx))
        self.assertEqual([i["ID"] for i in items], [s])
        self.assertEqual([i["ID"] for i in sess.node(items[0]["Node"])[1]],
                         [s])


TOKENS = [{"secret": "a", "role": "write", "tenant": "team-a"},
          {"secret": "b", "role": "write", "tenant": "team-b"},
          {"secret": "r", "role": "read"}]


class SessionTenantsAndInput(HeedTestCase):
    def test_tenants(self):
        a = Agent(self.reg, {"tokens": TOKENS}).start()
        ca, cb = py(a, "a"), py(a, "b")
        # python-consul's session calls send no token: raw calls here.

        def call(method, path, token, body=None):
            st, text = raw_call(a.port, method, path, body, headers={"X-Consul-Token": token})
            return st, (json.loads(text) if text[:1] in (b"[", b"{", b"t", b"f") else text)
        st, made = call("PUT", "/v1/session/create", "a", b'{"Name": "a-lock"}')
        self.assertEqual(st, 200)
        s = made["ID"]
        self.assertTrue(ca.kv.put("x", "1", acquire=s))
        # team-b sees no such session, cannot use it, and destroying it there
        # is a no-op (true, as for any missing session).
        self.assertEqual(call("GET", "/v1/session/info/" + s, "b"), (200, []))
        self.assertEqual(call("GET", "/v1/session/list", "b"), (200, []))
        self.assertEqual(call("PUT", "/v1/session/renew/" + s, "b"),
                         (404, b"Session id '%s' not found" % s.encode()))
        st, text = raw_call(a.port, "PUT", "/v1/kv/y?acquire=" + s, b"v",
                            headers={"X-Consul-Token": "b"})
        self.assertEqual((st, text), (500, b'invalid session "%s"' % s.encode()))
        self.assertEqual(call("PUT", "/v1/session/destroy/" + s, "b"), (200, True))
        st, info = call("GET", "/v1/session/info/" + s, "a")
        self.assertEqual((st, info[0]["ID"], info[0]["Namespace"]), (200, s, "team-a"))
        self.assertEqual(ca.kv.get("x")[1]["Session"], s)
        self.assertIsNone(cb.kv.get("x")[1])
        # A read token cannot create sessions; no token is denied too.
        for tok in ("r", None):
            st, text = raw_call(a.port, "PUT", "/v1/session/create", b"{}",
                                headers={"X-Consul-Token": tok} if tok else {})
            self.assertEqual((st, text), (403, b"Permission denied"))

    def test_bad_bodies(self):
        a = Agent(self.reg).start()
        p = a.port
        cases = [
            (b"{", 400, b"Request decode failed"),
            (b"[1]", 400, b"Request decode failed"),
            (b'{"TTL": 10}', 400, b"Request decode failed: TTL: expected a string"),
            (b'{"Name": ["x"]}', 400, b"Request decode failed: Name: expected a string"),
            (b'{"Checks": "serfHealth"}', 400, b"Request decode failed: Checks: expected an array"),
            (b'{"NodeChecks": [1]}', 400, b"Request decode failed: NodeChecks[0]: expected a string"),
            (b'{"ServiceChecks": [{"Name": "x"}]}', 400,
             b"Request decode failed: ServiceChecks[0].ID: expected a string"),
            (b'{"LockDelay": true}', 400, b"Request decode failed: LockDelay: expected"),
            (b'{"LockDelay": "soon"}', 400, b"Request decode failed: LockDelay:"),
            (b'{"TTL": "5s"}', 500, b"Invalid Session TTL '5000000000', must be between"),
            (b'{"TTL": "ten"}', 500, b"Session TTL 'ten' invalid"),
            (b'{"Behavior": "keep"}', 500, b"Invalid Behavior setting 'keep'"),
            (b'{"Node": "elsewhere"}', 500, b"Missing node registration"),
        ]
        for body, status, prefix in cases:
            st, text = raw_call(p, "PUT", "/v1/session/create", body)
            self.assertEqual(st, status, (body, text))
            self.assertTrue(text.startswith(prefix), (body, text))
        # Unknown fields are ignored; any case of a known one is taken;
        # LockDelay as a number: seconds below 1000, else nanoseconds.
        st, text = raw_call(p, "PUT", "/v1/session/create",
                            b'{"whatever": 1, "name": "n", "lockdelay": 7, "ttl": "15s"}')
        self.assertEqual(st, 200, text)
        sid = json.loads(text)["ID"]
        st, text = raw_call(p, "GET", "/v1/session/info/" + sid)
        info = json.loads(text)[0]
        self.assertEqual((info["Name"], info["LockDelay"], info["TTL"]), ("n", 7 * 10**9, "15s"))
        st, text = raw_call(p, "PUT", "/v1/session/create", b'{"LockDelay": 2500000000}')
        sid = json.loads(text)["ID"]
        st, text = raw_call(p, "GET", "/v1/session/info/" + sid)
        self.assertEqual(json.loads(text)[0]["LockDelay"], 2500000000)
        # An empty body is a default session.
        st, text = raw_call(p, "PUT", "/v1/session/create")
        self.assertEqual(st, 200, text)
        st, text = raw_call(p, "PUT", "/v1/session/renew/nope")
        self.assertEqual((st, text), (404, b"Session id 'nope' not found"))
        st, text = raw_call(p, "GET", "/v1/session/info/nope")
        self.assertEqual((st, json.loads(text)), (200, []))


if __name__ == "__main__":
    main()
