/* fuzz_filter — Consul's filter expressions (the ?filter= of the list
 * endpoints): hd_filter_parse on any bytes, untyped and with a selector
 * table, then the tree evaluated on rows of /v1/health/service/:name.
 * What must hold:
 * - a refusal leaves no tree and says why, in Consul's words
 *   (HD_FILTER_ERR_PARSE ...), within the error buffer;
 * - with the table, an accepted expression never fails on a row whose
 *   kinds are the table's: every mistake was the parser's to refuse;
 * - without it, evaluation answers 1, 0, or -1 with HD_FILTER_ERR_EVAL;
 * - the canonical text (hd_filter_format) parses back, formats to itself,
 *   and answers the same on every row.
 * Input: one control byte (bit 0: with the table), then the expression. */
#include "util/filter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Rows shaped as Consul's health page shows them; every member the table
 * below names has the table's kind here. */
static const char *const ROWS[] = {
    "{\"Node\":{\"Node\":\"n1\",\"Address\":\"10.0.0.1\",\"Meta\":{\"rack "
    "id\":\"r1\",\"os\":\"\"}},"
    "\"Service\":{\"ID\":\"web-1\",\"Service\":\"web\",\"Tags\":[\"primary\",\"v1\",\"\"],"
    "\"Address\":\"\",\"Meta\":{\"env\":\"prod\",\"a.b\":\"x\\u0000y\"},\"Port\":8080,"
    "\"EnableTagOverride\":false,\"Connect\":{\"Native\":true}},"
    "\"Checks\":[{\"CheckID\":\"serfHealth\",\"Status\":\"passing\",\"Output\":\"ok\","
    "\"ServiceTags\":[]},{\"CheckID\":\"c2\",\"Status\":\"critical\",\"Output\":\"\","
    "\"ServiceTags\":[\"primary\"]}]}",
    "{\"Node\":{\"Node\":\"\",\"Address\":\"::1\",\"Meta\":{}},"
    "\"Service\":{\"ID\":\"\",\"Service\":\"db\",\"Tags\":[],\"Address\":\"127.0.0.1\","
    "\"Meta\":{},\"Port\":-1.5,\"EnableTagOverride\":true,\"Connect\":{}},\"Checks\":[]}",
    "{\"Node\":{},\"Service\":{},\"Checks\":[{}]}",
    "{}",
};
#define NROWS (sizeof(ROWS) / sizeof(*ROWS))

static const hd_filter_field_t FIELDS[] = {
    {"Checks", HD_FILTER_LIST},
    {"Checks.CheckID", HD_FILTER_STRING},
    {"Checks.Status", HD_FILTER_STRING},
    {"Checks.Output", HD_FILTER_STRING},
    {"Checks.ServiceTags", HD_FILTER_LIST},
    {"Node.Node", HD_FILTER_STRING},
    {"Node.Address", HD_FILTER_STRING},
    {"Node.Meta", HD_FILTER_MAP},
    {"Node.Meta.*", HD_FILTER_STRING},
    {"Service.ID", HD_FILTER_STRING},
    {"Service.Service", HD_FILTER_STRING},
    {"Service.Tags", HD_FILTER_LIST},
    {"Service.Address", HD_FILTER_STRING},
    {"Service.Meta", HD_FILTER_MAP},
    {"Service.Meta.*", HD_FILTER_STRING},
    {"Service.Port", HD_FILTER_NUMBER},
    {"Service.EnableTagOverride", HD_FILTER_BOOL},
    {"Service.Connect.Native", HD_FILTER_BOOL},
};
#define NFIELDS (sizeof(FIELDS) / sizeof(*FIELDS))

static json_t *rows[NROWS];

static void load_rows(void)
{
    if (rows[0]) return;
    for (size_t i = 0; i < NROWS; i++) {
        json_error_t je;
        rows[i] = json_loads(ROWS[i], JSON_ALLOW_NUL, &je);
        if (!rows[i]) abort();
    }
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* f's answer on each row into got (1, 0, or -1). */
static void answers(const hd_filter_t *f, int typed, int *got)
{
    char err[512];
    for (size_t i = 0; i < NROWS; i++) {
        err[0] = '\0';
        got[i] = hd_filter_eval_json(f, rows[i], err, sizeof(err));
        if (got[i] == -1) {
            if (typed || !starts(err, HD_FILTER_ERR_EVAL)) abort();
            if (strlen(err) >= sizeof(err) - 1) abort(); /* the message was cut */
        } else if (got[i] != 0 && got[i] != 1) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    load_rows();
    int typed = data[0] & 1;
    const char *expr = (const char *)data + 1;
    size_t len = size - 1;
    const hd_filter_field_t *fields = typed ? FIELDS : NULL;
    size_t nfields = typed ? NFIELDS : 0;

    char err[512] = "";
    hd_filter_t *f = (hd_filter_t *)err; /* must be set: to NULL on a refusal */
    if (hd_filter_parse(expr, len, fields, nfields, &f, err, sizeof(err)) != 0) {
        if (f != NULL || !starts(err, HD_FILTER_ERR_PARSE)) abort();
        if (strlen(err) >= sizeof(err) - 1) abort();
        return 0;
    }
    if (!f) abort();
    int got[NROWS], again[NROWS];
    answers(f, typed, got);

    hd_buf_t text = {0};
    hd_filter_format(f, &text);
    if (!text.data || text.len == 0) abort();
    /* Quoting may lengthen the text past the limit: only shorter ones must
     * parse back. */
    if (text.len <= HD_FILTER_MAX_LEN) {
        hd_filter_t *g = NULL;
        if (hd_filter_parse(text.data, text.len, fields, nfields, &g, err, sizeof(err)) != 0)
            abort();
        answers(g, typed, again);
        if (memcmp(got, again, sizeof(got)) != 0) abort();
        hd_buf_t text2 = {0};
        hd_filter_format(g, &text2);
        if (text2.len != text.len || memcmp(text2.data, text.data, text.len) != 0) abort();
        hd_buf_free(&text2);
        hd_filter_free(g);
    }
    hd_buf_free(&text);
    hd_filter_free(f);
    return 0;
}
