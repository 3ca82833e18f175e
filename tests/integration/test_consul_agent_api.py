"""Consul's agent, health, catalog and status routes against a real agent,
over plain HTTP (what any Consul client sends): checks registered through
/v1/agent/check/register and through heed's POST /v1/checks are the same
checks (one registry); a service's health is the worst of its checks and
its node's; maintenance of a service and of the node; the aggregated
health codes (200, 429, 503, ?format=text); health by state and by node;
catalog nodes and datacenters; X-Consul-Index on every read, 404s
included; tenants as namespaces (another tenant's service answers as a
missing one); bad input answered in Consul's plain-text words, naming the
field; and a registration acknowledged before kill -9 is there after the
restart."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, wait_until  # noqa: E402
from agent_harness import Agent  # noqa: E402


class ConsulAgentApi(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg, {"node": "n1", "datacenter": "dc7",
                                  "node_meta": {"rack": "r1"},
                                  "limits": {"max_body_bytes": 4096}}).start()

    def put(self, path, body=None, status=200):
        r = self.a.call("PUT", path, body)
        self.assertEqual(r.status, status, r)
        return r

    def get(self, path, status=200):
        r = self.a.get(path)
        self.assertEqual(r.status, status, r)
        if status != 404 or "/v1/agent/health/" not in path:
            self.assertGreater(int(r.headers.get("x-consul-index", "0")), 0, (path, r.headers))
        return r

    def register_web(self, sid="web1", **extra):
        body = {"Name": "web", "ID": sid, "Port": 80, "Tags": ["t"],
                "Check": {"CheckID": "web-ttl", "TTL": "60s"}}
        body.update(extra)
        self.put("/v1/agent/service/register", body)

    def test_checks_are_one_registry(self):
        self.register_web()
        # A node check and a service check through Consul's route ...
        self.put("/v1/agent/check/register", {"Name": "disk", "TTL": "60s", "Notes": "n"})
        self.put("/v1/agent/check/register", {"Name": "web-extra", "ServiceID": "web1",
                                              "TTL": "60s", "Status": "passing"})
        # ... and one through heed's own, belonging to the service.
        self.a.ok("POST", "/v1/checks", {"id": "web-port", "name": "web-port", "ttl": "60s",
                                         "service": "web1"}, status=201)
        agent_checks = self.get("/v1/agent/checks").json
        self.assertEqual(sorted(agent_checks), ["disk", "web-extra", "web-port", "web-ttl"])
        self.assertEqual(agent_checks["web-extra"]["Status"], "passing")
        self.assertEqual(agent_checks["web-port"]["ServiceID"], "web1")
        self.assertEqual(agent_checks["web-port"]["ServiceName"], "web")
        self.assertEqual(agent_checks["disk"]["Notes"], "n")
        self.assertEqual(sorted(self.a.checks()), ["disk", "web-extra", "web-port", "web-ttl"])
        self.assertEqual(self.a.check("web-extra")["service_id"], "web1")

        h = self.get("/v1/health/service/web").json
        self.assertEqual([c["CheckID"] for c in h[0]["Checks"]],
                         ["serfHealth", "disk", "web-extra", "web-port", "web-ttl"])
        self.assertEqual(h[0]["Node"]["Datacenter"], "dc7")
        self.assertEqual(h[0]["Node"]["Meta"], {"rack": "r1"})
        self.assertEqual(self.get("/v1/health/service/web?passing").json, [])

        # Aggregated health: critical (503) until every check passes.
        r = self.a.get("/v1/agent/health/service/id/web1")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.json["AggregatedStatus"], "critical")
        r = self.a.get("/v1/agent/health/service/name/web?format=text")
        self.assertEqual((r.status, r.body), (503, b"critical"))
        for cid in ("disk", "web-port", "web-ttl"):
            self.put("/v1/agent/check/pass/" + cid)
        self.assertEqual(len(self.get("/v1/health/service/web?passing=1").json), 1)
        r = self.a.get("/v1/agent/health/service/id/web1?format=text")
        self.assertEqual((r.status, r.body), (200, b"passing"))
        self.put("/v1/agent/check/warn/disk")
        r = self.a.get("/v1/agent/health/service/name/web")
        self.assertEqual(r.status, 429, r)
        self.assertEqual(r.json[0]["AggregatedStatus"], "warning")
        r = self.a.get("/v1/agent/health/service/id/nope")
        self.assertEqual((r.status, r.body), (404, b"ServiceId nope not found"))
        r = self.a.get("/v1/agent/health/service/name/nope")
        self.assertEqual((r.status, r.body), (404, b"ServiceName nope Not Found"))

        # By state, and by node.
        warn = self.get("/v1/health/state/warning").json
        self.assertEqual([c["CheckID"] for c in warn], ["disk"])
        passing = [c["CheckID"] for c in self.get("/v1/health/state/passing").json]
        self.assertEqual(passing, ["serfHealth", "web-extra", "web-port", "web-ttl"])
        r = self.a.get("/v1/health/state/bogus")
        self.assertEqual((r.status, r.body), (400, b"Invalid check state"))
        node = [c["CheckID"] for c in self.get("/v1/health/node/n1").json]
        self.assertEqual(node, ["disk", "serfHealth", "web-extra", "web-port", "web-ttl"])
        self.assertEqual(self.get("/v1/health/node/other").json, [])
        svc_checks = [c["CheckID"] for c in self.get("/v1/health/checks/web").json]
        self.assertEqual(svc_checks, ["web-extra", "web-port", "web-ttl"])

        # Deregistering a check through either route.
        self.put("/v1/agent/check/deregister/web-extra")
        self.a.ok("DELETE", "/v1/checks/web-port")
        self.assertEqual(sorted(self.get("/v1/agent/checks").json), ["disk", "web-ttl"])
        r = self.a.call("PUT", "/v1/agent/check/deregister/web-extra")
        self.assertEqual(r.status, 404, r)
        self.assertIn(b"Unknown check ID", r.body)
        # A service's deregistration takes its checks along.
        self.put("/v1/agent/service/deregister/web1")
        self.assertEqual(sorted(self.a.checks()), ["disk"])

    def test_maintenance(self):
        self.register_web()
        self.put("/v1/agent/check/pass/web-ttl")
        self.put("/v1/agent/service/maintenance/web1?enable=true&reason=deploy")
        h = self.get("/v1/health/service/web").json[0]
        m = [c for c in h["Checks"] if c["CheckID"] == "_service_maintenance:web1"]
        self.assertEqual(len(m), 1)
        self.assertEqual((m[0]["Status"], m[0]["Notes"], m[0]["ServiceID"]),
                         ("critical", "deploy", "web1"))
        self.assertEqual(self.a.get("/v1/agent/health/service/id/web1").status, 503)
        self.assertIn("_service_maintenance:web1", self.get("/v1/agent/checks").json)
        self.put("/v1/agent/service/maintenance/web1?enable=false")
        self.assertEqual(self.a.get("/v1/agent/health/service/id/web1").status, 200)
        r = self.a.call("PUT", "/v1/agent/service/maintenance/web1")
        self.assertEqual((r.status, r.body), (400, b"Missing value for enable"))
        r = self.a.call("PUT", "/v1/agent/service/maintenance/nope?enable=true")
        self.assertEqual(r.status, 404, r)

        self.put("/v1/agent/maintenance?enable=true")
        node = {c["CheckID"]: c for c in self.get("/v1/health/node/n1").json}
        self.assertEqual(sorted(node), ["_node_maintenance", "serfHealth", "web-ttl"])
        self.assertEqual(node["_node_maintenance"]["Status"], "critical")
        self.assertEqual(self.get("/v1/health/service/web?passing").json, [])
        self.put("/v1/agent/maintenance?enable=false")
        self.assertEqual(len(self.get("/v1/health/service/web?passing").json), 1)

    def test_catalog_status_self(self):
        self.register_web()
        nodes = self.get("/v1/catalog/nodes").json
        self.assertEqual([(n["Node"], n["Datacenter"], n["Meta"]) for n in nodes],
                         [("n1", "dc7", {"rack": "r1"})])
        self.assertEqual(len(nodes[0]["ID"]), 36)
        self.assertEqual(self.get("/v1/catalog/nodes?node-meta=rack:r2").json, [])
        self.assertEqual(self.a.get("/v1/catalog/datacenters").json, ["dc7"])
        n = self.get("/v1/catalog/node/n1").json
        self.assertEqual(list(n["Services"]), ["web1"])
        self.assertIsNone(self.get("/v1/catalog/node/nope").json)
        self.assertEqual(self.get("/v1/catalog/service/web?tag=t").json[0]["ServiceID"], "web1")
        self.assertEqual(self.get("/v1/catalog/service/web?tag=x").json, [])
        self.assertEqual(self.a.get("/v1/status/leader").json, "127.0.0.1:8300")
        self.assertEqual(self.a.get("/v1/status/peers").json, ["127.0.0.1:8300"])
        me = self.a.get("/v1/agent/self").json
        self.assertEqual((me["Config"]["NodeName"], me["Config"]["Datacenter"]), ("n1", "dc7"))
        self.assertEqual(me["Config"]["NodeID"], nodes[0]["ID"])
        self.assertEqual([m["Name"] for m in self.a.get("/v1/agent/members").json], ["n1"])
        # ?dc= of another datacenter, a bad wait.
        r = self.a.get("/v1/health/service/web?dc=dc1")
        self.assertEqual((r.status, r.body), (500, b"No path to datacenter"))
        self.assertEqual(self.a.get("/v1/health/service/web?dc=dc7").status, 200)
        r = self.a.get("/v1/health/service/web?index=1&wait=soon")
        self.assertEqual(r.status, 400, r)
        self.assertIn(b"Invalid wait time", r.body)
        # ?stale and ?consistent are accepted.
        self.assertEqual(self.a.get("/v1/catalog/services?stale").status, 200)
        self.assertEqual(self.a.get("/v1/catalog/services?consistent").status, 200)

    def test_missing_service_has_an_index(self):
        r = self.get("/v1/agent/service/nope", status=404)
        self.assertEqual(r.body, b"unknown service ID: nope")
        r = self.a.call("PUT", "/v1/agent/service/deregister/nope")
        self.assertEqual(r.status, 404, r)
        self.assertIn(b'Unknown service ID "nope"', r.body)
        self.register_web()
        r = self.get("/v1/agent/service/web1")
        self.assertEqual(r.json["ContentHash"], r.headers["x-consul-contenthash"])
        # Hash-based blocking answers at once when the hash differs.
        r2 = self.get("/v1/agent/service/web1?hash=0000&wait=5s")
        self.assertEqual(r2.json["Port"], 80)

    def test_metrics(self):
        self.register_web()
        self.put("/v1/agent/service/register?ns=team-a", {"Name": "web", "ID": "web-a"})
        text = self.a.get("/metrics").body.decode()
        self.assertIn("\nheed_catalog_nodes 1\n", text)
        self.assertIn("\nheed_catalog_services 1\n", text)  # the default tenant's
        self.assertRegex(text, r"\nheed_catalog_topic_bumps_total [1-9]")
        text = self.a.get("/metrics?ns=*").body.decode()
        self.assertIn("\nheed_catalog_services 2\n", text)

    def test_tenants(self):
        self.register_web()
        self.put("/v1/agent/service/register?ns=team-a", {"Name": "web", "ID": "web-a", "Port": 1})
        self.assertEqual([e["Service"]["ID"] for e in self.get("/v1/health/service/web").json],
                         ["web1"])
        a = self.get("/v1/health/service/web?ns=team-a").json
        self.assertEqual([(e["Service"]["ID"], e["Service"]["Namespace"]) for e in a],
                         [("web-a", "team-a")])
        # Another tenant's service is a missing one, on every route.
        self.get("/v1/agent/service/web-a", status=404)
        self.assertEqual(self.a.call("PUT", "/v1/agent/service/deregister/web-a").status, 404)
        self.assertEqual(self.a.call("PUT", "/v1/agent/service/maintenance/web-a?enable=true")
                         .status, 404)
        self.assertEqual(sorted(self.get("/v1/agent/services").json), ["web1"])
        self.assertEqual(sorted(self.get("/v1/agent/services?ns=*").json), ["web-a", "web1"])
        self.assertEqual(self.get("/v1/catalog/service/web?ns=team-a").json[0]["ServiceID"],
                         "web-a")
        # A body's Namespace takes precedence over ?ns= (Consul's order).
        self.put("/v1/agent/service/register?ns=team-a",
                 {"Name": "db", "ID": "db-b", "Namespace": "team-b"})
        self.assertEqual(self.get("/v1/health/service/db?ns=team-a").json, [])
        self.assertEqual([e["Service"]["ID"] for e in
                          self.get("/v1/health/service/db?ns=team-b").json], ["db-b"])
        self.put("/v1/agent/check/register", {"Name": "c-b", "TTL": "1m", "Namespace": "team-b"})
        self.assertEqual(list(self.get("/v1/agent/checks?ns=team-b").json), ["c-b"])
        r = self.a.call("PUT", "/v1/agent/service/register", {"Name": "x", "Namespace": "a b"})
        self.assertEqual(r.status, 400, r)

    def test_catalog_register_external(self):
        body = {"Node": "db-host", "Address": "192.0.2.10", "NodeMeta": {"kind": "vm"},
                "Service": {"ID": "pg1", "Service": "pg", "Port": 5432, "Tags": ["primary"]},
                "Checks": [{"CheckID": "pg-alive", "Name": "pg alive", "Status": "passing",
                            "ServiceID": "pg1", "Definition": {"TCP": "192.0.2.10:5432"}},
                           {"Name": "host-up", "Status": "warning", "Output": "slow"}]}
        r = self.put("/v1/catalog/register", body)
        self.assertIs(r.json, True)
        self.assertEqual([n["Node"] for n in self.get("/v1/catalog/nodes").json],
                         ["db-host", "n1"])
        e = self.get("/v1/health/service/pg").json
        self.assertEqual(len(e), 1)
        self.assertEqual((e[0]["Node"]["Node"], e[0]["Node"]["Address"], e[0]["Node"]["Meta"]),
                         ("db-host", "192.0.2.10", {"kind": "vm"}))
        # No serfHealth: no agent runs there. Its node check counts.
        self.assertEqual([(c["CheckID"], c["Status"]) for c in e[0]["Checks"]],
                         [("host-up", "warning"), ("pg-alive", "passing")])
        self.assertEqual(e[0]["Checks"][1]["Definition"]["TCP"], "192.0.2.10:5432")
        self.assertEqual(self.get("/v1/health/service/pg?passing").json, [])
        self.assertEqual(self.get("/v1/catalog/service/pg").json[0]["Address"], "192.0.2.10")
        # Not this agent's checks: /v1/checks and /v1/agent/checks do not have them.
        self.assertEqual(self.a.checks(), {})
        self.assertEqual(self.get("/v1/agent/checks").json, {})
        # Another tenant on the same node.
        self.put("/v1/catalog/register?ns=team-a",
                 {"Node": "db-host", "Address": "192.0.2.10", "SkipNodeUpdate": True,
                  "Service": {"Service": "cache", "Port": 6379}})
        self.assertEqual(self.get("/v1/health/service/cache").json, [])
        self.assertEqual(len(self.get("/v1/health/service/cache?ns=team-a").json), 1)
        # The node keeps its meta (SkipNodeUpdate).
        self.assertEqual(self.get("/v1/catalog/node/db-host").json["Node"]["Meta"], {"kind": "vm"})
        # A service goes with its checks.
        self.put("/v1/catalog/deregister", {"Node": "db-host", "ServiceID": "pg1"})
        self.assertEqual(self.get("/v1/health/service/pg").json, [])
        self.assertEqual([c["CheckID"] for c in self.get("/v1/health/node/db-host").json],
                         ["host-up"])
        # The default tenant's node deregistration leaves team-a's entries, and the node.
        self.put("/v1/catalog/deregister", {"Node": "db-host"})
        self.assertEqual(self.get("/v1/health/node/db-host").json, [])
        self.assertIn("db-host", [n["Node"] for n in self.get("/v1/catalog/nodes").json])
        self.put("/v1/catalog/deregister?ns=team-a", {"Node": "db-host"})
        self.assertEqual([n["Node"] for n in self.get("/v1/catalog/nodes").json], ["n1"])
        # This agent's node is the agent's.
        r = self.a.call("PUT", "/v1/catalog/register", {"Node": "n1", "Address": "127.0.0.1"})
        self.assertEqual(r.status, 400, r)
        for bad, want in (({"Address": "1.2.3.4"}, b"Must provide node"),
                          ({"Node": "x"}, b"Must provide address"),
                          ({"Node": "a b", "Address": "1.2.3.4"}, b"Invalid node name"),
                          ({"Node": "x", "Address": "1.2.3.4", "Check": {"Status": "up",
                                                                         "Name": "c"}},
                           b"Invalid check status"),
                          ({"Node": "x", "Address": "1.2.3.4", "Check": {"Name": "c",
                                                                         "ServiceID": "nope"}},
                           b"Unknown service ID"),
                          ({"Node": "x", "Address": "1.2.3.4", "Service": {"Port": 1}},
                           b"Missing service name")):
            r = self.a.call("PUT", "/v1/catalog/register", bad)
            self.assertEqual(r.status, 400, (bad, r))
            self.assertIn(want, r.body)
        self.assertEqual([n["Node"] for n in self.get("/v1/catalog/nodes").json], ["n1"])

    def test_secrets_are_masked(self):
        self.put("/v1/agent/service/register",
                 {"Name": "s", "Checks": [
                     {"CheckID": "h", "HTTP": "http://u:hunter2@127.0.0.1:1/health",
                      "Interval": "1h", "Header": {"Authorization": ["Bearer tok123"],
                                                   "X-Plain": ["v"]}},
                     {"CheckID": "pg", "Target": "postgres://app:pgpass9@127.0.0.1:1/db",
                      "Interval": "1h"}]})
        for path in ("/v1/agent/checks", "/v1/health/service/s", "/v1/health/state/any",
                     "/v1/health/checks/s", "/v1/checks"):
            body = self.a.get(path).body
            for secret in (b"hunter2", b"tok123", b"pgpass9"):
                self.assertNotIn(secret, body, path)
        d = self.get("/v1/agent/checks").json
        self.assertEqual(d["h"]["Definition"]["HTTP"], "http://u:***@127.0.0.1:1/health")
        self.assertEqual(d["h"]["Definition"]["Header"],
                         {"Authorization": ["***"], "X-Plain": ["v"]})
        self.assertEqual(d["pg"]["Definition"]["Target"], "postgres://app:***@127.0.0.1:1/db")
        self.assertEqual(d["pg"]["Type"], "postgres")
        # What heed shows is no password to give back.
        r = self.a.call("PUT", "/v1/agent/check/register",
                        {"Name": "h2", "HTTP": "http://u:***@127.0.0.1:1/", "Interval": "1h"})
        self.assertEqual(r.status, 400, r)
        self.assertIn(b"how heed shows a password", r.body)

    def test_bad_input(self):
        cases = [
            ("{", b"Request decode failed"),
            ('{"Name": 5}', b"Request decode failed: json: cannot unmarshal number into Go "
                            b"struct field ServiceDefinition.Name of type string"),
            ('{"Name": "x", "Port": "80"}', b"ServiceDefinition.Port of type int"),
            ('{"Name": "x", "Tags": "a"}', b"ServiceDefinition.Tags of type []string"),
            ('{"Name": "x", "Meta": {"k": 1}}', b"ServiceDefinition.Meta of type string"),
            ('{"Name": "x", "Check": {"TTL": 10}}', b"CheckType.TTL of type string"),
            ('{"Name": "x", "Check": {"TTL": "soon"}}', b"TTL"),
            ('{"Name": "x", "Check": {"HTTP": "http://127.0.0.1:1/", "Interval": "1x"}}',
             b"Interval"),
            ('{"Name": "x", "Check": {"Interval": "10s"}}', b"Invalid check"),
            ('{"Name": "x", "Check": {"GRPC": "127.0.0.1:1"}}', b"GRPC checks are not supported"),
            ('{"Name": "x", "Check": {"Args": ["/bin/true"], "Interval": "10s"}}',
             b"Scripts are disabled on this agent"),
            ('{"Port": 80}', b"Missing service name"),
            ("[]", b""),
        ]
        for body, want in cases:
            r = self.a.call("PUT", "/v1/agent/service/register", body)
            self.assertEqual(r.status, 400, (body, r))
            self.assertIn(want, r.body, body)
            self.assertTrue(r.headers["content-type"].startswith("text/plain"), r.headers)
        self.assertEqual(self.get("/v1/agent/services").json, {})
        self.assertEqual(self.a.checks(), {})
        # Unknown fields are ignored, field names match in any case and in snake_case.
        self.put("/v1/agent/service/register",
                 {"name": "x", "PORT": 7, "enable_tag_override": True, "Unknown": {"a": 1},
                  "check": {"ttl": "30s", "deregister_critical_service_after": "5m"}})
        s = self.get("/v1/agent/service/x").json
        self.assertEqual((s["Port"], s["EnableTagOverride"]), (7, True))
        self.assertEqual(self.get("/v1/agent/checks").json["service:x"]["Definition"]
                         ["DeregisterCriticalServiceAfter"], "5m0s")
        # A body over the limit: 413, and nothing stored.
        r = self.a.call("PUT", "/v1/agent/service/register",
                        {"Name": "big", "Meta": {"k": "v" * 5000}})
        self.assertEqual(r.status, 413, r)
        self.get("/v1/agent/service/big", status=404)

    def test_registration_survives_kill_9(self):
        self.register_web()
        self.put("/v1/agent/check/pass/web-ttl")
        self.put("/v1/agent/service/maintenance/web1?enable=true&reason=r")
        self.a.proc.send_signal(signal.SIGKILL)
        self.a.proc.wait()
        self.a.start()
        e = self.get("/v1/health/service/web").json
        self.assertEqual(len(e), 1)
        self.assertEqual(e[0]["Service"]["Port"], 80)
        ids = [c["CheckID"] for c in e[0]["Checks"]]
        self.assertEqual(ids, ["serfHealth", "_service_maintenance:web1", "web-ttl"])
        self.assertEqual(e[0]["Checks"][2]["Status"], "passing")
        # The node keeps its ID across restarts.
        self.assertEqual(self.get("/v1/catalog/nodes").json[0]["ID"], e[0]["Node"]["ID"])


class TenantTokens(HeedTestCase):
    def test_body_namespace_is_bounded_by_the_token(self):
        a = Agent(self.reg, {"node": "n1", "tokens": [
            {"secret": "a-w", "role": "write", "tenant": "team-a"},
            {"secret": "m", "role": "management"}]}).start()
        r = a.call("PUT", "/v1/agent/service/register",
                   {"Name": "web", "Namespace": "team-b"}, token="a-w", token_header="consul")
        self.assertEqual((r.status, r.body), (403, b"Permission denied"))
        r = a.call("PUT", "/v1/agent/service/register",
                   {"Name": "web", "Namespace": "team-a"}, token="a-w", token_header="consul")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(a.ok("GET", "/v1/health/service/web?ns=team-b", token="m"), [])
        self.assertEqual(len(a.ok("GET", "/v1/health/service/web", token="a-w")), 1)


class ConfigServices(HeedTestCase):
    """The config file's services and checks are in the catalog too: a
    service's checks and a standalone check naming it belong to it; a
    reload that drops a service or a check drops it from the catalog."""

    def config(self, with_db=True):
        services = [{"name": "web", "id": "web1", "port": 80, "tags": ["cfg"],
                     "meta": {"owner": "ops"},
                     "checks": [{"name": "web-up", "ttl": "1h"}]}]
        if with_db:
            services.append({"name": "db", "port": 5432})
        return {"node": "n1", "services": services,
                "checks": [{"name": "web-extra", "ttl": "1h", "service": "web1"},
                           {"name": "disk", "ttl": "1h"}]}

    def test_config_services(self):
        a = Agent(self.reg, self.config()).start()
        self.assertEqual(sorted(a.ok("GET", "/v1/agent/services")), ["db", "web1"])
        e = a.ok("GET", "/v1/health/service/web")
        self.assertEqual(e[0]["Service"]["Meta"], {"owner": "ops"})
        self.assertEqual([c["CheckID"] for c in e[0]["Checks"]],
                         ["serfHealth", "disk", "service:web1", "web-extra"])
        self.assertEqual(e[0]["Checks"][3]["ServiceID"], "web1")
        self.assertEqual(e[0]["Checks"][2]["Name"], "web-up")
        a.ok("PUT", "/v1/agent/check/pass/service:web1")
        checks = a.ok("GET", "/v1/agent/checks")
        self.assertEqual(checks["service:web1"]["Status"], "passing")
        a.reload(self.config(with_db=False))
        # The reload's writes follow its log line by a commit.
        wait_until(lambda: sorted(a.ok("GET", "/v1/agent/services")) == ["web1"], 10,
                   what="db gone after the reload")
        self.assertEqual(a.ok("GET", "/v1/health/service/db"), [])
        # A restart finds the same, and nothing twice.
        self.assertEqual(a.stop(), 0)
        cfg = self.config(with_db=False)
        cfg["checks"] = cfg["checks"][:1]  # "disk" is gone from the file too
        a.write_config(cfg)
        a.start()
        self.assertEqual(sorted(a.ok("GET", "/v1/agent/checks")), ["service:web1", "web-extra"])
        self.assertEqual(sorted(a.ok("GET", "/v1/agent/services")), ["web1"])
        self.assertEqual(a.ok("GET", "/v1/agent/checks")["service:web1"]["Status"], "passing")


if __name__ == "__main__":
    main()
