"""Service discovery through Consul's own clients, unchanged: Debian's
python3-consul and npm's consul (tests/clients). Each registers a service
with an HTTP check against a real HTTP server of the test, finds it
through /v1/health/service once the check passes (and in the catalog),
deregisters it, and holds a blocking query on service A that a change to
service B does not end and a change to A does.

python3-consul (1.1) sends its deregistrations and TTL reports as GET, as
Consul before 1.0 took them; heed, like Consul since 1.0, changes nothing
on a GET (a page's <img src=...> must not deregister a service), so the
tests assert that those calls are refused and changed nothing, and send
the same requests with PUT through the client's own HTTP layer
(c.http.put), unchanged. The service's check is a
heed check: /v1/checks shows it, with the service's id. The blocking
queries are held by the agent, not answered at once: the test asserts
they are still open after B changed."""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, ControlledHttp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_SCRIPT = os.path.join(HERE, "clients", "consul_discovery.js")
NODE_CLIENT = os.path.join(HERE, "..", "clients", "node_modules", "consul")

try:
    sys.path.insert(0, "/usr/lib/python3/dist-packages")
    import consul  # Debian's python3-consul
except ImportError:  # pragma: no cover - reported as a skip
    consul = None


def put(c, path, **params):
    """The request python3-consul's GET-based calls mean, as PUT, through
    its own HTTP layer (see the top)."""
    return c.http.put(consul.base.CB.bool(), path, params=params or None)


