"""browser — headless Chromium for the dashboard's tests, driven by
playwright-core (npm, tests/clients) through clients/browser_driver.js:

  * browser_missing(): why the browser cannot run here, or None (the
    test then skips: exit 77);
  * Browser(reg): starts node with the driver (Chromium with background
    networking off, resolving no name); each method sends one command and
    returns its answer, or fails the test with the driver's error. The
    registry closes the browser and ends node (its process group, which
    holds Chromium) at the end of the test.

Python 3 standard library only.
"""

import json
import os
import select
import shutil
import signal
import subprocess

from harness import scaled

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENTS = os.path.join(os.path.dirname(HERE), "clients", "node_modules")
DRIVER = os.path.join(HERE, "clients", "browser_driver.js")
CHROMIUM = os.environ.get("HEED_CHROMIUM", "/usr/bin/chromium")

__all__ = ["Browser", "browser_missing"]


def browser_missing():
    """Why the dashboard's browser tests cannot run here, or None."""
    if not shutil.which("node"):
        return "node is not installed"
    if not os.access(CHROMIUM, os.X_OK):
        return "%s is not installed (Debian's chromium; scripts/deps.sh installs it)" % CHROMIUM
    if not os.path.isdir(os.path.join(CLIENTS, "playwright-core")):
        return "tests/clients/node_modules/playwright-core is missing (scripts/deps.sh installs it)"
    return None


class Browser:
    def __init__(self, reg, timeout=60):
        env = dict(os.environ, NODE_PATH=CLIENTS, HEED_CHROMIUM=CHROMIUM)
        self.stderr_path = os.path.join(reg.tempdir(prefix="heed-browser-"), "stderr")
        with open(self.stderr_path, "w") as err:
            # Its own process group: Chromium's processes are node's children.
            self.proc = subprocess.Popen(["node", DRIVER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=err, text=True,
                                         env=env, start_new_session=True)
        reg.callback("browser (node %d)" % self.proc.pid, self._end)
        self._expect(timeout)

    def _end(self):
        if self.proc.poll() is None:
            try:
                self.call("close", timeout=20)
            except (AssertionError, OSError):
                pass
        try:
            self.proc.wait(scaled(10))
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever of the group is left: the driver's Chromium
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def _expect(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], scaled(timeout))
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            with open(self.stderr_path, errors="replace") as f:
                raise AssertionError("the browser driver did not answer within %.0f s:\n%s"
                                     % (scaled(timeout), f.read()[-3000:]))
        answer = json.loads(line)
        if not answer["ok"]:
            raise AssertionError("browser: %s" % answer["error"])
        return answer["value"]

    def call(self, cmd, timeout=60, **kw):
        kw["cmd"] = cmd
        self.proc.stdin.write(json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        return self._expect(timeout)

    def goto(self, url):
        return self.call("goto", url=url)

    def eval(self, expr):
        """The value of a JavaScript expression in the page."""
        return self.call("eval", expr=expr)

    def wait(self, expr, timeout=10):
        """Waits until the expression is truthy in the page (timeout in
        seconds, scaled); returns its value."""
        ms = int(scaled(timeout) * 1000)
        return self.call("wait", expr=expr, timeout_ms=ms, timeout=scaled(timeout) + 30)

    def fill(self, sel, value):
        return self.call("fill", sel=sel, value=value)

    def click(self, sel):
        return self.call("click", sel=sel)

    def screenshot(self, path):
        return self.call("screenshot", path=path)

    def requests(self):
        return self.call("requests")

    def navigations(self):
        return self.call("navigations")

    def console_errors(self):
        return self.call("console_errors")
