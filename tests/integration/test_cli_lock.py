"""`heed lock PREFIX -- COMMAND` against a real agent on a loopback port,
with Debian's python3-consul (unchanged) as the independent view of the
sessions and the lock key:

  * two `heed lock` on one prefix: the second waits, and its COMMAND starts
    only after the first's has ended; each exits with its COMMAND's status;
    the key has Consul's lock flags while held; afterwards no session and no
    key are left (the last one out deletes the free key, as consul lock);
  * SIGTERM to heed reaches COMMAND, heed exits with its status and frees
    the lock; SIGINT while waiting ends heed (130) and its session;
  * heed killed with SIGKILL: the session's TTL frees the lock, and another
    `heed lock` gets it then;
  * the session destroyed under a running COMMAND: the lock is lost,
    COMMAND gets SIGTERM, heed exits 1;
  * --timeout gives up (1); a key that is not a lock (1); usage (2); an
    unreachable agent (3); a COMMAND that cannot run (127).
"""

import json
import os
import signal
import sys
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, free_port, main, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import Agent, client_env  # noqa: E402
from consul_clients import py  # noqa: E402

warnings.filterwarnings("ignore", category=ResourceWarning)

LOCK_FLAGS = 0x2ddccbc058a50c18  # Consul's api.LockFlagValue


env_for = client_env


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.read().splitlines()


