"""`heed agent` on a full disk: the data_dir is a small tmpfs this test
mounts itself (it must run as root), filled with a file and then emptied.

What a user must see:
  * an API write that failed (a TTL report, a pause) is answered with an
    error that says the disk is full, and the check is shown as it was
    before the request, not as if the write had happened;
  * a state change from a probe result is shown at once (it happened), is
    owed to the disk while the disk is full (heed_state_writes_owed,
    heed_state_writes_failed_total), and is written by itself once space
    returns, within a bounded time: a kill -9 afterwards keeps it;
  * the history goes on after the failed batches, and the store passes
    SQLite's own integrity check afterwards.

And without a full disk: API changes to one check that arrive together
(they are written one after the other) are all answered, and what the
agent serves afterwards is what a kill -9 and a restart show."""

import errno
import os
import random
import re
import signal
import sqlite3
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, main, run, scaled, wait_until  # noqa: E402
from agent_harness import Agent, http_call, tcp_listener  # noqa: E402

TMPFS_SIZE = 8 << 20  # the store is a few hundred KiB here; the rest is the filler


def can_mount():
    return os.geteuid() == 0 and os.path.exists("/proc/filesystems") and \
        "tmpfs" in open("/proc/filesystems").read()


def fnv1a(text):
    """The scheduler's hash of a check id (agent/sched.c, hd_sched_first_due)."""
    h = 1469598103934665603
    for b in text.encode():
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def metric(a, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), a.get("/metrics").body.decode(), re.MULTILINE)
    if not m:
        raise AssertionError("no metric %s" % name)
    return float(m.group(1))


