#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into corpus/<name>/.

Each seed is a real-shaped input: what servers answer, what users type.
Run it again after changing a seed here, and commit the files it writes;
libFuzzer grows its own corpus from these (under the build directory).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(corpus, name, data):
    d = os.path.join(HERE, "corpus", corpus)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- target: URLs as users write them -----------------------------------
TARGETS = {
    "tcp": "tcp://db:5432",
    "tcp-ipv6": "tcp://[::1]:6379",
    "tcp-zone": "tcp://[fe80::1%25eth0]:22",
    "http": "http://web:8080/health?full=1#top",
    "https-user": "https://admin:hunter2@web/status",
    "postgres": "postgres://alice:s%40cret@db:6543/app?sslmode=disable",
    "postgresql": "postgresql://db",
    "mysql": "mysql://root@db/shop",
    "redis": "redis://:secret@cache:6380/2",
    "redis-acl": "redis://default:p%40ss@cache/0",
    "unix": "unix:///run/postgresql/.s.PGSQL.5432",
    "unix-localhost": "unix://localhost/run/a%20b.sock",
    "file": "file:///var/run/app.ready",
    "exec": "exec:sh -c 'pg_isready -h \"db\" -p 5432' a\\ b",
    "bad-port": "tcp://db:65536",
    "bad-ipv6": "tcp://[::1",
    "pw-slash": "postgres://u:p4ss/word@127.0.0.1/app",
    "pw-query": "postgresql://app@db/app?sslmode=disable&password=s3cret",
    "pw-masked": "redis://:***@cache",
}
for name, url in TARGETS.items():
    write("target", name, url)

# --- duration ----------------------------------------------------------
for d in ["10ms", "1.5s", "2m", "1h", "30", "500us", ".5s", "9000000000s"]:
    write("duration", d.replace(".", "_"), d)

# --- list_query: ns, token tenant, kind, limit, after (fuzz_list_query.c) --
LIST_QUERIES = {
    "ns-one": "team-a\n-\n0\n\n",
    "ns-all-page": "*\n-\n1\n100\nc0099",
    "tenant-all": "*\nteam-a\n1\n500\nteam-a/web",
    "other-tenant": "team-b\nteam-a\n0\n",
    "bad-ns": "a/b\n-\n1\n0\n",
    "limit-max": "\n-\n1\n100000\n",
    "limit-over": "\n-\n1\n100001\n",
    "limit-neg": "\n-\n1\n-5\nx y",
    "escapes": "default\ndefault\n1\n12\n%2F>",
    "after-long": "*\n-\n1\n7\n" + "k" * 1100,
    "ns-long": "n" * 300 + "\n-\n0\n",
}
for name, q in LIST_QUERIES.items():
    write("list_query", name, q)


# --- postgres: backend messages ----------------------------------------
def pg(t, body=b""):
    return t.encode() + struct.pack("!I", len(body) + 4) + body


def pg_auth(code, extra=b""):
    return pg("R", struct.pack("!I", code) + extra)


def pg_error(code, msg, t="E"):
    body = b"SFATAL\0VFATAL\0C" + code.encode() + b"\0M" + msg.encode() + b"\0"
    body += b"Fpostmaster.c\0L2343\0RProcessStartupPacket\0\0"
    return pg(t, body)


def pg_param(k, v):
    return pg("S", k.encode() + b"\0" + v.encode() + b"\0")


TRUST_TAIL = (pg_param("application_name", "heed") + pg_param("server_version", "16.2")
              + pg_param("client_encoding", "UTF8") + pg("K", struct.pack("!II", 12345, 0x12345678)))
write("pg", "auth-md5", pg_auth(5, b"\x9a\x1b\x2c\x3d"))
write("pg", "auth-sasl", pg_auth(10, b"SCRAM-SHA-256\0SCRAM-SHA-256-PLUS\0\0"))
write("pg", "trust-ready", pg_auth(0) + TRUST_TAIL + pg("Z", b"I"))
write("pg", "trust-no-ready", pg_auth(0) + TRUST_TAIL)
write("pg", "starting-up", pg_error("57P03", "the database system is starting up"))
write("pg", "no-database", pg_auth(0) + pg_error("3D000", 'database "app" does not exist'))
write("pg", "auth-failed", pg_error("28P01", 'password authentication failed for user "alice"'))
write("pg", "too-many", pg_error("53300", "sorry, too many clients already"))
write("pg", "notice-negotiate",
      pg_error("01000", "note", "N") + pg("v", struct.pack("!II", 0, 1) + b"_pq_.x\0") + pg_auth(3))
write("pg", "http", "HTTP/1.1 400 Bad Request\r\n\r\n")


# --- mysql: the server's first packet -----------------------------------
def my_packet(payload, seq=0):
    n = len(payload)
    return bytes([n & 0xff, (n >> 8) & 0xff, n >> 16, seq]) + payload


