"""`heed checks` and `heed status` against a real agent on a loopback port:
every subcommand's output lines and exit codes, the agent's errors as the
CLI prints them, an unreachable agent (exit 3, the address named), the
address and token from flags and from HEED_* / CONSUL_* variables, tokens
and tenants, and `heed status`'s Nagios exit codes (0, 1, 2, 3)."""

import json
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import agent_harness  # noqa: E402
import harness  # noqa: E402
from harness import HeedTestCase, Registry, free_port, run_heed, scaled  # noqa: E402

LONG = "x" * 150


def config(port, closed):
    """up: passing; down: refused, critical at once; warn: a Nagios plugin's
    warning (exit 1); chatty: passing with a long output (exec: checks are
    allowed from the config file)."""
    return {"checks": [
        {"name": "up", "target": "tcp://127.0.0.1:%d" % port, "interval": "500ms",
         "tags": ["web", "core"]},
        {"name": "down", "target": "tcp://127.0.0.1:%d" % closed, "interval": "500ms",
         "timeout": "400ms", "failures_before_critical": 1},
        {"name": "warn", "target": "exec:sh -c 'echo degraded; exit 1'", "interval": "500ms",
         "tags": ["web"]},
        {"name": "chatty", "target": "exec:echo " + LONG, "interval": "500ms"},
    ]}


def start_agent(reg, cfg, port=None):
    """An agent on cfg (a dict; a function of the port when callable)."""
    port = port or free_port()
    a = agent_harness.Agent(reg, cfg(port) if callable(cfg) else cfg, port=port).start()
    a.addr = "http://127.0.0.1:%d" % port
    return a


def clean_env(**extra):
    return agent_harness.client_env(None, **extra)

HEADER = "ID      STATUS       LATENCY    LAST CHECKED  OUTPUT"


def heed(agent_or_addr, *args, env=None, **extra_env):
    """`heed ARGS` with HEED_HTTP_ADDR set to the agent, nothing else
    inherited about agents."""
    addr = agent_or_addr if isinstance(agent_or_addr, str) else agent_or_addr.addr
    e = env if env is not None else clean_env(HEED_HTTP_ADDR=addr, **extra_env)
    return run_heed(list(args), env=e, timeout=20)


