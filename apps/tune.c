/* `clmlp tune`: the kernels' shapes searched for a net on an OpenCL device and
 * recorded in the tuning database; --show says which shape training would use. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { MAX_SIZES = 17 };

static const char help[] =
    "usage: clmlp tune [--layers LIST] [--batch N] [--dtype f32|f64|both] [--device SPEC]\n"
    "                  [--kernels auto|cpu|gpu] [--show]\n"
    "\n"
    "Searches the shapes of the device's kernel family (CPU register tiles, or GPU\n"
    "work-groups; --kernels forces one) for a net's products (default 784,256,128,10 at\n"
    "batch 128, both dtypes): every candidate is checked against the host path, then timed\n"
    "on one training step's products; then each product of the fastest is timed against\n"
    "CLBlast, which keeps the products it runs faster. The result, never slower than the\n"
    "device's default, is recorded in the tuning database beside the program cache, which\n"
    "training then uses for nets of the same width class. --show only prints what is in force.\n";

int cmd_tune(int argc, char **argv)
{
    size_t sizes[MAX_SIZES] = {784, 256, 128, 10}, n_sizes = 4, batch = 128;
    int dtypes[2] = {1, 1}, show = 0;
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_OPENCL;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
            return fputs(help, stdout), CLI_OK;
        if (strcmp(opt, "--show") == 0)
            show = 1;
        else if (strcmp(opt, "--layers") == 0 && val && (n_sizes = cli_parse_sizes(val, sizes, MAX_SIZES)) >= 2)
            i++;
        else if (strcmp(opt, "--batch") == 0 && val && cli_parse_size(val, 2, 65536, &batch))
            i++;
        else if (strcmp(opt, "--dtype") == 0 && val && strcmp(val, "both") == 0)
            dtypes[0] = dtypes[1] = 1, i++;
        else if (strcmp(opt, "--dtype") == 0 && val && cli_parse_dtype(val, &cfg.dtype)) {
            dtypes[CLMLP_F64] = cfg.dtype == CLMLP_F64;
            dtypes[CLMLP_F32] = cfg.dtype == CLMLP_F32;
            i++;
        } else if (strcmp(opt, "--kernels") == 0 && val &&
                   (strcmp(val, "auto") == 0 || strcmp(val, "cpu") == 0 || strcmp(val, "gpu") == 0)) {
            cfg.kernels = val[0] == 'a' ? CLMLP_KERNELS_AUTO : val[0] == 'c' ? CLMLP_KERNELS_CPU : CLMLP_KERNELS_GPU;
            i++;
        } else if (strcmp(opt, "--device") == 0 && val) {
            if (cli_use_device(argv[++i], &cfg) != CLI_OK)
                return CLI_USAGE;
        } else
            return cli_error(CLI_USAGE, "tune: bad or incomplete option '%s' (see clmlp tune --help)", opt);
    }
    for (int d = 0; d < 2; d++) {
        if (!dtypes[d])
            continue;
        cfg.dtype = (clmlp_dtype)d;
        const char *name = d == CLMLP_F64 ? "f64" : "f32";
        if (show) {
            clmlp_net *net = NULL;
            if (clmlp_create(sizes, n_sizes, &cfg, &net) != CLMLP_OK)
                return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
            printf("%s: %s: %s\n", name, clmlp_backend_name(net), clmlp_kernel_info(net));
            clmlp_destroy(net);
            continue;
        }
        clmlp_tune_report r;
        fprintf(stderr, "tuning %s (each candidate: build, check against the host path, time)...\n", name);
        if (clmlp_tune(&cfg, sizes, n_sizes, batch, &r) != CLMLP_OK)
            return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
        printf("%s: tiles %s recorded, CLBlast for %s: %.3f ms per step's products (device default %s: %.3f ms, "
               "%.2fx); %zu candidates, %zu rejected by the check, %.0f s\n",
               name, r.tiles, r.clblast, 1e3 * r.seconds_best, r.default_tiles, 1e3 * r.seconds_default,
               r.seconds_default / r.seconds_best, r.candidates, r.rejected, r.search_seconds);
    }
    return CLI_OK;
}
