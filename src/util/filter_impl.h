/* filter_impl — the parsed tree that filter.c builds and filter_eval.c
 * walks; nothing outside these two files includes it. */
#ifndef HD_FILTER_IMPL_H
#define HD_FILTER_IMPL_H

#include "util/filter.h"

#include <regex.h>

enum hd_filter_node_type { HD_FN_OR, HD_FN_AND, HD_FN_NOT, HD_FN_MATCH };

/* The comparisons: each negated one is its positive one + 1, and odd. */
enum hd_filter_op {
    HD_FOP_EQ,
    HD_FOP_NE,
    HD_FOP_NOT_EMPTY, /* positive: "has something" */
    HD_FOP_EMPTY,
    HD_FOP_IN,
    HD_FOP_NOT_IN,
    HD_FOP_CONTAINS,
    HD_FOP_NOT_CONTAINS,
    HD_FOP_MATCHES,
    HD_FOP_NOT_MATCHES,
};

/* 1 for the negated comparisons (!=, is empty, not ...): the ones that hold
 * for a member that is absent; and the positive one of either. */
#define HD_FOP_NEGATED(op)  ((op)&1)
#define HD_FOP_POSITIVE(op) ((op) & ~1)

/* One part of a selector: a name, a number or a map key; NUL-terminated
 * inside the tree's text. */
typedef struct hd_filter_seg_s {
    const char *s;
    size_t len;
} hd_filter_seg_t;

typedef struct hd_filter_node_s {
    int type;      /* enum hd_filter_node_type */
    int kid, next; /* first child and next sibling (indexes into nodes), -1: none */
    /* HD_FN_MATCH only: */
    int op;   /* enum hd_filter_op */
    int seg0; /* the selector: segs[seg0 .. seg0 + nseg) */
    int nseg;
    const char *val; /* the value as written (decoded); NULL for is (not) empty */
    size_t vlen;
    int has_num; /* val reads as a number: num */
    double num;
    int has_bool; /* val reads as a boolean (Go's ParseBool): bval */
    int bval;
    int re;       /* index into re for matches, else -1 */
    unsigned col; /* column of the comparison, for evaluation errors */
} hd_filter_node_t;

struct hd_filter_s {
    hd_filter_node_t *nodes;
    int nnodes, capnodes;
    hd_filter_seg_t *segs;
    int nsegs, capsegs;
    regex_t re[HD_FILTER_MAX_REGEX];
    int nre;
    char *text; /* decoded names and values, each NUL-terminated */
    size_t used, size;
    int root;
};

/* The comparisons as written, by enum hd_filter_op; the kinds as a
 * message names them ("a number"), by hd_filter_kind_t. */
extern const char *const hd_filter_op_text[];
extern const char *const hd_filter_kind_text[];

/* Appends the selector of a comparison as it would be written
 * (Service.Meta["a b"]). */
void hd_filter_selector_text(const hd_filter_t *f, const hd_filter_node_t *n, hd_buf_t *b);

#endif
