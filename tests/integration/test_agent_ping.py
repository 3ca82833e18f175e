"""GET /v1/ping, nova's os-fping for the agent's checks: which checks'
hosts answer ICMP echo. On loopback: which targets count (icmp, tcp,
http, postgres, ... but not dns, file, exec or TTL), tenants and
ns= and all_tenants=1 (every tenant; 403 to a tenant's token), include= and exclude= by id or
name (include wins), names resolved, one entry per check, and the default
rate limit of 12 a minute (429 with Retry-After). In a private pair of
network namespaces (netns.py): a host that ignores echo requests, one
behind a router that answers "host unreachable" and a name that does not
resolve are all "alive": false, within the request's deadline; the agent
stops cleanly while a ping waits; and with no ICMP socket at all the reply
is 503 icmp_unavailable. Every namespace is deleted at the end."""

import json
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_harness  # noqa: E402
import harness  # noqa: E402
import netns  # noqa: E402
from harness import HeedTestCase, Registry, free_port, scaled  # noqa: E402


def config(port, closed):
    """Checks of every kind on loopback: four that can be pinged (and one
    whose name differs from its id), four that cannot."""
    return {
        "rate_limits": {"ping": {"rate": "600/m", "burst": 600}},
        "tokens": [{"secret": "mgmt", "role": "management"},
                   {"secret": "reader", "role": "read"},
                   {"secret": "a-write", "role": "write", "tenant": "team-a"},
                   {"secret": "a-read", "role": "read", "tenant": "team-a"},
                   {"secret": "b-write", "role": "write", "tenant": "team-b"}],
        "checks": [
            {"name": "lo-icmp", "target": "icmp://127.0.0.1", "interval": "5s"},
            {"id": "lo-http", "name": "Loopback HTTP",
             "target": "http://localhost:%d/v1/status" % port, "interval": "5s"},
            {"name": "lo-tcp", "target": "tcp://127.0.0.1:%d" % port, "interval": "5s"},
            {"name": "lo-pg", "target": "postgres://127.0.0.3:%d/app" % closed,
             "interval": "5s"},
            {"name": "lo-dns", "target": "dns://localhost", "interval": "5s"},
            {"name": "a-file", "target": "file:///etc/hostname", "interval": "5s"},
            {"name": "an-exec", "target": "exec:true", "interval": "5s"},
            {"name": "a-ttl", "ttl": "30s"},
        ],
    }

LOCAL = ["lo-http", "lo-icmp", "lo-pg", "lo-tcp"]


def ids(body):
    return [c["id"] for c in body["checks"]]


