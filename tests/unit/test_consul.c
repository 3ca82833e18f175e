/* test_consul — Consul's decoding rule: a field is found whatever its
 * case, the exact spelling first, and never in something not an object. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "api/consul.h"

static void test_field_any_case(void **state)
{
    (void)state;
    json_t *o = json_loads("{\"Interval\":\"10s\",\"ttl\":\"5s\",\"LockDelay\":15,"
                           "\"lockdelay\":1}",
                           0, NULL);
    assert_non_null(o);
    assert_string_equal(json_string_value(hd_consul_field(o, "interval")), "10s");
    assert_string_equal(json_string_value(hd_consul_field(o, "Interval")), "10s");
    assert_string_equal(json_string_value(hd_consul_field(o, "TTL")), "5s");
    /* Two spellings of one field: the exact one wins. */
    assert_int_equal(json_integer_value(hd_consul_field(o, "LockDelay")), 15);
    assert_int_equal(json_integer_value(hd_consul_field(o, "lockdelay")), 1);
    assert_null(hd_consul_field(o, "Timeout"));
    json_t *a = json_array();
    assert_null(hd_consul_field(a, "Interval"));
    assert_null(hd_consul_field(NULL, "Interval"));
    json_decref(a);
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_any_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
