/* `clmlp predict MODEL IDX [INDEX…]` and `clmlp predict MODEL --csv FILE [ROW…]`: the
 * class and outputs (softmax probabilities for softmax-CE) of single images, drawn in the
 * terminal, or of CSV rows; with --all, of every image or row, as CSV or JSON lines,
 * written atomically to --out FILE. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "checked.h"
#include "cli.h"
#include "data.h"

enum { MAX_INDICES = 256, BATCH = 256 };

static const char help[] =
    "usage: clmlp predict MODEL IDX [INDEX...] [options]\n"
    "       clmlp predict MODEL --csv FILE [ROW...] [--label-column COL | --target-columns LIST] [options]\n"
    "\n"
    "Predicts with a saved model (MODEL, or --model FILE): images INDEX (from 0; default 0)\n"
    "of the IDX image file IDX, each drawn as text, or rows ROW of a CSV file (data rows from\n"
    "0, a header row not counted; default 0). Prints the class (the largest output) and the\n"
    "outputs: the softmax probabilities of a softmax-CE model, a[L] (\"scores\") of an MSE\n"
    "model; and the true label when it is known: the CSV's --label-column, or the IDX label\n"
    "file beside the images (…-labels-idx1-ubyte[.gz] for …-images-idx3-ubyte[.gz]) or --labels.\n"
    "\n"
    "  --csv FILE             CSV rows, standardized with the model's standardization; a header\n"
    "                         row is optional (a first row with a non-numeric cell is one)\n"
    "  --label-column COL     the CSV column of true labels, not an input (COL: a header name\n"
    "                         or a column number from 1)\n"
    "  --target-columns LIST  the CSV columns of true targets, not inputs (e.g. 5, 2,4, 2-4)\n"
    "  --labels FILE          the IDX label file of the images\n"
    "  --all                  every image or row, one line each as CSV: image|row,class[,label],\n"
    "                         p_0..p_K-1 (softmax-CE) or y_0..y_K-1 (MSE)[,target_0..]\n"
    "  --out FILE             write those lines (for --all's items, or for the INDEX/ROW given)\n"
    "                         to FILE, atomically (a temporary file renamed over it)\n"
    "  --json                 one JSON object per image or row instead of text (or of CSV lines)\n"
    "  --backend B            auto, opencl or host\n"
    "  --device SPEC          gpu, cpu or PLATFORM:DEVICE\n";

/* What is predicted: images of an IDX file or rows of a CSV file. */
typedef struct source {
    clmlp_net *net;
    size_t n_in, n_out, count;
    int ce, json;
    const char *unit; /* "image" or "row" */
    /* IDX */
    const clmlp_preprocess *pp;
    const uint8_t *pixels;
    size_t rows, cols;
    const uint8_t *labels; /* count, or NULL */
    /* CSV */
    const cli_rows *csv;
    /* the selection: indices[0 … n-1], or every one with all */
    const size_t *indices;
    size_t n_indices;
    int all;
    /* working memory: BATCH × n_in and BATCH × n_out */
    double *x, *y;
    int failed; /* a library call failed inside emit (clmlp_last_error tells) */
} source;

/* Ten shades from light to dark, two characters per pixel to keep the aspect. */
static void draw(const uint8_t *img, size_t rows, size_t cols)
{
    static const char shades[] = " .:-=+*#%@";
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            char ch = shades[img[r * cols + c] * 9 / 255];
            putchar(ch);
            putchar(ch);
        }
        putchar('\n');
    }
}

/* The outputs of items first … first+n−1 of the selection into s->y. */
static int predict_batch(source *s, size_t first, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        size_t i = s->all ? first + k : s->indices[first + k];
        if (s->csv)
            memcpy(s->x + k * s->n_in, s->csv->x + i * s->n_in, s->n_in * sizeof *s->x);
        else if (clmlp_preprocess_apply(s->pp, s->pixels + i * s->rows * s->cols, 1, s->rows, s->cols,
                                        s->x + k * s->n_in) != CLMLP_OK ||
                 clmlp_standardize(s->net, s->x + k * s->n_in, 1) != CLMLP_OK)
            return -1;
    }
    return clmlp_predict(s->net, s->x, n, s->y) == CLMLP_OK ? 0 : -1;
}

static int has_label(const source *s, size_t i, unsigned long *label)
{
    if (s->labels)
        *label = s->labels[i];
    else if (s->csv && s->csv->labels)
        *label = s->csv->labels[i];
    else
        return 0;
    return 1;
}

static const double *targets_of(const source *s, size_t i)
{
    return s->csv && s->csv->y ? s->csv->y + i * s->csv->n_out : NULL;
}

