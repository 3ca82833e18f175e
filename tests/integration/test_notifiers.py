"""The notifiers (issue 10) against real receivers, apart from the alert
engine: tests/tools/notify_send (built next to heed) loads a config file's
`notify:` entry and sends one event, or a batch, through it on a libevent
loop, then prints "delivered|retry|failed: REASON" and exits 0, 1 or 2.

Receivers the tests start on free loopback ports: an HTTP webhook receiver
(Python's http.server) that records what it got and answers as told, a
real Prometheus Alertmanager (Debian's prometheus-alertmanager, whose own
API shows the alert), an SMTP sink (socketserver) and exec commands. Bad
input: templates that fail at `heed agent --validate`, redirects (not
followed), a receiver that hangs (timeout), a 1 MB answer, secrets in URLs
and headers (never in a reason)."""

import base64
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HEED, HeedTestCase, free_port, main, run, run_heed, scaled, wait_until  # noqa: E402
from agent_harness import to_yaml  # noqa: E402

NOTIFY_SEND = os.path.join(os.path.dirname(HEED), "notify_send")
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def event(kind="triggered", status="critical", old="passing", eid="node1-17", check="web",
          output='HTTP 503: "upstream" down\nsecond line', service="shop"):
    return {
        "id": eid, "kind": kind, "time": "2026-12-06T05:00:30Z", "time_unix_ms": 1796533230000,
        "since": "2026-12-06T05:00:00Z", "node": "node1",
        "check": {"id": check, "name": check, "target": "http://127.0.0.1:1/health",
                  "tags": ["web", "prod"], "notes": ""},
        "service": {"id": service, "name": service, "tags": []} if service else None,
        "old_status": old, "status": status, "output": output, "reason": "http_status",
        "flapping": False,
    }


class Receiver:
    """A webhook receiver: records each request (path, headers, body) and
    answers with the status, headers and body the test set."""

    def __init__(self, reg, tls=None):
        self.requests = []
        self.status, self.body, self.headers, self.delay = 200, b"ok", {}, 0.0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                outer.requests.append({"path": self.path, "headers": dict(self.headers),
                                       "body": body})
                if outer.delay:
                    time.sleep(outer.delay)
                payload = outer.body(self) if callable(outer.body) else outer.body
                self.send_response(outer.status)
                for k, v in outer.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                try:
                    self.wfile.write(payload)
                except OSError:
                    pass

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.scheme = "http"
        if tls:  # (cert, key): HTTPS
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        reg.callback("webhook receiver on port %d" % self.port, self.stop)

    def url(self, path="/hook", userinfo=""):
        return "%s://%s127.0.0.1:%d%s" % (self.scheme, userinfo, self.port, path)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class NotifierCase(HeedTestCase):
    def setUp(self):
        super().setUp()
        if not os.path.exists(NOTIFY_SEND):
            self.fail("%s not built (CMakeLists.txt builds it with heed)" % NOTIFY_SEND)
        self.dir = self.reg.tempdir()

    def config(self, notifiers):
        path = os.path.join(self.dir, "heed.yaml")
        with open(path, "w") as f:
            f.write(to_yaml({"notify": notifiers}))
        return path

    def send(self, notifiers, name, *events, timeout=30):
        """Runs notify_send; returns (exit status, stdout line, stderr)."""
        cfg = self.config(notifiers)
        files = []
        for i, ev in enumerate(events or (event(),)):
            p = os.path.join(self.dir, "event%d.json" % i)
            with open(p, "w") as f:
                json.dump(ev, f)
            files.append(p)
        r = run([NOTIFY_SEND, cfg, name] + files, timeout=scaled(timeout))
        return r.returncode, r.stdout.strip(), r.stderr


