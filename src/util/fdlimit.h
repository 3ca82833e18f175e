/* fdlimit — the process's open-file limit (RLIMIT_NOFILE), and how many
 * API connections it leaves room for.
 *
 * Shells and service managers commonly start a process with a soft limit
 * of 1,024 under a higher hard limit (systemd: 1024/524288), so a server
 * raises its own soft limit to the hard one, as nginx's
 * worker_rlimit_nofile and Go's runtime (since 1.19) do. */
#ifndef HD_FDLIMIT_H
#define HD_FDLIMIT_H

#define HD_FDLIMIT_MAX     (1L << 20) /* never raised past this (an "unlimited" hard limit) */
#define HD_FDLIMIT_RESERVE 64         /* descriptors kept at least for probes, the store, stdio */

/* Raises the soft open-file limit towards the hard one. Returns the soft
 * limit in force afterwards (the old one if it could not be raised). */
long hd_fdlimit_raise(void);

/* The API connections that fit in limit descriptors: a quarter of them,
 * and at least HD_FDLIMIT_RESERVE, stay for probes and the store; never
 * fewer than 16. */
int hd_fdlimit_conns(long limit);

#endif
