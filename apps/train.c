/*
 * `clmlp train`: minibatch training on MNIST-format data or CSV rows, entirely on the
 * device, with a summary line (and optionally a JSON line, CSV row, SVG plot and
 * checkpoint) per epoch. Without --validation the test set is evaluated after every
 * epoch; with it, the held-out training rows are, and the test set once at the end, on
 * the model kept (with --patience the best epoch's).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "data.h"
#include "report.h"
#include "train.h"

enum { MAX_LAYERS = TRAIN_MAX_LAYERS, MAX_EPOCHS = TRAIN_MAX_EPOCHS };

const char *const train_flags[] = {"--json", "--profile", "--standardize", "--mpi", "--help", NULL};

static const char help[] =
    "usage: clmlp train [options]\n"
    "\n"
    "Trains a tanh network on MNIST-format data (train-images-idx3-ubyte[.gz], train-labels-\n"
    "idx1-ubyte[.gz], t10k-…) or on CSV files, and evaluates it on the test set after every\n"
    "epoch (with --validation: on the held-out rows, and on the test set once at the end).\n"
    "\n"
    "data and net:\n"
    "  --data DIR          data directory (default: $CLMLP_DATA, ./data/mnist, then Debian's\n"
    "                      Fashion-MNIST in /usr/share/datasets/fashion-mnist)\n"
    "  --train-csv FILE    train on the rows of a CSV file of numbers instead (a header line\n"
    "                      names the columns); every column that is not a label or target is\n"
    "                      an input\n"
    "  --test-csv FILE     the test rows (same columns); without it there is no test set\n"
    "  --label-column C    the column (NAME or INDEX from 1) of integer classes: one-hot targets\n"
    "  --target-columns L  the columns (names or indices, comma-separated) of regression\n"
    "                      targets: the loss is mse\n"
    "  --standardize       standardize each CSV input column with the mean and std of the\n"
    "                      training rows (all of them, validation rows included); the model\n"
    "                      keeps them\n"
    "  --layers LIST       sizes n_0,...,n_L (default 784,256,128,10; n_0 = crop² with --crop;\n"
    "                      with CSV: inputs,256,128,classes or targets; a LIST must agree)\n"
    "  --loss mse|ce       tanh + squared error (the exercise) or softmax cross-entropy (default\n"
    "                      ce; mse with --target-columns)\n"
    "  --dtype f32|f64     precision (default f32)\n"
    "  --crop N            center crop the images to N×N\n"
    "  --targets 01|pm1    one-hot targets in {0,1} (default) or {-1,+1}\n"
    "  --mean X --std Y    standardize images with these (default: from the training images)\n"
    "  --resume FILE       continue from a checkpoint (--save's file) or a model: its sizes, loss,\n"
    "                      dtype, preprocessing, optimizer state and epoch count (a different\n"
    "                      --layers, --loss, --dtype, --optimizer, --crop, --targets, --mean or\n"
    "                      --std is refused);\n"
    "                      give the same training options and the result equals an uninterrupted\n"
    "                      run; --metrics continues the file's rows\n"
    "device:\n"
    "  --backend B         auto (default), opencl or host\n"
    "  --device SPEC       gpu, cpu or PLATFORM:DEVICE (like CLMLP_DEVICE)\n"
    "training:\n"
    "  --epochs N          epochs (default 5)\n"
    "  --batch N           samples per step (default 128)\n"
    "  --optimizer O       sgd (default) or adam\n"
    "  --lr X              learning rate for the batch-averaged loss (default 0.1)\n"
    "  --momentum X        SGD momentum in [0, 1) (default 0)\n"
    "  --beta1 X --beta2 Y Adam's moment decays in [0, 1) (default 0.9 and 0.999)\n"
    "  --eps X             Adam's epsilon (default 1e-8)\n"
    "  --weight-decay X    L2 weight decay (default 0)\n"
    "  --lr-decay X        multiply the learning rate by X after every epoch (default 1)\n"
    "  --seed N            weights, shuffles and the validation split (default 0)\n"
    "  --validation F      hold out the fraction F in (0, 1) of the training rows (a shuffle\n"
    "                      seeded by --seed): evaluated after every epoch, the test set at the end\n"
    "  --patience N        with --validation: stop when the validation loss has not improved for\n"
    "                      N epochs, and keep the best epoch's model (--save then holds the\n"
    "                      checkpoint of the best epoch so far)\n"
    "output:\n"
    "  --save FILE         save a checkpoint after every epoch (atomically), and on SIGINT/SIGTERM\n"
    "  --metrics FILE.csv  one row per epoch\n"
    "  --plot FILE.svg     loss and accuracy curves, redrawn after every epoch\n"
    "  --json              on stdout, one JSON object describing the run, one per epoch and one\n"
    "                      with the result; human output goes to stderr\n"
    "  --profile           after every epoch, each kernel's launches and device time (OpenCL;\n"
    "                      also with CLMLP_PROFILE=1)\n"
    "  --help              this text\n";

static const char help_mpi[] = /* (one string would pass the length C compilers must support) */
    "MPI (under mpirun -np K; a build with MPI):\n"
    "  --mpi               data-parallel over the K ranks: one model, --batch the global batch,\n"
    "                      every rank trains its share of each step's rows on its device (by its\n"
    "                      rank on the machine, unless --device or CLMLP_DEVICE choose); rank 0\n"
    "                      alone prints and writes files; --resume's file must be readable by\n"
    "                      every rank (rank 0's state is the one continued)\n"
    "  --mpi-timeout S     a rank that does not answer within S seconds fails the job (default 300)\n";

static int parse_optimizer(const char *text, clmlp_optimizer *out)
{
    if (strcmp(text, "sgd") == 0)
        *out = CLMLP_OPT_SGD;
    else if (strcmp(text, "adam") == 0)
        *out = CLMLP_OPT_ADAM;
    else
        return 0;
    return 1;
}

static const char *optimizer_name(clmlp_optimizer o) { return o == CLMLP_OPT_ADAM ? "adam" : "sgd"; }
static const char *loss_name(clmlp_loss l) { return l == CLMLP_LOSS_MSE ? "mse" : "ce"; }
static const char *dtype_name(clmlp_dtype d) { return d == CLMLP_F64 ? "f64" : "f32"; }
static const char *target_name(clmlp_target t) { return t == CLMLP_TARGET_ONEHOT_PM1 ? "pm1" : "01"; }

