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
 * key path to name. */
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
    int line;               /* 1-based */
    int column;             /* 1-based */
    char *text;             /* scalars: the value after YAML unescaping, NUL-terminated */
    size_t len;             /* scalars: bytes in text (text may hold a NUL byte) */
    int plain;              /* scalars: written without quotes */
    hd_yaml_node_t **items; /* sequences: n items; mappings: key 2i, value 2i+1 */
    size_t n;               /* items in a sequence, pairs in a mapping */
    size_t cap;
};

/* Parses len bytes of YAML. On success returns 0 with *root the document's
 * top node, or NULL for an empty document (nothing but comments). On error
 * returns -1 with *line and *column (1-based) and a message in err. */
int hd_yaml_parse(const char *s, size_t len, hd_yaml_node_t **root, int *line, int *column,
                  char *err, size_t errlen);
/* Frees a tree from hd_yaml_parse. */
void hd_yaml_free(hd_yaml_node_t *n);
/* A plain scalar that YAML 1.2 reads as null: empty, "~", "null". */
int hd_yaml_is_null(const hd_yaml_node_t *n);

#endif
