/* file — file:///path passes when the path exists (anything stat() finds). */
#include "probe/probe_impl.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int file_start(hd_probe_t *p)
{
    struct stat st;
    if (stat(p->t->path, &st) == 0)
        hd_probe_done_soon(p, HD_STATUS_PASSING, HD_R_OK, "exists");
    else if (errno == ENOENT || errno == ENOTDIR)
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_FILE_MISSING, "no such file");
    else
        hd_probe_done_soon(p, HD_STATUS_CRITICAL, HD_R_FILE_FAIL, "stat: %s", strerror(errno));
    return 0;
}

static void file_stop(hd_probe_t *p)
{
    (void)p;
}

const hd_probe_kind_t hd_probe_file = {file_start, file_stop};