/* The checks between options once all are read. */
static int check_options(const train_args *o)
{
    const cli_data_args *d = &o->data;
    if (o->mean_given != o->std_given)
        return cli_error(CLI_USAGE, "%s: --mean and --std go together", o->who);
    if (o->patience && !o->validation)
        return cli_error(CLI_USAGE, "%s: --patience needs --validation (the loss it watches)", o->who);
    if (o->train.optimizer == CLMLP_OPT_ADAM && o->momentum_given)
        return cli_error(CLI_USAGE, "%s: --momentum is SGD's; Adam's first moment decays with --beta1", o->who);
    if (o->train.optimizer == CLMLP_OPT_SGD && o->adam_given)
        return cli_error(CLI_USAGE, "%s: --beta1, --beta2 and --eps are Adam's (add --optimizer adam)", o->who);
    if (!d->train_csv) {
        if (d->test_csv || d->label_column || d->target_columns || d->standardize)
            return cli_error(CLI_USAGE, "%s: %s needs --train-csv", o->who,
                             d->test_csv         ? "--test-csv"
                             : d->label_column   ? "--label-column"
                             : d->target_columns ? "--target-columns"
                                                 : "--standardize");
        return CLI_OK;
    }
    if (d->data_dir)
        return cli_error(CLI_USAGE, "%s: --data (IDX files) and --train-csv exclude each other", o->who);
    if (o->crop_given || o->mean_given)
        return cli_error(CLI_USAGE, "%s: %s is for images; CSV inputs are scaled with --standardize", o->who,
                         o->crop_given ? "--crop" : "--mean/--std");
    if (d->label_column && d->target_columns)
        return cli_error(CLI_USAGE,
                         "%s: --label-column (classes) and --target-columns (regression) exclude "
                         "each other",
                         o->who);
    if (d->target_columns && o->loss_given && o->cfg.loss != CLMLP_LOSS_MSE)
        return cli_error(CLI_USAGE,
                         "%s: --target-columns are regression targets, trained with --loss mse, "
                         "not --loss %s",
                         o->who, loss_name(o->cfg.loss));
    if (d->target_columns && o->targets_given)
        return cli_error(CLI_USAGE, "%s: --targets shapes one-hot labels; --target-columns are used as they are",
                         o->who);
    return CLI_OK;
}

int train_parse(int argc, char **argv, const char *cmd, const char *who, train_args *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->who = who;
    o->mpi_timeout = 300;
    clmlp_config_init(&o->cfg);
    o->cfg.dtype = CLMLP_F32;
    o->cfg.loss = CLMLP_LOSS_SOFTMAX_CE;
    clmlp_preprocess_init(&o->pp);
    clmlp_train_options_init(&o->train);
    o->epochs = 5;
    int mpi_timeout_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--mpi") == 0) {
            o->mpi = 1;
            continue;
        }
        if (strcmp(opt, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(opt, "--profile") == 0) {
            o->cfg.profile = 1;
            continue;
        }
        int took = cli_data_option(&o->data, opt, val); /* --data, the CSV options, --standardize */
        if (took < 0)
            return CLI_USAGE;
        if (took > 0) {
            i += took - 1;
            continue;
        }
        if (strncmp(opt, "--", 2) != 0 || !val)
            return cli_error(CLI_USAGE, "%s: %s '%s' (see clmlp %s --help)", o->who,
                             strncmp(opt, "--", 2) ? "unexpected argument" : "missing value for", opt, o->cmd);
        i++;
        int ok = 1;
        if (strcmp(opt, "--device") == 0)
            o->device = val;
        else if (strcmp(opt, "--save") == 0)
            o->save = val;
        else if (strcmp(opt, "--resume") == 0)
            o->resume = val;
        else if (strcmp(opt, "--metrics") == 0)
            o->metrics = val;
        else if (strcmp(opt, "--plot") == 0)
            o->plot = val;
        else if (strcmp(opt, "--layers") == 0) {
            o->n_sizes = cli_parse_sizes(val, o->sizes, MAX_LAYERS + 1);
            o->layers_given = 1;
            ok = o->n_sizes >= 2;
        } else if (strcmp(opt, "--loss") == 0) {
            ok = cli_parse_loss(val, &o->cfg.loss);
            o->loss_given = 1;
        } else if (strcmp(opt, "--dtype") == 0) {
            ok = cli_parse_dtype(val, &o->cfg.dtype);
            o->dtype_given = 1;
        } else if (strcmp(opt, "--backend") == 0)
            ok = cli_parse_backend(val, &o->cfg.backend);
        else if (strcmp(opt, "--crop") == 0) {
            ok = cli_parse_size(val, 1, 1u << 16, &o->pp.crop);
            o->crop_given = 1;
        } else if (strcmp(opt, "--targets") == 0) {
            ok = cli_parse_target(val, &o->pp.target);
            o->targets_given = 1;
        } else if (strcmp(opt, "--mean") == 0) {
            ok = cli_parse_double(val, -1e6, 1e6, &o->pp.mean);
            o->mean_given = 1;
        } else if (strcmp(opt, "--std") == 0) {
            ok = cli_parse_double(val, 1e-12, 1e6, &o->pp.std);
            o->std_given = 1;
        } else if (strcmp(opt, "--epochs") == 0)
            ok = cli_parse_u64(val, 1, MAX_EPOCHS, &o->epochs);
        else if (strcmp(opt, "--batch") == 0)
            ok = cli_parse_size(val, 1, 1u << 20, &o->train.batch);
        else if (strcmp(opt, "--optimizer") == 0)
            ok = parse_optimizer(val, &o->train.optimizer);
        else if (strcmp(opt, "--lr") == 0)
            ok = cli_parse_double(val, 0, 1e6, &o->train.lr);
        else if (strcmp(opt, "--momentum") == 0) {
            ok = cli_parse_double(val, 0, 0.999999, &o->train.momentum);
            o->momentum_given = 1;
        } else if (strcmp(opt, "--beta1") == 0 || strcmp(opt, "--beta2") == 0) {
            ok = cli_parse_double(val, 0, 0.999999999, opt[6] == '1' ? &o->train.beta1 : &o->train.beta2);
            o->adam_given = 1;
        } else if (strcmp(opt, "--eps") == 0) {
            ok = cli_parse_double(val, 1e-300, 1, &o->train.eps) && o->train.eps > 0;
            o->adam_given = 1;
        } else if (strcmp(opt, "--weight-decay") == 0)
            ok = cli_parse_double(val, 0, 1e6, &o->train.weight_decay);
        else if (strcmp(opt, "--lr-decay") == 0)
            ok = cli_parse_double(val, 1e-6, 1e6, &o->train.lr_decay);
        else if (strcmp(opt, "--seed") == 0)
            ok = cli_parse_u64(val, 0, UINT64_MAX, &o->seed);
        else if (strcmp(opt, "--validation") == 0)
            ok = cli_parse_double(val, 0, 1, &o->validation) && o->validation > 0 && o->validation < 1;
        else if (strcmp(opt, "--patience") == 0)
            ok = cli_parse_u64(val, 1, MAX_EPOCHS, &o->patience);
        else if (strcmp(opt, "--mpi-timeout") == 0) {
            ok = cli_parse_double(val, 1e-3, 1e6, &o->mpi_timeout);
            mpi_timeout_given = 1;
        } else
            return cli_error(CLI_USAGE, "%s: unknown option '%s' (see clmlp %s --help)", o->who, opt, o->cmd);
        if (!ok)
            return cli_error(CLI_USAGE, "%s: bad value '%s' for %s (see clmlp %s --help)", o->who, val, opt, o->cmd);
    }
    if (mpi_timeout_given && !o->mpi)
        return cli_error(CLI_USAGE, "%s: --mpi-timeout needs --mpi", o->who);
    o->cfg.seed = o->train.seed = o->seed; /* weights and shuffles */
    if (o->mean_given && o->std_given)
        o->pp.normalize = CLMLP_NORMALIZE_GIVEN;
    int rc = check_options(o);
    return rc != CLI_OK ? rc : cli_use_device(o->device, &o->cfg);
}