def my_greeting(version):
    return my_packet(b"\x0a" + version.encode() + b"\0" + struct.pack("<I", 42)
                     + b"\x3b\x5f\x1e\x6a\x22\x4d\x0f\x52\0" + b"\xff\xff\xff\x02\x00\xff\xdf\x15"
                     + b"\0" * 10 + b"\x12\x34\x56\x78\x1a\x2b\x3c\x4d\x5e\x6f\x70\x01\0"
                     + b"caching_sha2_password\0")


def my_error(code, msg, sqlstate=None):
    p = b"\xff" + struct.pack("<H", code)
    if sqlstate:
        p += b"#" + sqlstate.encode()
    return my_packet(p + msg.encode())


write("mysql", "greeting-mysql8", my_greeting("8.0.36"))
write("mysql", "greeting-mariadb", my_greeting("5.5.5-10.11.6-MariaDB-0+deb12u1"))
write("mysql", "greeting-min", my_packet(b"\x0a5.7.44\0\x01\0\0\0abcdefgh\0"))
write("mysql", "err-1040", my_error(1040, "Too many connections"))
write("mysql", "err-1040-sqlstate", my_error(1040, "Too many connections", "08004"))
write("mysql", "err-1129", my_error(1129, "Host '172.17.0.1' is blocked because of many "
                                          "connection errors; unblock with 'mysqladmin flush-hosts'"))
write("mysql", "http", "HTTP/1.1 400 Bad Request\r\n\r\n")

# --- redis: first byte picks the target (see fuzz_redis.c) ---------------
PLAIN, PASS, ACL = 0x00, 0x01, 0x03


def db(n):
    return 0x04 | (n << 3)


write("redis", "pong", bytes([PLAIN]) + b"+PONG\r\n")
write("redis", "loading", bytes([PLAIN]) + b"-LOADING Redis is loading the dataset in memory\r\n")
write("redis", "busy", bytes([PLAIN]) + b"-BUSY Redis is busy running a script.\r\n")
write("redis", "noauth", bytes([PLAIN]) + b"-NOAUTH Authentication required.\r\n")
write("redis", "err", bytes([PLAIN]) + b"-ERR unknown command 'PING'\r\n")
write("redis", "auth-select-ping", bytes([PASS | db(2)]) + b"+OK\r\n+OK\r\n+PONG\r\n")
write("redis", "acl-wrongpass", bytes([ACL]) + b"-WRONGPASS invalid username-password pair\r\n")
write("redis", "select-out-of-range", bytes([db(31)]) + b"-ERR DB index is out of range\r\n")
write("redis", "http", bytes([PLAIN]) + b"HTTP/1.1 400 Bad Request\r\n")

# --- http1: first byte picks the target (see fuzz_http1.c) ---------------
CONTAINS, HEAD, CODES = 0x01, 0x02, 0x04
write("http1", "ok-length", bytes([CONTAINS]) + b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
      b"Content-Length: 7\r\n\r\nall ok!")
write("http1", "chunked", bytes([CONTAINS]) + b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
      b"3\r\nall\r\n3;ext=1\r\n ok\r\n0\r\n\r\n")
write("http1", "close-delimited", bytes([CONTAINS]) + b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6\r\n"
      b"\r\nstatus: ok\n")
