"""bench/benchlib — what the benchmark scripts share: processes started and
stopped by pid, bounded waits, /proc readings (CPU, peak RSS), peers
installed from Debian, heed built from a commit, wrk runs with a Lua
script that counts good and bad answers, etcd's JSON gateway (one member,
loopback only) as the peer for API figures, and the report's number forms.

A script sets NAME (for its messages) and WORK (its run's directory)
before using it.
"""
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NAME = "bench"
WORK = os.path.join(HERE, "work")
TICK = os.sysconf("SC_CLK_TCK")

started = []  # (name, Popen) still to stop


# ---- processes ---------------------------------------------------------------

def spawn(name, argv, **kw):
    p = subprocess.Popen(argv, **kw)
    started.append((name, p))
    return p


def stop(p, timeout=30):
    """SIGTERM p (by pid), wait at most timeout, then SIGKILL it."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)
    for i, (_, q) in enumerate(started):
        if q is p:
            del started[i]
            break


def stop_all():
    for _, p in list(reversed(started)):
        stop(p)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(url, data=None, timeout=10):
    req = urllib.request.Request(url, data=data)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


def wait_http(url, p, limit=30.0):
    t_end = time.monotonic() + limit
    ctx = ssl._create_unverified_context()  # only "does it answer" (the TLS run)
    while time.monotonic() < t_end:
        if p.poll() is not None:
            raise SystemExit(NAME + ": %s exited early (%d)" % (p.args[0], p.returncode))
        try:
            with urllib.request.urlopen(url, timeout=2, context=ctx) as r:
                return r.read()
        except OSError:
            time.sleep(0.05)
    raise SystemExit(NAME + ": %s did not answer within %.0f s" % (url, limit))


def cpu_s(pid):
    """utime+stime of the whole process (all threads), seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rq_wait_s(pid):
    """Time the process's threads spent runnable but not running (schedstat):
    how much other load on the machine held it back."""
    total = 0
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                total += int(f.read().split()[1])
        except OSError:
            pass
    return total / 1e9


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


# ---- set-up ------------------------------------------------------------------

def apt_install(pkgs):
    subprocess.run(["apt-get", "install", "-y", "-qq"] + pkgs, check=True, timeout=600,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def build(heed, commit):
    """heed as committed: HEAD exported with git archive and built apart, so
    that uncommitted edits in the working tree (others work in it too) never
    leak into the figures. Kept per commit under bench/work/build/."""
    if heed:
        return os.path.abspath(heed)
    top = os.path.join(HERE, "work", "build", "heed-" + commit)
    exe = os.path.join(top, "build", "heed")
    if os.path.exists(exe):
        return exe
    src = os.path.join(top, "src")
    shutil.rmtree(top, ignore_errors=True)
    os.makedirs(src)
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit], check=True, timeout=120,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", src], input=archive, check=True, timeout=120)
    subprocess.run(["cmake", "-S", src, "-B", os.path.join(top, "build"),
                    "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], check=True, timeout=300,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", os.path.join(top, "build"), "-j2", "--target", "heed"],
                   check=True, timeout=900, stdout=subprocess.DEVNULL)
    return exe


# ---- wrk and etcd -------------------------------------------------------------

LUA_COMMON = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
function done(summary, latency, requests)
  local ok, bad, first = 0, 0, nil
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok")
    bad = bad + t:get("bad")
    first = first or t:get("first_bad")
  end
  io.write(string.format("RESULT ok=%d bad=%d\n", ok, bad))
  if first then io.write("FIRST_BAD " .. first .. "\n") end
end
function note_bad(status, body)
  bad = bad + 1
  if not first_bad then first_bad = status .. " " .. (body or ""):sub(1, 200):gsub("\n", " ") end
