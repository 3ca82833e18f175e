/* ping — `heed ping`, fping's interface on heed's ICMP engine (probe/icmp.h).
 *
 * This file owns the command: flags, the stream of targets (arguments,
 * -f FILE, standard input, -g ranges), the sweep scheduler (global rate,
 * per-target period, retries with backoff) and fping 5.1's output lines and
 * exit codes. Packets, sockets and reply matching belong to the engine.
 *
 * Memory follows the work in progress, not the size of the target list:
 * targets are read or generated one at a time and admitted only while
 * fewer than MAX_ACTIVE are being probed; a finished target is printed and
 * freed. Two things are kept per target by necessity, as fping does: in
 * count and loop modes (-c, -C, -l) the closing summary lines, which fping
 * prints in input order after all per-ping lines, and the name-length
 * padding of those modes, found by a first pass over the targets.
 *
 * Where heed departs from fping 5.1, on purpose:
 * - Invalid arguments exit 3 as fping's manual says (Debian's 5.1 exits 1).
 * - "is unreachable" lines are printed as each target gives up, not all at
 *   the end, so that a sweep of millions needs no list of them.
 * - -g accepts IPv6 and any range size; START END may span any range.
 * - -b below 16 is raised to 16: the payload carries a 64-bit nonce and the
 *   send time.
 * - -n/-d reverse lookups go through c-ares on the loop (util/resolver.h),
 *   many at once, as forward lookups do: /etc/hosts first, then a PTR
 *   query; never a blocking getnameinfo(), and no NSS (the static build has
 *   none). A target is pinged once its name is known, or known not to be. */
#include "cmd/cmd.h"
#include "probe/icmp.h"
#include "probe/icmp_packet.h"
#include "util/buf.h"
#include "util/cidr.h"
#include "util/heap.h"
#include "util/mem.h"
#include "util/resolver.h"
#include "util/time.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <jansson.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_ALL_ALIVE   0
#define EXIT_UNREACHABLE 1
#define EXIT_NOADDRESS   2
#define EXIT_ARGS        3
#define EXIT_SYSCALL     4

#define MAX_ACTIVE    32768 /* targets being probed at once: bounds memory on silent ranges */
#define BURST         64    /* packets per wake-up before the loop reads replies */
#define MAX_RESOLVING 256   /* name lookups at once: a long list must not flood the DNS server */
#define LINE_MAX_NAME 1024  /* longest target name read from a file */

typedef struct ping_s ping_t;

typedef struct host_s {
    hd_heap_node_t due; /* the next ping's time, while waiting for it */
    ping_t *pg;
    char *name;  /* as given; NULL for generated addresses (display is the address) */
    char *rname; /* -n: reverse lookup result */
    struct sockaddr_storage addr;
    uint64_t seq; /* input order */
    hd_resolve_req_t *rq;
    int sent, recv, outstanding;
    int retries_left;
    int64_t timeout_us;
    int64_t min_us, max_us, sum_us;
    int64_t *rtts; /* -C: one per ping, -1 when lost */
    int64_t first_rtt_us;
    int alive, done;
    struct host_s *prev, *next; /* every admitted target, for cleanup */
} host_t;

/* Where targets come from, one at a time. */
typedef struct source_s {
    char **args;
    int nargs, argi;
    int generate; /* -g */
    hd_cidr_t range;
    int in_range;
    FILE *f;
    int own_f; /* fclose() it */
    char line[LINE_MAX_NAME];
} source_t;

struct ping_s {
    struct event_base *base;
    hd_icmp_t *icmp;
    hd_resolver_t *resolver;
    hd_heap_t due;
    source_t src;
    host_t *pending; /* admitted, not yet sent (socket buffer full) */
    host_t *hosts;   /* every admitted target not yet finished */
    struct event *wake, *progress, *sigint;
    int wake_armed;
    int64_t next_send_us, interval_us;
    uint64_t nseq, active, resolving, admitted;
    uint64_t measuring; /* -n in count/loop modes: name lookups of the first pass */
    int source_done, stopping, fatal;
    /* flags */
    int count, vcount, loop, quiet, stats, show_alive, show_unreach, elapsed, timestamp;
    int by_addr, by_name, json, family, min_reach, fast_reach, generate;
    int gen_family; /* -g: the first range's family, to open its socket early */
    int retries;
    double backoff;
    int64_t timeout_us, period_us;
    int timeout_set;
    int version; /* -v, -V, --version: print the version and exit */
    size_t data_len;
    int per_ping;    /* per-ping lines (count/loop modes, not -q/-a/-u/-x) */
    int lists;       /* -a, -u or -x: no "is alive"/"is unreachable" lines (ICMP errors stay) */
    int name_width;  /* padding in count/loop modes */
    int progress_on; /* a progress line may be on stderr */
    uint64_t total;  /* targets known in advance, for progress; 0 unknown */
    /* results */
    uint64_t nhosts, nalive, nunreach, nnoaddr;
    uint64_t ntimeouts, nsent, nreplies, nother;
    int64_t gmin_us, gmax_us, gsum_us;
    uint64_t greplies;
    int64_t start_us;
    char **summaries; /* count/loop modes: closing lines by input order */
    uint64_t nsummaries;
    char *buf_stdin; /* count/loop modes: standard input read once, for two passes */
    size_t buf_stdin_len;
    const char *file; /* -f */
};

static void kick(ping_t *pg);
static void on_icmp(const hd_icmp_result_t *r, void *arg);
static void stop_sweep(ping_t *pg);

/* ---- output helpers ----------------------------------------------------- */

/* fping's sprint_tm(): milliseconds with three significant digits. */
static const char *tm(int64_t us, char *buf, size_t len)
{
    double t = (double)us / 1000.0;
    if (t < 0.0)
        snprintf(buf, len, "%.2g", t);
    else if (t < 1.0)
        snprintf(buf, len, "%.3f", t);
    else if (t < 10.0)
        snprintf(buf, len, "%.2f", t);
    else if (t < 100.0)
        snprintf(buf, len, "%.1f", t);
    else if (t < 1000000.0)
        snprintf(buf, len, "%.0f", t);
    else
        snprintf(buf, len, "%.3e", t);
    return buf;
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t len)
{
    const void *a = ss->ss_family == AF_INET6
                        ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
                        : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
    if (!inet_ntop(ss->ss_family, a, out, (socklen_t)len)) snprintf(out, len, "?");
}

