"""`heed kv` and `heed watch` against a real agent on a loopback port, with
Debian's python3-consul (unchanged) as the independent view of what the
CLI wrote:

  * kv get/put/delete/list: output lines, bytes of binary values from
    stdin and @FILE, --json replies, --cas won and lost, --flags,
    --recurse, --separator; exit codes 0 (done), 1 (no such key, cas lost,
    the agent refused: its Consul plain-text message printed), 2 (usage),
    3 (unreachable, the address named); tokens and tenants;
  * watch key/keyprefix: COMMAND runs at once and then once per change of
    what it watches (the JSON on stdin, CONSUL_INDEX set), not for a
    change elsewhere; a missing key is null; without COMMAND the JSON is
    printed once; SIGTERM ends the watch with 0; a refused watch exits 1.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HEED, HeedTestCase, free_port, main, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import Agent, client_env, read_watch_runs, watch_handler  # noqa: E402
from consul_clients import py  # noqa: E402

# python-consul keeps a requests session per client open: not ours to close.
warnings.filterwarnings("ignore", category=ResourceWarning)

TOKENS = [{"secret": "m", "role": "management"},
          {"secret": "r", "role": "read"},
          {"secret": "w", "role": "write"},
          {"secret": "a", "role": "write", "tenant": "team-a"}]


env_for = client_env


def kv(agent, *args, **extra):
    return run_heed(["kv"] + list(args), env=env_for(agent, **extra), timeout=20)


def kv_bytes(agent, args, stdin=b""):
    """heed kv with binary stdin and stdout: (rc, stdout bytes, stderr)."""
    p = subprocess.run([HEED, "kv"] + list(args), input=stdin, capture_output=True,
                       env=env_for(agent), timeout=scaled(20))
    return p.returncode, p.stdout, p.stderr.decode()


class Kv(HeedTestCase):
    @classmethod
    def setUpClass(cls):
        cls.reg = harness.Registry()
        try:
            cls.agent = Agent(cls.reg).start()
            cls.c = py(cls.agent)
        except BaseException:
            cls.reg.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()

    def test_put_get_list_delete(self):
        a = self.agent
        rc, out, err = kv(a, "put", "kv1/db/url", "postgres://db:5432/app")
        self.assertEqual((rc, out, err), (0, "wrote 'kv1/db/url' (22 bytes)\n", ""))
        self.assertEqual(self.c.kv.get("kv1/db/url")[1]["Value"], b"postgres://db:5432/app")
        # get prints the bytes as stored, nothing added.
        self.assertEqual(kv(a, "get", "kv1/db/url"), (0, "postgres://db:5432/app", ""))
        self.assertEqual(kv(a, "put", "kv1/db/pool", "10", "--flags", "42")[0], 0)
        self.assertEqual(self.c.kv.get("kv1/db/pool")[1]["Flags"], 42)
        self.c.kv.put("kv1/web", "on")
        # --json: the agent's reply, the value in base64.
        rc, out, _ = kv(a, "get", "kv1/db/pool", "--json")
        self.assertEqual(rc, 0)
        [e] = json.loads(out)
        self.assertEqual((e["Key"], e["Flags"], base64.b64decode(e["Value"])),
                         ("kv1/db/pool", 42, b"10"))
        # list: keys, one a line; --separator stops at the next '/'.
        self.assertEqual(kv(a, "list", "kv1/"), (0, "kv1/db/pool\nkv1/db/url\nkv1/web\n", ""))
        self.assertEqual(kv(a, "list", "kv1/", "--separator", "/"), (0, "kv1/db/\nkv1/web\n", ""))
        self.assertEqual(json.loads(kv(a, "list", "kv1/db", "--json")[1]),
                         ["kv1/db/pool", "kv1/db/url"])
        # get --recurse: KEY:VALUE lines, as consul kv get -recurse.
        self.assertEqual(kv(a, "get", "--recurse", "kv1/db/"),
                         (0, "kv1/db/pool:10\nkv1/db/url:postgres://db:5432/app\n", ""))
        # delete one, then a tree.
        self.assertEqual(kv(a, "delete", "kv1/web"), (0, "deleted 'kv1/web'\n", ""))
        self.assertIsNone(self.c.kv.get("kv1/web")[1])
        self.assertEqual(kv(a, "delete", "--recurse", "kv1/"),
                         (0, "deleted every key under 'kv1/'\n", ""))
        self.assertEqual(self.c.kv.get("kv1/", recurse=True)[1], None)
        # Nothing there: list and get --recurse print nothing (JSON: []).
        self.assertEqual(kv(a, "list", "kv1/"), (0, "", ""))
        self.assertEqual(kv(a, "list", "kv1/", "--json"), (0, "[]\n", ""))
        self.assertEqual(kv(a, "get", "--recurse", "kv1/"), (0, "", ""))
        # Deleting a key that does not exist is not an error (Consul's rule).
        self.assertEqual(kv(a, "delete", "kv1/never"), (0, "deleted 'kv1/never'\n", ""))

    def test_missing_key_exits_1(self):
        self.assertEqual(kv(self.agent, "get", "kv2/none"), (1, "", "heed kv: no key 'kv2/none'\n"))

    def test_binary_values_from_stdin_and_file(self):
        a = self.agent
        blob = bytes(range(256)) * 3
        rc, out, err = kv_bytes(a, ["put", "kv3/blob", "-"], stdin=blob)
        self.assertEqual((rc, out, err), (0, b"wrote 'kv3/blob' (768 bytes)\n", ""))
        self.assertEqual(self.c.kv.get("kv3/blob")[1]["Value"], blob)
        self.assertEqual(kv_bytes(a, ["get", "kv3/blob"]), (0, blob, ""))
        path = os.path.join(self.reg.tempdir(), "v.bin")
        with open(path, "wb") as f:
            f.write(b"\x00from a file\xff")
        self.assertEqual(kv_bytes(a, ["put", "kv3/file", "@" + path])[0], 0)
        self.assertEqual(kv_bytes(a, ["get", "kv3/file"]), (0, b"\x00from a file\xff", ""))
        # An empty value is a value.
        self.assertEqual(kv_bytes(a, ["put", "kv3/empty", "-"], stdin=b"")[0], 0)
        self.assertEqual(kv_bytes(a, ["get", "kv3/empty"]), (0, b"", ""))
        # A value that starts with '-' goes after --.
        self.assertEqual(kv(a, "put", "kv3/neg", "--", "-5")[0], 0)
        self.assertEqual(kv(a, "get", "kv3/neg"), (0, "-5", ""))
        rc, _, err = kv(a, "put", "kv3/f", "@/nonexistent/file")
        self.assertEqual(rc, 1)
        self.assertIn("cannot open /nonexistent/file", err)

    def test_cas(self):
        a = self.agent
        # --cas 0: only if absent.
        self.assertEqual(kv(a, "put", "kv4/k", "one", "--cas", "0")[0], 0)
        rc, out, err = kv(a, "put", "kv4/k", "two", "--cas", "0")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "heed kv: did not write 'kv4/k': the cas index 0 is not its "
                              "ModifyIndex (it changed, or it exists and --cas was 0)\n")
        idx = self.c.kv.get("kv4/k")[1]["ModifyIndex"]
        self.assertEqual(kv(a, "put", "kv4/k", "three", "--cas", str(idx + 1000))[0], 1)
        self.assertEqual(self.c.kv.get("kv4/k")[1]["Value"], b"one")
        self.assertEqual(kv(a, "put", "kv4/k", "four", "--cas", str(idx)),
                         (0, "wrote 'kv4/k' (4 bytes)\n", ""))
        # The index moved on: the old one loses, on delete too.
        rc, _, err = kv(a, "delete", "kv4/k", "--cas", str(idx))
        self.assertEqual(rc, 1)
        self.assertIn("did not delete 'kv4/k'", err)
        self.assertEqual(self.c.kv.get("kv4/k")[1]["Value"], b"four")
        idx = self.c.kv.get("kv4/k")[1]["ModifyIndex"]
        self.assertEqual(kv(a, "delete", "kv4/k", "--cas", str(idx)), (0, "deleted 'kv4/k'\n", ""))
        self.assertIsNone(self.c.kv.get("kv4/k")[1])
        # --json prints Consul's answer, and the exit code still says which.
        self.assertEqual(kv(a, "put", "kv4/j", "x", "--cas", "0", "--json"), (0, "true\n", ""))
        self.assertEqual(kv(a, "put", "kv4/j", "x", "--cas", "0", "--json"), (1, "false\n", ""))

    def test_usage_errors_exit_2(self):
        a = self.agent
        cases = [
            ([], "give a subcommand: get, put, delete or list"),
            (["fetch", "k"], "unknown subcommand 'fetch' (get, put, delete, list)"),
            (["get"], "get needs a key"),
            (["put", "k"], "put needs a value: VALUE, '-' (stdin) or @FILE"),
            (["get", "k", "v"], "unexpected argument 'v'"),
            (["put", "k", "v", "--cas", "x"], "--cas x: expected a ModifyIndex (0: only if absent)"),
            (["get", "k", "--cas", "1"], "--cas 1: applies to put and delete"),
            (["put", "k", "v", "--flags", "-1"], "--flags -1: expected a number of 0 .. 2^64-1"),
            (["put", "k", "v", "--recurse"], "--recurse applies to get and delete"),
            (["get", "k", "--separator", "/"], "--separator applies to list"),
            (["get", "k", "--bogus"], "unknown flag '--bogus'"),
        ]
        for args, msg in cases:
            with self.subTest(args=args):
                self.assertEqual(kv(a, *args), (2, "", "heed kv: %s (see heed kv --help)\n" % msg))

    def test_unreachable_exits_3(self):
        port = free_port()
        rc, out, err = run_heed(["kv", "get", "k", "--addr", "127.0.0.1:%d" % port],
                                env=env_for(self.agent), timeout=20)
        self.assertEqual((rc, out), (3, ""))
        self.assertIn("heed kv: cannot reach the agent at http://127.0.0.1:%d (from --addr)" % port,
                      err)


class KvTokens(HeedTestCase):
    def test_roles_and_tenants(self):
        a = Agent(self.reg, {"tokens": TOKENS}).start()
        # No token: Consul's 403, its plain text printed, exit 1.
        rc, out, err = kv(a, "get", "k")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "heed kv: Permission denied (HTTP 403 from http://127.0.0.1:%d)\n"
                         % a.port)
        # A read token cannot write.
        self.assertEqual(kv(a, "put", "k", "v", "--token", "r")[0], 1)
        self.assertEqual(kv(a, "put", "k", "v", HEED_TOKEN="w")[0], 0)
        self.assertEqual(kv(a, "get", "k", "--token", "r"), (0, "v", ""))
        # CONSUL_HTTP_TOKEN works as with consul kv.
        self.assertEqual(kv(a, "get", "k", CONSUL_HTTP_TOKEN="r"), (0, "v", ""))
        # team-a's token works in team-a: the default tenant's key is not
        # there, and its own is not in the default tenant.
        self.assertEqual(kv(a, "get", "k", "--token", "a")[0], 1)
        self.assertEqual(kv(a, "put", "k", "team-a's", "--token", "a")[0], 0)
        self.assertEqual(kv(a, "get", "k", "--token", "a"), (0, "team-a's", ""))
        self.assertEqual(kv(a, "get", "k", "--token", "w"), (0, "v", ""))
        # A management token reaches team-a with --ns (Consul's namespace).
        self.assertEqual(kv(a, "get", "k", "--token", "m", "--ns", "team-a"), (0, "team-a's", ""))
        self.assertEqual(kv(a, "get", "k", "--token", "m", HEED_NAMESPACE="team-a"),
                         (0, "team-a's", ""))


read_runs = read_watch_runs


class Watch(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg).start()
        self.c = py(self.a)
        self.log = os.path.join(self.reg.tempdir(), "runs")
        self.handler = watch_handler(self.log)

    def spawn_watch(self, *args):
        return self.reg.spawn_heed(["watch"] + list(args) + ["--"] + self.handler,
                                   env=env_for(self.a))

    def runs_settle(self, n, what):
        wait_until(lambda: len(read_runs(self.log)) >= n, 15, what=what)
        time.sleep(scaled(0.5))  # and no more than n
        runs = read_runs(self.log)
        self.assertEqual(len(runs), n, runs)
        return runs

    def test_key(self):
        w = self.spawn_watch("key", "wk/k")
        # The first answer runs it at once: the key does not exist yet.
        [(i0, v0)] = self.runs_settle(1, "the first run")
        self.assertIsNone(v0)
        self.assertGreater(i0, 0)
        self.c.kv.put("wk/k", "one")
        runs = self.runs_settle(2, "a run for the put")
        i1, e1 = runs[1]
        self.assertEqual((e1["Key"], base64.b64decode(e1["Value"])), ("wk/k", b"one"))
        self.assertEqual(i1, e1["ModifyIndex"])
        # Another key, and a key under it: no run.
        self.c.kv.put("wk/other", "x")
        self.c.kv.put("wk/k/child", "x")
        self.runs_settle(2, "no run for other keys")
        self.c.kv.put("wk/k", "two")
        runs = self.runs_settle(3, "a run for the second put")
        self.assertEqual(base64.b64decode(runs[2][1]["Value"]), b"two")
        self.c.kv.delete("wk/k")
        runs = self.runs_settle(4, "a run for the delete")
        self.assertIsNone(runs[3][1])
        self.assertGreater(runs[3][0], runs[2][0])
        # SIGTERM ends it, with 0.
        w.send_signal(signal.SIGTERM)
        self.assertEqual(harness.finish(w)[0], 0)

    def test_keyprefix(self):
        self.c.kv.put("wp/a", "1")
        w = self.spawn_watch("keyprefix", "wp/")
        [(_, v0)] = self.runs_settle(1, "the first run")
        self.assertEqual([e["Key"] for e in v0], ["wp/a"])
        self.c.kv.put("wq/a", "outside")
        self.runs_settle(1, "no run for a key outside the prefix")
        self.c.kv.put("wp/b/c", "2")
        runs = self.runs_settle(2, "a run for a key under the prefix")
        self.assertEqual([e["Key"] for e in runs[1][1]], ["wp/a", "wp/b/c"])
        self.c.kv.delete("wp/", recurse=True)
        runs = self.runs_settle(3, "a run for the delete")
        self.assertIsNone(runs[2][1])
        w.send_signal(signal.SIGINT)
        self.assertEqual(harness.finish(w)[0], 0)

    def test_json_streams_each_change(self):
        out = os.path.join(self.reg.tempdir(), "out")
        with open(out, "w") as f:
            w = self.reg.spawn_heed(["watch", "key", "wj/k", "--json"], env=env_for(self.a),
                                    stdout=f)

        def got():
            with open(out) as f:
                return [json.loads(line) for line in f.read().splitlines()]
        wait_until(lambda: len(got()) == 1, 15, what="the first line")
        self.assertIsNone(got()[0]["Data"])
        self.c.kv.put("wj/other", "x")  # another key: no line
        self.c.kv.put("wj/k", "one")
        wait_until(lambda: len(got()) == 2, 15, what="a line for the put")
        time.sleep(scaled(0.5))
        lines = got()
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(base64.b64decode(lines[1]["Data"]["Value"]), b"one")
        self.assertEqual(lines[1]["Index"], lines[1]["Data"]["ModifyIndex"])
        w.send_signal(signal.SIGTERM)
        self.assertEqual(harness.finish(w)[0], 0)
        rc, _, err = run_heed(["watch", "key", "k", "--json", "--", "true"], env=env_for(self.a))
        self.assertEqual(rc, 2)
        self.assertIn("--json prints each change itself", err)

    def test_without_command_prints_once(self):
        self.c.kv.put("wo/k", "v")
        rc, out, err = run_heed(["watch", "key", "wo/k"], env=env_for(self.a), timeout=20)
        self.assertEqual((rc, err), (0, ""))
        e = json.loads(out)
        self.assertEqual((e["Key"], base64.b64decode(e["Value"])), ("wo/k", b"v"))
        self.assertEqual(run_heed(["watch", "keyprefix", "wo/none/"], env=env_for(self.a)),
                         (0, "null\n", ""))

    def test_handler_failure_goes_on_and_bad_command_ends(self):
        w = self.reg.spawn_heed(["watch", "key", "wf/k", "--", "sh", "-c", "cat >/dev/null; exit 3"],
                                env=env_for(self.a))
        time.sleep(scaled(0.5))
        self.c.kv.put("wf/k", "1")
        time.sleep(scaled(1))
        self.assertIsNone(w.poll())  # still watching
        w.send_signal(signal.SIGTERM)
        rc, out, err = harness.finish(w)
        self.assertEqual(rc, 0)
        self.assertEqual(err.count("heed watch: sh exited with status 3"), 2, err)
        rc, _, err = run_heed(["watch", "key", "wf/k", "--", "/nonexistent/handler"],
                              env=env_for(self.a))
        self.assertEqual(rc, 127)
        self.assertIn("heed watch: cannot run '/nonexistent/handler': No such file or directory",
                      err)

    def test_refused_and_usage(self):
        a = Agent(self.reg, {"tokens": TOKENS}).start()
        rc, out, err = run_heed(["watch", "key", "k", "--", "true"], env=env_for(a))
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("Permission denied (HTTP 403", err)
        for args, msg in [
            ([], "give what to watch: key K, keyprefix P or service NAME"),
            (["nodes"], "unknown watch type 'nodes' (key, keyprefix, service)"),
            (["key"], "key needs a key"),
            (["key", "k", "cmd"], "unexpected argument 'cmd': put COMMAND after --"),
            (["key", "k", "--passing"], "--passing applies to service watches"),
            (["key", "k", "--"], "give the COMMAND to run after --"),
        ]:
            with self.subTest(args=args):
                self.assertEqual(run_heed(["watch"] + args, env=env_for(a)),
                                 (2, "", "heed watch: %s (see heed watch --help)\n" % msg))


if __name__ == "__main__":
    main()
