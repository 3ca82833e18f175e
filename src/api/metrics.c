/* metrics — Prometheus text format writer (see metrics.h). */
#include "api/metrics.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/time.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct family_s {
    char *name;
    const char *type; /* "counter", "gauge", "summary" */
    hd_buf_t lines;   /* HELP, TYPE and the samples so far */
} family_t;

struct hd_metrics_s {
    family_t *fams;
    size_t nfams;
    hd_buf_t text;
};

hd_metrics_t *hd_metrics_new(void)
{
    return hd_xcalloc(1, sizeof(hd_metrics_t));
}

void hd_metrics_free(hd_metrics_t *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nfams; i++) {
        free(m->fams[i].name);
        hd_buf_free(&m->fams[i].lines);
    }
    free(m->fams);
    hd_buf_free(&m->text);
    free(m);
}

static void die(const char *what, const char *name)
{
    fprintf(stderr, "heed: metrics: %s '%s' (a bug in heed)\n", what, name ? name : "(null)");
    abort();
}

static int valid_name(const char *s, int colon_ok)
{
    if (!s || !*s || (*s >= '0' && *s <= '9')) return 0;
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (colon_ok && c == ':');
        if (!ok) return 0;
    }
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* Appends s with the escapes of label values (quote) or HELP (no quote). */
static void put_escaped(hd_buf_t *b, const char *s, int quote)
{
    for (; *s; s++) {
        if (*s == '\\')
            hd_buf_puts(b, "\\\\");
        else if (*s == '\n')
            hd_buf_puts(b, "\\n");
        else if (*s == '"' && quote)
            hd_buf_puts(b, "\\\"");
        else
            hd_buf_append(b, s, 1);
    }
}

/* Finds or starts the family; starting one writes its HELP and TYPE. */
static family_t *family(hd_metrics_t *m, const char *name, const char *type, const char *help)
{
    if (!valid_name(name, 1)) die("invalid metric name", name);
    for (size_t i = 0; i < m->nfams; i++) {
        if (strcmp(m->fams[i].name, name) != 0) continue;
        if (strcmp(m->fams[i].type, type) != 0) die("metric family reused with another type", name);
        return &m->fams[i];
    }
    if (!strcmp(type, "counter") && !ends_with(name, "_total"))
        die("counter name lacks the _total suffix", name);
    m->fams = hd_xrealloc(m->fams, (m->nfams + 1) * sizeof(*m->fams));
    family_t *f = &m->fams[m->nfams++];
    memset(f, 0, sizeof(*f));
    f->name = hd_xstrdup(name);
    f->type = type;
    hd_buf_printf(&f->lines, "# HELP %s ", name);
    put_escaped(&f->lines, help && *help ? help : name, 0);
    hd_buf_printf(&f->lines, "\n# TYPE %s %s\n", name, type);
    return f;
}

static void put_value(hd_buf_t *b, double v)
{
    if (isnan(v))
        hd_buf_puts(b, "NaN");
    else if (isinf(v))
        hd_buf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        hd_buf_printf(b, "%.0f", v);
    else {
        /* The shortest text that reads back as v: 0.0125, not
         * 0.012500000000000001. */
        char s[32];
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(s, sizeof(s), "%.*g", prec, v);
            if (strtod(s, NULL) == v) break;
        }
        hd_buf_puts(b, s);
    }
}

/* Writes one sample line: name{labels,extra}. value */
static void put_sample(hd_buf_t *b, const char *name, const char *suffix, va_list ap,
                       const char *extra_k, const char *extra_v, double value)
{
    hd_buf_printf(b, "%s%s", name, suffix);
    int n = 0;
    va_list aq;
    va_copy(aq, ap);
    for (const char *k; (k = va_arg(aq, const char *));) {
        const char *v = va_arg(aq, const char *);
        if (!valid_name(k, 0) || !strncmp(k, "__", 2)) die("invalid label name", k);
        hd_buf_puts(b, n++ ? "," : "{");
        hd_buf_printf(b, "%s=\"", k);
        put_escaped(b, v ? v : "", 1);
        hd_buf_puts(b, "\"");
    }
    va_end(aq);
    if (extra_k) {
        hd_buf_puts(b, n++ ? "," : "{");
        hd_buf_printf(b, "%s=\"%s\"", extra_k, extra_v);
    }
    if (n) hd_buf_puts(b, "}");
    hd_buf_puts(b, " ");
    put_value(b, value);
    hd_buf_puts(b, "\n");
}

void hd_metrics_counter(hd_metrics_t *m, const char *name, const char *help, double value, ...)
{
    family_t *f = family(m, name, "counter", help);
    va_list ap;
    va_start(ap, value);
    put_sample(&f->lines, name, "", ap, NULL, NULL, value);
    va_end(ap);
}

void hd_metrics_gauge(hd_metrics_t *m, const char *name, const char *help, double value, ...)
{
    family_t *f = family(m, name, "gauge", help);
    va_list ap;
    va_start(ap, value);
    put_sample(&f->lines, name, "", ap, NULL, NULL, value);
    va_end(ap);
}

void hd_metrics_summary(hd_metrics_t *m, const char *name, const char *help, const hd_hist_t *h,
                        ...)
{
    static const struct {
        const char *label;
        double q;
    } qs[] = {{"0.5", 0.5}, {"0.9", 0.9}, {"0.99", 0.99}, {"1", 1.0}};
    family_t *f = family(m, name, "summary", help);
    /* quantiles over hist.h's window (the last ~10 minutes); _sum and
     * _count since start, as Prometheus's client libraries do */
    int64_t now = hd_time_now_us();
    uint64_t window = hd_hist_window_count_at(h, now);
    va_list ap;
    va_start(ap, h);
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        double v = window == 0 ? NAN : (double)hd_hist_quantile_at(h, qs[i].q, now) / 1e6;
        put_sample(&f->lines, name, "", ap, "quantile", qs[i].label, v);
    }
    put_sample(&f->lines, name, "_sum", ap, NULL, NULL, (double)h->sum_us / 1e6);
    put_sample(&f->lines, name, "_count", ap, NULL, NULL, (double)h->count);
    va_end(ap);
}

const char *hd_metrics_text(hd_metrics_t *m, size_t *len)
{
    hd_buf_reset(&m->text);
    hd_buf_puts(&m->text, "");
    for (size_t i = 0; i < m->nfams; i++)
        hd_buf_append(&m->text, m->fams[i].lines.data, m->fams[i].lines.len);
    if (len) *len = m->text.len;
    return m->text.data ? m->text.data : "";
}

char *hd_metrics_take(hd_metrics_t *m, size_t *len)
{
    /* Sized once, and each family's lines freed as soon as copied: for
     * 10,000 checks the text is megabytes, and a doubling buffer plus the
     * families plus a copy for the reply was the agent's peak memory. */
    size_t total = 0;
    for (size_t i = 0; i < m->nfams; i++)
        total += m->fams[i].lines.len;
    char *text = hd_xmalloc(total + 1), *p = text;
    for (size_t i = 0; i < m->nfams; i++) {
        if (m->fams[i].lines.len) memcpy(p, m->fams[i].lines.data, m->fams[i].lines.len);
        p += m->fams[i].lines.len;
        hd_buf_free(&m->fams[i].lines);
    }
    *p = '\0';
    if (len) *len = total;
    return text;
}
