"""mysql:// targets: a real MariaDB (Debian's mariadbd) started in a
temporary datadir on a free loopback port, and small fake servers for what a
real one cannot be made to send on demand (error 1040 before the greeting)
or never sends (garbage)."""

import json
import os
import re
import shutil
import struct
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, TcpServer, finish, free_port, run, run_heed  # noqa: E402

MARIADBD = shutil.which("mariadbd") or shutil.which("mysqld")
INSTALL_DB = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
CLIENT = shutil.which("mariadb") or shutil.which("mysql")


def packet(seq, payload):
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


def error_packet(code, message, sqlstate=None):
    body = b"\xff" + struct.pack("<H", code)
    if sqlstate:
        body += b"#" + sqlstate.encode()
    return packet(0, body + message.encode())


class MariaDB:
    def __init__(self, reg):
        self.reg = reg
        self.dir = reg.tempdir(prefix="heed-mysql-")
        self.data = os.path.join(self.dir, "data")
        self.port = free_port()
        self.log = os.path.join(self.dir, "error.log")
        run([INSTALL_DB, "--no-defaults", "--datadir=" + self.data, "--user=root",
             "--auth-root-authentication-method=normal", "--skip-test-db"],
            timeout=120, check=True)

    def start(self, grants=False):
        self.proc = self.reg.popen([
            MARIADBD, "--no-defaults", "--datadir=" + self.data,
            "--socket=" + os.path.join(self.dir, "mysqld.sock"),
            "--pid-file=" + os.path.join(self.dir, "mysqld.pid"),
            "--port=%d" % self.port, "--bind-address=127.0.0.1", "--user=root",
            "--skip-name-resolve", "--skip-log-bin",
            "--innodb-buffer-pool-size=16M", "--innodb-fast-shutdown=2",
            "--innodb-buffer-pool-dump-at-shutdown=0", "--innodb-buffer-pool-load-at-startup=0",
            "--log-error=" + self.log] + ([] if grants else ["--skip-grant-tables"]), grace=30)

    def client(self, sql):
        return run([CLIENT, "--no-defaults", "-h", "127.0.0.1", "-P", str(self.port), "-u", "root",
                    "--connect-timeout=5", "-N", "-B", "-e", sql], timeout=20)

    def logtail(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return "(no error log)"


@unittest.skipIf(not (MARIADBD and INSTALL_DB and CLIENT), "MariaDB server or client missing")
class RealServer(HeedTestCase):
    def test_ready_means_a_client_can_work_at_once(self):
        db = MariaDB(self.reg)
        url = "mysql://root@127.0.0.1:%d" % db.port
        proc = self.reg.spawn_heed(["wait", "-t", "60", url])
        db.start()
        rc, out, err = finish(proc, 90)
        self.assertEqual(rc, 0, err + db.logtail())
        self.assertReadyLine(err, url)
        r = db.client("select 1")
        self.assertEqual((r.returncode, r.stdout), (0, "1\n"), r.stderr + db.logtail())
        # heed logged in as root (no password needed with
        # --skip-grant-tables) and quit: no connection is left open.
        r = db.client("select count(*) from information_schema.processlist "
                      "where command not in ('Daemon') and id <> connection_id()")
        self.assertEqual((r.returncode, r.stdout), (0, "0\n"), r.stderr)

    def test_refused_login_is_ready_and_says_so(self):
        db = MariaDB(self.reg)
        db.start(grants=True)
        url = "mysql://nobody:secret@127.0.0.1:%d/shop" % db.port
        shown = "mysql://nobody:***@127.0.0.1:%d/shop" % db.port
        rc, out, err = run_heed(["wait", "-t", "60", url], timeout=90)
        self.assertEqual(rc, 0, err + db.logtail())
        # The server checked the login that heed made without a password.
        self.assertRegex(err, r"^heed: %s ready \(\d+ attempts?, \d+\.\d s\): accepting "
                              r"connections \(authentication failed: ERROR 1045: Access denied "
                              r"for user 'nobody'@'127\.0\.0\.1' \(using password: NO\)\)\n$"
                         % re.escape(shown))
        rc, out, err = run_heed(["wait", "--json", "-t", "10", url])
        self.assertEqual(rc, 0, err)
        o = json.loads(out)
        self.assertEqual((o["target"], o["ready"], o["reason"]), (shown, True, "auth_failed"))
        self.assertIn("ERROR 1045: Access denied for user 'nobody'", o["output"])
        self.assertNotIn("secret", out + err)
        # Without a user, heed only reads the greeting, as before.
        bare = "mysql://127.0.0.1:%d" % db.port
        rc, out, err = run_heed(["wait", "-t", "10", bare])
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, bare)


