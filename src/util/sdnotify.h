/* sdnotify — the systemd notification protocol (sd_notify(3)), heed's own
 * small implementation: a datagram of "KEY=VALUE" lines to the unix socket
 * named by $NOTIFY_SOCKET (a path, or an abstract name written "@name").
 *
 * heed does not link libsystemd: the protocol is one sendto(), and the
 * static build and containers have no libsystemd. Without $NOTIFY_SOCKET
 * (not under systemd, or not Type=notify) every call does nothing.
 *
 * hd_sdnotify_init takes $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID
 * out of the environment, as sd_notify's unset_environment does: an exec
 * check's command inherits none of them, and cannot say READY=1 or keep
 * the watchdog fed for the agent. */
#ifndef HD_SDNOTIFY_H
#define HD_SDNOTIFY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

typedef struct hd_sdnotify_s {
    int fd;                  /* a datagram socket, or -1: nothing to notify */
    struct sockaddr_un addr; /* where $NOTIFY_SOCKET points */
    socklen_t addrlen;
    int64_t watchdog_us; /* $WATCHDOG_USEC for this process, or 0: no watchdog */
} hd_sdnotify_t;

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, removes them from
 * the environment, and opens the socket to notify. Returns 0 (n->fd -1
 * when there is nothing to notify), or a negative errno with n->fd -1:
 * -EAFNOSUPPORT for a $NOTIFY_SOCKET neither absolute nor "@abstract",
 * -ENAMETOOLONG for one too long, or socket()'s error. */
int hd_sdnotify_init(hd_sdnotify_t *n);

/* As hd_sdnotify_init, with the socket's name and the watchdog's values
 * given (each may be NULL) and the environment left alone; pid is this
 * process's id, which $WATCHDOG_PID must name if set. */
int hd_sdnotify_init_from(hd_sdnotify_t *n, const char *socket, const char *watchdog_usec,
                          const char *watchdog_pid, long pid);

/* Sends state (e.g. "READY=1", "STOPPING=1", "WATCHDOG=1", several lines
 * joined by '\n'). Returns 1 when sent, 0 when there is nowhere to send,
 * or a negative errno (the service manager gone: nothing else to do). */
int hd_sdnotify_send(hd_sdnotify_t *n, const char *state);

/* Closes the socket; n may be sent nothing more. */
void hd_sdnotify_close(hd_sdnotify_t *n);

#endif
