/* notifier_tmpl — webhook body templates (see notifier_tmpl.h).
 *
 * The parser cuts the text into literal pieces and substitutions, and
 * follows JSON's string quoting as it goes (a '"' not escaped by '\' opens
 * or closes a string) so that each substitution knows whether it stands
 * inside a string. It does not check the JSON itself: the rendered body is
 * parsed by jansson where it matters (hd_notifier_validate). */
#include "agent/notifier_tmpl.h"

#include "util/mem.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD_MAX 32 /* bytes in a field name */

typedef struct piece_s {
    const char *field; /* NULL: literal text */
    size_t off, len;   /* literal: the bytes of text */
    int in_string;     /* a substitution inside a JSON string */
} piece_t;

struct hd_tmpl_s {
    char *text;
    piece_t *pieces;
    size_t n;
};

const char *const hd_tmpl_fields[] = {
    "id",           "kind",     "time",       "time_unix_ms", "since",        "node",
    "check",        "check.id", "check.name", "check.tenant", "check.target", "check.tags",
    "check.notes",  "service",  "service.id", "service.name", "service.tags", "old_status",
    "status",       "output",   "reason",     "flapping",     "summary",      "color",
    "status_upper", "event",    NULL};

static const char *field_of(const char *s, size_t len)
{
    for (size_t i = 0; hd_tmpl_fields[i]; i++)
        if (strlen(hd_tmpl_fields[i]) == len && memcmp(hd_tmpl_fields[i], s, len) == 0)
            return hd_tmpl_fields[i];
    return NULL;
}

static void add(hd_tmpl_t *t, size_t *cap, piece_t p)
{
    if (t->n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        t->pieces = hd_xrealloc(t->pieces, *cap * sizeof(*t->pieces));
    }
    t->pieces[t->n++] = p;
}

hd_tmpl_t *hd_tmpl_parse(const char *text, size_t len, char *err, size_t errlen)
{
    if (len > HD_TMPL_MAX) {
        snprintf(err, errlen, "longer than %d bytes", HD_TMPL_MAX);
        return NULL;
    }
    if (len == 0) {
        snprintf(err, errlen, "empty");
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "holds a NUL byte");
        return NULL;
    }
    hd_tmpl_t *t = hd_xcalloc(1, sizeof(*t));
    t->text = hd_xmalloc(len + 1);
    memcpy(t->text, text, len);
    t->text[len] = '\0';
    size_t cap = 0, lit = 0, i = 0;
    int line = 1, in_str = 0;
    while (i < len) {
        char ch = t->text[i];
        if (ch == '{' && i + 1 < len && t->text[i + 1] == '{') {
            int at_line = line;
            size_t end = i + 2;
            while (end + 1 < len && !(t->text[end] == '}' && t->text[end + 1] == '}') &&
                   t->text[end] != '\n' && t->text[end] != '{')
                end++;
            if (end + 1 >= len || t->text[end] != '}') {
                snprintf(err, errlen, "line %d: \"{{\" without \"}}\" on the same line", at_line);
                goto bad;
            }
            size_t a = i + 2, b = end;
            while (a < b && t->text[a] == ' ')
                a++;
            while (b > a && t->text[b - 1] == ' ')
                b--;
            const char *f = field_of(t->text + a, b - a);
            if (!f) {
                char shown[FIELD_MAX + 4];
                size_t k = 0;
                for (size_t j = a; j < b && k < FIELD_MAX; j++)
                    shown[k++] = isprint((unsigned char)t->text[j]) ? t->text[j] : '?';
                shown[k] = '\0';
                snprintf(err, errlen,
                         "line %d: unknown field \"%s%s\" (fields: id, kind, time, since, node, "
                         "check.id, check.name, check.tags, service.name, old_status, status, "
                         "output, reason, summary, color, event, ...; docs/notifiers.md)",
                         at_line, shown, b - a > FIELD_MAX ? "..." : "");
                goto bad;
            }
            if (i > lit) add(t, &cap, (piece_t){NULL, lit, i - lit, 0});
            add(t, &cap, (piece_t){f, 0, 0, in_str});
            i = end + 2;
            lit = i;
            continue;
        }
        if (ch == '\n') {
            line++;
        } else if (in_str && ch == '\\' && i + 1 < len) {
            if (t->text[i + 1] == '\n') line++;
            i += 2;
            continue;
        } else if (ch == '"') {
            in_str = !in_str;
        }
        i++;
    }
    if (len > lit) add(t, &cap, (piece_t){NULL, lit, len - lit, 0});
    return t;
bad:
    hd_tmpl_free(t);
    return NULL;
}

void hd_tmpl_free(hd_tmpl_t *t)
{
    if (!t) return;
    free(t->text);
    free(t->pieces);
    free(t);
}

/* A value's text inside a JSON string: strings as they are, lists joined
 * with ", ", other values as JSON. */
static void as_text(const json_t *v, hd_buf_t *out)
{
    if (!v || json_is_null(v)) return;
    if (json_is_string(v)) {
        hd_buf_append(out, json_string_value(v), json_string_length(v));
    } else if (json_is_array(v)) {
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (i) hd_buf_puts(out, ", ");
            as_text(x, out);
        }
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) hd_buf_puts(out, s);
        free(s);
    }
}

/* Appends s escaped for the inside of a JSON string. */
static void escape(const char *s, size_t len, hd_buf_t *out)
{
    json_t *j = json_stringn_nocheck(s, len);
    char *d = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    if (d && strlen(d) >= 2) hd_buf_append(out, d + 1, strlen(d) - 2);
    free(d);
    json_decref(j);
}

