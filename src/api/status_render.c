/* status_render — the pure half of the status page (api/status_page.h):
 * tallies, figures, colours, badges and the HTML. api/status_page.c
 * gathers what it shows and serves it. */
#include "api/status_page.h"

#include "util/time.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY_US  (86400LL * HD_USEC_PER_SEC)
#define HOUR_US (3600LL * HD_USEC_PER_SEC)

static const int64_t window_hours[HD_STATUS_PAGE_NWINDOWS] = {24, 7 * 24, 30 * 24, 90 * 24};
static const char *const window_names[HD_STATUS_PAGE_NWINDOWS] = {"24h", "7d", "30d", "90d"};

/* ---- tallies ------------------------------------------------------------ */

static int64_t day_of(int64_t us)
{
    return us >= 0 ? us / DAY_US : -((-us + DAY_US - 1) / DAY_US);
}

void hd_status_page_uptime_init(hd_status_page_uptime_t *u, int64_t now_us)
{
    memset(u, 0, sizeof(*u));
    u->now_us = now_us;
    u->first_day = day_of(now_us) - (HD_STATUS_PAGE_DAYS - 1);
}

void hd_status_page_uptime_add(hd_status_page_uptime_t *u, int64_t ts_us, int64_t count, int64_t ok)
{
    if (count <= 0 || ts_us > u->now_us) return;
    if (ok < 0) ok = 0;
    if (ok > count) ok = count;
    int64_t d = day_of(ts_us) - u->first_day;
    if (d < 0) return;
    u->days[d].count += count;
    u->days[d].ok += ok;
    for (int w = 0; w < HD_STATUS_PAGE_NWINDOWS; w++)
        if (ts_us >= u->now_us - window_hours[w] * HOUR_US) {
            u->win[w].count += count;
            u->win[w].ok += ok;
        }
}

void hd_status_page_uptime_merge(hd_status_page_uptime_t *dst, const hd_status_page_uptime_t *src)
{
    for (int d = 0; d < HD_STATUS_PAGE_DAYS; d++) {
        dst->days[d].count += src->days[d].count;
        dst->days[d].ok += src->days[d].ok;
    }
    for (int w = 0; w < HD_STATUS_PAGE_NWINDOWS; w++) {
        dst->win[w].count += src->win[w].count;
        dst->win[w].ok += src->win[w].ok;
    }
}

int hd_status_page_window_parse(const char *s)
{
    for (int w = 0; s && w < HD_STATUS_PAGE_NWINDOWS; w++)
        if (!strcmp(s, window_names[w])) return w;
    return -1;
}

const char *hd_status_page_window_str(hd_status_page_window_t w)
{
    return (unsigned)w < HD_STATUS_PAGE_NWINDOWS ? window_names[w] : "?";
}

/* ---- figures and colours ------------------------------------------------ */

void hd_status_page_pct(const hd_status_page_tally_t *t, char *out, size_t outlen)
{
    if (t->count <= 0) {
        snprintf(out, outlen, "no data");
        return;
    }
    if (t->ok >= t->count) {
        snprintf(out, outlen, "100%%");
        return;
    }
    /* Hundredths of a percent, cut: 10000 * ok / count, never 10000 here. */
    long double h = (long double)t->ok * 10000.0L / (long double)t->count;
    long long c = (long long)h;
    if (c >= 10000) c = 9999;
    long long whole = c / 100, frac = c % 100;
    if (frac == 0)
        snprintf(out, outlen, "%lld%%", whole);
    else if (frac % 10 == 0)
        snprintf(out, outlen, "%lld.%lld%%", whole, frac / 10);
    else
        snprintf(out, outlen, "%lld.%02lld%%", whole, frac);
}

/* The level of t: 0 no data, 1 red .. 5 green. */
static int level(const hd_status_page_tally_t *t)
{
    if (t->count <= 0) return 0;
    /* Compare ok / count with p / 1000 without floating point. */
    static const int at[] = {995, 990, 970, 950};
    for (int i = 0; i < 4; i++)
        if ((__int128)t->ok * 1000 >= (__int128)t->count * at[i]) return 5 - i;
    return 1;
}