/* SIGINT or SIGTERM received: set by the handler on whichever thread it runs, read by
 * every training (a sweep's jobs run on several threads): a lock-free atomic, which C11
 * allows a handler to write. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the stop flag must be lock-free to be set by a signal handler");
static atomic_int stop_signal;

static void on_signal(int sig) { atomic_store(&stop_signal, sig); }

void train_catch_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

int train_stop_signal(void) { return atomic_load(&stop_signal); }

typedef struct {
    report_progress bar;
    size_t epoch;
} progress_state;

/* Called every few steps: draws the bar and stops the epoch when a signal came. */
static int on_progress(void *user, size_t done, size_t total, double running_loss)
{
    progress_state *p = user;
    report_progress_update(&p->bar, p->epoch, done, total, running_loss);
    return atomic_load(&stop_signal) != 0;
}

/* ---- the data ---- */

typedef struct {
    int csv;
    char dir[4096];
    const char *why;                         /* IDX: which rule picked the directory */
    cli_rows train_rows, test_rows;          /* CSV */
    int has_test_rows, labels;               /* CSV: a test file; classification (else regression) */
    size_t n_in, n_out;                      /* CSV: inputs, and classes or targets */
    clmlp_dataset *all, *train, *val, *test; /* all: the training rows before the split */
} data_state;

