/* test_catalog — the watch-fed catalog cache against a real SQLite store:
 * loading what the store holds, following its watch, read-your-writes,
 * topics that wake only the readers of what changed, indexes that never
 * go back (deletions included), tenants, and the checks it makes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "store_util.h"

#include "agent/catalog.h"
#include "agent/catalog_impl.h" /* tombstones_max, lowered by one test */

typedef struct fix_s {
    tstore_t t;
    hd_catalog_t *c;
} fix_t;

static int setup(void **state)
{
    fix_t *f = calloc(1, sizeof(*f));
    t_setup(&f->t);
    t_open_cfg(&f->t);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fix_t *f = *state;
    hd_catalog_free(f->c);
    t_teardown(&f->t);
    free(f);
    return 0;
}

static void open_catalog(fix_t *f)
{
    char err[256] = "";
    if (hd_catalog_open(f->t.s, f->t.base, "n1", &f->c, err, sizeof(err)) < 0)
        fail_msg("hd_catalog_open: %s", err);
}

static void svc(hd_service_t *s, const char *tenant, const char *node, const char *id,
                const char *name, int port)
{
    memset(s, 0, sizeof(*s));
    s->tenant = (char *)tenant;
    s->node = (char *)node;
    s->id = (char *)id;
    s->name = (char *)name;
    s->port = port;
    s->weight_passing = s->weight_warning = 1;
}

typedef struct done_s {
    int done, status;
    int64_t rev;
    int seen; /* the catalog had the write when the callback ran */
    hd_catalog_t *c;
    const char *tenant, *node, *id;
} done_t;

static void on_done(int status, int64_t rev, void *arg)
{
    done_t *d = arg;
    d->status = status;
    d->rev = rev;
    hd_scope_t all = {NULL};
    d->seen = d->c && hd_catalog_service(d->c, &all, d->tenant, d->node, d->id) != NULL;
    d->done = 1;
}

/* Puts a service through the catalog; returns the write's revision. */
static int64_t put_svc(fix_t *f, const char *tenant, const char *id, const char *name, int port,
                       int *seen)
{
    hd_service_t s;
    svc(&s, tenant, "n1", id, name, port);
    done_t d = {0};
    d.c = f->c;
    d.tenant = tenant;
    d.node = "n1";
    d.id = id;
    assert_int_equal(hd_catalog_service_put(f->c, &s, on_done, &d), 0);
    t_spin(&f->t, &d.done);
    assert_int_equal(d.status, 0);
    if (seen) *seen = d.seen;
    return d.rev;
}

typedef struct woke_s {
    int n;
} woke_t;

static void on_wake(hd_topic_waiter_t *w, void *arg)
{
    (void)w;
    ((woke_t *)arg)->n++;
}

static void t_put_str(fix_t *f, const char *k, const char *v)
{
    assert_int_equal(t_put(&f->t, k, v, 0, NULL), 0);
}

/* A catalog opened on a store that holds a node, two services, a check
 * of one of them with its state, and another tenant's service. */
