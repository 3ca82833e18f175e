"""README.md as a new user reads it: its sample of `heed wait --json -t 5s`
on a refused port shows about as many attempts as a real run makes (it
once said 96 where heed makes about 200), the timeout lines' attempt counts
follow the same schedule, and it links nothing outside the repository
(every relative link names a file of the repository; no http(s) link)."""

import json
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ROOT, HeedTestCase, free_port, main, run_heed  # noqa: E402


def readme():
    with open(os.path.join(ROOT, "README.md")) as f:
        return f.read()


class Readme(HeedTestCase):
    def test_json_sample_attempts_match_a_real_run(self):
        text = readme()
        m = re.search(r"heed wait --json -t 5s (tcp://\S+)\n# (\{.*)\n#  (.*\})", text)
        self.assertTrue(m, "the README's heed wait --json sample is gone")
        sample = json.loads(m.group(2) + m.group(3))
        port = free_port()  # nothing listens there: refused, as in the sample
        rc, out, err = run_heed(["wait", "--json", "-t", "5s", "tcp://127.0.0.1:%d" % port])
        self.assertEqual(rc, 124, err)
        real = json.loads(out)
        self.assertEqual(real["reason"], sample["reason"])
        self.assertEqual(sample["elapsed_ms"], 5000)
        self.assertGreaterEqual(real["elapsed_ms"], 5000)  # a loaded machine is late
        # The schedule (README, "Timing"): every 10 ms for the first second,
        # then 10 + 20 (t - 1) ms: 100 + 50 ln(90 / 10) = 210 attempts in
        # 5 s. The sample must say about that; a real run makes about as
        # many, or fewer on a loaded machine (ctest -j2, ASan) whose loop
        # lags, never many more. Either tells 96 from 200.
        self.assertLess(abs(sample["attempts"] - 210), 30, "README: %d attempts in 5 s"
                        % sample["attempts"])
        self.assertLess(real["attempts"], sample["attempts"] * 1.25, real)
        self.assertGreater(real["attempts"], sample["attempts"] * 0.5,
                           "README says %d attempts in 5 s, a real run made %d"
                           % (sample["attempts"], real["attempts"]))

    def test_timeout_lines_follow_the_schedule(self):
        # The sample's two targets, waited on together for the default 60 s,
        # are tried on the same schedule (README, "Timing"): from 5 s on, an
        # interval of 10 + 20 (t - 1) ms up to 500 ms at 25.5 s, so about
        # 50 ln(500 / 90) + 34.5 / 0.5 = 155 attempts more than in 5 s.
        text = readme()
        counts = [int(n) for n in re.findall(r"\((\d+) attempts, 60\.0 s\)", text)]
        self.assertEqual(len(counts), 2, "the README's timeout sample is gone")
        five = int(re.search(r'"attempts":(\d+),"elapsed_ms":5000', text).group(1))
        for n in counts:
            self.assertLess(abs(n - five - 155), 30, "README: %d attempts in 60 s" % n)
        self.assertLess(abs(counts[0] - counts[1]), 5)

    def test_links_stay_in_the_repository(self):
        text = readme()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            self.assertFalse(re.match(r"[a-z]+:", target), "a link outside the repo: " + target)
            path = target.split("#")[0]
            if path:
                self.assertTrue(os.path.exists(os.path.join(ROOT, path)),
                                "README links to %s, which the repository does not have" % path)
                self.assertFalse(os.path.relpath(os.path.join(ROOT, path), ROOT)
                                 .startswith(".."), "a link outside the repo: " + target)


if __name__ == "__main__":
    main()
