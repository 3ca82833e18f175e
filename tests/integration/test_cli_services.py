"""`heed services` and `heed inventory` against a real agent on a loopback
port: register from flags and from a Consul service file, the table and
--json of list, deregister, the agent's refusals and an unreachable agent
as exit codes; the inventory's groups, hosts and host variables, only
passing instances unless --all; and Debian's ansible-core reading it
through a two-line script (`ansible-inventory -i SCRIPT --list`)."""

import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_harness  # noqa: E402
import harness  # noqa: E402
from harness import Registry, free_port, run_heed, wait_until  # noqa: E402


Run = collections.namedtuple("Run", "returncode stdout stderr")


def heed_run(args, env):
    return Run(*run_heed(args, env=env, timeout=30))


def clean_env(**extra):
    return agent_harness.client_env(None, **extra)


class Services(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry()
        try:
            cls.listener = agent_harness.tcp_listener(cls.reg)
            cls.up_port = cls.listener.port
            cls.closed = free_port()
            cls.port = free_port()
            cls.agent = agent_harness.Agent(
                cls.reg, {"node_meta": {"rack": "r1"}}, port=cls.port).start()
            cls.addr = "http://127.0.0.1:%d" % cls.port
        except BaseException:
            cls.reg.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()

    def heed(self, *args, **extra_env):
        return heed_run(list(args), clean_env(HEED_HTTP_ADDR=self.addr, **extra_env))

    def wait_health(self, name, count, passing=True):
        def probe():
            r = self.agent.get("/v1/health/service/%s%s" % (name, "?passing" if passing else ""))
            return r.status == 200 and len(json.loads(r.body)) == count
        wait_until(probe, 15, what="%d %s instances of %s" % (
            count, "passing" if passing else "any", name))

    def test_1_register_list_deregister(self):
        r = self.heed("services", "register", "--name", "web", "--id", "web-1", "--address",
                      "127.0.0.10", "--port", "8080", "--tag", "v1", "--tag", "blue",
                      "--meta", "team=core", "--check", "tcp://127.0.0.1:%d" % self.up_port,
                      "--interval", "200ms")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "registered service web-1\n", ""))
        svc = os.path.join(tempfile.mkdtemp(), "db.json")
        self.addCleanup(shutil.rmtree, os.path.dirname(svc))
        with open(svc, "w") as f:
            json.dump({"Service": {"Name": "db", "ID": "db-1", "Address": "127.0.0.11",
                                   "Port": 5432, "Tags": ["primary"], "Meta": {"pg": "15"},
                                   "Check": {"TCP": "127.0.0.1:%d" % self.closed,
                                             "Interval": "200ms", "Timeout": "100ms"}}}, f)
        r = self.heed("services", "register", "-f", svc, "--json")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {"ID": "db-1"}), r.stderr)
        self.wait_health("web", 1)
        # db's check is refused: critical, so not passing
        self.wait_health("db", 1, passing=False)
        r = self.heed("services", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [line.split() for line in r.stdout.splitlines()]
        self.assertEqual(rows[0], ["NAME", "INSTANCES", "PASSING", "TAGS"])
        web = [row for row in rows if row[0] == "web"]
        self.assertEqual([(w[:3], sorted(w[3].split(","))) for w in web],
                         [(["web", "1", "1"], ["blue", "v1"])])
        self.assertIn(["db", "1", "0", "primary"], rows)
        r = self.heed("services", "list", "--json")
        listing = json.loads(r.stdout)
        self.assertEqual(sorted(listing["web"]), ["blue", "v1"])
        self.assertEqual(listing["db"], ["primary"])

        # inventory: only passing instances, then all
        r = self.heed("inventory", "--list")
        self.assertEqual(r.returncode, 0, r.stderr)
        inv = json.loads(r.stdout)
        self.assertEqual(inv["web"]["hosts"], ["127.0.0.10"])
        self.assertEqual(inv["tag_v1"]["hosts"], ["127.0.0.10"])
        self.assertNotIn("db", inv)
        hv = inv["_meta"]["hostvars"]["127.0.0.10"]
        self.assertEqual((hv["team"], hv["rack"], hv["heed_services"]["web"]["port"],
                          hv["heed_services"]["web"]["status"]), ("core", "r1", 8080, "passing"))
        r = self.heed("inventory", "--list", "--all")
        inv = json.loads(r.stdout)
        self.assertEqual(inv["db"]["hosts"], ["127.0.0.11"])
        self.assertEqual(inv["_meta"]["hostvars"]["127.0.0.11"]["heed_services"]["db"]["status"],
                         "critical")
        r = self.heed("inventory", "--host", "127.0.0.10")
        self.assertEqual(json.loads(r.stdout)["heed_node"],
                         inv["_meta"]["hostvars"]["127.0.0.10"]["heed_node"])
        r = self.heed("inventory", "--host", "127.0.0.99")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {}))

        # Ansible reads it through a two-line script
        if not shutil.which("ansible-inventory"):
            self.skipTest("ansible-inventory is not installed (scripts/deps.sh installs "
                          "ansible-core)")
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        script = os.path.join(d, "heed-inventory")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec %s inventory \"$@\"\n" % harness.HEED)
        os.chmod(script, 0o755)
        env = clean_env(HEED_HTTP_ADDR=self.addr, ANSIBLE_LOCAL_TEMP=d, HOME=d,
                        ANSIBLE_INVENTORY_ENABLED="script")
        p = subprocess.run(["ansible-inventory", "-i", script, "--list"], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout)
        self.assertEqual(got["web"]["hosts"], ["127.0.0.10"])
        self.assertEqual(got["_meta"]["hostvars"]["127.0.0.10"]["team"], "core")
        self.assertNotIn("db", got)

        r = self.heed("services", "deregister", "db-1")
        self.assertEqual((r.returncode, r.stdout), (0, "deregistered service db-1\n"), r.stderr)
        r = self.heed("services", "list", "--json")
        self.assertNotIn("db", json.loads(r.stdout))

    def test_errors(self):
        r = self.heed("services", "register")
        self.assertEqual(r.returncode, 2)
        self.assertIn("register needs --name", r.stderr)
        r = self.heed("services", "register", "--name", "x", "--port", "70000")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--port '70000'", r.stderr)
        r = self.heed("services", "bogus")
        self.assertEqual(r.returncode, 2)
        r = self.heed("services", "deregister")
        self.assertEqual(r.returncode, 2)
        r = self.heed("inventory")
        self.assertEqual(r.returncode, 2)
        self.assertIn("give --list or --host", r.stderr)
        # the agent refuses a service without a name in the file
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write('{"Port": "eighty"}')
        r = self.heed("services", "register", "-f", bad)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("heed services:", r.stderr)
        with open(bad, "w") as f:
            f.write('{"Name": ')
        r = self.heed("services", "register", "-f", bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn(bad, r.stderr)
        # an agent that is not there
        r = heed_run(["services", "list", "--addr", "127.0.0.1:%d" % free_port()], clean_env())
        self.assertEqual(r.returncode, 3)
        r = heed_run(["inventory", "--list", "--addr", "127.0.0.1:%d" % free_port()], clean_env())
        self.assertEqual(r.returncode, 3)


if __name__ == "__main__":
    harness.main()
