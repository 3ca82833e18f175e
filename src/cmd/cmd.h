/* cmd — the subcommands. Each parses its own flags, calls the modules
 * through their headers, and prints; it returns the process exit status. */
#ifndef HD_CMD_H
#define HD_CMD_H

#include <stdio.h>

#define HD_EXIT_USAGE 2 /* a bad flag, argument or URL */

typedef struct hd_cmd_s {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
    const char *summary;               /* one line for `heed --help` */
    const char *usage;                 /* the full `heed CMD --help` text */
} hd_cmd_t;

extern const hd_cmd_t hd_cmd_wait;
extern const hd_cmd_t hd_cmd_ping; /* ping.c: ICMP sweeps with fping's flags */
extern const hd_cmd_t hd_cmd_agent;
extern const hd_cmd_t hd_cmd_checks;   /* checks.c: the agent's checks through its API */
extern const hd_cmd_t hd_cmd_status;   /* status.c: the agent's summary, Nagios exit codes */
extern const hd_cmd_t hd_cmd_services; /* services.c: services through the Consul API */
extern const hd_cmd_t hd_cmd_kv;       /* kv.c: Consul's KV through the agent's API */
extern const hd_cmd_t hd_cmd_lock;     /* lock.c: a command run while a session lock is held */
extern const hd_cmd_t hd_cmd_watch; /* watch.c: a command run on each change (blocking queries) */
extern const hd_cmd_t hd_cmd_inventory; /* inventory.c: an Ansible dynamic inventory */

/* Prints "heed CMD: MSG (see heed CMD --help)" to stderr; returns 2. */
int hd_cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads the value of a flag that takes one ("--timeout 5s" or
 * "--timeout=5s"); *i advances past it. NULL (after a usage message) when
 * it is missing. name is the flag as the user typed it, without "=...". */
const char *hd_cmd_flag_value(const char *cmd, int argc, char **argv, int *i, const char *eq);

#endif
