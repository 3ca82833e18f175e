/* test_yaml — the tree reader: scalars and lists of every size class the
 * arena switches on (the first 1 KiB chunk, doubled chunks up to 64 KiB,
 * and values given a chunk of their own past 16 KiB), read back whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "util/yaml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The sizes around every boundary of the arena: the first chunk (1 KiB),
 * the doubled chunks (2, 4, 8, 16, 32, 64 KiB), the own-chunk threshold
 * (16 KiB) and the largest chunk. */
static const size_t SIZES[] = {1,     1000,  1023,  1024,  1025,  2047,  2048,
                               2049,  3000,  4000,  4096,  8191,  8192,  16383,
                               16384, 16385, 32768, 65535, 65536, 65537, 70000};
#define NSIZES (sizeof(SIZES) / sizeof(SIZES[0]))

/* A value of n bytes that says where it came from: its last byte differs
 * from the others, so a value cut short or overwritten shows. */
static char *value(size_t n, char fill)
{
    char *v = malloc(n + 1);
    memset(v, fill, n);
    v[n - 1] = 'Z';
    v[n] = '\0';
    return v;
}

static hd_yaml_node_t *parse_ok(const char *doc)
{
    hd_yaml_node_t *root = NULL;
    int line, column;
    char err[256];
    if (hd_yaml_parse(doc, strlen(doc), &root, &line, &column, err, sizeof(err)) != 0)
        fail_msg("refused at %d:%d: %s", line, column, err);
    assert_non_null(root);
    return root;
}

/* One long value after a few small ones, for each size: the small ones fill
 * part of the first chunk, so the long one needs a new chunk. */
static void test_long_scalar_after_small_ones(void **state)
{
    (void)state;
    for (size_t i = 0; i < NSIZES; i++) {
        char *v = value(SIZES[i], 'a');
        size_t cap = SIZES[i] + 256;
        char *doc = malloc(cap);
        snprintf(doc, cap, "a: 1\nb: two\nc: [x, y, z]\nlong: %s\nafter: end\n", v);
        hd_yaml_node_t *root = parse_ok(doc);
        assert_int_equal(root->type, HD_YAML_MAP);
        assert_int_equal(root->n, 5);
        hd_yaml_node_t *got = root->items[7];
        assert_int_equal(got->type, HD_YAML_SCALAR);
        assert_int_equal(got->len, SIZES[i]);
        assert_memory_equal(got->text, v, SIZES[i] + 1);
        assert_string_equal(root->items[9]->text, "end");
        hd_yaml_free(root);
        free(doc);
        free(v);
    }
}

/* Every size in one document, in rising and then falling order, each
 * followed by a small node: the chunks grow while long values arrive. */
static void test_every_size_in_one_document(void **state)
{
    (void)state;
    size_t cap = 4096, len = 0;
    for (size_t i = 0; i < NSIZES; i++)
        cap += 2 * (SIZES[i] + 64);
    char *doc = malloc(cap);
    char *vals[2 * NSIZES];
    for (size_t k = 0; k < 2 * NSIZES; k++) {
        size_t i = k < NSIZES ? k : 2 * NSIZES - 1 - k;
        vals[k] = value(SIZES[i], (char)('a' + k % 26));
        len += (size_t)snprintf(doc + len, cap - len, "- [%s, n%zu]\n", vals[k], k);
    }
    hd_yaml_node_t *root = parse_ok(doc);
    assert_int_equal(root->type, HD_YAML_SEQ);
    assert_int_equal(root->n, 2 * NSIZES);
    for (size_t k = 0; k < 2 * NSIZES; k++) {
        hd_yaml_node_t *pair = root->items[k];
        assert_int_equal(pair->n, 2);
        assert_int_equal(pair->items[0]->len, strlen(vals[k]));
        assert_memory_equal(pair->items[0]->text, vals[k], strlen(vals[k]) + 1);
        char small[32];
        snprintf(small, sizeof(small), "n%zu", k);
        assert_string_equal(pair->items[1]->text, small);
        free(vals[k]);
    }
    hd_yaml_free(root);
    free(doc);
}

/* Lists whose item arrays (8 bytes an item) cross the same boundaries. */
static void test_long_lists(void **state)
{
    (void)state;
    static const size_t counts[] = {127, 128, 129, 255, 256, 500, 1023, 2047, 2048, 2049, 9000};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        size_t cap = 64 + counts[i] * 8, len = 0;
        char *doc = malloc(cap);
        len += (size_t)snprintf(doc + len, cap - len, "k: v\nlist: [");
        for (size_t j = 0; j < counts[i]; j++)
            len += (size_t)snprintf(doc + len, cap - len, "%s%zu", j ? "," : "", j);
        snprintf(doc + len, cap - len, "]\n");
        hd_yaml_node_t *root = parse_ok(doc);
        hd_yaml_node_t *list = root->items[3];
        assert_int_equal(list->type, HD_YAML_SEQ);
        assert_int_equal(list->n, counts[i]);
        for (size_t j = 0; j < counts[i]; j++) {
            char want[32];
            snprintf(want, sizeof(want), "%zu", j);
            assert_string_equal(list->items[j]->text, want);
        }
        hd_yaml_free(root);
        free(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_scalar_after_small_ones),
        cmocka_unit_test(test_every_size_in_one_document),
        cmocka_unit_test(test_long_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