static const char *const level_color[] = {"#9f9f9f", "#e05d44", "#fe7d37",
                                          "#dfb317", "#97ca00", "#44cc11"};

const char *hd_status_page_pct_color(const hd_status_page_tally_t *t)
{
    return level_color[level(t)];
}

const char *hd_status_page_status_word(int status)
{
    switch (status) {
    case HD_CHECK_PASSING:
        return "up";
    case HD_CHECK_WARNING:
        return "degraded";
    case HD_CHECK_CRITICAL:
        return "down";
    case HD_CHECK_MAINTENANCE:
        return "maintenance";
    }
    return "no checks";
}

const char *hd_status_page_status_color(int status)
{
    switch (status) {
    case HD_CHECK_PASSING:
        return "#44cc11";
    case HD_CHECK_WARNING:
        return "#dfb317";
    case HD_CHECK_CRITICAL:
        return "#e05d44";
    case HD_CHECK_MAINTENANCE:
        return "#007ec6";
    }
    return "#9f9f9f";
}

/* ---- escaping and badges ------------------------------------------------ */

void hd_status_page_escape(hd_buf_t *out, const char *s)
{
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        switch (ch) {
        case '&':
            hd_buf_puts(out, "&amp;");
            break;
        case '<':
            hd_buf_puts(out, "&lt;");
            break;
        case '>':
            hd_buf_puts(out, "&gt;");
            break;
        case '"':
            hd_buf_puts(out, "&quot;");
            break;
        case '\'':
            hd_buf_puts(out, "&#39;");
            break;
        default:
            if ((ch < 0x20 && ch != '\t' && ch != '\n') || ch == 0x7f) ch = '?';
            hd_buf_append(out, &ch, 1);
        }
    }
}

/* The width of s in pixels in 11 px Verdana, near enough for a badge:
 * narrow, wide and other letters; a byte of a multi-byte UTF-8 character
 * after the first adds nothing. */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch & 0xc0) == 0x80) continue;
        if (strchr("ijl.,:;'|!I ", ch))
            w += 4;
        else if (strchr("frt()[]-/", ch))
            w += 5;
        else if (strchr("mwMW%@", ch))
            w += 11;
        else if (ch >= 'A' && ch <= 'Z')
            w += 8;
        else
            w += 7;
    }
    return w;
}

void hd_status_page_badge_svg(hd_buf_t *out, const char *label, const char *message,
                              const char *color)
{
    int lw = text_width(label) + 10, mw = text_width(message) + 10, w = lw + mw;
    hd_buf_printf(out,
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"20\" "
                  "role=\"img\" aria-label=\"",
                  w);
    hd_status_page_escape(out, label);
    hd_buf_puts(out, ": ");
    hd_status_page_escape(out, message);
    hd_buf_puts(out, "\"><title>");
    hd_status_page_escape(out, label);
    hd_buf_puts(out, ": ");
    hd_status_page_escape(out, message);
    hd_buf_printf(out,
                  "</title><linearGradient id=\"s\" x2=\"0\" y2=\"100%%\"><stop offset=\"0\" "
                  "stop-color=\"#bbb\" stop-opacity=\".1\"/><stop offset=\"1\" "
                  "stop-opacity=\".1\"/></linearGradient><clipPath id=\"r\"><rect width=\"%d\" "
                  "height=\"20\" rx=\"3\" fill=\"#fff\"/></clipPath><g clip-path=\"url(#r)\">"
                  "<rect width=\"%d\" height=\"20\" fill=\"#555\"/><rect x=\"%d\" width=\"%d\" "
                  "height=\"20\" fill=\"",
                  w, lw, lw, mw);
    hd_status_page_escape(out, color);
    hd_buf_printf(out,
                  "\"/><rect width=\"%d\" height=\"20\" fill=\"url(#s)\"/></g><g fill=\"#fff\" "
                  "text-anchor=\"middle\" font-family=\"Verdana,Geneva,DejaVu Sans,sans-serif\" "
                  "font-size=\"11\"><text x=\"%d\" y=\"15\" fill=\"#010101\" "
                  "fill-opacity=\".3\">",
                  w, lw / 2);
    hd_status_page_escape(out, label);
    hd_buf_printf(out, "</text><text x=\"%d\" y=\"14\">", lw / 2);
    hd_status_page_escape(out, label);
    hd_buf_printf(out, "</text><text x=\"%d\" y=\"15\" fill=\"#010101\" fill-opacity=\".3\">",
                  lw + mw / 2);
    hd_status_page_escape(out, message);
    hd_buf_printf(out, "</text><text x=\"%d\" y=\"14\">", lw + mw / 2);
    hd_status_page_escape(out, message);
    hd_buf_puts(out, "</text></g></svg>\n");
}

