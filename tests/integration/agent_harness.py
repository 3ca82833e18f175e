"""agent_harness — what the black-box tests of `heed agent` share.

On top of harness.py (ports, the process registry, timing bounds):

  * to_yaml(): a config file written from Python dicts and lists;
  * Agent: one `heed agent -c FILE` with its own temporary data_dir and
    config on a free loopback port. start() returns once the agent printed
    its "API:" line (which it does only after it loaded the store, listens
    and handles signals); stop() sends a signal and returns the exit code.
    At the end of the test an agent still running gets SIGTERM and must
    exit 0 (so every test also checks a clean stop, under ASan too); the
    registry ends it by pid whatever happens. Its stdout and stderr go to
    files, so a test can read them while it runs (after a SIGHUP, say);
  * Agent.call(): one HTTP request on a new connection, bounded by a
    timeout; returns a Reply with the status, the headers and the body,
    decoded when it is JSON;
  * Agent.wait_check(): polls GET /v1/checks/ID until a predicate holds.

Python 3 standard library only.
"""

import http.client
import http.server
import json
import os
import re
import signal
import subprocess
import threading
import time

from harness import HEED, free_port, scaled, wait_until

__all__ = ["Agent", "ControlledHttp", "Reply", "to_yaml", "tcp_listener"]


# --- config files --------------------------------------------------------

def _scalar(v):
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return str(v)
    return json.dumps(str(v))  # a JSON string is a YAML double-quoted scalar


def to_yaml(obj, indent=0):
    """obj (dicts, lists, scalars) as block-style YAML text. Lists of
    scalars are written in flow style ([a, b]); strings are quoted."""
    pad = " " * indent
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 2)))
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                out.append("%s%s:\n%s" % (pad, k, to_yaml(v, indent + 2)))
            elif isinstance(v, list):
                out.append("%s%s: [%s]\n" % (pad, k, ", ".join(_scalar(x) for x in v)))
            elif isinstance(v, dict):
                out.append("%s%s: {}\n" % (pad, k))
            else:
                out.append("%s%s: %s\n" % (pad, k, _scalar(v)))
    elif isinstance(obj, list):
        for item in obj:
            text = to_yaml(item, indent + 2)
            out.append("%s- %s" % (pad, text[indent + 2:]))
    else:
        out.append(pad + _scalar(obj) + "\n")
    return "".join(out)


# --- HTTP ----------------------------------------------------------------

class Reply:
    """An HTTP answer: status, headers (lower-case names), raw body, and
    json (the decoded body when it is JSON, else None)."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.json = None
        if "json" in headers.get("content-type", "") and body:
            self.json = json.loads(body.decode())

    @property
    def code(self):
        """The "code" of a JSON error body."""
        return (self.json or {}).get("code")

    @property
    def error(self):
        """The "error" message of a JSON error body."""
        return (self.json or {}).get("error", "")

    def __repr__(self):
        return "<Reply %d %s>" % (self.status, self.body[:300].decode(errors="replace"))


def client_env(agent=None, **extra):
    """The environment a CLI test runs heed in: nothing inherited about
    agents (no HEED_*, CONSUL_* or SSL_CERT_* variable: the system's CAs
    only), this agent's address as HEED_HTTP_ADDR when given, plus extra."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HEED_", "CONSUL_", "SSL_CERT_"))}
    if agent is not None:
        env["HEED_HTTP_ADDR"] = "127.0.0.1:%d" % agent.port
    env.update(extra)
    return env


def watch_handler(log):
    """A `heed watch` COMMAND that appends each run to log: a record
    separator, CONSUL_INDEX and its stdin, in one write (read_watch_runs)."""
    return ["sh", "-c", 'd=$(cat); printf "\\036%s\\n%s\\n" "$CONSUL_INDEX" "$d" >> "$0"', log]


