/* yaml — a YAML document as a tree with positions (see yaml.h). */
#include "util/yaml.h"
#include "util/mem.h"
#include "util/utf8.h"

#include <libfyaml.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The diagnostics are collected (fy_diag_set_collect_errors) and read back
 * below; this output function only makes sure that nothing that slips past
 * the collection is ever printed. */
static void quiet(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
    (void)diag;
    (void)user;
    (void)buf;
    (void)len;
}

/* ---- the arena ------------------------------------------------------------
 *
 * A 10,000-check config is ~90,000 nodes and as many texts. One calloc per
 * node and one malloc per text made the tree 10.5 MB (malloc's header and
 * rounding on every small block, 64-byte nodes); cut from chunks it is
 * 4.2 MB, and freeing it is a walk over a hundred chunks. The first chunk
 * holds the root node first, so that hd_yaml_free finds the arena from the
 * root alone. */

#define CHUNK_MIN 1024        /* a check body from the API needs no more */
#define CHUNK_MAX (64 * 1024) /* below malloc's mmap threshold: freed chunks are reused */

typedef struct chunk_s chunk_t;
struct chunk_s {
    chunk_t *next;
    size_t used, size;
    max_align_t data[]; /* size bytes */
};

typedef struct arena_s {
    chunk_t *head; /* the first chunk: the root node is its first object */
    chunk_t *cur;  /* where small objects are cut from */
} arena_t;

static chunk_t *chunk_new(arena_t *a, size_t size)
{
    chunk_t *c = hd_xmalloc(offsetof(chunk_t, data) + size);
    c->used = 0;
    c->size = size;
    if (!a->head) {
        c->next = NULL;
        a->head = c;
    } else { /* after the head, which must stay first */
        c->next = a->head->next;
        a->head->next = c;
    }
    return c;
}

static void *arena_alloc(arena_t *a, size_t size, size_t align)
{
    chunk_t *c = a->cur;
    if (c) {
        size_t off = (c->used + align - 1) & ~(align - 1);
        if (off <= c->size && size <= c->size - off) {
            c->used = off + size;
            return (char *)c->data + off;
        }
    }
    if (size > CHUNK_MAX / 4) { /* a long list or text: a chunk of its own */
        chunk_t *big = chunk_new(a, size);
        big->used = size;
        return big->data;
    }
    /* The next chunk doubles up to CHUNK_MAX, and always holds this
     * object: a 3,000-byte text after a 1 KiB chunk needs more than its
     * 2 KiB double. */
    size_t next = c ? c->size * 2 : CHUNK_MIN;
    if (next > CHUNK_MAX) next = CHUNK_MAX;
    if (next < size) next = size;
    a->cur = chunk_new(a, next);
    a->cur->used = size;
    return a->cur->data;
}

static void arena_free(chunk_t *c)
{
    while (c) {
        chunk_t *next = c->next;
        free(c);
        c = next;
    }
}

static hd_yaml_node_t *node_new(arena_t *a, hd_yaml_type_t type, int line, int column)
{
    hd_yaml_node_t *n = arena_alloc(a, sizeof(*n), _Alignof(hd_yaml_node_t));
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->line = line;
    n->column = column;
    return n;
}

void hd_yaml_free(hd_yaml_node_t *n)
{
    if (n) arena_free((chunk_t *)(void *)((char *)n - offsetof(chunk_t, data)));
}

/* The children of the open mappings and sequences, innermost last: a node's
 * items are copied into the arena at its end, at their final count. */
typedef struct pending_s {
    hd_yaml_node_t **v;
    size_t n, cap;
} pending_t;

static void pending_push(pending_t *p, hd_yaml_node_t *n)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 64;
        p->v = hd_xrealloc(p->v, p->cap * sizeof(*p->v));
    }
    p->v[p->n++] = n;
}

