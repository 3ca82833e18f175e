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
