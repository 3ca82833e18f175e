"""consul_clients — the third-party Consul clients the discovery tests
drive unchanged: Debian's python3-consul (imported from /usr/lib/python3,
the interpreter ctest runs) and npm's `consul` (tests/clients/node_modules,
run by `node` on a script the test writes).

  * py(agent, token=None): a consul.Consul for the agent's port;
  * node(reg, agent, body): runs an async JS body with `consul` bound to a
    client of the agent, and returns what it printed as JSON (the body
    ends with `out(value)`); a failure of the script fails the test with
    its stderr.
"""

import json
import os
import shutil
import subprocess

import consul

from harness import scaled

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(os.path.dirname(HERE), "clients", "node_modules")

__all__ = ["py", "node", "node_missing"]


def py(agent, token=None):
    return consul.Consul(host="127.0.0.1", port=agent.port, token=token)


def node_missing():
    """Why the npm client cannot run here, or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.isdir(os.path.join(CLIENTS, "consul")):
        return "tests/clients/node_modules/consul is missing (scripts/deps.sh installs it)"
    return None


def node(reg, agent, body, token=None, timeout=60):
    d = reg.tempdir(prefix="heed-node-")
    path = os.path.join(d, "t.js")
    opts = {"host": "127.0.0.1", "port": agent.port}
    if token:
        opts["defaults"] = {"token": token}
    with open(path, "w") as f:
        f.write("const Consul = require('consul');\n"
                "const consul = new Consul(%s);\n"
                "function out(v) { process.stdout.write(JSON.stringify(v)); }\n"
                "(async () => {\n%s\n})().catch((e) => {\n"
                "  console.error(e && e.stack || e); process.exit(1); });\n"
                % (json.dumps(opts), body))
    env = dict(os.environ, NODE_PATH=CLIENTS)
    p = subprocess.run(["node", path], capture_output=True, text=True, env=env,
                       timeout=scaled(timeout))
    if p.returncode != 0:
        raise AssertionError("node client failed (%d):\n%s" % (p.returncode, p.stderr[-3000:]))
    return json.loads(p.stdout) if p.stdout else None