class Loopback(unittest.TestCase):
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry()
        try:
            port = free_port()
            cls.agent = a = agent_harness.Agent(cls.reg, config(port, free_port()),
                                                port=port).start()
            for tok, body in (("a-write", {"name": "a-icmp", "target": "icmp://127.0.0.2"}),
                              ("a-write", {"name": "a-redis", "target": "redis://127.0.0.2:1"}),
                              ("b-write", {"name": "b-tcp", "target": "tcp://127.0.0.4:1"})):
                a.ok("POST", "/v1/checks", body, status=201, token=tok)
        except BaseException:
            cls.reg.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()

    def ping(self, query="", token="mgmt", want=200):
        r = self.agent.get("/v1/ping" + query, token=token)
        self.assertEqual(r.status, want, r)
        return r.json

    def test_management_sees_the_default_tenant(self):
        body = self.ping()
        self.assertEqual(ids(body), LOCAL)
        by_id = {c["id"]: c for c in body["checks"]}
        self.assertEqual(by_id["lo-icmp"], {"id": "lo-icmp", "name": "lo-icmp",
                                            "host": "127.0.0.1", "address": "127.0.0.1",
                                            "alive": True, "tenant": "default"})
        self.assertEqual(by_id["lo-http"], {"id": "lo-http", "name": "Loopback HTTP",
                                            "host": "localhost", "address": "127.0.0.1",
                                            "alive": True, "tenant": "default"})
        self.assertEqual((by_id["lo-pg"]["host"], by_id["lo-pg"]["alive"]), ("127.0.0.3", True))
        self.assertTrue(all(c["alive"] for c in body["checks"]))
        # a read token without a tenant: the same view
        self.assertEqual(self.ping(token="reader"), body)

    def test_all_tenants(self):
        body = self.ping("?all_tenants=1")
        self.assertEqual(ids(body), ["a-icmp", "a-redis", "b-tcp"] + LOCAL)
        by_id = {c["id"]: c for c in body["checks"]}
        self.assertEqual(by_id["a-icmp"]["tenant"], "team-a")
        self.assertEqual(by_id["b-tcp"]["tenant"], "team-b")
        self.assertEqual(by_id["a-redis"]["address"], "127.0.0.2")
        self.assertTrue(all(c["alive"] for c in body["checks"]))
        self.assertEqual(ids(self.ping("?all_tenants=0")), LOCAL)
        # ns=* says the same, as on every list; a read token without a
        # tenant reaches every tenant too; ns=T picks one.
        self.assertEqual(self.ping("?ns=*"), body)
        self.assertEqual(ids(self.ping("?all_tenants=1", token="reader")), ids(body))
        self.assertEqual(ids(self.ping("?ns=team-a", token="reader")), ["a-icmp", "a-redis"])
        r = self.ping("?all_tenants=1&ns=team-a", want=400)
        self.assertEqual(r["code"], "bad_query")

    def test_a_tenant_sees_its_own(self):
        self.assertEqual(ids(self.ping(token="a-read")), ["a-icmp", "a-redis"])
        self.assertEqual(ids(self.ping(token="b-write")), ["b-tcp"])
        for tok in ("a-read", "a-write"):
            body = self.ping("?all_tenants=1", token=tok, want=403)
            self.assertEqual(body["code"], "forbidden")
            self.assertEqual(body["error"], "all_tenants=1 asks for every tenant; this token "
                                            "works in tenant 'team-a' only")
            # ns=* is the lists' "all I reach": the tenant's own
            self.assertEqual(ids(self.ping("?ns=*", token=tok)), ["a-icmp", "a-redis"])
            body = self.ping("?ns=team-b", token=tok, want=403)
            self.assertEqual(body["error"], "this token works in tenant 'team-a' only")

    def test_include_and_exclude(self):
        self.assertEqual(ids(self.ping("?include=lo-tcp,lo-icmp")), ["lo-icmp", "lo-tcp"])
        # by name, and include wins over exclude
        self.assertEqual(ids(self.ping("?include=Loopback%20HTTP&exclude=lo-http")), ["lo-http"])
        self.assertEqual(ids(self.ping("?exclude=lo-tcp,Loopback%20HTTP")), ["lo-icmp", "lo-pg"])
        self.assertEqual(ids(self.ping("?all_tenants=1&exclude=a-icmp,lo-pg")),
                         ["a-redis", "b-tcp", "lo-http", "lo-icmp", "lo-tcp"])
        # checks that cannot be pinged or are not the caller's stay out
        self.assertEqual(ids(self.ping("?include=lo-dns,a-file,an-exec,a-ttl,nope")), [])
        self.assertEqual(ids(self.ping("?include=a-icmp,lo-icmp", token="a-read")), ["a-icmp"])

    def test_auth(self):
        r = self.agent.get("/v1/ping")
        self.assertEqual((r.status, r.code), (401, "no_token"))


class RateLimit(HeedTestCase):
    def test_twelve_a_minute_by_default(self):
        a = agent_harness.Agent(self.reg, {"checks": [
            {"name": "lo", "target": "icmp://127.0.0.1"}]}).start()
        for i in range(12):
            r = a.get("/v1/ping")
            self.assertEqual(r.status, 200, "request %d: %r" % (i + 1, r))
            self.assertEqual(ids(r.json), ["lo"])
        r = a.get("/v1/ping")
        self.assertEqual((r.status, r.code), (429, "rate_limited"), r)
        self.assertEqual(r.headers["retry-after"], "5")  # 60 s / 12
        # other routes keep their own budget
        self.assertEqual(a.get("/v1/checks").status, 200)


NS_PORT = 8500
CLIENT = r'''
import json, sys, time, urllib.request, urllib.error
t = time.monotonic()
try:
    with urllib.request.urlopen(sys.argv[1], timeout=30) as r:
        status, body = r.status, r.read()
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
print(json.dumps({"status": status, "body": json.loads(body), "secs": time.monotonic() - t}))
'''
NS_CONFIG = """
bind: 127.0.0.1:%(port)d
data_dir: %(data)s
checks:
  - name: alive
    target: icmp://127.0.0.1
    interval: 10s
  - name: silent
    target: icmp://10.77.0.2
    interval: 10s
  - name: silent-db
    target: postgres://10.77.0.2:5432/app
    interval: 10s
  - name: erring
    target: icmp://10.78.0.5
    interval: 10s
  - name: unknown-name
    target: tcp://no-such-host.example:80
    interval: 10s
"""


