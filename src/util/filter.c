/* filter — parsing Consul's filter expressions into a tree, and writing a
 * tree back as text (see filter.h; evaluation is in filter_eval.c).
 *
 * A hand-written recursive descent over the bytes, one function per level
 * of precedence (or, and, not, a parenthesised group or a comparison). It
 * allocates the tree's text once, at twice the expression's length: every
 * name and decoded value is no longer than the bytes it came from, plus a
 * NUL. Recursion goes one level per '(' or `not`, HD_FILTER_MAX_DEPTH at
 * most; `a or b or c` is one node with three children, not three levels. */
#include "util/filter_impl.h"
#include "util/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser_s {
    const char *src;
    size_t len, pos;
    hd_filter_t *f;
    const hd_filter_field_t *fields;
    size_t nfields;
    int depth;   /* '(' and `not` open around pos */
    int matches; /* comparisons so far */
    char *err;
    size_t errlen;
} parser_t;

const char *const hd_filter_op_text[] = {"==",      "!=",         "is not empty", "is empty",
                                         "in",      "not in",     "contains",     "not contains",
                                         "matches", "not matches"};

const char *const hd_filter_kind_text[] = {"absent",    "a string", "a number",
                                           "a boolean", "a list",   "a map"};

static int is_alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int is_ident(int c)
{
    return is_alpha(c) || is_digit(c) || c == '_';
}

static int is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The column of byte offset off: characters (UTF-8 lead bytes) from 1. */
static unsigned column(const parser_t *p, size_t off)
{
    unsigned col = 1;
    for (size_t i = 0; i < off && i < p->len; i++)
        if (((unsigned char)p->src[i] & 0xC0) != 0x80) col++;
    return col;
}

/* Writes HD_FILTER_ERR_PARSE "<message> at column N" into err, for the byte at off.
 * Returns -1 for the caller to pass up. */
__attribute__((format(printf, 3, 4))) static int fail(parser_t *p, size_t off, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, HD_FILTER_ERR_PARSE "%s at column %u", msg, column(p, off));
    return -1;
}

/* A short quotation of what stands at off, for "found ..." in messages. */
static void found(const parser_t *p, size_t off, char *out, size_t outlen)
{
    if (off >= p->len) {
        snprintf(out, outlen, "the end");
        return;
    }
    size_t n = 0;
    if (is_ident((unsigned char)p->src[off]))
        while (off + n < p->len && n < 24 && is_ident((unsigned char)p->src[off + n]))
            n++;
    else
        n = 1;
    while (off + n < p->len && ((unsigned char)p->src[off + n] & 0xC0) == 0x80)
        n++; /* the rest of a UTF-8 character */
    snprintf(out, outlen, "'%.*s'", (int)n, p->src + off);
}

/* fail() for a thing missing at off: "... expected ... at column N,
 * found 'x'" (or "found the end"). */
__attribute__((format(printf, 3, 4))) static int expected(parser_t *p, size_t off, const char *fmt,
                                                          ...)
{
    char msg[256], f[40];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    found(p, off, f, sizeof(f));
    snprintf(p->err, p->errlen, HD_FILTER_ERR_PARSE "expected %s at column %u, found %s", msg,
             column(p, off), f);
    return -1;
}

static void skip_ws(parser_t *p)
{
    while (p->pos < p->len && is_space((unsigned char)p->src[p->pos]))
        p->pos++;
}

/* 1 when the word w stands at pos (after blanks), not as the start of a
 * longer name. */
static int at_word(parser_t *p, const char *w)
{
    skip_ws(p);
    size_t n = strlen(w);
    if (p->len - p->pos < n || memcmp(p->src + p->pos, w, n) != 0) return 0;
    return p->pos + n == p->len || !is_ident((unsigned char)p->src[p->pos + n]);
}

static int take_word(parser_t *p, const char *w)
{
    if (!at_word(p, w)) return 0;
    p->pos += strlen(w);
    return 1;
}

/* Room for n more bytes and a NUL in the tree's text. */
static char *text_room(parser_t *p, size_t n)
{
    hd_filter_t *f = p->f;
    if (f->used + n + 1 > f->size) abort(); /* the size is computed to hold all: a bug */
    return f->text + f->used;
}

