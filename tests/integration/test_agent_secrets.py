"""Passwords in check targets stay secret (issue 8, item 11): checks whose
targets hold a known password (redis with AUTH against real redis-servers,
postgres and mysql DSNs with the password in the user info or in
?password=, an http URL with a percent-encoded one) are created through
the API, the CLI and the config file; then EVERY reply, metric, CLI output
and line the agent logs is searched for the password, in both its decoded
and its written form: lists, single checks, creation and replace replies,
history, status, metrics, ping, 400s for a bad field next to a password or
a target that does not parse, a probe that fails, a server that echoes the
password back (a redis-server with AUTH renamed away quotes its
arguments), a bad config file on reload and under --validate, and
`heed wait`. Only the probe uses the password: a GET then PUT of the same
body keeps the stored password (the check still authenticates, also after
a restart); "***" anywhere else is refused."""

import json
import os
import shutil
import signal
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, free_port, main, run_heed, wait_until  # noqa: E402
from agent_harness import Agent, to_yaml  # noqa: E402

REDIS = shutil.which("redis-server")
PW = "Sekr3t-pw-7731"
# Written percent-encoded in the URL; the server gets the decoded form.
PW2_URL, PW2 = "p%40ss-w0rd-5519", "p@ss-w0rd-5519"
SECRETS = (PW, PW2_URL, PW2, "p%40ss")
MGMT, A_W, READER = "m", "a-w", "r"
TOKENS = [{"secret": MGMT, "role": "management"},
          {"secret": A_W, "role": "write", "tenant": "team-a"},
          {"secret": READER, "role": "read"}]


class RedisServer:
    def __init__(self, reg, *extra):
        self.dir = reg.tempdir(prefix="heed-redis-")
        self.port = free_port()
        reg.popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                   "--logfile", os.path.join(self.dir, "redis.log")] + list(extra))

        def up():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        wait_until(up, 10, what="redis-server on %d" % self.port)