def read_watch_runs(path):
    """The watch_handler runs logged so far: [(index, json), ...]."""
    if not os.path.exists(path):
        return []
    runs = []
    with open(path) as f:
        blocks = f.read().split("\x1e")[1:]
    for n, block in enumerate(blocks):
        index, _, body = block.partition("\n")
        try:
            runs.append((int(index), json.loads(body)))
        except ValueError:
            if n + 1 < len(blocks):
                raise
            break  # the last one, being written
    return runs


def http_call(port, method, path, body=None, token=None, token_header="bearer",
              headers=None, timeout=10, host="127.0.0.1"):
    """One request on a new connection; body may be a dict (sent as JSON),
    a str or bytes. token_header: "bearer" (Authorization: Bearer) or
    "consul" (X-Consul-Token)."""
    h = {"Connection": "close"}
    if token is not None:
        if token_header == "consul":
            h["X-Consul-Token"] = token
        else:
            h["Authorization"] = "Bearer " + token
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    if body is not None:
        h["Content-Type"] = "application/json"
    h.update(headers or {})
    conn = http.client.HTTPConnection(host, port, timeout=scaled(timeout))
    try:
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def tcp_listener(reg, port=0):
    """A listening socket on 127.0.0.1 that accepts and closes connections
    (a target that is up); closed by the registry, or earlier by the test.
    Returns the TcpServer (its .port, .stop())."""
    from harness import TcpServer
    return TcpServer(reg, lambda conn: None, port=port)


# --- the agent -----------------------------------------------------------

API_LINE = re.compile(r"^API: https?://(\S+):(\d+)/v1/checks", re.MULTILINE)


