/* sqlite_watch — watches on the SQLite store: streaming the event log to
 * callbacks (see store.h for the contract).
 *
 * A watch is either caught up ("synced") or catching up. After each commit
 * the loop reads the batch's events back from the read connection once and
 * hands each synced watch those under its prefix (hd_sqlite__dispatch). A
 * watch that starts at a past revision catches up on its own from the event
 * log, CATCHUP_CHUNK events per loop turn, inside a read transaction that
 * also reads the compaction revision, so a start before it is refused with
 * HD_STORE_ECOMPACTED consistently; once it reaches the dispatched
 * revision it is synced. Compaction never passes the dispatched revision,
 * so a synced watch never misses an event. (etcd's synced/unsynced watcher
 * groups work the same way.) */
#include "store/sqlite_impl.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

/* A watch event as read back from the event log, in one allocation. */
static void ev_free(hd_store_event_t *ev, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((char *)ev[i].kv.key);
    free(ev);
}

/* Reads the row of R_EVENTS at st into ev (key and value copied). */
static int64_t ev_read(sqlite3_stmt *st, hd_store_event_t *ev)
{
    size_t klen = (size_t)sqlite3_column_bytes(st, 2);
    size_t vlen = (size_t)sqlite3_column_bytes(st, 3);
    const void *k = sqlite3_column_blob(st, 2), *v = sqlite3_column_blob(st, 3);
    char *mem = hd_xmalloc(klen + vlen + 2);
    if (klen) memcpy(mem, k, klen);
    mem[klen] = '\0';
    if (vlen) memcpy(mem + klen + 1, v, vlen);
    mem[klen + 1 + vlen] = '\0';
    int64_t rev = sqlite3_column_int64(st, 0);
    ev->type = sqlite3_column_int(st, 1) ? HD_STORE_EV_DELETE : HD_STORE_EV_PUT;
    ev->kv = (hd_store_kv_t){mem,
                             klen,
                             mem + klen + 1,
                             vlen,
                             sqlite3_column_int64(st, 4),
                             rev,
                             sqlite3_column_int64(st, 5),
                             sqlite3_column_int64(st, 6)};
    return rev;
}

void hd_sqlite__watch_free_dead(hd_store_t *s)
{
    for (hd_store_watch_t **p = &s->watches; *p;) {
        hd_store_watch_t *w = *p;
        if (w->dead) {
            *p = w->next;
            free(w->prefix);
            free(w);
        } else {
            p = &w->next;
        }
    }
}

static void watch_fail(hd_store_watch_t *w, int status)
{
    w->done = 1;
    w->cb(status, NULL, 0, w->arg);
}

/* Feeds the events of (s->rev, rev] to every caught-up watch. */
void hd_sqlite__dispatch(hd_store_t *s, int64_t rev)
{
    int any = 0, rc;
    if (rev <= s->rev) return;
    for (hd_store_watch_t *w = s->watches; w; w = w->next)
        any |= w->synced && !w->done && !w->dead;
    if (!any) {
        s->rev = rev;
        return;
    }
    hd_store_event_t *ev = NULL, *sel = NULL;
    size_t n = 0, cap = 0;
    sqlite3_stmt *st = s->r[R_EVENTS];
    if (!(rc = read_begin(s))) {
        sqlite3_bind_int64(st, 1, s->rev + 1);
        sqlite3_bind_int64(st, 2, rev);
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                ev = hd_xrealloc(ev, cap * sizeof(*ev));
            }
            ev_read(st, &ev[n++]);
        }
        if (r != SQLITE_DONE) rc = hd_store__sqlite_err(r);
        sqlite3_reset(st);
        read_end(s);
    }
    s->rev = rev;
    sel = hd_xmalloc((n ? n : 1) * sizeof(*sel));
    s->walking++;
    for (hd_store_watch_t *w = s->watches; w; w = w->next) {
        if (!w->synced || w->done || w->dead) continue;
        if (rc) {
            watch_fail(w, rc);
            continue;
        }
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (ev[i].kv.mod_revision >= w->next_rev &&
                hd_store__prefix_match(ev[i].kv.key, ev[i].kv.key_len, w->prefix, w->prefix_len))
                sel[m++] = ev[i];
        if (w->next_rev <= rev) w->next_rev = rev + 1;
        if (m) w->cb(0, sel, m, w->arg);
    }
    s->walking--;
    if (!s->walking) hd_sqlite__watch_free_dead(s);
    free(sel);
    ev_free(ev, n);
}