/* ---- the page ----------------------------------------------------------- */

static const char css[] =
    "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "margin:0;background:#f6f8fa;color:#1f2328}"
    "main{max-width:880px;margin:0 auto;padding:24px 16px}"
    "h1{font-size:26px;margin:0 0 16px}"
    "a{color:inherit}"
    ".banner{padding:12px 16px;border-radius:8px;color:#fff;font-weight:600;margin:0 0 20px}"
    "section{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px;"
    "margin:0 0 16px}"
    "h2{font-size:18px;margin:0;display:flex;justify-content:space-between;align-items:center}"
    ".pill{font-size:13px;font-weight:600;padding:2px 10px;border-radius:10px;color:#fff}"
    ".bars{display:flex;gap:2px;height:34px;margin:14px 0 4px}"
    ".bars span{flex:1;border-radius:2px}"
    ".axis{display:flex;justify-content:space-between;font-size:12px;color:#656d76}"
    "ul{list-style:none;padding:0;margin:12px 0 0}"
    "li{padding:7px 0;border-top:1px solid #eaeef2}"
    ".dot{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:8px}"
    ".fig{float:right;color:#656d76;font-size:13px}"
    ".target{color:#656d76;font-size:13px;margin-left:8px;word-break:break-all}"
    "pre{white-space:pre-wrap;word-break:break-word;font-size:12px;margin:4px 0 0 18px;"
    "color:#656d76}"
    "footer{font-size:12px;color:#656d76;text-align:center}"
    ".l0{background:#d0d7de}.l1{background:#cf222e}.l2{background:#e16f24}"
    ".l3{background:#d4a72c}.l4{background:#7ac143}.l5{background:#2da44e}"
    ".s0{background:#1a7f37}.s1{background:#9a6700}.s2{background:#cf222e}"
    ".s3{background:#0969da}.s-1{background:#6e7781}";

/* The CSS class of a status (from hd_status_page_group_status). */
static int status_class(int status)
{
    return status >= 0 && status <= HD_CHECK_MAINTENANCE ? status : -1;
}

int hd_status_page_group_status(const hd_status_page_group_t *g)
{
    int crit = 0, warn = 0, pass = 0;
    for (size_t i = 0; i < g->nchecks; i++) {
        crit |= g->checks[i].status == HD_CHECK_CRITICAL;
        warn |= g->checks[i].status == HD_CHECK_WARNING;
        pass |= g->checks[i].status == HD_CHECK_PASSING;
    }
    if (g->nchecks == 0) return -1;
    return crit   ? HD_CHECK_CRITICAL
           : warn ? HD_CHECK_WARNING
           : pass ? HD_CHECK_PASSING
                  : HD_CHECK_MAINTENANCE;
}