@unittest.skipIf(not REDIS, "redis-server not installed")
class Secrets(HeedTestCase):
    maxDiff = None

    def setUp(self):
        super().setUp()
        self.seen = []  # (what, text) of everything the agent and heed said
        self.auth = RedisServer(self.reg, "--requirepass", PW)
        # AUTH renamed away: the server answers "unknown command 'AUTH',
        # with args beginning with: '<password>'".
        self.echo = RedisServer(self.reg, "--rename-command", "AUTH", "")
        self.closed = free_port()
        self.redis_url = "redis://:%s@127.0.0.1:%d" % (PW, self.auth.port)
        self.cfg = {"tokens": TOKENS, "checks": [
            {"name": "cfg-redis", "target": self.redis_url, "interval": "200ms"}]}
        self.a = Agent(self.reg, self.cfg).start()

    def call(self, method, path, body=None, token=MGMT, status=None):
        r = self.a.call(method, path, body, token=token)
        self.seen.append(("%s %s -> %d" % (method, path, r.status),
                          r.body.decode(errors="replace") + repr(r.headers)))
        if status is not None:
            self.assertEqual(r.status, status, r)
        return r

    def heed(self, *args, env_token=MGMT):
        env = {k: v for k, v in os.environ.items()
               if k not in ("HEED_HTTP_ADDR", "CONSUL_HTTP_ADDR", "HEED_TOKEN",
                            "CONSUL_HTTP_TOKEN", "HEED_NAMESPACE", "CONSUL_NAMESPACE")}
        env.update(HEED_HTTP_ADDR="127.0.0.1:%d" % self.a.port, HEED_TOKEN=env_token)
        rc, out, err = run_heed(list(args), env=env)
        self.seen.append(("heed " + " ".join(args), out + err))
        return rc, out, err

    def assert_no_secret_seen(self):
        logs = [("agent stdout", self.a.stdout()), ("agent stderr", self.a.stderr())]
        for what, text in self.seen + logs:
            for s in SECRETS:
                if s in text:
                    self.fail("%r shows the password %r:\n%s" % (what, s, text[:3000]))
        self.assertGreater(len(self.seen), 40)

    def test_no_reply_metric_output_or_log_line_shows_it(self):
        a = self.a
        targets = {
            "redis-auth": self.redis_url,
            "redis-echo": "redis://:%s@127.0.0.1:%d" % (PW, self.echo.port),
            "redis-acl": "redis://default:%s@127.0.0.1:%d/0" % (PW2_URL, self.closed),
            "pg": "postgres://app:%s@127.0.0.1:%d/app?sslmode=disable" % (PW, self.closed),
            "pg-query": "postgresql://app@127.0.0.1:%d/app?sslmode=disable&password=%s"
                        % (self.closed, PW),
            "mysql": "mysql://root:%s@127.0.0.1:%d/shop" % (PW2_URL, self.closed),
            "http": "http://admin:%s@127.0.0.1:%d/v1/status" % (PW2_URL, a.port),
        }
        shown = {
            "redis-auth": "redis://:***@127.0.0.1:%d" % self.auth.port,
            "redis-echo": "redis://:***@127.0.0.1:%d" % self.echo.port,
            "redis-acl": "redis://default:***@127.0.0.1:%d/0" % self.closed,
            "pg": "postgres://app:***@127.0.0.1:%d/app?sslmode=disable" % self.closed,
            "pg-query": "postgresql://app@127.0.0.1:%d/app?sslmode=disable&password=***"
                        % self.closed,
            "mysql": "mysql://root:***@127.0.0.1:%d/shop" % self.closed,
            "http": "http://admin:***@127.0.0.1:%d/v1/status" % a.port,
        }
        for cid, target in targets.items():
            r = self.call("POST", "/v1/checks", {"name": cid, "target": target,
                                                 "interval": "200ms", "timeout": "150ms",
                                                 "failures_before_critical": 1},
                          token=A_W, status=201)
            self.assertEqual(r.json["target"], shown[cid])
        # The CLI's add and its reply.
        rc, out, err = self.heed("checks", "add", "--name", "cli-redis", "--target",
                                 self.redis_url, "--interval", "200ms", env_token=A_W)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "added check cli-redis: %s every 200ms\n" % shown["redis-auth"])

        # Real servers answer: the right password authenticates; the echoing
        # server's reply is shown without it; the closed ports fail.
        c = a.wait_check("redis-auth", lambda c: c["status"] == "passing", token=A_W)
        ok_output = c["output"]
        c = a.wait_check("redis-echo", lambda c: "AUTH" in c["output"], token=A_W)
        self.assertIn("with args beginning with: '***'", c["output"])
        for cid in ("pg", "mysql", "redis-acl", "pg-query"):
            a.wait_check(cid, lambda c: c["status"] == "critical" and
                         c["last_checked"] is not None, token=A_W)
        a.wait_check("http", lambda c: c["output"] == "HTTP 401", token=A_W)
        a.wait_status("cfg-redis", "passing", token=MGMT)

        # Everything that shows checks.
        for q in ("/v1/checks", "/v1/checks?ns=*", "/v1/checks?ns=team-a&limit=2",
                  "/v1/status?ns=*", "/metrics?ns=*", "/metrics", "/v1/ping?ns=*"):
            self.call("GET", q, status=200)
        for cid in targets:
            r = self.call("GET", "/v1/checks/%s" % cid, token=A_W, status=200)
            self.assertEqual(r.json["target"], shown[cid])
            self.call("GET", "/v1/checks/%s/history" % cid, token=A_W, status=200)
        for args in (("checks", "list"), ("checks", "list", "--json"),
                     ("checks", "list", "--ns", "*"), ("checks", "get", "redis-echo"),
                     ("checks", "get", "pg", "--json"), ("checks", "get", "cfg-redis"),
                     ("status", "--ns", "*")):
            rc, out, err = self.heed(*args, env_token=A_W if args[-1] != "cfg-redis" else MGMT)
            self.assertIn(rc, (0, 2), (args, err))
        rc, out, _ = self.heed("checks", "get", "redis-auth", env_token=A_W)
        self.assertIn("Target:       %s\n" % shown["redis-auth"], out)

        # GET, then PUT the same body: the stored password stays, and the
        # probe still authenticates with it.
        for cid in ("redis-auth", "pg", "pg-query", "mysql", "http"):
            body = self.call("GET", "/v1/checks/" + cid, token=A_W, status=200).json
            body["tags"] = ["edited"]
            r = self.call("PUT", "/v1/checks/" + cid, body, token=A_W, status=200)
            self.assertEqual((r.json["target"], r.json["tags"]), (shown[cid], ["edited"]))
        runs = a.check("redis-auth", token=A_W)["last_checked"]
        a.wait_check("redis-auth", lambda c: c["last_checked"] != runs, token=A_W)
        self.assertEqual(a.check("redis-auth", token=A_W)["output"], ok_output)
        # "***" anywhere else is refused: a new check, or a changed target
        # (the password must not go to a place it was not given for).
        moved = shown["redis-auth"].replace(str(self.auth.port), str(self.echo.port))
        for method, path, body in (
                ("POST", "/v1/checks", {"name": "copy", "target": shown["redis-auth"]}),
                ("PUT", "/v1/checks/redis-auth", {"target": moved}),
                ("PUT", "/v1/checks/pg-query", {"target": shown["pg-query"] + "&x=1"})):
            r = self.call(method, path, body, token=A_W, status=400)
            self.assertEqual(r.code, "bad_field")
            self.assertIn('"***" is how heed shows a password', r.error)
        self.assertEqual(a.check("redis-auth", token=A_W)["target"], shown["redis-auth"])

        # Errors next to a password, or about a target with one, do not show it.
        for body in ({"name": "e1", "target": self.redis_url, "interval": "ten"},
                     {"name": "e2", "target": self.redis_url + "\n"},
                     {"name": "e3", "target": "postgres://u:%s/x@127.0.0.1/db" % PW},
                     {"name": "e4", "target": "redis://127.0.0.1:1?password=" + PW},
                     {"name": "e6", "target": "redis://:%s@127.0.0.1:99999" % PW},
                     {"name": "e7", "target": ["redis://:%s@h" % PW]},
                     {"name": "e8", "target": "redis://:%s@127.0.0.1:1/x" % PW, "tags": "x"}):
            r = self.call("POST", "/v1/checks", body, token=A_W, status=400)
            self.assertEqual(r.code, "bad_field", r)
        r = self.call("POST", "/v1/checks", {"name": "e2", "target": self.redis_url + "\n"},
                      token=A_W, status=400)
        self.assertIn('got "redis://:***@127.0.0.1:%d\\x0a"' % self.auth.port, r.error)
        rc, out, err = self.heed("checks", "add", "--name", "e9", "--target",
                                 "mysql://root:%s@127.0.0.1:1/db?x" % PW, "--interval", "nope",
                                 env_token=A_W)
        self.assertEqual(rc, 2)  # a usage error: the CLI reads --interval itself
        rc, out, err = self.heed("checks", "add", "--name", "e10", "--target",
                                 "mysql://root:%s@127.0.0.1:99999/db" % PW, env_token=A_W)
        self.assertEqual(rc, 1)
        self.assertIn("(HTTP 400 bad_field)", err)

        # The config file: a bad target with a password, on reload and
        # under --validate.
        bad = dict(self.cfg, checks=[{"name": "x", "target": "redis://:%s@127.0.0.1:1/a" % PW},
                                     {"name": "y", "target": "postgres://u:%s/p@h/db" % PW},
                                     {"name": "z", "target": self.redis_url + "\t"}])
        a.reload(bad, expect="reload failed")
        path = os.path.join(self.reg.tempdir(), "bad.yaml")
        with open(path, "w") as f:
            f.write(to_yaml(dict(bad, bind="127.0.0.1:1")))
        rc, out, err = run_heed(["agent", "--validate", "-c", path])
        self.seen.append(("heed agent --validate", out + err))
        self.assertEqual(rc, 1, err)
        self.assertIn("checks[0].target: redis database 'a' is not a number", err)
        # heed wait against the echoing server and a bad URL.
        for url in ("redis://:%s@127.0.0.1:%d" % (PW, self.echo.port),
                    "postgres://u:%s/x@127.0.0.1/db" % PW,
                    "redis://:%s@127.0.0.1:%d" % (PW, self.closed)):
            rc, out, err = run_heed(["wait", "-t", "0.5", "--json", url])
            self.seen.append(("heed wait " + url, out + err))

        # A restart: the stored password is still the real one.
        self.assertEqual(a.stop(signal.SIGTERM), 0)
        self.seen.append(("agent stderr before the restart", a.stderr()))
        a.write_config(self.cfg)
        a.start()
        c = a.wait_check("redis-auth", lambda c: c["output"] == ok_output and
                         c["status"] == "passing", token=A_W)
        self.call("GET", "/v1/checks?ns=*", status=200)
        self.assert_no_secret_seen()
        # The store has it (only the probe's copy): not a wiped password.
        with open(os.path.join(a.data_dir, "heed.db"), "rb") as f:
            data = f.read()
        wal = os.path.join(a.data_dir, "heed.db-wal")
        if os.path.exists(wal):
            with open(wal, "rb") as f:
                data += f.read()
        self.assertIn(PW.encode(), data)


if __name__ == "__main__":
    main()