class WebhookTest(NotifierCase):
    def test_generic_posts_the_event_with_its_idempotency_key(self):
        rx = Receiver(self.reg)
        ev = event()
        rc, out, err = self.send([{"name": "hook", "webhook": {
            "url": rx.url(), "headers": {"X-Key": "abc", "X-Empty": ""}}}], "hook", ev)
        self.assertEqual((rc, out, err), (0, "delivered: HTTP 200", ""))
        self.assertEqual(len(rx.requests), 1)
        req = rx.requests[0]
        self.assertEqual(req["path"], "/hook")
        self.assertEqual(json.loads(req["body"]), ev)  # generic: the event as it is
        self.assertEqual(req["headers"]["Idempotency-Key"], "node1-17")
        self.assertEqual(req["headers"]["X-Key"], "abc")
        self.assertEqual(req["headers"]["X-Empty"], "")
        self.assertEqual(req["headers"]["Content-Type"], "application/json")
        self.assertTrue(req["headers"]["User-Agent"].startswith("heed/"))

    def test_slack_template_is_what_slack_and_mattermost_take(self):
        rx = Receiver(self.reg)
        rc, out, _ = self.send([{"name": "s", "webhook": {"url": rx.url(), "template": "slack"}}],
                               "s", event())
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        body = json.loads(rx.requests[0]["body"])
        self.assertEqual(body["text"], "web is CRITICAL (was passing)")
        att = body["attachments"][0]
        self.assertEqual(att["color"], "#e01e5a")
        self.assertEqual(att["text"], 'HTTP 503: "upstream" down\nsecond line')
        fields = {f["title"]: f["value"] for f in att["fields"]}
        self.assertEqual(fields["Service"], "shop")
        self.assertEqual(fields["Check"], "web")
        self.assertEqual(body["heed_event_id"], "node1-17")
        # Resolved: green, and the text says so.
        rc, out, _ = self.send([{"name": "s", "webhook": {"url": rx.url(), "template": "slack"}}],
                               "s", event(kind="resolved", status="passing", old="critical",
                                          eid="node1-18", service=None))
        self.assertEqual(rc, 0)
        body = json.loads(rx.requests[1]["body"])
        self.assertEqual(body["text"], "web is PASSING again (was critical)")
        self.assertEqual(body["attachments"][0]["color"], "#2eb67d")
        self.assertEqual(rx.requests[1]["headers"]["Idempotency-Key"], "node1-18")

    def test_user_template_escapes_into_strings_and_writes_json_outside(self):
        rx = Receiver(self.reg)
        tmpl = ('{"content": "{{summary}}: {{output}}", "tags": {{check.tags}},\n'
                ' "tag_text": "{{check.tags}}", "svc": {{service}}, "id": "{{id}}",\n'
                ' "tenant": {{check.tenant}}, "missing_in_string": "[{{check.tenant}}]"}')
        ev = event(output='a "quoted" \\ back\nslash\ttab \u00e9')
        rc, out, _ = self.send([{"name": "t", "webhook": {"url": rx.url(),
                                                          "template_text": tmpl}}], "t", ev)
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        body = json.loads(rx.requests[0]["body"])
        self.assertEqual(body["content"],
                         'web is CRITICAL (was passing): a "quoted" \\ back\nslash\ttab \u00e9')
        self.assertEqual(body["tags"], ["web", "prod"])
        self.assertEqual(body["tag_text"], "web, prod")
        self.assertEqual(body["svc"], {"id": "shop", "name": "shop", "tags": []})
        self.assertIsNone(body["tenant"])
        self.assertEqual(body["missing_in_string"], "[]")

    def test_status_codes_map_to_delivered_retry_failed(self):
        rx = Receiver(self.reg)
        hook = [{"name": "h", "webhook": {"url": rx.url()}}]
        for status, rc_want, prefix in ((204, 0, "delivered: HTTP 204"),
                                        (503, 1, "retry: HTTP 503"),
                                        (500, 1, "retry: HTTP 500"),
                                        (429, 1, "retry: HTTP 429"),
                                        (408, 1, "retry: HTTP 408"),
                                        (400, 2, "failed: HTTP 400"),
                                        (404, 2, "failed: HTTP 404")):
            rx.status = status
            rx.body = b"" if status == 204 else b"receiver says no\n"
            rc, out, _ = self.send(hook, "h")
            self.assertEqual(rc, rc_want, out)
            self.assertTrue(out.startswith(prefix), out)
            if status >= 400:
                self.assertIn("receiver says no", out)

    def test_redirect_is_not_followed(self):
        rx = Receiver(self.reg)
        other = Receiver(self.reg)
        rx.status, rx.headers = 302, {"Location": other.url("/elsewhere")}
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url()}}], "h")
        self.assertEqual((rc, out), (2, "failed: HTTP 302: redirect not followed"))
        self.assertEqual(other.requests, [])
        rx.status = 307
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url()}}], "h")
        self.assertEqual((rc, out), (2, "failed: HTTP 307: redirect not followed"))
        self.assertEqual(other.requests, [])

    def test_a_1mb_answer_is_judged_by_its_status(self):
        rx = Receiver(self.reg)
        rx.body = b"x" * (1 << 20)
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url()}}], "h")
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        rx.status, rx.body = 500, b"E" * (1 << 20)
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url()}}], "h")
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("retry: HTTP 500: EEEE"), out[:80])
        self.assertLess(len(out), 400)  # a short excerpt, not the answer

    def test_receiver_down_is_a_retry(self):
        port = free_port()
        rc, out, _ = self.send([{"name": "h", "webhook": {
            "url": "http://127.0.0.1:%d/hook" % port}}], "h")
        self.assertEqual((rc, out), (1, "retry: connection refused"))

    def test_receiver_that_hangs_times_out(self):
        rx = Receiver(self.reg)
        rx.delay = scaled(5)
        t0 = time.monotonic()
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url(), "timeout": "1s"}}],
                               "h")
        self.assertEqual((rc, out), (1, "retry: timed out after 1s"))
        self.assertLess(time.monotonic() - t0, scaled(4))

    def test_secrets_never_in_a_reason(self):
        pw, key = "Sekr3t-pw-4471", "Hdr-s3cret-9921"
        rx = Receiver(self.reg)
        rx.status = 401

        def echo(handler):  # a receiver that quotes what it was sent
            return ("bad auth %s %s" % (handler.headers.get("Authorization"),
                                        handler.headers.get("X-Api-Key"))).encode()
        rx.body = echo
        rc, out, err = self.send([{"name": "h", "webhook": {
            "url": rx.url(userinfo="user:%s@" % pw), "headers": {"X-Api-Key": key}}}], "h")
        self.assertEqual(rc, 2)
        self.assertTrue(out.startswith("failed: HTTP 401: bad auth Basic "), out)
        self.assertIn("***", out)
        self.assertEqual(rx.requests[0]["headers"]["X-Api-Key"], key)  # sent as configured
        basic = base64.b64encode(("user:" + pw).encode()).decode()
        self.assertEqual(rx.requests[0]["headers"]["Authorization"], "Basic " + basic)
        for text in (out, err):
            self.assertNotIn(basic, text)
            self.assertNotIn(pw, text)
            self.assertNotIn(key, text)

    def test_https_receiver_is_verified(self):
        from pki import Certs
        certs = Certs(self.reg)  # a CA the system does not trust
        rx = Receiver(self.reg, tls=certs.leaf)
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url()}}], "h")
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"^retry: .*(certificate|SSL)")
        self.assertEqual(rx.requests, [])
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url(),
                                                          "ca_file": certs.ca}}], "h")
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        self.assertEqual(len(rx.requests), 1)

    def test_batch_is_sent_one_by_one(self):
        rx = Receiver(self.reg)
        evs = [event(eid="n-1"), event(eid="n-2", check="db")]
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url()}}], "h", *evs)
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        self.assertEqual([r["headers"]["Idempotency-Key"] for r in rx.requests], ["n-1", "n-2"])
        rx.status = 503
        rc, out, _ = self.send([{"name": "h", "webhook": {"url": rx.url()}}], "h", *evs)
        self.assertEqual((rc, out), (1, "retry: event 1 of 2: HTTP 503: ok"))