class NoTokens(unittest.TestCase):
    """One agent without tokens: everything is allowed from loopback."""

    maxDiff = None

    @classmethod
    def setUpClass(cls):
        cls.reg = Registry()
        try:
            cls.closed = free_port()
            cls.agent = start_agent(cls.reg, lambda port: config(port, cls.closed))
            for cid in ("up", "chatty"):
                cls.agent.wait_status(cid, "passing")
            cls.agent.wait_status("down", "critical")
            cls.agent.wait_status("warn", "warning")
        except BaseException:
            cls.reg.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()

    def run_ok(self, *args, **kw):
        rc, out, err = heed(self.agent, *args, **kw)
        self.assertEqual(rc, 0, "heed %s: %s%s" % (" ".join(args), out, err))
        self.assertEqual(err, "")
        return out

    def run_fails(self, rc_want, *args, **kw):
        rc, out, err = heed(self.agent, *args, **kw)
        self.assertEqual(rc, rc_want, "heed %s: %s%s" % (" ".join(args), out, err))
        self.assertEqual(out, "")
        return err

    # --- list --------------------------------------------------------------

    def test_list_table(self):
        out = self.run_ok("checks", "list")
        lines = out.splitlines()
        self.assertEqual(lines[0], HEADER)
        rows = [re.split(r"\s{2,}", l) for l in lines[1:]]
        self.assertEqual([r[0] for r in rows], ["chatty", "down", "up", "warn"])
        by_id = {r[0]: r for r in rows}
        self.assertEqual(by_id["up"][1], "passing")
        self.assertEqual(by_id["down"][1], "critical")
        self.assertEqual(by_id["warn"][1], "warning")
        self.assertEqual(by_id["down"][4], "connection refused")
        self.assertEqual(by_id["up"][4], "connected")
        self.assertEqual(by_id["warn"][4], "exit status 1: degraded")
        for r in rows:
            self.assertRegex(r[2], r"^\d+\.\d+(ms|s)$")
            self.assertRegex(r[3], r"^\d+s ago$")
        for l in lines:
            self.assertLessEqual(len(l), 100, l)
        chatty = [l for l in lines if l.startswith("chatty ")][0]
        self.assertEqual(len(chatty), 100)
        self.assertTrue(chatty.endswith("x" * 37 + "..."), chatty)
        # columns line up under the header
        for l in lines[1:]:
            self.assertRegex(l[6:], r"^  (passing|warning|critical) +\d", l)
            self.assertEqual(l[19:21], "  ", l)

    def test_list_filters(self):
        out = self.run_ok("checks", "list", "--status", "critical")
        self.assertEqual([l.split()[0] for l in out.splitlines()], ["ID", "down"])
        out = self.run_ok("checks", "list", "--tag=web")
        self.assertEqual([l.split()[0] for l in out.splitlines()], ["ID", "up", "warn"])
        out = self.run_ok("checks", "list", "--tag", "web", "--status", "warning")
        self.assertEqual([l.split()[0] for l in out.splitlines()], ["ID", "warn"])
        out = self.run_ok("checks", "list", "--tag", "nothing")
        self.assertEqual(out, "ID  STATUS       LATENCY    LAST CHECKED  OUTPUT\n")

    def test_list_json(self):
        out = self.run_ok("checks", "list", "--json", "--tag", "web")
        arr = json.loads(out)
        self.assertEqual([c["id"] for c in arr], ["up", "warn"])
        self.assertEqual(arr[0]["tags"], ["web", "core"])
        self.assertEqual(arr[1]["status"], "warning")

    def test_list_usage_errors(self):
        err = self.run_fails(2, "checks", "list", "--status", "bad")
        self.assertEqual(err, "heed checks: --status 'bad': expected passing, warning, critical "
                              "or maintenance (see heed checks --help)\n")
        err = self.run_fails(2, "checks", "list", "--tag", "a", "--tag", "b")
        self.assertIn("list filters by one --tag", err)
        err = self.run_fails(2, "checks", "list", "--name", "x")
        self.assertEqual(err, "heed checks: flag '--name' does not apply to 'list' "
                              "(see heed checks --help)\n")
        err = self.run_fails(2, "checks", "list", "extra")
        self.assertIn("unexpected argument 'extra'", err)
        err = self.run_fails(2, "checks")
        self.assertIn("give a subcommand: list, get, add, rm, pause, resume or history", err)
        err = self.run_fails(2, "checks", "frob")
        self.assertIn("unknown subcommand 'frob'", err)
        err = self.run_fails(2, "checks", "list", "--frob")
        self.assertIn("unknown flag '--frob'", err)
        err = self.run_fails(2, "checks", "get")
        self.assertIn("get needs a check id", err)
        err = self.run_fails(2, "checks", "list", "--addr")
        self.assertIn("flag '--addr' needs a value", err)

    # --- get ---------------------------------------------------------------

    def test_get(self):
        out = self.run_ok("checks", "get", "down")
        fields = dict(re.match(r"(\w[\w ]*):\s+(.*)$", l).groups() for l in out.splitlines())
        self.assertEqual(fields["ID"], "down")
        self.assertEqual(fields["Target"], "tcp://127.0.0.1:%d" % self.closed)
        self.assertEqual(fields["Interval"], "500ms")
        self.assertEqual(fields["Timeout"], "400ms")
        self.assertEqual(fields["Status"], "critical (connect_refused)")
        self.assertEqual(fields["Output"], "connection refused")
        self.assertEqual(fields["Source"], "config")
        self.assertEqual(fields["Tenant"], "default")
        self.assertEqual(fields["Tags"], "-")
        self.assertEqual(fields["Last success"], "never")
        self.assertRegex(fields["Last checked"], r"^\d{4}-\d\d-\d\dT[\d:.]+Z \(\d+s ago\)$")
        out = self.run_ok("checks", "get", "up")
        self.assertIn("Status:       passing\n", out)
        self.assertIn("Tags:         web, core\n", out)

    def test_get_json_and_unknown(self):
        c = json.loads(self.run_ok("checks", "get", "warn", "--json"))
        self.assertEqual((c["id"], c["status"], c["source"]), ("warn", "warning", "config"))
        err = self.run_fails(1, "checks", "get", "nope")
        self.assertEqual(err, "heed checks: no check 'nope' in tenant 'default' "
                              "(HTTP 404 not_found)\n")
        # ids are escaped into the path
        err = self.run_fails(1, "checks", "get", "a/b c")
        self.assertEqual(err, "heed checks: no check 'a/b c' in tenant 'default' "
                              "(HTTP 404 not_found)\n")

    # --- add, rm ------------------------------------------------------------

    def test_add_from_flags_then_rm(self):
        url = "http://127.0.0.1:%d/v1/status" % self.agent.port
        out = self.run_ok("checks", "add", "--name", "api status", "--id", "api-status",
                          "--target", url, "--interval", "1s", "--timeout=500ms",
                          "--tag", "web", "--tag", "new", "--expect-status", "200,204",
                          "--body-contains", "node", "--latency-ms", "400")
        self.assertEqual(out, "added check api-status: %s every 1s\n" % url)
        self.agent.wait_status("api-status", "passing")
        out = self.run_ok("checks", "get", "api-status")
        self.assertIn("Name:         api status\n", out)
        self.assertIn('Expect:       status=[200,204], body_contains="node", latency_ms=400\n',
                      out)
        self.assertIn("Tags:         web, new\n", out)
        self.assertIn("Source:       api\n", out)
        self.assertIn("Output:       HTTP 200\n", out)
        err = self.run_fails(1, "checks", "add", "--name", "api-status", "--target", url)
        self.assertEqual(err, "heed checks: a check with id 'api-status' exists in tenant "
                              "'default' (HTTP 409 conflict)\n")
        self.assertEqual(self.run_ok("checks", "rm", "api-status"), "removed check api-status\n")
        err = self.run_fails(1, "checks", "rm", "api-status")
        self.assertEqual(err, "heed checks: no check 'api-status' in tenant 'default' "
                              "(HTTP 404 not_found)\n")

    def test_add_json_reply(self):
        out = self.run_ok("checks", "add", "--name", "j-tcp", "--json",
                          "--target", "tcp://127.0.0.1:%d" % self.agent.port)
        c = json.loads(out)
        self.assertEqual((c["id"], c["interval"], c["source"]), ("j-tcp", "10s", "api"))
        self.assertEqual(json.loads(self.run_ok("checks", "rm", "j-tcp", "--json")),
                         {"id": "j-tcp", "deleted": True})

    def test_add_refused_by_the_agent(self):
        err = self.run_fails(1, "checks", "add", "--name", "f", "--target", "ftp://x/")
        self.assertRegex(err, r"^heed checks: body:\d+:\d+: target: unknown scheme 'ftp' .*"
                              r"\(HTTP 400 bad_field\)\n$")
        err = self.run_fails(1, "checks", "add", "--name", "e", "--target", "exec:true")
        self.assertIn("(HTTP 403 exec_forbidden)", err)
        err = self.run_fails(1, "checks", "rm", "up")
        self.assertEqual(err, "heed checks: check 'up' is defined in the config file: change it "
                              "there (SIGHUP reloads) (HTTP 409 from_config)\n")

    def test_add_usage_errors(self):
        err = self.run_fails(2, "checks", "add", "--name", "x")
        self.assertIn("add needs --name and --target (or -f FILE)", err)
        err = self.run_fails(2, "checks", "add", "--name", "x", "--target", "tcp://a:1",
                             "--interval", "ten")
        self.assertIn("--interval: invalid duration 'ten'", err)
        err = self.run_fails(2, "checks", "add", "--name", "x", "--target", "tcp://a:1",
                             "--expect-status", "200,abc")
        self.assertIn("--expect-status '200,abc': expected HTTP codes", err)
        err = self.run_fails(2, "checks", "add", "--name", "x", "--target", "tcp://a:1",
                             "--latency-ms", "-5")
        self.assertIn("--latency-ms '-5'", err)
        err = self.run_fails(2, "checks", "add", "-f", "x.json", "--name", "x")
        self.assertIn("-f FILE holds the whole check", err)
        err = self.run_fails(2, "checks", "rm", "up", "--status", "passing")
        self.assertIn("flag '--status' does not apply to 'rm'", err)

    def test_add_from_yaml_and_json_files(self):
        d = self.reg.tempdir()
        yml = os.path.join(d, "check.yaml")
        with open(yml, "w") as f:
            f.write("# a check\nname: from-yaml\ntarget: tcp://127.0.0.1:%d\ninterval: 1s\n"
                    "timeout: 300ms\ntags: [a, 'b']\nexpect: {latency_ms: 250}\n"
                    "failures_before_critical: 2\n" % self.closed)
        out = self.run_ok("checks", "add", "-f", yml)
        self.assertEqual(out, "added check from-yaml: tcp://127.0.0.1:%d every 1s\n" % self.closed)
        c = self.agent.check("from-yaml")
        self.assertEqual(c["tags"], ["a", "b"])
        self.assertEqual(c["expect"], {"latency_ms": 250})
        self.assertEqual(c["failures_before_critical"], 2)
        # JSON on stdin
        body = json.dumps({"name": "from-stdin", "ttl": "30s", "tags": ["t"]})
        rc, out, err = run_stdin(self.agent, ["checks", "add", "--file", "-"], body)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "added check from-stdin (ttl 30s)\n")
        self.assertEqual(self.agent.check("from-stdin")["ttl"], "30s")
        for cid in ("from-yaml", "from-stdin"):
            self.run_ok("checks", "rm", cid)

    def test_add_bad_files(self):
        d = self.reg.tempdir()
        bad = os.path.join(d, "bad.yaml")
        with open(bad, "w") as f:
            f.write("name: a\ntarget: [tcp://x:1\n")
        err = self.run_fails(1, "checks", "add", "-f", bad)
        self.assertRegex(err, r"^heed checks: %s:\d+:\d+: " % re.escape(bad))
        with open(bad, "w") as f:
            f.write("name: a\nname: b\n")
        err = self.run_fails(1, "checks", "add", "-f", bad)
        self.assertEqual(err, "heed checks: %s:2:1: key 'name' given twice\n" % bad)
        with open(bad, "w") as f:
            f.write("[1, 2]\n")
        err = self.run_fails(1, "checks", "add", "-f", bad)
        self.assertIn("%s: expected a check: a mapping of name, target" % bad, err)
        missing = os.path.join(d, "missing.yaml")
        err = self.run_fails(1, "checks", "add", "-f", missing)
        self.assertEqual(err, "heed checks: cannot open %s: No such file or directory\n" % missing)

    # --- pause, resume, status ---------------------------------------------

    def test_pause_resume(self):
        self.agent.ok("POST", "/v1/checks", {
            "name": "pz", "target": "tcp://127.0.0.1:%d" % self.agent.port, "interval": "500ms"},
            status=201)
        self.addCleanup(self.agent.call, "DELETE", "/v1/checks/pz")
        self.agent.wait_status("pz", "passing")
        self.assertEqual(self.run_ok("checks", "pause", "pz"),
                         "paused check pz: maintenance until resumed\n")
        out = self.run_ok("checks", "list", "--status", "maintenance")
        self.assertEqual([l.split()[0] for l in out.splitlines()], ["ID", "pz"])
        self.assertIn("Status:       maintenance\n", self.run_ok("checks", "get", "pz"))
        self.assertRegex(self.run_ok("checks", "resume", "pz"),
                         r"^resumed check pz: (passing|critical|warning)\n$")
        self.agent.wait_status("pz", "passing")
        err = self.run_fails(1, "checks", "pause", "nope")
        self.assertEqual(err, "heed checks: no check 'nope' in tenant 'default' "
                              "(HTTP 404 not_found)\n")

    def test_status(self):
        rc, out, err = heed(self.agent, "status")
        self.assertEqual(rc, 2, out + err)  # "down" is critical
        self.assertEqual(err, "")
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^Node:     \S+$")
        self.assertRegex(lines[1], r"^Version:  \d+\.\d+\.\d+")
        self.assertRegex(lines[2], r"^Uptime:   (\d+[smhd])+ \(since \d{4}-\d\d-\d\dT[\d:.]+Z\)$")
        self.assertEqual(lines[3], "Agent:    " + self.agent.addr)
        self.assertRegex(lines[4], r"^Checks:   \d+ total: \d+ passing, 1 warning, 1 critical, "
                                   r"\d+ maintenance$")
        rc, out, _ = heed(self.agent, "status", "--json")
        self.assertEqual(rc, 2)
        st = json.loads(out)
        self.assertEqual((st["checks"]["critical"], st["checks"]["warning"]), (1, 1))
        rc, _, err = heed(self.agent, "status", "--frob")
        self.assertEqual(rc, 3)
        self.assertIn("heed status: unknown flag '--frob'", err)

    # --- addresses -----------------------------------------------------------

    def test_env_fallbacks_and_flags(self):
        nobody = "127.0.0.1:%d" % free_port()
        base = ["checks", "get", "up"]
        for env, what in (
                (clean_env(HEED_HTTP_ADDR=self.agent.addr), "HEED_HTTP_ADDR"),
                (clean_env(CONSUL_HTTP_ADDR=self.agent.addr), "CONSUL_HTTP_ADDR"),
                (clean_env(HEED_HTTP_ADDR="127.0.0.1:%d" % self.agent.port,
                           CONSUL_HTTP_ADDR=nobody), "HEED_HTTP_ADDR before CONSUL_HTTP_ADDR"),
                (clean_env(HEED_HTTP_ADDR="", CONSUL_HTTP_ADDR=self.agent.addr),
                 "an empty HEED_HTTP_ADDR"),
        ):
            rc, out, err = run_heed(base, env=env)
            self.assertEqual(rc, 0, "%s: %s" % (what, err))
            self.assertTrue(out.startswith("ID:           up\n"), what)
        # --addr wins over both variables
        env = clean_env(HEED_HTTP_ADDR=nobody, CONSUL_HTTP_ADDR=nobody)
        rc, out, err = run_heed(base + ["--addr", self.agent.addr + "/"], env=env)
        self.assertEqual(rc, 0, err)
        rc, out, err = run_heed(["status", "--addr=" + self.agent.addr], env=env)
        self.assertEqual(rc, 2, err)
        err = self.run_fails(2, "checks", "list", "--addr", "unix:///x.sock")
        self.assertIn("agent address 'unix:///x.sock' is not http:// or https://", err)


