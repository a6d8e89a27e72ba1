/* The `clmlp` command: dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] = "usage: clmlp <command> [options]\n"
                            "\n"
                            "commands:\n"
                            "  train       train a net on MNIST-format data (--mpi: data-parallel over MPI ranks)\n"
                            "  sweep       train a grid of option values and compare the points (--mpi: over ranks)\n"
                            "  eval        accuracy, loss and confusion matrix of a saved model\n"
                            "  predict     classify single images with a saved model\n"
                            "  gradcheck   check backpropagation: device vs host vs finite differences\n"
                            "  devices     list OpenCL devices and the one clmlp picks\n"
                            "  tune        search the OpenCL CPU kernels' tile shapes for a net\n"
                            "\n"
                            "clmlp <command> --help shows a command's options; clmlp --version the version.\n";

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_error(CLI_USAGE, "no command given (see clmlp --help)");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0)
        return fputs(usage, stdout), CLI_OK;
    if (strcmp(cmd, "--version") == 0)
        return printf("clmlp %s\n", clmlp_version()), CLI_OK;
    if (strcmp(cmd, "train") == 0)
        return cmd_train(argc - 1, argv + 1);
    if (strcmp(cmd, "sweep") == 0)
        return cmd_sweep(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "predict") == 0)
        return cmd_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "gradcheck") == 0)
        return cmd_gradcheck(argc - 1, argv + 1);
    if (strcmp(cmd, "devices") == 0)
        return cmd_devices(argc - 1, argv + 1);
    if (strcmp(cmd, "tune") == 0)
        return cmd_tune(argc - 1, argv + 1);
    return cli_error(CLI_USAGE, "unknown command '%s' (see clmlp --help)", cmd);
}
