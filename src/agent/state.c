/* state — the check state machine (see state.h for the rules). */
#include "agent/state.h"

#include "agent/alert.h"
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hd_state_init(hd_check_state_t *st, int64_t now_us)
{
    memset(st, 0, sizeof(*st));
    st->status = HD_CHECK_CRITICAL;
    st->before_pause = HD_CHECK_CRITICAL;
    st->reason = HD_R_OK;
    st->output = hd_xstrdup("not checked yet");
    st->last_change = now_us;
}

void hd_state_free(hd_check_state_t *st)
{
    free(st->output);
    st->output = NULL;
    if (st->alert) hd_alert_state_free(st->alert);
    free(st->alert);
    st->alert = NULL;
}

int hd_state_set_output(hd_check_state_t *st, const char *out, size_t max)
{
    size_t n = strlen(out);
    if (max && n >= max) n = max - 1;
    /* Never cut a UTF-8 sequence in half: back up to its first byte. */
    while (n > 0 && n < strlen(out) && ((unsigned char)out[n] & 0xC0) == 0x80)
        n--;
    if (st->output && strlen(st->output) == n && memcmp(st->output, out, n) == 0) return 0;
    free(st->output);
    st->output = hd_xstrndup(out, n);
    return HD_STATE_OUTPUT_CHANGED;
}

static int set_status(hd_check_state_t *st, hd_check_status_t s, int64_t now_us)
{
    if (st->status == s) return 0;
    st->status = s;
    st->last_change = now_us;
    return HD_STATE_STATUS_CHANGED;
}

int hd_state_apply(hd_check_state_t *st, const hd_check_def_t *d, const hd_result_t *r,
                   int64_t now_us, size_t output_max)
{
    if (st->paused) return 0;
    int flags = 0;
    hd_status_t rs = r->status;
    char slow[HD_PROBE_OUTPUT_MAX];
    const char *out = r->output;
    if (rs == HD_STATUS_PASSING && d->latency_warn_us > 0 && r->latency_us > d->latency_warn_us) {
        rs = HD_STATUS_WARNING;
        /* the checked return tells GCC the cut at HD_PROBE_OUTPUT_MAX is meant */
        if (snprintf(slow, sizeof(slow), "slow: %.1f ms > %g ms%s%s", (double)r->latency_us / 1e3,
                     (double)d->latency_warn_us / 1e3, out[0] ? "; " : "", out) < 0)
            slow[0] = '\0';
        out = slow;
    }
    st->last_checked = now_us;
    st->latency_us = r->latency_us;
    st->reason = r->reason;
    int want_ok = d->success_before_passing > 0 ? d->success_before_passing : 1;
    int want_warn = d->failures_before_warning > 0 ? d->failures_before_warning : 1;
    int want_crit = d->failures_before_critical > 0 ? d->failures_before_critical : 1;
    if (rs == HD_STATUS_PASSING) {
        st->last_success = now_us;
        st->consecutive_ok++;
        st->consecutive_fail = 0;
        if (st->consecutive_ok >= want_ok) flags |= set_status(st, HD_CHECK_PASSING, now_us);
    } else {
        st->consecutive_fail++;
        st->consecutive_ok = 0;
        if (rs == HD_STATUS_WARNING) {
            if (st->consecutive_fail >= want_warn)
                flags |= set_status(st, HD_CHECK_WARNING, now_us);
        } else if (st->consecutive_fail >= want_crit) {
            flags |= set_status(st, HD_CHECK_CRITICAL, now_us);
        } else if (st->consecutive_fail >= want_warn && st->status == HD_CHECK_PASSING) {
            flags |= set_status(st, HD_CHECK_WARNING, now_us);
        }
    }
    flags |= hd_state_set_output(st, out, output_max);
    return flags;
}

int hd_state_pause(hd_check_state_t *st, int paused, int64_t now_us)
{
    if (!!st->paused == !!paused) return 0;
    st->paused = paused;
    st->consecutive_ok = st->consecutive_fail = 0;
    if (paused) {
        st->before_pause = st->status;
        return set_status(st, HD_CHECK_MAINTENANCE, now_us);
    }
    /* Resumed: what the check last knew stands until its next result. */
    hd_check_status_t back = st->before_pause;
    if (back != HD_CHECK_PASSING && back != HD_CHECK_WARNING) back = HD_CHECK_CRITICAL;
    st->before_pause = HD_CHECK_CRITICAL;
    return set_status(st, back, now_us);
}

int hd_state_ttl(hd_check_state_t *st, hd_check_status_t status, const char *output, int64_t now_us,
                 size_t max)
{
    if (st->paused) return 0;
    int flags = set_status(st, status, now_us);
    st->reason = status == HD_CHECK_PASSING ? HD_R_OK : HD_R_EXEC_STATUS;
    st->last_checked = now_us;
    if (status == HD_CHECK_PASSING) st->last_success = now_us;
    return flags | hd_state_set_output(st, output ? output : "", max);
}

void hd_state_copy(hd_check_state_t *dst, const hd_check_state_t *src)
{
    *dst = *src;
    dst->output = src->output ? hd_xstrdup(src->output) : NULL;
    if (src->alert) {
        dst->alert = hd_xmalloc(sizeof(*dst->alert));
        hd_alert_state_copy(dst->alert, src->alert);
    }
}