static const char *display(const host_t *h, char *buf, size_t len)
{
    if (h->rname) return h->rname;
    if (h->name && !h->pg->by_addr) return h->name;
    addr_text(&h->addr, buf, len);
    return buf;
}

static void clear_progress(ping_t *pg)
{
    if (pg->progress_on) {
        fputs("\r\033[K", stderr);
        pg->progress_on = 0;
    }
}

static void timestamp(ping_t *pg)
{
    if (!pg->timestamp) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    printf("[%.5f] ", (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* ---- targets ------------------------------------------------------------ */

static int is_numeric(const char *s, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, s, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, s, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        return 1;
    }
    return 0;
}

/* Reads the next target name from a file: the first word of a line, with
 * blank lines and '#' comments skipped (fping's file format). */
static const char *next_line(source_t *s)
{
    while (fgets(s->line, sizeof(s->line), s->f)) {
        size_t n = strlen(s->line);
        if (n == sizeof(s->line) - 1 && s->line[n - 1] != '\n') {
            /* an overlong line: drop the rest of it */
            int c;
            while ((c = fgetc(s->f)) != EOF && c != '\n') {
            }
        }
        char *p = s->line + strspn(s->line, " \t\r\n");
        if (!*p || *p == '#') continue;
        p[strcspn(p, " \t\r\n")] = '\0';
        return p;
    }
    return NULL;
}

/* The next target: returns 1 with either *name (to resolve or parse) or,
 * for generated ranges, *name NULL and the address in *ss; 0 at the end. */
static int source_next(source_t *s, const char **name, struct sockaddr_storage *ss, char *err,
                       size_t errlen, int *bad)
{
    *bad = 0;
    for (;;) {
        if (s->in_range) {
            if (hd_cidr_next(&s->range, ss)) {
                *name = NULL;
                return 1;
            }
            s->in_range = 0;
        }
        if (s->f) {
            const char *l = next_line(s);
            if (l) {
                *name = l;
                return 1;
            }
            if (s->own_f) fclose(s->f);
            s->f = NULL;
            return 0;
        }
        if (s->argi >= s->nargs) return 0;
        if (!s->generate) {
            *name = s->args[s->argi++];
            return 1;
        }
        /* -g: START END (two plain addresses), or CIDRs */
        const char *a = s->args[s->argi];
        if (!strchr(a, '/') && s->nargs - s->argi == 2 && !strchr(s->args[s->argi + 1], '/')) {
            if (hd_cidr_parse_range(a, s->args[s->argi + 1], &s->range, err, errlen) < 0) {
                *bad = 1;
                return 0;
            }
            s->argi += 2;
        } else {
            if (hd_cidr_parse(a, &s->range, err, errlen) < 0) {
                *bad = 1;
                return 0;
            }
            s->argi++;
        }
        s->in_range = 1;
    }
}

static int source_open(ping_t *pg, source_t *s, char **args, int nargs, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->args = args;
    s->nargs = nargs;
    s->generate = pg->generate;
    if (pg->file || nargs == 0) {
        if (pg->buf_stdin) {
            s->f = fmemopen(pg->buf_stdin, pg->buf_stdin_len ? pg->buf_stdin_len : 1, "r");
            s->own_f = 1;
        } else if (!pg->file || !strcmp(pg->file, "-")) {
            s->f = stdin;
        } else {
            s->f = fopen(pg->file, "r");
            s->own_f = 1;
        }
        if (!s->f) {
            snprintf(err, errlen, "cannot read %s: %s", pg->file ? pg->file : "standard input",
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* ---- the sweep ---------------------------------------------------------- */

static void free_host(host_t *h)
{
    ping_t *pg = h->pg;
    if (h->prev)
        h->prev->next = h->next;
    else if (pg->hosts == h)
        pg->hosts = h->next;
    if (h->next) h->next->prev = h->prev;
    free(h->name);
    free(h->rname);
    free(h->rtts);
    free(h);
}

static void store_summary(ping_t *pg, host_t *h)
{
    char nb[INET6_ADDRSTRLEN], a[16], b[16], c[16];
    /* Grown to fit: a name can be longer than any fixed line (it pads
     * every name to the longest target given), and -C keeps every time. */
    hd_buf_t line = {0};
    const char *name = display(h, nb, sizeof(nb));
    if (pg->vcount) {
        hd_buf_printf(&line, "%-*s :", pg->name_width, name);
        for (int i = 0; i < h->sent; i++)
            hd_buf_printf(&line, " %s", h->rtts[i] < 0 ? "-" : tm(h->rtts[i], a, sizeof(a)));
    } else {
        int loss = h->sent ? (h->sent - h->recv) * 100 / h->sent : 0;
        hd_buf_printf(&line, "%-*s : xmt/rcv/%%loss = %d/%d/%d%%", pg->name_width, name, h->sent,
                      h->recv, loss);
        if (h->recv)
            hd_buf_printf(&line, ", min/avg/max = %s/%s/%s", tm(h->min_us, a, sizeof(a)),
                          tm(h->sum_us / h->recv, b, sizeof(b)), tm(h->max_us, c, sizeof(c)));
    }
    if (h->seq >= pg->nsummaries) {
        uint64_t cap = pg->nsummaries ? pg->nsummaries : 1024;
        while (cap <= h->seq)
            cap *= 2;
        pg->summaries = hd_xrealloc(pg->summaries, cap * sizeof(char *));
        memset(pg->summaries + pg->nsummaries, 0, (cap - pg->nsummaries) * sizeof(char *));
        pg->nsummaries = cap;
    }
    pg->summaries[h->seq] = line.data;
}

static void print_json(host_t *h, const char *error)
{
    char nb[INET6_ADDRSTRLEN], ab[INET6_ADDRSTRLEN];
    json_t *o = json_object();
    json_object_set_new(o, "host", json_string(h->name ? h->name : display(h, nb, sizeof(nb))));
    if (error) {
        json_object_set_new(o, "address", json_null());
        json_object_set_new(o, "alive", json_false());
        json_object_set_new(o, "error", json_string(error));
    } else {
        addr_text(&h->addr, ab, sizeof(ab));
        json_object_set_new(o, "address", json_string(ab));
        json_object_set_new(o, "alive", json_boolean(h->recv > 0));
        json_object_set_new(o, "xmt", json_integer(h->sent));
        json_object_set_new(o, "rcv", json_integer(h->recv));
        json_object_set_new(o, "loss",
                            json_integer(h->sent ? (h->sent - h->recv) * 100 / h->sent : 0));
        if (h->recv) {
            json_object_set_new(o, "min_ms", json_real((double)h->min_us / 1000.0));
            json_object_set_new(o, "avg_ms", json_real((double)h->sum_us / h->recv / 1000.0));
            json_object_set_new(o, "max_ms", json_real((double)h->max_us / 1000.0));
        } else {
            json_object_set_new(o, "min_ms", json_null());
            json_object_set_new(o, "avg_ms", json_null());
            json_object_set_new(o, "max_ms", json_null());
        }
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(6));
    if (s) puts(s);
    free(s);
    json_decref(o);
}

/* A target is finished: count it, print what its mode prints, free it. */
static void host_finish(ping_t *pg, host_t *h)
{
    char nb[INET6_ADDRSTRLEN], a[16];
    h->done = 1;
    hd_heap_remove(&pg->due, &h->due);
    pg->nhosts++;
    if (h->recv)
        pg->nalive++;
    else
        pg->nunreach++;
    clear_progress(pg);
    const char *name = display(h, nb, sizeof(nb));
    if (pg->json) {
        print_json(h, NULL);
    } else if (pg->count || pg->loop) {
        store_summary(pg, h);
    } else if (h->recv) {
        if (pg->show_alive) {
            if (pg->elapsed)
                printf("%s (%s ms)\n", name, tm(h->first_rtt_us, a, sizeof(a)));
            else
                printf("%s\n", name);
        } else if (!pg->quiet && !pg->lists) {
            if (pg->elapsed)
                printf("%s is alive (%s ms)\n", name, tm(h->first_rtt_us, a, sizeof(a)));
            else
                printf("%s is alive\n", name);
        }
    } else {
        if (pg->show_unreach)
            printf("%s\n", name);
        else if (!pg->quiet && !pg->lists)
            printf("%s is unreachable\n", name);
    }
    pg->active--;
    free_host(h);
    if (pg->fast_reach && pg->nalive >= (uint64_t)pg->min_reach) stop_sweep(pg);
    kick(pg);
}

/* A target never pinged, dropped because the sweep is stopping. */
static void host_drop(ping_t *pg, host_t *h)
{
    hd_heap_remove(&pg->due, &h->due);
    pg->active--;
    free_host(h);
}

/* Sends nothing more: targets waiting for their next ping finish now, those
 * with pings in flight when the last one ends (-X reached, or ^C). */
static void stop_sweep(ping_t *pg)
{
    if (pg->stopping) return;
    pg->stopping = 1;
    if (pg->pending) {
        host_t *h = pg->pending;
        pg->pending = NULL;
        if (h->sent)
            host_finish(pg, h);
        else
            host_drop(pg, h);
    }
    for (hd_heap_node_t *n; (n = hd_heap_pop(&pg->due));) {
        host_t *h = (host_t *)n;
        if (!h->sent)
            host_drop(pg, h);
        else if (!h->outstanding)
            host_finish(pg, h);
    }
}

/* The host's last ping may have ended: finish it once nothing remains. */
static void maybe_finish(ping_t *pg, host_t *h)
{
    if (h->outstanding) return;
    if (pg->count || pg->loop) {
        if (!pg->stopping && (pg->loop || h->sent < pg->count)) return;
    } else if (!h->recv && h->due.idx) {
        return; /* a retry is scheduled */
    }
    host_finish(pg, h);
}

static void send_one(ping_t *pg, host_t *h)
{
    char err[512];
    int serr = 0;
    int64_t timeout = (pg->count || pg->loop) ? pg->timeout_us : h->timeout_us;
    int rc = hd_icmp_send(pg->icmp, (const struct sockaddr *)&h->addr, pg->data_len, timeout,
                          on_icmp, h, (uint32_t)h->sent, NULL, &serr, err, sizeof(err));
    if (rc == -EAGAIN) {
        /* the socket buffer is full: this host goes first next time */
        pg->pending = h;
        return;
    }
    if (rc < 0) {
        clear_progress(pg);
        fprintf(stderr, "heed ping: %s\n", err);
        pg->fatal = EXIT_SYSCALL;
        event_base_loopbreak(pg->base);
        return;
    }
    if (serr) {
        char nb[INET6_ADDRSTRLEN];
        clear_progress(pg);
        fprintf(stderr, "%s: error while sending ping: %s\n", display(h, nb, sizeof(nb)),
                strerror(serr));
    }
    pg->nsent++;
    h->outstanding++;
    if (pg->vcount) {
        h->rtts = hd_xrealloc(h->rtts, (size_t)(h->sent + 1) * sizeof(int64_t));
        h->rtts[h->sent] = -1;
    }
    h->sent++;
    if (!pg->stopping && (pg->loop || (pg->count && h->sent < pg->count)))
        hd_heap_push(&pg->due, &h->due, hd_time_now_us() + pg->period_us);
}

static void on_reply(ping_t *pg, host_t *h, const hd_icmp_result_t *r)
{
    char nb[INET6_ADDRSTRLEN], a[16], b[16];
    pg->nreplies++;
    h->recv++;
    if (!h->alive) h->first_rtt_us = r->rtt_us;
    h->alive = 1;
    if (h->recv == 1 || r->rtt_us < h->min_us) h->min_us = r->rtt_us;
    if (r->rtt_us > h->max_us) h->max_us = r->rtt_us;
    h->sum_us += r->rtt_us;
    if (!pg->greplies || r->rtt_us < pg->gmin_us) pg->gmin_us = r->rtt_us;
    if (r->rtt_us > pg->gmax_us) pg->gmax_us = r->rtt_us;
    pg->gsum_us += r->rtt_us;
    pg->greplies++;
    if (pg->vcount && r->tag < (uint32_t)h->sent) h->rtts[r->tag] = r->rtt_us;
    if (pg->per_ping && !pg->json) {
        clear_progress(pg);
        timestamp(pg);
        printf("%-*s : [%u], %zu bytes, %s ms (%s avg, %d%% loss)\n", pg->name_width,
               display(h, nb, sizeof(nb)), r->tag, r->bytes, tm(r->rtt_us, a, sizeof(a)),
               tm(h->sum_us / h->recv, b, sizeof(b)), (h->sent - h->recv) * 100 / h->sent);
    }
    if (!pg->count && !pg->loop) hd_heap_remove(&pg->due, &h->due);
}

static void on_timeout(ping_t *pg, host_t *h, const hd_icmp_result_t *r)
{
    char nb[INET6_ADDRSTRLEN], a[16];
    pg->ntimeouts++;
    if (pg->per_ping && !pg->json) {
        clear_progress(pg);
        timestamp(pg);
        printf("%-*s : [%u], timed out", pg->name_width, display(h, nb, sizeof(nb)), r->tag);
        if (h->recv)
            printf(" (%s avg, ", tm(h->sum_us / h->recv, a, sizeof(a)));
        else
            printf(" (NaN avg, ");
        printf("%d%% loss)\n", (h->sent - h->recv) * 100 / h->sent);
    }
    if (pg->count || pg->loop || h->recv) return;
    if (h->retries_left > 0 && !pg->stopping) {
        h->retries_left--;
        h->timeout_us = (int64_t)((double)h->timeout_us * pg->backoff);
        hd_heap_push(&pg->due, &h->due, hd_time_now_us());
    } else {
        h->retries_left = -1;
    }
}

static void on_icmp(const hd_icmp_result_t *r, void *arg)
{
    host_t *h = arg;
    ping_t *pg = h->pg;
    if (r->event == HD_ICMP_ERROR) {
        char from[INET6_ADDRSTRLEN], nb[INET6_ADDRSTRLEN];
        pg->nother++;
        /* fping's print_warning(): only -q silences these. -a, -u and -x
         * change what stdout lists, not stderr. The target is named as on
         * its other lines (the name given, unless -A or -n). */
        if (pg->json || pg->quiet) return;
        addr_text(&r->from, from, sizeof(from));
        clear_progress(pg);
        fprintf(stderr, "%s from %s for ICMP Echo sent to %s\n",
                hd_icmp_error_str(r->v6, r->type, r->code), from, display(h, nb, sizeof(nb)));
        return;
    }
    h->outstanding--;
    if (r->event == HD_ICMP_REPLY)
        on_reply(pg, h, r);
    else
        on_timeout(pg, h, r);
    maybe_finish(pg, h);
    kick(pg);
}

/* The process's resolver, made on first use; NULL with the reason in err. */
static hd_resolver_t *resolver(ping_t *pg, char *err, size_t errlen)
{
    if (!pg->resolver) pg->resolver = hd_resolver_new(pg->base, err, errlen);
    return pg->resolver;
}

/* A target whose address (and with -n, name) is known: due now. */
static void host_queue(ping_t *pg, host_t *h)
{
    if (pg->stopping) {
        host_drop(pg, h);
        return;
    }
    hd_heap_push(&pg->due, &h->due, hd_time_now_us());
}

static void on_named(int status, const char *name, const char *msg, void *arg)
{
    (void)msg; /* without a name the target shows as given, as fping does */
    host_t *h = arg;
    ping_t *pg = h->pg;
    h->rq = NULL;
    pg->resolving--;
    if (status == HD_RESOLVE_OK) h->rname = hd_xstrdup(name);
    host_queue(pg, h);
    kick(pg);
}

/* -n: asks for the name of h's address; h is queued when it is known. */
static void lookup_name(ping_t *pg, host_t *h)
{
    char err[256];
    if (!resolver(pg, err, sizeof(err))) {
        host_queue(pg, h); /* shown by address, as when no name exists */
        return;
    }
    pg->resolving++;
    h->rq = hd_resolve_name(pg->resolver, &h->addr, on_named, h);
}

static void host_ready(ping_t *pg, host_t *h)
{
    if (pg->by_name && !pg->stopping)
        lookup_name(pg, h);
    else
        host_queue(pg, h);
}

static void no_address(ping_t *pg, host_t *h, const char *msg)
{
    pg->nnoaddr++;
    if (pg->json) {
        print_json(h, msg);
    } else {
        clear_progress(pg);
        fprintf(stderr, "%s: %s\n", h->name, msg);
    }
    pg->active--;
    free_host(h);
}

static void on_resolved(int status, const struct sockaddr_storage *addrs, int naddrs,
                        const char *msg, void *arg)
{
    (void)msg;
    host_t *h = arg;
    ping_t *pg = h->pg;
    h->rq = NULL;
    pg->resolving--;
    if (status != HD_RESOLVE_OK || naddrs < 1) {
        /* the words fping prints, from getaddrinfo() */
        no_address(pg, h,
                   status == HD_RESOLVE_NOTFOUND ? "Name or service not known"
                                                 : "Temporary failure in name resolution");
    } else {
        h->addr = addrs[0];
        host_ready(pg, h);
    }
    kick(pg);
}

/* Takes the next target from the source. Returns the host when it can be
 * pinged now, NULL otherwise (a name being resolved, a bad name, the end). */
static host_t *admit(ping_t *pg)
{
    const char *name;
    struct sockaddr_storage ss;
    char err[256];
    int bad;
    if (!source_next(&pg->src, &name, &ss, err, sizeof(err), &bad)) {
        if (bad) {
            fprintf(stderr, "heed ping: %s\n", err);
            pg->fatal = EXIT_ARGS;
            event_base_loopbreak(pg->base);
        }
        pg->source_done = 1;
        return NULL;
    }
    host_t *h = hd_xcalloc(1, sizeof(*h));
    h->pg = pg;
    h->next = pg->hosts;
    if (pg->hosts) pg->hosts->prev = h;
    pg->hosts = h;
    h->seq = pg->nseq++;
    h->retries_left = pg->retries;
    h->timeout_us = pg->timeout_us;
    pg->active++;
    pg->admitted++;
    if (!name) {
        h->addr = ss;
        if (!pg->by_name) return h;
        lookup_name(pg, h);
        return NULL;
    }
    h->name = hd_xstrdup(name);
    if (is_numeric(name, &h->addr)) {
        if (pg->family && h->addr.ss_family != pg->family) {
            no_address(pg, h, "Address family for hostname not supported");
            return NULL;
        }
        if (!pg->by_name) return h;
        lookup_name(pg, h);
        return NULL;
    }
    if (!resolver(pg, err, sizeof(err))) {
        no_address(pg, h, err);
        return NULL;
    }
    pg->resolving++;
    h->rq = hd_resolve(pg->resolver, name, 0, pg->family, on_resolved, h);
    return NULL;
}

static int done_sweeping(const ping_t *pg)
{
    return (pg->source_done || pg->stopping) && pg->active == 0;
}

/* One wake-up of the sender: as many packets as the rate allows, then back
 * to the loop so replies are read before the socket buffer fills. */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ping_t *pg = arg;
    pg->wake_armed = 0;
    int64_t now = hd_time_now_us();
    if (pg->next_send_us < now - pg->interval_us * BURST) pg->next_send_us = now;
    int sent = 0;
    while (sent < BURST && !pg->fatal) {
        if (pg->interval_us && pg->next_send_us > now) break;
        host_t *h = NULL;
        if (pg->pending) {
            h = pg->pending;
            pg->pending = NULL;
        } else {
            hd_heap_node_t *top = hd_heap_top(&pg->due);
            if (top && top->key <= now) {
                h = (host_t *)top;
                hd_heap_remove(&pg->due, &h->due);
            } else if (!pg->source_done && !pg->stopping && pg->active < MAX_ACTIVE &&
                       pg->resolving < MAX_RESOLVING) {
                h = admit(pg);
                if (!h) continue;
            } else {
                break;
            }
        }
        send_one(pg, h);
        if (pg->pending) break;
        sent++;
        pg->next_send_us += pg->interval_us;
        if (!pg->interval_us) pg->next_send_us = now;
    }
    if (pg->fatal) return;
    if (done_sweeping(pg) && !pg->resolving) {
        event_base_loopbreak(pg->base);
        return;
    }
    kick(pg);
}

/* Arms the sender for the next moment it could have work. */
static void kick(ping_t *pg)
{
    if (pg->wake_armed || pg->fatal) return;
    int64_t now = hd_time_now_us();
    int64_t at;
    hd_heap_node_t *top = hd_heap_top(&pg->due);
    int can_admit = !pg->source_done && !pg->stopping && pg->active < MAX_ACTIVE &&
                    pg->resolving < MAX_RESOLVING;
    if (pg->pending) {
        at = now + 1000; /* socket buffer full: give the kernel a millisecond */
    } else if (can_admit) {
        at = now;
    } else if (top) {
        at = top->key;
    } else if (done_sweeping(pg) && !pg->resolving) {
        at = now;
    } else {
        return; /* replies, timeouts or lookups will call again */
    }
    if (at < pg->next_send_us && pg->interval_us) at = pg->next_send_us;
    int64_t d = at - now;
    if (d < 0) d = 0;
    struct timeval tv = {(time_t)(d / HD_USEC_PER_SEC), (suseconds_t)(d % HD_USEC_PER_SEC)};
    evtimer_add(pg->wake, &tv);
    pg->wake_armed = 1;
}

static void on_progress(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ping_t *pg = arg;
    const hd_icmp_stats_t *st = hd_icmp_stats(pg->icmp);
    fprintf(stderr, "\r\033[Kheed ping: %llu", (unsigned long long)pg->nhosts);
    if (pg->total) fprintf(stderr, "/%llu", (unsigned long long)pg->total);
    fprintf(stderr, " done, %llu alive, %llu unreachable, %llu in flight",
            (unsigned long long)pg->nalive, (unsigned long long)pg->nunreach,
            (unsigned long long)st->in_flight);
    fflush(stderr);
    pg->progress_on = 1;
}

static void on_sigint(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ping_t *pg = arg;
    if (pg->stopping) {
        event_base_loopbreak(pg->base); /* a second ^C: stop now */
        return;
    }
    /* Stop sending; what is in flight finishes, then the summaries print. */
    stop_sweep(pg);
    kick(pg);
}

/* ---- flags -------------------------------------------------------------- */

static int args_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int args_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "heed ping: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see heed ping --help)\n");
    return EXIT_ARGS;
}

static int parse_int(char flag, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno || n < min || n > max) {
        if (flag)
            return args_error("invalid value '%s' for -%c (expected a whole number from %ld to "
                              "%ld)",
                              v, flag, min, max);
        return args_error("invalid value '%s' (expected a whole number from %ld to %ld)", v, min,
                          max);
    }
    *out = n;
    return 0;
}

static int parse_ms(char flag, const char *v, int64_t *out_us)
{
    char *end;
    errno = 0;
    double ms = strtod(v, &end);
    if (*v && *end && end != v) {
        /* A unit, as heed's other durations take: -t2s, -p 1.5s, -i 500us. */
        int64_t us;
        char err[128];
        if (hd_time_parse_duration(v, &us, err, sizeof(err)) == 0 && us <= 3600 * HD_USEC_PER_SEC) {
            *out_us = us;
            return 0;
        }
    }
    if (!*v || *end || errno || !isfinite(ms) || ms < 0 || ms > 3600e3)
        return args_error("invalid value '%s' for -%c (expected milliseconds, 0 to 3600000, or a "
                          "duration like 2s)",
                          v, flag);
    *out_us = (int64_t)llround(ms * 1000.0);
    return 0;
}

static int parse_flags(ping_t *pg, int argc, char **argv, char ***targets, int *ntargets)
{
    char **t = hd_xcalloc((size_t)argc + 1, sizeof(char *));
    int nt = 0;
    long v;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++)
                t[nt++] = argv[i];
            break;
        }
        if (a[0] != '-' || a[1] == '\0') {
            t[nt++] = a;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a) : strlen(a);
            if (nl == 6 && !strncmp(a, "--json", 6) && !eq) {
                pg->json = 1;
            } else if (nl == 9 && !strncmp(a, "--version", 9) && !eq) {
                pg->version = 1;
            } else if (nl == 6 && !strncmp(a, "--rate", 6)) {
                const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
                if (!val) goto missing_long;
                char *end;
                errno = 0;
                double pps = strtod(val, &end);
                if (!*val || *end || errno || !isfinite(pps) || pps <= 0 || pps > 1e7) {
                    free(t);
                    return args_error("invalid value '%s' for --rate (expected packets per "
                                      "second, more than 0)",
                                      val);
                }
                pg->interval_us = (int64_t)llround(1e6 / pps);
            } else {
                free(t);
                return args_error("unknown flag '%.*s'", (int)nl, a);
            }
            continue;
        missing_long:
            free(t);
            return args_error("flag '%s' needs a value", a);
        }
        for (char *c = a + 1; *c; c++) {
            char f = *c;
            const char *val = NULL;
            if (strchr("cCiprtBbxXf", f)) {
                if (c[1])
                    val = c + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else {
                    free(t);
                    return args_error("flag '-%c' needs a value", f);
                }
            }
            int rc = 0;
            switch (f) {
            case 'c':
            case 'C':
                if (!(rc = parse_int(f, val, 1, 1000000, &v))) {
                    pg->count = (int)v;
                    if (f == 'C') pg->vcount = 1;
                }
                break;
            case 'i':
                rc = parse_ms(f, val, &pg->interval_us);
                break;
            case 'p':
                rc = parse_ms(f, val, &pg->period_us);
                break;
            case 't':
                rc = parse_ms(f, val, &pg->timeout_us);
                pg->timeout_set = 1;
                break;
            case 'r':
                if (!(rc = parse_int(f, val, 0, 1000, &v))) pg->retries = (int)v;
                break;
            case 'b':
                if (!(rc = parse_int(f, val, 0, HD_ICMP_DATA_MAX, &v))) pg->data_len = (size_t)v;
                break;
            case 'x':
            case 'X':
                if (!(rc = parse_int(f, val, 1, 1000000000, &v))) {
                    pg->min_reach = (int)v;
                    if (f == 'X') pg->fast_reach = 1;
                }
                break;
            case 'B': {
                char *end;
                errno = 0;
                double b = strtod(val, &end);
                if (!*val || *end || errno || !isfinite(b) || b < 1.0 || b > 5.0)
                    rc = args_error("invalid value '%s' for -B (expected a factor from 1.0 to "
                                    "5.0)",
                                    val);
                else
                    pg->backoff = b;
                break;
            }
            case 'f':
                pg->file = val;
                break;
            case 'a':
                pg->show_alive = 1;
                break;
            case 'u':
                pg->show_unreach = 1;
                break;
            case 'q':
                pg->quiet = 1;
                break;
            case 's':
                pg->stats = 1;
                break;
            case 'e':
                pg->elapsed = 1;
                break;
            case 'l':
                pg->loop = 1;
                break;
            case 'D':
                pg->timestamp = 1;
                break;
            case 'A':
                pg->by_addr = 1;
                break;
            case 'n':
            case 'd':
                pg->by_name = 1;
                break;
            case 'g':
                pg->generate = 1;
                break;
            case '4':
                pg->family = AF_INET;
                break;
            case '6':
                pg->family = AF_INET6;
                break;
            case 'v': /* fping's -v; -V as well */
            case 'V':
                pg->version = 1;
                break;
            default:
                rc = args_error("unknown flag '-%c'", f);
            }
            if (rc) {
                free(t);
                return rc;
            }
            if (val) break; /* the value used the rest of this argument */
        }
    }
    *targets = t;
    *ntargets = nt;
    return 0;
}