class Agent:
    """One `heed agent -c FILE` of a test. config: a dict (written with
    to_yaml; bind and data_dir are filled in unless given) or YAML text
    (used as it is). The data_dir and the port stay across restarts."""

    def __init__(self, reg, config=None, data_dir=None, port=None, preexec_fn=None):
        self.reg = reg
        self.preexec_fn = preexec_fn  # runs in the child before exec (e.g. setrlimit)
        self.dir = reg.tempdir(prefix="heed-agent-")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.port = port or free_port()
        self.port_chosen = not port  # by the harness: it may choose again
        self.path = os.path.join(self.dir, "heed.yaml")
        self.proc = None
        self.runs = 0
        self.out_path = self.err_path = None
        self.write_config(config if config is not None else {})

    # config
    def write_config(self, config):
        """Writes the config file (atomically: a reload never reads half)."""
        self.config_dict = config if isinstance(config, dict) else None
        if isinstance(config, dict):
            config = dict(config)
            config.setdefault("bind", "127.0.0.1:%d" % self.port)
            config.setdefault("data_dir", self.data_dir)
            text = to_yaml(config)
        else:
            text = config
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.path)
        self.config_text = text

    # life cycle
    def spawn(self, *args):
        """Starts the agent without waiting for it; returns the Popen."""
        self.runs += 1
        self.out_path = os.path.join(self.dir, "stdout.%d" % self.runs)
        self.err_path = os.path.join(self.dir, "stderr.%d" % self.runs)
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            proc = self.reg.popen([HEED, "agent", "-c", self.path] + list(args),
                                  grace=10.0, stdout=out, stderr=err,
                                  preexec_fn=self.preexec_fn)
        self.proc = proc
        err_path = self.err_path

        def stop_at_end():
            # An agent still running at the end of its test must stop cleanly
            # on SIGTERM: exit 0 (under ASan: no leak, no use after free).
            if proc.poll() is not None:
                return
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(scaled(30))
            except subprocess.TimeoutExpired:
                raise RuntimeError("heed agent did not stop on SIGTERM") from None
            if rc != 0:
                with open(err_path, errors="replace") as f:
                    raise RuntimeError("heed agent exited %d on SIGTERM:\n%s"
                                       % (rc, f.read()[-4000:]))
        self.reg.callback("stop heed agent %d" % proc.pid, stop_at_end)
        return proc

    def start(self, *args, timeout=20):
        """Starts the agent and waits for its "API:" line; returns self.
        When the port was taken meanwhile (free_port() only tells that it
        was free when asked) and the harness chose it, takes another."""
        for attempt in range(5):
            self.spawn(*args)

            def up():
                if self.proc.poll() is not None:
                    return "exited"
                m = API_LINE.search(self.stdout())
                return m and int(m.group(2))
            port = wait_until(up, timeout, what="the agent's API line")
            if port != "exited":
                break
            err = self.stderr()
            if "Address already in use" in err and self.port_chosen and attempt < 4 \
                    and self.config_dict is not None and "bind" not in self.config_dict:
                self.port = free_port()
                self.write_config(self.config_dict)
                continue
            raise AssertionError("heed agent exited %s before it listened:\n%s%s"
                                 % (self.proc.returncode, self.stdout(), err))
        if port != self.port:
            raise AssertionError("agent listens on %d, not %d" % (port, self.port))
        return self

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def send(self, sig):
        """Sends sig to the agent."""
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Sends sig and waits for the exit; returns the exit code (a
        negative signal number when killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError("heed agent still running %.0f s after signal %d"
                                 % (scaled(timeout), sig)) from None

    def reload(self, config, expect="reload", timeout=15):
        """Writes config, sends SIGHUP and waits until stderr has one more
        line that starts with "heed agent: " + expect."""
        before = self.stderr().count("heed agent: " + expect)
        self.write_config(config)
        self.send(signal.SIGHUP)
        wait_until(lambda: self.stderr().count("heed agent: " + expect) > before, timeout,
                   what="'%s' on the agent's stderr" % expect)

    # API
    def call(self, method, path, body=None, token=None, **kw):
        return http_call(self.port, method, path, body, token, **kw)

    def get(self, path, token=None, **kw):
        return self.call("GET", path, token=token, **kw)

    def ok(self, method, path, body=None, status=200, **kw):
        """A call that must answer status; returns the decoded body."""
        r = self.call(method, path, body, **kw)
        if r.status != status:
            raise AssertionError("%s %s: expected %d, got %r" % (method, path, status, r))
        return r.json

    def check(self, cid, **kw):
        """GET /v1/checks/ID's body (the call must answer 200)."""
        return self.ok("GET", "/v1/checks/" + cid, **kw)

    def checks(self, **kw):
        """GET /v1/checks as {id: check}."""
        return {c["id"]: c for c in self.ok("GET", "/v1/checks", **kw)}

    def wait_check(self, cid, pred, timeout=15, what=None, **kw):
        """Polls the check until pred(check) is true; returns the check."""
        seen = []

        def probe():
            c = self.check(cid, **kw)
            if not seen or seen[-1] != c["status"]:
                seen.append(c["status"])
            return c if pred(c) else None
        try:
            return wait_until(probe, timeout, interval=0.02, what=what or "check " + cid)
        except AssertionError as e:
            raise AssertionError("%s (statuses seen: %s)" % (e, seen)) from None

    def wait_status(self, cid, status, timeout=15, **kw):
        return self.wait_check(cid, lambda c: c["status"] == status, timeout,
                               what="check %s %s" % (cid, status), **kw)


# --- an HTTP server for http:// checks -----------------------------------------

class ControlledHttp:
    """An HTTP server on 127.0.0.1 whose answer the test sets: status,
    body and a delay. Stopped by the registry."""

    def __init__(self, reg):
        self.status, self.body, self.delay = 200, b"OK", 0.0
        self.requests, self.paths = 0, set()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                outer.paths.add(self.path)
                status, body, delay = outer.status, outer.body, outer.delay
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        reg.callback("http server on port %d" % self.port, self.stop)

    def set(self, status, body, delay=0.0):
        self.status, self.body, self.delay = status, body, delay

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