int hd_yaml_is_null(const hd_yaml_node_t *n)
{
    if (!n || n->type != HD_YAML_SCALAR || !n->plain) return 0;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp(n->text, nulls[i]) == 0 && strlen(n->text) == n->len) return 1;
    return 0;
}

/* Refuses input that is not UTF-8, or holds a control character YAML does
 * not allow, at the first bad byte: YAML read here is UTF-8 only, and
 * libfyaml 0.7 can loop forever on some invalid bytes ("%\xf2"). */
static int check_utf8(const char *s, size_t len, int *line, int *column, char *err, size_t errlen)
{
    const unsigned char *p = (const unsigned char *)s;
    int l = 1, c = 1;
    for (size_t i = 0; i < len;) {
        size_t n = hd_utf8_len(p + i, len - i);
        if (n == 0) {
            *line = l;
            *column = c;
            snprintf(err, errlen, "invalid UTF-8 (byte 0x%02x): the file must be UTF-8 text", p[i]);
            return -1;
        }
        /* YAML's printable set: no C0 controls but tab, LF, CR; no DEL. */
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') || p[i] == 0x7f) {
            *line = l;
            *column = c;
            snprintf(err, errlen, "control character 0x%02x is not allowed in YAML", p[i]);
            return -1;
        }
        if (p[i] == '\n') {
            l++;
            c = 1;
        } else {
            c++;
        }
        i += n;
    }
    return 0;
}

/* One open mapping or sequence while the tree is built. */
typedef struct frame_s {
    hd_yaml_node_t *node;
    size_t first; /* its first child in the pending list */
} frame_t;

/* Ends the open node f: its children leave the pending list for an array
 * of their own in the arena. */
static void close_frame(arena_t *a, pending_t *p, frame_t *f)
{
    size_t count = p->n - f->first;
    hd_yaml_node_t *n = f->node;
    if (n->type == HD_YAML_MAP && count % 2) { /* cannot happen: a key always has a value */
        pending_push(p, NULL);
        count++;
    }
    if (count) {
        n->items = arena_alloc(a, count * sizeof(*n->items), _Alignof(hd_yaml_node_t *));
        memcpy(n->items, p->v + f->first, count * sizeof(*n->items));
    }
    n->n = n->type == HD_YAML_MAP ? count / 2 : count;
    p->n = f->first;
}