class Discovery(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.web = ControlledHttp(self.reg)
        self.web.set(200, b"ok")
        self.a = Agent(self.reg, {"node": "node-1"}).start()

    def heed_checks(self):
        r = self.a.get("/v1/checks")
        self.assertEqual(r.status, 200, r)
        return {c["id"]: c for c in r.json}

    @unittest.skipIf(consul is None, "python3-consul is not installed (scripts/deps.sh)")
    def test_python_consul(self):
        c = consul.Consul(host="127.0.0.1", port=self.a.port)
        url = "http://127.0.0.1:%d/health" % self.web.port
        self.assertTrue(c.agent.service.register(
            "web", service_id="web1", port=8080, tags=["v1", "blue"],
            check=consul.Check.http(url, "1s", timeout="1s")))
        self.assertEqual(sorted(c.agent.services()), ["web1"])
        # The check is a heed check, of the service.
        hc = self.heed_checks()["service:web1"]
        self.assertEqual(hc["service_id"], "web1")
        self.assertEqual(hc["target"], url)

        def passing():
            _, nodes = c.health.service("web", passing=True)
            return nodes
        nodes = wait_until(passing, scaled(15), what="web passing")
        self.assertEqual(len(nodes), 1)
        e = nodes[0]
        self.assertEqual(e["Node"]["Node"], "node-1")
        self.assertEqual(e["Node"]["Datacenter"], "dc1")
        self.assertEqual(e["Service"]["ID"], "web1")
        self.assertEqual(e["Service"]["Port"], 8080)
        self.assertEqual(e["Service"]["Tags"], ["v1", "blue"])
        self.assertEqual([(k["CheckID"], k["Status"]) for k in e["Checks"]],
                         [("serfHealth", "passing"), ("service:web1", "passing")])
        self.assertEqual(e["Checks"][1]["ServiceName"], "web")
        self.assertEqual(e["Checks"][1]["Definition"]["HTTP"], url)
        _, tagged = c.health.service("web", tag="blue")
        self.assertEqual(len(tagged), 1)
        _, untagged = c.health.service("web", tag="green")
        self.assertEqual(untagged, [])
        _, services = c.catalog.services()
        self.assertEqual(services, {"web": ["v1", "blue"]})
        _, rows = c.catalog.service("web")
        self.assertEqual([(r["Node"], r["ServiceID"], r["ServicePort"]) for r in rows],
                         [("node-1", "web1", 8080)])

        # A failing check takes the instance out of ?passing.
        self.web.set(500, b"down")
        wait_until(lambda: c.health.service("web", passing=True)[1] == [], scaled(15),
                   what="web no longer passing")
        _, all_nodes = c.health.service("web")
        self.assertEqual(all_nodes[0]["Checks"][1]["Status"], "critical")

        self.assertFalse(c.agent.service.deregister("web1"))  # a GET: 405, nothing changed
        self.assertEqual(sorted(c.agent.services()), ["web1"])
        self.assertTrue(put(c, "/v1/agent/service/deregister/web1"))
        _, gone = c.health.service("web")
        self.assertEqual(gone, [])
        self.assertNotIn("service:web1", self.heed_checks())
        self.assertEqual(c.agent.services(), {})

    @unittest.skipIf(consul is None, "python3-consul is not installed (scripts/deps.sh)")
    def test_python_blocking_wakes_only_on_its_service(self):
        c = consul.Consul(host="127.0.0.1", port=self.a.port)
        c.agent.service.register("a", service_id="a1", port=1)
        c.agent.service.register("b", service_id="b1", port=1)
        index, _ = c.health.service("a")
        self.assertGreater(int(index), 0)
        got = {}

        def block():
            got["answer"] = c.health.service("a", index=index, wait="30s")
        t = threading.Thread(target=block)
        t.start()
        time.sleep(0.5)
        c.agent.service.register("b", service_id="b1", port=2)  # B changes
        _, bnodes = c.health.service("b")
        self.assertEqual(bnodes[0]["Service"]["Port"], 2)
        time.sleep(1.0)
        self.assertTrue(t.is_alive(), "the blocking query on a returned on b's change")
        self.assertEqual(self.a.get("/metrics").body.decode().count("heed_api_requests_held 1"), 1)
        c.agent.service.register("a", service_id="a1", port=3)  # A changes
        t.join(scaled(10))
        self.assertFalse(t.is_alive(), "the blocking query on a did not return on a's change")
        new_index, nodes = got["answer"]
        self.assertGreater(int(new_index), int(index))
        self.assertEqual(nodes[0]["Service"]["Port"], 3)
        # Deregistering is a change too: the index moves on, never back.
        t2 = threading.Thread(target=lambda: got.update(
            gone=c.health.service("a", index=new_index, wait="30s")))
        t2.start()
        time.sleep(0.3)
        put(c, "/v1/agent/service/deregister/a1")
        t2.join(scaled(10))
        self.assertFalse(t2.is_alive())
        gone_index, gone = got["gone"]
        self.assertEqual(gone, [])
        self.assertGreater(int(gone_index), int(new_index))

    @unittest.skipIf(consul is None, "python3-consul is not installed (scripts/deps.sh)")
    def test_python_ttl_checks_and_maintenance(self):
        c = consul.Consul(host="127.0.0.1", port=self.a.port)
        self.assertTrue(c.agent.service.register("api", service_id="api1", port=9000,
                                                 check=consul.Check.ttl("30s")))
        self.assertTrue(c.agent.check.register("api-deep", consul.Check.ttl("30s"),
                                               service_id="api1"))
        self.assertEqual(c.health.service("api", passing=True)[1], [])
        self.assertFalse(c.agent.check.ttl_pass("api-deep"))  # a GET: refused
        self.assertEqual(c.health.service("api", passing=True)[1], [])
        self.assertTrue(put(c, "/v1/agent/check/pass/service:api1", note="up"))
        self.assertTrue(put(c, "/v1/agent/check/pass/api-deep"))
        _, nodes = c.health.service("api", passing=True)
        self.assertEqual(len(nodes), 1)
        self.assertEqual({k["CheckID"]: k["Output"] for k in nodes[0]["Checks"]}["service:api1"],
                         "up")
        self.assertTrue(put(c, "/v1/agent/check/warn/api-deep", note="slow"))
        _, checks = c.health.checks("api")
        self.assertEqual({k["CheckID"]: k["Status"] for k in checks},
                         {"service:api1": "passing", "api-deep": "warning"})
        self.assertEqual(sorted(c.agent.checks()), ["api-deep", "service:api1"])
        self.assertTrue(c.agent.service.maintenance("api1", True, "deploy"))
        _, nodes = c.health.service("api")
        self.assertIn("_service_maintenance:api1", [k["CheckID"] for k in nodes[0]["Checks"]])
        self.assertTrue(c.agent.service.maintenance("api1", False))
        self.assertFalse(c.agent.check.deregister("api-deep"))  # a GET: refused
        self.assertTrue(put(c, "/v1/agent/check/deregister/api-deep"))
        self.assertEqual(sorted(c.agent.checks()), ["service:api1"])
        self.assertEqual(c.agent.self()["Config"]["NodeName"], "node-1")
        self.assertEqual([m["Name"] for m in c.agent.members()], ["node-1"])
        self.assertEqual(c.status.leader(), "127.0.0.1:8300")
        _, nodes = c.catalog.nodes()
        self.assertEqual([n["Node"] for n in nodes], ["node-1"])

    def test_npm_consul(self):
        node = shutil.which("node")
        if not node or not os.path.isdir(NODE_CLIENT):
            self.skipTest("node or npm's consul client (tests/clients, scripts/deps.sh) is missing")
        url = "http://127.0.0.1:%d/health" % self.web.port
        p = subprocess.run([node, NODE_SCRIPT, str(self.a.port), url], capture_output=True,
                           text=True, timeout=scaled(60))
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["services"], ["nweb1"])
        self.assertEqual(out["passing"], [{"node": "node-1", "id": "nweb1", "port": 8080,
                                           "tags": ["v1"],
                                           "checks": [["serfHealth", "passing"],
                                                      ["service:nweb1", "passing"]]}])
        self.assertEqual(out["catalog"], ["nweb1"])
        self.assertNotIn("watch_error", out)
        self.assertEqual(out["changes_after_b"], 1, "the watch of na saw nb's change")
        self.assertEqual(out["held_after_b"], 1, "the query on na is not held after nb's change")
        self.assertGreater(int(out["index1"]), int(out["index0"]))
        self.assertEqual(out["port_after"], 3)
        self.assertEqual(out["after_deregister"], [])


if __name__ == "__main__":
    main()
