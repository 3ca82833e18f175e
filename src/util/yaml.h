/* yaml — one YAML document read into a small tree whose every node knows
 * its line and column, so that a caller checking the values against its own
 * schema can say exactly where a wrong one is.
 *
 * libfyaml does the parsing (its event API: every event has a position,
 * while its document API keeps none for mappings and sequences). Its own
 * diagnostics are collected, never printed. This module knows no schema:
 * it does not decide what a scalar means. It refuses what a config reader
 * should never have to handle: aliases (no "billion laughs"), keys that are
 * not scalars, more than one document, nesting deeper than
 * HD_YAML_MAX_DEPTH. Duplicate keys are left to the caller, who knows the
 * key path to name.
 *
 * The tree is one allocation for the caller: its nodes, item arrays and
 * texts are cut from a few large chunks, and hd_yaml_free releases them all
 * at once. Read a node's text only when it is a scalar, its items only
 * when it is not (they share their place). */
#ifndef HD_YAML_H
#define HD_YAML_H

#include <stddef.h>

#define HD_YAML_MAX_DEPTH 64

typedef enum hd_yaml_type_e {
    HD_YAML_SCALAR,
    HD_YAML_MAP,
    HD_YAML_SEQ,
} hd_yaml_type_t;

typedef struct hd_yaml_node_s hd_yaml_node_t;
struct hd_yaml_node_s {
    hd_yaml_type_t type;
    int line;   /* 1-based */
    int column; /* 1-based */
    int plain;  /* scalars: written without quotes */
    union {
        char *text;             /* scalars: the value after YAML unescaping, NUL-terminated */
        hd_yaml_node_t **items; /* sequences: n items; mappings: key 2i, value 2i+1 */
    };
    union {
        size_t len; /* scalars: bytes in text (text may hold a NUL byte) */
        size_t n;   /* items in a sequence, pairs in a mapping */
    };
};

/* Parses len bytes of YAML. On success returns 0 with *root the document's
 * top node, or NULL for an empty document (nothing but comments). On error
 * returns -1 with *line and *column (1-based) and a message in err. */
int hd_yaml_parse(const char *s, size_t len, hd_yaml_node_t **root, int *line, int *column,
                  char *err, size_t errlen);
/* Frees a whole tree: n is the root that hd_yaml_parse gave (or NULL). */
void hd_yaml_free(hd_yaml_node_t *n);
/* A plain scalar that YAML 1.2 reads as null: empty, "~", "null". */
int hd_yaml_is_null(const hd_yaml_node_t *n);

#endif