class Alertmanager:
    """A real Prometheus Alertmanager on a free loopback port: no cluster
    listener (--cluster.listen-address= empty), its data in a temporary
    directory, a config that routes everything to a receiver that sends
    nothing."""

    def __init__(self, reg):
        d = reg.tempdir("heed-am-")
        cfg = os.path.join(d, "alertmanager.yml")
        with open(cfg, "w") as f:
            f.write("route:\n  receiver: nobody\n  group_wait: 1h\nreceivers:\n  - name: nobody\n")
        self.port = free_port()
        self.proc = reg.popen([ALERTMANAGER, "--config.file=" + cfg, "--storage.path=" + d,
                               "--web.listen-address=127.0.0.1:%d" % self.port,
                               "--cluster.listen-address=", "--log.level=warn"],
                              grace=5.0, stderr=subprocess.DEVNULL)
        wait_until(self.ready, scaled(30), interval=0.1, what="alertmanager ready")

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _get(self, path):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(("GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        return int(head.split()[1]), body

    def ready(self):
        if self.proc.poll() is not None:
            raise AssertionError("alertmanager exited %d" % self.proc.returncode)
        try:
            return self._get("/-/ready")[0] == 200
        except OSError:
            return False

    def alerts(self):
        """The alerts in Alertmanager's own API (active ones: resolved alerts
        are not listed)."""
        status, body = self._get("/api/v2/alerts")
        assert status == 200, (status, body)
        return json.loads(body)


@unittest.skipUnless(ALERTMANAGER, "prometheus-alertmanager is not installed (scripts/deps.sh)")
class AlertmanagerTest(NotifierCase):
    def test_alert_fires_changes_severity_and_resolves_in_alertmanager(self):
        am = Alertmanager(self.reg)
        notify = [{"name": "am", "alertmanager": {"url": am.url() + "/"}}]
        rc, out, err = self.send(notify, "am", event(status="warning", eid="n1-1"))
        self.assertEqual((rc, out, err), (0, "delivered: HTTP 200", ""))
        alerts = am.alerts()
        self.assertEqual(len(alerts), 1, alerts)
        a = alerts[0]
        self.assertEqual(a["labels"], {"alertname": "web", "check": "web", "service": "shop",
                                       "node": "node1", "severity": "warning",
                                       "tags": "web,prod"})
        self.assertEqual(a["annotations"]["event_id"], "n1-1")
        self.assertEqual(a["annotations"]["summary"], "web is WARNING (was passing)")
        self.assertEqual(a["annotations"]["output"], 'HTTP 503: "upstream" down\nsecond line')
        self.assertEqual(a["status"]["state"], "active")
        self.assertTrue(a["startsAt"].startswith("2026-12-06T05:00:00"), a["startsAt"])
        # warning -> critical: the critical alert fires, the warning one ends.
        rc, out, _ = self.send(notify, "am", event(status="critical", old="warning", eid="n1-2"))
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        alerts = am.alerts()
        self.assertEqual([x["labels"]["severity"] for x in alerts], ["critical"], alerts)
        self.assertEqual(alerts[0]["annotations"]["event_id"], "n1-2")
        # Resolved: gone from the active alerts.
        rc, out, _ = self.send(notify, "am", event(kind="resolved", status="passing",
                                                   old="critical", eid="n1-3"))
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        self.assertEqual(am.alerts(), [])

    def test_a_batch_is_one_request(self):
        am = Alertmanager(self.reg)
        evs = [event(check="web", eid="n-1"), event(check="db", eid="n-2", service=None)]
        rc, out, _ = self.send([{"name": "am", "alertmanager": {"url": am.url()}}], "am", *evs)
        self.assertEqual((rc, out), (0, "delivered: HTTP 200"))
        got = sorted((a["labels"]["check"], a["annotations"]["event_id"]) for a in am.alerts())
        self.assertEqual(got, [("db", "n-2"), ("web", "n-1")])

    def test_alertmanager_down_is_a_retry(self):
        rc, out, _ = self.send([{"name": "am", "alertmanager": {
            "url": "http://127.0.0.1:%d" % free_port()}}], "am")
        self.assertEqual((rc, out), (1, "retry: connection refused"))


class SmtpSink:
    """An SMTP server (socketserver, Python's standard library) that keeps
    the mails it accepts. mode: "ok", "reject" (550 to MAIL FROM), "later"
    (451 to MAIL FROM), "hang" (accepts the connection and says nothing)."""

    def __init__(self, reg, mode="ok", tls=None, starttls=None):
        """tls: (cert, key) for TLS from the first byte (smtps://);
        starttls: (cert, key) offered with STARTTLS."""
        import socketserver
        self.mode, self.mails = mode, []
        ctx = None
        if tls or starttls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*(tls or starttls))
        self.login = None  # (user, password) the sink wants: it then offers AUTH PLAIN
        self.logins = []  # the users who logged in
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line):
                self.wfile.write((line + "\r\n").encode())
                self.wfile.flush()

            def secure(self):
                self.request.settimeout(scaled(10))
                self.connection = self.request = ctx.wrap_socket(self.request, server_side=True)
                self.rfile = self.connection.makefile("rb")
                self.wfile = self.connection.makefile("wb", buffering=0)
                self.tls = True

            def handle(self):
                if outer.mode == "hang":
                    time.sleep(scaled(6))
                    return
                self.tls = False
                if tls:
                    self.secure()
                self.reply("220 sink.test ESMTP")
                mail = {"from": None, "to": [], "data": b""}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode("latin-1").strip()
                    verb = cmd.split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        offers = []
                        if starttls and not self.tls:
                            offers.append("STARTTLS")
                        if outer.login:
                            offers.append("AUTH PLAIN")
                        lines = ["sink.test"] + offers
                        for i, l in enumerate(lines):
                            self.reply(("250 " if i == len(lines) - 1 else "250-") + l)
                    elif verb == "STARTTLS" and starttls and not self.tls:
                        self.reply("220 2.0.0 go ahead")
                        self.secure()
                    elif verb == "AUTH":
                        arg = cmd.split(" ")[2] if len(cmd.split(" ")) > 2 else ""
                        if not arg:
                            self.reply("334 ")
                            arg = self.rfile.readline().decode("latin-1").strip()
                        parts = base64.b64decode(arg).split(b"\0")
                        if outer.login and tuple(p.decode() for p in parts[1:]) == outer.login:
                            outer.logins.append(parts[1].decode())
                            self.reply("235 2.7.0 authenticated")
                        else:
                            self.reply("535 5.7.8 bad credentials")
                    elif verb == "MAIL":
                        if outer.mode == "reject":
                            self.reply("550 5.7.1 sender refused")
                            continue
                        if outer.mode == "later":
                            self.reply("451 4.3.0 try again later")
                            continue
                        mail["from"] = cmd[10:]
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        mail["to"].append(cmd[8:])
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 go ahead")
                        data = b""
                        while True:
                            l = self.rfile.readline()
                            if not l or l == b".\r\n":
                                break
                            data += l
                        mail["data"] = data
                        mail["tls"] = self.tls
                        outer.mails.append(mail)
                        mail = {"from": None, "to": [], "data": b""}
                        self.reply("250 2.0.0 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    elif verb in ("RSET", "NOOP"):
                        self.reply("250 OK")
                    else:
                        self.reply("502 not implemented")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # a client that refuses the certificate, or goes away: expected here

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        reg.callback("smtp sink on port %d" % self.port, self.stop)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


class SmtpTest(NotifierCase):
    def mail(self, sink, **kw):
        spec = {"url": "smtp://127.0.0.1:%d" % sink.port, "from": "heed@example.test",
                "to": ["ops@example.test", "oncall@example.test"]}
        spec.update(kw)
        return [{"name": "mail", "smtp": spec}]

    def test_mail_is_sent_with_event_id_and_subject(self):
        import email
        import email.policy
        sink = SmtpSink(self.reg)
        ev = event(output="line one\n.starts with a dot\nand \u00e9")
        rc, out, err = self.send(self.mail(sink), "mail", ev)
        self.assertEqual((rc, out, err), (0, "delivered: SMTP 250", ""))
        self.assertEqual(len(sink.mails), 1)
        m = sink.mails[0]
        self.assertEqual(m["from"], "<heed@example.test>")
        self.assertEqual(m["to"], ["<ops@example.test>", "<oncall@example.test>"])
        data = m["data"].replace(b"\r\n..", b"\r\n.")  # SMTP's dot-stuffing undone
        msg = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "[heed] web is CRITICAL (was passing)")
        self.assertEqual(msg["Message-ID"], "<node1-17@heed>")
        self.assertEqual(msg["From"], "heed@example.test")
        self.assertIn("ops@example.test", msg["To"])
        self.assertTrue(msg["Date"])
        body = msg.get_content().replace("\r\n", "\n")
        self.assertIn("Status:  critical (was passing)", body)
        self.assertIn("Service: shop", body)
        self.assertIn(".starts with a dot\nand \u00e9", body)

    def test_non_ascii_subject_is_encoded(self):
        import email
        import email.policy
        sink = SmtpSink(self.reg)
        rc, _, _ = self.send(self.mail(sink), "mail", event(check="caf\u00e9"))
        self.assertEqual(rc, 0)
        raw = sink.mails[0]["data"]
        self.assertIn(b"=?UTF-8?B?", raw)
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.assertEqual(msg["Subject"], "[heed] caf\u00e9 is CRITICAL (was passing)")

    def test_5xx_is_failed_and_4xx_a_retry(self):
        sink = SmtpSink(self.reg, "reject")
        rc, out, _ = self.send(self.mail(sink), "mail")
        self.assertEqual(rc, 2, out)
        self.assertTrue(out.startswith("failed: SMTP 550"), out)
        sink.mode = "later"
        rc, out, _ = self.send(self.mail(sink), "mail")
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.startswith("retry: SMTP 451"), out)
        self.assertEqual(sink.mails, [])

    def test_server_that_hangs_times_out(self):
        sink = SmtpSink(self.reg, "hang")
        t0 = time.monotonic()
        rc, out, _ = self.send(self.mail(sink, timeout="1s"), "mail")
        self.assertEqual((rc, out), (1, "retry: timed out after 1s"))
        self.assertLess(time.monotonic() - t0, scaled(4))

    def test_starttls_required_is_never_sent_in_clear(self):
        sink = SmtpSink(self.reg)  # it offers no STARTTLS
        pw = "Mail-pw-6612"
        notify = self.mail(sink, url="smtp+starttls://heed:%s@127.0.0.1:%d" % (pw, sink.port))
        rc, out, err = self.send(notify, "mail")
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.startswith("retry: "), out)
        self.assertEqual(sink.mails, [])
        self.assertNotIn(pw, out + err)

    def test_login_from_the_url_and_the_password_masked(self):
        pw = "Mail-pw-3391"
        sink = SmtpSink(self.reg)
        sink.login = ("heed", pw)
        rc, out, err = self.send(self.mail(sink, url="smtp://heed:%s@127.0.0.1:%d"
                                           % (pw, sink.port)), "mail")
        self.assertEqual((rc, out, err), (0, "delivered: SMTP 250", ""))
        self.assertEqual(sink.logins, ["heed"])
        self.assertEqual(len(sink.mails), 1)
        self.assertNotIn(pw.encode(), sink.mails[0]["data"])
        sink.login = ("heed", "another-pw")
        rc, out, err = self.send(self.mail(sink, url="smtp://heed:%s@127.0.0.1:%d"
                                           % (pw, sink.port)), "mail")
        self.assertEqual(rc, 2, out)
        self.assertTrue(out.startswith("failed: SMTP 535"), out)
        self.assertNotIn(pw, out + err)
        self.assertEqual(len(sink.mails), 1)

    def test_smtps_and_starttls_with_the_configured_ca(self):
        from pki import Certs
        certs = Certs(self.reg)
        sink = SmtpSink(self.reg, tls=certs.leaf)
        url = "smtps://127.0.0.1:%d" % sink.port
        rc, out, _ = self.send(self.mail(sink, url=url), "mail")  # the system's CAs: refused
        self.assertEqual(rc, 1, out)
        self.assertEqual(sink.mails, [])
        rc, out, _ = self.send(self.mail(sink, url=url, ca_file=certs.ca), "mail")
        self.assertEqual((rc, out), (0, "delivered: SMTP 250"))
        self.assertEqual([m["tls"] for m in sink.mails], [True])
        sink2 = SmtpSink(self.reg, starttls=certs.leaf)
        rc, out, _ = self.send(self.mail(sink2, url="smtp+starttls://127.0.0.1:%d" % sink2.port,
                                         ca_file=certs.ca), "mail")
        self.assertEqual((rc, out), (0, "delivered: SMTP 250"))
        self.assertEqual([m["tls"] for m in sink2.mails], [True])
        # Plain smtp:// to the same server does not upgrade: that is what +starttls is for.
        rc, out, _ = self.send(self.mail(sink2, url="smtp://127.0.0.1:%d" % sink2.port), "mail")
        self.assertEqual(rc, 0, out)
        self.assertEqual([m["tls"] for m in sink2.mails], [True, False])

    def test_server_down_is_a_retry(self):
        rc, out, _ = self.send([{"name": "mail", "smtp": {
            "url": "smtp://127.0.0.1:%d" % free_port(), "from": "heed@example.test",
            "to": "ops@example.test"}}], "mail")
        self.assertEqual((rc, out), (1, "retry: connection refused"))