static void json_array(FILE *f, const char *key, const double *v, size_t n)
{
    fprintf(f, ",\"%s\":[", key);
    for (size_t k = 0; k < n; k++)
        fprintf(f, "%s%.9g", k ? "," : "", v[k]);
    fputc(']', f);
}

/* One JSON object on a line. */
static void print_json(FILE *f, const source *s, size_t i, const double *y)
{
    unsigned long label;
    const double *t = targets_of(s, i);
    fprintf(f, "{\"%s\":%zu", s->unit, i);
    if (s->n_out > 1)
        fprintf(f, ",\"class\":%zu", cli_argmax(y, s->n_out));
    if (has_label(s, i, &label))
        fprintf(f, ",\"label\":%lu", label);
    json_array(f, s->ce ? "probabilities" : "scores", y, s->n_out);
    if (t)
        json_array(f, "targets", t, s->n_out);
    fputs("}\n", f);
}

static void print_csv_header(FILE *f, const source *s)
{
    unsigned long label;
    fputs(s->unit, f);
    if (s->n_out > 1)
        fputs(",class", f);
    if (s->count && has_label(s, 0, &label))
        fputs(",label", f);
    for (size_t k = 0; k < s->n_out; k++)
        fprintf(f, ",%s_%zu", s->ce ? "p" : "y", k);
    for (size_t k = 0; s->csv && s->csv->y && k < s->n_out; k++)
        fprintf(f, ",target_%zu", k);
    fputc('\n', f);
}

static void print_csv_line(FILE *f, const source *s, size_t i, const double *y)
{
    unsigned long label;
    const double *t = targets_of(s, i);
    fprintf(f, "%zu", i);
    if (s->n_out > 1)
        fprintf(f, ",%zu", cli_argmax(y, s->n_out));
    if (has_label(s, i, &label))
        fprintf(f, ",%lu", label);
    for (size_t k = 0; k < s->n_out; k++)
        fprintf(f, ",%.9g", y[k]);
    for (size_t k = 0; t && k < s->n_out; k++)
        fprintf(f, ",%.9g", t[k]);
    fputc('\n', f);
}

/* For people: the image drawn, its class and label, the outputs. */
static void print_text(const source *s, size_t i, const double *y)
{
    unsigned long label;
    const double *t = targets_of(s, i);
    if (!s->csv)
        draw(s->pixels + i * s->rows * s->cols, s->rows, s->cols);
    printf("%s %zu:", s->unit, i);
    if (s->n_out > 1)
        printf(" class %zu", cli_argmax(y, s->n_out));
    else
        printf(" output %.6g", y[0]);
    if (has_label(s, i, &label))
        printf(" (label %lu)", label);
    if (t && s->n_out == 1)
        printf(" (target %.6g)", t[0]);
    printf("\n");
    if (s->n_out > 1) {
        printf("%s:", s->ce ? "probabilities" : "scores");
        for (size_t k = 0; k < s->n_out; k++)
            printf(s->ce ? " %zu:%.4f" : " %zu:%.3f", k, y[k]);
        printf("\n");
        if (t) {
            printf("targets:");
            for (size_t k = 0; k < s->n_out; k++)
                printf(" %zu:%.3f", k, t[k]);
            printf("\n");
        }
    }
    printf("\n");
}

