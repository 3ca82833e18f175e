"""`heed agent --validate` runs every check that start-up runs, short of
binding: for each rule, `--validate -c FILE` and `heed agent -c FILE` give
the same verdict (exit 1) and the same message, and a start that
--validate accepted does start. --validate creates nothing: no data_dir,
no store file, no -wal or -shm beside an existing store, and it checks
the store of a running agent without waiting for it.

No agent here listens beyond loopback: the rules about 0.0.0.0 and :: are
seen in refusals and in --validate's "ok" only."""

import os
import shutil
import sqlite3
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HeedTestCase, free_port, main, run, run_heed  # noqa: E402
from agent_harness import Agent, to_yaml  # noqa: E402

SETPRIV = shutil.which("setpriv")  # util-linux: run heed as nobody
NOBODY = 65534

TOKENS = [{"secret": "s3cret-tok", "role": "management"}]
NO_TOKENS = ("refusing to listen on %s without tokens: anyone who can reach it could change "
             "checks. Configure tokens, or bind 127.0.0.1")
PLAINTEXT = ("refusing to listen on %s over plain HTTP: tokens would cross the network in clear "
             "text. Configure tls (cert_file, key_file), or set allow_plaintext: true, or "
             "bind 127.0.0.1")


class Preflight(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.d = self.reg.tempdir()

    def write(self, name, config):
        path = os.path.join(self.d, name)
        with open(path, "w") as f:
            f.write(config if isinstance(config, str) else to_yaml(config))
        return path

    def config(self, name, **keys):
        keys.setdefault("bind", "127.0.0.1:%d" % free_port())
        keys.setdefault("data_dir", os.path.join(self.d, "data"))
        return self.write(name, keys)

    def both_refuse(self, args, message, prefix="heed agent: ", prefix_cmd=None):
        """--validate and a start, with the same args, exit 1 with exactly
        prefix + message on stderr and nothing on stdout; returns stderr."""
        pre = prefix_cmd or []
        got = []
        for extra in (["--validate"], []):
            # A start that listened would not exit: run_heed fails it at its timeout.
            rc, out, err = self.run_as(pre, ["agent"] + extra + args)
            self.assertEqual((rc, out), (1, ""), (extra, args, err))
            got.append(err)
        self.assertEqual(got[0], got[1], "--validate and start-up say different things")
        if message is not None:
            self.assertEqual(got[0], prefix + message + "\n")
        self.assertNotIn("s3cret-tok", got[0])
        return got[0]

    def run_as(self, pre, args):
        if not pre:
            return run_heed(args, timeout=20)
        from harness import HEED
        p = run(pre + [HEED] + args, timeout=20)
        return p.returncode, p.stdout, p.stderr

    def test_bind_beyond_loopback_needs_tokens(self):
        port = free_port()
        for bind in ("0.0.0.0:%d" % port, "0.0.0.0:0"):
            cfg = self.config("wide.yaml", bind=bind)
            self.both_refuse(["-c", cfg], NO_TOKENS % "0.0.0.0")
        plain = self.config("plain.yaml")
        self.both_refuse(["-c", plain, "--bind", "[::]:0"], NO_TOKENS % "::")
        self.both_refuse(["-c", plain, "--bind", "0.0.0.0:%d" % port], NO_TOKENS % "0.0.0.0")

    def test_bind_beyond_loopback_needs_tls_or_allow_plaintext(self):
        cfg = self.config("tokens.yaml", bind="0.0.0.0:0", tokens=TOKENS)
        self.both_refuse(["-c", cfg], PLAINTEXT % "0.0.0.0")
        loop = self.config("loop.yaml", tokens=TOKENS)
        self.both_refuse(["-c", loop, "--bind", "[::]:0"], PLAINTEXT % "::")
        # Either way out is accepted (not started here: it would listen on
        # every interface).
        ok = self.config("plain.yaml", bind="0.0.0.0:0", tokens=TOKENS, allow_plaintext=True)
        rc, out, err = run_heed(["agent", "--validate", "-c", ok])
        self.assertEqual((rc, out, err), (0, "%s: ok (0 checks, 0 services, 1 tokens)\n" % ok, ""))
        cert, key = os.path.join(self.d, "cert.pem"), os.path.join(self.d, "key.pem")
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out",
             cert, "-days", "2", "-subj", "/CN=localhost"], check=True, timeout=60)
        tls = self.config("tls.yaml", bind="0.0.0.0:0", tokens=TOKENS,
                          tls={"cert_file": cert, "key_file": key})
        rc, out, err = run_heed(["agent", "--validate", "-c", tls])
        self.assertEqual((rc, out, err), (0, "%s: ok (0 checks, 0 services, 1 tokens)\n" % tls, ""))
        # Files that are there but are no certificate: refused by both, as
        # the server loads them.
        junk = self.write("junk.pem", "x")
        bad = self.config("junk.yaml", bind="0.0.0.0:0", tokens=TOKENS,
                          tls={"cert_file": junk, "key_file": key})
        got = self.both_refuse(["-c", bad], None)
        self.assertIn("tls.cert_file (a PEM certificate) %s: " % junk, got)
        # Loopback needs neither.
        rc, out, err = run_heed(["agent", "--validate", "-c", self.config("lo.yaml")])
        self.assertEqual((rc, err), (0, ""))

    def test_tls_files_must_be_readable(self):
        missing = os.path.join(self.d, "missing.pem")
        key = self.write("key.pem", "x")
        cfg = self.config("tls.yaml", tls={"cert_file": missing, "key_file": key})
        self.both_refuse(["-c", cfg], "tls.cert_file %s: cannot read: No such file or directory"
                         % missing)
        cert = self.write("cert.pem", "x")
        cfg = self.config("tls2.yaml", tls={"cert_file": cert, "key_file": self.d})
        self.both_refuse(["-c", cfg], "tls.key_file %s: not a regular file" % self.d)
        cfg = self.config("tls3.yaml", tls={"cert_file": cert, "key_file": key,
                                            "ca_file": missing, "verify_incoming": True})
        self.both_refuse(["-c", cfg], "tls.ca_file %s: cannot read: No such file or directory"
                         % missing)

    def test_check_tls_files_must_be_readable(self):
        missing = os.path.join(self.d, "missing.pem")
        cfg = self.config("chk.yaml", checks=[{"name": "api", "target": "https://127.0.0.1:9/",
                                               "tls": {"ca_file": missing}}])
        self.both_refuse(["-c", cfg], "checks.api.tls.ca_file %s: cannot read: No such file or "
                                      "directory" % missing)

    def test_data_dir_must_be_a_writable_directory_or_creatable(self):
        blocker = self.write("file", "")
        cfg = self.config("file.yaml", data_dir=blocker)
        self.both_refuse(["-c", cfg], "data_dir %s is not a directory" % blocker)
        cfg = self.config("under.yaml", data_dir=blocker + "/data")
        self.both_refuse(["-c", cfg], "cannot create data_dir %s/data: Not a directory" % blocker)
        # --data-dir is checked as the file's key is.
        good = self.config("good.yaml")
        self.both_refuse(["-c", good, "--data-dir", blocker + "/x/y"],
                         "cannot create data_dir %s/x/y: Not a directory" % blocker)

    @unittest.skipUnless(os.geteuid() == 0, "needs root to mount a read-only tmpfs")
    def test_data_dir_on_a_read_only_file_system(self):
        ro = self.reg.tempdir(prefix="heed-ro-")
        run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "heed-test", ro], check=True)
        self.reg.callback("unmount " + ro, lambda: run(["umount", ro], check=True))
        cfg = self.config("ro.yaml", data_dir=ro)
        self.both_refuse(["-c", cfg], "data_dir %s is not writable: Read-only file system" % ro)
        cfg = self.config("ro2.yaml", data_dir=ro + "/data")
        self.both_refuse(["-c", cfg], "cannot create data_dir %s/data: Read-only file system" % ro)

    @unittest.skipUnless(os.geteuid() == 0 and SETPRIV, "needs root and setpriv (util-linux) "
                         "to run heed as another user")
    def test_data_dir_and_store_permissions_of_the_user_that_runs_it(self):
        nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
        os.chmod(self.d, 0o755)
        root_dir = os.path.join(self.d, "root-owned")
        os.mkdir(root_dir, 0o755)
        cfg = self.config("perm.yaml", data_dir=root_dir)
        os.chmod(cfg, 0o644)
        self.both_refuse(["-c", cfg], "data_dir %s is not writable: Permission denied" % root_dir,
                         prefix_cmd=nobody)
        cfg = self.config("perm2.yaml", data_dir=root_dir + "/data")
        os.chmod(cfg, 0o644)
        self.both_refuse(["-c", cfg], "cannot create data_dir %s/data: Permission denied"
                         % root_dir, prefix_cmd=nobody)
        # nobody's own directory, with a store root made and nobody may not write.
        mine = os.path.join(self.d, "mine")
        os.mkdir(mine, 0o755)
        os.chown(mine, NOBODY, NOBODY)
        Agent(self.reg, {}, data_dir=mine).start().stop()
        db = os.path.join(mine, "heed.db")
        os.chmod(db, 0o644)  # still root's
        cfg = self.config("perm3.yaml", data_dir=mine)
        os.chmod(cfg, 0o644)
        self.both_refuse(["-c", cfg], "%s: cannot open or create the store file: %s: "
                         "Permission denied" % (db, db), prefix_cmd=nobody)

    def test_store_must_be_a_heed_store_of_a_known_schema(self):
        other = os.path.join(self.d, "other")
        os.mkdir(other)
        con = sqlite3.connect(os.path.join(other, "heed.db"))
        con.execute("CREATE TABLE songs(title TEXT)")
        con.commit()
        con.close()
        cfg = self.config("other.yaml", data_dir=other)
        self.both_refuse(["-c", cfg], "%s/heed.db: not a heed store, or damaged: not a heed "
                         "store (another program's SQLite file)" % other)

        junk = os.path.join(self.d, "junk")
        os.mkdir(junk)
        with open(os.path.join(junk, "heed.db"), "wb") as f:
            f.write(b"not SQLite at all\n" * 300)
        cfg = self.config("junk.yaml", data_dir=junk)
        self.both_refuse(["-c", cfg], "%s/heed.db: not a heed store, or damaged: file is not a "
                         "database" % junk)

        # A store a newer heed wrote: made by this heed, then its schema
        # version raised past what this heed knows.
        newer = os.path.join(self.d, "newer")
        Agent(self.reg, {}, data_dir=newer).start().stop()
        con = sqlite3.connect(os.path.join(newer, "heed.db"))
        version = con.execute("PRAGMA user_version").fetchone()[0]
        con.execute("PRAGMA user_version = %d" % (version + 7))
        con.commit()
        con.close()
        cfg = self.config("newer.yaml", data_dir=newer)
        self.both_refuse(["-c", cfg], "%s/heed.db: written by a newer heed (unknown schema "
                         "version): schema version %d is newer than this heed's %d: upgrade "
                         "heed" % (newer, version + 7, version))

    def test_validate_creates_nothing_and_does_not_wait_for_a_running_agent(self):
        data = os.path.join(self.d, "fresh", "data")
        cfg = self.config("fresh.yaml", data_dir=data)
        rc, out, err = run_heed(["agent", "--validate", "-c", cfg])
        self.assertEqual((rc, err), (0, ""))
        self.assertFalse(os.path.exists(os.path.join(self.d, "fresh")), "--validate made data_dir")

        a = Agent(self.reg, {}).start()
        a.ok("POST", "/v1/checks", {"name": "x", "ttl": "1h"}, status=201)
        # The agent holds its store open: --validate reads it all the same.
        rc, out, err = run_heed(["agent", "--validate", "-c", a.path], timeout=5)
        self.assertEqual((rc, out, err),
                         (0, "%s: ok (0 checks, 0 services, 0 tokens)\n" % a.path, ""))
        self.assertEqual(a.stop(), 0)
        before = sorted(os.listdir(a.data_dir))
        self.assertEqual(before, ["heed.db"])  # a clean stop leaves the file alone
        rc, out, err = run_heed(["agent", "--validate", "-c", a.path])
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(sorted(os.listdir(a.data_dir)), before, "--validate left files behind")
        # What --validate accepted starts.
        a.start()
        self.assertEqual(a.check("x")["id"], "x")


if __name__ == "__main__":
    main()