static void group_html(hd_buf_t *out, const hd_status_page_group_t *g, int link)
{
    int status = hd_status_page_group_status(g);
    hd_buf_puts(out, "<section id=\"");
    hd_status_page_escape(out, g->name);
    hd_buf_puts(out, "\"><h2><span>");
    if (link) {
        hd_buf_puts(out, "<a href=\"/status/");
        hd_status_page_escape(out, g->name);
        hd_buf_puts(out, "\">");
    }
    hd_status_page_escape(out, g->title);
    if (link) hd_buf_puts(out, "</a>");
    hd_buf_printf(out, "</span><span class=\"pill s%d\">%s</span></h2>\n<div class=\"bars\">",
                  status_class(status), hd_status_page_status_word(status));
    for (int d = 0; d < HD_STATUS_PAGE_DAYS; d++) {
        const hd_status_page_tally_t *t = &g->up.days[d];
        char day[40], pct[24];
        time_t secs = (time_t)((g->up.first_day + d) * 86400);
        struct tm tm;
        gmtime_r(&secs, &tm);
        strftime(day, sizeof(day), "%Y-%m-%d", &tm);
        hd_status_page_pct(t, pct, sizeof(pct));
        if (t->count > 0)
            hd_buf_printf(out, "<span class=\"l%d\" title=\"%s: %s (%lld results)\"></span>",
                          level(t), day, pct, (long long)t->count);
        else
            hd_buf_printf(out, "<span class=\"l0\" title=\"%s: no data\"></span>", day);
    }
    char p90[24];
    hd_status_page_pct(&g->up.win[HD_STATUS_PAGE_90D], p90, sizeof(p90));
    hd_buf_printf(out,
                  "</div>\n<div class=\"axis\"><span>%d days ago</span><span>%s uptime</span>"
                  "<span>today</span></div>\n<ul>\n",
                  HD_STATUS_PAGE_DAYS, p90);
    for (size_t i = 0; i < g->nchecks; i++) {
        const hd_status_page_check_t *c = &g->checks[i];
        char pct[24];
        hd_status_page_pct(&c->total, pct, sizeof(pct));
        hd_buf_printf(out, "<li><span class=\"dot s%d\" title=\"%s\"></span>",
                      status_class((int)c->status), hd_check_status_str(c->status));
        hd_status_page_escape(out, c->name);
        if (c->target) {
            hd_buf_puts(out, "<span class=\"target\">");
            hd_status_page_escape(out, c->target);
            hd_buf_puts(out, "</span>");
        }
        hd_buf_printf(out, "<span class=\"fig\">%s &middot; %s</span>",
                      hd_check_status_str(c->status), pct);
        if (c->output && *c->output) {
            hd_buf_puts(out, "<pre>");
            hd_status_page_escape(out, c->output);
            hd_buf_puts(out, "</pre>");
        }
        hd_buf_puts(out, "</li>\n");
    }
    hd_buf_puts(out, "</ul></section>\n");
}

static void head(hd_buf_t *out, const char *title)
{
    hd_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                     "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    hd_status_page_escape(out, title);
    hd_buf_printf(out, "</title><style>%s</style></head>\n<body><main>\n", css);
}

void hd_status_page_html(hd_buf_t *out, const char *title, const hd_status_page_group_t *groups,
                         size_t n, int link)
{
    head(out, title);
    hd_buf_puts(out, "<h1>");
    hd_status_page_escape(out, title);
    hd_buf_puts(out, "</h1>\n");
    /* The banner: the worst of the groups. */
    int crit = 0, warn = 0, checks = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < groups[i].nchecks; j++) {
            checks = 1;
            crit |= groups[i].checks[j].status == HD_CHECK_CRITICAL;
            warn |= groups[i].checks[j].status == HD_CHECK_WARNING;
        }
    if (checks)
        hd_buf_printf(out, "<div class=\"banner s%d\">%s</div>\n",
                      crit   ? HD_CHECK_CRITICAL
                      : warn ? HD_CHECK_WARNING
                             : HD_CHECK_PASSING,
                      crit   ? "Some systems are down"
                      : warn ? "Some systems are degraded"
                             : "All systems operational");
    for (size_t i = 0; i < n; i++)
        group_html(out, &groups[i], link);
    if (n > 0) {
        char ts[40];
        hd_time_format_rfc3339(groups[0].up.now_us, ts, sizeof(ts));
        hd_buf_printf(out,
                      "<footer>Updated %s &middot; uptime is the share of passing results "
                      "&middot; bars are UTC days</footer>\n",
                      ts);
    }
    hd_buf_puts(out, "</main></body></html>\n");
}

void hd_status_page_html_404(hd_buf_t *out)
{
    head(out, "Not found");
    hd_buf_puts(out, "<h1>Not found</h1>\n<p>There is no such status page.</p>\n"
                     "</main></body></html>\n");
}
