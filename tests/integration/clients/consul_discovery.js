// Drives npm's consul client (tests/clients/node_modules, unchanged)
// against a heed agent: register -> health -> deregister, and a blocking
// query on service A that a change to B does not end and a change to A
// does. Prints one JSON object of what it saw; test_consul_discovery.py
// asserts on it. Usage: node consul_discovery.js PORT HTTP_URL
"use strict";
const path = require("path");
const Consul = require(path.join(__dirname, "..", "..", "clients", "node_modules", "consul"));

const port = Number(process.argv[2]);
const httpUrl = process.argv[3];
const consul = new Consul({ host: "127.0.0.1", port: port });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The agent's count of held blocking queries (its /metrics).
async function held() {
  const res = await fetch("http://127.0.0.1:" + port + "/metrics");
  const m = /^heed_api_requests_held (\d+)/m.exec(await res.text());
  return m ? Number(m[1]) : -1;
}

async function main() {
  const out = {};
  await consul.agent.service.register({
    name: "nweb", id: "nweb1", port: 8080, tags: ["v1"],
    check: { http: httpUrl, interval: "1s", timeout: "1s" },
  });
  out.services = Object.keys(await consul.agent.service.list()).sort();
  // Until the check passes (bounded).
  let passing = [];
  for (let i = 0; i < 100 && passing.length === 0; i++) {
    passing = await consul.health.service({ service: "nweb", passing: true });
    if (passing.length === 0) await sleep(100);
  }
  out.passing = passing.map((e) => ({
    node: e.Node.Node, id: e.Service.ID, port: e.Service.Port, tags: e.Service.Tags,
    checks: e.Checks.map((c) => [c.CheckID, c.Status]),
  }));
  out.catalog = (await consul.catalog.service.nodes("nweb")).map((e) => e.ServiceID);

  // Blocking on A.
  await consul.agent.service.register({ name: "na", id: "na1", port: 1 });
  await consul.agent.service.register({ name: "nb", id: "nb1", port: 1 });
  // The client's own watch: a blocking query, again after each answer.
  const changes = [];
  const watch = consul.watch({ method: consul.health.service, options: { service: "na", wait: "20s" } });
  watch.on("change", (data, res) => {
    changes.push({ index: res.headers["x-consul-index"], port: data.length ? data[0].Service.Port : null });
  });
  watch.on("error", (e) => { out.watch_error = String(e); });
  for (let i = 0; i < 100 && changes.length === 0; i++) await sleep(50);
  out.index0 = changes.length ? changes[0].index : null;
  await sleep(300);
  await consul.agent.service.register({ name: "nb", id: "nb1", port: 2 }); // B changes
  await sleep(1000);
  out.changes_after_b = changes.length;
  out.held_after_b = await held();
  const t0 = Date.now();
  await consul.agent.service.register({ name: "na", id: "na1", port: 3 }); // A changes
  for (let i = 0; i < 200 && changes.length < 2; i++) await sleep(50);
  out.woke_ms = Date.now() - t0;
  out.index1 = changes.length > 1 ? changes[1].index : null;
  out.port_after = changes.length > 1 ? changes[1].port : null;
  watch.end();

  await consul.agent.service.deregister("nweb1");
  out.after_deregister = await consul.health.service("nweb");
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error("error:", e && e.stack ? e.stack : e);
  process.exit(1);
});