class ExecTest(NotifierCase):
    def script(self, body):
        path = os.path.join(self.dir, "notify.sh")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body)
        os.chmod(path, 0o755)
        return path

    def test_event_on_stdin_and_in_the_environment(self):
        out_file = os.path.join(self.dir, "got")
        sh = self.script('cat > "%s.json"; env | grep "^HEED_" | sort > "%s.env"\n'
                         'exec ls -l /proc/self/fd > "%s.fds"\n'
                         % (out_file, out_file, out_file))
        ev = event()
        r = run([NOTIFY_SEND, self.config([{"name": "x", "exec": {"command": [sh, "arg"]}}]),
                 "x", self.write_event(ev)], env=dict(os.environ, NOTIFY_SEND_OPEN_FD="1",
                                                       HEED_TOKEN="not-for-the-child"))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "delivered: exit status 0"),
                         r.stderr)
        with open(out_file + ".json") as f:
            self.assertEqual(json.load(f), ev)
        with open(out_file + ".env") as f:
            env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        self.assertEqual(env["HEED_EVENT_ID"], "node1-17")
        self.assertEqual(env["HEED_EVENT_KIND"], "triggered")
        self.assertEqual(env["HEED_CHECK_ID"], "web")
        self.assertEqual(env["HEED_STATUS"], "critical")
        self.assertEqual(env["HEED_OLD_STATUS"], "passing")
        self.assertEqual(env["HEED_SERVICE"], "shop")
        self.assertEqual(env["HEED_CHECK_TAGS"], "web,prod")
        self.assertEqual(env["HEED_SUMMARY"], "web is CRITICAL (was passing)")
        self.assertTrue(env["HEED_OUTPUT"].startswith('HTTP 503: "upstream" down'))
        self.assertNotIn("HEED_TOKEN", env)
        with open(out_file + ".fds") as f:  # heed's open socket is not inherited
            fds = f.read()
        self.assertIn(" 0 -> pipe:", fds)
        self.assertNotIn("socket:", fds)

    def write_event(self, ev):
        p = os.path.join(self.dir, "ev.json")
        with open(p, "w") as f:
            json.dump(ev, f)
        return p

    def test_exit_status_decides(self):
        sh = self.script('echo "pager says no" >&2; exit 3\n')
        rc, out, _ = self.send([{"name": "x", "exec": {"command": [sh]}}], "x")
        self.assertEqual((rc, out), (1, "retry: exit status 3: pager says no"))
        rc, out, _ = self.send([{"name": "x", "exec": {"command": [
            os.path.join(self.dir, "missing")]}}], "x")
        self.assertEqual(rc, 1, out)
        self.assertIn("cannot run", out)

    def test_timeout_kills_the_command(self):
        pid_file = os.path.join(self.dir, "pid")
        sh = self.script('echo $$ > "%s"; exec sleep 60\n' % pid_file)
        t0 = time.monotonic()
        rc, out, _ = self.send([{"name": "x", "exec": {"command": [sh], "timeout": "1s"}}], "x")
        self.assertEqual((rc, out), (1, "retry: timed out after 1s (killed)"))
        self.assertLess(time.monotonic() - t0, scaled(5))
        with open(pid_file) as f:
            pid = int(f.read())
        self.assertFalse(os.path.exists("/proc/%d" % pid), "the command still runs")


