"""heed agent under systemd's Type=notify, against a notification socket
the test listens on (these machines run no systemd): READY=1 comes once
the API answers and the stored state is loaded, WATCHDOG=1 keeps coming
from the loop when WATCHDOG_USEC is set, STOPPING=1 comes on SIGTERM; an
abstract socket ("@name") works as a path does; an exec check's command
does not inherit NOTIFY_SOCKET."""

import os
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import Agent, http_call, tcp_listener  # noqa: E402


class Notify(HeedTestCase):
    def listen(self, name):
        """A datagram socket at name (a path, or "@abstract")."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.reg.callback("close notify socket", s.close)
        s.bind("\0" + name[1:] if name.startswith("@") else name)
        return s

    def spawn(self, agent, env):
        """Starts agent with env added to its environment."""
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            return agent.spawn()
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def recv(self, s, timeout=20):
        s.settimeout(scaled(timeout))
        try:
            return s.recv(4096).decode()
        except socket.timeout:
            raise AssertionError("no notification within %.0f s" % scaled(timeout)) from None

    def test_ready_after_state_loaded_watchdog_stopping(self):
        up = tcp_listener(self.reg)
        target = "tcp://127.0.0.1:%d" % up.port
        a = Agent(self.reg, {"checks": [{"name": "cfg", "target": target,
                                         "interval": "1h"}]}).start()
        a.ok("POST", "/v1/checks", {"name": "kept", "target": target, "interval": "200ms"},
             status=201)
        a.wait_status("kept", "passing")
        a.ok("PUT", "/v1/checks/kept/pause")  # no run after the restart moves its state
        before = a.check("kept")
        self.assertEqual(a.stop(), 0)

        path = os.path.join(a.dir, "notify")
        s = self.listen(path)
        proc = self.spawn(a, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        msg = self.recv(s)
        # The first datagram is READY=1, and at that moment the API answers
        # with the stored state (paused, last run before the restart).
        self.assertIn("READY=1", msg.split("\n"), msg)
        r = http_call(a.port, "GET", "/v1/checks/kept")
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json["status"], r.json["paused"], r.json["last_checked"]),
                         ("maintenance", True, before["last_checked"]))
        # The watchdog: WATCHDOG=1 at least every 200 ms (half of 400 ms).
        t0 = time.monotonic()
        pings = 0
        while pings < 3:
            m = self.recv(s, timeout=5)
            if m == "WATCHDOG=1":
                pings += 1
        self.assertLess(time.monotonic() - t0, scaled(5))
        proc.send_signal(signal.SIGTERM)
        msgs = []
        while "STOPPING=1" not in msgs:
            msgs.append(self.recv(s))
        self.assertEqual(proc.wait(scaled(30)), 0)
        self.assertNotIn("NOTIFY_SOCKET ignored", a.stderr())

    def test_abstract_socket_and_exec_checks_do_not_inherit(self):
        name = "@heed-test-notify-%d" % os.getpid()
        s = self.listen(name)
        a = Agent(self.reg, {"checks": [{"name": "clean-env", "interval": "200ms",
                                         "target": "exec:sh -c 'test -z \"$NOTIFY_SOCKET\"'"}]})
        proc = self.spawn(a, {"NOTIFY_SOCKET": name})
        msg = self.recv(s)
        self.assertIn("READY=1", msg.split("\n"), msg)
        self.assertEqual(http_call(a.port, "GET", "/v1/checks/clean-env").status, 200)
        a.proc = proc
        a.wait_status("clean-env", "passing")
        # No watchdog asked for: nothing more until the stop.
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.recv(s), "STOPPING=1")
        self.assertEqual(proc.wait(scaled(30)), 0)

    def test_bad_notify_socket_is_said_and_ignored(self):
        a = Agent(self.reg, {})
        self.spawn(a, {"NOTIFY_SOCKET": "relative/notify"})
        wait_until(lambda: "API:" in a.stdout(), scaled(20), what="the API line")
        self.assertIn("heed agent: NOTIFY_SOCKET ignored: neither an absolute path nor @abstract",
                      a.stderr())
        self.assertEqual(a.stop(), 0)


if __name__ == "__main__":
    main()