static int load_split(clmlp_net *net, const char *dir, const char *split, clmlp_preprocess *pp, clmlp_dataset **out)
{
    char images[4096], labels[4096], stem[64];
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", split);
    if (!cli_data_file(dir, stem, images, sizeof images))
        return cli_error(CLI_RUNTIME, "no %s in %s", stem, dir);
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", split);
    if (!cli_data_file(dir, stem, labels, sizeof labels))
        return cli_error(CLI_RUNTIME, "no %s in %s", stem, dir);
    clmlp_status s = clmlp_dataset_load(net, images, labels, pp, out);
    if (s != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    return CLI_OK;
}

/* Reads the CSV files (before the net exists: they give its n_0 and n_L). */
static int read_csv(const train_args *o, data_state *d)
{
    int rc = cli_csv_rows(o->data.train_csv, &o->data, &d->train_rows);
    if (rc != CLI_OK)
        return rc;
    d->labels = d->train_rows.labels != NULL;
    d->n_in = d->train_rows.n_in;
    d->n_out = d->labels ? d->train_rows.classes : d->train_rows.n_out;
    if (!o->data.test_csv)
        return CLI_OK;
    if ((rc = cli_csv_rows(o->data.test_csv, &o->data, &d->test_rows)) != CLI_OK)
        return rc;
    d->has_test_rows = 1;
    const cli_rows *t = &d->test_rows;
    if (t->n_in != d->n_in)
        return cli_error(CLI_RUNTIME, "--test-csv %s has %zu input column%s, --train-csv %s has %zu", o->data.test_csv,
                         t->n_in, cli_plural(t->n_in), o->data.train_csv, d->n_in);
    if (!d->labels && t->n_out != d->n_out)
        return cli_error(CLI_RUNTIME, "--test-csv %s has %zu target column%s, --train-csv %s has %zu", o->data.test_csv,
                         t->n_out, cli_plural(t->n_out), o->data.train_csv, d->n_out);
    if (d->labels && t->classes > d->n_out)
        d->n_out = t->classes; /* a class only the test rows have still needs an output */
    return CLI_OK;
}

/* ---- the net ---- */

/* With --resume: the options that describe the net must agree with the checkpoint's. */
static int check_resumed(const train_args *o, const clmlp_net *net, const clmlp_preprocess *saved, const data_state *d,
                         size_t epochs_done)
{
    char have[512], want[512];
    cli_format_net(net, have, sizeof have);
    size_t L = clmlp_num_layers(net);
    if (o->layers_given) {
        int same = o->n_sizes == L + 1;
        for (size_t l = 0; same && l <= L; l++)
            same = o->sizes[l] == clmlp_layer_size(net, l);
        cli_format_sizes(o->sizes, o->n_sizes, want, sizeof want);
        if (!same)
            return cli_error(CLI_RUNTIME, "--resume %s: the checkpoint's net is %s, --layers gives %s", o->resume, have,
                             want);
    }
    if (o->loss_given && o->cfg.loss != clmlp_loss_type(net))
        return cli_error(CLI_RUNTIME, "--resume %s: the checkpoint's loss is %s, --loss gives %s", o->resume,
                         loss_name(clmlp_loss_type(net)), loss_name(o->cfg.loss));
    if (o->dtype_given && o->cfg.dtype != clmlp_dtype_of(net))
        return cli_error(CLI_RUNTIME, "--resume %s: the checkpoint's dtype is %s, --dtype gives %s", o->resume,
                         dtype_name(clmlp_dtype_of(net)), dtype_name(o->cfg.dtype));
    if (o->crop_given && o->pp.crop != saved->crop)
        return cli_error(CLI_RUNTIME, "--resume %s: the checkpoint's crop is %zu, --crop gives %zu", o->resume,
                         saved->crop, o->pp.crop);
    if (o->targets_given && o->pp.target != saved->target)
        return cli_error(CLI_RUNTIME, "--resume %s: the checkpoint's targets are %s, --targets gives %s", o->resume,
                         target_name(saved->target), target_name(o->pp.target));
    if (o->mean_given &&
        (saved->normalize == CLMLP_NORMALIZE_NONE || o->pp.mean != saved->mean || o->pp.std != saved->std))
        return cli_error(CLI_RUNTIME,
                         "--resume %s: the checkpoint standardizes with mean %.9g and std %.9g, "
                         "--mean and --std give %.9g and %.9g",
                         o->resume, saved->mean, saved->std, o->pp.mean, o->pp.std);
    /* Adam's moments, or SGD's velocities after trained epochs, would silently start afresh */
    clmlp_optimizer state_of = CLMLP_OPT_SGD;
    uint64_t adam_steps = 0;
    if (clmlp_optimizer_state(net, &state_of, &adam_steps) != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "--resume %s: %s", o->resume, clmlp_last_error());
    if (state_of != o->train.optimizer && (adam_steps > 0 || epochs_done > 0))
        return cli_error(CLI_RUNTIME,
                         "--resume %s: the checkpoint was trained with --optimizer %s, --optimizer gives %s", o->resume,
                         optimizer_name(state_of), optimizer_name(o->train.optimizer));
    if (!d->csv)
        return CLI_OK;
    if (clmlp_layer_size(net, 0) != d->n_in)
        return cli_error(CLI_RUNTIME,
                         "--resume %s: the checkpoint's net %s takes %zu inputs, %s has %zu input column%s", o->resume,
                         have, clmlp_layer_size(net, 0), o->data.train_csv, d->n_in, cli_plural(d->n_in));
    size_t n_L = clmlp_layer_size(net, L);
    if (d->labels ? n_L < d->n_out : n_L != d->n_out)
        return cli_error(CLI_RUNTIME, "--resume %s: the checkpoint's net %s has %zu output%s, the data has %zu %s",
                         o->resume, have, n_L, cli_plural(n_L), d->n_out, d->labels ? "classes" : "target columns");
    if (!d->labels && clmlp_loss_type(net) != CLMLP_LOSS_MSE)
        return cli_error(CLI_RUNTIME, "--resume %s: the checkpoint's loss is ce, regression targets need mse",
                         o->resume);
    int present = 0;
    if (o->data.standardize && clmlp_get_standardization(net, NULL, NULL, &present) == CLMLP_OK && !present)
        return cli_error(CLI_RUNTIME,
                         "--resume %s: --standardize, but the checkpoint has no standardization to "
                         "continue with",
                         o->resume);
    return CLI_OK;
}

/* Creates the net (or loads it with --resume); *fallback receives why AUTO took the
 * host path ("" when it did not). */
static int create_net(train_args *o, const data_state *d, clmlp_net **net, size_t *epochs_done, char *fallback,
                      size_t fallback_size)
{
    clmlp_status s;
    *epochs_done = 0;
    if (o->resume) {
        clmlp_preprocess saved;
        s = clmlp_load_checkpoint(o->resume, &o->cfg, net, &saved, epochs_done);
        if (s != CLMLP_OK)
            return cli_error(CLI_RUNTIME, "--resume: %s", clmlp_last_error());
        int rc = check_resumed(o, *net, &saved, d, *epochs_done);
        if (rc != CLI_OK)
            return rc;
        o->pp = saved;
    } else {
        if (d->csv) {
            if (o->layers_given && (o->sizes[0] != d->n_in || o->sizes[o->n_sizes - 1] != d->n_out)) {
                char want[512];
                cli_format_sizes(o->sizes, o->n_sizes, want, sizeof want);
                return cli_error(CLI_RUNTIME, "--layers %s does not fit %s: %zu input column%s and %zu %s", want,
                                 o->data.train_csv, d->n_in, cli_plural(d->n_in), d->n_out,
                                 d->labels ? "classes" : "target columns");
            }
            if (!o->layers_given) {
                const size_t defaults[] = {d->n_in, 256, 128, d->n_out};
                memcpy(o->sizes, defaults, sizeof defaults);
                o->n_sizes = 4;
            }
            if (!d->labels)
                o->cfg.loss = CLMLP_LOSS_MSE; /* regression targets */
            /* CSV inputs are not pixels: the file says so (the standardization is the net's) */
            o->pp.scale_255 = 0;
            o->pp.normalize = CLMLP_NORMALIZE_NONE;
        } else if (!o->layers_given) {
            size_t side = o->pp.crop ? o->pp.crop : 28;
            const size_t defaults[] = {side * side, 256, 128, 10};
            memcpy(o->sizes, defaults, sizeof defaults);
            o->n_sizes = 4;
        }
        s = clmlp_create(o->sizes, o->n_sizes, &o->cfg, net);
        if (s != CLMLP_OK)
            return cli_error(CLI_RUNTIME, "%s: %s", clmlp_strerror(s), clmlp_last_error());
    }
    /* (a resumed checkpoint's net is created the same way: the library knows why) */
    snprintf(fallback, fallback_size, "%s", clmlp_fallback_reason(*net));
    return CLI_OK;
}

/* The datasets on the net: the training rows (split into training and validation
 * rows with --validation) and the test rows. */
static int load_data(train_args *o, clmlp_net *net, data_state *d)
{
    int rc;
    if (d->csv) {
        int present = 0;
        if (o->data.standardize && clmlp_get_standardization(net, NULL, NULL, &present) == CLMLP_OK && !present &&
            (rc = cli_rows_fit_standardization(net, &d->train_rows)) != CLI_OK)
            return rc;
        if ((rc = cli_rows_dataset(net, &d->train_rows, o->pp.target, &d->all)) != CLI_OK)
            return rc;
        if (d->has_test_rows && (rc = cli_rows_dataset(net, &d->test_rows, o->pp.target, &d->test)) != CLI_OK)
            return rc;
    } else if ((rc = load_split(net, d->dir, "train", &o->pp, &d->all)) != CLI_OK ||
               (rc = load_split(net, d->dir, "t10k", &o->pp, &d->test)) != CLI_OK)
        return rc;
    if (!o->validation) {
        d->train = d->all;
        return CLI_OK;
    }
    if (clmlp_dataset_split(d->all, o->validation, o->seed, &d->val, &d->train) != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "--validation %g: %s", o->validation, clmlp_last_error());
    return CLI_OK;
}

/* ---- what the run prints first ---- */

static void print_header(FILE *out, const clmlp_net *net, const train_args *o, const data_state *d,
                         const char *fallback)
{
    char sizes[512];
    cli_format_net(net, sizes, sizeof sizes);
    if (*fallback)
        fprintf(out, "no usable OpenCL device: %s, training on the host path\n", fallback);
    fprintf(out, "net: %s, %s, %s, on %s\n", sizes,
            clmlp_loss_type(net) == CLMLP_LOSS_MSE ? "tanh + MSE" : "softmax-CE", dtype_name(clmlp_dtype_of(net)),
            clmlp_backend_name(net));
    const clmlp_train_options *t = &o->train;
    fprintf(out, "training: %llu epoch%s, batch %zu, lr %g, ", o->epochs, cli_plural(o->epochs), t->batch, t->lr);
    if (t->optimizer == CLMLP_OPT_ADAM)
        fprintf(out, "adam (beta1 %g, beta2 %g, eps %g)", t->beta1, t->beta2, t->eps);
    else
        fprintf(out, "momentum %g", t->momentum);
    fprintf(out, ", weight decay %g, lr decay %g, seed %llu\n", t->weight_decay, t->lr_decay,
            (unsigned long long)t->seed);
    size_t n_train = clmlp_dataset_count(d->train), n_val = d->val ? clmlp_dataset_count(d->val) : 0;
    size_t n_test = d->test ? clmlp_dataset_count(d->test) : 0;
    const char *unit = d->csv ? "rows" : "images";
    if (o->validation) {
        fprintf(out, "validation: %zu of the %zu training %s (%g, seeded by --seed)", n_val, n_train + n_val, unit,
                o->validation);
        if (o->patience)
            fprintf(out, "; patience %llu epoch%s, the best epoch's model is kept", o->patience,
                    cli_plural(o->patience));
        fputc('\n', out);
    }
    char counts[256];
    int used = snprintf(counts, sizeof counts, "%zu training", n_train);
    if (o->validation)
        used +=
            snprintf(counts + used, sizeof counts - (size_t)used, "%s%zu validation", d->test ? ", " : " and ", n_val);
    if (d->test)
        snprintf(counts + used, sizeof counts - (size_t)used, " and %zu test", n_test);
    if (d->csv) {
        int present = 0;
        clmlp_get_standardization(net, NULL, NULL, &present);
        fprintf(out, "inputs: %zu column%s, %s; %zu %s%s; %s %s%s\n", d->n_in, cli_plural(d->n_in),
                present ? "standardized per column (the model's mean and std)" : "as in the file", d->n_out,
                d->labels ? "class" : "regression target",
                d->n_out == 1 ? ""
                : d->labels   ? "es"
                              : "s",
                counts, unit, d->test ? "" : " (no test set: no --test-csv)");
    } else
        fprintf(out, "inputs: %s, standardized with mean %.4f and std %.4f; %s %s\n",
                o->pp.scale_255 ? "pixels/255" : "pixels", o->pp.mean, o->pp.std, counts, unit);
}

static void json_key(FILE *out, const char *key, int first) { fprintf(out, "%s\"%s\":", first ? "" : ",", key); }

static void json_opt_string(FILE *out, const char *key, const char *value)
{
    json_key(out, key, 0);
    report_json_string(out, value);
}

static void json_num(FILE *out, const char *key, double v)
{
    json_key(out, key, 0);
    report_json_number(out, v);
}

/* The first JSON object of --json: everything about the run before it starts. */
static void print_run_json(FILE *out, const clmlp_net *net, const train_args *o, const data_state *d,
                           const char *fallback, size_t first, const cli_ranks *ranks)
{
    fputs("{\"type\":\"run\",\"net\":{\"sizes\":[", out);
    for (size_t l = 0; l <= clmlp_num_layers(net); l++)
        fprintf(out, "%s%zu", l ? "," : "", clmlp_layer_size(net, l));
    fprintf(out, "],\"loss\":\"%s\",\"dtype\":\"%s\"}", loss_name(clmlp_loss_type(net)),
            dtype_name(clmlp_dtype_of(net)));
    json_opt_string(out, "backend", clmlp_backend_name(net));
    json_opt_string(out, "host_fallback", *fallback ? fallback : NULL);
    json_opt_string(out, "kernels", clmlp_kernel_info(net));
    if (ranks) /* only under --mpi: a run alone prints what it always did */
        fprintf(out, ",\"mpi\":{\"ranks\":%d,\"timeout_s\":%g}", ranks->size, o->mpi_timeout);
    const clmlp_train_options *t = &o->train;
    fprintf(out, ",\"training\":{\"epochs\":%llu,\"first_epoch\":%zu,\"last_epoch\":%llu,\"batch\":%zu", o->epochs,
            first + 1, first + o->epochs, t->batch);
    json_opt_string(out, "optimizer", optimizer_name(t->optimizer));
    json_num(out, "lr", t->lr);
    json_num(out, "momentum", t->momentum);
    json_num(out, "beta1", t->beta1);
    json_num(out, "beta2", t->beta2);
    json_num(out, "eps", t->eps);
    json_num(out, "weight_decay", t->weight_decay);
    json_num(out, "lr_decay", t->lr_decay);
    fprintf(out, ",\"seed\":%llu", (unsigned long long)t->seed);
    json_num(out, "validation", o->validation ? o->validation : NAN);
    json_key(out, "patience", 0);
    if (o->patience)
        fprintf(out, "%llu", o->patience);
    else
        fputs("null", out);
    fputs("},\"data\":{", out);
    size_t n_val = d->val ? clmlp_dataset_count(d->val) : 0;
    if (d->csv) {
        fputs("\"source\":\"csv\"", out);
        json_opt_string(out, "train_csv", o->data.train_csv);
        json_opt_string(out, "test_csv", o->data.test_csv);
        json_opt_string(out, "label_column", o->data.label_column);
        json_opt_string(out, "target_columns", o->data.target_columns);
        int present = 0;
        clmlp_get_standardization(net, NULL, NULL, &present);
        fprintf(out, ",\"standardized\":%s,\"inputs\":%zu,\"%s\":%zu", present ? "true" : "false", d->n_in,
                d->labels ? "classes" : "targets", d->n_out);
        if (d->labels)
            json_opt_string(out, "one_hot", target_name(o->pp.target));
    } else {
        fputs("\"source\":\"idx\"", out);
        json_opt_string(out, "dir", d->dir);
        json_opt_string(out, "dir_from", d->why);
        fprintf(out, ",\"scale_255\":%s,\"crop\":%zu", o->pp.scale_255 ? "true" : "false", o->pp.crop);
        json_num(out, "mean", o->pp.mean);
        json_num(out, "std", o->pp.std);
        json_opt_string(out, "one_hot", target_name(o->pp.target));
    }
    fprintf(out, ",\"train\":%zu,\"validation\":%zu,\"test\":%zu}", clmlp_dataset_count(d->train), n_val,
            d->test ? clmlp_dataset_count(d->test) : 0);
    json_opt_string(out, "resume", o->resume);
    fprintf(out, ",\"epochs_done_before\":%zu", first);
    json_opt_string(out, "save", o->save);
    json_opt_string(out, "metrics", o->metrics);
    json_opt_string(out, "plot", o->plot);
    fputs("}\n", out);
    fflush(out);
}

/* ---- the history of --metrics across --resume ---- */

/* The rows of the epochs before this run (1 … first) from the metrics file. */
static int read_history(const train_args *o, size_t first, FILE *human /* NULL: quiet */, report_row **rows, size_t *n)
{
    *rows = NULL;
    *n = 0;
    if (!o->resume || !o->metrics || first == 0)
        return CLI_OK;
    size_t line = 0, read = 0;
    report_row *old = NULL;
    if (report_read_metrics(o->metrics, &old, &read, &line) != 0) {
        if (errno == ENOENT) {
            if (human)
                fprintf(human, "metrics: %s does not exist yet; it starts with epoch %zu\n", o->metrics, first + 1);
            return CLI_OK;
        }
        if (errno == EINVAL)
            return cli_error(CLI_RUNTIME,
                             "--metrics %s: line %zu is not a clmlp metrics row; cannot continue the "
                             "file (move it away to start a new one)",
                             o->metrics, line);
        return cli_error(CLI_RUNTIME, "--metrics %s: cannot read it to continue it: %s", o->metrics, strerror(errno));
    }
    size_t kept = 0, later = 0;
    for (size_t i = 0; i < read; i++) {
        if (old[i].e.epoch <= first && (kept == 0 || old[i].e.epoch > old[kept - 1].e.epoch))
            old[kept++] = old[i];
        else if (old[i].e.epoch > first)
            later++;
    }
    if (later && human)
        fprintf(human, "metrics: %zu row%s of epochs after %zu dropped from %s (they are trained again)\n", later,
                cli_plural(later), first, o->metrics);
    if (kept < first && human)
        fprintf(human, "metrics: %s has rows for %zu of the %zu epoch%s done before\n", o->metrics, kept, first,
                cli_plural(first));
    *rows = old;
    *n = kept;
    return CLI_OK;
}

/* ---- the best epoch, kept in memory with --patience ---- */

typedef struct {
    double *W, *b; /* every layer's, one after the other */
    size_t epoch;  /* 0: none yet */
    double loss;
} snapshot;

static int snapshot_take(snapshot *s, const clmlp_net *net)
{
    size_t L = clmlp_num_layers(net), nw = 0, nb = 0;
    for (size_t l = 1; l <= L; l++) {
        nw += clmlp_layer_size(net, l) * clmlp_layer_size(net, l - 1);
        nb += clmlp_layer_size(net, l);
    }
    if (!s->W) {
        s->W = malloc(nw * sizeof *s->W);
        s->b = malloc(nb * sizeof *s->b);
        if (!s->W || !s->b)
            return cli_error(CLI_RUNTIME, "--patience: cannot allocate a copy of %zu weights", nw + nb);
    }
    double *W = s->W, *b = s->b;
    for (size_t l = 1; l <= L; l++) {
        if (clmlp_get_layer(net, l, W, b) != CLMLP_OK)
            return cli_error(CLI_RUNTIME, "--patience: %s", clmlp_last_error());
        W += clmlp_layer_size(net, l) * clmlp_layer_size(net, l - 1);
        b += clmlp_layer_size(net, l);
    }
    return CLI_OK;
}

static int snapshot_restore(const snapshot *s, clmlp_net *net)
{
    const double *W = s->W, *b = s->b;
    for (size_t l = 1; l <= clmlp_num_layers(net); l++) {
        if (clmlp_set_layer(net, l, W, b) != CLMLP_OK)
            return cli_error(CLI_RUNTIME, "--patience: %s", clmlp_last_error());
        W += clmlp_layer_size(net, l) * clmlp_layer_size(net, l - 1);
        b += clmlp_layer_size(net, l);
    }
    return CLI_OK;
}

/* ---- the run ---- */

static int write_history(const train_args *o, const report_row *rows, size_t n)
{
    if (o->metrics && report_write_metrics(o->metrics, rows, n) != 0)
        return cli_error(CLI_RUNTIME, "--metrics %s: cannot write: %s", o->metrics, strerror(errno));
    if (o->plot && report_write_plot(o->plot, rows, n, "clmlp train") != 0)
        return cli_error(CLI_RUNTIME, "--plot %s: cannot write: %s", o->plot, strerror(errno));
    return CLI_OK;
}

static void print_epoch(FILE *out, const report_row *r, size_t last, int accuracy)
{
    fprintf(out, "epoch %zu/%zu  train loss %.4f", r->e.epoch, last, r->e.train_loss);
    if (r->has_val) {
        fprintf(out, "  val loss %.4f", r->val_loss);
        if (accuracy)
            fprintf(out, "  val accuracy %.2f%%", 100 * r->val_accuracy);
    }
    if (!r->no_test) {
        fprintf(out, "  test loss %.4f", r->e.test_loss);
        if (accuracy)
            fprintf(out, "  test accuracy %.2f%%", 100 * r->e.test_accuracy);
    }
    fprintf(out, "  %.1f s  %.0f samples/s\n", r->e.seconds, r->e.samples_per_s);
}

/* ---- under --mpi: what the ranks agree on ---- */

static int is_rank_0(const train_context *x) { return !x->ranks || x->ranks->rank == 0; }

/* A collective call failed: every rank returns from it, and rank 0's message names the
 * rank that failed; the communicator is unusable, so the job ends with MPI_Abort. */
static int collective_failed(train_context *x, const char *what)
{
    x->abort_job = x->ranks != NULL;
    return is_rank_0(x) ? cli_error(CLI_RUNTIME, "%s: %s", what, clmlp_last_error()) : CLI_RUNTIME;
}

/* After each rank's own setup (data, net, checkpoint) the ranks learn whether any failed
 * (the first to fail says why); then a rank's own failure is its own to tell. */
static int agree_on_setup(train_context *x, int rc)
{
    if (!x->ranks)
        return rc;
    rc = ranks_agree(x->ranks, rc, &x->abort_job);
    cli_error_silence(0);
    return rc;
}

/* A signal stops the rank that received it, and the library stops the others within the
 * epoch; after it every rank learns which signal it was, so that all leave together. */
static int agree_on_signal(train_context *x, size_t epoch, int *sig)
{
    if (!x->ranks)
        return CLI_OK;
    double got[2] = {*sig == SIGINT, *sig == SIGTERM};
    if (ranks_sum(x->ranks, got, 2) != CLMLP_OK) {
        char what[64];
        snprintf(what, sizeof what, "epoch %zu", epoch);
        return collective_failed(x, what);
    }
    *sig = got[1] > 0 ? SIGTERM : got[0] > 0 ? SIGINT : 0;
    return CLI_OK;
}

/* Early stopping is rank 0's decision (its evaluation is everyone's, but a rank on
 * another kind of device could round differently and must not leave the loop alone). */
static int agree_on_stopping(train_context *x, size_t epoch, int *stop)
{
    if (!x->ranks)
        return CLI_OK;
    double v = x->ranks->rank == 0 && *stop;
    if (ranks_sum(x->ranks, &v, 1) != CLMLP_OK) {
        char what[64];
        snprintf(what, sizeof what, "epoch %zu: early stopping", epoch);
        return collective_failed(x, what);
    }
    *stop = v > 0;
    return CLI_OK;
}

/* ---- a run: set up, epochs, the kept model ---- */

/* The data and the net (created, or loaded from --resume), and what is printed first. */
static int set_up(train_args *o, const train_context *x, data_state *d, FILE *human, clmlp_net **net, size_t *first,
                  char *fallback, size_t fallback_size)
{
    int rc;
    if (x->ranks && (rc = ranks_pick_device(x->ranks, &o->cfg)) != CLI_OK)
        return rc;
    d->csv = o->data.train_csv != NULL;
    if (d->csv) {
        if ((rc = read_csv(o, d)) != CLI_OK)
            return rc;
        if (human)
            fprintf(human, "data: %s%s%s (CSV)\n", o->data.train_csv, o->data.test_csv ? ", test " : "",
                    o->data.test_csv ? o->data.test_csv : "");
    } else {
        if (!cli_find_data_dir(o->data.data_dir, d->dir, sizeof d->dir, &d->why))
            return cli_error(CLI_RUNTIME, "no data: give --data DIR or --train-csv FILE, set CLMLP_DATA, create "
                                          "./data/mnist or install dataset-fashion-mnist");
        if (human)
            fprintf(human, "data: %s (%s)\n", d->dir, d->why);
    }
    if ((rc = create_net(o, d, net, first, fallback, fallback_size)) != CLI_OK)
        return rc;
    return load_data(o, *net, d);
}

/* The result of the run: the kept epoch's row and the test set's verdict on its model. */
static void fill_result(train_result *res, const report_row *rows, size_t n_rows, size_t kept, const clmlp_eval *tev,
                        const data_state *d)
{
    const report_row *k = NULL, *last = n_rows ? &rows[n_rows - 1] : NULL;
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i].e.epoch == kept)
            k = &rows[i];
    res->kept_epoch = kept;
    res->classes = !d->csv || d->labels;
    res->train_loss = k ? k->e.train_loss : NAN;
    res->train_accuracy = k ? k->e.train_accuracy : NAN;
    res->val_loss = k && k->has_val ? k->val_loss : NAN;
    res->val_accuracy = k && k->has_val ? k->val_accuracy : NAN;
    int tested_at_end = d->val && d->test;
    res->test_loss = tested_at_end ? tev->loss : last && !last->no_test ? last->e.test_loss : NAN;
    res->test_accuracy = tested_at_end ? tev->accuracy : last && !last->no_test ? last->e.test_accuracy : NAN;
    res->train_n = d->train ? clmlp_dataset_count(d->train) : 0;
    res->val_n = d->val ? clmlp_dataset_count(d->val) : 0;
    res->test_n = d->test ? clmlp_dataset_count(d->test) : 0;
}

