"""Skips are visible: a test file run through harness.main() exits 77 when
any of its tests skipped (and none failed), ctest reports it as skipped, not
passed, and scripts/test-summary.py (what `make test` prints after each
suite) lists every skipped case and fails on one that README.md does not
list as expected. Small test files and a CMake project, run with the real
python3, cmake and ctest, in a temporary directory."""

import os
import shutil
import sys
import textwrap
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HeedTestCase, main, run  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.path.join(harness.ROOT, "scripts", "test-summary.py")

HEAD = """\
import os, sys, unittest
sys.path.insert(0, %r)
import harness
""" % HERE

FILES = {
    "test_all_pass": """
class T(unittest.TestCase):
    def test_a(self):
        pass
""",
    "test_one_skips": """
class T(unittest.TestCase):
    def test_a(self):
        pass

    @unittest.skip("no frobnicator here")
    def test_b(self):
        pass
""",
    "test_fails_and_skips": """
class T(unittest.TestCase):
    def test_a(self):
        self.assertEqual(1, 2)

    def test_b(self):
        self.skipTest("no ::1")
""",
    "test_module_skips": """
def setUpModule():
    raise unittest.SkipTest("needs root")

class T(unittest.TestCase):
    def test_a(self):
        pass
""",
    "test_no_tests": """
""",
}

README = """\
# x

<!-- expected-skips: read by scripts/test-summary.py -->
%s
<!-- /expected-skips -->
"""


class SkipReporting(HeedTestCase):
    def setUp(self):
        super().setUp()
        self.dir = self.reg.tempdir()
        for name, body in FILES.items():
            with open(os.path.join(self.dir, name + ".py"), "w") as f:
                f.write(HEAD + textwrap.dedent(body) + "\nharness.main()\n")

    def py(self, name):
        p = run([sys.executable, os.path.join(self.dir, name + ".py")], timeout=30)
        return p.returncode, p.stdout, p.stderr

    def test_exit_codes_and_skip_lines(self):
        self.assertEqual(self.py("test_all_pass")[:2], (0, ""))
        rc, out, err = self.py("test_one_skips")
        self.assertEqual((rc, out), (77, "skipped: test_one_skips.T.test_b: no frobnicator here\n"),
                         err)
        self.assertIn("test_a (__main__.T.test_a) ... ok", err)
        rc, out, err = self.py("test_fails_and_skips")  # a failure wins over a skip
        self.assertEqual((rc, out), (1, "skipped: test_fails_and_skips.T.test_b: no ::1\n"), err)
        rc, out, err = self.py("test_module_skips")
        self.assertEqual((rc, out), (77, "skipped: setUpModule (test_module_skips): needs root\n"),
                         err)
        rc, out, err = self.py("test_no_tests")
        self.assertEqual(rc, 1, err)
        self.assertIn("no tests ran", err)

    def readme(self, entries):
        path = os.path.join(self.dir, "README.md")
        with open(path, "w") as f:
            f.write(README % "\n".join(entries))
        return path

    @unittest.skipUnless(shutil.which("cmake") and shutil.which("ctest"), "cmake not installed")
    def test_ctest_counts_skips_and_the_summary_checks_them(self):
        src, build = os.path.join(self.dir, "src"), os.path.join(self.dir, "build")
        os.mkdir(src)
        lines = ["cmake_minimum_required(VERSION 3.18)", "project(t NONE)", "enable_testing()"]
        for name in ("test_all_pass", "test_one_skips", "test_module_skips"):
            lines.append('add_test(NAME integ_%s COMMAND "%s" "%s")'
                         % (name, sys.executable, os.path.join(self.dir, name + ".py")))
            lines.append("set_tests_properties(integ_%s PROPERTIES SKIP_RETURN_CODE 77)" % name)
        with open(os.path.join(src, "CMakeLists.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
        run(["cmake", "-S", src, "-B", build], timeout=60, check=True)
        junit = os.path.join(build, "junit.xml")
        p = run(["ctest", "--test-dir", build, "--output-junit", junit], timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"integ_test_one_skips \.+\*+Skipped")
        self.assertRegex(p.stdout, r"integ_test_module_skips \.+\*+Skipped")
        self.assertRegex(p.stdout, r"integ_test_all_pass \.+ +Passed")

        # Not listed: the summary names both and fails.
        p = run([sys.executable, SUMMARY, "release", junit, self.readme([])], timeout=30)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertEqual(p.stdout.splitlines()[:3], [
            "make test: release: 3 tests: 1 passed, 2 skipped, 0 failed",
            "  skipped: test_one_skips.T.test_b: no frobnicator here (1 of 2 cases) "
            "[NOT EXPECTED]",
            "  skipped: setUpModule (test_module_skips): needs root [NOT EXPECTED]"])
        self.assertIn("2 skip(s) that README.md does not list", p.stdout)

        # Listed (one by its id, one by a wildcard): the same counts, and it passes.
        readme = self.readme(["- `test_one_skips.T.test_b`: no frobnicator on this machine",
                              "- `setUpModule (test_module_*)`: not root here"])
        p = run([sys.executable, SUMMARY, "release", junit, readme], timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "make test: release: 3 tests: 1 passed, 2 skipped, 0 failed\n"
                         "  skipped: test_one_skips.T.test_b: no frobnicator here (1 of 2 cases) "
                         "[expected]\n"
                         "  skipped: setUpModule (test_module_skips): needs root [expected]\n")

    def test_the_readme_list_is_readable(self):
        # The repository's own list parses (an empty list is a list).
        p = run([sys.executable, "-c",
                 "import importlib.util, sys; s = importlib.util.spec_from_file_location"
                 "('s', %r); m = importlib.util.module_from_spec(s); s.loader.exec_module(m);"
                 " print(m.expected_skips(%r))"
                 % (SUMMARY, os.path.join(harness.ROOT, "README.md"))], timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"^\[.*\]\n$")


if __name__ == "__main__":
    main()