end
"""

LUA_B64 = r"""
local b64c = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function b64(s)
  return ((s:gsub(".", function(x)
    local r, b = "", x:byte()
    for j = 8, 1, -1 do r = r .. (b % 2 ^ j - b % 2 ^ (j - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for j = 1, 6 do c = c + (x:sub(j, j) == "1" and 2 ^ (6 - j) or 0) end
    return b64c:sub(c + 1, c + 1)
  end) .. ({"", "==", "="})[#s % 3 + 1])
end
"""

# The value etcd stores is about the size of a heed check definition.
LUA_ETCD_PUT = LUA_COMMON + LUA_B64 + r"""
function init(args)
  ok, bad, n = 0, 0, 0
  wrk.headers["Content-Type"] = "application/json"
  val = b64('{"id":"x","name":"x","target":"tcp://127.0.1.1:21000","interval":"1h"}')
end
function request()
  n = n + 1
  local key = b64(string.format("heed/checks/api%d-%d", tid, n))
  return wrk.format("POST", "/v3/kv/put", nil,
                    string.format('{"key":"%s","value":"%s"}', key, val))
end
function response(status, headers, body)
  if status == 200 and body:find('"revision"', 1, true) then ok = ok + 1 else note_bad(status, body) end
end
"""

LUA_ETCD_RANGE = LUA_COMMON + LUA_B64 + r"""
function init(args)
  ok, bad = 0, 0
  nkeys = tonumber(args[1])
  wrk.headers["Content-Type"] = "application/json"
  bodies = {}
  for k = 1, nkeys do
    bodies[k] = string.format('{"key":"%s"}', b64(string.format("heed/checks/api1-%d", k)))
  end
  i = (tid - 1) * 7919
end
function request()
  i = i + 1
  return wrk.format("POST", "/v3/kv/range", nil, bodies[i % nkeys + 1])
end
function response(status, headers, body)
  if status == 200 and body:find('"kvs"', 1, true) then ok = ok + 1 else note_bad(status, body) end
end
"""


def lua(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def wrk(url, script, args, threads, conns, seconds):
    argv = ["wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s",
            "-s", script, url, "--"] + [str(a) for a in args]
    p = spawn("wrk", argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=seconds + 60)
    finally:
        stop(p)
    first = re.search(r"FIRST_BAD (.*)", out)
    if first:
        print(NAME + ": %s: first unexpected answer: %s" % (os.path.basename(script),
                                                               first.group(1)), file=sys.stderr)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r = re.search(r"RESULT ok=(\d+) bad=(\d+)", out)
    if not m or not r:
        raise SystemExit(NAME + ": wrk output not understood:\n" + out)
    return float(m.group(1)), int(r.group(1)), int(r.group(2))


def start_etcd():
    """A one-member etcd with a fresh data dir in WORK, listening on loopback
    only. Returns (Popen, client URL, data dir); stop it with stop_etcd."""
    data = os.path.join(WORK, "etcd-data")
    shutil.rmtree(data, ignore_errors=True)
    cport, pport = free_port(), free_port()
    url = "http://127.0.0.1:%d" % cport
    log = open(os.path.join(WORK, "etcd.log"), "w")
    p = spawn("etcd", ["etcd", "--name", "bench", "--data-dir", data,
                       "--listen-client-urls", url, "--advertise-client-urls", url,
                       "--listen-peer-urls", "http://127.0.0.1:%d" % pport,
                       "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % pport,
                       "--initial-cluster", "bench=http://127.0.0.1:%d" % pport,
                       "--listen-metrics-urls", "http://127.0.0.1:%d" % free_port()],
              stdout=log, stderr=log)
    log.close()
    try:
        wait_http(url + "/health", p)
    except BaseException:
        stop_etcd(p, data)
        raise
    return p, url, data


def stop_etcd(p, data):
    stop(p)
    shutil.rmtree(data, ignore_errors=True)


# ---- report --------------------------------------------------------------------

def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return float(m.group(1)) if m else float("nan")


def mmm(xs, fmt="%.0f"):
    xs = list(xs)
    return (fmt + " (" + fmt + " – " + fmt + ")") % (statistics.median(xs), min(xs), max(xs))


def med(xs):
    return statistics.median(list(xs))


def goal(ok):
    return "met" if ok else "NOT met"