/* ---- the command -------------------------------------------------------- */

static void print_stats(ping_t *pg)
{
    char a[16];
    int64_t now = hd_time_now_us();
    fprintf(stderr, "\n");
    fprintf(stderr, " %7llu targets\n", (unsigned long long)pg->nhosts);
    fprintf(stderr, " %7llu alive\n", (unsigned long long)pg->nalive);
    fprintf(stderr, " %7llu unreachable\n", (unsigned long long)pg->nunreach);
    fprintf(stderr, " %7llu unknown addresses\n", (unsigned long long)pg->nnoaddr);
    fprintf(stderr, "\n");
    fprintf(stderr, " %7llu timeouts (waiting for response)\n", (unsigned long long)pg->ntimeouts);
    fprintf(stderr, " %7llu ICMP Echos sent\n", (unsigned long long)pg->nsent);
    fprintf(stderr, " %7llu ICMP Echo Replies received\n", (unsigned long long)pg->nreplies);
    fprintf(stderr, " %7llu other ICMP received\n", (unsigned long long)pg->nother);
    fprintf(stderr, "\n");
    uint64_t n = pg->greplies ? pg->greplies : 1;
    fprintf(stderr, " %s ms (min round trip time)\n", tm(pg->greplies ? pg->gmin_us : 0, a, 16));
    fprintf(stderr, " %s ms (avg round trip time)\n", tm(pg->gsum_us / (int64_t)n, a, 16));
    fprintf(stderr, " %s ms (max round trip time)\n", tm(pg->greplies ? pg->gmax_us : 0, a, 16));
    fprintf(stderr, " %12.3f sec (elapsed real time)\n", (double)(now - pg->start_us) / 1e6);
    fprintf(stderr, "\n");
}

