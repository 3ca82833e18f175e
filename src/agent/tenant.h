/* tenant — heed's tenants, modelled on Consul's namespaces: every object
 * (a check today; a service, KV key and session in the discovery work)
 * belongs to exactly one tenant, and ids are unique within a tenant, so
 * that tenants A and B may each have a check "web". Objects without a
 * tenant (config-file checks, those of a store written before tenants had
 * their own ids) are in the tenant "default".
 *
 * This file holds the names, the qualified keys objects are kept under
 * and the one rule of reach (hd_scope_has). Which tenant a request works
 * in (its token, ?ns=) is api/scope.c's; docs/tenancy.md tells the model
 * to users. Pure: no I/O. */
#ifndef HD_TENANT_H
#define HD_TENANT_H

#include <stddef.h>

#define HD_TENANT_DEFAULT "default"
#define HD_TENANT_MAX     128 /* bytes in a tenant name, as in a token's tenant */
#define HD_ID_MAX         256 /* bytes in an object id (a check's: 128, a service check's default more) */
/* Room for a qualified key "tenant/id" and its NUL. */
#define HD_TENANT_KEY_MAX (HD_TENANT_MAX + 1 + HD_ID_MAX + 1)

/* Which tenants a request reaches. */
typedef struct hd_scope_s {
    const char *tenant; /* the one tenant it works in; NULL: every tenant (a list with ns=*) */
} hd_scope_t;

/* The name of tenant t: t, or "default" for NULL. */
const char *hd_tenant_name(const char *t);
/* 1 when a and b name the same tenant (NULL is "default"), else 0. */
int hd_tenant_same(const char *a, const char *b);
/* 1 when s (len bytes) is a tenant name: 1 to HD_TENANT_MAX letters,
 * digits and . _ - : @ (a token's tenant in the config file), else 0. */
int hd_tenant_valid(const char *s, size_t len);
/* 1 when an object of tenant t (NULL: "default") is within scope s. The
 * one visibility rule by tenant. */
int hd_scope_has(const hd_scope_t *s, const char *t);

/* Writes "tenant/id" (tenant NULL: "default") into out (outlen bytes,
 * HD_TENANT_KEY_MAX fits every valid pair): the key of the agent's check
 * registry, the tail of its store keys and the name of its history.
 * Returns the length, or -1 when it does not fit. */
int hd_tenant_key(char *out, size_t outlen, const char *tenant, const char *id);
/* Splits a qualified key (len bytes) at its first '/': the tenant is
 * key[0..*tenant_len), the id the rest (*id, *id_len). Returns 0, or -1
 * when the key has no '/' (the layout before tenants) or an empty part. */
int hd_tenant_split(const char *key, size_t len, size_t *tenant_len, const char **id,
                    size_t *id_len);

#endif