/* Every selected item as CSV lines (with a header) or JSON lines: clmlp_atomic_emit. */
static int emit_lines(FILE *f, void *user)
{
    source *s = user;
    size_t n = s->all ? s->count : s->n_indices;
    if (!s->json)
        print_csv_header(f, s);
    for (size_t first = 0; first < n; first += BATCH) {
        size_t b = n - first < BATCH ? n - first : BATCH;
        if (predict_batch(s, first, b) != 0) {
            s->failed = 1;
            errno = EIO;
            return -1;
        }
        for (size_t k = 0; k < b; k++) {
            size_t i = s->all ? first + k : s->indices[first + k];
            if (s->json)
                print_json(f, s, i, s->y + k * s->n_out);
            else
                print_csv_line(f, s, i, s->y + k * s->n_out);
        }
    }
    return 0;
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The label file beside an image file: "images-idx3" → "labels-idx1" (or with '.'),
 * with or without ".gz". 0 when there is none. */
static int find_labels(const char *images, char *path, size_t size)
{
    const char *base = strrchr(images, '/');
    base = base ? base + 1 : images;
    const char *hit = strstr(base, "images-idx3");
    const char *with = "labels-idx1";
    if (!hit) {
        hit = strstr(base, "images.idx3");
        with = "labels.idx1";
    }
    if (!hit)
        return 0;
    int n = snprintf(path, size, "%.*s%s%s", (int)(hit - images), images, with, hit + 11);
    if (n < 0 || (size_t)n >= size)
        return 0;
    if (is_file(path))
        return 1;
    size_t len = (size_t)n;
    if (len > 3 && strcmp(path + len - 3, ".gz") == 0)
        path[len - 3] = '\0';
    else if (len + 3 < size)
        strcat(path, ".gz");
    return is_file(path);
}

/* Loads the labels of count images: from `given` (errors are errors) or found beside the
 * images (a file that does not fit is skipped with a note). */
static int load_labels(const char *given, const char *images, size_t count, clmlp_idx **out)
{
    char found[4096];
    const char *path = given;
    *out = NULL;
    if (!path && !find_labels(images, found, sizeof found))
        return CLI_OK;
    if (!path)
        path = found;
    clmlp_idx *labels = NULL;
    const char *why = NULL;
    char buf[160];
    if (clmlp_idx_load(path, &labels) != CLMLP_OK)
        why = clmlp_last_error();
    else if (clmlp_idx_ndims(labels) != 1 || clmlp_idx_dim(labels, 0) != count) {
        snprintf(buf, sizeof buf, "%zu dimension(s) of %zu, not %zu labels", clmlp_idx_ndims(labels),
                 clmlp_idx_dim(labels, 0), count);
        why = buf;
    }
    if (!why) {
        *out = labels;
        return CLI_OK;
    }
    clmlp_idx_free(labels);
    if (given)
        return cli_error(CLI_RUNTIME, "--labels %s: %s", path, why);
    fprintf(stderr, "clmlp: note: not using the labels in %s: %s\n", path, why);
    return CLI_OK;
}

/* Writes s's lines to `out` atomically, or to stdout when out is NULL. */
static int write_lines(source *s, const char *out)
{
    if (!out) {
        if (emit_lines(stdout, s) != 0)
            return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
        return fflush(stdout) == 0 ? CLI_OK : cli_error(CLI_RUNTIME, "cannot write: %s", strerror(errno));
    }
    const char *what = NULL;
    int r = clmlp_atomic_write(out, emit_lines, s, &what);
    if (s->failed)
        return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    if (r == CLMLP_ATOMIC_REFUSED)
        return cli_error(CLI_RUNTIME, "--out %s: %s, not a regular file: left alone", out, what);
    if (r == CLMLP_ATOMIC_FAILED)
        return cli_error(CLI_RUNTIME, "--out %s: cannot %s: %s", out, what, strerror(errno));
    if (r == CLMLP_ATOMIC_NOT_DURABLE)
        fprintf(stderr, "clmlp: note: --out %s is written, but could not %s: %s\n", out, what, strerror(errno));
    return CLI_OK;
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *file = NULL, *labels_path = NULL, *out = NULL;
    const char *positional[MAX_INDICES + 2];
    size_t indices[MAX_INDICES], n_indices = 0, n_positional = 0;
    int json = 0, all = 0;
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
        else if (strcmp(opt, "--all") == 0)
            all = 1;
        else if ((strcmp(opt, "--model") == 0 || strcmp(opt, "--labels") == 0 || strcmp(opt, "--out") == 0) &&
                 (!val || !*val))
            return cli_error(CLI_USAGE, "predict: missing value for %s", opt);
        else if (strcmp(opt, "--model") == 0)
            model = argv[++i];
        else if (strcmp(opt, "--labels") == 0)
            labels_path = argv[++i];
        else if (strcmp(opt, "--out") == 0)
            out = argv[++i];
        else if (strcmp(opt, "--backend") == 0 && val && cli_parse_backend(val, &cfg.backend))
            i++;
        else if (strcmp(opt, "--device") == 0 && val) {
            if (cli_use_device(argv[++i], &cfg) != CLI_OK)
                return CLI_RUNTIME;
        } else if (opt[0] == '-')
            return cli_error(CLI_USAGE, "predict: unknown option '%s' (see clmlp predict --help)", opt);
        else if (n_positional < MAX_INDICES + 2)
            positional[n_positional++] = opt;
        else
            return cli_error(CLI_USAGE, "predict: at most %d indices", MAX_INDICES);
    }
    size_t p = 0;
    if (!model && p < n_positional)
        model = positional[p++];
    if (!args.train_csv && p < n_positional)
        file = positional[p++];
    for (; p < n_positional; p++) {
        unsigned long long n;
        if (n_indices == MAX_INDICES || !cli_parse_u64(positional[p], 0, UINT32_MAX, &n))
            return cli_error(CLI_USAGE, "predict: '%s' is not an %s index (at most %d)", positional[p],
                             args.train_csv ? "row" : "image", MAX_INDICES);
        indices[n_indices++] = (size_t)n;
    }
    if (!model || (!file && !args.train_csv))
        return cli_error(CLI_USAGE, "predict: give MODEL and IDX, or MODEL --csv FILE (see clmlp predict --help)");
    if (args.standardize || args.test_csv || args.data_dir)
        return cli_error(CLI_USAGE, "predict: %s is not a predict option (see clmlp predict --help)",
                         args.standardize ? "--standardize"
                         : args.test_csv  ? "--test-csv"
                                          : "--data");
    if (!args.train_csv && (args.label_column || args.target_columns))
        return cli_error(CLI_USAGE, "predict: --label-column and --target-columns go with --csv FILE");
    if (args.train_csv && labels_path)
        return cli_error(CLI_USAGE, "predict: --labels is for IDX images; give a CSV's labels as --label-column");
    if (all && n_indices)
        return cli_error(CLI_USAGE, "predict: give indices or --all, not both");
    if (n_indices == 0 && !all)
        indices[n_indices++] = 0;

    clmlp_net *net = NULL;
    clmlp_idx *images = NULL, *labels = NULL;
    cli_rows rows = {0};
    clmlp_preprocess pp;
    source s = {.indices = indices, .n_indices = n_indices, .all = all, .json = json};
    if (clmlp_load(model, &cfg, &net, &pp) != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    int rc = CLI_OK;
    s.net = net;
    s.n_in = clmlp_layer_size(net, 0);
    s.n_out = clmlp_layer_size(net, clmlp_num_layers(net));
    s.ce = clmlp_loss_type(net) == CLMLP_LOSS_SOFTMAX_CE;
    s.x = clmlp_alloc_array(BATCH, s.n_in * sizeof *s.x);
    s.y = clmlp_alloc_array(BATCH, s.n_out * sizeof *s.y);
    if (!s.x || !s.y) {
        rc = cli_error(CLI_RUNTIME, "out of memory");
        goto done;
    }
    if (args.train_csv) {
        s.unit = "row";
        if ((rc = cli_csv_rows(args.train_csv, &args, &rows)) != CLI_OK)
            goto done;
        if (rows.n_in != s.n_in) {
            rc = cli_error(CLI_RUNTIME, "%s: %zu input columns, the model %s takes n_0 = %zu%s", args.train_csv,
                           rows.n_in, model, s.n_in,
                           rows.labels || rows.y ? "" : " (give its label or target columns, which are not inputs)");
            goto done;
        }
        if (rows.y && rows.n_out != s.n_out) {
            rc = cli_error(CLI_RUNTIME, "%s: %zu target columns, the model %s has n_L = %zu outputs", args.train_csv,
                           rows.n_out, model, s.n_out);
            goto done;
        }
        if (clmlp_standardize(net, rows.x, rows.count) != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
            goto done;
        }
        s.csv = &rows;
        s.count = rows.count;
    } else {
        s.unit = "image";
        s.pp = &pp;
        if (clmlp_idx_load(file, &images) != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
            goto done;
        }
        if (clmlp_idx_ndims(images) != 3) {
            rc = cli_error(CLI_RUNTIME, "%s: %zu dimensions, images need 3", file, clmlp_idx_ndims(images));
            goto done;
        }
        s.count = clmlp_idx_dim(images, 0);
        s.rows = clmlp_idx_dim(images, 1);
        s.cols = clmlp_idx_dim(images, 2);
        s.pixels = clmlp_idx_data(images);
        size_t n_image;
        if (clmlp_preprocess_inputs(&pp, s.rows, s.cols, &n_image) != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "%s: %s", file, clmlp_last_error());
            goto done;
        }
        if (n_image != s.n_in) {
            rc = cli_error(CLI_RUNTIME, "%s: images of %zu × %zu give %zu inputs, the model %s takes n_0 = %zu", file,
                           s.rows, s.cols, n_image, model, s.n_in);
            goto done;
        }
        if ((rc = load_labels(labels_path, file, s.count, &labels)) != CLI_OK)
            goto done;
        s.labels = labels ? clmlp_idx_data(labels) : NULL;
    }
    for (size_t k = 0; k < n_indices; k++)
        if (indices[k] >= s.count) {
            rc = cli_error(CLI_RUNTIME, "%s %zu: %s holds %zu %ss (counted from 0)", s.unit, indices[k],
                           args.train_csv ? args.train_csv : file, s.count, s.csv ? "data row" : "image");
            goto done;
        }
    if (all || out) {
        rc = write_lines(&s, out);
        goto done;
    }
    for (size_t k = 0; k < n_indices; k++) {
        if (predict_batch(&s, k, 1) != 0) {
            rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
            goto done;
        }
        if (json)
            print_json(stdout, &s, indices[k], s.y);
        else
            print_text(&s, indices[k], s.y);
    }
done:
    cli_rows_free(&rows);
    clmlp_idx_free(images);
    clmlp_idx_free(labels);
    clmlp_destroy(net);
    free(s.x);
    free(s.y);
    return rc;
}
