/* dns — the dns:// probe's view of DNS: the record types it asks for, the
 * answers of a reply read as text, and the rule by which an answer equals
 * what a check expects. The probe itself is hd_probe_dns (probe_impl.h).
 *
 * The reply parser reads only the header, skips the questions and walks
 * the answer section; names are expanded by c-ares (ares_expand_name). */
#ifndef HD_DNS_H
#define HD_DNS_H

#include <stddef.h>

#define HD_DNS_ANSWERS_MAX 64 /* answers kept from one reply; more are ignored */

/* The answers of one type from one reply, as text: A and AAAA as
 * addresses, CNAME and NS as names (no final dot), MX as "PREF HOST", TXT
 * as its strings joined, bytes outside printable ASCII written \DDD. */
typedef struct hd_dns_answers_s {
    int n;
    char *v[HD_DNS_ANSWERS_MAX];
} hd_dns_answers_t;

/* The RR type code of a type name this probe supports ("mx" → 15), or 0. */
int hd_dns_type_code(const char *name);
/* The upper-case name of a supported type code, or NULL. */
const char *hd_dns_type_name(int code);
/* Whether s is valid for the server= query key: an IPv4 address or a
 * bracketed IPv6 address, each with an optional ":PORT" (1-65535). */
int hd_dns_server_valid(const char *s);

/* Reads the answers of type qtype (class IN) in the reply abuf into a,
 * which must be zeroed (or freed) first. Returns 0, or -1 when the reply is
 * malformed (a holds nothing then). */
int hd_dns_parse_answers(const unsigned char *abuf, size_t alen, int qtype, hd_dns_answers_t *a);
/* Frees what a holds and zeroes it. */
void hd_dns_answers_free(hd_dns_answers_t *a);
/* Whether one of a's answers equals expect under qtype's rule (see
 * target.h). */
int hd_dns_match(int qtype, const hd_dns_answers_t *a, const char *expect);

#endif
