/* filter_eval — evaluating a parsed filter against one row (see filter.h),
 * and the accessor for jansson rows.
 *
 * The rules are Consul's (go-bexpr's, as Consul's API pages describe them):
 * - A selector walks the row one part at a time, asking the accessor for
 *   the member of each map. Through a list of maps ("Checks.Status") the
 *   rest of the comparison, negation included, is tried on every item and
 *   holds when it holds for any: `Checks.Status != passing` is true when
 *   some check is not passing.
 * - A member that is absent makes ==, is not empty, in, contains and
 *   matches false, and their negations true.
 * - At the end of the selector: a string compares bytes (==), holds the
 *   value as a substring (in, contains), matches the pattern, or is empty;
 *   a number or a boolean compares with the value read as one; a list
 *   holds the value as an item, a map as a key, and either may be empty. */
#include "util/filter_impl.h"

#include <stdio.h>
#include <string.h>

/* Lists nested in lists that a selector may walk through, before the row
 * is taken for a mistake (Consul's rows have none). */
#define MAX_LIST_NESTING 8

typedef struct eval_s {
    const hd_filter_t *f;
    const hd_filter_access_t *a;
    char *err;
    size_t errlen;
} eval_t;

/* Writes an evaluation error about comparison n into err: the value its
 * first nseg parts reached (an item of that, with item) is what why says. */
static int fail(eval_t *e, const hd_filter_node_t *n, int nseg, int item, const char *why)
{
    hd_buf_t sel = {0};
    hd_filter_node_t part = *n;
    part.nseg = nseg;
    hd_filter_selector_text(e->f, &part, &sel);
    snprintf(e->err, e->errlen, HD_FILTER_ERR_EVAL "%s%s %s (the comparison at column %u)",
             item ? "an item of " : "", nseg ? sel.data : "the row", why, n->col);
    hd_buf_free(&sel);
    return -1;
}

static int fail_kind(eval_t *e, const hd_filter_node_t *n, const hd_filter_value_t *v)
{
    char why[160];
    snprintf(why, sizeof(why), "is %s: '%s' does not apply to it", hd_filter_kind_text[v->kind],
             hd_filter_op_text[n->op]);
    return fail(e, n, n->nseg, 0, why);
}

/* 1 when item v equals the comparison's value, read as v's kind. */
static int item_equals(const hd_filter_node_t *n, const hd_filter_value_t *v)
{
    switch (v->kind) {
    case HD_FILTER_STRING:
        return v->len == n->vlen && (n->vlen == 0 || memcmp(v->s, n->val, n->vlen) == 0);
    case HD_FILTER_NUMBER:
        return n->has_num && n->num == v->num;
    case HD_FILTER_BOOL:
        return n->has_bool && n->bval == v->b;
    default:
        return 0;
    }
}

/* The positive comparison (==, is not empty, in/contains, matches) on the
 * value v the whole selector reached: 1, 0, or -1 with err set. */
static int leaf(eval_t *e, const hd_filter_node_t *n, const hd_filter_value_t *v)
{
    int op = HD_FOP_POSITIVE(n->op);
    switch (v->kind) {
    case HD_FILTER_STRING:
        if (op == HD_FOP_EQ) return item_equals(n, v);
        if (op == HD_FOP_NOT_EMPTY) return v->len > 0;
        if (op == HD_FOP_IN || op == HD_FOP_CONTAINS)
            return n->vlen == 0 || (v->len >= n->vlen && memmem(v->s, v->len, n->val, n->vlen));
        {
            /* REG_STARTEND: the string's own length, no NUL needed */
            regmatch_t m = {.rm_so = 0, .rm_eo = (regoff_t)v->len};
            return regexec(&e->f->re[n->re], v->len ? v->s : "", 1, &m, REG_STARTEND) == 0;
        }
    case HD_FILTER_NUMBER:
    case HD_FILTER_BOOL:
        if (op != HD_FOP_EQ) return fail_kind(e, n, v);
        if (v->kind == HD_FILTER_NUMBER && !n->has_num) {
            char why[HD_FILTER_MAX_LEN / 64];
            snprintf(why, sizeof(why), "is a number, and \"%s\" is not one", n->val);
            return fail(e, n, n->nseg, 0, why);
        }
        if (v->kind == HD_FILTER_BOOL && !n->has_bool) {
            char why[HD_FILTER_MAX_LEN / 64];
            snprintf(why, sizeof(why), "is a boolean, and \"%s\" is not one (true or false)",
                     n->val);
            return fail(e, n, n->nseg, 0, why);
        }
        return item_equals(n, v);
    case HD_FILTER_LIST:
    case HD_FILTER_MAP:
        if (op == HD_FOP_NOT_EMPTY) return v->n > 0;
        if (op != HD_FOP_IN && op != HD_FOP_CONTAINS) return fail_kind(e, n, v);
        if (v->kind == HD_FILTER_MAP) {
            hd_filter_value_t m = {0};
            e->a->member(e->a->arg, v, n->val, &m);
            return m.kind != HD_FILTER_ABSENT;
        }
        for (size_t i = 0; i < v->n; i++) {
            hd_filter_value_t item = {0};
            e->a->item(e->a->arg, v, i, &item);
            if (item_equals(n, &item)) return 1;
        }
        return 0;
    default:
        return 0; /* absent: handled by the caller */
    }
}