def run_stdin(agent, args, stdin_text):
    """heed ARGS with stdin_text on its standard input."""
    p = subprocess.run([harness.HEED] + args, input=stdin_text, capture_output=True, text=True,
                       timeout=harness.scaled(20), env=clean_env(HEED_HTTP_ADDR=agent.addr))
    return p.returncode, p.stdout, p.stderr


class Unreachable(HeedTestCase):
    def test_exit_3_naming_the_address(self):
        port = free_port()
        addr = "http://127.0.0.1:%d" % port
        for args in (["checks", "list"], ["checks", "get", "x"], ["checks", "rm", "x"],
                     ["checks", "pause", "x"], ["checks", "resume", "x"],
                     ["checks", "add", "--name", "n", "--target", "tcp://a:1"]):
            rc, out, err = run_heed(args, env=clean_env(HEED_HTTP_ADDR=addr))
            self.assertEqual(rc, 3, args)
            self.assertEqual(out, "")
            self.assertRegex(err, r"^heed checks: cannot reach the agent at %s \(from "
                                  r"HEED_HTTP_ADDR\): .*; is `heed agent` running there\?\n$"
                             % re.escape(addr))
        rc, out, err = run_heed(["status"], env=clean_env(CONSUL_HTTP_ADDR=addr))
        self.assertEqual((rc, out), (3, ""))
        self.assertIn("heed status: cannot reach the agent at %s (from CONSUL_HTTP_ADDR)" % addr,
                      err)
        rc, _, err = run_heed(["status", "--addr", addr], env=clean_env())
        self.assertEqual(rc, 3)
        self.assertIn("(from --addr)", err)

    def test_help_documents_exit_codes(self):
        rc, out, _ = run_heed(["checks", "--help"])
        self.assertEqual(rc, 0)
        self.assertIn("3 the agent could not be reached", out)
        self.assertIn("HEED_HTTP_ADDR, else CONSUL_HTTP_ADDR", out)
        rc, out, _ = run_heed(["status", "--help"])
        self.assertEqual(rc, 0)
        self.assertIn("0 every check passing", out)
        rc, out, _ = run_heed(["--help"])
        self.assertIn("\n  checks ", out)
        self.assertIn("\n  status ", out)


