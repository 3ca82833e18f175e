"""Consul's ?filter= on the discovery routes of a real agent: the rows each
route keeps for an expression over its own fields (health's Node, Service
and Checks; the catalog's flat Service* fields; the agent's services and
checks; nodes), the refusals in Consul's words (a selector the route does
not offer, bad syntax, a number field against a word), an empty filter
being none, and a blocking query with a filter (held, then answered with
the filtered rows)."""

import json
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, wait_until  # noqa: E402
from agent_harness import Agent  # noqa: E402


class Filter(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg, {"node": "node-1", "node_meta": {"rack": "r1"}}).start()
        for sid, name, tags, meta, port in (
                ("web-1", "web", ["v1", "primary"], {"env": "prod"}, 8080),
                ("web-2", "web", ["v2"], {"env": "qa"}, 8081),
                ("db-1", "db", ["primary"], {"env": "prod"}, 5432)):
            r = self.a.call("PUT", "/v1/agent/service/register",
                            {"ID": sid, "Name": name, "Tags": tags, "Meta": meta, "Port": port,
                             "Check": {"TTL": "60s", "Status": "passing" if sid != "web-2"
                                       else "critical"}})
            self.assertEqual(r.status, 200, r)

    def get(self, path, expr, status=200):
        sep = "&" if "?" in path else "?"
        r = self.a.get(path + sep + "filter=" + urllib.parse.quote(expr))
        self.assertEqual(r.status, status, r)
        return json.loads(r.body) if status == 200 else r.body.decode()

    def test_health_service(self):
        rows = self.get("/v1/health/service/web", 'Service.Meta.env == "prod"')
        self.assertEqual([x["Service"]["ID"] for x in rows], ["web-1"])
        rows = self.get("/v1/health/service/web", '"v2" in Service.Tags')
        self.assertEqual([x["Service"]["ID"] for x in rows], ["web-2"])
        rows = self.get("/v1/health/service/web", "Checks.Status == critical")
        self.assertEqual([x["Service"]["ID"] for x in rows], ["web-2"])
        rows = self.get("/v1/health/service/web",
                        'Node.Meta.rack == r1 and not (Service.ID == "web-1")')
        self.assertEqual([x["Service"]["ID"] for x in rows], ["web-2"])
        rows = self.get("/v1/health/service/web", "Service.Port == 8081")
        self.assertEqual([x["Service"]["ID"] for x in rows], ["web-2"])
        # an empty filter is none
        self.assertEqual(len(self.get("/v1/health/service/web", "")), 2)

    def test_other_routes(self):
        rows = self.get("/v1/catalog/service/web", "ServiceMeta.env == qa")
        self.assertEqual([x["ServiceID"] for x in rows], ["web-2"])
        rows = self.get("/v1/agent/services", '"primary" in Tags')
        self.assertEqual(sorted(rows), ["db-1", "web-1"])
        rows = self.get("/v1/agent/checks", 'ServiceName == "db"')
        self.assertEqual([c["ServiceID"] for c in rows.values()], ["db-1"])
        rows = self.get("/v1/health/state/any", "Status == critical")
        self.assertEqual([c["ServiceID"] for c in rows], ["web-2"])
        rows = self.get("/v1/catalog/nodes", "Meta.rack == r2")
        self.assertEqual(rows, [])
        rows = self.get("/v1/catalog/nodes", "Meta.rack == r1")
        self.assertEqual([n["Node"] for n in rows], ["node-1"])

    def test_refusals(self):
        text = self.get("/v1/health/service/web", "Service.Nope == 1", 400)
        self.assertIn("Failed to create boolean expression evaluator", text)
        self.assertIn("Service.Nope", text)
        text = self.get("/v1/health/service/web", "Service.Port == ", 400)
        self.assertIn("Failed to create boolean expression evaluator", text)
        text = self.get("/v1/catalog/service/web", "ServicePort == eighty", 400)
        self.assertIn("ServicePort", text)
        # the catalog's rows are flat: health's selectors are not among them
        self.get("/v1/catalog/service/web", "Service.ID == web-1", 400)

    def test_blocking_with_filter(self):
        r = self.a.get("/v1/health/service/web")
        index = int(r.headers["x-consul-index"])
        got = {}

        def watch():
            got["rows"] = self.get("/v1/health/service/web?index=%d&wait=20s" % index,
                                   'Service.Meta.env == "prod"')

        t = threading.Thread(target=watch)
        t.start()
        wait_until(lambda: "heed_api_requests_held 1" in self.a.get("/metrics").body.decode(),
                   10, what="the blocking query held")
        self.assertNotIn("rows", got)
        r = self.a.call("PUT", "/v1/agent/service/register",
                        {"ID": "web-3", "Name": "web", "Meta": {"env": "prod"}, "Port": 8082})
        self.assertEqual(r.status, 200, r)
        t.join(15)
        self.assertEqual(sorted(x["Service"]["ID"] for x in got["rows"]), ["web-1", "web-3"])


if __name__ == "__main__":
    main()
