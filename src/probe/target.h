/* target — the one URL grammar for everything heed can probe.
 *
 *   tcp://host:port         unix:///path/to.sock      file:///path
 *   http://... https://...  exec:CMD ARGS             icmp://host
 *   postgres://[user[:pw]@]host[:port][/db]   (also postgresql://)
 *   mysql://[user[:pw]@]host[:port][/db]
 *   redis://[[user]:pw@]host[:port][/db]
 *   tls://host[:port]       (port 443 by default)
 *   dns://name[?type=T][&server=ADDR[:PORT]][&expect=VALUE]
 *
 * dns:// asks for records of type T (A, AAAA, CNAME, MX, NS or TXT, any
 * case; A by default, AAAA when VALUE is an IPv6 address) of the name, from
 * the system's name servers or only from ADDR (an IPv4 address or a
 * bracketed IPv6 one, port 53 by default). With expect=VALUE one answer must
 * equal VALUE: addresses as addresses, names without case or final dot, MX
 * as "HOST" or "PREF HOST", TXT as its strings joined, exactly. Query
 * values are percent-decoded ("v%3Dspf1%20-all"); each key at most once.
 *
 * `heed wait` and the agent's checks both parse targets here. */
#ifndef HD_TARGET_H
#define HD_TARGET_H

#include "util/tlsfiles.h"

#include <stddef.h>

typedef enum hd_kind_e {
    HD_KIND_TCP,
    HD_KIND_UNIX,
    HD_KIND_HTTP, /* http and https */
    HD_KIND_PG,
    HD_KIND_MYSQL,
    HD_KIND_REDIS,
    HD_KIND_FILE,
    HD_KIND_EXEC,
    HD_KIND_ICMP,
    HD_KIND_DNS,
    HD_KIND_TLS,
} hd_kind_t;

#define HD_HTTP_STATUS_MAX 32

/* What an http(s) target must answer to pass. */
typedef struct hd_http_expect_s {
    int *status; /* nstatus accepted codes (at most HD_HTTP_STATUS_MAX), owned; NULL: any 2xx */
    int nstatus;
    char *body_contains; /* NULL: any body */
    int follow;          /* follow redirects (off by default, CVE-2022-29153) */
    int insecure;        /* skip TLS verification */
    /* What an http(s) probe sends (Consul's Method, Header and Body). */
    char *method;   /* NULL: GET */
    char **headers; /* NULL-terminated "Name: value" lines, in order; NULL: none */
    char *body;     /* NULL: none */
} hd_http_expect_t;

#define HD_HTTP_HEADERS_MAX 64 /* header lines an http(s) check sends */

#define HD_TLS_DAYS_DEFAULT 14

/* What a tls:// target must show: a valid certificate, warning when it
 * expires within cert_days_left days, critical when expired or invalid. */
typedef struct hd_tls_expect_s {
    int cert_days_left; /* HD_TLS_DAYS_DEFAULT unless set; 0: no warning */
    int insecure;       /* skip chain and host name verification */
    /* Protocol versions the server must refuse (bit i: TLS 1.i, i = 0..3);
     * each is tried alone, and the weakest version accepted is reported.
     * 0: none (no extra handshakes). */
    unsigned refuse;
} hd_tls_expect_t;

#define HD_TLS_VERSIONS 4 /* TLS 1.0 to 1.3 */

typedef struct hd_target_s {
    char *url;     /* as given */
    char *display; /* as given with any password shown as "***" (hd_target_redact): use it
                      wherever the target is shown */
    hd_kind_t kind;
    int redis_db; /* redis SELECT index, -1 when absent (beside kind: no padding) */
    char *host;   /* network kinds; IPv6 without brackets */
    int port;
    int tcp_graceful; /* tcp: close with FIN (?close=graceful), not RST (the default) */
    char *path;       /* unix socket, file path */
    char *user;       /* pg, mysql, redis (decoded) */
    char *password;   /* redis AUTH; pg/mysql never send it */
    char *database;   /* pg, mysql */
    char **argv;      /* exec: NULL-terminated */
    hd_http_expect_t http;
    hd_tls_expect_t tls;
    hd_tls_files_t tls_files; /* https, tls: a CA file, a client certificate and key */
    char *dns_type;   /* dns: "A", "AAAA", "CNAME", "MX", "NS" or "TXT"; NULL: see above */
    char *dns_server; /* dns: "ADDR[:PORT]" to ask instead of the system's servers, or NULL */
    char *dns_expect; /* dns: a value one answer must equal, or NULL */
} hd_target_t;

/* Parses s into t. Returns 0, or -1 with a message naming what is wrong
 * (which quotes no part of a password). */
int hd_target_parse(const char *s, hd_target_t *t, char *err, size_t errlen);
/* Frees everything t holds. */
void hd_target_free(hd_target_t *t);

/* The one way heed hides passwords in targets. A parsed target's display
 * is its URL with the password of its user info, and the value of any
 * "password=" query item, shown as "***". hd_target_redact does the same
 * for any text meant to be a URL, parsed or not, for messages about
 * input that did not parse: there it also hides a password that an
 * unescaped '/', '?' or '#' cut short (from the first ':' after "//" to
 * the last '@': at times more than the password, which is no harm in a
 * message). Returns a new string. */
char *hd_target_redact(const char *s);
/* Replaces every occurrence of t's password (as decoded, and as written
 * in the URL) in text, a NUL-terminated string in a buffer of cap bytes,
 * with "***": a server may quote what it was sent (Redis echoes the
 * arguments of a command it does not know), and probe output is shown. */
void hd_target_scrub(const hd_target_t *t, char *text, size_t cap);
/* 1 when t's password (user info, or a password= query item) is "***"
 * itself: a target as heed shows it, given back. Else 0. */
int hd_target_masked(const hd_target_t *t);
/* 1 when an HTTP header of this name (case-insensitive) carries a
 * credential: Authorization, Proxy-Authorization, Cookie, X-Consul-Token
 * and the like (any name containing auth, token, secret, passw, cookie,
 * session, api-key or apikey). Its value is shown as "***" wherever heed
 * shows the header, as a target's password is. Else 0. */
int hd_header_secret(const char *name, size_t len);
/* The line "Name: value" as heed shows it: a new string, the value "***"
 * when the name is hd_header_secret's. */
char *hd_header_display(const char *line);
/* The bit of hd_tls_expect_t.refuse for a version name: "tls1.0",
 * "tls1.1", "tls1.2" or "tls1.3" (any case; "tlsv1.2" too). 0 when unknown. */
unsigned hd_tls_version_bit(const char *name, size_t len);
/* Parses a comma-separated list of version names into *mask. 0, or -1 with
 * a message naming the bad name in err. */
int hd_tls_versions_parse(const char *list, unsigned *mask, char *err, size_t errlen);
/* Writes the versions of mask as "tls1.0, tls1.1" into buf. */
void hd_tls_versions_format(unsigned mask, char *buf, size_t len);
/* The kind's scheme name ("tcp", "postgres", ...). */
const char *hd_kind_name(hd_kind_t k);

/* Splits a command line into a NULL-terminated argv: whitespace separates,
 * '...' and "..." quote, backslash escapes. Returns NULL with a message on
 * an unterminated quote or an empty command. */
char **hd_argv_split(const char *s, char *err, size_t errlen);
void hd_argv_free(char **argv);

#endif