def tokens_config(port):
    return {
        "tokens": [{"secret": "mgmt-secret", "role": "management"},
                   {"secret": "a-write", "role": "write", "tenant": "team-a"},
                   {"secret": "a-read", "role": "read", "tenant": "team-a"},
                   {"secret": "b-write", "role": "write", "tenant": "team-b"}],
        "checks": [{"name": "up", "target": "tcp://127.0.0.1:%d" % port, "interval": "500ms"}],
    }


class Tokens(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.agent = start_agent(self.reg, tokens_config)

    def test_no_token_bad_token_and_sources(self):
        a = self.agent
        rc, out, err = heed(a, "checks", "list")
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err, r"^heed checks: this agent needs a token: .* "
                              r"\(HTTP 401 no_token\)\n$")
        rc, _, err = heed(a, "checks", "list", HEED_TOKEN="wrong")
        self.assertEqual(rc, 1)
        self.assertIn("(HTTP 403 bad_token)", err)
        for env in (clean_env(HEED_HTTP_ADDR=a.addr, HEED_TOKEN="mgmt-secret"),
                    clean_env(HEED_HTTP_ADDR=a.addr, CONSUL_HTTP_TOKEN="mgmt-secret"),
                    clean_env(HEED_HTTP_ADDR=a.addr, HEED_TOKEN="mgmt-secret",
                              CONSUL_HTTP_TOKEN="wrong")):
            rc, out, err = run_heed(["checks", "list"], env=env)
            self.assertEqual(rc, 0, err)
            self.assertEqual(out.splitlines()[0],
                             "ID  STATUS       LATENCY    LAST CHECKED  OUTPUT")
        env = clean_env(HEED_HTTP_ADDR=a.addr, HEED_TOKEN="wrong", CONSUL_HTTP_TOKEN="wrong")
        rc, _, err = run_heed(["checks", "list", "--token", "mgmt-secret"], env=env)
        self.assertEqual(rc, 0, err)
        # status: an agent that refuses is "unknown" (3), not "warning"
        rc, out, err = heed(a, "status")
        self.assertEqual((rc, out), (3, ""))
        self.assertIn("heed status: ", err)
        self.assertIn("(HTTP 401 no_token)", err)
        a.wait_status("up", "passing", token="mgmt-secret")
        rc, out, err = heed(a, "status", "--token", "mgmt-secret")
        self.assertEqual(rc, 0, err)

    def test_tenants_and_roles(self):
        a = self.agent
        tcp = "tcp://127.0.0.1:%d" % a.port
        rc, out, err = heed(a, "checks", "add", "--name", "a1", "--target", tcp,
                            "--token", "a-write")
        self.assertEqual(rc, 0, err)
        rc, out, err = heed(a, "checks", "get", "a1", HEED_TOKEN="a-read")
        self.assertEqual(rc, 0, err)
        self.assertIn("Tenant:       team-a\n", out)
        rc, out, err = heed(a, "checks", "add", "--name", "a2", "--target", tcp,
                            HEED_TOKEN="a-read")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "heed checks: POST /v1/checks needs the write role; this token has "
                              "read (HTTP 403 forbidden)\n")
        # Another tenant's check is as unknown to team-b as one that does not exist.
        rc, out, err = heed(a, "checks", "get", "a1", HEED_TOKEN="b-write")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "heed checks: no check 'a1' in tenant 'team-b' "
                              "(HTTP 404 not_found)\n")
        rc, out, err = heed(a, "checks", "list", HEED_TOKEN="a-read")
        self.assertEqual([l.split()[0] for l in out.splitlines()], ["ID", "a1"])
        rc, out, err = heed(a, "checks", "rm", "a1", HEED_TOKEN="b-write")
        self.assertEqual(rc, 1)
        rc, out, err = heed(a, "checks", "rm", "a1", HEED_TOKEN="a-write")
        self.assertEqual((rc, out), (0, "removed check a1\n"), err)