static const char *text_add(parser_t *p, const char *s, size_t n)
{
    char *t = text_room(p, n);
    memcpy(t, s, n);
    t[n] = '\0';
    p->f->used += n + 1;
    return t;
}

static int new_node(parser_t *p, int type)
{
    hd_filter_t *f = p->f;
    if (f->nnodes == f->capnodes) {
        f->capnodes = f->capnodes ? f->capnodes * 2 : 16;
        f->nodes = hd_xrealloc(f->nodes, (size_t)f->capnodes * sizeof(*f->nodes));
    }
    hd_filter_node_t *n = &f->nodes[f->nnodes];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->kid = n->next = n->re = -1;
    return f->nnodes++;
}

static void add_seg(parser_t *p, const char *s, size_t n)
{
    hd_filter_t *f = p->f;
    if (f->nsegs == f->capsegs) {
        f->capsegs = f->capsegs ? f->capsegs * 2 : 16;
        f->segs = hd_xrealloc(f->segs, (size_t)f->capsegs * sizeof(*f->segs));
    }
    f->segs[f->nsegs].s = s;
    f->segs[f->nsegs].len = n;
    f->nsegs++;
}

static int hexval(int c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Appends code point cp as UTF-8 at o; returns the bytes written. */
static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* One escape of a "..." string at pos (just after the '\'), written at o.
 * Go's set: \a \b \f \n \r \t \v \\ \" \xHH \NNN (octal) \uHHHH \UHHHHHHHH. */
static int unescape(parser_t *p, char *o, size_t *wrote)
{
    size_t at = p->pos - 1;
    if (p->pos >= p->len) return fail(p, at, "a '\\' ends the string");
    char c = p->src[p->pos++];
    const char *simple = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"";
    for (const char *s = simple; *s; s += 2)
        if (c == s[0]) {
            *o = s[1];
            *wrote = 1;
            return 0;
        }
    int digits = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : is_digit(c) && c < '8' ? 3 : 0;
    if (!digits)
        return fail(p, at, "unknown escape '\\%c' in a string", c >= 0x20 && c < 0x7F ? c : '?');
    int octal = is_digit(c);
    if (octal) p->pos--; /* the first digit is one of the three */
    unsigned long v = 0;
    for (int i = 0; i < digits; i++) {
        int d = -1;
        if (p->pos < p->len) {
            int h = (unsigned char)p->src[p->pos];
            d = octal ? (h >= '0' && h <= '7' ? h - '0' : -1) : hexval(h);
        }
        if (d < 0)
            return fail(p, at, "the escape '\\%c' needs %d %s digits", c, digits,
                        octal ? "octal" : "hex");
        v = v * (octal ? 8 : 16) + (unsigned long)d;
        p->pos++;
    }
    if (v == 0) return fail(p, at, "a NUL character is not allowed in a string");
    if (c == 'x' || octal) {
        if (v > 255) return fail(p, at, "the octal escape is over 255");
        *o = (char)v; /* a byte, as Go writes it */
        *wrote = 1;
        return 0;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return fail(p, at, "the escape is not a valid Unicode character");
    *wrote = put_utf8(o, v);
    return 0;
}

/* A quoted string at pos: "..." with escapes or `...` raw. Stores the
 * decoded bytes in the tree's text. */
static int parse_string(parser_t *p, const char **out, size_t *outlen)
{
    size_t start = p->pos;
    char q = p->src[p->pos++];
    char *o = text_room(p, p->len - p->pos), *o0 = o;
    for (;;) {
        if (p->pos >= p->len)
            return fail(p, start, "the string starting here has no closing %c", q);
        char c = p->src[p->pos++];
        if (c == q) break;
        if (c == '\0') return fail(p, p->pos - 1, "a NUL character is not allowed in a string");
        if (c == '\\' && q == '"') {
            size_t w = 0;
            if (unescape(p, o, &w) < 0) return -1;
            o += w;
        } else {
            *o++ = c;
        }
    }
    *o = '\0';
    *out = o0;
    *outlen = (size_t)(o - o0);
    p->f->used += *outlen + 1;
    return 0;
}

/* A selector at pos: Name(.Name | .123 | ["key"])*. Appends its parts to
 * the tree's segments; seg0 and nseg say where. */
static int parse_selector(parser_t *p, int *seg0, int *nseg)
{
    *seg0 = p->f->nsegs;
    *nseg = 0;
    int dot = 0; /* a '.' was just read: a name or a number must follow */
    for (;;) {
        size_t at = p->pos;
        if (*nseg == HD_FILTER_MAX_SEGS)
            return fail(p, at, "a selector of more than %d parts", HD_FILTER_MAX_SEGS);
        if (!dot && *nseg > 0) { /* here only for a '[' */
            p->pos++;
            skip_ws(p);
            if (p->pos >= p->len || (p->src[p->pos] != '"' && p->src[p->pos] != '`'))
                return expected(p, p->pos, "a quoted key after '['");
            const char *key;
            size_t klen;
            if (parse_string(p, &key, &klen) < 0) return -1;
            skip_ws(p);
            if (p->pos >= p->len || p->src[p->pos] != ']')
                return expected(p, p->pos, "']' (for the '[' at column %u)", column(p, at));
            p->pos++;
            add_seg(p, key, klen);
        } else {
            size_t n = 0;
            int digits = dot && p->pos < p->len && is_digit((unsigned char)p->src[p->pos]);
            if (p->pos < p->len && (is_alpha((unsigned char)p->src[p->pos]) || digits))
                while (p->pos + n < p->len &&
                       (digits ? is_digit((unsigned char)p->src[p->pos + n])
                               : is_ident((unsigned char)p->src[p->pos + n])))
                    n++;
            if (n == 0) return expected(p, at, "a name after '.'");
            add_seg(p, text_add(p, p->src + p->pos, n), n);
            p->pos += n;
        }
        (*nseg)++;
        dot = p->pos < p->len && p->src[p->pos] == '.';
        if (dot)
            p->pos++;
        else if (p->pos >= p->len || p->src[p->pos] != '[')
            return 0;
    }
}

/* A number literal at pos, as Consul's grammar has it:
 * -?(0|[1-9][0-9]*)(.[0-9]+)? followed by a blank, ')' or the end. */
static int parse_number(parser_t *p, const char **out, size_t *outlen)
{
    size_t start = p->pos, i = p->pos;
    if (i < p->len && p->src[i] == '-') i++;
    size_t d = i;
    while (i < p->len && is_digit((unsigned char)p->src[i]))
        i++;
    int ok = i > d && !(p->src[d] == '0' && i - d > 1);
    if (ok && i < p->len && p->src[i] == '.') {
        size_t f = ++i;
        while (i < p->len && is_digit((unsigned char)p->src[i]))
            i++;
        ok = i > f;
    }
    if (!ok || (i < p->len && !is_space((unsigned char)p->src[i]) && p->src[i] != ')')) {
        size_t e = start + 1;
        while (e < p->len && !is_space((unsigned char)p->src[e]) && p->src[e] != ')' &&
               e - start < 24)
            e++;
        return fail(p, start, "invalid number '%.*s'", (int)(e - start), p->src + start);
    }
    *out = text_add(p, p->src + start, i - start);
    *outlen = i - start;
    p->pos = i;
    return 0;
}

/* A value after an operator: a string, a number or a bare word (a
 * selector's shape, kept as its text). what names the operator. */
static int parse_value(parser_t *p, const char *what, const char **out, size_t *outlen, size_t *at)
{
    skip_ws(p);
    *at = p->pos;
    char c = p->pos < p->len ? p->src[p->pos] : '\0';
    if (c == '"' || c == '`') return parse_string(p, out, outlen);
    if (c == '-' || is_digit((unsigned char)c)) return parse_number(p, out, outlen);
    if (is_alpha((unsigned char)c)) {
        int seg0, nseg;
        if (parse_selector(p, &seg0, &nseg) < 0) return -1;
        /* A bare word is text: its parts joined by '.', as Consul has it.
         * The parts lie one after the other in the text, each with its
         * NUL: the NULs between them become the dots. */
        char *t = (char *)p->f->segs[seg0].s;
        const hd_filter_seg_t *last = &p->f->segs[seg0 + nseg - 1];
        for (int i = 0; i + 1 < nseg; i++)
            ((char *)p->f->segs[seg0 + i].s)[p->f->segs[seg0 + i].len] = '.';
        *out = t;
        *outlen = (size_t)(last->s + last->len - t);
        p->f->nsegs = seg0; /* the parts were only a way to read it */
        return 0;
    }
    return expected(p, p->pos, "a value after '%s'", what);
}

/* Go's strconv.ParseBool. */
static int read_bool(const char *s, int *b)
{
    static const char *const yes[] = {"1", "t", "T", "TRUE", "true", "True"};
    static const char *const no[] = {"0", "f", "F", "FALSE", "false", "False"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
        if (!strcmp(s, yes[i])) return *b = 1, 1;
        if (!strcmp(s, no[i])) return *b = 0, 1;
    }
    return 0;
}

/* A decimal number, as Go's ParseFloat reads one in decimal: a sign,
 * digits with an optional fraction, an optional exponent; finite. */
static int read_number(const char *s, size_t len, double *v)
{
    size_t i = 0, d = 0;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    while (i < len && is_digit((unsigned char)s[i]))
        i++, d++;
    if (i < len && s[i] == '.')
        for (i++; i < len && is_digit((unsigned char)s[i]); i++)
            d++;
    if (d == 0) return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        size_t e = i;
        while (i < len && is_digit((unsigned char)s[i]))
            i++;
        if (i == e) return 0;
    }
    if (i != len) return 0;
    *v = strtod(s, NULL);
    return isfinite(*v);
}

/* The field of fields that the comparison's selector names, or NULL. */
static const hd_filter_field_t *find_field(const parser_t *p, const hd_filter_node_t *n)
{
    for (size_t i = 0; i < p->nfields; i++) {
        const char *s = p->fields[i].selector;
        int k = 0;
        for (; k < n->nseg && *s; k++) {
            size_t plen = strcspn(s, ".");
            const hd_filter_seg_t *g = &p->f->segs[n->seg0 + k];
            if (!(plen == 1 && s[0] == '*') && (plen != g->len || memcmp(s, g->s, plen) != 0))
                break;
            s += plen;
            if (*s == '.') s++;
        }
        if (k == n->nseg && !*s) return &p->fields[i];
    }
    return NULL;
}

/* Checks a comparison against the endpoint's selectors: the selector is
 * one, the comparison applies to its kind, the value can be one. */
static int check_field(parser_t *p, const hd_filter_node_t *n, size_t at, size_t vat)
{
    hd_buf_t sel = {0};
    hd_filter_selector_text(p->f, n, &sel);
    int rc = 0;
    const hd_filter_field_t *fd = find_field(p, n);
    int pos = HD_FOP_POSITIVE(n->op);
    if (!fd) {
        rc = fail(p, at, "Selector \"%s\" is not valid", sel.data);
    } else if ((fd->kind == HD_FILTER_NUMBER || fd->kind == HD_FILTER_BOOL) && pos != HD_FOP_EQ) {
        rc = fail(p, at, "'%s' does not apply to %s, %s", hd_filter_op_text[n->op], sel.data,
                  hd_filter_kind_text[fd->kind]);
    } else if ((fd->kind == HD_FILTER_LIST || fd->kind == HD_FILTER_MAP) &&
               (pos == HD_FOP_EQ || pos == HD_FOP_MATCHES)) {
        rc = fail(p, at, "'%s' does not apply to %s, %s: use 'contains', 'in' or 'is empty'",
                  hd_filter_op_text[n->op], sel.data, hd_filter_kind_text[fd->kind]);
    } else if (fd->kind == HD_FILTER_NUMBER && !n->has_num) {
        rc = fail(p, vat, "%s is a number, and \"%s\" is not one", sel.data, n->val);
    } else if (fd->kind == HD_FILTER_BOOL && !n->has_bool) {
        rc = fail(p, vat, "%s is a boolean, and \"%s\" is not one (true or false)", sel.data,
                  n->val);
    }
    hd_buf_free(&sel);
    return rc;
}

/* Returns 0 when a regular expression is within the bounds of
 * docs/filtering.md, else -1 with the reason in why. The bounds keep
 * regcomp and regexec small: glibc copies a group once per repetition of
 * an interval ("(a{9}){9}" is 81 a's), and back-references make matching
 * exponential. */
static int pattern_check(const char *re, size_t len, char *why, size_t whylen)
{
    enum { MAX_GROUPS = 16, MAX_SIZE = 1000, MAX_REPEAT = 255 };
    long size[MAX_GROUPS + 1] = {0}, last = 0;
    int sp = 0, repeated = 0; /* the last token was a repetition (*, +, ?, {m,n}) */
    for (size_t i = 0; i < len; i++) {
        char c = re[i];
        int is_rep = c == '*' || c == '+' || c == '?' ||
                     (c == '{' && i + 1 < len && is_digit((unsigned char)re[i + 1]));
        /* x** or x+*: glibc compiles a repetition of a repetition in time
         * exponential in their count (60 stars: half a second of the
         * loop); Go's regexp, Consul's, refuses them too. */
        if (is_rep && repeated && c == '?')
            return snprintf(why, whylen, "lazy repetitions (%.2s) are Go's syntax, not POSIX's",
                            re + i - 1),
                   -1;
        if (is_rep && repeated)
            return snprintf(why, whylen,
                            "a repetition of a repetition (%.2s): Go's regexp refuses it too",
                            re + i - 1),
                   -1;
        repeated = is_rep;
        if (c == '(') {
            if (i + 1 < len && re[i + 1] == '?')
                return snprintf(why, whylen, "(?...) flags are Go's syntax, not POSIX's"), -1;
            if (sp == MAX_GROUPS)
                return snprintf(why, whylen, "groups nest deeper than %d", MAX_GROUPS), -1;
            size[++sp] = 0;
            last = 0;
            continue;
        }
        if (c == ')' && sp > 0) {
            last = size[sp--];
            size[sp] += last;
        } else if (c == '|' || c == '^' || c == '$') {
            last = 0;
        } else if (c == '*' || c == '?') {
            /* no copies */
        } else if (c == '+') {
            /* glibc reads x+ as xx*: a copy of what it repeats, so x++++
             * doubles four times */
            size[sp] += last;
            last *= 2;
        } else if (c == '{') {
            size_t j = i + 1;
            long m = 0, n = -1;
            for (; j < len && is_digit((unsigned char)re[j]); j++)
                m = m > MAX_REPEAT ? m : m * 10 + (re[j] - '0');
            if (j < len && re[j] == ',') {
                n = 0;
                for (j++; j < len && is_digit((unsigned char)re[j]); j++)
                    n = n > MAX_REPEAT ? n : n * 10 + (re[j] - '0');
                if (re[j - 1] == ',') n = m + 1; /* {m,}: m copies and a star */
            }
            if (j >= len || re[j] != '}' || j == i + 1) {
                size[sp]++; /* not an interval: regcomp decides */
                last = 1;
                repeated = 0;
                continue;
            }
            long copies = n > m ? n : m;
            if (copies > MAX_REPEAT)
                return snprintf(why, whylen, "a repetition over %d", MAX_REPEAT), -1;
            size[sp] += last * (copies - 1);
            last *= copies;
            i = j;
        } else if (c == '\\' && i + 1 < len) {
            char e = re[++i];
            if (e >= '1' && e <= '9')
                return snprintf(why, whylen, "back-references (\\%c) are not supported", e), -1;
            if (e == 'd' || e == 'D')
                return snprintf(why, whylen, "\\%c is Go's syntax: write [%s0-9]", e,
                                e == 'D' ? "^" : ""),
                       -1;
            size[sp]++;
            last = 1;
        } else if (c == '[') {
            size_t j = i + 1;
            if (j < len && re[j] == '^') j++;
            if (j < len && re[j] == ']') j++;
            while (j < len && re[j] != ']') {
                if (re[j] == '[' && j + 1 < len &&
                    (re[j + 1] == ':' || re[j + 1] == '=' || re[j + 1] == '.')) {
                    char end = re[j + 1];
                    j += 2;
                    while (j + 1 < len && !(re[j] == end && re[j + 1] == ']'))
                        j++;
                    j += 2;
                } else {
                    j++;
                }
            }
            i = j < len ? j : len;
            size[sp]++;
            last = 1;
        } else {
            size[sp]++;
            last = 1;
        }
        if (size[sp] > MAX_SIZE || last > MAX_SIZE)
            return snprintf(why, whylen, "it expands to over %d parts", MAX_SIZE), -1;
    }
    return 0;
}

/* Compiles the pattern of a `matches` comparison. */
static int compile_regex(parser_t *p, hd_filter_node_t *n, size_t vat)
{
    hd_filter_t *f = p->f;
    char why[128];
    if (f->nre == HD_FILTER_MAX_REGEX)
        return fail(p, vat, "more than %d 'matches' in one expression", HD_FILTER_MAX_REGEX);
    if (n->vlen > HD_FILTER_MAX_PATTERN)
        return fail(p, vat, "the regular expression is %zu bytes, over the limit of %d", n->vlen,
                    HD_FILTER_MAX_PATTERN);
    if (pattern_check(n->val, n->vlen, why, sizeof(why)) < 0)
        return fail(p, vat, "regular expression \"%s\": %s", n->val, why);
    int rc = regcomp(&f->re[f->nre], n->val, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        regerror(rc, &f->re[f->nre], why, sizeof(why));
        regfree(&f->re[f->nre]);
        return fail(p, vat, "invalid regular expression \"%s\": %s", n->val, why);
    }
    n->re = f->nre++;
    return 0;
}

/* A comparison: `Selector op [value]`, or `value [not] in Selector`. */
static int parse_match(parser_t *p)
{
    skip_ws(p);
    size_t at = p->pos, vat = p->pos;
    if (p->matches == HD_FILTER_MAX_MATCHES)
        return fail(p, at, "more than %d comparisons in one expression", HD_FILTER_MAX_MATCHES);
    int idx = new_node(p, HD_FN_MATCH);
    /* nodes may move as the tree grows: fill a copy, store it at the end */
    hd_filter_node_t n = p->f->nodes[idx];
    n.col = column(p, at);
    char c = p->pos < p->len ? p->src[p->pos] : '\0';
    int value_first = c == '"' || c == '`' || c == '-' || is_digit((unsigned char)c);
    if (!value_first && !is_alpha((unsigned char)c)) {
        return expected(p, at, "a selector, a value or '('");
    }
    if (!value_first) {
        /* A selector, unless `in` follows: then it was a bare value. */
        size_t save_used = p->f->used;
        if (parse_selector(p, &n.seg0, &n.nseg) < 0) return -1;
        size_t after = p->pos;
        if (at_word(p, "in") || (at_word(p, "not") && (p->pos += 3, at_word(p, "in")))) {
            p->pos = at;
            p->f->nsegs = n.seg0;
            p->f->used = save_used;
            value_first = 1;
        } else {
            p->pos = after;
        }
    }
    if (value_first) {
        if (parse_value(p, "in", &n.val, &n.vlen, &vat) < 0) return -1;
        size_t opat = (skip_ws(p), p->pos);
        if (take_word(p, "in")) {
            n.op = HD_FOP_IN;
        } else if (take_word(p, "not") && take_word(p, "in")) {
            n.op = HD_FOP_NOT_IN;
        } else {
            return expected(p, opat, "'in' or 'not in' after a value");
        }
        skip_ws(p);
        size_t sat = p->pos;
        if (p->pos >= p->len || !is_alpha((unsigned char)p->src[p->pos])) {
            return expected(p, sat, "a selector after '%s'", hd_filter_op_text[n.op]);
        }
        if (parse_selector(p, &n.seg0, &n.nseg) < 0) return -1;
        at = sat;
    } else {
        skip_ws(p);
        size_t opat = p->pos;
        const char *s = p->src + p->pos;
        size_t left = p->len - p->pos;
        if (left >= 2 && (!memcmp(s, "==", 2) || !memcmp(s, "!=", 2))) {
            n.op = s[0] == '=' ? HD_FOP_EQ : HD_FOP_NE;
            p->pos += 2;
        } else if (take_word(p, "is")) {
            int neg = take_word(p, "not");
            if (!take_word(p, "empty")) {
                skip_ws(p);
                return expected(p, p->pos, "'empty' after '%s'", neg ? "is not" : "is");
            }
            n.op = neg ? HD_FOP_NOT_EMPTY : HD_FOP_EMPTY;
        } else if (take_word(p, "contains")) {
            n.op = HD_FOP_CONTAINS;
        } else if (take_word(p, "matches")) {
            n.op = HD_FOP_MATCHES;
        } else if (take_word(p, "not")) {
            if (take_word(p, "contains"))
                n.op = HD_FOP_NOT_CONTAINS;
            else if (take_word(p, "matches"))
                n.op = HD_FOP_NOT_MATCHES;
            else
                return expected(p, (skip_ws(p), p->pos), "'contains' or 'matches' after 'not'");
        } else {
            return expected(p, opat,
                            "an operator (==, !=, is empty, is not empty, contains, matches) "
                            "after a selector");
        }
        if (n.op != HD_FOP_EMPTY && n.op != HD_FOP_NOT_EMPTY &&
            parse_value(p, hd_filter_op_text[n.op], &n.val, &n.vlen, &vat) < 0)
            return -1;
    }
    if (n.val) {
        n.has_num = read_number(n.val, n.vlen, &n.num);
        n.has_bool = read_bool(n.val, &n.bval);
    }
    if (p->fields && check_field(p, &n, at, vat) < 0) return -1;
    if (HD_FOP_POSITIVE(n.op) == HD_FOP_MATCHES && compile_regex(p, &n, vat) < 0) return -1;
    p->f->nodes[idx] = n;
    p->matches++;
    return idx;
}

static int parse_or(parser_t *p);

/* `( or )` or a comparison. */
static int parse_primary(parser_t *p)
{
    skip_ws(p);
    if (p->pos < p->len && p->src[p->pos] == '(') {
        size_t open = p->pos++;
        if (++p->depth > HD_FILTER_MAX_DEPTH)
            return fail(p, open, "more than %d levels of '(' and 'not'", HD_FILTER_MAX_DEPTH);
        int n = parse_or(p);
        if (n < 0) return -1;
        skip_ws(p);
        if (p->pos >= p->len || p->src[p->pos] != ')') {
            return expected(p, p->pos, "'and', 'or' or ')' (for the '(' at column %u)",
                            column(p, open));
        }
        p->pos++;
        p->depth--;
        return n;
    }
    return parse_match(p);
}

static int parse_not(parser_t *p)
{
    size_t at = (skip_ws(p), p->pos);
    if (!take_word(p, "not")) return parse_primary(p);
    if (++p->depth > HD_FILTER_MAX_DEPTH)
        return fail(p, at, "more than %d levels of '(' and 'not'", HD_FILTER_MAX_DEPTH);
    int kid = parse_not(p);
    if (kid < 0) return -1;
    p->depth--;
    int n = new_node(p, HD_FN_NOT);
    p->f->nodes[n].kid = kid;
    return n;
}

/* `first (word next)*`, one node with every operand as a child. */
static int parse_list(parser_t *p, const char *word, int type, int (*next)(parser_t *))
{
    int first = next(p);
    if (first < 0 || !at_word(p, word)) return first;
    int last = first;
    while (take_word(p, word)) {
        int k = next(p);
        if (k < 0) return -1;
        p->f->nodes[last].next = k;
        last = k;
    }
    int n = new_node(p, type);
    p->f->nodes[n].kid = first;
    return n;
}

static int parse_and(parser_t *p)
{
    return parse_list(p, "and", HD_FN_AND, parse_not);
}

static int parse_or(parser_t *p)
{
    return parse_list(p, "or", HD_FN_OR, parse_and);
}

int hd_filter_parse(const char *expr, size_t len, const hd_filter_field_t *fields, size_t nfields,
                    hd_filter_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (len > HD_FILTER_MAX_LEN) {
        snprintf(err, errlen,
                 HD_FILTER_ERR_PARSE "the expression is %zu bytes, over the limit of %d", len,
                 HD_FILTER_MAX_LEN);
        return -1;
    }
    parser_t p = {.src = expr,
                  .len = len,
                  .fields = fields,
                  .nfields = nfields,
                  .err = err,
                  .errlen = errlen};
    p.f = hd_xcalloc(1, sizeof(*p.f));
    p.f->size = 2 * len + 2;
    p.f->text = hd_xmalloc(p.f->size);
    skip_ws(&p);
    if (p.pos == len) {
        snprintf(err, errlen, HD_FILTER_ERR_PARSE "the expression is empty");
        goto bad;
    }
    const char *nul = memchr(expr, '\0', len);
    if (nul) {
        fail(&p, (size_t)(nul - expr), "a NUL character is not allowed");
        goto bad;
    }
    p.f->root = parse_or(&p);
    if (p.f->root < 0) goto bad;
    skip_ws(&p);
    if (p.pos < len) {
        expected(&p, p.pos, "'and', 'or' or the end");
        goto bad;
    }
    *out = p.f;
    return 0;
bad:
    hd_filter_free(p.f);
    return -1;
}

void hd_filter_free(hd_filter_t *f)
{
    if (!f) return;
    for (int i = 0; i < f->nre; i++)
        regfree(&f->re[i]);
    free(f->nodes);
    free(f->segs);
    free(f->text);
    free(f);
}

/* Appends s quoted as a "..." string that parses back to the same bytes. */
static void quote(hd_buf_t *b, const char *s, size_t n)
{
    hd_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            hd_buf_append(b, e, 2);
        } else if (c < 0x20 || c == 0x7F) {
            hd_buf_printf(b, "\\x%02x", c);
        } else {
            hd_buf_append(b, s + i, 1);
        }
    }
    hd_buf_append(b, "\"", 1);
}

