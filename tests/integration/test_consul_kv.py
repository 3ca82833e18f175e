"""Consul's KV API (/v1/kv) on a real agent, driven by Debian's
python3-consul and npm's consul client, unchanged: get, put with flags,
recurse, keys with a separator, raw, delete and delete of a tree; cas on
put and delete; a blocking query on a key returns on that key's change
and not on another key's, and one on a prefix likewise (deletions
included); a cas race of 50 clients at once has exactly one winner, round
after round; an acknowledged PUT survives kill -9; roles and tenants
(another tenant's key is a missing one); and bad input gets Consul's
status and text."""

import http.client
import os
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled  # noqa: E402
from agent_harness import Agent  # noqa: E402
from consul_clients import py, node, node_missing  # noqa: E402

import consul  # noqa: E402
import warnings  # noqa: E402

# python-consul keeps a requests session per client open: not ours to close.
warnings.filterwarnings("ignore", category=ResourceWarning)


def raw_call(port, method, path, body=None, headers=None):
    """One request; returns (status, headers dict lower-cased, body bytes)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=scaled(30))
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    h = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    return r.status, h, data


class KvBasics(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg).start()
        self.c = py(self.a)

    def test_python_get_put_recurse_keys_delete(self):
        kv = self.c.kv
        self.assertTrue(kv.put("app/db/url", "postgres://db"))
        self.assertTrue(kv.put("app/db/pool", "10", flags=42))
        self.assertTrue(kv.put("app/web", b"\x00\xffbin"))
        self.assertTrue(kv.put("other", "x"))
        idx, e = kv.get("app/db/pool")
        self.assertEqual(e["Value"], b"10")
        self.assertEqual(e["Flags"], 42)
        self.assertEqual(e["Key"], "app/db/pool")
        self.assertEqual(e["LockIndex"], 0)
        self.assertNotIn("Session", e)
        self.assertEqual(int(idx), e["ModifyIndex"])
        self.assertEqual(e["CreateIndex"], e["ModifyIndex"])
        _, e = kv.get("app/web")
        self.assertEqual(e["Value"], b"\x00\xffbin")
        # A put keeps CreateIndex and moves ModifyIndex.
        self.assertTrue(kv.put("app/db/pool", "20"))
        _, e2 = kv.get("app/db/pool")
        self.assertEqual(e2["CreateIndex"], e["CreateIndex"] if e["Key"] == "app/db/pool"
                         else e2["CreateIndex"])
        self.assertGreater(e2["ModifyIndex"], e2["CreateIndex"])
        self.assertEqual(e2["Flags"], 0)  # a put without ?flags sets 0, as Consul
        idx, items = kv.get("app/", recurse=True)
        self.assertEqual([i["Key"] for i in items], ["app/db/pool", "app/db/url", "app/web"])
        self.assertEqual(int(idx), max(i["ModifyIndex"] for i in items))
        _, keys = kv.get("app/", keys=True)
        self.assertEqual(keys, ["app/db/pool", "app/db/url", "app/web"])
        _, keys = kv.get("app/", keys=True, separator="/")
        self.assertEqual(keys, ["app/db/", "app/web"])
        _, keys = kv.get("", keys=True, separator="/")
        self.assertEqual(keys, ["app/", "other"])
        # Missing: python-consul gives None; the 404 carries X-Consul-Index.
        idx, e = kv.get("nope")
        self.assertIsNone(e)
        self.assertGreater(int(idx), 0)
        idx, e = kv.get("nope/", recurse=True)
        self.assertIsNone(e)
        # raw
        st, h, body = raw_call(self.a.port, "GET", "/v1/kv/app/web?raw")
        self.assertEqual((st, body), (200, b"\x00\xffbin"))
        self.assertTrue(h["content-type"].startswith("text/plain"))
        self.assertEqual(h["x-content-type-options"], "nosniff")
        self.assertIn("x-consul-index", h)
        # An empty value is null in JSON, as Consul's.
        self.assertTrue(kv.put("empty", ""))
        st, _, body = raw_call(self.a.port, "GET", "/v1/kv/empty")
        self.assertIn(b'"Value":null', body)
        # delete, delete of a tree; the index of a deletion is kept.
        before = int(kv.get("app/", recurse=True)[0])
        self.assertTrue(kv.delete("app/web"))
        idx, items = kv.get("app/", recurse=True)
        self.assertEqual(len(items), 2)
        self.assertGreater(int(idx), before)
        idx_web, e = kv.get("app/web")
        self.assertIsNone(e)
        self.assertEqual(int(idx_web), int(idx))
        self.assertTrue(kv.delete("app/", recurse=True))
        idx2, e = kv.get("app/", recurse=True)
        self.assertIsNone(e)
        self.assertGreater(int(idx2), int(idx))
        self.assertEqual(kv.get("other")[1]["Value"], b"x")

    def test_python_cas(self):
        kv = self.c.kv
        self.assertTrue(kv.put("k", "1", cas=0))      # absent: created
        self.assertFalse(kv.put("k", "2", cas=0))     # present: refused
        _, e = kv.get("k")
        self.assertFalse(kv.put("k", "3", cas=e["ModifyIndex"] + 1000))
        self.assertTrue(kv.put("k", "4", cas=e["ModifyIndex"]))
        self.assertFalse(kv.put("k", "5", cas=e["ModifyIndex"]))  # stale now
        _, e = kv.get("k")
        self.assertEqual(e["Value"], b"4")
        self.assertFalse(kv.delete("k", cas=e["ModifyIndex"] - 1))
        self.assertEqual(kv.get("k")[1]["Value"], b"4")
        self.assertTrue(kv.delete("k", cas=e["ModifyIndex"]))
        self.assertIsNone(kv.get("k")[1])
        self.assertTrue(kv.delete("k", cas=5))  # already gone: true, as Consul

    def test_node_client(self):
        why = node_missing()
        if why:
            self.skipTest(why)
        got = node(self.reg, self.a, """
            const r = {};
            r.set = await consul.kv.set('cfg/a', 'one');
            r.set2 = await consul.kv.set({key: 'cfg/b', value: 'two', flags: 3});
            const a = await consul.kv.get('cfg/a');
            r.a = [a.Key, a.Value, a.Flags];
            const all = await consul.kv.get({key: 'cfg/', recurse: true});
            r.all = all.map((e) => [e.Key, e.Value, e.Flags]);
            r.keys = await consul.kv.keys('cfg/');
            // The client turns Consul's "false" body into undefined.
            r.casBad = String(await consul.kv.set({key: 'cfg/a', value: 'x',
                                                   cas: a.ModifyIndex + 99}));
            r.afterBad = (await consul.kv.get('cfg/a')).Value;
            r.casOk = await consul.kv.set({key: 'cfg/a', value: 'y', cas: a.ModifyIndex});
            r.after = (await consul.kv.get('cfg/a')).Value;
            r.missing = await consul.kv.get('cfg/none');
            r.del = await consul.kv.del('cfg/a');
            r.delTree = await consul.kv.del({key: 'cfg/', recurse: true});
            r.left = await consul.kv.get({key: 'cfg/', recurse: true});
            out(r);
        """)
        self.assertEqual(got["set"], True)
        self.assertEqual(got["set2"], True)
        self.assertEqual(got["a"], ["cfg/a", "one", 0])
        self.assertEqual(got["all"], [["cfg/a", "one", 0], ["cfg/b", "two", 3]])
        self.assertEqual(got["keys"], ["cfg/a", "cfg/b"])
        self.assertIn(got["casBad"], ("false", "undefined"))
        self.assertEqual((got["afterBad"], got["casOk"], got["after"]), ("one", True, "y"))
        self.assertIsNone(got.get("missing"))
        self.assertEqual((got["del"], got["delTree"]), (True, True))
        self.assertIsNone(got.get("left"))
        # What node wrote, python reads.
        self.assertIsNone(self.c.kv.get("cfg/b")[1])


class KvBlocking(HeedTestCase):
    """A blocking query wakes for what it reads, and only for that."""

    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg).start()
        self.c = py(self.a)

    def blocked_get(self, key, index, **kw):
        """Starts kv.get(key, index=..., wait=20s) in a thread; returns
        (thread, result list, done event)."""
        res, done = [], threading.Event()

        def run():
            try:
                res.append(py(self.a).kv.get(key, index=index, wait="20s", **kw))
            except Exception as e:  # noqa: BLE001 - reported by the test
                res.append(e)
            done.set()
        t = threading.Thread(target=run, daemon=True)
        t.start()
        return t, res, done

    def test_key_wakes_only_for_its_key(self):
        kv = self.c.kv
        kv.put("watched", "v1")
        kv.put("unrelated", "u1")
        idx, e = kv.get("watched")
        t, res, done = self.blocked_get("watched", idx)
        time.sleep(0.3)
        for i in range(5):
            self.assertTrue(kv.put("unrelated", "u%d" % (i + 2)))
            self.assertTrue(kv.put("watched-not", "x"))  # a longer key with the same start
        self.assertFalse(done.wait(1.5), "woken by another key's change: %r" % res)
        t0 = time.monotonic()
        kv.put("watched", "v2")
        self.assertTrue(done.wait(scaled(10)), "not woken by its own key")
        self.assertLess(time.monotonic() - t0, scaled(5))
        idx2, e2 = res[0]
        self.assertEqual(e2["Value"], b"v2")
        self.assertEqual(int(idx2), e2["ModifyIndex"])
        self.assertGreater(int(idx2), int(idx))
        # The deletion wakes it too, with a later index.
        t, res, done = self.blocked_get("watched", idx2)
        time.sleep(0.3)
        kv.delete("watched")
        self.assertTrue(done.wait(scaled(10)))
        idx3, e3 = res[0]
        self.assertIsNone(e3)
        self.assertGreater(int(idx3), int(idx2))
        # A blocking query on a missing key holds until it is created.
        t, res, done = self.blocked_get("watched", idx3)
        self.assertFalse(done.wait(1.0))
        kv.put("watched", "v3")
        self.assertTrue(done.wait(scaled(10)))
        self.assertEqual(res[0][1]["Value"], b"v3")

    def test_prefix_wakes_only_for_its_prefix(self):
        kv = self.c.kv
        kv.put("svc/a", "1")
        kv.put("svd/a", "1")
        idx, items = kv.get("svc/", recurse=True)
        t, res, done = self.blocked_get("svc/", idx, recurse=True)
        time.sleep(0.3)
        kv.put("svd/a", "2")
        kv.put("sv", "2")
        kv.delete("svd/a")
        self.assertFalse(done.wait(1.5), "woken by a change outside the prefix: %r" % res)
        kv.put("svc/b/c", "3")
        self.assertTrue(done.wait(scaled(10)))
        idx2, items = res[0]
        self.assertEqual([i["Key"] for i in items], ["svc/a", "svc/b/c"])
        # A deletion under the prefix wakes it, and its index moves on.
        t, res, done = self.blocked_get("svc/", idx2, keys=True)
        time.sleep(0.3)
        kv.delete("svc/a")
        self.assertTrue(done.wait(scaled(10)))
        idx3, keys = res[0]
        self.assertEqual(keys, ["svc/b/c"])
        self.assertGreater(int(idx3), int(idx2))

    def test_wait_ends_with_the_same_index(self):
        kv = self.c.kv
        kv.put("quiet", "1")
        idx, _ = kv.get("quiet")
        t0 = time.monotonic()
        idx2, e = py(self.a).kv.get("quiet", index=idx, wait="1s")
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, scaled(5))
        self.assertEqual(idx2, idx)
        self.assertEqual(e["Value"], b"1")


class KvRaceAndDurability(HeedTestCase):
    def test_cas_race_50_clients_one_winner(self):
        a = Agent(self.reg).start()
        kv = py(a).kv
        kv.put("leader", "none")
        for rnd in range(5):
            _, e = kv.get("leader")
            idx = e["ModifyIndex"]
            barrier = threading.Barrier(50)
            wins, errors = [], []

            def contend(n):
                c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=scaled(30))
                try:
                    barrier.wait(scaled(30))
                    c.request("PUT", "/v1/kv/leader?cas=%d" % idx, body=("c%d" % n).encode())
                    r = c.getresponse()
                    body = r.read()
                    if r.status != 200:
                        errors.append((r.status, body))
                    elif body.strip() == b"true":
                        wins.append(n)
                    elif body.strip() != b"false":
                        errors.append((r.status, body))
                except Exception as ex:  # noqa: BLE001 - reported below
                    errors.append(ex)
                finally:
                    c.close()
            threads = [threading.Thread(target=contend, args=(n,)) for n in range(50)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(scaled(60))
            self.assertEqual(errors, [], "round %d" % rnd)
            self.assertEqual(len(wins), 1, "round %d: winners %r" % (rnd, wins))
            _, e = kv.get("leader")
            self.assertEqual(e["Value"], ("c%d" % wins[0]).encode())
            self.assertGreater(e["ModifyIndex"], idx)

    def test_hot_key_writers_all_succeed(self):
        """150 clients PUT one key at once: every PUT answers true (none
        fails on another's compare), each is one change of the key."""
        a = Agent(self.reg).start()
        kv = py(a).kv
        kv.put("hot", "start")
        first = kv.get("hot")[1]["ModifyIndex"]
        barrier = threading.Barrier(150)
        answers, errors = [], []

        def put(n):
            c = http.client.HTTPConnection("127.0.0.1", a.port, timeout=scaled(60))
            try:
                barrier.wait(scaled(30))
                c.request("PUT", "/v1/kv/hot", body=("w%d" % n).encode())
                r = c.getresponse()
                answers.append((r.status, r.read().strip()))
            except Exception as ex:  # noqa: BLE001 - reported below
                errors.append(ex)
            finally:
                c.close()
        threads = [threading.Thread(target=put, args=(n,)) for n in range(150)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(120))
        self.assertEqual(errors, [])
        self.assertEqual(answers, [(200, b"true")] * 150)
        _, e = kv.get("hot")
        self.assertGreaterEqual(e["ModifyIndex"], first + 150)  # one revision each
        self.assertRegex(e["Value"].decode(), r"^w\d+$")

    def test_acknowledged_put_survives_kill_9(self):
        a = Agent(self.reg).start()
        kv = py(a).kv
        for i in range(40):
            self.assertTrue(kv.put("durable/%02d" % i, "v%d" % i, flags=i))
        self.assertTrue(kv.delete("durable/00"))
        _, last = kv.get("durable/39")
        a.stop(signal.SIGKILL)
        a.start()
        kv = py(a).kv
        _, items = kv.get("durable/", recurse=True)
        self.assertEqual(len(items), 39)
        self.assertEqual(items[0]["Key"], "durable/01")
        for it in items:
            n = int(it["Key"].split("/")[1])
            self.assertEqual((it["Value"], it["Flags"]), (("v%d" % n).encode(), n))
        _, again = kv.get("durable/39")
        self.assertEqual(again["ModifyIndex"], last["ModifyIndex"])
        self.assertEqual(again["CreateIndex"], last["CreateIndex"])
        # Indexes go on from there, never back.
        self.assertTrue(kv.put("durable/40", "x"))
        self.assertGreater(kv.get("durable/40")[1]["ModifyIndex"], last["ModifyIndex"])


TOKENS = [{"secret": "m", "role": "management"},
          {"secret": "r", "role": "read"},
          {"secret": "w", "role": "write"},
          {"secret": "a", "role": "write", "tenant": "team-a"},
          {"secret": "b", "role": "write", "tenant": "team-b"}]


class KvAclTenants(HeedTestCase):
    def test_roles_and_tenants(self):
        a = Agent(self.reg, {"tokens": TOKENS}).start()
        self.assertTrue(py(a, "w").kv.put("shared", "d"))
        self.assertEqual(py(a, "r").kv.get("shared")[1]["Value"], b"d")
        # A read token cannot write; no token is anonymous: denied.
        for tok in ("r", None):
            with self.assertRaises(consul.ACLPermissionDenied) as cm:
                py(a, tok).kv.put("shared", "x")
            self.assertIn("Permission denied", str(cm.exception))
        st, _, body = raw_call(a.port, "DELETE", "/v1/kv/shared", headers={"X-Consul-Token": "r"})
        self.assertEqual((st, body), (403, b"Permission denied"))
        st, _, body = raw_call(a.port, "GET", "/v1/kv/shared")
        self.assertEqual((st, body), (403, b"Permission denied"))
        # team-a's key: team-b and the default tenant see nothing there.
        self.assertTrue(py(a, "a").kv.put("secret", "A"))
        self.assertEqual(py(a, "a").kv.get("secret")[1]["Value"], b"A")
        self.assertIsNone(py(a, "b").kv.get("secret")[1])
        self.assertIsNone(py(a, "m").kv.get("secret")[1])
        self.assertEqual(py(a, "b").kv.get("", keys=True)[1], None)
        self.assertEqual(py(a, "a").kv.get("", keys=True)[1], ["secret"])
        self.assertEqual(py(a, "m").kv.get("", keys=True)[1], ["shared"])
        # A management token names the tenant (Consul's ?ns=).
        st, _, body = raw_call(a.port, "GET", "/v1/kv/secret?raw&ns=team-a",
                               headers={"X-Consul-Token": "m"})
        self.assertEqual((st, body), (200, b"A"))
        # team-b's delete of the tree of everything leaves team-a's key.
        self.assertTrue(py(a, "b").kv.put("secret", "B"))
        self.assertTrue(py(a, "b").kv.delete("", recurse=True))
        self.assertEqual(py(a, "a").kv.get("secret")[1]["Value"], b"A")
        self.assertEqual(py(a, "w").kv.get("shared")[1]["Value"], b"d")
        # Naming another tenant with a tenant's token is refused.
        st, _, _ = raw_call(a.port, "GET", "/v1/kv/secret?ns=team-a",
                            headers={"X-Consul-Token": "b"})
        self.assertEqual(st, 403)


class KvBadInput(HeedTestCase):
    def test_errors_in_consuls_words(self):
        a = Agent(self.reg).start()
        p = a.port
        cases = [
            ("PUT", "/v1/kv/", b"x", 400, b"Missing key name"),
            ("GET", "/v1/kv/", None, 400, b"Missing key name"),
            ("DELETE", "/v1/kv/", None, 400, b"Missing key name"),
            ("PUT", "/v1/kv/k?cas=1&acquire=s", b"x", 400, b"Conflicting flags: acquire=s&cas=1"),
            ("DELETE", "/v1/kv/k?cas=1&recurse", None, 400, b"Conflicting flags: cas=1&recurse="),
            ("PUT", "/v1/kv/k?flags=-1", b"x", 400, None),
            ("PUT", "/v1/kv/k?cas=abc", b"x", 400, None),
            ("PUT", "/v1/kv/k?flags=18446744073709551616", b"x", 400, None),
            ("GET", "/v1/kv/k?index=x", None, 400, b"Invalid index"),
            ("GET", "/v1/kv/k?index=1&wait=forever", None, 400, b"Invalid wait time"),
            ("GET", "/v1/kv/k?dc=elsewhere", None, 500, b"No path to datacenter"),
            ("GET", "/v1/kv/bad%FFkey", None, 400, b"Invalid key: not valid UTF-8"),
            ("PUT", "/v1/kv/" + "k" * 1100, b"x", 400, None),
            ("PUT", "/v1/kv/k?acquire=", b"x", 500, b"missing session"),
            ("PUT", "/v1/kv/k?acquire=nope", b"x", 500, b'invalid session "nope"'),
        ]
        for method, path, body, status, text in cases:
            st, h, got = raw_call(p, method, path, body)
            self.assertEqual(st, status, (method, path, got))
            if text is not None:
                self.assertEqual(got, text, (method, path))
            self.assertTrue(h.get("content-type", "").startswith("text/plain"), (path, h))
        # The largest value Consul takes is taken; one byte more is 413.
        big = b"v" * (512 * 1024)
        st, _, got = raw_call(p, "PUT", "/v1/kv/big", big)
        self.assertEqual((st, got.strip()), (200, b"true"))
        st, _, got = raw_call(p, "PUT", "/v1/kv/big", big + b"v")
        self.assertEqual(st, 413)
        self.assertIn(b"too large, max size: 524288 bytes", got)
        st, _, got = raw_call(p, "GET", "/v1/kv/big?raw")
        self.assertEqual((st, len(got)), (200, len(big)))
        # Nothing stored was touched by the refusals.
        st, _, got = raw_call(p, "GET", "/v1/kv/k")
        self.assertEqual(st, 404)
        # Keys with spaces, '%', '?' and '//' round-trip, escaped in the path.
        st, _, got = raw_call(p, "PUT", "/v1/kv/we%20ird/%25%3F//x", b"1")
        self.assertEqual((st, got.strip()), (200, b"true"))
        st, _, got = raw_call(p, "GET", "/v1/kv/we%20ird/?keys")
        self.assertEqual((st, got.strip()), (200, b'["we ird/%?//x"]'))


if __name__ == "__main__":
    main()
