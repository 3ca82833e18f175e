/* filter — Consul's filter expressions (the ?filter= of its list
 * endpoints): parsed once into a small tree, then evaluated against each
 * row of a reply.
 *
 * The language, as Consul documents it (docs/filtering.md has the user's
 * side and what differs from Consul):
 *
 *     Service.Meta.env == "qa" and not ("canary" in Service.Tags)
 *     Checks.Status != passing or Node.Meta["rack id"] is empty
 *     Service.Address matches `^10\.`
 *
 * Comparisons: `==`, `!=`, `is empty`, `is not empty`, `in`, `not in`,
 * `contains`, `not contains`, `matches`, `not matches`; joined by `and`,
 * `or`, `not` and parentheses, with the usual precedence (not, and, or).
 * Values are strings ("..." with Go's escapes, `...` raw), bare words and
 * numbers; a value is text until the field it meets says it is a number or
 * a boolean (Go's strconv.ParseBool forms).
 *
 * Pure: no I/O, no HTTP, no knowledge of any endpoint. The rows are the
 * caller's: an accessor (hd_filter_access_t) answers "what is member X of
 * this map" and "what is item i of this list", so the catalog, health,
 * agent and KV endpoints describe their rows without building JSON; an
 * adapter does the same for a jansson row (hd_filter_eval_json). Bounded:
 * a hostile expression of any length is refused in time linear in its
 * length, with recursion at most HD_FILTER_MAX_DEPTH deep, and evaluation
 * touches each comparison once per row item it reaches.
 *
 * An endpoint uses it so (parse once per request, evaluate per row):
 *
 *     static const hd_filter_field_t FIELDS[] = {
 *         {"Service.Service", HD_FILTER_STRING}, {"Service.Tags", HD_FILTER_LIST},
 *         {"Service.Meta", HD_FILTER_MAP}, {"Service.Meta.*", HD_FILTER_STRING}, ...};
 *     hd_filter_t *f = NULL;
 *     if (expr && *expr &&
 *         hd_filter_parse(expr, strlen(expr), FIELDS, n, &f, err, sizeof(err)) < 0)
 *         reply hd_consul_error(r, 400, "%s", err) and stop;  (Consul's status, text)
 *     for each row:
 *         hd_filter_value_t v = {.kind = HD_FILTER_MAP, .ref = row, .tag = MY_ROW};
 *         int m = f ? hd_filter_eval(f, &my_access, &v, err, sizeof(err)) : 1;
 *         if (m < 0) reply hd_consul_error(r, 400, "%s", err) and stop;
 *                        (only when the accessor's kinds differ from FIELDS')
 *         if (m == 1) add the row;
 *     hd_filter_free(f);
 *
 * where my_access.member answers MY_ROW's "Service" with a MAP whose tag
 * says "a service", that one's "Tags" with a LIST, and so on. */
#ifndef HD_FILTER_H
#define HD_FILTER_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"

#define HD_FILTER_MAX_LEN     8192 /* bytes of an expression */
#define HD_FILTER_MAX_DEPTH   32   /* parentheses and `not`s nested in each other */
#define HD_FILTER_MAX_MATCHES 128  /* comparisons in one expression */
#define HD_FILTER_MAX_SEGS    16   /* parts of one selector (Service.Meta.version: 3) */
#define HD_FILTER_MAX_REGEX   16   /* `matches` comparisons in one expression */
#define HD_FILTER_MAX_PATTERN 256  /* bytes of one regular expression */

/* How messages start. A refused expression reads as Consul's (go-bexpr's
 * CreateFilter wraps every parse error in these words), so an endpoint
 * answers 400 with the message as it is, in plain text:
 * "Failed to create boolean expression evaluator: expected a value after
 * '==' at column 16, found the end". */
#define HD_FILTER_ERR_PARSE "Failed to create boolean expression evaluator: "
/* A comparison that does not apply to what a row holds (only without a
 * selector table: with one, such a comparison is refused by the parser). */
#define HD_FILTER_ERR_EVAL "Failed to evaluate the filter: "