write("http1", "continue-then-404", bytes([CODES]) + b"HTTP/1.1 100 Continue\r\n\r\n"
      b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
write("http1", "redirect", bytes([0]) + b"HTTP/1.1 302 Found\r\nLocation: /login\r\n"
      b"Content-Length: 0\r\n\r\n")
write("http1", "head-503", bytes([CONTAINS | HEAD]) + b"HTTP/1.1 503 Service Unavailable\r\n"
      b"Retry-After: 5\r\n\r\n")
write("http1", "not-http", bytes([0]) + b"-ERR unknown command\r\n")

# --- jsonw: probe output as it reaches the API (see fuzz_jsonw.c) --------
write("jsonw", "http-status", "HTTP 200 OK")
write("jsonw", "escapes", 'said "no" \\ / \b\f\n\r\t \x01\x1f\x7f end')
write("jsonw", "utf8", "caf\u00e9 \u20ac \U0001F600 \ufffd".encode())
write("jsonw", "not-utf8", b"bad \xff\xfe \xc3 \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 end")
write("jsonw", "nul", b"a\0b")
write("jsonw", "real-0.373", struct.pack("<d", 0.373) + b" ms")
write("jsonw", "real-1e20", struct.pack("<d", 1e20))

# --- http_request: the API server's request layer (see fuzz_http_request.c)
# Byte 0: piece size - 1 (mod 64); byte 1: head limit / 64 - 1; then what the
# client sent. Sizes span what the code switches on: the head limit (here
# 16 KiB, byte 1 = 255), 32-byte methods, 16 hex digits, 4 KiB chunk-size
# lines and 8 KiB trailers.
def http(piece, limit_units, data):
    return bytes([piece - 1, limit_units - 1]) + (data.encode() if isinstance(data, str) else data)


GET = "GET /v1/checks/web?pretty HTTP/1.1\r\nHost: 127.0.0.1:8500\r\nAccept: */*\r\n\r\n"
POST = ("POST /v1/checks HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\n"
        "Content-Length: 27\r\nX-Consul-Token: s3cr3t\r\n\r\n{\"name\":\"web\",\"ttl\":\"10s\"}")
write("http_request", "get", http(64, 256, GET))
write("http_request", "get-bytewise", http(1, 256, GET))
write("http_request", "post", http(7, 256, POST))
write("http_request", "pipelined", http(13, 256, GET + POST + "\r\n" + GET.replace("1.1", "1.0")))
write("http_request", "http10-keepalive",
      http(64, 256, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\n\n"))
write("http_request", "chunked", http(5, 256, "PUT /v1/checks/a HTTP/1.1\r\nHost: h\r\n"
                                              "Transfer-Encoding: chunked\r\n\r\n"
                                              "4\r\n{\"a\"\r\n3;ext=1\r\n:1}\r\n0\r\nT: x\r\n\r\n"
                                              + GET))
write("http_request", "chunked-16-digits",
      http(64, 256, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "000000000000000A\r\n0123456789\r\n0\r\n\r\n"))
write("http_request", "chunked-long-ext",
      http(64, 256, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;"
                    + "e" * 4100 + "\r\nx\r\n0\r\n\r\n"))
write("http_request", "chunked-long-trailer",
      http(64, 256, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                    + "T: v\r\n" * 1400 + "\r\n"))
write("http_request", "head-at-limit",
      http(64, 256, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + "a" * (16384 - 43) + "\r\n\r\n"))
write("http_request", "head-over-limit",
      http(64, 256, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + "a" * 17000 + "\r\n\r\n"))
write("http_request", "long-target", http(64, 256, "GET /" + "p" * 17000 + " HTTP/1.1\r\n\r\n"))
write("http_request", "method-32", http(64, 16, "M" * 32 + " / HTTP/1.1\r\nHost: h\r\n\r\n"))
write("http_request", "method-33", http(64, 16, "M" * 33 + " / HTTP/1.1\r\nHost: h\r\n\r\n"))
write("http_request", "small-limit", http(3, 1, GET))
write("http_request", "http09", http(64, 256, "GET /\r\n\r\n"))
write("http_request", "h2-preface", http(64, 256, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
write("http_request", "tls-hello", http(64, 256, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"))
write("http_request", "nul-target", http(64, 256, b"GET /a\0b HTTP/1.1\r\nHost: h\r\n\r\n"))
write("http_request", "smuggle-cl-te",
      http(64, 256, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
                    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"))
write("http_request", "expect", http(64, 256, "PUT /a HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
                                              "Content-Length: 2\r\n\r\n{}"))
write("http_request", "leading-crlf", http(64, 256, "\r\n\r\n\n" + GET))

# === Size classes ==========================================================
# Seeds of the sizes each target's code switches on, so that the fuzzers
# start from inputs on both sides of every boundary instead of having to
# grow there (libFuzzer lengthens inputs by a few bytes at a time, and never
# past -max_len; see docs/fuzzing.md). The YAML reader's arena cuts objects
# from a 1 KiB chunk, then doubled chunks up to 64 KiB, and gives anything
# over 16 KiB a chunk of its own; the protocol readers accept up to
# HD_PROTO_READ_MAX (64 KiB); DNS replies go to 65,535 bytes; and so on.

def text(n, fill="a"):
    """n bytes that end differently from how they start."""
    return fill * (n - 3) + "end" if n >= 3 else fill * n


# --- config and check_body: the YAML reader and the schema ------------------
CHECK = "  - name: {name}\n    target: {target}\n    interval: 5s\n"
write("config", "size-body-contains-3000.yaml",
      "checks:\n" + CHECK.format(name="web", target="http://127.0.0.1:8080/")
      + '    expect: {body_contains: "%s"}\n' % text(3000))
write("config", "size-body-contains-4096.yaml",
      "checks:\n" + CHECK.format(name="web", target="http://127.0.0.1:8080/" + text(4000, "p"))
      + "    expect:\n      body_contains: %s\n" % text(4096))
write("config", "size-tag-3000.yaml",
      "checks:\n" + CHECK.format(name="web", target="tcp://127.0.0.1:80")
      + "    tags: [web, %s]\n" % text(3000, "t"))
write("config", "size-scalars.yaml",
      "services:\n  - name: db\n    meta:\n"
      + "".join("      k%d: %s\n" % (n, text(n, chr(ord("a") + i % 26)))
                for i, n in enumerate([1000, 1023, 1024, 2047, 2048, 8191, 8192,
                                       16383, 16384, 16385, 20000])))
write("config", "size-many-checks.yaml",
      "checks:\n" + "".join(CHECK.format(name="c%d" % i, target="tcp://127.0.0.1:%d" % (1000 + i))
                            for i in range(300)))
write("config", "size-long-list.yaml",
      "checks:\n" + CHECK.format(name="web", target="tcp://127.0.0.1:80")
      + "    tags: [%s]\n" % ", ".join("t%d" % i for i in range(3000)))
write("config", "size-depth-64.yaml", "a: " + "[" * 63 + "]" * 63 + "\n")
write("config", "size-depth-65.yaml", "a: " + "[" * 64 + "]" * 64 + "\n")
write("config", "size-long-key.yaml", "checks:\n  - %s: 1\n" % text(5000, "k"))

write("check_body", "size-body-contains-4000",
      '{"name":"x","target":"http://127.0.0.1:1/","expect":{"body_contains":"%s"}}' % text(4000))
write("check_body", "size-body-contains-4097",
      '{"name":"x","target":"http://127.0.0.1:1/","expect":{"body_contains":"%s"}}' % text(4097))
write("check_body", "size-target-4096",
      '{"name":"x","target":"http://127.0.0.1:1/%s"}' % text(4074, "p"))
write("check_body", "size-tags-300",
      '{"name":"x","target":"tcp://127.0.0.1:1","tags":[%s]}'
      % ",".join('"t%d"' % i for i in range(300)))
write("check_body", "size-yaml-scalars",
      "name: x\ntarget: tcp://127.0.0.1:1\ntags: [%s]\n"
      % ", ".join(text(n, "t") for n in [255, 256, 257, 2048, 16385, 20000]))

# --- api_request: the request-target, a JSON body, a request head -----------
write("api_request", "size-segments-and-pairs",
      "/" + "/".join("s%d" % i for i in range(20)) + "?"
      + "&".join("k%d=v%d" % (i, i) for i in range(12)) + "\n{}")
write("api_request", "size-long-query",
      "/v1/checks?tag=%s&status=passing\n" % ("%41" * 2000)
      + '{"name":"x","expect":{"body_contains":"%s"}}' % text(4000))
write("api_request", "size-long-head-lines",
      "/v1/checks\n\x07POST /v1/checks HTTP/1.1\r\nX-Long: %s\r\n"
      "Content-Length: %s\r\nContent-Length:    99999999999999999999999\r\n\r\n"
      % (text(2000, "h"), "9" * 79))

# Consul KV keys through a "*key" parameter: escaped '/', empty segments,
# a trailing '/', and a key near the store's 1,024-byte bound.
write("api_request", "kv-rest-parameter",
      "/v1/kv/a%2Fb//c/?recurse&keys&separator=%2F\n")
write("api_request", "size-kv-long-key", "/v1/kv/" + "seg%2F" * 200 + "x/" * 120 + "\n")

# --- cidr and duration: short texts, around their fixed buffers -------------
write("cidr", "size-v6-full", "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128")
write("cidr", "size-addr-63", "1" * 63 + "/8")
write("cidr", "size-addr-64", "1" * 64 + "/8")
write("cidr", "size-range-v6",
      "0000:0000:0000:0000:0000:0000:0000:0001 0000:0000:0000:0000:0000:0000:0000:00ff")
for n in (18, 19, 20):
    write("duration", "size-digits-%d" % n, "9" * n + "s")
write("duration", "size-fraction", "1." + "0" * 30 + "1ms")


# --- dns: 512 (UDP), 4,096 (EDNS) and 65,535 (TCP) bytes, > 64 answers -----
def dns_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def dns_reply(qtype, answers):
    """A reply to one question for example.test, answers (type, rdata)."""
    out = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, len(answers), 0, 0)
    out += dns_name("example.test") + struct.pack("!HH", qtype, 1)
    for t, rdata in answers:
        out += b"\xc0\x0c" + struct.pack("!HHIH", t, 1, 300, len(rdata)) + rdata
    return out


A, CNAME, MX, NS, TXT = 0, 2, 3, 4, 5  # the fuzz target's index of the type
write("dns", "size-a-70-answers",
      bytes([A]) + dns_reply(1, [(1, bytes([127, 0, i // 256, i % 256])) for i in range(70)]))


def txt(strings):
    return b"".join(bytes([len(s)]) + s for s in strings)


write("dns", "size-txt-512", bytes([TXT]) + dns_reply(16, [(16, txt([b"v" * 255, b"w" * 213]))]))
write("dns", "size-txt-4096",
      bytes([TXT]) + dns_reply(16, [(16, txt([bytes([c]) * 255 for c in range(1, 17)]))]))
write("dns", "size-65535", bytes([TXT]) + (lambda r: r + b"\0" * (65535 - len(r)))(
      dns_reply(16, [(16, txt([b"y" * 255] * 200))])))
write("dns", "size-65536", bytes([TXT]) + (lambda r: r + b"\0" * (65536 - len(r)))(
      dns_reply(16, [(16, txt([b"y" * 255] * 200))])))
write("dns", "size-mx-long-names",
      bytes([MX]) + dns_reply(15, [(15, struct.pack("!H", 10) + dns_name(".".join(["l" * 63] * 3)
                                                                    + ".test"))] * 5))


# --- icmp_packet: IP options, the smallest stamp, the largest echo -----------
def icmp_checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def echo(v6, data_len, kind=None):
    t = kind if kind is not None else (129 if v6 else 0)
    body = struct.pack("!Q", 0x7788112233445566) + struct.pack("!Q", 1000) + b"\0" * (data_len - 16)
    pkt = struct.pack("!BBHHH", t, 0, 0, 0x4242, 0x7788) + body
    if not v6:
        pkt = pkt[:2] + struct.pack("!H", icmp_checksum(pkt)) + pkt[4:]
    return pkt


def ipv4(payload, options=b""):
    ihl = (20 + len(options)) // 4
    return struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, 20 + len(options) + len(payload), 0, 0,
                       64, 1, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + options + payload


RAW, DGRAM, V6 = 0x06, 0x04, 0x05  # the fuzz target's mode byte (check_id set)
write("icmp_packet", "size-raw-ip-options", bytes([RAW]) + ipv4(echo(False, 56), b"\x01" * 40))
write("icmp_packet", "size-stamp-only", bytes([DGRAM]) + echo(False, 16))
write("icmp_packet", "size-odd-length", bytes([DGRAM]) + echo(False, 57))
write("icmp_packet", "size-dgram-65000", bytes([DGRAM]) + echo(False, 65000))
write("icmp_packet", "size-v6-1452", bytes([V6]) + echo(True, 1452))
write("icmp_packet", "size-error-quote-options",
      bytes([RAW]) + ipv4((lambda q: struct.pack("!BBHI", 3, 1, icmp_checksum(
          struct.pack("!BBHI", 3, 1, 0, 0) + q), 0) + q)(ipv4(echo(False, 56, 8), b"\x01" * 8))))

# --- jsonw: the buffer's doublings, 6-byte escapes, 3-byte repairs ----------
for n in (63, 64, 65, 4096, 20000):
    write("jsonw", "size-plain-%d" % n, text(n))
write("jsonw", "size-escapes-10000", bytes(range(32)) * 312 + b"\"\\" * 8)
write("jsonw", "size-not-utf8-10000", b"\xff\xc3" * 5000)
write("jsonw", "size-utf8-4-byte", "\U0001F600".encode() * 2500)

# --- mysql: the greeting's limits ---------------------------------------------
write("mysql", "size-version-100", my_greeting("8" * 100))
write("mysql", "size-version-101", my_greeting("8" * 101))
write("mysql", "size-error-300", my_error(1045, text(300, "e"), "28000"))
# The prober hands a parser at most HD_PROTO_READ_MAX (65,536) bytes.
write("mysql", "size-packet-65532",
      my_packet(b"\x0a8.0.36\0" + struct.pack("<I", 42) + b"\x01" * (65532 - 12)))
write("mysql", "size-packet-65533", my_packet(b"\x0a8.0.36\0" + b"\x01" * (65533 - 8))[:64])

# --- pg: fields cut at 16 and 200 bytes, messages up to the read limit -------
write("pg", "size-error-long-fields", pg_error("5" * 20, text(300, "m")))
write("pg", "size-params-60",
      pg_auth(0) + b"".join(pg_param("p%d" % i, text(100, "v")) for i in range(60)) + pg("Z", b"I"))
write("pg", "size-message-65535", pg("N", b"M" + b"n" * (65535 - 4 - 2) + b"\0"))
write("pg", "size-message-65536", pg("N", b"M" + b"n" * (65536 - 4 - 2) + b"\0")[:65536])
write("pg", "size-message-65537", pg("N", b"M" + b"n" * (65537 - 4 - 2) + b"\0")[:64])

# --- redis: lines cut at 60, 150 and 200 bytes, up to the read limit ---------
write("redis", "size-err-300", bytes([PLAIN]) + ("-ERR %s\r\n" % text(300, "e")).encode())
write("redis", "size-loading-300", bytes([PLAIN]) + ("-LOADING %s\r\n" % text(300)).encode())
write("redis", "size-noauth-200", bytes([PASS]) + ("-NOAUTH %s\r\n" % text(200)).encode())
write("redis", "size-bad-reply-100", bytes([PLAIN]) + ("+%s\r\n" % text(100, "p")).encode())
write("redis", "size-line-65000",
      bytes([PASS | db(1)]) + ("+%s\r\n+OK\r\n+PONG\r\n" % text(65000, "o")).encode())

# --- target: URLs and commands as long as a config allows, and longer ------
write("target", "size-http-4096", "http://127.0.0.1:8080/" + text(4096 - 22, "p"))
write("target", "size-http-8000", "http://u:%s@127.0.0.1/?%s" % ("%41" * 1000, text(4000, "q")))
write("target", "size-exec-40-args", "exec:/bin/echo " + " ".join("'a %d'" % i for i in range(40)))
write("target", "size-unix-107", "unix://" + "/" + text(106, "s"))
write("target", "size-unix-108", "unix://" + "/" + text(107, "s"))
write("target", "size-dns-long-expect",
      "dns://example.test?type=TXT&expect=%s&server=127.0.0.1:53" % ("%20" * 500))


# --- list_query: tenant names of 128 and 129 bytes, tenant/id keys of 257
# and 258, and an after= far past them (fields: ns, tenant, kind, limit, after).
write("list_query", "size-ns-128", "t" * 128 + "\n-\n1\n10\nweb\n")
write("list_query", "size-ns-129", "t" * 129 + "\n-\n1\n10\nweb\n")
write("list_query", "size-after-257", "*\n-\n1\n100000\n" + "t" * 128 + "/" + "i" * 128 + "\n")
write("list_query", "size-after-258", "*\n-\n1\n100001\n" + "t" * 128 + "/" + "i" * 129 + "\n")
write("list_query", "size-after-6000", "a\na\n1\n1\n" + "%2F" * 2000 + "\n")

# --- duration: Go's syntax too (hd_time_parse_go_duration reads the raw bytes)
for name, text in (("go-composite", "1h2m3s4ms5us6ns"), ("go-fraction", ".5s"),
                   ("go-negative", "-1.5h"), ("go-micro", "7\u00b5s"), ("go-max", "2562047h47m16.854775807s"),
                   ("go-over", "2562047h47m16.854775808s"), ("go-zero", "0")):
    write("duration", name, text)

# --- filter: Consul's filter expressions as clients write them (the first
# byte: 1 with the health endpoint's selector table, 0 without), the
# mistakes users make, and the sizes the parser switches on (the 8,192-byte
# limit, 32 levels, 128 comparisons, 16 patterns of 256 bytes).
FILTERS = {
    "consul-agent": (0, 'Meta.env == "qa"'),
    "consul-catalog": (0, 'NodeMeta.os == "linux"'),
    "consul-health-node": (0, 'ServiceName != ""'),
    "service-meta-bracket": (0, 'ServiceMeta["foo"] == bar and ServiceMeta.foo != baz'),
    "health-typed": (1, 'Service.Service == web and "primary" in Service.Tags and '
                        'Checks.Status != critical'),
    "node-meta-rack": (1, 'Node.Meta["rack id"] == r1 or Node.Meta.os is empty'),
    "precedence": (1, 'Service.Port == 8080 and not Service.EnableTagOverride == true or '
                      '(Service.Connect.Native == T)'),
    "matches": (1, 'Service.Address matches `^10\\.` and Node.Node not matches "^db-[0-9]+$"'),
    "contains": (1, 'Service.Tags contains v1 and Service.Meta not contains "x" and '
                    '"web" not in Service.Service'),
    "empty": (1, 'Checks is not empty and Checks.ServiceTags is empty'),
    "escapes": (0, 'A == "\\a\\b\\f\\n\\r\\t\\v\\\\\\"\\x41\\101\\u00e9\\U0001F600" or B == `raw\\n`'),
    "numbers": (0, 'N == -1.5 or N == 0 or (N != 12345678901234567890)'),
    "bad-selector": (1, 'Service.Nope == 1'),
    "bad-kind": (1, 'Service.Port == abc or Service.Tags == x'),
    "bad-unclosed": (0, '(A == "x" and B == `y'),
    "bad-regex": (0, 'A matches "(" or B matches `(a)\\1` or C matches `a{999}`'),
    "bad-operator": (0, 'A = 1 AND B == 2'),
    # fuzz_filter's first find: glibc took seconds to compile 60 stacked stars
    "bad-nested-repetition": (1, 'Service.ID matches `^(x' + '*' * 60 + ')$`'),
}
for name, (ctl, expr) in FILTERS.items():
    write("filter", name, bytes([ctl]) + expr.encode())
write("filter", "size-len-8192", b"\x00A == \"" + b"x" * (8192 - 7) + b"\"")
write("filter", "size-len-8193", b"\x00A == \"" + b"x" * (8193 - 7) + b"\"")
write("filter", "size-depth-32", b"\x01" + b"(" * 16 + b"not " * 16 + b"Service.ID == x" + b")" * 16)
write("filter", "size-depth-33", b"\x00" + b"(" * 33 + b"A == 1" + b")" * 33)
write("filter", "size-matches-128", b"\x00" + b"A == 2 or " * 127 + b"A == 1")
write("filter", "size-matches-129", b"\x00" + b"A == 2 or " * 128 + b"A == 1")
write("filter", "size-regex-16x256",
      b"\x00" + b" or ".join(b"A matches \"" + b"a" * 256 + b"\"" for _ in range(16)))
write("filter", "size-regex-expand", b"\x00A matches `^((a{10}){10}){10}$`")
# What fuzz_filter found: stacked and nullable repetitions next to an
# anchor, which glibc's regcomp compiles in exponential time (refused now).
write("filter", "regex-stacked-stars", b"\x00A matches`fal" + b"*" * 14 + b"$%" + b"*" * 46 + b"`")
write("filter", "regex-nullable-groups", b"\x00A matches `^" + b"(a*)*" * 30 + b"$`")
# --- txn_body: Consul's /v1/txn bodies as clients send them (KV verbs,
# base64 values, sessions), a 64-operation one and a 65-operation one, and
# a value near the 512 KiB bound is left to the sizes the fuzzer grows.
import base64 as _b64  # noqa: E402
import json as _json  # noqa: E402


def _kv(verb, key, value=None, **kw):
    op = {"Verb": verb, "Key": key}
    if value is not None:
        op["Value"] = _b64.b64encode(value.encode()).decode()
    op.update(kw)
    return {"KV": op}


write("txn_body", "set-two", _json.dumps([_kv("set", "app/a", "1"), _kv("set", "app/b", "2", Flags=7)]))
write("txn_body", "cas-and-check", _json.dumps([_kv("check-index", "app/a", Index=12),
                                                _kv("cas", "app/a", "x", Index=12),
                                                _kv("check-not-exists", "app/c")]))
write("txn_body", "lock", _json.dumps([_kv("lock", "leader", "me",
                                           Session="adf4238a-882b-9ddc-4a9d-5b6758e4159e"),
                                       _kv("check-session", "leader",
                                           Session="adf4238a-882b-9ddc-4a9d-5b6758e4159e"),
                                       _kv("unlock", "leader", "",
                                           Session="adf4238a-882b-9ddc-4a9d-5b6758e4159e")]))
write("txn_body", "reads", _json.dumps([_kv("get", "app/a"), _kv("get-tree", "app/"),
                                        _kv("get-or-empty", "nope")]))
write("txn_body", "deletes", _json.dumps([_kv("delete", "app/a"), _kv("delete-tree", ""),
                                          _kv("delete-cas", "app/b", Index=3)]))
write("txn_body", "lower-case-fields", '[{"kv": {"verb": "set", "key": "k", "value": "dg==", "flags": 1}}]')
write("txn_body", "catalog-op", '[{"Node": {"Verb": "set", "Node": {"Node": "n"}}}]')
write("txn_body", "unknown-verb", '[{"KV": {"Verb": "frob", "Key": "k"}}]')
write("txn_body", "bad-base64", '[{"KV": {"Verb": "set", "Key": "k", "Value": "!!"}}]')
write("txn_body", "size-64-ops", _json.dumps([_kv("get", "k%d" % i) for i in range(64)]))
write("txn_body", "size-65-ops", _json.dumps([_kv("get", "k%d" % i) for i in range(65)]))

# --- session_body: /v1/session/create bodies (python-consul's lower case,
# npm's, Consul's docs'), and the types and values it refuses.
for name, body in (
        ("python-consul", {"name": "leader", "lockdelay": "15s", "ttl": "30s",
                           "behavior": "delete", "checks": ["serfHealth", "db"]}),
        ("npm-consul", {"Name": "n", "TTL": "10s", "LockDelay": "1s"}),
        ("docs", {"LockDelay": "15s", "Name": "my-service-lock", "Node": "foobar",
                  "Checks": ["a", "b", "c"], "Behavior": "release", "TTL": "30s",
                  "NodeChecks": ["serfHealth"], "ServiceChecks": [{"ID": "web", "Namespace": ""}]}),
        ("lockdelay-seconds", {"LockDelay": 7}),
        ("lockdelay-ns", {"LockDelay": 2500000000}),
        ("ttl-too-short", {"TTL": "1s"}),
        ("ttl-number", {"TTL": 10}),
        ("behavior-bad", {"Behavior": "keep"}),
        ("empty", {})):
    write("session_body", name, _json.dumps(body))
write("session_body", "size-65-checks", _json.dumps({"Checks": ["c%d" % i for i in range(65)]}))

# --- alert_rule: POST /v1/alerts bodies, stored rules, window starts -----
write("alert_rule", "json-full",
      '{"notify":["hook"],"match":{"tags":["web"]},"for":"30s","send_resolved":false,'
      '"remind_every":"1h"}')
write("alert_rule", "yaml-match",
      "match: {checks: [a, b], services: [db], tenant: acme}\nnotify: [ops-hook, am]\n"
      "for: 1500ms\n")
write("alert_rule", "empty-notify", '{"notify":[]}')
write("alert_rule", "time-offset", "2026-12-01T02:00:00.123456+05:30")
write("alert_rule", "time-leap", "2024-02-29T23:59:60Z")

# --- template: webhook templates (mode byte 0) and POST /v1/notifiers
# bodies (mode byte 1): the built-ins, a user's, the errors users make.
SLACK_TMPL = (
    '{"text": "{{summary}}",\n "attachments": [{\n   "color": "{{color}}",\n'
    '   "fallback": "{{summary}}",\n   "title": "{{summary}}",\n'
    '   "text": "{{output}}",\n   "fields": [\n'
    '     {"title": "Check", "value": "{{check.id}}", "short": true},\n'
    '     {"title": "Service", "value": "{{service.name}}", "short": true},\n'
    '     {"title": "Node", "value": "{{node}}", "short": true},\n'
    '     {"title": "Since", "value": "{{since}}", "short": true}],\n'
    '   "footer": "heed event {{id}} at {{time}}"}],\n "heed_event_id": "{{id}}"}\n')
for name, tmpl in (
        ("generic", "{{event}}"),
        ("slack", SLACK_TMPL),
        ("user", '{"content": "{{summary}}: {{output}}", "tags": {{check.tags}}, "svc": {{service}},\n'
                 ' "id": "{{ id }}", "esc": "\\"{{status}}\\" \\\\{{kind}}"}'),
        ("unterminated", '{"a": "{{status"}'),
        ("unknown", '{"a": "{{chek.name}}"}')):
    write("template", name, b"\x00" + tmpl.encode())
for name, body in (
        ("webhook_json", {"name": "ops", "webhook": {
            "url": "http://u:pw@127.0.0.1:9/h", "headers": {"X-Key": "secret-value"},
            "template": "slack", "timeout": "5s"}}),
        ("template_json", {"name": "t", "webhook": {
            "url": "http://127.0.0.1:9/h", "template_text": '{"text": "{{summary}}"}'}}),
        ("am_json", {"name": "am", "alertmanager": {"url": "http://127.0.0.1:9093",
                                                    "resolve_timeout": "2h"}}),
        ("smtp_json", {"name": "m", "smtp": {"url": "smtp+starttls://u:p@127.0.0.1:25",
                                             "from": "a@b.test", "to": ["c@d.test", "e@f.test"]}}),
        ("exec_json", {"name": "x", "exec": {"command": ["/bin/true"]}})):
    write("template", name, b"\x01" + _json.dumps(body).encode())
write("config", "notify.yaml", """notify:
  - name: ops-hook
    webhook: { url: "http://127.0.0.1:9000/hook", headers: {X-Key: abc}, template: slack }
  - name: own
    webhook: { url: "https://u:pw@127.0.0.1/h", template_text: '{"t": "{{summary}}", "e": {{event}}}', timeout: 3s }
  - name: am
    alertmanager: { url: "http://127.0.0.1:9093", resolve_timeout: 2h }
  - name: pager
    exec: { command: [/usr/local/bin/page-me], timeout: 30s }
  - name: mail
    smtp: { url: "smtp+starttls://127.0.0.1:2525", from: heed@example.test, to: [ops@example.test] }
""")

# --- ui_query: q, tag, status, limit, after, history, If-None-Match, sort -
for name, fields in (("plain", ["", "", "", "", "", "", ""]),
                     ("filters", ["db", "prod", "critical", "50", "web", "1", ""]),
                     ("bad-status", ["", "", "down", "", "", "", ""]),
                     ("bad-limit", ["", "", "", "1001", "", "0", ""]),
                     ("etag", ["", "", "", "", "", "", '"0123456789abcdef"']),
                     ("etag-list", ["", "", "", "", "", "", 'W/"x", "a,b" ,"0123456789abcdef"']),
                     ("etag-star", ["", "", "", "", "", "", "*"]),
                     ("size-after-1023", ["", "", "", "", "a" * 1023, "", ""]),
                     ("size-after-1024", ["", "", "", "", "a" * 1024, "", ""]),
                     ("sort-status", ["", "", "", "", "2:default/web", "", "", "status"]),
                     ("sort-bad", ["", "", "", "", "web", "", "", "status"])):
    write("ui_query", name, "\n".join(fields))

# --- sdnotify: $NOTIFY_SOCKET, $WATCHDOG_USEC, $WATCHDOG_PID, one a line ----
write("sdnotify", "path-watchdog", "/run/systemd/notify\n30000000\n42")
write("sdnotify", "abstract", "@heed-notify")
write("sdnotify", "vsock-bad-usec", "vsock:2:1234\n5s\n")
write("sdnotify", "too-long-other-pid", "/" + "0" * 200 + "\n1\n43")