int hd_yaml_parse(const char *s, size_t len, hd_yaml_node_t **root, int *line, int *column,
                  char *err, size_t errlen)
{
    *root = NULL;
    *line = 1;
    *column = 1;
    snprintf(err, errlen, "invalid YAML");
    if (check_utf8(s, len, line, column, err, errlen) < 0) return -1;

    struct fy_diag_cfg dc;
    fy_diag_cfg_default(&dc);
    dc.fp = NULL;
    dc.output_fn = quiet;
    dc.colorize = false;
    struct fy_diag *diag = fy_diag_create(&dc);
    if (!diag) {
        snprintf(err, errlen, "cannot start the YAML parser (out of memory)");
        return -1;
    }
    fy_diag_set_collect_errors(diag, true);
    struct fy_parse_cfg pc;
    memset(&pc, 0, sizeof(pc));
    pc.flags = (enum fy_parse_cfg_flags)(FYPCF_QUIET | FYPCF_DEFAULT_VERSION_1_2);
    pc.diag = diag;
    struct fy_parser *p = fy_parser_create(&pc);
    if (!p || fy_parser_set_string(p, s, len) != 0) {
        snprintf(err, errlen, "cannot start the YAML parser (out of memory)");
        if (p) fy_parser_destroy(p);
        fy_diag_destroy(diag);
        return -1;
    }

    frame_t stack[HD_YAML_MAX_DEPTH];
    arena_t arena = {NULL, NULL};
    pending_t pend = {NULL, 0, 0};
    int depth = 0, docs = 0, failed = 0;
    hd_yaml_node_t *top = NULL;
    struct fy_event *e;
    while (!failed && (e = fy_parser_parse(p))) {
        /* An empty value has no position of its own: it keeps its key's. */
        const struct fy_mark *m = fy_event_start_mark(e);
        if (m) {
            *line = m->line + 1;
            *column = m->column + 1;
        }
        hd_yaml_node_t *n = NULL;
        switch (e->type) {
        case FYET_DOCUMENT_START:
            if (++docs > 1) {
                snprintf(err, errlen, "only one YAML document is allowed (found a second '---')");
                failed = 1;
            }
            break;
        case FYET_ALIAS:
            if (*column > 1) (*column)--; /* libfyaml marks the name, after the '*' */
            snprintf(err, errlen, "aliases (*name) are not supported: write the value out");
            failed = 1;
            break;
        case FYET_SCALAR: {
            n = node_new(&arena, HD_YAML_SCALAR, *line, *column);
            struct fy_token *tok = e->scalar.value;
            size_t tlen = 0;
            const char *text = tok ? fy_token_get_text(tok, &tlen) : NULL;
            if (!text) tlen = 0;
            n->text = arena_alloc(&arena, tlen + 1, 1);
            if (tlen) memcpy(n->text, text, tlen);
            n->text[tlen] = '\0';
            n->len = tlen;
            enum fy_scalar_style style = tok ? fy_token_scalar_style(tok) : FYSS_PLAIN;
            n->plain = style == FYSS_PLAIN;
            /* libfyaml marks a quoted scalar's first character; show the quote. */
            if ((style == FYSS_SINGLE_QUOTED || style == FYSS_DOUBLE_QUOTED) && n->column > 1)
                n->column--;
            break;
        }
        case FYET_MAPPING_START:
            n = node_new(&arena, HD_YAML_MAP, *line, *column);
            break;
        case FYET_SEQUENCE_START:
            n = node_new(&arena, HD_YAML_SEQ, *line, *column);
            break;
        case FYET_MAPPING_END:
        case FYET_SEQUENCE_END:
            if (depth > 0) close_frame(&arena, &pend, &stack[--depth]);
            break;
        default:
            break;
        }
        fy_parser_event_free(p, e);
        if (!n) continue;

        if (depth == 0) {
            /* The first node of the arena, which hd_yaml_free relies on; a
             * second top-level node cannot happen within one document. */
            if (top || (void *)n != (void *)arena.head->data) {
                snprintf(err, errlen, "unexpected second top-level node");
                failed = 1;
                break;
            }
            top = n;
        } else {
            frame_t *f = &stack[depth - 1];
            int is_key = f->node->type == HD_YAML_MAP && (pend.n - f->first) % 2 == 0;
            pending_push(&pend, n);
            if (is_key && n->type != HD_YAML_SCALAR) {
                snprintf(err, errlen, "a key must be a plain value, not a %s",
                         n->type == HD_YAML_MAP ? "mapping" : "list");
                failed = 1;
                break;
            }
        }
        if (n->type != HD_YAML_SCALAR) {
            if (depth == HD_YAML_MAX_DEPTH) {
                snprintf(err, errlen, "nested deeper than %d levels", HD_YAML_MAX_DEPTH);
                failed = 1;
                break;
            }
            stack[depth].node = n;
            stack[depth].first = pend.n;
            depth++;
        }
    }
    free(pend.v);

    if (!failed && fy_parser_get_stream_error(p)) {
        failed = 1;
        void *it = NULL;
        struct fy_diag_error *de = fy_diag_errors_iterate(diag, &it);
        if (de) {
            *line = de->line > 0 ? de->line : 1;
            *column = de->column > 0 ? de->column : 1;
            snprintf(err, errlen, "invalid YAML: %s", de->msg ? de->msg : "syntax error");
        }
    }
    fy_parser_destroy(p);
    fy_diag_destroy(diag);
    if (failed) {
        arena_free(arena.head); /* the tree may be half built: free the chunks, not top */
        return -1;
    }
    *root = top;
    return 0;
}