/* What a selector yields in a row. */
typedef enum hd_filter_kind_e {
    HD_FILTER_ABSENT = 0, /* no such member (or JSON null) */
    HD_FILTER_STRING,
    HD_FILTER_NUMBER,
    HD_FILTER_BOOL,
    HD_FILTER_LIST, /* items of any kind: a list of strings (Tags), of maps (Checks) */
    HD_FILTER_MAP,  /* named members: an object (Service) or a map (Meta) */
} hd_filter_kind_t;

/* A value the accessor hands over. Strings and the things ref points at
 * stay the caller's and must outlive the evaluation. */
typedef struct hd_filter_value_s {
    hd_filter_kind_t kind;
    const char *s;   /* STRING: the bytes (may hold NUL) */
    size_t len;      /* STRING: their count */
    double num;      /* NUMBER */
    int b;           /* BOOL: 0 or 1 */
    size_t n;        /* LIST: items; MAP: members (0: `is empty`) */
    const void *ref; /* LIST, MAP: the caller's pointer to look inside */
    int tag;         /* LIST, MAP: the caller's word for what ref points at */
} hd_filter_value_t;

/* How the evaluator looks into the caller's rows. Both functions fill *out
 * (zeroed before the call: ABSENT unless set); they cannot fail. */
typedef struct hd_filter_access_s {
    /* The member called name (NUL-terminated) of map `in`. */
    void (*member)(void *arg, const hd_filter_value_t *in, const char *name,
                   hd_filter_value_t *out);
    /* Item i (< in->n) of list `in`. */
    void (*item)(void *arg, const hd_filter_value_t *in, size_t i, hd_filter_value_t *out);
    void *arg;
} hd_filter_access_t;

/* One selector an endpoint offers, as in the "Filtering" tables of Consul's
 * API pages. A '*' part matches any one map key ("Service.Meta.*"). kind
 * decides the comparisons allowed: STRING all; NUMBER and BOOL == and !=
 * (and the value must be one); LIST and MAP is empty, in, contains (a
 * list's item, a map's key). A selector through a list of maps names the
 * maps' members ("Checks.Status": the comparison holds when it holds for
 * any check). */
typedef struct hd_filter_field_s {
    const char *selector;
    hd_filter_kind_t kind;
} hd_filter_field_t;

typedef struct hd_filter_s hd_filter_t;

/* Parses len bytes of expr. With fields (nfields of them), a selector not
 * among them is refused as Consul does (`Selector "Foo" is not valid`), and
 * so is a comparison its kind does not allow or a value it cannot hold;
 * with fields NULL any selector goes, and such mistakes surface in
 * hd_filter_eval. `matches` patterns are compiled here (POSIX extended
 * syntax, bounded: see docs/filtering.md). Returns 0 with a tree in *out
 * (hd_filter_free), or -1 with a message in err that starts with
 * HD_FILTER_ERR_PARSE and names what is wrong and its column ("... expected
 * a value after '==' at column 14, found the end"; columns count characters
 * from 1). An empty expression is refused too: a caller treats an empty
 * ?filter= as none, as Consul does. */
int hd_filter_parse(const char *expr, size_t len, const hd_filter_field_t *fields, size_t nfields,
                    hd_filter_t **out, char *err, size_t errlen);

/* Frees a tree (NULL is fine). */
void hd_filter_free(hd_filter_t *f);

/* Evaluates f against one row: row is the caller's top-level map (or any
 * value; selectors start by asking for its members). Returns 1 when the
 * row matches, 0 when not, or -1 with a message in err when a comparison
 * does not apply to what the row holds (HD_FILTER_ERR_EVAL "Service.Port is
 * a number, and "web" is not one (the comparison at column 1)"). f is only
 * read: one tree serves many rows, and threads. */
int hd_filter_eval(const hd_filter_t *f, const hd_filter_access_t *access,
                   const hd_filter_value_t *row, char *err, size_t errlen);

/* hd_filter_eval against a jansson row with Consul's field names: objects
 * are maps, arrays lists, integers and reals numbers, null is absent. */
int hd_filter_eval_json(const hd_filter_t *f, const json_t *row, char *err, size_t errlen);

/* Appends f in a canonical form that parses back to the same tree: values
 * quoted, one space around operators, only the parentheses precedence
 * needs. */
void hd_filter_format(const hd_filter_t *f, hd_buf_t *b);

#endif