class ValidateTest(NotifierCase):
    def validate(self, notifiers):
        cfg = self.config(notifiers)
        rc, out, err = run_heed(["agent", "--validate", "-c", cfg])
        return rc, out + err, cfg

    def test_bad_templates_fail_at_validate(self):
        rc, out, cfg = self.validate([
            {"name": "a", "webhook": {"url": "http://127.0.0.1:9/h",
                                      "template_text": '{"text": "{{chek.name}}"}'}},
            {"name": "b", "webhook": {"url": "http://127.0.0.1:9/h",
                                      "template_text": '{"text": {{status}} x}'}},
            {"name": "c", "webhook": {"url": "http://127.0.0.1:9/h",
                                      "template_text": '{"text": "{{status"}'}},
            {"name": "d", "webhook": {"url": "http://127.0.0.1:9/h", "template": "teams"}},
        ])
        self.assertEqual(rc, 1, out)
        self.assertRegex(out, r"%s:\d+:\d+: notify\[0\]\.webhook\.template_text: line 1: "
                              r"unknown field \"chek\.name\"" % cfg)
        self.assertRegex(out, r"notify\[1\]\.webhook\.template_text: the body is not valid JSON")
        self.assertRegex(out, r"notify\[2\]\.webhook\.template_text: line 1: \"\{\{\" without")
        self.assertRegex(out, r"notify\[3\]\.webhook\.template: unknown template \"teams\"")

    def test_good_config_validates(self):
        rc, out, _ = self.validate([
            {"name": "ops-hook", "webhook": {"url": "http://127.0.0.1:9000/hook",
                                             "headers": {"X-Key": "abc"}, "template": "slack"}},
            {"name": "am", "alertmanager": {"url": "http://127.0.0.1:9093"}},
            {"name": "pager", "exec": {"command": ["/bin/true"]}},
            {"name": "mail", "smtp": {"url": "smtp://127.0.0.1:2525", "from": "heed@example.test",
                                      "to": ["ops@example.test"]}},
        ])
        self.assertEqual(rc, 0, out)

    def test_wrong_kinds_urls_and_names(self):
        rc, out, cfg = self.validate([
            {"name": "a", "pager": {}},
            {"name": "b", "webhook": {"url": "ftp://127.0.0.1/x"}},
            {"name": "b", "alertmanager": {"url": "http://u:Pw-9911x@127.0.0.1:9093",
                                           "resolve_timeout": "5s"}},
            {"name": "c", "smtp": {"url": "smtp://127.0.0.1:25", "from": "nobody", "to": ["x@y"]}},
            {"name": "d", "webhook": {"url": "http://127.0.0.1/x"}, "exec": {"command": ["x"]}},
            {"name": "e", "webhook": {"url": "https://127.0.0.1/x", "ca_file": "/nonexistent.pem"}},
        ])
        self.assertEqual(rc, 1, out)
        self.assertIn("notify[0].pager: unknown key", out)
        self.assertIn("notify[1].webhook.url: ftp://127.0.0.1/x: expected http:// or https://",
                      out)
        self.assertIn("notify[2].name: the same name as notify[1]", out)
        self.assertIn("notify[2].alertmanager.resolve_timeout: expected a duration of at least 1m",
                      out)
        self.assertIn("notify[3].smtp.from: expected a mail address", out)
        self.assertIn("notify[4]: one of webhook, alertmanager, exec, smtp, not two", out)
        self.assertIn("notify[5].webhook.ca_file: /nonexistent.pem: No such file or directory", out)
        self.assertNotIn("Pw-9911x", out)


if __name__ == "__main__":
    main()
