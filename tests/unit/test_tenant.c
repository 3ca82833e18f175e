/* test_tenant — tenant names, the qualified keys checks are kept under,
 * and the one rule of reach (hd_scope_has). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "agent/tenant.h"

#include <string.h>

static void test_names(void **state)
{
    (void)state;
    assert_string_equal(hd_tenant_name(NULL), "default");
    assert_string_equal(hd_tenant_name("team-a"), "team-a");
    assert_true(hd_tenant_same(NULL, "default"));
    assert_true(hd_tenant_same("default", NULL));
    assert_true(hd_tenant_same(NULL, NULL));
    assert_true(hd_tenant_same("team-a", "team-a"));
    assert_false(hd_tenant_same("team-a", "team-b"));
    assert_false(hd_tenant_same("team-a", NULL));
    assert_false(hd_tenant_same("Team-a", "team-a"));
}

static void test_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "team-a", "default", "x.y_z:1@2", NULL};
    static const char *const bad[] = {"", "*", "a/b", "a b", "é", "a\nb", "a%2Fb", NULL};
    for (const char *const *g = good; *g; g++)
        assert_true(hd_tenant_valid(*g, strlen(*g)));
    for (const char *const *b = bad; *b; b++)
        if (hd_tenant_valid(*b, strlen(*b))) fail_msg("'%s' accepted", *b);
    char longest[HD_TENANT_MAX + 2];
    memset(longest, 'a', sizeof(longest));
    assert_true(hd_tenant_valid(longest, HD_TENANT_MAX));
    assert_false(hd_tenant_valid(longest, HD_TENANT_MAX + 1));
    assert_false(hd_tenant_valid(NULL, 0));
    /* A NUL inside is not a name. */
    assert_false(hd_tenant_valid("a\0b", 3));
}

static void test_scope(void **state)
{
    (void)state;
    hd_scope_t a = {"team-a"}, dflt = {"default"}, all = {NULL};
    assert_true(hd_scope_has(&a, "team-a"));
    assert_false(hd_scope_has(&a, "team-b"));
    assert_false(hd_scope_has(&a, NULL));
    assert_true(hd_scope_has(&dflt, NULL));
    assert_false(hd_scope_has(&dflt, "team-a"));
    assert_true(hd_scope_has(&all, NULL));
    assert_true(hd_scope_has(&all, "team-b"));
}

static void test_keys(void **state)
{
    (void)state;
    char k[HD_TENANT_KEY_MAX];
    assert_int_equal(hd_tenant_key(k, sizeof(k), NULL, "web"), 11);
    assert_string_equal(k, "default/web");
    assert_int_equal(hd_tenant_key(k, sizeof(k), "team-a", "web"), 10);
    assert_string_equal(k, "team-a/web");
    char tiny[8];
    assert_int_equal(hd_tenant_key(tiny, sizeof(tiny), "team-a", "web"), -1);
    /* The longest tenant and id fit. */
    char t[HD_TENANT_MAX + 1], id[HD_ID_MAX + 1];
    memset(t, 't', HD_TENANT_MAX);
    t[HD_TENANT_MAX] = '\0';
    memset(id, 'i', HD_ID_MAX);
    id[HD_ID_MAX] = '\0';
    assert_int_equal(hd_tenant_key(k, sizeof(k), t, id), HD_TENANT_MAX + 1 + HD_ID_MAX);

    size_t tl, il;
    const char *ip;
    assert_int_equal(hd_tenant_split("team-a/web", 10, &tl, &ip, &il), 0);
    assert_int_equal(tl, 6);
    assert_int_equal(il, 3);
    assert_memory_equal(ip, "web", 3);
    /* Only the first '/' splits: ids have none, but the rest is the id. */
    assert_int_equal(hd_tenant_split("a/b/c", 5, &tl, &ip, &il), 0);
    assert_int_equal(tl, 1);
    assert_int_equal(il, 3);
    /* The layout before tenants, and empty parts. */
    assert_int_equal(hd_tenant_split("web", 3, &tl, &ip, &il), -1);
    assert_int_equal(hd_tenant_split("/web", 4, &tl, &ip, &il), -1);
    assert_int_equal(hd_tenant_split("team-a/", 7, &tl, &ip, &il), -1);
    assert_int_equal(hd_tenant_split("", 0, &tl, &ip, &il), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_scope),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
