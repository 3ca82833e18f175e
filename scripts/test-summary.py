#!/usr/bin/env python3
"""test-summary — what one suite of `make test` did, from ctest's JUnit file.

    scripts/test-summary.py SUITE JUNIT_XML [README]

Prints one line with the counts (ctest's own "100% tests passed" counts a
skipped test as passed), then one line per skip with its reason: for an
integration test file, each skipped case as harness.main() printed it
("skipped: MODULE.CLASS.TEST: REASON"); for any other test, the ctest name.

Exits 1 when a test failed, or when a test skipped that README.md does not
list as expected on this machine: the list between the lines
"<!-- expected-skips" and "<!-- /expected-skips -->", one "- `ID`: why"
per line, where ID is what this script prints after "skipped: " (shell
wildcards allowed). Python 3 standard library only.
"""

import fnmatch
import os
import re
import sys
import xml.etree.ElementTree as ET

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE_SKIP = re.compile(r"^skipped: (.+?): (.*)$", re.MULTILINE)
CASES_RUN = re.compile(r"^Ran (\d+) tests? in ", re.MULTILINE)


def expected_skips(readme):
    """The ids (or patterns) README.md lists as skips expected here."""
    try:
        with open(readme, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        sys.exit("test-summary: cannot read %s: %s" % (readme, e))
    m = re.search(r"^<!-- expected-skips\b.*?-->\n(.*?)^<!-- /expected-skips -->", text,
                  re.MULTILINE | re.DOTALL)
    if not m:
        sys.exit("test-summary: %s has no <!-- expected-skips --> list" % readme)
    return re.findall(r"^- `([^`]+)`", m.group(1), re.MULTILINE)


def main(argv):
    if len(argv) not in (3, 4):
        sys.exit("usage: test-summary.py SUITE JUNIT_XML [README]")
    suite, junit = argv[1], argv[2]
    readme = argv[3] if len(argv) == 4 else os.path.join(ROOT, "README.md")
    expected = expected_skips(readme)
    try:
        cases = ET.parse(junit).getroot().iter("testcase")
    except (OSError, ET.ParseError) as e:
        print("make test: %s: no test results (%s)" % (suite, e))
        return 1

    passed, failed, skips = [], [], []  # skips: (ctest name, id, reason, note)
    total = 0
    for tc in cases:
        total += 1
        name, status = tc.get("name"), tc.get("status")
        out = tc.findtext("system-out") or ""
        if status == "run":
            passed.append(name)
        elif status in ("notrun", "disabled"):
            found = CASE_SKIP.findall(out)
            ran = CASES_RUN.search(out)
            note = ""
            if found and ran and int(ran.group(1)) > 0:
                note = " (%d of %s cases)" % (len(found), ran.group(1))
            if not found:
                sk = tc.find("skipped")
                found = [(name, sk.get("message", status) if sk is not None else status)]
            for cid, reason in found:
                skips.append((name, cid, reason, note))
        else:
            failed.append(name)

    nskipped = len({s[0] for s in skips})
    print("make test: %s: %d tests: %d passed, %d skipped, %d failed"
          % (suite, total, len(passed), nskipped, len(failed)))
    unexpected = 0
    for name, cid, reason, note in skips:
        ok = any(fnmatch.fnmatchcase(cid, pat) for pat in expected)
        unexpected += not ok
        print("  skipped: %s: %s%s [%s]" % (cid, reason, note,
                                           "expected" if ok else "NOT EXPECTED"))
    for name in failed:
        print("  failed: %s" % name)
    if unexpected:
        print("make test: %s: %d skip(s) that README.md does not list as expected on this "
              "machine: make the test run here, or list it under \"Skips expected on this "
              "machine\"" % (suite, unexpected))
    return 1 if failed or unexpected or total == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