/* Brings one lagging watch closer to s->rev: at most about CATCHUP_CHUNK
 * events, never splitting a revision. Returns 1 when it is still behind. */
static int catch_up(hd_store_t *s, hd_store_watch_t *w)
{
    hd_store_event_t *ev = NULL;
    size_t n = 0, cap = 0;
    int rc = read_begin(s), behind = 0;
    sqlite3_stmt *st = s->r[R_EVENTS];
    int64_t upto = s->rev, last = 0;
    if (!rc) {
        int64_t compacted = read_meta(s, "compacted", &rc);
        if (!rc && w->next_rev <= compacted) rc = HD_STORE_ECOMPACTED;
    }
    if (!rc) {
        sqlite3_bind_int64(st, 1, w->next_rev);
        sqlite3_bind_int64(st, 2, upto);
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            int64_t rev = sqlite3_column_int64(st, 0);
            if (n >= CATCHUP_CHUNK && rev != last) {
                behind = 1;
                upto = last;
                break;
            }
            last = rev;
            size_t klen = (size_t)sqlite3_column_bytes(st, 2);
            const char *k = sqlite3_column_blob(st, 2);
            if (!hd_store__prefix_match(k ? k : "", klen, w->prefix, w->prefix_len)) continue;
            if (n == cap) {
                cap = cap ? 2 * cap : 64;
                ev = hd_xrealloc(ev, cap * sizeof(*ev));
            }
            ev_read(st, &ev[n++]);
        }
        if (r != SQLITE_DONE && r != SQLITE_ROW) rc = hd_store__sqlite_err(r);
        sqlite3_reset(st);
    }
    read_end(s);
    if (rc) {
        watch_fail(w, rc);
    } else {
        w->next_rev = upto + 1;
        if (!behind) w->synced = 1;
        if (n) w->cb(0, ev, n, w->arg);
    }
    ev_free(ev, n);
    return behind && !rc;
}

void hd_sqlite__catchup_cb(evutil_socket_t fd, short what, void *arg)
{
    hd_store_t *s = arg;
    int again = 0;
    (void)fd, (void)what;
    s->walking++;
    for (hd_store_watch_t *w = s->watches; w; w = w->next)
        if (!w->synced && !w->done && !w->dead) again |= catch_up(s, w);
    s->walking--;
    if (!s->walking) hd_sqlite__watch_free_dead(s);
    if (again) event_active(s->catchup_ev, 0, 0);
}

int hd_store_watch(hd_store_t *s, const char *prefix, size_t prefix_len, int64_t from_revision,
                   hd_store_watch_cb cb, void *arg, hd_store_watch_t **out)
{
    int rc = refuse(s, (const void *)cb, 1);
    if (rc) return rc;
    if (!out || from_revision < 0) return HD_STORE_EINVAL;
    if (prefix_len > HD_STORE_KEY_MAX || (prefix_len && !prefix)) return HD_STORE_EKEY;
    hd_store_watch_t *w = hd_xcalloc(1, sizeof(*w));
    w->s = s;
    w->prefix = hd_xmalloc(prefix_len + 1);
    if (prefix_len) memcpy(w->prefix, prefix, prefix_len);
    w->prefix[prefix_len] = '\0';
    w->prefix_len = prefix_len;
    w->cb = cb;
    w->arg = arg;
    w->next_rev = from_revision ? from_revision : s->rev + 1;
    w->synced = w->next_rev > s->rev;
    w->next = s->watches;
    s->watches = w;
    if (!w->synced) event_active(s->catchup_ev, 0, 0);
    *out = w;
    return 0;
}

void hd_store_watch_cancel(hd_store_watch_t *w)
{
    if (!w) return;
    hd_store_t *s = w->s;
    w->dead = 1;
    if (!s->walking) hd_sqlite__watch_free_dead(s);
}
