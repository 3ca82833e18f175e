/* target — the one URL grammar for everything heed can probe.
 *
 *   tcp://host:port         unix:///path/to.sock      file:///path
 *   http://... https://...  exec:CMD ARGS             icmp://host
 *   postgres://[user[:pw]@]host[:port][/db]   (also postgresql://)
 *   mysql://[user[:pw]@]host[:port][/db]
 *   redis://[[user]:pw@]host[:port][/db]
 *
 * `heed wait` and the agent's checks both parse targets here. */
#ifndef HD_TARGET_H
#define HD_TARGET_H

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
} hd_kind_t;

#define HD_HTTP_STATUS_MAX 32

/* What an http(s) target must answer to pass. */
typedef struct hd_http_expect_s {
    int status[HD_HTTP_STATUS_MAX]; /* accepted codes; none listed means any 2xx */
    int nstatus;
    char *body_contains; /* NULL: any body */
    int follow;          /* follow redirects (off by default, CVE-2022-29153) */
    int insecure;        /* skip TLS verification */
} hd_http_expect_t;

typedef struct hd_target_s {
    char *url;     /* as given */
    char *display; /* as given with any password replaced by "***": use in messages */
    hd_kind_t kind;
    char *host; /* network kinds; IPv6 without brackets */
    int port;
    char *path;     /* unix socket, file path */
    char *user;     /* pg, mysql, redis (decoded) */
    char *password; /* redis AUTH; pg/mysql never send it */
    char *database; /* pg, mysql */
    int redis_db;   /* redis SELECT index, -1 when absent */
    char **argv;    /* exec: NULL-terminated */
    hd_http_expect_t http;
} hd_target_t;

/* Parses s into t. Returns 0, or -1 with a message naming what is wrong. */
int hd_target_parse(const char *s, hd_target_t *t, char *err, size_t errlen);
/* Frees everything t holds. */
void hd_target_free(hd_target_t *t);
/* The kind's scheme name ("tcp", "postgres", ...). */
const char *hd_kind_name(hd_kind_t k);

/* Splits a command line into a NULL-terminated argv: whitespace separates,
 * '...' and "..." quote, backslash escapes. Returns NULL with a message on
 * an unterminated quote or an empty command. */
char **hd_argv_split(const char *s, char *err, size_t errlen);
void hd_argv_free(char **argv);

#endif
