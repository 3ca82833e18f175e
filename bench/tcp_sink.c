/* tcp_sink — loopback TCP listeners that accept and close, for bench/agent.
 *
 * usage: tcp_sink NET PORT NADDR NPORTS NPROC SECONDS
 *   listens on NET.1 .. NET.NADDR (e.g. NET = 127.0.1) times ports
 *   PORT .. PORT+NPORTS-1, all on loopback; NPROC processes each serve a
 *   share of the listeners with epoll, accepting in a loop and closing at
 *   once. Prints "ready" once every listener is bound, and on SIGTERM (or
 *   after SECONDS, whichever comes first) each process prints
 *   "accepted N" and exits. Exit status 2 when a bind fails.
 *
 * Only 127.0.0.0/8 is accepted as NET. Built by bench/agent with cc -O2. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_sig(int sig)
{
    (void)sig;
    stop = 1;
}

static void serve(const int *fds, int n, int seconds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        perror("epoll_create1");
        exit(1);
    }
    for (int i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fds[i]};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) < 0) {
            perror("epoll_ctl");
            exit(1);
        }
    }
    alarm((unsigned)seconds);
    unsigned long long accepted = 0;
    struct epoll_event evs[256];
    while (!stop) {
        int k = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < k; i++) {
            for (int j = 0; j < 64; j++) {
                int c = accept4(evs[i].data.fd, NULL, NULL, SOCK_CLOEXEC);
                if (c < 0) break;
                close(c);
                accepted++;
            }
        }
    }
    printf("accepted %llu\n", accepted);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: tcp_sink NET PORT NADDR NPORTS NPROC SECONDS\n");
        return 1;
    }
    const char *net = argv[1];
    int port = atoi(argv[2]), naddr = atoi(argv[3]), nports = atoi(argv[4]);
    int nproc = atoi(argv[5]), seconds = atoi(argv[6]);
    if (strncmp(net, "127.", 4) != 0 || port < 1 || naddr < 1 || naddr > 254 || nports < 1 ||
        port + nports > 65536 || nproc < 1 || nproc > 64 || seconds < 1) {
        fprintf(stderr, "tcp_sink: bad arguments (NET must be in 127.0.0.0/8)\n");
        return 1;
    }
    int total = naddr * nports;
    int *fds = calloc((size_t)total, sizeof(int));
    if (!fds) return 1;
    int k = 0;
    for (int a = 1; a <= naddr; a++) {
        char ip[64];
        snprintf(ip, sizeof(ip), "%s.%d", net, a);
        for (int p = port; p < port + nports; p++) {
            struct sockaddr_in sa;
            memset(&sa, 0, sizeof(sa));
            sa.sin_family = AF_INET;
            sa.sin_port = htons((uint16_t)p);
            if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1 ||
                (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
                fprintf(stderr, "tcp_sink: %s is not a loopback address\n", ip);
                return 1;
            }
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            int one = 1;
            if (fd < 0) {
                perror("socket");
                return 1;
            }
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                fprintf(stderr, "tcp_sink: bind %s:%d: %s\n", ip, p, strerror(errno));
                return 2;
            }
            if (listen(fd, 4096) < 0) {
                perror("listen");
                return 1;
            }
            fds[k++] = fd;
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sig;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    printf("ready %d listeners\n", total);
    fflush(stdout);
    /* Listener i goes to process i % nproc: each process's share covers
     * every address and port range evenly. */
    pid_t kids[64];
    for (int w = 1; w < nproc; w++) {
        kids[w] = fork();
        if (kids[w] == 0) {
            int *mine = calloc((size_t)total, sizeof(int)), m = 0;
            for (int i = w; i < total; i += nproc)
                mine[m++] = fds[i];
            serve(mine, m, seconds);
            _exit(0);
        }
    }
    int *mine = calloc((size_t)total, sizeof(int)), m = 0;
    for (int i = 0; i < total; i += nproc)
        mine[m++] = fds[i];
    serve(mine, m, seconds);
    for (int w = 1; w < nproc; w++) {
        kill(kids[w], SIGTERM);
        waitpid(kids[w], NULL, 0);
    }
    return 0;
}