static const char *str_of(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void upper(hd_buf_t *out, const char *s)
{
    for (; *s; s++) {
        char c = (char)toupper((unsigned char)*s);
        hd_buf_append(out, &c, 1);
    }
}

void hd_tmpl_summary(const json_t *event, hd_buf_t *out)
{
    const json_t *check = json_object_get(event, "check");
    const char *name = str_of(check, "name");
    if (!*name) name = str_of(check, "id");
    if (!*name) name = "?";
    const char *kind = str_of(event, "kind"), *st = str_of(event, "status"),
               *old = str_of(event, "old_status");
    hd_buf_puts(out, name);
    if (!strcmp(kind, "resolved")) {
        hd_buf_puts(out, " is ");
        upper(out, st);
        hd_buf_printf(out, " again (was %s)", old);
    } else if (!strcmp(kind, "reminder")) {
        hd_buf_puts(out, " is still ");
        upper(out, st);
    } else if (!strcmp(kind, "flapping")) {
        hd_buf_puts(out, " is flapping (now ");
        hd_buf_puts(out, st);
        hd_buf_puts(out, ")");
    } else if (!strcmp(kind, "flapping_end")) {
        hd_buf_puts(out, " stopped flapping (now ");
        hd_buf_puts(out, st);
        hd_buf_puts(out, ")");
    } else {
        hd_buf_puts(out, " is ");
        upper(out, st);
        if (*old) hd_buf_printf(out, " (was %s)", old);
    }
}

json_t *hd_tmpl_value(const json_t *event, const char *field)
{
    if (!strcmp(field, "event")) return json_incref((json_t *)event);
    if (!strcmp(field, "summary")) {
        hd_buf_t b = {0};
        hd_tmpl_summary(event, &b);
        json_t *v = json_stringn_nocheck(b.data ? b.data : "", b.len);
        hd_buf_free(&b);
        return v;
    }
    if (!strcmp(field, "color")) {
        const char *st = str_of(event, "status");
        const char *c = !strcmp(st, "passing")    ? "#2eb67d"
                        : !strcmp(st, "warning")  ? "#ecb22e"
                        : !strcmp(st, "critical") ? "#e01e5a"
                                                  : "#808080"; /* maintenance, unknown */
        return json_string(c);
    }
    if (!strcmp(field, "status_upper")) {
        hd_buf_t b = {0};
        upper(&b, str_of(event, "status"));
        json_t *v = json_string(b.data ? b.data : "");
        hd_buf_free(&b);
        return v;
    }
    const char *dot = strchr(field, '.');
    const json_t *v;
    if (dot) {
        char top[16];
        snprintf(top, sizeof(top), "%.*s", (int)(dot - field), field);
        v = json_object_get(json_object_get(event, top), dot + 1);
    } else {
        v = json_object_get(event, field);
    }
    return v ? json_incref((json_t *)v) : NULL;
}

void hd_tmpl_render(const hd_tmpl_t *t, const json_t *event, hd_buf_t *out)
{
    for (size_t i = 0; i < t->n; i++) {
        const piece_t *p = &t->pieces[i];
        if (!p->field) {
            hd_buf_append(out, t->text + p->off, p->len);
            continue;
        }
        json_t *v = hd_tmpl_value(event, p->field);
        if (p->in_string) {
            hd_buf_t raw = {0};
            as_text(v, &raw);
            escape(raw.data ? raw.data : "", raw.len, out);
            hd_buf_free(&raw);
        } else if (!v) {
            hd_buf_puts(out, "null");
        } else {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            hd_buf_puts(out, s ? s : "null");
            free(s);
        }
        json_decref(v);
    }
}

/* Slack's incoming webhooks take "text" plus "attachments" (the coloured
 * bar); Mattermost's take the same; Discord takes this body at the
 * webhook URL followed by /slack. */
static const char slack_tmpl[] =
    "{\"text\": \"{{summary}}\",\n"
    " \"attachments\": [{\n"
    "   \"color\": \"{{color}}\",\n"
    "   \"fallback\": \"{{summary}}: {{output}}\",\n"
    "   \"title\": \"{{summary}}\",\n"
    "   \"text\": \"{{output}}\",\n"
    "   \"fields\": [\n"
    "     {\"title\": \"Check\", \"value\": \"{{check.id}}\", \"short\": true},\n"
    "     {\"title\": \"Service\", \"value\": \"{{service.name}}\", \"short\": true},\n"
    "     {\"title\": \"Node\", \"value\": \"{{node}}\", \"short\": true},\n"
    "     {\"title\": \"Since\", \"value\": \"{{since}}\", \"short\": true}],\n"
    "   \"footer\": \"heed event {{id}} at {{time}}\"}],\n"
    " \"heed_event_id\": \"{{id}}\"}\n";

const char *hd_tmpl_builtin(const char *name)
{
    if (!name) return NULL;
    if (!strcmp(name, "generic")) return "{{event}}";
    if (!strcmp(name, "slack")) return slack_tmpl;
    return NULL;
}

json_t *hd_tmpl_sample_event(void)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s, s:s, s:[s], s:s}, s:{s:s, s:s, "
                     "s:[s]}, s:s, s:s, s:s, s:s, s:b}",
                     "id", "node1-1", "kind", "triggered", "time", "2026-12-01T02:00:30Z",
                     "time_unix_ms", (json_int_t)1796090430000LL, "since", "2026-12-01T02:00:00Z",
                     "node", "node1", "check", "id", "web", "name", "web", "target",
                     "http://127.0.0.1:8080/health", "tags", "web", "notes", "a \"sample\" check",
                     "service", "id", "shop", "name", "shop", "tags", "prod", "old_status",
                     "passing", "status", "critical", "output", "HTTP 503\nline two \"quoted\"",
                     "reason", "http_status", "flapping", 0);
}