int train_run(train_args *o, train_context *x, train_result *res)
{
    FILE *human = x->quiet ? NULL : o->json ? stderr : stdout;
    int json = o->json && !x->quiet, rc, past_setup = 0;
    data_state d;
    memset(&d, 0, sizeof d);
    memset(res, 0, sizeof *res);
    clmlp_net *net = NULL;
    report_row *rows = NULL;
    snapshot best = {0};
    size_t first = 0; /* epochs done before this run (a checkpoint's) */
    char fallback[1024];
    o->train.comm = x->ranks ? x->ranks->comm : NULL;
    if (!x->writes)
        o->save = o->metrics = o->plot = NULL; /* rank 0's files */
    rc = agree_on_setup(x, set_up(o, x, &d, human, &net, &first, fallback, sizeof fallback));
    if (rc != CLI_OK)
        goto done;
    past_setup = 1;
    res->n_sizes = clmlp_num_layers(net) + 1;
    if (res->n_sizes > TRAIN_MAX_LAYERS + 1) /* a resumed file's net may be deeper than --layers allows */
        res->n_sizes = 0;
    for (size_t l = 0; l < res->n_sizes; l++)
        res->sizes[l] = clmlp_layer_size(net, l);
    res->loss = clmlp_loss_type(net);
    res->dtype = clmlp_dtype_of(net);
    /* every rank continues rank 0's checkpoint, epoch count included */
    if (o->resume && x->ranks && ranks_broadcast_net(x->ranks, net, &first) != CLMLP_OK) {
        rc = collective_failed(x, "--resume");
        goto done;
    }
    if (human)
        print_header(human, net, o, &d, fallback);
    if (human && x->ranks)
        fprintf(human, "mpi: %d rank%s, data-parallel: every step's batch of %zu split between them\n", x->ranks->size,
                cli_plural((unsigned long long)x->ranks->size), o->train.batch);
    if (json)
        print_run_json(stdout, net, o, &d, fallback, first, x->ranks);
    if (human && o->resume)
        fprintf(human, "resumed: %s after %zu epoch%s\n", o->resume, first, cli_plural(first));

    size_t n_rows = 0;
    report_row *history = NULL;
    if ((rc = read_history(o, first, human, &history, &n_rows)) != CLI_OK)
        goto done;
    rows = calloc(n_rows + o->epochs, sizeof *rows);
    if (!rows) {
        free(history);
        rc = cli_error(CLI_RUNTIME, "out of memory");
        goto done;
    }
    if (n_rows)
        memcpy(rows, history, n_rows * sizeof *rows);
    free(history);

    int accuracy = !d.csv || d.labels; /* regression: the argmax agreement means nothing */
    progress_state progress = {.epoch = 0};
    FILE *bar = x->quiet ? NULL : stderr; /* no bar: not a terminal */
    report_progress_start(&progress.bar, bar);
    o->train.progress = on_progress;
    o->train.user = &progress;
    o->train.report_every = progress.bar.is_tty ? 20 : 50; /* also how soon a signal is noticed */
    if (!x->signals_caught)
        train_catch_signals();
    size_t last = first + o->epochs, done_epochs = first, since_best = 0;
    int stopped_early = 0;
    for (size_t i = 0; i < o->epochs; i++) {
        size_t e = first + i; /* the epoch's number from 0: picks its shuffle and learning rate */
        clmlp_epoch_stats st;
        clmlp_eval ev = {0}, vev = {0};
        progress.epoch = e + 1;
        report_progress_start(&progress.bar, bar); /* elapsed time and ETA of this epoch's training */
        clmlp_status s = clmlp_train_epoch(net, d.train, &o->train, e, &st);
        report_progress_done(&progress.bar);
        if (s != CLMLP_OK) {
            char what[64];
            snprintf(what, sizeof what, "epoch %zu", e + 1);
            rc =
                o->train.comm ? collective_failed(x, what) : cli_error(CLI_RUNTIME, "%s: %s", what, clmlp_last_error());
            goto done;
        }
        int sig = atomic_load(&stop_signal);
        if ((rc = agree_on_signal(x, e + 1, &sig)) != CLI_OK)
            goto done;
        if (sig) {
            rc = 128 + sig;
            if (x->quiet) /* a sweep says it itself; ranks but 0 leave it to rank 0 */
                goto done;
            fprintf(stderr, "clmlp: %s during epoch %zu after %zu sample%s",
                    sig == SIGINT ? "interrupted" : "terminated", e + 1, st.samples, cli_plural(st.samples));
            if (o->save && best.epoch)
                fprintf(stderr,
                        "; %s keeps the checkpoint of epoch %zu, the best so far (--resume continues after it)\n",
                        o->save, best.epoch);
            else if (o->save && clmlp_save_checkpoint(net, &o->pp, e, o->save) == CLMLP_OK)
                fprintf(stderr, "; saved the state so far to %s (--resume repeats epoch %zu)\n", o->save, e + 1);
            else if (o->save)
                fprintf(stderr, "; could not save: %s\n", clmlp_last_error());
            else
                fprintf(stderr, "; nothing saved (no --save)\n");
            goto done;
        }
        if (d.val)
            s = clmlp_evaluate(net, d.val, &vev);
        else if (d.test)
            s = clmlp_evaluate(net, d.test, &ev);
        if (s != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "epoch %zu: %s", e + 1, clmlp_last_error());
            goto done;
        }
        int tested = !d.val && d.test;
        report_row *r = &rows[n_rows++];
        *r = (report_row){.e = {.epoch = e + 1,
                                .train_loss = st.loss,
                                .train_accuracy = st.accuracy,
                                .test_loss = tested ? ev.loss : NAN,
                                .test_accuracy = tested ? ev.accuracy : NAN,
                                .samples_per_s = (double)st.samples / st.seconds,
                                .seconds = st.seconds,
                                .lr = o->train.lr * pow(o->train.lr_decay, (double)e)},
                          .val_loss = d.val ? vev.loss : NAN,
                          .val_accuracy = d.val ? vev.accuracy : NAN,
                          .has_val = d.val != NULL,
                          .no_test = !tested};
        done_epochs = e + 1;
        res->epochs_run = done_epochs - first;
        if (human) {
            print_epoch(human, r, last, accuracy);
            clmlp_kernel_profile kernels[48];
            size_t n_kernels = 0;
            if (clmlp_profile(net, kernels, 48, &n_kernels, 1) == CLMLP_OK) /* the epoch and its evaluation */
                report_print_profile(human, kernels, n_kernels < 48 ? n_kernels : 48, st.seconds);
            fflush(human);
        }
        if (json)
            report_print_row_json(stdout, r);
        int improved = 0;
        if (o->patience) {
            improved = !best.epoch || vev.loss < best.loss;
            since_best = improved ? 0 : since_best + 1;
            if (improved) {
                if ((rc = snapshot_take(&best, net)) != CLI_OK)
                    goto done;
                best.epoch = e + 1;
                best.loss = vev.loss;
            }
        }
        if ((rc = write_history(o, rows, n_rows)) != CLI_OK)
            goto done;
        if (o->save && (!o->patience || improved) && clmlp_save_checkpoint(net, &o->pp, e + 1, o->save) != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "--save: %s", clmlp_last_error());
            goto done;
        }
        int stop = o->patience && since_best >= o->patience;
        if ((rc = agree_on_stopping(x, e + 1, &stop)) != CLI_OK)
            goto done;
        if (stop) {
            stopped_early = 1;
            break;
        }
    }

    /* The model kept: the last epoch's, or with --patience the best one's. */
    size_t kept = done_epochs;
    if (o->patience && best.epoch) {
        if (stopped_early && human)
            fprintf(human, "stopped early after epoch %zu: the validation loss has not improved for %zu epoch%s\n",
                    done_epochs, since_best, cli_plural(since_best));
        if (best.epoch != done_epochs && (rc = snapshot_restore(&best, net)) != CLI_OK)
            goto done;
        kept = best.epoch;
        if (human)
            fprintf(human, "kept: the model of epoch %zu (best validation loss %.4f)\n", kept, best.loss);
    }
    clmlp_eval tev = {0};
    int final_test = d.val && d.test;
    if (final_test) {
        if (clmlp_evaluate(net, d.test, &tev) != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "test: %s", clmlp_last_error());
            goto done;
        }
        size_t n = clmlp_dataset_count(d.test);
        if (human) {
            fprintf(human, "test: loss %.4f", tev.loss);
            if (accuracy)
                fprintf(human, "  accuracy %.2f%%", 100 * tev.accuracy);
            fprintf(human, "  (%zu %s, the model of epoch %zu)\n", n, d.csv ? "rows" : "images", kept);
        }
        for (size_t i = 0; i < n_rows; i++)
            if (rows[i].e.epoch == kept && rows[i].has_val) { /* the test result belongs to the kept epoch's row */
                rows[i].e.test_loss = tev.loss;
                rows[i].e.test_accuracy = tev.accuracy;
            }
        if ((rc = write_history(o, rows, n_rows)) != CLI_OK)
            goto done;
    }
    fill_result(res, rows, n_rows, kept, &tev, &d);
    res->last_epoch = done_epochs;
    res->stopped_early = stopped_early;
    if (json) {
        printf("{\"type\":\"result\",\"epochs_run\":%zu,\"last_epoch\":%zu,\"kept_epoch\":%zu,\"stopped_early\":%s",
               done_epochs - first, done_epochs, kept, stopped_early ? "true" : "false");
        json_num(stdout, "best_val_loss", best.epoch ? best.loss : NAN);
        json_num(stdout, "test_loss", res->test_loss);
        json_num(stdout, "test_accuracy", res->test_accuracy);
        printf(",\"test_n\":%zu", res->test_n);
        json_opt_string(stdout, "saved", o->save);
        fputs("}\n", stdout);
        fflush(stdout);
    }
    if (o->save && human)
        fprintf(human, "saved: %s (epoch %zu)\n", o->save, o->patience && best.epoch ? best.epoch : done_epochs);
