/* `clmlp eval MODEL`: loss, accuracy and confusion matrix on the test files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "cli.h"

static const char help[] =
    "usage: clmlp eval MODEL [--data DIR] [--backend auto|opencl|host] [--device SPEC] [--json]\n"
    "\n"
    "Evaluates a saved model on the test files of DIR (t10k-images-idx3-ubyte[.gz] and\n"
    "t10k-labels-idx1-ubyte[.gz]; DIR as for clmlp train), with the preprocessing stored in\n"
    "the model: accuracy, mean loss and the confusion matrix (rows: true class, columns:\n"
    "predicted). --json prints one JSON object instead.\n";

static void print_json(const clmlp_eval *ev)
{
    printf("{\"accuracy\":%.9g,\"loss\":%.9g,\"n\":%zu,\"confusion\":[", ev->accuracy, ev->loss, ev->n);
    for (size_t r = 0; r < ev->classes; r++) {
        printf("%s[", r ? "," : "");
        for (size_t c = 0; c < ev->classes; c++)
            printf("%s%zu", c ? "," : "", ev->confusion[r * ev->classes + c]);
        printf("]");
    }
    printf("]}\n");
}

static void print_table(const clmlp_eval *ev)
{
    printf("accuracy %.2f%%  loss %.4f  n %zu\n\nconfusion (rows: true class, columns: predicted)\n      ",
           100 * ev->accuracy, ev->loss, ev->n);
    for (size_t c = 0; c < ev->classes; c++)
        printf("%6zu", c);
    printf("\n");
    for (size_t r = 0; r < ev->classes; r++) {
        printf("%6zu", r);
        for (size_t c = 0; c < ev->classes; c++)
            printf("%6zu", ev->confusion[r * ev->classes + c]);
        printf("\n");
    }
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL, *data = NULL;
    int json = 0;
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
            return fputs(help, stdout), CLI_OK;
        if (strcmp(opt, "--json") == 0)
            json = 1;
        else if (strcmp(opt, "--data") == 0 && val)
            data = argv[++i];
        else if (strcmp(opt, "--backend") == 0 && val && cli_parse_backend(val, &cfg.backend))
            i++;
        else if (strcmp(opt, "--device") == 0 && val) {
            if (cli_use_device(argv[++i], &cfg) != CLI_OK)
                return CLI_RUNTIME;
        } else if (opt[0] != '-' && !model)
            model = opt;
        else
            return cli_error(CLI_USAGE, "eval: bad argument '%s' (see clmlp eval --help)", opt);
    }
    if (!model)
        return cli_error(CLI_USAGE, "eval: no MODEL given (see clmlp eval --help)");
    char dir[4096], images[4096], labels[4096];
    const char *why;
    if (!cli_find_data_dir(data, dir, sizeof dir, &why))
        return cli_error(CLI_RUNTIME, "no data: give --data DIR");
    if (!cli_data_file(dir, "t10k-images-idx3-ubyte", images, sizeof images) ||
        !cli_data_file(dir, "t10k-labels-idx1-ubyte", labels, sizeof labels))
        return cli_error(CLI_RUNTIME, "no %s in %s", images, dir);

    clmlp_net *net = NULL;
    clmlp_dataset *test = NULL;
    clmlp_preprocess pp;
    clmlp_eval ev = {0};
    int rc = CLI_OK;
    if (clmlp_load(model, &cfg, &net, &pp) != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    size_t classes = clmlp_layer_size(net, clmlp_num_layers(net));
    size_t cells = 0;
    ev.confusion = clmlp_mul_ok(classes, classes, &cells) ? calloc(cells, sizeof *ev.confusion) : NULL;
    if (!ev.confusion)
        rc = cli_error(CLI_RUNTIME, "cannot allocate a %zu × %zu confusion matrix", classes, classes);
    else if (clmlp_dataset_load(net, images, labels, &pp, &test) != CLMLP_OK ||
             clmlp_evaluate(net, test, &ev) != CLMLP_OK)
        rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    else if (json)
        print_json(&ev);
    else {
        fprintf(stderr, "model %s on %s, data %s (%s)\n", model, clmlp_backend_name(net), dir, why);
        print_table(&ev);
    }
    free(ev.confusion);
    clmlp_dataset_destroy(test);
    clmlp_destroy(net);
    return rc;
}
