/* common — small helpers every subcommand uses for flags and errors. */
#include "cmd/cmd.h"

#include <stdarg.h>
#include <string.h>

int hd_cmd_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "heed %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see heed %s --help)\n", cmd);
    return HD_EXIT_USAGE;
}

const char *hd_cmd_flag_value(const char *cmd, int argc, char **argv, int *i, const char *eq)
{
    if (eq) return eq + 1;
    if (*i + 1 >= argc) {
        hd_cmd_usage_error(cmd, "flag '%s' needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}
