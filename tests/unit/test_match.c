/* test_match — a `match:` selects checks as docs/alerts.md says: every list
 * given must match, one entry of a list is enough, services match by id or
 * name, tags by the check's or its service's tags, tenant exactly, and an
 * empty match takes every check. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/match.h"

#include <string.h>

static char *web_tags[] = {"web", "prod", NULL};
static char *svc_tags[] = {"frontend", NULL};

static hd_check_def_t def(const char *id, const char *service_id, const char *tenant, char **tags)
{
    hd_check_def_t d;
    memset(&d, 0, sizeof(d));
    d.id = (char *)id;
    d.name = (char *)id;
    d.service_id = (char *)service_id;
    d.tenant = (char *)tenant;
    d.tags = tags;
    return d;
}

static void empty_match_takes_every_check(void **state)
{
    (void)state;
    hd_match_t m;
    memset(&m, 0, sizeof(m));
    hd_check_def_t d = def("db", NULL, NULL, NULL);
    hd_match_subject_t s = {&d, NULL, NULL};
    assert_true(hd_match_is_all(&m));
    assert_int_equal(hd_match(&m, &s), 1);
}

static void lists_are_and_entries_are_or(void **state)
{
    (void)state;
    char *checks[] = {"db", "web", NULL};
    char *tags[] = {"prod", NULL};
    hd_match_t m = {checks, NULL, tags, NULL};
    hd_check_def_t web = def("web", NULL, NULL, web_tags);
    hd_check_def_t db = def("db", NULL, NULL, NULL);
    hd_check_def_t cache = def("cache", NULL, NULL, web_tags);
    hd_match_subject_t s1 = {&web, NULL, NULL}, s2 = {&db, NULL, NULL}, s3 = {&cache, NULL, NULL};
    assert_false(hd_match_is_all(&m));
    assert_int_equal(hd_match(&m, &s1), 1); /* in checks, and tagged prod */
    assert_int_equal(hd_match(&m, &s2), 0); /* in checks, but no tag */
    assert_int_equal(hd_match(&m, &s3), 0); /* tagged, but not in checks */
}

static void services_by_id_or_name_and_their_tags(void **state)
{
    (void)state;
    char *services[] = {"frontend-svc", NULL};
    hd_match_t by_service = {NULL, services, NULL, NULL};
    hd_check_def_t c = def("service:web1", "web1", NULL, NULL);
    hd_match_subject_t named = {&c, "frontend-svc", svc_tags};
    hd_match_subject_t other = {&c, "api", NULL};
    assert_int_equal(hd_match(&by_service, &named), 1); /* by name */
    assert_int_equal(hd_match(&by_service, &other), 0);
    char *ids[] = {"web1", NULL};
    hd_match_t by_id = {NULL, ids, NULL, NULL};
    assert_int_equal(hd_match(&by_id, &other), 1);

    char *tags[] = {"frontend", NULL};
    hd_match_t by_tag = {NULL, NULL, tags, NULL};
    assert_int_equal(hd_match(&by_tag, &named), 1); /* the service's tag counts */
    assert_int_equal(hd_match(&by_tag, &other), 0);
}

static void tenant_is_exact(void **state)
{
    (void)state;
    hd_match_t m = {NULL, NULL, NULL, "acme"};
    hd_check_def_t mine = def("db", NULL, "acme", NULL);
    hd_check_def_t theirs = def("db", NULL, "other", NULL);
    hd_check_def_t none = def("db", NULL, NULL, NULL);
    hd_match_subject_t s1 = {&mine, NULL, NULL}, s2 = {&theirs, NULL, NULL},
                       s3 = {&none, NULL, NULL};
    assert_int_equal(hd_match(&m, &s1), 1);
    assert_int_equal(hd_match(&m, &s2), 0);
    assert_int_equal(hd_match(&m, &s3), 0);
}

static void copy_is_deep(void **state)
{
    (void)state;
    char *tags[] = {"web", NULL};
    hd_match_t m = {NULL, NULL, tags, "acme"}, c;
    hd_match_copy(&c, &m);
    assert_ptr_not_equal(c.tags, m.tags);
    assert_string_equal(c.tags[0], "web");
    assert_null(c.tags[1]);
    assert_null(c.checks);
    assert_string_equal(c.tenant, "acme");
    hd_match_free(&c);
    assert_null(c.tags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_match_takes_every_check),
        cmocka_unit_test(lists_are_and_entries_are_or),
        cmocka_unit_test(services_by_id_or_name_and_their_tags),
        cmocka_unit_test(tenant_is_exact),
        cmocka_unit_test(copy_is_deep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
