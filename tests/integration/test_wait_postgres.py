"""postgres:// targets against a real PostgreSQL (Debian's packages), one
throw-away cluster per test in a temporary directory, run as the postgres
user, listening only on 127.0.0.1 at a free port.

What is proven: heed returns 0 only when a client can really work (the
start-up window); a server that answers SQLSTATE 57P03 (a standby that can
never leave recovery) keeps heed waiting until it is promoted; a missing
database is not ready; a server that asks for a password is ready."""

import glob
import json
import os
import pwd
import re
import shutil
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (HeedTestCase, finish, free_port, pids_with_arg, run, run_heed,  # noqa: E402
                     scaled, still_running)


def pg_bindir():
    dirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                  key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)
    for d in reversed(dirs):
        if all(os.access(os.path.join(d, p), os.X_OK) for p in ("initdb", "pg_ctl", "postgres")):
            return d
    return None


BIN = pg_bindir()
PSQL = shutil.which("psql") or (BIN and os.path.join(BIN, "psql"))


def unavailable():
    if not BIN:
        return "PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin"
    if not shutil.which("runuser"):
        return "runuser not found"
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user"
    if os.geteuid() != 0:
        return "needs root to run the server as the postgres user"
    return None


class Cluster:
    """A PostgreSQL cluster in a temporary directory owned by postgres."""

    def __init__(self, reg, hba=None, conf=()):
        self.reg = reg
        self.dir = reg.tempdir(prefix="heed-pg-")
        pw = pwd.getpwnam("postgres")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.port = free_port()
        self.as_postgres([os.path.join(BIN, "initdb"), "-D", self.data, "-U", "postgres",
                          "-A", "trust", "-N", "--no-instructions"], timeout=60)
        with open(os.path.join(self.data, "postgresql.conf"), "a") as f:
            f.write("\n# heed integration test\n"
                    "listen_addresses = '127.0.0.1'\n"
                    "port = %d\n"
                    "unix_socket_directories = '%s'\n"
                    "max_connections = 20\n"
                    "shared_buffers = 16MB\n"
                    "fsync = off\n"
                    "synchronous_commit = off\n" % (self.port, self.dir))
            for line in conf:
                f.write(line + "\n")
        if hba is not None:
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write(hba)
        # Whatever happens, the postmaster (found by its -D argument, which
        # is our own temporary directory) and its children are ended.
        reg.pid("postgres in " + self.data, self.postmaster_pids, first=9, grace=10)
        reg.callback("pg_ctl stop", self.stop)

    def as_postgres(self, argv, timeout=30, check=True):
        return run(["runuser", "-u", "postgres", "--"] + argv, timeout=timeout, check=check,
                   cwd=self.dir)

    def pg_ctl(self, *args, timeout=60, check=True):
        return self.as_postgres([os.path.join(BIN, "pg_ctl"), "-D", self.data] + list(args),
                                timeout=timeout, check=check)

    def start(self):
        """pg_ctl start without -w: returns while the server starts up."""
        self.pg_ctl("start", "-l", self.log)

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self.pg_ctl("stop", "-m", "immediate", "-w", "-t", "20", timeout=30, check=False)

    def postmaster_pids(self):
        return pids_with_arg(self.data)

    def psql(self, sql, db="postgres", user="postgres", password=None, timeout=15):
        env = dict(os.environ, PGCONNECT_TIMEOUT="5")
        env.pop("PGPASSWORD", None)
        if password is not None:
            env["PGPASSWORD"] = password
        return run([PSQL, "-X", "-w", "-At", "-h", "127.0.0.1", "-p", str(self.port),
                    "-U", user, "-d", db, "-c", sql], timeout=timeout, env=env)

    def url(self, db="postgres", user="postgres"):
        return "postgres://%s@127.0.0.1:%d/%s" % (user, self.port, db)

    def logtail(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return "(no server log)"


@unittest.skipIf(unavailable(), unavailable())
class Postgres(HeedTestCase):
    def test_ready_means_a_client_can_work_at_once(self):
        pg = Cluster(self.reg)
        url = pg.url()
        proc = self.reg.spawn_heed(["wait", "-t", "60", url])
        pg.start()
        rc, out, err = finish(proc, 90)
        self.assertEqual(rc, 0, err + pg.logtail())
        self.assertReadyLine(err, url)
        r = pg.psql("select 1")
        self.assertEqual((r.returncode, r.stdout), (0, "1\n"), r.stderr + pg.logtail())

    def test_standby_that_cannot_leave_recovery_is_not_ready_until_promoted(self):
        pg = Cluster(self.reg, conf=["hot_standby = off"])
        open(os.path.join(pg.data, "standby.signal"), "w").close()
        pg.start()
        # Wait until the port is open, so that what follows sees the
        # server's answer rather than a refused connection.
        rc, _, err = run_heed(["wait", "-t", "60", "tcp://127.0.0.1:%d" % pg.port], timeout=90)
        self.assertEqual(rc, 0, err + pg.logtail())
        url = pg.url()
        waiting = self.reg.spawn_heed(["wait", "-t", "60", url])
        short = self.reg.spawn_heed(["wait", "-t", "1", url])
        short_json = self.reg.spawn_heed(["wait", "-t", "1", "--json", url])
        rc, out, err = finish(short, 20)
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "the database system is not accepting connections")
        rc, out, err = finish(short_json, 20)
        self.assertEqual(rc, 124, err)
        o = json.loads(out)
        self.assertEqual((o["ready"], o["reason"]), (False, "pg_starting"))
        self.assertTrue(still_running(waiting, 0.5), "heed returned while the server refuses")
        # The server itself says the same to a real client.
        r = pg.psql("select 1")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not accepting connections", r.stderr)

        pg.pg_ctl("promote", "-W")
        promoted = time.monotonic()
        rc, out, err = finish(waiting, 60)
        self.assertEqual(rc, 0, err + pg.logtail())
        self.assertLess(time.monotonic() - promoted, scaled(20))
        self.assertGreater(self.assertReadyLine(err, url), 1)
        r = pg.psql("select pg_is_in_recovery()")
        self.assertEqual((r.returncode, r.stdout), (0, "f\n"), r.stderr)

    def test_missing_database_is_not_ready_until_created(self):
        pg = Cluster(self.reg)
        pg.start()
        rc, _, err = run_heed(["wait", "-t", "60", pg.url()], timeout=90)
        self.assertEqual(rc, 0, err + pg.logtail())
        url = pg.url(db="appdb")
        rc, out, err = run_heed(["wait", "-t", "%g" % scaled(1.0), url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, 'database "appdb" does not exist')
        waiting = self.reg.spawn_heed(["wait", "-t", "60", url])
        self.assertTrue(still_running(waiting, 0.3))
        r = pg.psql("create database appdb")
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out, err = finish(waiting, 30)
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)

    def test_server_that_asks_for_a_password_is_ready(self):
        hba = ("local all all trust\n"
               "host all nobody 127.0.0.1/32 reject\n"
               "host all all 127.0.0.1/32 scram-sha-256\n")
        pg = Cluster(self.reg, hba=hba, conf=["password_encryption = 'scram-sha-256'"])
        pg.start()
        # Without the password nothing gets in: the server is checking logins.
        rc, _, err = run_heed(["wait", "-t", "60", "tcp://127.0.0.1:%d" % pg.port], timeout=90)
        self.assertEqual(rc, 0, err)
        url = pg.url()
        rc, out, err = run_heed(["wait", "-t", "60", url], timeout=90)
        self.assertEqual(rc, 0, err + pg.logtail())
        # Ready, and heed says why it did not get in.
        self.assertRegex(err, r"^heed: %s ready \(1 attempt, \d+\.\d s\): accepting connections "
                              r"\(authentication required: the server asks for a password\)\n$"
                         % re.escape(url))
        r = pg.psql("select 1")
        self.assertNotEqual(r.returncode, 0, "psql got in without a password")
        self.assertIn("password", r.stderr)
        # A login that pg_hba.conf rejects: ready, and the output says that
        # authentication failed, in text and JSON.
        nobody = pg.url(user="nobody")
        rc, out, err = run_heed(["wait", "-t", "10", nobody])
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"^heed: %s ready \(1 attempt, \d+\.\d s\): accepting connections "
                              r"\(authentication failed: pg_hba\.conf rejects connection for host "
                              r"\"127\.0\.0\.1\", user \"nobody\"" % re.escape(nobody))
        rc, out, err = run_heed(["wait", "--json", "-t", "10", nobody])
        self.assertEqual(rc, 0, err)
        o = json.loads(out)
        self.assertEqual((o["ready"], o["reason"]), (True, "auth_failed"))
        self.assertIn("authentication failed: pg_hba.conf rejects connection", o["output"])
        # heed never sends a password, and heed wait never logged in.
        self.assertNotIn('password authentication failed for user "postgres"', pg.logtail())


if __name__ == "__main__":
    harness.main()
