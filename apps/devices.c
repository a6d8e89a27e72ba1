/* `clmlp devices`: the OpenCL platforms and devices, and which one clmlp would pick. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { MAX_DEVICES = 64 };

int cmd_devices(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
            return fputs("usage: clmlp devices\n\nLists OpenCL platforms and devices: type, compute units, "
                         "memory, fp64 support,\nand (marked *) the one clmlp picks by default (CLMLP_DEVICE "
                         "applies).\n",
                         stdout),
                   CLI_OK;
        return cli_error(CLI_USAGE, "devices: unexpected argument '%s'", argv[1]);
    }
    clmlp_device_info infos[MAX_DEVICES];
    size_t count = 0;
    if (clmlp_list_devices(infos, MAX_DEVICES, &count) != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    if (count == 0) {
        printf("no OpenCL device found: clmlp uses the host path (CLMLP_BACKEND_AUTO)\n");
        return CLI_OK;
    }
    printf("  P:D  type  units  memory MiB  max alloc MiB  fp64  name (platform)\n");
    int any_chosen = 0;
    for (size_t i = 0; i < count && i < MAX_DEVICES; i++) {
        const clmlp_device_info *d = &infos[i];
        any_chosen |= d->chosen;
        printf("%c %d:%d  %-4s  %5u  %10llu  %13llu  %-4s  %s (%s)\n", d->chosen ? '*' : ' ', d->platform, d->device,
               d->type, d->compute_units, (unsigned long long)(d->global_memory >> 20),
               (unsigned long long)(d->max_allocation >> 20), d->fp64 ? "yes" : "no", d->name, d->platform_name);
    }
    const char *env = getenv("CLMLP_DEVICE");
    if (any_chosen)
        printf("* chosen by default%s%s%s\n", env ? " (CLMLP_DEVICE=" : "", env ? env : "", env ? ")" : "");
    else
        printf(
            "no device matches CLMLP_DEVICE=%s: a net would not be created (an explicit device request is an error)\n",
            env ? env : "");
    return CLI_OK;
}