static void test_load(void **state)
{
    fix_t *f = *state;
    t_put_str(f, "heed/nodes/n1",
              "{\"Node\":\"n1\",\"ID\":\"u\",\"Address\":\"127.0.0.1\",\"Datacenter\":\"dc1\","
              "\"Agent\":true,\"Meta\":{\"rack\":\"r1\"}}");
    t_put_str(f, "heed/services/default/n1/web1",
              "{\"ID\":\"web1\",\"Service\":\"web\",\"Port\":80,\"Tags\":[\"a\"]}");
    t_put_str(f, "heed/services/default/n1/db1",
              "{\"ID\":\"db1\",\"Service\":\"db\",\"Port\":5432}");
    t_put_str(f, "heed/services/other/n1/web1", "{\"ID\":\"web1\",\"Service\":\"web\"}");
    t_put_str(f, "heed/checks/default/c1",
              "{\"id\":\"c1\",\"name\":\"web alive\",\"target\":\"tcp://127.0.0.1:1\","
              "\"service\":\"web1\",\"notes\":\"n\"}");
    t_put_str(f, "heed/state/default/c1",
              "{\"status\":0,\"reason\":0,\"output\":\"ok\",\"latency_us\":1,\"last_checked\":1,"
              "\"last_change\":1,\"last_success\":1,\"consecutive_ok\":1,\"consecutive_fail\":0,"
              "\"paused\":false}");
    t_put_str(f, "heed/services/default/n1/bad", "not json"); /* left out, not fatal */
    int64_t rev = hd_store_revision(f->t.s);
    open_catalog(f);
    assert_int_equal(hd_catalog_revision(f->c), rev);

    const hd_cat_node_t *n = hd_catalog_node(f->c, "n1");
    assert_non_null(n);
    assert_string_equal(n->n.address, "127.0.0.1");
    assert_true(n->n.agent);
    assert_string_equal(json_string_value(json_object_get(n->n.meta, "rack")), "r1");

    hd_scope_t def = {"default"}, other = {"other"}, all = {NULL};
    const hd_cat_service_t **l;
    size_t k = hd_catalog_services(f->c, &def, NULL, NULL, &l);
    assert_int_equal(k, 2); /* db1, web1: by id; not the other tenant's, not "bad" */
    assert_string_equal(l[0]->s.id, "db1");
    assert_string_equal(l[1]->s.id, "web1");
    assert_string_equal(l[1]->s.tags[0], "a");
    free(l);
    k = hd_catalog_services(f->c, &other, "web", NULL, &l);
    assert_int_equal(k, 1);
    assert_string_equal(hd_tenant_name(l[0]->s.tenant), "other");
    free(l);
    k = hd_catalog_services(f->c, &all, "web", NULL, &l);
    assert_int_equal(k, 2);
    free(l);
    assert_null(hd_catalog_service(f->c, &other, "default", "n1", "db1"));

    const hd_cat_service_t *web = hd_catalog_service(f->c, &def, NULL, "n1", "web1");
    assert_non_null(web);
    hd_cat_views_t v = {0};
    hd_catalog_node_checks(f->c, &def, "n1", 1, &v);
    hd_catalog_service_checks(f->c, web, &v);
    assert_int_equal(v.n, 2);
    assert_string_equal(v.v[0].id, "serfHealth");
    assert_int_equal(v.v[0].status, HD_CHECK_PASSING);
    assert_string_equal(v.v[1].id, "c1");
    assert_string_equal(v.v[1].name, "web alive");
    assert_string_equal(v.v[1].output, "ok");
    assert_string_equal(v.v[1].check->type, "tcp");
    assert_string_equal(v.v[1].check->tcp, "127.0.0.1:1");
    assert_ptr_equal(v.v[1].service, web);
    assert_int_equal(hd_cat_views_worst(&v), HD_CHECK_PASSING);
    hd_cat_views_free(&v);

    /* Every topic starts at the load revision: never 0. */
    assert_int_equal(hd_catalog_topic_name(f->c, NULL, "web")->index, rev);
    assert_int_equal(hd_catalog_topic_name(f->c, NULL, "nothing")->index, rev);
}

/* A change to service B wakes nobody waiting on service A, and A's index
 * stays; a change to A wakes A's waiter once, at the change's revision. */
static void test_topics_wake_only_what_changed(void **state)
{
    fix_t *f = *state;
    open_catalog(f);
    int seen = 0;
    int64_t r1 = put_svc(f, NULL, "a1", "a", 1, &seen);
    assert_true(seen); /* read-your-writes: in the catalog when the write is answered */
    int64_t r2 = put_svc(f, NULL, "b1", "b", 1, NULL);
    assert_true(r2 > r1);
    hd_topic_t *ta = hd_catalog_topic_name(f->c, NULL, "a");
    hd_topic_t *tb = hd_catalog_topic_name(f->c, NULL, "b");
    assert_int_equal(ta->index, r1);
    assert_int_equal(tb->index, r2);

    woke_t wa = {0}, wb = {0};
    hd_topic_waiter_t xa, xb;
    memset(&xa, 0, sizeof(xa));
    memset(&xb, 0, sizeof(xb));
    hd_topic_wait(ta, &xa, on_wake, &wa);
    hd_topic_wait(tb, &xb, on_wake, &wb);
    uint64_t bumps = hd_catalog_bumps(f->c);
    int64_t r3 = put_svc(f, NULL, "b1", "b", 2, NULL); /* B changes */
    assert_int_equal(wa.n, 0);
    assert_int_equal(wb.n, 1);
    assert_int_equal(ta->index, r1);
    assert_int_equal(tb->index, r3);
    assert_true(hd_catalog_bumps(f->c) > bumps);
    /* The services list moved with it. */
    hd_scope_t def = {"default"};
    assert_int_equal(hd_catalog_topic_services(f->c, &def)->index, r3);

    int64_t r4 = put_svc(f, NULL, "a1", "a", 2, NULL); /* A changes */
    assert_int_equal(wa.n, 1);
    assert_int_equal(ta->index, r4);
    /* Another tenant's service "a" is another topic. */
    hd_topic_wait(ta, &xa, on_wake, &wa);
    put_svc(f, "t2", "a1", "a", 3, NULL);
    assert_int_equal(wa.n, 1);
    assert_int_equal(ta->index, r4);
    hd_topic_unwait(&xa);
}