done:
    if (rc != CLI_OK && rc < 128 && past_setup && x->ranks)
        x->abort_job = 1; /* a failure after the setup: the other ranks may be waiting in a collective */
    free(best.W);
    free(best.b);
    if (d.train != d.all)
        clmlp_dataset_destroy(d.train);
    clmlp_dataset_destroy(d.val);
    clmlp_dataset_destroy(d.all);
    clmlp_dataset_destroy(d.test);
    clmlp_destroy(net);
    if (d.csv) {
        cli_rows_free(&d.train_rows);
        cli_rows_free(&d.test_rows);
    }
    free(rows);
    return rc;
}

/* train --mpi: MPI around the run; rank 0 alone prints and writes. */
static int train_mpi(int argc, char **argv)
{
    cli_ranks ranks;
    int rc = ranks_start(&ranks, "train");
    if (rc != CLI_OK)
        return rc;
    train_args o;
    train_result res;
    train_context x = {.quiet = ranks.rank != 0, .writes = ranks.rank == 0, .ranks = &ranks};
    /* the same arguments on every rank: the same verdict, which rank 0 alone prints */
    if ((rc = train_parse(argc, argv, "train", "train", &o)) == CLI_OK &&
        (rc = ranks_open_comm(&ranks, o.mpi_timeout)) != CLI_OK)
        x.abort_job = 1; /* a rank without the communicator cannot tell the others */
    if (rc == CLI_OK)
        rc = train_run(&o, &x, &res);
    ranks_finish(&ranks, x.abort_job);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    if (cli_has_flag(argc, argv, "--help", train_flags) || cli_has_flag(argc, argv, "-h", train_flags))
        return fputs(help, stdout), fputs(help_mpi, stdout), CLI_OK;
    if (cli_has_flag(argc, argv, "--mpi", train_flags))
        return train_mpi(argc, argv);
    train_args o;
    int rc = train_parse(argc, argv, "train", "train", &o);
    if (rc != CLI_OK)
        return rc;
    train_context x = {.writes = 1};
    train_result res;
    return train_run(&o, &x, &res);
}
