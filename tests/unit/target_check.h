/* target_check — the two assertions every target-grammar test uses:
 * parse_ok (accepted, url kept as given) and parse_bad (refused with
 * exactly this message, and nothing left to free). */
#ifndef HD_TEST_TARGET_CHECK_H
#define HD_TEST_TARGET_CHECK_H

#include "probe/target.h"

static void parse_ok(const char *s, hd_target_t *t)
{
    char err[512] = "";
    if (hd_target_parse(s, t, err, sizeof(err)) != 0) fail_msg("'%s' refused: %s", s, err);
    assert_string_equal(t->url, s);
}

/* Expects s to be refused with exactly the message want. */
static void parse_bad(const char *s, const char *want)
{
    hd_target_t t;
    char err[512] = "";
    if (hd_target_parse(s, &t, err, sizeof(err)) == 0) {
        hd_target_free(&t);
        fail_msg("'%s' accepted, expected '%s'", s, want);
    }
    assert_string_equal(err, want);
    /* A failed parse leaves nothing to free. */
    assert_null(t.url);
    assert_null(t.display);
    assert_null(t.host);
    assert_null(t.argv);
    assert_null(t.dns_type);
    assert_null(t.dns_server);
    assert_null(t.dns_expect);
}

#endif