/* A deletion moves the index on (a tombstone), never back; a topic made
 * for a name nobody had starts at the load revision and is freed when its
 * waiter leaves. */
static void test_deletion_keeps_tombstone(void **state)
{
    fix_t *f = *state;
    open_catalog(f);
    int64_t load = hd_catalog_revision(f->c);
    put_svc(f, NULL, "w1", "w", 1, NULL);
    hd_topic_t *tw = hd_catalog_topic_name(f->c, NULL, "w");
    woke_t wk = {0};
    hd_topic_waiter_t x;
    memset(&x, 0, sizeof(x));
    hd_topic_wait(tw, &x, on_wake, &wk);
    done_t d = {0};
    assert_int_equal(hd_catalog_service_delete(f->c, NULL, "n1", "w1", on_done, &d), 0);
    t_spin(&f->t, &d.done);
    assert_int_equal(d.status, 0);
    assert_int_equal(wk.n, 1);
    hd_scope_t def = {"default"};
    assert_null(hd_catalog_service(f->c, &def, NULL, "n1", "w1"));
    tw = hd_catalog_topic_name(f->c, NULL, "w");
    assert_int_equal(tw->index, d.rev); /* the deletion's revision, not back to the load's */
    assert_true(d.rev > load);

    size_t before = hd_catalog_topics(f->c);
    hd_topic_t *tn = hd_catalog_topic_name(f->c, NULL, "never");
    assert_int_equal(tn->index, load > 0 ? load : 1);
    assert_int_equal(hd_catalog_topics(f->c), before + 1);
    hd_topic_wait(tn, &x, on_wake, &wk);
    hd_topic_unwait(&x); /* its idle function frees it: nothing to remember */
    assert_int_equal(hd_catalog_topics(f->c), before);
    /* A reader that only read its index lets it go too; a tombstone stays. */
    hd_catalog_topic_done(f->c, hd_catalog_topic_name(f->c, NULL, "never"));
    assert_int_equal(hd_catalog_topics(f->c), before);
    hd_catalog_topic_done(f->c, hd_catalog_topic_name(f->c, NULL, "w"));
    assert_int_equal(hd_catalog_topics(f->c), before);
    assert_int_equal(hd_catalog_topic_name(f->c, NULL, "w")->index, d.rev);
}

static const char *state_json(int status, const char *out)
{
    static char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"status\":%d,\"reason\":0,\"output\":\"%s\",\"latency_us\":1,\"last_checked\":1,"
             "\"last_change\":1,\"last_success\":1,\"consecutive_ok\":1,\"consecutive_fail\":0,"
             "\"paused\":false}",
             status, out);
    return buf;
}

/* A check's state change wakes its service's readers, not another
 * service's; a node check wakes every service on the node; a node in
 * maintenance shows _node_maintenance, a service _service_maintenance. */