@unittest.skipUnless(netns.have_netns(), "needs root and ip netns")
class Namespace(HeedTestCase):
    def test_silent_erring_and_unresolved_hosts_are_not_alive(self):
        net = netns.Net()
        try:
            d = self.reg.tempdir()
            cfg = os.path.join(d, "heed.yaml")
            with open(cfg, "w") as f:
                f.write(NS_CONFIG % {"port": NS_PORT, "data": os.path.join(d, "data")})
            err = open(os.path.join(d, "stderr"), "w")
            self.reg.callback("agent stderr file", err.close)
            agent = self.reg.popen(["ip", "netns", "exec", net.a, harness.HEED, "agent", "-c",
                                    cfg], stderr=err)
            def get(query="", port=NS_PORT):
                url = "http://127.0.0.1:%d/v1/ping%s" % (port, query)
                rc, out, e = net.run([sys.executable, "-c", CLIENT, url], timeout=60)
                if rc != 0:
                    return None
                return json.loads(out)

            harness.wait_until(lambda: get("?include=alive"), 10, interval=0.1,
                               what="the agent in namespace %s" % net.a)
            r = get()
            self.assertEqual(r["status"], 200, r)
            by_id = {c["id"]: c for c in r["body"]["checks"]}
            self.assertEqual(sorted(by_id), ["alive", "erring", "silent", "silent-db",
                                             "unknown-name"])
            self.assertEqual({k: v["alive"] for k, v in by_id.items()},
                             {"alive": True, "erring": False, "silent": False,
                              "silent-db": False, "unknown-name": False})
            self.assertEqual(by_id["silent"]["address"], "10.77.0.2")
            self.assertEqual(by_id["silent-db"]["host"], "10.77.0.2")
            self.assertEqual(by_id["erring"]["address"], "10.78.0.5")
            self.assertNotIn("address", by_id["unknown-name"])
            self.assertEqual(by_id["unknown-name"]["host"], "no-such-host.example")
            # the silent host costs the echo wait (1 s), not more: the hosts
            # are pinged in parallel within the request's 3 s deadline
            self.assertGreater(r["secs"], 0.9)
            self.assertLess(r["secs"], scaled(3.5))
            # a host that answers with an error does not wait for the deadline
            t = time.monotonic()
            r = get("?include=erring,alive")
            self.assertEqual([(c["id"], c["alive"]) for c in r["body"]["checks"]],
                             [("alive", True), ("erring", False)])
            self.assertLess(r["secs"], scaled(0.9))
            self.assertLess(time.monotonic() - t, scaled(10))

            # the agent stops cleanly (and, under ASan, without leaks) while a
            # ping waits for the silent host
            client = self.reg.popen(["ip", "netns", "exec", net.a, sys.executable, "-c", CLIENT,
                                     "http://127.0.0.1:%d/v1/ping?include=silent" % NS_PORT])
            time.sleep(scaled(0.3))
            self.assertIsNone(client.poll(), "the ping answered before the silent host's wait")
            agent.send_signal(signal.SIGTERM)
            self.assertEqual(agent.wait(scaled(10)), 0)
            self.assertNotEqual(client.wait(scaled(10)), 0)  # no reply: the agent went away

            # no ICMP socket at all (the ping socket forced, and root's group
            # outside ping_group_range): 503, not "everything is down"
            d2 = self.reg.tempdir()
            cfg2 = os.path.join(d2, "heed.yaml")
            with open(cfg2, "w") as f:
                f.write(NS_CONFIG % {"port": NS_PORT + 1, "data": os.path.join(d2, "data")})
            net.sysctl(net.a, "net.ipv4.ping_group_range=1 0")
            self.reg.popen(["ip", "netns", "exec", net.a, harness.HEED, "agent", "-c", cfg2],
                           env=dict(os.environ, HEED_ICMP_SOCKET="dgram"), stderr=err)
            r = harness.wait_until(lambda: get(port=NS_PORT + 1), 10, interval=0.1,
                                   what="the second agent")
            self.assertEqual(r["status"], 503, r)
            self.assertEqual(r["body"]["code"], "icmp_unavailable")
            self.assertIn("cannot send ICMP echo requests: ", r["body"]["error"])
        finally:
            self.reg.close()
            net.close()


if __name__ == "__main__":
    harness.main()
