/* test_api_scope — which tenant a request works in, by its token and the
 * namespace it names: the table of api/scope.h, and the errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "check.h"
#include "api/scope.h"

#include <string.h>

/* The scope's tenant as text ("*" for every tenant), or the status. */
static const char *scope_of(const char *ns, int kind, const char *token_tenant, int *status)
{
    static char err[300];
    hd_scope_t s = {"unset"};
    err[0] = '\0';
    *status = hd_scope_parse(ns, kind, token_tenant, &s, err, sizeof(err));
    if (*status) {
        assert_true(err[0] != '\0');
        return err;
    }
    return s.tenant ? s.tenant : "*";
}

static void test_the_table(void **state)
{
    (void)state;
    static const struct {
        const char *ns, *token;
        int kind;
        const char *want; /* the tenant, "*", or the start of the error */
        int status;
    } t[] = {
        /* a token not limited to a tenant (management, or none at all) */
        {NULL, NULL, HD_SCOPE_ONE, "default", 0},
        {"", NULL, HD_SCOPE_LIST, "default", 0},
        {"team-a", NULL, HD_SCOPE_ONE, "team-a", 0},
        {"default", NULL, HD_SCOPE_ONE, "default", 0},
        {"*", NULL, HD_SCOPE_LIST, "*", 0},
        {"*", NULL, HD_SCOPE_ONE, "ns=* names every tenant", 400},
        /* a tenant's token */
        {NULL, "team-a", HD_SCOPE_ONE, "team-a", 0},
        {"team-a", "team-a", HD_SCOPE_ONE, "team-a", 0},
        {"*", "team-a", HD_SCOPE_LIST, "team-a", 0},
        {"team-b", "team-a", HD_SCOPE_ONE, "this token works in tenant 'team-a' only", 403},
        {"team-b", "team-a", HD_SCOPE_LIST, "this token works in tenant 'team-a' only", 403},
        {"default", "team-a", HD_SCOPE_LIST, "this token works in tenant 'team-a' only", 403},
        {"*", "team-a", HD_SCOPE_ONE, "ns=* names every tenant", 400},
        /* a token of the default tenant is limited to it */
        {NULL, "default", HD_SCOPE_ONE, "default", 0},
        {"team-a", "default", HD_SCOPE_ONE, "this token works in tenant 'default' only", 403},
        /* names that are not tenant names */
        {"a/b", NULL, HD_SCOPE_ONE, "ns: expected a tenant name", 400},
        {"a b", "team-a", HD_SCOPE_LIST, "ns: expected a tenant name", 400},
        {"**", NULL, HD_SCOPE_LIST, "ns: expected a tenant name", 400},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        int status;
        const char *got = scope_of(t[i].ns, t[i].kind, t[i].token, &status);
        if (status != t[i].status || strncmp(got, t[i].want, strlen(t[i].want)) != 0)
            fail_msg("ns=%s token=%s kind=%d: got %d '%s', want %d '%s'",
                     t[i].ns ? t[i].ns : "(none)", t[i].token ? t[i].token : "(none)", t[i].kind,
                     status, got, t[i].status, t[i].want);
    }
}

static void test_errors_quote_little(void **state)
{
    (void)state;
    /* A long or odd value is quoted in part, never whole. */
    char ns[2000];
    memset(ns, 'x', sizeof(ns) - 1);
    ns[sizeof(ns) - 1] = '\0';
    ns[5] = '/';
    int status;
    const char *err = scope_of(ns, HD_SCOPE_LIST, NULL, &status);
    assert_int_equal(status, 400);
    assert_true(strlen(err) < 300);
    assert_contains(err, "or *");
    err = scope_of(ns, HD_SCOPE_ONE, NULL, &status);
    assert_true(strstr(err, "or *") == NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_the_table),
        cmocka_unit_test(test_errors_quote_little),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