static void test_checks_and_health(void **state)
{
    fix_t *f = *state;
    t_put_str(f, "heed/nodes/n1", "{\"Node\":\"n1\",\"Agent\":true}");
    open_catalog(f);
    put_svc(f, NULL, "a1", "a", 1, NULL);
    put_svc(f, NULL, "b1", "b", 1, NULL);
    t_put_str(f, "heed/checks/default/ca",
              "{\"id\":\"ca\",\"name\":\"ca\",\"ttl\":\"30s\",\"service\":\"a1\"}");
    t_put_str(f, "heed/state/default/ca", state_json(2, "not yet"));
    hd_topic_t *ta = hd_catalog_topic_name(f->c, NULL, "a");
    hd_topic_t *tb = hd_catalog_topic_name(f->c, NULL, "b");
    int64_t ib = tb->index;
    assert_int_equal(ta->index, hd_store_revision(f->t.s));
    hd_scope_t def = {"default"};
    const hd_cat_service_t *a1 = hd_catalog_service(f->c, &def, NULL, "n1", "a1");
    hd_cat_views_t v = {0};
    hd_catalog_service_checks(f->c, a1, &v);
    assert_int_equal(v.n, 1);
    assert_int_equal(v.v[0].status, HD_CHECK_CRITICAL);
    assert_string_equal(v.v[0].check->type, "ttl");
    assert_int_equal(v.v[0].check->ttl_us, 30000000);
    hd_cat_views_free(&v);

    t_put_str(f, "heed/state/default/ca", state_json(0, "fine"));
    assert_int_equal(ta->index, hd_store_revision(f->t.s));
    assert_int_equal(tb->index, ib); /* b's readers slept through it */
    const hd_cat_check_t *k = hd_catalog_check(f->c, &def, NULL, "n1", "ca");
    assert_non_null(k);
    assert_int_equal(k->status, HD_CHECK_PASSING);
    hd_scope_t other = {"other"};
    assert_null(hd_catalog_check(f->c, &other, NULL, "n1", "ca"));

    /* A node check (no service) is part of every service's health there. */
    t_put_str(f, "heed/checks/default/disk", "{\"id\":\"disk\",\"name\":\"disk\",\"ttl\":\"1m\"}");
    int64_t r = hd_store_revision(f->t.s);
    assert_int_equal(ta->index, r);
    assert_int_equal(tb->index, r);
    hd_catalog_node_checks(f->c, &def, "n1", 1, &v);
    assert_int_equal(v.n, 2); /* serfHealth, disk (critical: no state yet) */
    assert_string_equal(v.v[1].id, "disk");
    assert_int_equal(hd_cat_views_worst(&v), HD_CHECK_CRITICAL);
    hd_cat_views_free(&v);

    /* Maintenance of the node, then of a service. */
    t_put_str(f, "heed/nodes/n1", "{\"Node\":\"n1\",\"Agent\":true,\"Maintenance\":\"fix\"}");
    assert_int_equal(tb->index, hd_store_revision(f->t.s));
    hd_catalog_node_checks(f->c, &def, "n1", 0, &v);
    assert_string_equal(v.v[0].id, "_node_maintenance");
    assert_string_equal(v.v[0].notes, "fix");
    hd_cat_views_free(&v);
    t_put_str(f, "heed/services/default/n1/b1",
              "{\"ID\":\"b1\",\"Service\":\"b\",\"Maintenance\":\"\"}");
    const hd_cat_service_t *b1 = hd_catalog_service(f->c, &def, NULL, "n1", "b1");
    hd_catalog_service_checks(f->c, b1, &v);
    assert_int_equal(v.n, 1);
    assert_string_equal(v.v[0].id, "_service_maintenance:b1");
    assert_int_equal(v.v[0].status, HD_CHECK_CRITICAL);
    hd_cat_views_free(&v);
    hd_catalog_checks(f->c, &def, NULL, 1, &v);
    assert_int_equal(v.n, 5); /* serfHealth, _node_maintenance, ca, disk, _service_maintenance */
    hd_cat_views_free(&v);

    /* Deleting the definition removes the check from views. */
    assert_int_equal(t_del(&f->t, "heed/checks/default/ca", NULL), 0);
    assert_null(hd_catalog_check(f->c, &def, NULL, "n1", "ca"));
    assert_int_equal(ta->index, hd_store_revision(f->t.s));
}

typedef struct seen_s {
    hd_catalog_t *c;
    int runs;
    int status; /* the check's status when the waiter ran */
    int has;    /* the check was there */
} seen_t;

static void on_wake_read(hd_topic_waiter_t *w, void *arg)
{
    (void)w;
    seen_t *s = arg;
    hd_scope_t def = {"default"};
    const hd_cat_check_t *k = hd_catalog_check(s->c, &def, NULL, "n1", "ck");
    s->runs++;
    s->has = k != NULL;
    s->status = k ? (int)k->status : -1;
}

/* A check's definition and state written in one transaction (under two
 * prefixes) are applied together: a reader woken by it sees both. */
static void test_transaction_applied_whole(void **state)
{
    fix_t *f = *state;
    open_catalog(f);
    put_svc(f, NULL, "s1", "s", 1, NULL);
    seen_t seen = {f->c, 0, 0, 0};
    hd_topic_waiter_t x;
    memset(&x, 0, sizeof(x));
    hd_topic_wait(hd_catalog_topic_name(f->c, NULL, "s"), &x, on_wake_read, &seen);
    const char *def = "{\"id\":\"ck\",\"name\":\"ck\",\"ttl\":\"30s\",\"service\":\"s1\"}";
    const char *st = state_json(0, "ok");
    hd_store_op_t ops[2] = {{HD_STORE_OP_PUT, "heed/checks/default/ck",
                             strlen("heed/checks/default/ck"), def, strlen(def), 0},
                            {HD_STORE_OP_PUT, "heed/state/default/ck",
                             strlen("heed/state/default/ck"), st, strlen(st), 0}};
    hd_store_write_result_t wr;
    assert_int_equal(t_txn(&f->t, NULL, 0, ops, 2, &wr), 0);
    assert_int_equal(seen.runs, 1);
    assert_true(seen.has);
    assert_int_equal(seen.status, HD_CHECK_PASSING); /* not the critical of a check without state */
    assert_int_equal(hd_catalog_topic_name(f->c, NULL, "s")->index, wr.revision);
}

