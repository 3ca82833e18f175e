"""redis:// targets against a real redis-server started on a free loopback
port: PONG, password rules (NOAUTH means up), a database number, and a
deterministic not-ready window made with a Lua script that never ends, so
that every PING gets -BUSY until SCRIPT KILL."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (HeedTestCase, finish, free_port, run, run_heed, scaled,  # noqa: E402
                     still_running, wait_until)

REDIS = shutil.which("redis-server")
CLI = shutil.which("redis-cli")


def redis_major():
    try:
        out = subprocess.run([REDIS, "--version"], capture_output=True, text=True,
                             timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    m = re.search(r"v=(\d+)\.", out)
    return int(m.group(1)) if m else 0


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a.encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Redis:
    """A redis-server on 127.0.0.1 at a free port, data in a temp dir."""

    def __init__(self, reg, *extra):
        self.reg = reg
        self.dir = reg.tempdir(prefix="heed-redis-")
        self.port = free_port()
        self.argv = [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
                     "--logfile", os.path.join(self.dir, "redis.log")] + list(extra)
        self.proc = None

    def start(self):
        self.proc = self.reg.popen(self.argv)

    def cli(self, *args, password=None, timeout=10):
        argv = [CLI, "-h", "127.0.0.1", "-p", str(self.port)]
        if password:
            argv += ["--no-auth-warning", "-a", password]
        return run(argv + list(args), timeout=timeout)

    def url(self, auth="", db=""):
        return "redis://%s127.0.0.1:%d%s" % (auth, self.port, db)


@unittest.skipIf(not REDIS or not CLI, "redis-server or redis-cli not installed")
class RedisTests(HeedTestCase):
    def test_ready_with_pong(self):
        r = Redis(self.reg)
        url = r.url()
        proc = self.reg.spawn_heed(["wait", "-t", "30", url])
        self.assertTrue(still_running(proc, 0.3), "ready before the server started")
        r.start()
        rc, out, err = finish(proc, 40)
        self.assertEqual(rc, 0, err)
        self.assertGreater(self.assertReadyLine(err, url), 1)
        self.assertEqual(r.cli("ping").stdout, "PONG\n")

    def test_database_number(self):
        r = Redis(self.reg, "--databases", "4")
        r.start()
        rc, out, err = run_heed(["wait", "-t", "30", r.url(db="/3")])
        self.assertEqual(rc, 0, err)
        bad = r.url(db="/9")
        rc, out, err = run_heed(["wait", "-t", "0.3", bad])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, bad, "ERR DB index is out of range")

    def test_password(self):
        r = Redis(self.reg, "--requirepass", "secret")
        r.start()
        with_pw = r.url(auth=":secret@")
        shown = r.url(auth=":***@")
        rc, out, err = run_heed(["wait", "-t", "30", with_pw])
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, shown)
        self.assertNotIn("secret", err)
        # Without the password, or with a wrong one, the server answers
        # NOAUTH / WRONGPASS: it is up and checking credentials (documented).
        # heed says so, in text and JSON (issue: it used to print a bare
        # "ready" and "reason":"ok").
        cases = ((r.url(), r.url(), "required", "NOAUTH"),
                 (r.url(auth=":wrong@"), r.url(auth=":***@"), "failed", "WRONGPASS"))
        for url, display, how, word in cases:
            with self.subTest(url=url):
                rc, out, err = run_heed(["wait", "-t", "10", url])
                self.assertEqual(rc, 0, err)
                self.assertRegex(err, r"^heed: %s ready \(1 attempt, \d+\.\d s\): accepting "
                                      r"connections \(authentication %s: %s "
                                      % (re.escape(display), how, word))
                self.assertNotIn("wrong", err)
                rc, out, err = run_heed(["wait", "--json", "-t", "10", url])
                self.assertEqual(rc, 0, err)
                o = json.loads(out)
                self.assertEqual((o["ready"], o["reason"]), (True, "auth_" + how))
                self.assertTrue(o["output"].startswith(
                    "accepting connections (authentication %s: %s" % (how, word)), o)
                self.assertNotIn("wrong", out)
        self.assertIn("NOAUTH", r.cli("ping").stdout)
        self.assertEqual(r.cli("ping", password="secret").stdout, "PONG\n")

    def test_busy_script_keeps_heed_waiting_until_killed(self):
        if redis_major() >= 7:
            r = Redis(self.reg, "--busy-reply-threshold", "100")
        else:
            r = Redis(self.reg, "--lua-time-limit", "100")
        r.start()
        url = r.url()
        rc, out, err = run_heed(["wait", "-t", "30", url])
        self.assertEqual(rc, 0, err)

        # A client runs a script that never ends; its reply comes only when
        # the script is killed.
        sock = socket.create_connection(("127.0.0.1", r.port), timeout=scaled(30))
        self.reg.callback("script client", sock.close)
        reply = {}

        def script():
            try:
                sock.sendall(resp("EVAL", "while true do end", "0"))
                reply["data"] = sock.recv(4096)
            except OSError as e:
                reply["error"] = e

        t = threading.Thread(target=script, daemon=True)
        t.start()
        self.reg.callback("script thread", lambda: t.join(10))
        wait_until(lambda: "BUSY" in r.cli("ping").stdout, 10, 0.05, "redis to answer BUSY")

        waiting = self.reg.spawn_heed(["wait", "-t", "60", url])
        short = self.reg.spawn_heed(["wait", "-t", "1", url])
        short_json = self.reg.spawn_heed(["wait", "-t", "1", "--json", url])
        rc, out, err = finish(short, 20)
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "BUSY Redis is busy running a script.*")
        rc, out, err = finish(short_json, 20)
        self.assertEqual(rc, 124, err)
        o = json.loads(out)
        self.assertEqual((o["ready"], o["reason"]), (False, "redis_loading"))
        self.assertTrue(o["last_error"].startswith("BUSY"), o)
        self.assertTrue(still_running(waiting, 0.5), "heed returned while redis was BUSY")
        self.assertNotIn("data", reply, "the script ended by itself")

        self.assertEqual(r.cli("script", "kill").stdout, "OK\n")
        killed = time.monotonic()
        rc, out, err = finish(waiting, 30)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - killed, scaled(5))
        self.assertGreater(self.assertReadyLine(err, url), 1)
        t.join(scaled(10))
        self.assertIn(b"Script killed", reply.get("data", b""), reply)
        self.assertEqual(r.cli("ping").stdout, "PONG\n")

    def test_server_gone_is_not_ready(self):
        r = Redis(self.reg)
        r.start()
        url = r.url()
        rc, out, err = run_heed(["wait", "-t", "30", url])
        self.assertEqual(rc, 0, err)
        r.proc.terminate()
        r.proc.wait(scaled(10))
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "connection refused")


if __name__ == "__main__":
    harness.main()
