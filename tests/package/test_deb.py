#!/usr/bin/env python3
"""The Debian package, as an administrator meets it: `dpkg-buildpackage -us
-uc -b` from a copy of the tree (with DEB_BUILD_OPTIONS=nocheck, which must
build no test), lintian without an error, then on this machine: install
(the system user heed, /var/lib/heed, /etc/heed/heed.yaml as a conffile,
the system's shared libraries), start the agent as the unit starts it
(ExecStart, as user heed), stop it with SIGTERM, and purge, after which the
machine is as it was: no package, user, group, config, data or unit link.

Needs root (dpkg). Refuses to run (a skip, which `make test` reports) where
heed is already installed or a heed user, /etc/heed or /var/lib/heed
exists: the test would change what is not its own. Runs once per `make
test`, in the release build (CMakeLists.txt); the nocheck build takes ~20 s
on 2 cores. Concurrent runs from other work trees wait for each other on a
lock file."""

import fcntl
import json
import os
import pwd
import grp
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "integration"))
import harness  # noqa: E402
from harness import ROOT, free_port, run, wait_until  # noqa: E402

LOCK = "/var/lib/dpkg"
UNIT = "/lib/systemd/system/heed.service"


def installed(pkg):
    p = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return p.returncode == 0 and "installed" in p.stdout and "not-installed" not in p.stdout


def exists_user(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def exists_group(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def dpkg(args, timeout=300):
    """dpkg ARGS, retried while another dpkg holds the lock."""
    deadline = time.monotonic() + 120
    while True:
        p = run(["dpkg"] + args, timeout=timeout, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        if p.returncode == 0 or "lock" not in p.stderr or time.monotonic() > deadline:
            return p
        time.sleep(2)


def unit_links():
    """Every symlink under /etc/systemd/system (enabling a unit makes them)."""
    out = set()
    for d, _, names in os.walk("/etc/systemd/system"):
        for n in names:
            path = os.path.join(d, n)
            if os.path.islink(path):
                out.add((path, os.readlink(path)))
    return out


class DebTest(harness.HeedTestCase):
    def setUp(self):
        super().setUp()
        if os.geteuid() != 0:
            self.skipTest("installing a package needs root")
        for tool in ("dpkg-buildpackage", "dh", "lintian", "setpriv"):
            if not shutil.which(tool):
                self.skipTest("%s is not installed (scripts/deps.sh installs it)" % tool)
        lock = os.open(LOCK, os.O_RDONLY | os.O_DIRECTORY)
        self.reg.callback("flock on " + LOCK, lambda: os.close(lock))
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed("heed"):
            self.skipTest("the heed package is installed on this machine: not touching it")
        for what, there in (("user heed", exists_user("heed")),
                            ("group heed", exists_group("heed")),
                            ("/etc/heed", os.path.exists("/etc/heed")),
                            ("/var/lib/heed", os.path.exists("/var/lib/heed"))):
            if there:
                self.skipTest("%s exists on this machine: not touching it" % what)

    def build(self):
        """The .deb built with nocheck from a copy of the tree (the files git
        tracks or would track); returns its path."""
        top = self.reg.tempdir("heed-deb-")
        src = os.path.join(top, "heed")
        files = run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                     "--exclude-standard"], check=True).stdout.split("\0")
        for rel in filter(None, files):
            if not os.path.lexists(os.path.join(ROOT, rel)):
                continue  # deleted, not yet committed
            os.makedirs(os.path.dirname(os.path.join(src, rel)), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), os.path.join(src, rel), follow_symlinks=False)
        env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck")
        p = run(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src, env=env, timeout=600)
        log = p.stdout + p.stderr
        self.assertEqual(p.returncode, 0, log[-4000:])
        # nocheck: no test built (cmocka not even looked for), none run.
        self.assertIn("-DHEED_TESTS=OFF", log)
        self.assertNotIn("cmocka", log)
        self.assertNotRegex(log, r"Test +#\d+|tests passed")
        debs = [f for f in os.listdir(top) if re.match(r"^heed_[^_]+_[^_]+\.deb$", f)]
        self.assertEqual(len(debs), 1, os.listdir(top))
        changes = [f for f in os.listdir(top) if f.endswith(".changes")]
        p = run(["lintian", "--fail-on", "error", os.path.join(top, changes[0])], timeout=300)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotRegex(p.stdout, r"(?m)^E: ")
        return os.path.join(top, debs[0])

    def test_build_install_start_stop_purge(self):
        deb = self.build()
        links_before = unit_links()

        self.reg.callback("purge heed", lambda: installed("heed") and dpkg(["--purge", "heed"]))
        p = dpkg(["-i", deb])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

        # The system user, its data directory, the conffile.
        user = pwd.getpwnam("heed")
        self.assertLess(user.pw_uid, 1000)  # a system user
        self.assertEqual(user.pw_dir, "/var/lib/heed")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, "heed")
        st = os.stat("/var/lib/heed")
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (user.pw_uid, user.pw_gid, 0o750))
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", "heed"], check=True).stdout
        self.assertIn("/etc/heed/heed.yaml", conffiles)
        # The system's shared libraries, not static copies.
        ldd = run(["ldd", "/usr/bin/heed"], check=True).stdout
        for lib in ("libevent", "libcares", "libjansson", "libfyaml", "libsqlite3"):
            self.assertIn(lib, ldd)
        self.assertRegex(run(["/usr/bin/heed", "--version"], check=True).stdout, r"^heed \d")
        self.assertEqual(run(["man", "-w", "heed-wait"], check=True).stdout.strip(),
                         "/usr/share/man/man1/heed-wait.1.gz")

        # Start as the unit does: its ExecStart, as its User, on a port of ours
        # (the packaged config's 127.0.0.1:8500 may be someone's `make run`).
        with open(UNIT) as f:
            unit = f.read()
        exec_start = re.search(r"(?m)^ExecStart=(.*)$", unit).group(1).split()
        self.assertEqual(exec_start, ["/usr/bin/heed", "agent", "-c", "/etc/heed/heed.yaml"])
        self.assertRegex(unit, r"(?m)^User=heed$")
        port = free_port()
        agent = self.reg.popen(["setpriv", "--reuid=heed", "--regid=heed", "--init-groups",
                                "--inh-caps=-all"] + exec_start +
                               ["--bind", "127.0.0.1:%d" % port],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def status():
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/v1/status" % port, timeout=2) as r:
                    return json.load(r)
            except OSError:
                return None
        reply = wait_until(status, 20, interval=0.1, what="the agent's API")
        self.assertIsInstance(reply, dict)
        checks = run(["/usr/bin/heed", "checks", "list", "--addr", "127.0.0.1:%d" % port],
                     check=True).stdout
        self.assertIn("heed-api", checks)
        owned = [f for f in os.listdir("/var/lib/heed")
                 if os.stat(os.path.join("/var/lib/heed", f)).st_uid == user.pw_uid]
        self.assertTrue(owned, "the agent wrote nothing to /var/lib/heed as heed")

        # Stop: SIGTERM ends it cleanly.
        agent.terminate()
        out, _ = agent.communicate(timeout=harness.scaled(20))
        self.assertEqual(agent.returncode, 0, out)

        # Purge: nothing of heed is left.
        p = dpkg(["--purge", "heed"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertFalse(installed("heed"))
        self.assertFalse(exists_user("heed"))
        self.assertFalse(exists_group("heed"))
        for path in ("/etc/heed", "/var/lib/heed", "/usr/bin/heed", UNIT):
            self.assertFalse(os.path.lexists(path), path)
        self.assertEqual(unit_links(), links_before)


if __name__ == "__main__":
    harness.main()
