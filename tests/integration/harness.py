"""harness — what heed's black-box tests share.

The tests start the real heed binary (env HEED_BIN, set by ctest) against real
servers that they start themselves on free loopback ports. This module owns:

  * free_port(): a port nobody listens on, below the kernel's ephemeral range
    (so no other socket's source port and no TCP self-connect can take it);
  * run_heed() / Registry.spawn_heed(): heed in the foreground or background,
    always bounded by a timeout;
  * Registry: every process, server thread and temporary directory a test
    makes, ended and removed in close(), last in first out, even when the
    test failed. It ends only what it started, by pid, never by name;
  * HeedTestCase: a TestCase whose self.reg is closed after every test.

Python 3 standard library only. Timing bounds are multiplied by SLOW, which
is 3 for sanitizer builds of heed.
"""

import atexit
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEED = os.environ.get("HEED_BIN") or os.path.join(ROOT, "build", "heed")


def _is_sanitized(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()  # gcc and clang both reference it
    except OSError:
        return False


SLOW = 3.0 if _is_sanitized(HEED) else 1.0


def scaled(seconds):
    """A time bound, stretched for slow (sanitizer) builds."""
    return seconds * SLOW


# --- ports ---------------------------------------------------------------

def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


_given_ports = set()
_rng = random.Random(os.getpid() ^ int(time.time() * 1000))


def _bindable(port, family, host):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def ipv6_loopback():
    """True when ::1 can be bound here."""
    try:
        return _bindable(0, socket.AF_INET6, "::1")
    except OSError:
        return False


def free_port(ipv6=False):
    """A TCP port nobody listens on, on 127.0.0.1 (and ::1 with ipv6=True).

    Chosen at random below the ephemeral range and never twice in one
    process: a port from bind(0) would lie in the range the kernel hands out
    as source ports, where connects may meet themselves."""
    lo, _ = _ephemeral_range()
    top = max(lo - 1, 20000)
    for _ in range(1000):
        port = _rng.randrange(15000, top)
        if port in _given_ports:
            continue
        if not _bindable(port, socket.AF_INET, "127.0.0.1"):
            continue
        if ipv6 and not _bindable(port, socket.AF_INET6, "::1"):
            continue
        _given_ports.add(port)
        return port
    raise RuntimeError("no free port found")


def ephemeral_free_ports(n):
    """n distinct even ports inside the ephemeral range that are free now."""
    lo, hi = _ephemeral_range()
    out = set()
    for _ in range(100 * n):
        port = _rng.randrange(lo, hi) & ~1
        if port >= lo and port not in out and _bindable(port, socket.AF_INET, "127.0.0.1"):
            out.add(port)
            if len(out) == n:
                return sorted(out)
    raise RuntimeError("not %d free ports in the ephemeral range" % n)


# --- running heed --------------------------------------------------------

def run_heed(args, timeout=30, env=None, cwd=None):
    """Runs heed with args; returns (rc, stdout, stderr). Fails the test if
    heed is still running after timeout (scaled) seconds: it is killed."""
    try:
        p = subprocess.run([HEED] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=scaled(timeout),
                           env=env, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("heed %s still running after %.1f s (killed)"
                             % (" ".join(args), scaled(timeout))) from e
    return p.returncode, p.stdout, p.stderr


def run(argv, timeout=30, check=False, **kw):
    """Runs a helper program (psql, redis-cli, ...) with a bounded wait;
    returns the CompletedProcess (text mode, output captured)."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=scaled(timeout), **kw)
    except subprocess.TimeoutExpired as e:
        raise AssertionError("%s still running after %.1f s (killed)"
                             % (" ".join(argv), scaled(timeout))) from e
    if check and p.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (" ".join(argv), p.returncode,
                                                     p.stdout, p.stderr))
    return p


def wait_until(pred, timeout, interval=0.02, what="condition"):
    """Polls pred() until it is true; fails after timeout (scaled) seconds."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (scaled(timeout), what))
        time.sleep(interval)


# --- processes we started, by pid ----------------------------------------

def _alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] not in "ZX"


def _children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def descendants(pid):
    """The pids below pid in the process tree, deepest last."""
    out, todo = [], [pid]
    while todo:
        kids = _children(todo.pop())
        out.extend(kids)
        todo.extend(kids)
    return out


def pids_with_arg(arg):
    """Pids whose command line has arg as one argument: how a daemon that a
    test started in its own temporary directory is found again."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if arg.encode() in argv:
            out.append(int(d))
    return out


def end_pids(pids, first=signal.SIGTERM, grace=10.0):
    """Sends first to each pid still alive, then SIGKILL after grace seconds;
    returns the pids that survived even that (should be none)."""
    pids = [p for p in pids if _alive(p)]
    for p in pids:
        try:
            os.kill(p, first)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    for p in pids:
        if _alive(p):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return [p for p in pids if _alive(p)]


def _end_popen(proc, grace):
    """Ends a child we spawned (and what it spawned), and reaps it."""
    if proc.poll() is None:
        kids = descendants(proc.pid)
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        left = end_pids(kids, signal.SIGTERM, 2.0)
        if left:
            raise RuntimeError("processes %s did not end" % left)
    for f in (proc.stdin, proc.stdout, proc.stderr):
        if f:
            f.close()


_registries = set()


class Registry:
    """Everything one test started: closed last in first out by close(),
    which runs in the test's cleanup, so even after a failure."""

    def __init__(self):
        self._items = []  # (description, function that ends it)
        _registries.add(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def callback(self, what, fn):
        """Registers fn to run at close()."""
        self._items.append((what, fn))

    def popen(self, argv, grace=10.0, **kw):
        """Starts argv as a child and registers it; stdio defaults to
        /dev/null. grace: seconds between SIGTERM and SIGKILL at the end."""
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", subprocess.DEVNULL)
        kw.setdefault("stderr", subprocess.DEVNULL)
        proc = subprocess.Popen(argv, **kw)
        self.callback("process %d (%s)" % (proc.pid, argv[0]), lambda: _end_popen(proc, grace))
        return proc

    def spawn_heed(self, args, **kw):
        """heed in the background, output captured; collect with finish()."""
        kw.setdefault("stdout", subprocess.PIPE)
        kw.setdefault("stderr", subprocess.PIPE)
        return self.popen([HEED] + list(args), grace=5.0, text=True, **kw)

    def pid(self, what, pid_fn, first=signal.SIGTERM, grace=10.0):
        """Registers processes found at close() by pid_fn() (a daemon that
        left our process tree): they get first, then SIGKILL."""
        def end():
            pids = pid_fn()
            for p in list(pids):
                pids.extend(descendants(p))
            left = end_pids(pids, first, grace)
            if left:
                raise RuntimeError("%s: processes %s did not end" % (what, left))
        self.callback(what, end)

    def tempdir(self, prefix="heed-test-"):
        """A new temporary directory, removed at close()."""
        d = tempfile.mkdtemp(prefix=prefix)
        self.callback("directory " + d, lambda: shutil.rmtree(d))
        return d

    def close(self):
        errors = []
        while self._items:
            what, fn = self._items.pop()
            try:
                fn()
            except Exception as e:  # keep ending the rest
                errors.append("%s: %s" % (what, e))
        _registries.discard(self)
        if errors:
            raise RuntimeError("cleanup failed: " + "; ".join(errors))


def _close_all():
    for r in list(_registries):
        try:
            r.close()
        except Exception as e:
            print("harness: %s" % e, file=sys.stderr)


atexit.register(_close_all)


def finish(proc, timeout=30):
    """Waits for a spawn_heed() process; returns (rc, stdout, stderr)."""
    try:
        out, err = proc.communicate(timeout=scaled(timeout))
    except subprocess.TimeoutExpired as e:
        proc.kill()
        proc.communicate()
        raise AssertionError("heed still running after %.1f s (killed)" % scaled(timeout)) from e
    return proc.returncode, out, err


def still_running(proc, seconds):
    """Sleeps seconds and tells whether proc is still running."""
    time.sleep(seconds)
    return proc.poll() is None


# --- small servers in the test process -----------------------------------

class TcpServer:
    """Accepts on 127.0.0.1 (or host) and calls handler(conn) for each
    connection in a thread; counts connections. Stopped by the registry."""

    def __init__(self, reg, handler, host="127.0.0.1", port=0):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(4096)  # a burst of checks (600 at once) must not overflow it
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        reg.callback("tcp server on port %d" % self.port, self.stop)

    def _loop(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            conn.settimeout(5)
            try:
                self.handler(conn)
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        self.sock.close()


def listener(reg, port, host="127.0.0.1"):
    """A bare listening socket (connections queue, nobody accepts)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    reg.callback("listener on %s:%d" % (host, port), s.close)
    s.bind((host, port))
    s.listen(128)
    return s


# --- assertions and the test case ----------------------------------------

TIMEOUT_LINE = r"heed: %s: %s \((\d+) attempts?, (\d+\.\d) s\)"
READY_LINE = r"heed: %s ready \((\d+) attempts?, (\d+\.\d) s\)"


class HeedTestCase(unittest.TestCase):
    """self.reg: the test's Registry, closed after the test whatever happens."""

    maxDiff = None

    def setUp(self):
        self.reg = Registry()
        self.addCleanup(self.reg.close)

    def run_heeds(self, *arg_lists, timeout=30):
        """Runs several heeds at once; returns their (rc, stdout, stderr)."""
        procs = [self.reg.spawn_heed(args) for args in arg_lists]
        return [finish(p, timeout) for p in procs]

    def assertReadyLine(self, stderr, display):
        """stderr is exactly heed's "ready" line for display; returns attempts."""
        m = re.fullmatch(READY_LINE % re.escape(display) + r"\n", stderr)
        self.assertTrue(m, "not a ready line for %s: %r" % (display, stderr))
        return int(m.group(1))

    def assertTimeoutLine(self, stderr, display, message_re):
        """stderr has heed's timeout line for display whose message matches
        message_re; returns (attempts, seconds)."""
        m = re.search("^" + TIMEOUT_LINE % (re.escape(display), message_re) + "$", stderr,
                      re.MULTILINE)
        self.assertTrue(m, "no timeout line for %s matching %r in %r"
                        % (display, message_re, stderr))
        return int(m.groups()[-2]), float(m.groups()[-1])


def _on_term(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


# The exit status of a test file in which tests were skipped and none
# failed: ctest's SKIP_RETURN_CODE for the integration tests (CMakeLists.txt)
# and automake's code for a skip. ctest then reports the file as skipped,
# not as passed.
SKIP_EXIT = 77


def _test_id(test, module):
    """A test's id with the module named by its file, not "__main__";
    "setUpModule (test_x)" for a skip of the whole module."""
    return test.id().replace("__main__", module)


def main():
    """unittest.main(), with SIGTERM and SIGHUP unwinding through the
    cleanups so that no server outlives an interrupted run.

    Exits 1 when a test failed (or none ran), SKIP_EXIT when any test was
    skipped, else 0: a file where some tests ran and one skipped still shows
    as skipped in ctest. Each skip is printed on its own line,
    "skipped: MODULE.CLASS.TEST: REASON", for the summary of `make test`
    (scripts/test-summary.py), which fails on a skip that README.md does not
    list as expected."""
    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    module = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    prog = unittest.main(verbosity=2, exit=False)
    result = prog.result
    sys.stdout.flush()
    for test, reason in result.skipped:
        print("skipped: %s: %s" % (_test_id(test, module), " ".join(str(reason).split())))
    sys.stdout.flush()
    if not result.wasSuccessful():
        sys.exit(1)
    if result.skipped:
        sys.exit(SKIP_EXIT)
    if result.testsRun == 0:
        print("no tests ran", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