def status_config(port):
    return {"enable_api_exec_checks": True,
            "checks": [{"name": "up", "target": "tcp://127.0.0.1:%d" % port,
                        "interval": "300ms"}]}


class StatusExitCodes(HeedTestCase):
    """0 all passing, 1 some warning, 2 some critical; paused checks do
    not count."""

    def status_rc(self):
        rc, out, err = heed(self.agent, "status")
        self.assertEqual(err, "")
        self.out = out
        return rc, next(ln for ln in out.splitlines() if ln.startswith("Checks:"))

    def test_codes_follow_the_worst_check(self):
        a = self.agent = start_agent(self.reg, status_config)
        a.wait_status("up", "passing")
        self.assertEqual(self.status_rc(), (0, "Checks:   1 total: 1 passing, 0 warning, "
                                               "0 critical, 0 maintenance"))
        closed = "tcp://127.0.0.1:%d" % free_port()
        a.ok("POST", "/v1/checks", {"name": "w", "target": "exec:sh -c 'exit 1'",
                                    "interval": "300ms"}, status=201)
        a.wait_status("w", "warning")
        self.assertEqual(self.status_rc(), (1, "Checks:   2 total: 1 passing, 1 warning, "
                                               "0 critical, 0 maintenance"))
        # The checks not passing are named, with their output.
        self.assertTrue(self.out.endswith("\nNot passing:\n  warning   w: exit status 1\n"),
                        self.out)
        a.ok("POST", "/v1/checks", {"name": "c", "target": closed, "interval": "300ms",
                                    "timeout": "200ms", "failures_before_critical": 1},
             status=201)
        a.wait_status("c", "critical")
        self.assertEqual(self.status_rc()[0], 2)
        # (critical from its creation: "not checked yet" until its first run)
        self.assertRegex(self.out, r"\nNot passing:\n  critical  c: .+\n"
                                   r"  warning   w: exit status 1\n$")
        rc, _, err = heed(a, "checks", "pause", "c")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.status_rc(), (1, "Checks:   3 total: 1 passing, 1 warning, "
                                               "0 critical, 1 maintenance"))
        rc, _, err = heed(a, "checks", "pause", "w")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.status_rc()[0], 0)
        self.assertEqual(a.stop(), 0)
        rc, out, err = heed(a, "status")
        self.assertEqual((rc, out), (3, ""))
        self.assertIn("cannot reach the agent at %s" % a.addr, err)

    def test_resume_keeps_the_last_status_and_runs_at_once(self):
        a = self.agent = start_agent(self.reg, status_config)
        a.wait_status("up", "passing")
        # Resuming a healthy check leaves it passing: heed status stays 0
        # (it used to turn critical until the next run).
        rc, _, err = heed(a, "checks", "pause", "up")
        self.assertEqual(rc, 0, err)
        rc, out, err = heed(a, "checks", "resume", "up")
        self.assertEqual((rc, out), (0, "resumed check up: passing\n"), err)
        self.assertEqual(self.status_rc()[0], 0)
        c = a.check("up")
        self.assertEqual((c["status"], c["output"]), ("passing", "connected"))

        # A check whose first run is an hour away runs as soon as resumed.
        a.ok("POST", "/v1/checks", {"name": "later", "interval": "1h",
                                    "target": "tcp://127.0.0.1:%d" % a.port}, status=201)
        time.sleep(scaled(1.0))
        c = a.check("later")
        self.assertEqual((c["status"], c["output"]), ("critical", "not checked yet"))
        for verb in ("pause", "resume"):
            rc, _, err = heed(a, "checks", verb, "later")
            self.assertEqual(rc, 0, err)
        c = a.wait_status("later", "passing", timeout=scaled(5))
        self.assertEqual(c["output"], "connected")


if __name__ == "__main__":
    harness.main()
