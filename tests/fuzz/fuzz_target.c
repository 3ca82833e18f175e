/* fuzz_target — hd_target_parse (and through it hd_url_parse, hd_url_decode
 * and hd_argv_split) on any NUL-terminated input: it must never crash,
 * leak or read out of bounds, and what it accepts must hold together; and
 * the password rules: a parsed target's display, hd_target_redact of any
 * text, hd_target_scrub of output quoting the password, never show it. */
#include "probe/target.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often needle occurs in hay (overlaps counted). */
static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* What lies between a "//" user's ':' and the last '@' (of the authority
 * when strict; of the text when not) shows in shown no more often than
 * the text around it has it. Passwords of 1-3 bytes or holding '*' are
 * not checked: "***" itself has them. */
static void hidden(const char *s, const char *shown, int strict)
{
    const char *auth = strstr(s, "://");
    if (!auth) return;
    auth += 3;
    size_t alen = strict ? strcspn(auth, "/?#") : strlen(auth);
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@') at = p;
    const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
    if (!colon || at - colon - 1 < 4) return;
    char *pw = strndup(colon + 1, (size_t)(at - colon - 1));
    char *before = strndup(s, (size_t)(colon + 1 - s));
    if (!pw || !before) abort();
    if (!strchr(pw, '*') && count(shown, pw) > count(before, pw) + count(at, pw)) abort();
    free(pw);
    free(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0'; /* a NUL inside the input just ends the string early */

    hd_target_t t;
    char err[256];
    err[0] = '\0';
    if (hd_target_parse(s, &t, err, sizeof(err)) == 0) {
        if (strcmp(t.url, s) != 0 || !t.display) abort();
        switch (t.kind) {
        case HD_KIND_TCP:
        case HD_KIND_HTTP:
        case HD_KIND_PG:
        case HD_KIND_MYSQL:
        case HD_KIND_REDIS:
            if (!t.host || !t.host[0] || t.port < 1 || t.port > 65535) abort();
            break;
        case HD_KIND_UNIX:
        case HD_KIND_FILE:
            if (!t.path || t.path[0] != '/') abort();
            break;
        case HD_KIND_EXEC:
            if (!t.argv || !t.argv[0]) abort();
            break;
        default:
            break;
        }
        /* A password is always shown as "***", and never itself. */
        if (t.password && !strstr(t.display, ":***@")) abort();
        hidden(s, t.display, 1);
        /* A probe's output that quotes it shows "***" instead (a password
         * with a star may show next to the mask). */
        if (t.password && t.password[0] && !strchr(t.password, '*')) {
            char out[64];
            snprintf(out, sizeof(out), "x%sy", t.password);
            hd_target_scrub(&t, out, sizeof(out));
            if (strlen(t.password) < 20 && strstr(out, t.password)) abort();
        }
        (void)hd_target_masked(&t);
        hd_target_free(&t);
    } else {
        if (!err[0] || t.url || t.display || t.host || t.argv) abort();
    }
    /* Any text, parsed or not, can be shown redacted. */
    char *shown = hd_target_redact(s);
    if (!shown) abort();
    hidden(s, shown, 0);
    free(shown);
    free(s);
    return 0;
}
