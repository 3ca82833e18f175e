/* fdlimit — open-file limit (see fdlimit.h). */
#include "util/fdlimit.h"

#include <sys/resource.h>

long hd_fdlimit_raise(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) return 1024;
    rlim_t want = rl.rlim_max;
    if (want == RLIM_INFINITY || want > (rlim_t)HD_FDLIMIT_MAX) want = (rlim_t)HD_FDLIMIT_MAX;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        struct rlimit up = {want, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0) rl.rlim_cur = want;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)HD_FDLIMIT_MAX) return HD_FDLIMIT_MAX;
    return (long)rl.rlim_cur;
}

int hd_fdlimit_conns(long limit)
{
    long keep = limit / 4 > HD_FDLIMIT_RESERVE ? limit / 4 : HD_FDLIMIT_RESERVE;
    long n = limit - keep;
    return n < 16 ? 16 : (int)n;
}