/* A service renamed (the same id, another name) leaves its old name's
 * list and wakes both names' readers. */
static void test_rename(void **state)
{
    fix_t *f = *state;
    open_catalog(f);
    put_svc(f, NULL, "x1", "old", 1, NULL);
    hd_topic_t *told = hd_catalog_topic_name(f->c, NULL, "old");
    woke_t w = {0};
    hd_topic_waiter_t x;
    memset(&x, 0, sizeof(x));
    hd_topic_wait(told, &x, on_wake, &w);
    int64_t r = put_svc(f, NULL, "x1", "new", 1, NULL);
    assert_int_equal(w.n, 1);
    assert_int_equal(told->index, r);
    assert_int_equal(hd_catalog_topic_name(f->c, NULL, "new")->index, r);
    hd_scope_t def = {"default"};
    const hd_cat_service_t **l;
    assert_int_equal(hd_catalog_services(f->c, &def, "old", NULL, &l), 0);
    free(l);
    assert_int_equal(hd_catalog_services(f->c, &def, "new", NULL, &l), 1);
    assert_string_equal(l[0]->s.id, "x1");
    free(l);
    assert_int_equal(hd_catalog_services(f->c, &def, "new", "n2", &l), 0); /* another node */
    free(l);
}

/* Past tombstones_max topics, the ones nobody waits on are dropped; a
 * dropped name's index never goes back (new topics start at the highest
 * index dropped), and a waited-on topic stays. */
static void test_tombstones_bounded(void **state)
{
    fix_t *f = *state;
    open_catalog(f);
    f->c->tombstones_max = 12;
    int64_t r0 = put_svc(f, NULL, "k0", "kept", 1, NULL);
    hd_topic_t *kept = hd_catalog_topic_name(f->c, NULL, "kept");
    woke_t w = {0};
    hd_topic_waiter_t x;
    memset(&x, 0, sizeof(x));
    hd_topic_wait(kept, &x, on_wake, &w);
    int64_t last = 0;
    char id[16], name[16];
    for (int i = 0; i < 8; i++) { /* 6 topics each: past 12, the sweep runs */
        snprintf(id, sizeof(id), "s%d", i);
        snprintf(name, sizeof(name), "n%d", i);
        last = put_svc(f, NULL, id, name, 1, NULL);
    }
    /* 14 topics were made (8 names, "kept", the node's, 4 lists): one sweep
     * left "kept" and what the writes after it made. */
    assert_true(hd_catalog_topics(f->c) < 14);
    int64_t n0 = hd_catalog_topic_name(f->c, NULL, "n0")->index; /* dropped, made again */
    assert_true(n0 > r0 + 1);                                    /* at the floor: later */
    assert_int_equal(w.n, 0);
    assert_int_equal(kept->index, r0); /* still there: waited on */
    assert_int_equal(hd_catalog_topic_name(f->c, NULL, "kept"), kept);
    for (int i = 0; i < 8; i++) { /* never below the change it covers */
        snprintf(name, sizeof(name), "n%d", i);
        assert_true(hd_catalog_topic_name(f->c, NULL, name)->index >= r0 + 1 + i);
    }
    assert_true(hd_catalog_topic_name(f->c, NULL, "unseen")->index <= last);
    hd_topic_unwait(&x);
}

/* A catalog opened again on the same store starts where the store is:
 * indexes are not behind what a client saw before. */
static void test_reopen(void **state)
{
    fix_t *f = *state;
    open_catalog(f);
    int64_t r = put_svc(f, NULL, "x1", "x", 1, NULL);
    hd_catalog_free(f->c);
    f->c = NULL;
    open_catalog(f);
    assert_true(hd_catalog_topic_name(f->c, NULL, "x")->index >= r);
    hd_scope_t def = {"default"};
    assert_non_null(hd_catalog_service(f->c, &def, NULL, "n1", "x1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topics_wake_only_what_changed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deletion_keeps_tombstone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checks_and_health, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transaction_applied_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tombstones_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
