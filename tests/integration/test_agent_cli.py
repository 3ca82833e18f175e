"""`heed agent` as a command: it refuses to listen beyond loopback without
tokens, `--validate -c FILE` checks a file (0 and "ok", or 1 and
file:line:column), usage errors exit 2, start-up errors exit 1 with a
message, and --dev runs its sample checks and cleans up after itself."""

import os
import re
import signal
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, HeedTestCase, free_port, main, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import Agent, API_LINE, http_call, tcp_listener, to_yaml  # noqa: E402


class Cli(HeedTestCase):
    def write(self, name, text):
        d = self.reg.tempdir()
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_no_tokens_no_listening_beyond_loopback(self):
        d = self.reg.tempdir()
        port = free_port()
        plain = self.write("plain.yaml", to_yaml({"data_dir": d + "/data"}))
        wide = self.write("wide.yaml", to_yaml({"bind": "0.0.0.0:%d" % port,
                                                "data_dir": d + "/data"}))
        for args in (["-c", plain, "--bind", "0.0.0.0:%d" % port],
                     ["-c", plain, "--bind", "[::]:%d" % port],
                     ["-c", wide]):
            # A run that listened would not exit: run_heed fails it after its timeout.
            rc, out, err = run_heed(["agent"] + args, timeout=20)
            self.assertEqual(rc, 1, (args, out, err))
            self.assertRegex(err, r"^heed agent: refusing to listen on (0\.0\.0\.0|::) "
                                  r"without tokens.*Configure tokens, or bind 127\.0\.0\.1\n$")
            self.assertNotIn("API:", out)
        # With a token (and plain HTTP allowed) it would listen; loopback needs none.
        tokens = self.write("tokens.yaml", to_yaml({
            "bind": "0.0.0.0:%d" % port, "data_dir": d + "/data", "allow_plaintext": True,
            "tokens": [{"secret": "s", "role": "management"}]}))
        rc, out, err = run_heed(["agent", "--validate", "-c", tokens])
        self.assertEqual((rc, out), (0, "%s: ok (0 checks, 0 services, 1 tokens)\n" % tokens))
        a = Agent(self.reg, {}).start()
        self.assertEqual(a.get("/v1/status").status, 200)

    def test_a_relative_data_dir_flag_is_the_starting_directory_s(self):
        d = self.reg.tempdir()
        cfg = self.write("rel.yaml", "bind: 127.0.0.1:%d\n" % free_port())
        out_path = os.path.join(d, "out")
        with open(out_path, "w") as out:
            proc = self.reg.popen([os.path.abspath(HEED), "agent", "-c", cfg, "--data-dir", "state/x"], cwd=d,
                                  stdout=out)

        def up():
            with open(out_path) as f:
                return proc.poll() is not None or API_LINE.search(f.read())
        wait_until(up, 20, what="the agent's API line")
        self.assertIsNone(proc.poll())
        with open(out_path) as f:
            self.assertIn("data in %s/state/x\n" % d, f.read())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(scaled(30)), 0)
        self.assertTrue(os.path.isfile(os.path.join(d, "state", "x", "heed.db")))

    def test_validate(self):
        good = self.write("good.yaml", to_yaml({
            "node": "n1", "bind": "127.0.0.1:8500", "data_dir": "/var/lib/heed",
            "tokens": [{"secret": "s", "role": "management"}],
            "checks": [{"name": "web", "target": "http://127.0.0.1:1/", "interval": "10s",
                        "expect": {"status": [200, 204], "body_contains": "OK"}},
                       {"name": "hb", "ttl": "30s"}],
            "services": [{"name": "db", "port": 5432, "checks": [
                {"target": "postgres://127.0.0.1:5432/app", "interval": "5s"}]}]}))
        rc, out, err = run_heed(["agent", "--validate", "-c", good])
        self.assertEqual((rc, out, err),
                         (0, "%s: ok (3 checks, 1 services, 1 tokens)\n" % good, ""))
        empty = self.write("empty.yaml", "")
        rc, out, err = run_heed(["agent", "--validate", "--config", empty])
        self.assertEqual((rc, out), (0, "%s: ok (0 checks, 0 services, 0 tokens)\n" % empty))

        bad = self.write("bad.yaml", "bind: 127.0.0.1:8500\n"
                                     "checks:\n"
                                     "  - name: a\n"
                                     "    target: tcp://127.0.0.1:1\n"
                                     "    interval: ten\n")
        rc, out, err = run_heed(["agent", "--validate", "-c", bad])
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, '%s:5:15: checks[0].interval: expected a duration like 10s, '
                              'got "ten"\n' % bad)

        unknown = self.write("unknown.yaml", "checks:\n"
                                             "  - name: a\n"
                                             "    target: tcp://127.0.0.1:1\n"
                                             "    intervall: 1s\n"
                                             "colour: red\n")
        rc, out, err = run_heed(["agent", "--validate", "-c", unknown])
        self.assertEqual(rc, 1, err)
        lines = err.splitlines()
        self.assertRegex(lines[0], r"^%s:4:5: checks\[0\]\.intervall: unknown key "
                                   r"\(expected one of: .*interval.*\)$" % re.escape(unknown))
        self.assertRegex(lines[1], r"^%s:5:1: colour: unknown key" % re.escape(unknown))

        for text, want in (
                ("checks: [\n", r":\d+:\d+: "),
                ("data_dir: var/heed\n", r":1:11: data_dir: .*absolute"),
                ("tokens:\n  - secret: topsecret\n    role: king\n", r":3:11: tokens\[0\]\.role: "),
                ("checks:\n  - name: a\n    target: tcp://h:1\n  - name: a\n    target: tcp://h:2\n",
                 r":4:\d+: checks\[1\]\.name: duplicate check id \"a\""),
                ("node: a\nnode: b\n", r":2:1: node: duplicate key")):
            path = self.write("x.yaml", text)
            rc, out, err = run_heed(["agent", "--validate", "-c", path])
            self.assertEqual((rc, out), (1, ""), text)
            self.assertRegex(err, "^" + re.escape(path) + want, text)
            self.assertNotIn("topsecret", err)

        rc, out, err = run_heed(["agent", "--validate", "-c", "/nonexistent/heed.yaml"])
        self.assertEqual(rc, 1)
        self.assertIn("/nonexistent/heed.yaml", err)
        self.assertIn("No such file", err)

    def test_usage_errors_exit_2(self):
        good = self.write("good.yaml", "")
        for args, want in (([], "give a config file (-c FILE) or --dev"),
                           (["--bogus"], "unknown flag '--bogus'"),
                           (["-c", good, "extra"], "unexpected argument 'extra'"),
                           (["-c"], "flag '-c' needs a value"),
                           (["--bind"], "flag '--bind' needs a value"),
                           (["--dev", "-c", good], "--dev and --config exclude each other"),
                           (["--validate", "--dev"], "--validate needs -c FILE"),
                           (["--validate"], "give a config file")):
            rc, out, err = run_heed(["agent"] + args)
            self.assertEqual((rc, out), (2, ""), (args, err))
            self.assertIn(want, err, args)
            self.assertTrue(err.startswith("heed agent: "), err)
            self.assertIn("heed agent --help", err)
        rc, out, err = run_heed(["agent", "--help"])
        self.assertEqual((rc, err), (0, ""))
        self.assertTrue(out.startswith("usage: heed agent -c FILE | --dev"), out)
        self.assertIn("--validate", out)

    def test_start_up_errors_exit_1(self):
        d = self.reg.tempdir()
        # A bad file: the error with its place, and no listening.
        bad = self.write("bad.yaml", "checks:\n  - name: a\n    target: tcp://h:1\n"
                                     "    interval: ten\n")
        rc, out, err = run_heed(["agent", "-c", bad], timeout=20)
        self.assertEqual(rc, 1, err)
        self.assertRegex(err, "^" + re.escape(bad) + r":4:15: checks\[0\]\.interval: ")
        # A taken port.
        port = tcp_listener(self.reg).port
        cfg = self.write("taken.yaml", to_yaml({"bind": "127.0.0.1:%d" % port,
                                                "data_dir": d + "/data"}))
        rc, out, err = run_heed(["agent", "-c", cfg], timeout=20)
        self.assertEqual(rc, 1, err)
        self.assertIn("127.0.0.1", err)
        self.assertIn(str(port), err)
        self.assertNotIn("API:", out)
        # A data_dir that cannot be made.
        blocker = os.path.join(d, "file")
        open(blocker, "w").close()
        cfg = self.write("dd.yaml", to_yaml({"bind": "127.0.0.1:%d" % free_port(),
                                             "data_dir": blocker + "/data"}))
        rc, out, err = run_heed(["agent", "-c", cfg], timeout=20)
        self.assertEqual(rc, 1, err)
        self.assertIn("cannot create data_dir %s/data" % blocker, err)
        # --bind that does not parse.
        rc, out, err = run_heed(["agent", "-c", cfg, "--bind", "127.0.0.1:99999"], timeout=20)
        self.assertEqual(rc, 1, err)
        self.assertIn("--bind 127.0.0.1:99999", err)

    def test_dev(self):
        for _ in range(3):  # free_port() was free when asked; it may be taken since
            port = free_port()
            proc = self.reg.spawn_heed(["agent", "--dev", "--bind", "127.0.0.1:%d" % port])
            lines = []
            reader = threading.Thread(target=lambda: lines.extend(
                [proc.stdout.readline(), proc.stdout.readline()]), daemon=True)
            reader.start()
            reader.join(scaled(20))
            if lines and lines[0] or proc.poll() is None:
                break
            _, err = proc.communicate(timeout=scaled(10))
            if "Address already in use" not in err:
                self.fail("heed agent --dev exited %s: %s" % (proc.returncode, err))
        self.assertEqual(len(lines), 2, "no start-up lines from heed agent --dev")
        m = re.match(r"heed agent \S+: node \S+, 3 checks, data in (/\S+)\n$", lines[0])
        self.assertTrue(m, lines)
        data_dir = m.group(1)
        self.assertTrue(os.path.isdir(data_dir))
        self.assertTrue(API_LINE.match(lines[1]), lines)
        r = http_call(port, "GET", "/v1/checks")
        self.assertEqual([c["id"] for c in r.json], ["agent-api", "exec-true", "hostname-file"])
        self.assertEqual(r.json[0]["target"], "tcp://127.0.0.1:%d" % port)
        wait_until(lambda: http_call(port, "GET", "/v1/checks/agent-api").json["status"]
                   == "passing", 15, what="agent-api passing")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=scaled(30))
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("heed agent: SIGTERM, stopping", err)
        self.assertFalse(os.path.exists(data_dir), "--dev left its data dir")

    def test_dev_on_any_free_port(self):
        """--bind HOST:0: the sample check of the agent's own port probes
        the port the kernel gave, not 8500."""
        proc = self.reg.spawn_heed(["agent", "--dev", "--bind", "127.0.0.1:0"])
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(
            [proc.stdout.readline(), proc.stdout.readline()]), daemon=True)
        reader.start()
        reader.join(scaled(20))
        self.assertEqual(len(lines), 2, "no start-up lines from heed agent --dev")
        m = API_LINE.match(lines[1])
        self.assertTrue(m, lines)
        port = int(m.group(2))
        self.assertNotEqual(port, 0)
        r = http_call(port, "GET", "/v1/checks/agent-api")
        self.assertEqual(r.json["target"], "tcp://127.0.0.1:%d" % port)
        wait_until(lambda: http_call(port, "GET", "/v1/checks/agent-api").json["status"]
                   == "passing", 15, what="agent-api passing")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=scaled(30))
        self.assertEqual(proc.returncode, 0, err)


if __name__ == "__main__":
    main()
