/* main — argv to the subcommand table; nothing else. */
#include "cmd/cmd.h"

#include <stdio.h>
#include <string.h>

static const hd_cmd_t *const commands[] = {
    &hd_cmd_wait,     &hd_cmd_ping, &hd_cmd_agent, &hd_cmd_checks, &hd_cmd_status,
    &hd_cmd_services, &hd_cmd_kv,   &hd_cmd_lock,  &hd_cmd_watch,  &hd_cmd_inventory};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fprintf(f,
            "heed %s — is it up, is it ready, where is it?\n\n"
            "usage: heed COMMAND [flags] [args]\n\ncommands:\n",
            HEED_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(f, "  %-10s %s\n", "help", "show a command's help: heed help COMMAND");
    fprintf(f, "\nheed --version prints the version; heed COMMAND --help, a command's help.\n");
}

static const hd_cmd_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return HD_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "version")) {
        printf("heed %s\n", HEED_VERSION);
        return 0;
    }
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        const hd_cmd_t *c = find(argv[2]);
        if (!c) {
            fprintf(stderr, "heed: unknown command '%s' (see heed --help)\n", argv[2]);
            return HD_EXIT_USAGE;
        }
        fputs(c->usage, stdout);
        return 0;
    }
    const hd_cmd_t *c = find(name);
    if (!c) {
        fprintf(stderr, "heed: unknown %s '%s' (see heed --help)\n",
                name[0] == '-' ? "flag" : "command", name);
        return HD_EXIT_USAGE;
    }
    for (int i = 2; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(c->usage, stdout);
            return 0;
        }
    }
    return c->run(argc - 1, argv + 1);
}