static void widen(ping_t *pg, size_t len)
{
    if (len > (size_t)pg->name_width) pg->name_width = (int)len;
}

/* A name lookup of the first pass: what is shown when none is found. */
typedef struct measure_s {
    ping_t *pg;
    size_t fallback;
} measure_t;

static void on_measured(int status, const char *name, const char *msg, void *arg)
{
    (void)msg;
    measure_t *m = arg;
    m->pg->measuring--;
    widen(m->pg, status == HD_RESOLVE_OK ? strlen(name) : m->fallback);
    free(m);
}

/* Count and loop modes pad names to the longest: a first pass over the
 * targets finds it (standard input is read into memory for the two passes).
 * With -n, names are looked up on the loop, up to MAX_RESOLVING at once. */
static int measure_names(ping_t *pg, char **targets, int ntargets)
{
    if (pg->file ? !strcmp(pg->file, "-") : ntargets == 0) {
        hd_buf_t b = {0};
        char chunk[65536];
        size_t n;
        while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
            hd_buf_append(&b, chunk, n);
        pg->buf_stdin = b.data ? b.data : hd_xstrdup("");
        pg->buf_stdin_len = b.len;
    }
    source_t s;
    char err[256];
    if (source_open(pg, &s, targets, ntargets, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed ping: %s\n", err);
        return EXIT_ARGS;
    }
    const char *name;
    struct sockaddr_storage ss;
    int bad;
    while (source_next(&s, &name, &ss, err, sizeof(err), &bad)) {
        char nb[NI_MAXHOST];
        size_t len;
        if (name && !pg->by_addr && !pg->by_name) {
            len = strlen(name);
        } else {
            host_t h = {.pg = pg};
            if (name) is_numeric(name, &ss);
            h.addr = ss;
            h.name = (char *)name;
            len = strlen(display(&h, nb, sizeof(nb)));
            char rerr[256];
            if (pg->by_name && ss.ss_family && resolver(pg, rerr, sizeof(rerr))) {
                measure_t *m = hd_xcalloc(1, sizeof(*m));
                m->pg = pg;
                m->fallback = len;
                pg->measuring++;
                hd_resolve_name(pg->resolver, &ss, on_measured, m);
                while (pg->measuring >= MAX_RESOLVING)
                    event_base_loop(pg->base, EVLOOP_ONCE);
                pg->total++;
                continue;
            }
        }
        widen(pg, len);
        pg->total++;
    }
    while (pg->measuring)
        event_base_loop(pg->base, EVLOOP_ONCE);
    if (s.f && s.own_f) fclose(s.f);
    if (bad) {
        fprintf(stderr, "heed ping: %s\n", err);
        return EXIT_ARGS;
    }
    return 0;
}

static int run_ping(int argc, char **argv)
{
    ping_t pg;
    memset(&pg, 0, sizeof(pg));
    pg.retries = 3;
    pg.backoff = 1.5;
    pg.timeout_us = 500 * HD_USEC_PER_MSEC;
    pg.interval_us = 10 * HD_USEC_PER_MSEC;
    pg.period_us = 1000 * HD_USEC_PER_MSEC;
    pg.data_len = HD_ICMP_DATA_DEF;
    char **targets = NULL;
    int ntargets = 0, rc;
    if ((rc = parse_flags(&pg, argc, argv, &targets, &ntargets))) return rc;
    if (pg.version) {
        /* As fping: the version, and nothing is sent. */
        printf("heed %s\n", HEED_VERSION);
        free(targets);
        return 0;
    }
    int generate = pg.generate;
    rc = EXIT_ARGS;
    if (pg.count && pg.loop) {
        args_error("specify only one of -c, -C and -l");
        goto out;
    }
    if (generate && pg.file) {
        args_error("-g and -f cannot be used together");
        goto out;
    }
    if (generate && ntargets == 0) {
        args_error("-g needs a range: ADDRESS/PREFIX, or START END");
        goto out;
    }
    if (pg.file && ntargets) {
        args_error("targets given both with -f and as arguments");
        goto out;
    }
    if (ntargets == 0 && !pg.file && isatty(0)) {
        args_error("no target given (targets are arguments, -f FILE, -g RANGE or standard "
                   "input)");
        goto out;
    }
    if ((pg.count || pg.loop) && !pg.timeout_set) {
        /* fping: in count and loop modes the timeout is the period, at most 2 s */
        pg.timeout_us = pg.period_us < 2 * HD_USEC_PER_SEC ? pg.period_us : 2 * HD_USEC_PER_SEC;
        if (pg.timeout_us < HD_USEC_PER_MSEC) pg.timeout_us = HD_USEC_PER_MSEC;
    }
    if (pg.timeout_us < 1) pg.timeout_us = 1;
    /* fping: -a, -u and -x replace the per-target and per-ping lines */
    pg.lists = pg.show_alive || pg.show_unreach || pg.min_reach;
    pg.per_ping = (pg.count || pg.loop) && !pg.quiet && !pg.lists;

    if (generate) {
        /* ranges are checked before anything is sent, and sized for progress */
        source_t s;
        char err[256];
        memset(&s, 0, sizeof(s));
        s.args = targets;
        s.nargs = ntargets;
        s.generate = 1;
        uint64_t total = 0;
        while (s.argi < s.nargs) {
            const char *name;
            struct sockaddr_storage ss;
            int bad;
            if (!source_next(&s, &name, &ss, err, sizeof(err), &bad)) {
                if (bad) {
                    args_error("%s", err);
                    goto out;
                }
                break;
            }
            if (!pg.gen_family) pg.gen_family = s.range.family;
            uint64_t left = hd_cidr_remaining(&s.range) + 1;
            total = total + left < total ? UINT64_MAX : total + left;
            s.in_range = 0;
        }
        pg.total = total;
    }
    pg.base = event_base_new();
    if (!pg.base) {
        fprintf(stderr, "heed ping: cannot create the event loop\n");
        rc = EXIT_SYSCALL;
        goto out;
    }
    if (pg.count || pg.loop) {
        pg.total = 0;
        if ((rc = measure_names(&pg, targets, ntargets))) goto out;
        rc = EXIT_ARGS;
    }
    char err[256];
    if (source_open(&pg, &pg.src, targets, ntargets, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed ping: %s\n", err);
        rc = EXIT_SYSCALL;
        goto out;
    }
    pg.icmp = hd_icmp_new(pg.base);
    /* Open the sockets a -g range needs now, so a permission problem is one
     * clear message before anything starts. */
    if (generate && hd_icmp_open(pg.icmp, pg.gen_family, err, sizeof(err)) < 0) {
        fprintf(stderr, "heed ping: %s\n", err);
        rc = EXIT_SYSCALL;
        goto out;
    }
    pg.wake = evtimer_new(pg.base, on_wake, &pg);
    pg.sigint = evsignal_new(pg.base, SIGINT, on_sigint, &pg);
    event_add(pg.sigint, NULL);
    if (!generate && !pg.file && ntargets) pg.total = (uint64_t)ntargets;
    /* a large sweep, or one of unknown size (a file), on a terminal */
    if (isatty(2) && (pg.total == 0 || pg.total >= 1024) && !pg.count && !pg.loop) {
        pg.progress = event_new(pg.base, -1, EV_PERSIST, on_progress, &pg);
        struct timeval tv = {0, 250000};
        evtimer_add(pg.progress, &tv);
    }
    pg.start_us = hd_time_now_us();
    pg.next_send_us = pg.start_us;
    kick(&pg);
    event_base_dispatch(pg.base);
    clear_progress(&pg);
    if (pg.fatal) {
        rc = pg.fatal;
        goto out;
    }

    if ((pg.count || pg.loop) && !pg.json) {
        fflush(stdout);
        if (pg.per_ping) fprintf(stderr, "\n");
        for (uint64_t i = 0; i < pg.nsummaries; i++)
            if (pg.summaries[i]) fprintf(stderr, "%s\n", pg.summaries[i]);
    }
    if (pg.stats) {
        fflush(stdout);
        print_stats(&pg);
    }
    if (pg.min_reach) {
        int enough = pg.nalive >= (uint64_t)pg.min_reach;
        printf("%s hosts reachable (required: %d, reachable: %llu)\n",
               enough ? "Enough" : "Not enough", pg.min_reach, (unsigned long long)pg.nalive);
        rc = enough ? EXIT_ALL_ALIVE : EXIT_UNREACHABLE;
    } else if (pg.nnoaddr) {
        rc = EXIT_NOADDRESS;
    } else if (pg.nalive != pg.nhosts) {
        rc = EXIT_UNREACHABLE;
    } else {
        rc = EXIT_ALL_ALIVE;
    }

out:
    fflush(stdout);
    /* whatever is still admitted (a fatal error, a second ^C); their
     * lookups and packets die with the resolver and the engine below */
    while (pg.hosts)
        free_host(pg.hosts);
    hd_heap_free(&pg.due);
    if (pg.src.f && pg.src.own_f) fclose(pg.src.f);
    for (uint64_t i = 0; i < pg.nsummaries; i++)
        free(pg.summaries[i]);
    free(pg.summaries);
    free(pg.buf_stdin);
    if (pg.wake) event_free(pg.wake);
    if (pg.progress) event_free(pg.progress);
    if (pg.sigint) event_free(pg.sigint);
    hd_icmp_free(pg.icmp);
    hd_resolver_free(pg.resolver);
    if (pg.base) event_base_free(pg.base);
    free(targets);
    return rc;
}

const hd_cmd_t hd_cmd_ping = {
    "ping",
    run_ping,
    "ICMP liveness sweep of hosts and ranges (fping's flags)",
    "usage: heed ping [flags] [TARGET...]\n"
    "\n"
    "Sends ICMP echo requests and reports which targets answer, with fping's\n"
    "flags, output lines and exit codes. Targets are arguments, lines of -f FILE,\n"
    "standard input, or ranges with -g; ranges are generated as the sweep goes,\n"
    "so memory follows the packets in flight, not the size of the range.\n"
    "\n"
    "Targets:\n"
    "  HOST...                names (resolved asynchronously) or IPv4/IPv6 addresses\n"
    "  -f FILE                one target per line ('#' comments); - is standard input\n"
    "  -g ADDR/PREFIX...      every host address of the ranges (IPv4: not the network\n"
    "                         and broadcast addresses, as fping), IPv4 or IPv6, any size\n"
    "  -g START END           every address from START to END\n"
    "\n"
    "Probing:\n"
    "  -c N                   count mode: N pings per target, a line per reply\n"
    "  -C N                   as -c, and a closing line with every round-trip time\n"
    "  -l                     loop: ping until interrupted (^C), then summarise\n"
    "  -i MS                  at least MS between any two packets (default 10)\n"
    "      --rate PPS         at most PPS packets per second overall (instead of -i)\n"
    "  -p MS                  time between pings to one target in -c/-C/-l (default 1000)\n"
    "  -t MS                  first timeout (default 500; -c/-C/-l: the period, at most\n"
    "                         2000)\n"
    "  (-i, -p and -t take milliseconds, or a duration with a unit: -t2s, -p 1.5s)\n"
    "  -r N                   retries when no reply (default 3; not in -c/-C/-l)\n"
    "  -B F                   each retry waits F times longer (default 1.5)\n"
    "  -b BYTES               data bytes per packet (default 56, at least 16)\n"
    "  -4, -6                 resolve names to IPv4 or IPv6 only\n"
    "\n"
    "Output:\n"
    "  -a                     print the targets that answer\n"
    "  -u                     print the targets that do not\n"
    "  -q                     no per-target or per-ping lines\n"
    "  -s                     closing statistics on stderr\n"
    "  -e                     round-trip time on 'is alive' lines\n"
    "  -D                     a timestamp before each per-ping line\n"
    "  -A                     show targets by address\n"
    "  -n, -d                 show targets by name (reverse lookup)\n"
    "  -x N                   succeed when at least N targets answer\n"
    "  -X N                   as -x, and stop as soon as N targets answered\n"
    "      --json             one JSON object per target on stdout: host, address,\n"
    "                         alive, xmt, rcv, loss, min_ms, avg_ms, max_ms\n"
    "  -v, -V, --version      print heed's version and exit\n"
    "\n"
    "On a terminal a large sweep shows a progress line on stderr.\n"
    "\n"
    "Sockets: a raw ICMP socket when privileged, else the unprivileged ping\n"
    "socket where net.ipv4.ping_group_range allows; HEED_ICMP_SOCKET=raw|dgram\n"
    "forces one.\n"
    "\n"
    "Exit status: 0 all targets answered (or enough, with -x/-X), 1 some did not,\n"
    "2 a name was not found, 3 invalid arguments, 4 a system call failed.\n"
    "\n"
    "Examples:\n"
    "  heed ping 127.0.0.1 ::1 localhost\n"
    "  heed ping -a -q -g 127.0.0.0/24\n"
    "  heed ping -c 3 -p 100 127.0.0.1\n"
    "  heed ping -i 0 -r 0 -q -s -g 127.0.0.0/16\n",
};