class FakeServers(HeedTestCase):
    def timeout_json(self, url):
        rc, out, err = run_heed(["wait", "-t", "0.5", url])
        self.assertEqual(rc, 124, err)
        rc, jout, _ = run_heed(["wait", "-t", "0.3", "--json", url])
        self.assertEqual(rc, 124)
        return err, json.loads(jout)

    def test_too_many_connections(self):
        srv = TcpServer(self.reg, lambda c: c.sendall(error_packet(1040, "Too many connections")))
        url = "mysql://127.0.0.1:%d" % srv.port
        err, o = self.timeout_json(url)
        self.assertTimeoutLine(err, url, "ERROR 1040: Too many connections")
        self.assertEqual((o["reason"], o["last_error"]),
                         ("mysql_error", "ERROR 1040: Too many connections"))
        self.assertGreater(srv.connections, 1)

    def test_host_blocked_with_sqlstate(self):
        msg = "Host '127.0.0.1' is blocked because of many connection errors"
        srv = TcpServer(self.reg, lambda c: c.sendall(error_packet(1129, msg, "HY000")))
        url = "mysql://127.0.0.1:%d" % srv.port
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "ERROR 1129: " + msg.replace(".", r"\."))

    def test_garbage(self):
        srv = TcpServer(self.reg, lambda c: c.sendall(b"SSH-2.0-OpenSSH_9.2\r\n"))
        url = "mysql://127.0.0.1:%d" % srv.port
        err, o = self.timeout_json(url)
        self.assertTimeoutLine(err, url, r"not a MySQL greeting \(.*\)")
        self.assertEqual(o["reason"], "bad_reply")

    def test_closes_without_greeting(self):
        srv = TcpServer(self.reg, lambda c: None)
        url = "mysql://127.0.0.1:%d" % srv.port
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "connection closed before any reply")

    def test_a_greeting_is_ready(self):
        """The smallest greeting a protocol-10 server sends."""
        greeting = (b"\x0a" + b"5.5.5-10.11.0-fake\x00" + struct.pack("<I", 7) + b"abcdefgh\x00"
                    + struct.pack("<H", 0xf7ff) + b"\x21" + struct.pack("<H", 2)
                    + struct.pack("<H", 0x81ff) + b"\x15" + b"\x00" * 10 + b"ijklmnopqrst\x00"
                    + b"mysql_native_password\x00")
        srv = TcpServer(self.reg, lambda c: c.sendall(packet(0, greeting)))
        url = "mysql://127.0.0.1:%d" % srv.port
        rc, out, err = run_heed(["wait", "-t", "5", url])
        self.assertEqual(rc, 0, err)
        self.assertReadyLine(err, url)
        self.assertEqual(srv.connections, 1)

    def test_nothing_listening(self):
        url = "mysql://127.0.0.1:%d" % free_port()
        rc, out, err = run_heed(["wait", "-t", "0.3", url])
        self.assertEqual(rc, 124, err)
        self.assertTimeoutLine(err, url, "connection refused")


if __name__ == "__main__":
    harness.main()
