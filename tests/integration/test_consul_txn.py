"""Consul's /v1/txn (KV operations) on a real agent: npm's consul client
(transaction.create, unchanged) and raw requests: all or nothing (a
failed check or cas rolls every write back, 409 with Errors naming each
failed operation), Results as Consul shapes them (values only for gets),
lock/unlock/check-session with a session, read-only transactions with
X-Consul-Index, 64 operations at most (413 past), roles and tenants, and
bad bodies (400 naming the operation and field)."""

import base64
import http.client
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled  # noqa: E402
from agent_harness import Agent  # noqa: E402
from consul_clients import py, node, node_missing  # noqa: E402

warnings.filterwarnings("ignore", category=ResourceWarning)


def b64(s):
    return base64.b64encode(s.encode()).decode()


def kv(verb, key, value=None, **kw):
    op = {"Verb": verb, "Key": key}
    if value is not None:
        op["Value"] = b64(value)
    op.update(kw)
    return {"KV": op}


class Txn(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg, {"tokens": [
            {"secret": "m", "role": "management"}, {"secret": "r", "role": "read"},
            {"secret": "a", "role": "write", "tenant": "team-a"}]}).start()
        self.c = py(self.a, "m")

    def txn(self, ops, token="m", raw=None):
        c = http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=scaled(30))
        body = raw if raw is not None else json.dumps(ops).encode()
        c.request("PUT", "/v1/txn", body=body, headers={"X-Consul-Token": token})
        r = c.getresponse()
        data = r.read()
        h = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        if "json" in h.get("content-type", ""):
            return r.status, json.loads(data), h
        return r.status, data, h

    def test_all_or_nothing(self):
        st, body, h = self.txn([kv("set", "cfg/a", "1", Flags=5), kv("set", "cfg/b", "2"),
                                kv("check-not-exists", "cfg/c")])
        self.assertEqual(st, 200, body)
        self.assertIsNone(body["Errors"])
        res = [r["KV"] for r in body["Results"]]
        self.assertEqual([(r["Key"], r["Flags"], r["Value"]) for r in res],
                         [("cfg/a", 5, None), ("cfg/b", 0, None)])
        self.assertEqual(res[0]["ModifyIndex"], res[1]["ModifyIndex"])  # one revision
        self.assertNotIn("x-consul-index", h)  # a write: no read headers, as Consul
        mi = res[0]["ModifyIndex"]
        # A stale cas and a missing get: nothing of the set is written.
        st, body, _ = self.txn([kv("set", "cfg/new", "x"), kv("cas", "cfg/a", "y", Index=mi + 50),
                                kv("get", "cfg/none"), kv("check-index", "cfg/b", Index=mi)])
        self.assertEqual(st, 409, body)
        self.assertIsNone(body["Results"])
        self.assertEqual(body["Errors"], [
            {"OpIndex": 1, "What": 'failed to set key "cfg/a", index is stale'},
            {"OpIndex": 2, "What": 'key "cfg/none" doesn\'t exist'}])
        self.assertIsNone(self.c.kv.get("cfg/new")[1])
        self.assertEqual(self.c.kv.get("cfg/a")[1]["Value"], b"1")
        # check-index then cas: the compare-and-set pattern.
        st, body, _ = self.txn([kv("check-index", "cfg/a", Index=mi),
                                kv("cas", "cfg/a", "3", Index=mi),
                                kv("delete", "cfg/b")])
        self.assertEqual(st, 200, body)
        self.assertEqual(len(body["Results"]), 2)  # no result for a delete
        self.assertEqual(self.c.kv.get("cfg/a")[1]["Value"], b"3")
        self.assertIsNone(self.c.kv.get("cfg/b")[1])
        # Read-only: values, read headers.
        st, body, h = self.txn([kv("get", "cfg/a"), kv("get-tree", "cfg/"),
                                kv("get-or-empty", "cfg/zz")], token="r")
        self.assertEqual(st, 200, body)
        vals = [(r["KV"]["Key"], r["KV"]["Value"]) for r in body["Results"]]
        self.assertEqual(vals, [("cfg/a", b64("3")), ("cfg/a", b64("3")), ("cfg/zz", None)])
        self.assertEqual(int(h["x-consul-index"]), body["Results"][0]["KV"]["ModifyIndex"])
        # delete-tree with a set elsewhere, atomically.
        st, body, _ = self.txn([kv("delete-tree", "cfg/"), kv("set", "other", "o")])
        self.assertEqual(st, 200, body)
        self.assertIsNone(self.c.kv.get("cfg/", recurse=True)[1])
        # delete-cas
        mo = self.c.kv.get("other")[1]["ModifyIndex"]
        st, body, _ = self.txn([kv("delete-cas", "other", Index=mo + 1)])
        self.assertEqual((st, body["Errors"][0]["What"]),
                         (409, 'failed to delete key "other", index is stale'))
        st, body, _ = self.txn([kv("delete-cas", "other", Index=mo)])
        self.assertEqual(st, 200)
        self.assertIsNone(self.c.kv.get("other")[1])

    def test_operations_see_the_earlier_ones(self):
        """As Consul applies a transaction's operations in order, a later
        one sees what an earlier one did to its key."""
        self.assertTrue(self.c.kv.put("seq/old", "o"))
        st, body, _ = self.txn([kv("set", "seq/k", "1"), kv("set", "seq/k", "2", Flags=4),
                                kv("check-not-exists", "seq/gone"),
                                kv("delete", "seq/old"), kv("check-not-exists", "seq/old"),
                                kv("get", "seq/k")])
        self.assertEqual(st, 200, body)
        _, e = self.c.kv.get("seq/k")
        self.assertEqual((e["Value"], e["Flags"]), (b"2", 4))  # the last write wins
        self.assertIsNone(self.c.kv.get("seq/old")[1])
        # A check of a key the transaction deletes fails, and nothing is written.
        st, body, _ = self.txn([kv("delete", "seq/k"), kv("set", "seq/other", "x"),
                                kv("get", "seq/k")])
        self.assertEqual((st, body["Errors"]),
                         (409, [{"OpIndex": 2, "What": 'key "seq/k" doesn\'t exist'}]))
        self.assertEqual(self.c.kv.get("seq/k")[1]["Value"], b"2")
        self.assertIsNone(self.c.kv.get("seq/other")[1])
        # cas on a key created earlier in the same transaction: index 0 fails.
        st, body, _ = self.txn([kv("set", "seq/n", "1"), kv("cas", "seq/n", "2", Index=0)])
        self.assertEqual((st, body["Errors"][0]["OpIndex"]), (409, 1))
        # A delete-tree empties its prefix for later checks; a write under it
        # in the same transaction is refused, naming the key.
        st, body, _ = self.txn([kv("set", "seq/a/x", "1"), kv("delete-tree", "seq/"),
                                kv("check-not-exists", "seq/a/x"),
                                kv("check-not-exists", "seq/k")])
        self.assertEqual(st, 200, body)
        self.assertIsNone(self.c.kv.get("seq/", recurse=True)[1])
        st, body, _ = self.txn([kv("delete-tree", "seq/"), kv("set", "seq/b", "1")])
        self.assertEqual(st, 409)
        self.assertTrue(body["Errors"][0]["What"].startswith(
            'key "seq/b" is under a delete-tree earlier in this transaction'))

    def test_locks_in_a_transaction(self):
        c = http.client.HTTPConnection("127.0.0.1", self.a.port, timeout=scaled(30))
        c.request("PUT", "/v1/session/create", body=b'{"Name": "t", "LockDelay": "0s"}',
                  headers={"X-Consul-Token": "m"})
        sid = json.loads(c.getresponse().read())["ID"]
        c.close()
        st, body, _ = self.txn([kv("lock", "leader", "me", Session=sid),
                                kv("set", "leader-info", "since now")])
        self.assertEqual(st, 200, body)
        self.assertEqual(body["Results"][0]["KV"]["Session"], sid)
        self.assertEqual(body["Results"][0]["KV"]["LockIndex"], 1)
        st, body, _ = self.txn([kv("check-session", "leader", Session=sid)])
        self.assertEqual(st, 200, body)
        st, body, _ = self.txn([kv("check-session", "leader", Session="other-session")])
        self.assertEqual((st, body["Errors"][0]["What"]),
                         (409, 'key "leader" is not locked by session "other-session"'))
        st, body, _ = self.txn([kv("lock", "x", "v", Session="no-such-session")])
        self.assertEqual((st, body["Errors"][0]["What"]),
                         (409, 'invalid session "no-such-session"'))
        st, body, _ = self.txn([kv("unlock", "leader", "", Session=sid)])
        self.assertEqual(st, 200, body)
        self.assertNotIn("Session", self.c.kv.get("leader")[1])

    def test_limits_roles_tenants_and_bad_bodies(self):
        ok = [kv("get-or-empty", "k%d" % i) for i in range(64)]
        st, body, _ = self.txn(ok)
        self.assertEqual((st, len(body["Results"])), (200, 64))
        st, body, _ = self.txn(ok + [kv("get-or-empty", "one-more")])
        self.assertEqual((st, body), (413, b"Transaction contains too many operations (65 > 64)"))
        # A read token runs reads only.
        st, body, _ = self.txn([kv("set", "k", "v")], token="r")
        self.assertEqual((st, body), (403, b"Permission denied"))
        # A tenant's transaction sees its own keys only.
        self.assertTrue(self.c.kv.put("mine", "default's"))
        st, body, _ = self.txn([kv("set", "mine", "team-a's")], token="a")
        self.assertEqual(st, 200)
        st, body, _ = self.txn([kv("get-tree", "")], token="a")
        self.assertEqual([(r["KV"]["Key"], r["KV"]["Value"]) for r in body["Results"]],
                         [("mine", b64("team-a's"))])
        self.assertEqual(self.c.kv.get("mine")[1]["Value"], b"default's")
        # Bad bodies: 400, naming the operation and field; unknown fields
        # and field case do not matter; an unknown verb fails as Consul's.
        cases = [
            (b"{", 400, b"Failed to parse body: "),
            (b'{"KV": {}}', 400, b"Failed to parse body: expected a JSON array of operations"),
            (b'[1]', 400, b"Failed to parse body: operation 0: expected an object"),
            (b'[{"KV": {"Verb": 1, "Key": "k"}}]', 400,
             b"Failed to parse body: operation 0: KV.Verb: expected a string"),
            (b'[{"KV": {"Verb": "set", "Key": "k", "Flags": "x"}}]', 400,
             b"Failed to parse body: operation 0: KV.Flags: expected an unsigned integer"),
            (b'[{"KV": {"Verb": "set", "Key": "k", "Flags": -1}}]', 400,
             b"Failed to parse body: operation 0: KV.Flags: expected an unsigned integer"),
            (b'[{"KV": {"Verb": "cas", "Key": "k", "Index": 1.5}}]', 400,
             b"Failed to parse body: operation 0: KV.Index: expected an unsigned integer"),
            (b'[{"KV": {"Verb": "set", "Key": "k", "Value": "%%%"}}]', 400,
             b"Failed to parse body: operation 0: KV.Value: illegal base64 data at input byte 0"),
            (b'[{"KV": {"Verb": "set", "Key": ""}}]', 400,
             b"Failed to parse body: operation 0: KV.Key: missing"),
            (b'[{"KV": {"Verb": "lock", "Key": "k"}}]', 400,
             b"Failed to parse body: operation 0: KV.Session: missing"),
            (b'[{"KV": {"Verb": "get", "Key": "k"}}, {"Node": {"Verb": "get"}}]', 400,
             b"Failed to parse body: operation 1: Node operations are not supported by heed"),
            (b'[{"KV": {"Verb": "set", "Key": "' + b"k" * 1100 + b'"}}]', 400,
             b"Failed to parse body: operation 0: KV.Key: 1100 bytes, at most"),
        ]
        for raw, status, prefix in cases:
            st, body, _ = self.txn(None, raw=raw)
            self.assertEqual(st, status, (raw[:80], body))
            self.assertTrue(body.startswith(prefix), (raw[:80], body))
        st, body, _ = self.txn(None, raw=b'[{"kv": {"verb": "set", "key": "lc", "value": "dg==",'
                                         b' "flags": 2, "extra": true}, "also": 1}]')
        self.assertEqual(st, 200, body)
        self.assertEqual(self.c.kv.get("lc")[1]["Flags"], 2)
        st, body, _ = self.txn([kv("frob", "k"), kv("set", "not-written", "x")])
        self.assertEqual((st, body["Errors"]), (409, [{"OpIndex": 0, "What": 'unknown KV verb "frob"'}]))
        self.assertIsNone(self.c.kv.get("not-written")[1])
        big = base64.b64encode(b"v" * (512 * 1024 + 1)).decode()
        st, body, _ = self.txn([{"KV": {"Verb": "set", "Key": "big", "Value": big}}])
        self.assertEqual(st, 413)
        self.assertTrue(body.startswith(b'Value for key "big" is too large (524289 > 524288 bytes)'))

    def test_concurrent_transactions_all_apply_atomically(self):
        """80 clients at once each write x and y to their own number in one
        transaction, with PUTs of x between them: every one answers 200,
        and x and y end equal, changed by the same revision."""
        import threading
        barrier = threading.Barrier(100)
        statuses, errors = [], []

        def run(n):
            try:
                barrier.wait(scaled(30))
                if n < 80:
                    st, _, _ = self.txn([kv("set", "pair/x", "v%d" % n),
                                         kv("set", "pair/y", "v%d" % n)])
                else:
                    c = py(self.a, "m")  # one client per thread
                    st = c.kv.put("pair/x", "put%d" % n) and 200
                statuses.append(st)
            except Exception as ex:  # noqa: BLE001 - reported below
                errors.append(ex)
        threads = [threading.Thread(target=run, args=(n,)) for n in range(100)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(120))
        self.assertEqual(errors, [])
        self.assertEqual(statuses, [200] * 100)
        # The last transaction again, alone: x and y move together.
        st, body, _ = self.txn([kv("set", "pair/x", "end"), kv("set", "pair/y", "end")])
        self.assertEqual(st, 200)
        x, y = self.c.kv.get("pair/x")[1], self.c.kv.get("pair/y")[1]
        self.assertEqual((x["Value"], y["Value"]), (b"end", b"end"))
        self.assertEqual(x["ModifyIndex"], y["ModifyIndex"])

    def test_node_client(self):
        why = node_missing()
        if why:
            self.skipTest(why)
        got = node(self.reg, self.a, """
            const r = {};
            const res = await consul.transaction.create([
              {KV: {Verb: 'set', Key: 'n/a', Value: Buffer.from('A').toString('base64')}},
              {KV: {Verb: 'set', Key: 'n/b', Value: Buffer.from('B').toString('base64')}},
            ]);
            r.keys = res.Results.map((x) => x.KV.Key);
            const tree = await consul.transaction.create([{KV: {Verb: 'get-tree', Key: 'n/'}}]);
            r.values = tree.Results.map((x) => Buffer.from(x.KV.Value, 'base64').toString());
            try {
              await consul.transaction.create([{KV: {Verb: 'get', Key: 'n/none'}}]);
              r.failed = 'no';
            } catch (e) {
              r.failed = e.response ? e.response.statusCode : String(e);
            }
            out(r);
        """, token="m")
        self.assertEqual(got, {"keys": ["n/a", "n/b"], "values": ["A", "B"], "failed": 409})


if __name__ == "__main__":
    main()
