"""`make run` as a first user sees it: no build output when the build is
up to date or succeeds, only the agent's own lines: the start line, the API
address, what to try next (`heed checks list` with this build's path) and
how to stop; the sample checks' first results follow at once. Ctrl-C (a
SIGINT to the terminal's process group) stops it and removes the temporary
data dir. A failing build shows its output and says so.

It runs `make run` on the build directory of HEED_BIN with that build's own
type, compiler and sanitizer flags, so that the build step finds nothing
to do, and RUN_ARGS="--bind 127.0.0.1:0" rather than the fixed :8500."""

import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, ROOT, HeedTestCase, main, scaled, wait_until  # noqa: E402
from agent_harness import API_LINE  # noqa: E402


def cache_flags(build):
    """-D flags for cmake that repeat build's own configuration."""
    want = ("CMAKE_BUILD_TYPE", "CMAKE_C_COMPILER", "HEED_SANITIZE", "HEED_FUZZ", "HEED_WERROR")
    flags = []
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for ln in f:
            m = re.match(r"(\w+):\w+=(.*)$", ln.rstrip("\n"))
            if m and m.group(1) in want:
                flags.append("-D%s=%s" % (m.group(1), m.group(2)))
    return " ".join(flags)


class MakeRun(HeedTestCase):
    def make(self, build, flags, out_path, **kw):
        # As a user types it in a shell: not as a sub-make of `make test`
        # (whose jobserver this process does not hold).
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        with open(out_path, "w") as out:
            return self.reg.popen(["make", "--no-print-directory", "run", "BUILD=" + build,
                                   "CMAKE_FLAGS=" + flags, "RUN_ARGS=--bind 127.0.0.1:0"],
                                  cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True, grace=15.0, env=env, **kw)

    def test_quiet_then_the_agent(self):
        build = os.path.dirname(os.path.abspath(HEED))
        out_path = os.path.join(self.reg.tempdir(prefix="heed-make-run-"), "out")
        proc = self.make(build, cache_flags(build), out_path)

        def text():
            with open(out_path, errors="replace") as f:
                return f.read()
        wait_until(lambda: proc.poll() is not None or
                   text().count("check ") >= 3 and "Stop:" in text(),
                   scaled(120), interval=0.1, what="make run's lines")
        out = text()
        lines = out.splitlines()
        self.assertRegex(lines[0], r"^heed agent \S+: node \S+, 3 checks, data in /tmp/heed-dev-")
        m = API_LINE.match(lines[1])
        self.assertTrue(m, out)
        port = m.group(2)
        self.assertEqual(lines[2], "Try:  %s/heed checks list --addr http://127.0.0.1:%s   "
                                   "(or: status, checks history agent-api)" % (build, port))
        self.assertEqual(lines[3], "Stop: Ctrl-C (the temporary data dir goes with it)")
        # Nothing else but the checks' first results: no build output.
        for ln in lines[4:]:
            self.assertRegex(ln, r"^\S+Z check [\w-]+: unchecked -> passing", out)
        data_dir = re.search(r"data in (\S+)", lines[0]).group(1)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does
        proc.wait(scaled(30))
        self.assertIn("heed agent: SIGINT, stopping", text())
        self.assertFalse(os.path.exists(data_dir), "make run left its data dir")

    def test_failing_build_shows_its_output(self):
        build = self.reg.tempdir(prefix="heed-make-run-build-")
        out_path = os.path.join(self.reg.tempdir(prefix="heed-make-run-"), "out")
        # A compiler that does not work: cmake's own check fails at once.
        proc = self.make(build, "-DCMAKE_C_COMPILER=/bin/false", out_path)
        self.assertEqual(proc.wait(scaled(120)), 2)
        with open(out_path, errors="replace") as f:
            out = f.read()
        self.assertIn("/bin/false", out)  # cmake's own message, shown
        self.assertIn("make run: the build failed (above; also in %s/make-run.log)" % build, out)
        self.assertNotIn("heed agent", out)


if __name__ == "__main__":
    main()