class Lock(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.a = Agent(self.reg).start()
        self.c = py(self.a)
        self.dir = self.reg.tempdir()
        self.log = os.path.join(self.dir, "log")

    def spawn_lock(self, name, *args, stderr_file=None):
        """heed lock with stderr into a file (read while it runs)."""
        err = open(stderr_file or os.path.join(self.dir, name + ".err"), "w")
        self.addCleanup(err.close)
        return self.reg.spawn_heed(["lock"] + list(args), env=env_for(self.a), stderr=err)

    def err(self, name):
        with open(os.path.join(self.dir, name + ".err")) as f:
            return f.read()

    def step(self, who, what, then=""):
        """A shell COMMAND line that logs WHO WHAT, then runs `then`."""
        return 'echo "%s %s $HEED_LOCK_HELD $CONSUL_LOCK_HELD" >> %s; %s' % (
            who, what, self.log, then)

    def entry(self, key):
        return self.c.kv.get(key)[1]

    def test_second_waits_for_the_first(self):
        first = self.spawn_lock("A", "jobs/migrate", "--", "sh", "-c",
                                self.step("A", "start", "sleep %s; " % scaled(2))
                                + self.step("A", "end", "exit 7"))
        wait_until(lambda: lines(self.log) == ["A start true true"], 15, what="A's COMMAND")
        e = self.entry("jobs/migrate/.lock")
        self.assertEqual(e["Flags"], LOCK_FLAGS)
        [s] = self.c.session.list()[1]
        self.assertEqual(e["Session"], s["ID"])
        self.assertEqual(s["Name"], "heed lock jobs/migrate/.lock")
        second = self.spawn_lock("B", "jobs/migrate/", "--", "sh", "-c",
                                 self.step("B", "start") + self.step("B", "end", "exit 0"))
        wait_until(lambda: "waiting" in self.err("B"), 15, what="B waiting")
        self.assertEqual(self.err("B"),
                         "heed lock: jobs/migrate/.lock is held by another session; waiting\n")
        self.assertEqual(harness.finish(first)[0], 7)
        self.assertEqual(harness.finish(second)[0], 0)
        self.assertEqual(lines(self.log), ["A start true true", "A end true true",
                                           "B start true true", "B end true true"])
        # Nothing is left: the last one out deletes the free key (as consul
        # lock does), and no session remains.
        self.assertIsNone(self.entry("jobs/migrate/.lock"))
        self.assertEqual(self.c.session.list()[1], [])

    def test_sigterm_reaches_the_command_and_frees_the_lock(self):
        p = self.spawn_lock("A", "l2", "--", "sh", "-c",
                            "trap '%s' TERM; %s while :; do sleep 0.05; done"
                            % (self.step("A", "TERM", "exit 143"), self.step("A", "start")))
        wait_until(lambda: lines(self.log) == ["A start true true"], 15, what="the COMMAND")
        p.send_signal(signal.SIGTERM)
        rc, _, _ = harness.finish(p)
        self.assertEqual(rc, 143)
        self.assertEqual(lines(self.log)[-1], "A TERM true true")
        self.assertIsNone(self.entry("l2/.lock"))
        self.assertEqual(self.c.session.list()[1], [])

    def test_sigint_while_waiting(self):
        holder = self.spawn_lock("A", "l3", "--", "sleep", "300")
        wait_until(lambda: self.entry("l3/.lock") and "Session" in self.entry("l3/.lock"), 15,
                   what="the lock held")
        waiter = self.spawn_lock("B", "l3", "--", "sh", "-c", self.step("B", "start"))
        wait_until(lambda: "waiting" in self.err("B"), 15, what="B waiting")
        self.assertEqual(len(self.c.session.list()[1]), 2)
        waiter.send_signal(signal.SIGINT)
        self.assertEqual(harness.finish(waiter, timeout=15)[0], 130)
        self.assertEqual(lines(self.log), [])  # B's COMMAND never ran
        self.assertEqual(len(self.c.session.list()[1]), 1)  # only A's is left
        holder.send_signal(signal.SIGTERM)
        self.assertEqual(harness.finish(holder)[0], 128 + signal.SIGTERM)

    def test_killed_heed_is_freed_by_the_ttl(self):
        # heed dies with SIGKILL: nobody releases; the session's TTL (10 s,
        # ended by the agent between 1 and 2 TTLs) does.
        p = self.spawn_lock("A", "l4", "--ttl", "10s", "--lock-delay", "0s", "--",
                            "sleep", "300")
        wait_until(lambda: self.entry("l4/.lock") and "Session" in self.entry("l4/.lock"), 15,
                   what="the lock held")
        kids = harness.descendants(p.pid)
        self.assertTrue(kids)
        self.reg.callback("the orphaned sleep", lambda: harness.end_pids(kids))
        p.kill()
        p.wait()
        t0 = time.monotonic()
        rc, out, err = run_heed(["lock", "l4", "--", "sh", "-c", self.step("B", "start")],
                                env=env_for(self.a), timeout=90)
        waited = time.monotonic() - t0
        self.assertEqual(rc, 0, err)
        self.assertEqual(lines(self.log), ["B start true true"])
        self.assertGreater(waited, 5)  # it did wait for the TTL, not take a held lock
        self.assertIn("is held by another session; waiting", err)

    def test_lost_lock_stops_the_command(self):
        p = self.spawn_lock("A", "l5", "--ttl", "10s", "--", "sh", "-c",
                            "trap '%s' TERM; %s while :; do sleep 0.05; done"
                            % (self.step("A", "TERM", "exit 0"), self.step("A", "start")))
        wait_until(lambda: lines(self.log) == ["A start true true"], 15, what="the COMMAND")
        [s] = self.c.session.list()[1]
        self.c.session.destroy(s["ID"])
        # heed sees it at its next renewal (every TTL/2).
        rc, _, _ = harness.finish(p, timeout=30)
        self.assertEqual(rc, 1)
        self.assertEqual(lines(self.log)[-1], "A TERM true true")
        self.assertIn("heed lock: lost the lock on l5/.lock (the session expired or was "
                      "destroyed); stopping sh with SIGTERM", self.err("A"))

    def test_timeout_gives_up(self):
        holder = self.spawn_lock("A", "l6", "--", "sleep", "300")
        wait_until(lambda: self.entry("l6/.lock") and "Session" in self.entry("l6/.lock"), 15,
                   what="the lock held")
        rc, out, err = run_heed(["lock", "l6", "--timeout", "1s", "--", "true"],
                                env=env_for(self.a), timeout=30)
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "heed lock: l6/.lock is held by another session; waiting\n"
                              "heed lock: l6/.lock is still held by another session: gave up "
                              "(--timeout)\n")
        self.assertEqual(len(self.c.session.list()[1]), 1)  # its own session is gone
        holder.send_signal(signal.SIGTERM)
        harness.finish(holder)

    def test_json_reports(self):
        rc, out, err = run_heed(["lock", "lj", "--json", "--", "sh", "-c", "echo ran; exit 5"],
                                env=env_for(self.a), timeout=30)
        self.assertEqual((rc, out), (5, "ran\n"))
        acquired, released = [json.loads(line) for line in err.splitlines()]
        self.assertEqual((acquired["Event"], acquired["Key"]), ("acquired", "lj/.lock"))
        self.assertEqual(released, {"Event": "released", "Key": "lj/.lock",
                                    "Session": acquired["Session"], "ExitCode": 5})
        holder = self.spawn_lock("A", "lk", "--", "sleep", "300")
        wait_until(lambda: self.entry("lk/.lock") and "Session" in self.entry("lk/.lock"), 15,
                   what="the lock held")
        rc, out, err = run_heed(["lock", "lk", "--json", "--timeout", "1s", "--", "true"],
                                env=env_for(self.a), timeout=30)
        self.assertEqual((rc, out), (1, ""))
        last = json.loads(err.splitlines()[-1])
        self.assertEqual((last["Event"], last["ExitCode"]), ("not_acquired", 1))
        holder.send_signal(signal.SIGTERM)
        harness.finish(holder)

    def test_errors(self):
        e = env_for(self.a)
        self.c.kv.put("l7/.lock", "by hand")
        rc, out, err = run_heed(["lock", "l7", "--", "true"], env=e)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("heed lock: l7/.lock exists and is not a lock", err)
        self.assertEqual(self.c.session.list()[1], [])
        rc, _, err = run_heed(["lock", "l8", "--", "/nonexistent/cmd"], env=e)
        self.assertEqual(rc, 127)
        self.assertIn("heed lock: cannot run '/nonexistent/cmd': No such file or directory", err)
        self.assertIsNone(self.entry("l8/.lock"))
        port = free_port()
        rc, _, err = run_heed(["lock", "l9", "--addr", "127.0.0.1:%d" % port, "--", "true"], env=e)
        self.assertEqual(rc, 3)
        self.assertIn("cannot reach the agent at http://127.0.0.1:%d" % port, err)
        for args, msg in [
            ([], "give a PREFIX, then -- COMMAND"),
            (["p"], "give the COMMAND to run after --"),
            (["p", "--"], "give the COMMAND to run after --"),
            (["p", "cmd"], "unexpected argument 'cmd': put COMMAND after --"),
            (["p", "--ttl", "5s", "--", "true"], "--ttl 5s: Consul takes 10s to 24h"),
            (["p", "--lock-delay", "2m", "--", "true"],
             "--lock-delay 2m: expected a duration of 0s .. 60s"),
            (["p", "--nope", "--", "true"], "unknown flag '--nope'"),
        ]:
            with self.subTest(args=args):
                self.assertEqual(run_heed(["lock"] + args, env=e),
                                 (2, "", "heed lock: %s (see heed lock --help)\n" % msg))


if __name__ == "__main__":
    main()