/* The comparison n on v, the value its first `depth` parts reached. */
static int walk(eval_t *e, const hd_filter_node_t *n, const hd_filter_value_t *v, int depth,
                int lists, int item)
{
    if (v->kind == HD_FILTER_ABSENT) return HD_FOP_NEGATED(n->op);
    if (depth == n->nseg) {
        int r = leaf(e, n, v);
        return r < 0 ? r : HD_FOP_NEGATED(n->op) ? !r : r;
    }
    if (v->kind == HD_FILTER_MAP) {
        hd_filter_value_t m = {0};
        e->a->member(e->a->arg, v, e->f->segs[n->seg0 + depth].s, &m);
        return walk(e, n, &m, depth + 1, lists, 0);
    }
    if (v->kind == HD_FILTER_LIST) {
        if (lists == MAX_LIST_NESTING) return fail(e, n, depth, item, "nests lists too deep");
        for (size_t i = 0; i < v->n; i++) {
            hd_filter_value_t it = {0};
            e->a->item(e->a->arg, v, i, &it);
            int r = walk(e, n, &it, depth, lists + 1, 1);
            if (r != 0) return r;
        }
        return 0;
    }
    char why[HD_FILTER_MAX_LEN / 64 + 64];
    const hd_filter_seg_t *g = &e->f->segs[n->seg0 + depth];
    snprintf(why, sizeof(why), "is %s: it has no member \"%.*s\"", hd_filter_kind_text[v->kind],
             (int)(g->len > 64 ? 64 : g->len), g->s);
    return fail(e, n, depth, item, why);
}

static int eval_node(eval_t *e, int i, const hd_filter_value_t *row)
{
    const hd_filter_node_t *n = &e->f->nodes[i];
    int r;
    switch (n->type) {
    case HD_FN_OR:
        for (int k = n->kid; k >= 0; k = e->f->nodes[k].next)
            if ((r = eval_node(e, k, row)) != 0) return r;
        return 0;
    case HD_FN_AND:
        for (int k = n->kid; k >= 0; k = e->f->nodes[k].next)
            if ((r = eval_node(e, k, row)) != 1) return r;
        return 1;
    case HD_FN_NOT:
        r = eval_node(e, n->kid, row);
        return r < 0 ? r : !r;
    default:
        return walk(e, n, row, 0, 0, 0);
    }
}

int hd_filter_eval(const hd_filter_t *f, const hd_filter_access_t *access,
                   const hd_filter_value_t *row, char *err, size_t errlen)
{
    eval_t e = {f, access, err, errlen};
    return eval_node(&e, f->root, row);
}

/* --- jansson rows ------------------------------------------------------ */

static void json_value(const json_t *j, hd_filter_value_t *out)
{
    switch (j ? json_typeof(j) : JSON_NULL) {
    case JSON_OBJECT:
        out->kind = HD_FILTER_MAP;
        out->n = json_object_size(j);
        out->ref = j;
        break;
    case JSON_ARRAY:
        out->kind = HD_FILTER_LIST;
        out->n = json_array_size(j);
        out->ref = j;
        break;
    case JSON_STRING:
        out->kind = HD_FILTER_STRING;
        out->s = json_string_value(j);
        out->len = json_string_length(j);
        break;
    case JSON_INTEGER:
        out->kind = HD_FILTER_NUMBER;
        out->num = (double)json_integer_value(j);
        break;
    case JSON_REAL:
        out->kind = HD_FILTER_NUMBER;
        out->num = json_real_value(j);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        out->kind = HD_FILTER_BOOL;
        out->b = json_is_true(j);
        break;
    default:
        out->kind = HD_FILTER_ABSENT;
    }
}

static void json_member(void *arg, const hd_filter_value_t *in, const char *name,
                        hd_filter_value_t *out)
{
    (void)arg;
    json_value(json_object_get(in->ref, name), out);
}

static void json_item(void *arg, const hd_filter_value_t *in, size_t i, hd_filter_value_t *out)
{
    (void)arg;
    json_value(json_array_get(in->ref, i), out);
}

int hd_filter_eval_json(const hd_filter_t *f, const json_t *row, char *err, size_t errlen)
{
    static const hd_filter_access_t access = {json_member, json_item, NULL};
    hd_filter_value_t v = {0};
    json_value(row, &v);
    return hd_filter_eval(f, &access, &v, err, errlen);
}