void hd_filter_selector_text(const hd_filter_t *f, const hd_filter_node_t *n, hd_buf_t *b)
{
    for (int i = 0; i < n->nseg; i++) {
        const hd_filter_seg_t *g = &f->segs[n->seg0 + i];
        int name = g->len > 0 && is_alpha((unsigned char)g->s[0]), digits = g->len > 0;
        for (size_t k = 0; k < g->len; k++) {
            name = name && is_ident((unsigned char)g->s[k]);
            digits = digits && is_digit((unsigned char)g->s[k]);
        }
        if (name || (digits && i > 0)) {
            if (i > 0) hd_buf_append(b, ".", 1);
            hd_buf_append(b, g->s, g->len);
        } else {
            hd_buf_append(b, "[", 1);
            quote(b, g->s, g->len);
            hd_buf_append(b, "]", 1);
        }
    }
    if (!b->data) hd_buf_append(b, "", 0);
}

static void format_node(const hd_filter_t *f, int i, int parent, hd_buf_t *b)
{
    const hd_filter_node_t *n = &f->nodes[i];
    if (n->type == HD_FN_MATCH) {
        if (n->op == HD_FOP_IN || n->op == HD_FOP_NOT_IN) {
            quote(b, n->val, n->vlen);
            hd_buf_printf(b, " %s ", hd_filter_op_text[n->op]);
            hd_filter_selector_text(f, n, b);
        } else {
            hd_filter_selector_text(f, n, b);
            hd_buf_printf(b, " %s", hd_filter_op_text[n->op]);
            if (n->val) {
                hd_buf_append(b, " ", 1);
                quote(b, n->val, n->vlen);
            }
        }
        return;
    }
    if (n->type == HD_FN_NOT) {
        hd_buf_puts(b, "not ");
        format_node(f, n->kid, HD_FN_NOT, b);
        return;
    }
    /* `and` binds tighter than `or`, `not` tighter than both. */
    int parens = parent == HD_FN_NOT || (n->type == HD_FN_OR && parent == HD_FN_AND);
    if (parens) hd_buf_append(b, "(", 1);
    for (int k = n->kid; k >= 0; k = f->nodes[k].next) {
        if (k != n->kid) hd_buf_puts(b, n->type == HD_FN_OR ? " or " : " and ");
        format_node(f, k, n->type, b);
    }
    if (parens) hd_buf_append(b, ")", 1);
}

void hd_filter_format(const hd_filter_t *f, hd_buf_t *b)
{
    format_node(f, f->root, -1, b);
}
