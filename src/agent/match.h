/* match — which checks a rule applies to: an alert rule, a maintenance
 * window, a status-page group (`match:` in the config, the same everywhere).
 *
 *   match: { checks: [db-main], services: [db], tags: [web], tenant: acme }
 *
 * Each list given must match (AND); within a list one entry is enough (OR).
 * checks: the check's id. services: its service's id or name. tags: one of
 * the check's tags or its service's tags. tenant: the check's tenant ("" or
 * absent: every tenant). An empty match matches every check. Pure: no I/O. */
#ifndef HD_MATCH_H
#define HD_MATCH_H

#include "agent/check.h"

typedef struct hd_match_s {
    char **checks;   /* NULL-terminated, or NULL: any */
    char **services; /* NULL-terminated, or NULL: any */
    char **tags;     /* NULL-terminated, or NULL: any */
    char *tenant;    /* NULL: any */
} hd_match_t;

/* What a check is matched on: its definition and, when it belongs to a
 * service, that service's name and tags (NULL when unknown). */
typedef struct hd_match_subject_s {
    const hd_check_def_t *def;
    const char *service_name;
    char *const *service_tags; /* NULL-terminated, or NULL */
} hd_match_subject_t;

/* 1 when m matches s, else 0. */
int hd_match(const hd_match_t *m, const hd_match_subject_t *s);
/* 1 when m has no condition (matches every check). */
int hd_match_is_all(const hd_match_t *m);
void hd_match_copy(hd_match_t *dst, const hd_match_t *src);
void hd_match_free(hd_match_t *m);

#endif
