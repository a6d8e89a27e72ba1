/* `clmlp eval MODEL`: loss, accuracy and confusion matrix on the test files of an IDX
 * directory, or on a CSV file of labelled rows (or of regression targets). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "cli.h"
#include "data.h"

static const char help[] =
    "usage: clmlp eval MODEL [--data DIR] [--backend auto|opencl|host] [--device SPEC] [--json]\n"
    "       clmlp eval MODEL --csv FILE (--label-column COL | --target-columns LIST) [options]\n"
    "\n"
    "Evaluates a saved model (MODEL, or --model FILE) on the test files of DIR\n"
    "(t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz]; DIR as for clmlp train),\n"
    "with the preprocessing stored in the model: accuracy, mean loss and the confusion matrix\n"
    "(rows: true class, columns: predicted).\n"
    "\n"
    "With --csv, on the rows of a CSV file instead (a header row is optional; it is one when\n"
    "a cell of the first row is not a number), standardized as the model's training rows were:\n"
    "  --label-column COL    the column of class labels (integers 0..n_L-1): accuracy, loss and\n"
    "                        the confusion matrix\n"
    "  --target-columns LIST regression targets (n_L of them, e.g. 5 or 2,4 or 2-4 or names):\n"
    "                        loss, RMSE and MAE of the outputs\n"
    "A column is its header name or its number counted from 1; every other column is an input,\n"
    "in file order, as in training.\n"
    "\n"
    "--json prints one JSON object instead: {\"accuracy\",\"loss\",\"n\",\"confusion\"} for\n"
    "classes, {\"loss\",\"rmse\",\"mae\",\"n\"} for targets.\n";

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

/* RMSE and MAE of the outputs against rows->y (already standardized inputs), over every
 * row and output, predicted in batches. */
static int regression_errors(const clmlp_net *net, const cli_rows *rows, double *rmse, double *mae)
{
    enum { BATCH = 1024 };
    size_t n_out = rows->n_out, cells;
    double *y = clmlp_alloc_array(BATCH, n_out * sizeof *y), sq = 0, abs_sum = 0;
    if (!y || !clmlp_mul_ok(rows->count, n_out, &cells)) {
        free(y);
        return cli_error(CLI_RUNTIME, "out of memory");
    }
    for (size_t i = 0; i < rows->count; i += BATCH) {
        size_t b = rows->count - i < BATCH ? rows->count - i : BATCH;
        if (clmlp_predict(net, rows->x + i * rows->n_in, b, y) != CLMLP_OK) {
            free(y);
            return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
        }
        for (size_t k = 0; k < b * n_out; k++) {
            double d = y[k] - rows->y[i * n_out + k];
            sq += d * d;
            abs_sum += fabs(d);
        }
    }
    free(y);
    *rmse = sqrt(sq / (double)cells);
    *mae = abs_sum / (double)cells;
    return CLI_OK;
}

/* The model on a CSV file: labels give the IDX report, targets the regression errors. */
static int eval_csv(clmlp_net *net, const char *model, const cli_data_args *args, clmlp_target target, int json,
                    clmlp_eval *ev)
{
    cli_rows rows;
    clmlp_dataset *data = NULL;
    int rc = cli_csv_rows(args->train_csv, args, &rows);
    if (rc != CLI_OK)
        return rc;
    rc = cli_rows_dataset(net, &rows, target, &data); /* the one-hot encoding the model was trained with */
    if (rc == CLI_OK && clmlp_evaluate(net, data, ev) != CLMLP_OK)
        rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    if (rc == CLI_OK && rows.labels) {
        if (json)
            print_json(ev);
        else {
            fprintf(stderr, "model %s on %s, data %s (%zu rows, %zu inputs, labels)\n", model, clmlp_backend_name(net),
                    args->train_csv, rows.count, rows.n_in);
            print_table(ev);
        }
    } else if (rc == CLI_OK) {
        double rmse = 0, mae = 0;
        rc = regression_errors(net, &rows, &rmse, &mae);
        if (rc == CLI_OK && json)
            printf("{\"loss\":%.9g,\"rmse\":%.9g,\"mae\":%.9g,\"n\":%zu}\n", ev->loss, rmse, mae, ev->n);
        else if (rc == CLI_OK) {
            fprintf(stderr, "model %s on %s, data %s (%zu rows, %zu inputs, %zu target%s)\n", model,
                    clmlp_backend_name(net), args->train_csv, rows.count, rows.n_in, rows.n_out,
                    cli_plural(rows.n_out));
            printf("loss %.6g  rmse %.6g  mae %.6g  n %zu\n", ev->loss, rmse, mae, ev->n);
        }
    }
    clmlp_dataset_destroy(data);
    cli_rows_free(&rows);
    return rc;
}

int cmd_eval(int argc, char **argv)
{
    const char *model = NULL;
    int json = 0;
    cli_data_args args = {0};
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
            return fputs(help, stdout), CLI_OK;
        int took = cli_data_option(&args, opt, val);
        if (took < 0)
            return CLI_USAGE;
        if (took > 0) {
            i += took - 1;
            continue;
        }
        if (strcmp(opt, "--json") == 0)
            json = 1;
        else if (strcmp(opt, "--model") == 0 && val && !model)
            model = argv[++i];
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
    if (args.standardize)
        return cli_error(CLI_USAGE, "eval: --standardize is for train; eval uses the model's standardization");
    if (args.test_csv)
        return cli_error(CLI_USAGE, "eval: give the CSV file as --csv FILE");
    if (args.train_csv && args.data_dir)
        return cli_error(CLI_USAGE, "eval: give --csv FILE or --data DIR, not both");
    if (!args.train_csv && (args.label_column || args.target_columns))
        return cli_error(CLI_USAGE, "eval: --label-column and --target-columns go with --csv FILE");
    if (args.train_csv && !args.label_column && !args.target_columns)
        return cli_error(CLI_USAGE, "eval: with --csv, give --label-column COL or --target-columns LIST");
    char dir[4096], images[4096], labels[4096];
    const char *why = NULL;
    if (!args.train_csv) {
        if (!cli_find_data_dir(args.data_dir, dir, sizeof dir, &why))
            return cli_error(CLI_RUNTIME, "no data: give --data DIR or --csv FILE");
        if (!cli_data_file(dir, "t10k-images-idx3-ubyte", images, sizeof images) ||
            !cli_data_file(dir, "t10k-labels-idx1-ubyte", labels, sizeof labels))
            return cli_error(CLI_RUNTIME, "no %s in %s", images, dir);
    }

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
    else if (args.train_csv)
        rc = eval_csv(net, model, &args, pp.target, json, &ev);
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
