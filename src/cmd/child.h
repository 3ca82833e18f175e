/* child — the command that `heed lock` and `heed watch` run: started with
 * execvp (no shell), waited for while the signals heed receives are
 * passed on to it, as `consul lock` and `consul watch` do.
 *
 * hd_child_signals() installs heed's handlers for SIGINT, SIGTERM, SIGHUP
 * and SIGCHLD: the first three are recorded (hd_child_stop) and, while a
 * command runs, sent on to it; a blocking query in progress sees
 * hd_child_stop through hd_client_req_t.cancel and gives up. The handlers
 * are the only state kept in globals here: a signal handler has no other
 * place for it. */
#ifndef HD_CMD_CHILD_H
#define HD_CMD_CHILD_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

/* Non-zero once SIGINT, SIGTERM or SIGHUP arrived: the last one's number. */
extern volatile sig_atomic_t hd_child_stop;

/* Installs the handlers (no SA_RESTART: a sleep is cut short). */
void hd_child_signals(void);

/* Starts argv[0] with argv, and each "NAME=value" of env (NULL-terminated,
 * may be NULL) added to the environment. With data (len bytes), its
 * stdin is a pipe that receives them, then end of file; else heed's own
 * stdin. Returns the pid, or -1 after printing "heed CMD: cannot run ...".
 * A command that cannot be executed exits 127 (not found) or 126. */
pid_t hd_child_start(const char *cmd, char *const argv[], const char *const *env, const char *data,
                     size_t len);

/* Waits up to timeout_ms (< 0: no limit) for the child to end, sending it
 * each SIGINT, SIGTERM and SIGHUP heed receives meanwhile. Returns 1 with
 * its exit status as a shell has it in *code (its exit code, or 128 + the
 * signal that ended it), or 0 when the time ran out. */
int hd_child_wait(pid_t pid, long timeout_ms, int *code);

/* Ends the child: SIGTERM, then SIGKILL if it is still running after
 * grace_ms, as `consul lock` does when the lock is lost; *code as above. */
void hd_child_end(pid_t pid, long grace_ms, int *code);

/* Sleeps up to ms, or less when a signal arrives. */
void hd_child_sleep(long ms);

#endif