def fill(path, limit):
    """Writes path until the file system is full (ENOSPC); at most limit
    bytes, so a file system larger than expected ends the test instead of
    filling a real disk. Returns the bytes written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    written, chunk = 0, 1 << 20
    try:
        while chunk >= 1 and written < limit:
            try:
                written += os.write(fd, b"\0" * chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                chunk //= 2
    finally:
        os.close(fd)
    if written >= limit:
        raise AssertionError("%s: wrote %d bytes and the disk is not full" % (path, written))
    return written


@unittest.skipUnless(can_mount(), "needs root to mount a tmpfs")
class DiskFull(HeedTestCase):
    def mount_tmpfs(self):
        d = self.reg.tempdir(prefix="heed-full-")
        run(["mount", "-t", "tmpfs", "-o", "size=%d,mode=0700" % TMPFS_SIZE, "heed-test", d],
            check=True)
        self.reg.callback("unmount " + d, lambda: run(["umount", d], check=True))
        return d

    def test_failed_writes_change_nothing_and_owed_state_is_written_when_space_returns(self):
        disk = self.mount_tmpfs()
        data = os.path.join(disk, "data")
        db_up, web_up = tcp_listener(self.reg), tcp_listener(self.reg)
        db = {"name": "db", "target": "tcp://127.0.0.1:%d" % db_up.port, "interval": "300ms",
              "timeout": "250ms"}
        checks = [db,
                  {"name": "web", "target": "tcp://127.0.0.1:%d" % web_up.port,
                   "interval": "300ms"},
                  {"name": "hb", "ttl": "1h"}]
        a = Agent(self.reg, {"data_dir": data, "checks": checks}).start()
        a.wait_status("db", "passing")
        a.wait_status("web", "passing")
        hb0 = a.check("hb")
        self.assertEqual(hb0["status"], "critical")
        wait_until(lambda: metric(a, "heed_state_writes_owed") == 0, 10,
                   what="every state on disk")
        self.assertEqual(metric(a, "heed_state_writes_failed_total"), 0)

        filler = os.path.join(disk, "filler")
        fill(filler, TMPFS_SIZE)

        # A TTL report that cannot be written: an error, and nothing changed.
        r = a.call("PUT", "/v1/agent/check/pass/hb?note=up")
        self.assertEqual(r.status, 500, r)
        self.assertEqual(r.code, "store", r)
        self.assertIn("disk full", r.error)
        self.assertEqual(a.check("hb"), hb0)
        # A pause that cannot be written: the check goes on as before.
        web0 = a.check("web")
        r = a.call("PUT", "/v1/checks/web/pause")
        self.assertEqual(r.status, 500, r)
        self.assertIn("disk full", r.error)
        web = a.check("web")
        self.assertEqual((web["status"], web["paused"]), ("passing", False))
        self.assertEqual(web["last_change"], web0["last_change"])
        wait_until(lambda: a.check("web")["last_checked"] != web["last_checked"], 5,
                   what="web still running after the failed pause")

        # A probe result that changes the status: shown at once, owed to the disk.
        db_up.stop()
        crit = a.wait_status("db", "critical", timeout=10)
        self.assertEqual(crit["reason"], "connect_refused")
        wait_until(lambda: metric(a, "heed_state_writes_owed") >= 1, 10, what="db owed")
        wait_until(lambda: metric(a, "heed_state_writes_failed_total") >= 1, 10,
                   what="a failed state write counted")
        self.assertEqual(a.check("db")["last_change"], crit["last_change"])
        self.assertEqual(a.proc.poll(), None, "the agent must go on")
        self.assertIn("disk full", a.stderr())

        # Space returns: what is owed is written by itself, within a bound.
        os.unlink(filler)
        freed = time.time()
        wait_until(lambda: metric(a, "heed_state_writes_owed") == 0, 30,
                   what="the owed state written after space returned")
        took = time.time() - freed
        self.assertLess(took, scaled(30))
        # The history was not wedged by the failed batches: it goes on.
        since = a.check("db")["last_checked"]
        wait_until(lambda: any(p["ts"] > since for p in
                               a.ok("GET", "/v1/checks/db/history?step=raw")["points"]), 10,
                   what="new history rows after space returned")
        # API writes work again and are durable when answered.
        a.ok("PUT", "/v1/agent/check/pass/hb?note=up")
        a.ok("PUT", "/v1/checks/web/pause")
        db_seen = a.check("db")
        self.assertEqual(db_seen["status"], "critical")

        # kill -9, then start with a db interval so long that db does not run
        # again during this test: what it shows is what was stored.
        self.assertEqual(a.stop(signal.SIGKILL), -signal.SIGKILL)
        day = 86400 * 10**6
        self.assertGreater(fnv1a("db") % day, 3600 * 10**6, "db would run within the hour")
        a.write_config({"data_dir": data, "checks": [dict(db, interval="24h")] + checks[1:]})
        a.start()
        db_after = a.check("db")
        self.assertEqual((db_after["status"], db_after["reason"], db_after["last_change"]),
                         ("critical", "connect_refused", crit["last_change"]))
        self.assertIsNotNone(db_after["last_checked"])
        hb = a.check("hb")
        self.assertEqual((hb["status"], hb["output"]), ("passing", "up"))
        web = a.check("web")
        self.assertEqual((web["status"], web["paused"]), ("maintenance", True))
        self.assertEqual(a.stop(), 0, a.stderr())

        # SQLite's own verdict on the file the failed writes touched.
        con = sqlite3.connect(os.path.join(data, "heed.db"))
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
        finally:
            con.close()


class Together(HeedTestCase):
    def test_changes_to_one_check_at_once_are_stored_as_served(self):
        a = Agent(self.reg, {"checks": [{"name": "hb", "ttl": "1h"}]}).start()
        changes = ["/v1/agent/check/pass/hb?note=p", "/v1/agent/check/fail/hb?note=f",
                   "/v1/agent/check/warn/hb?note=w", "/v1/checks/hb/pause",
                   "/v1/checks/hb/resume"]
        answers, lock = [], threading.Lock()

        def client(seed):
            rng = random.Random(seed)
            for _ in range(25):  # 8 clients x 25 requests, each bounded by a timeout
                r = http_call(a.port, "PUT", rng.choice(changes))
                with lock:
                    answers.append(r.status)
        threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(scaled(60))
        self.assertEqual(answers, [200] * 200)
        wait_until(lambda: metric(a, "heed_state_writes_owed") == 0, 10,
                   what="every state on disk")
        before = a.check("hb")
        self.assertEqual(a.stop(signal.SIGKILL), -signal.SIGKILL)
        a.start()
        after = a.check("hb")
        # A report that leaves the status as it is may move the output and
        # the times without a write (written within a minute): compare what
        # is written at once.
        keys = ("status", "paused", "last_change")
        self.assertEqual({k: after[k] for k in keys}, {k: before[k] for k in keys})


if __name__ == "__main__":
    main()
