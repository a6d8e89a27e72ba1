/*
 * `clmlp train`: minibatch training on MNIST-format data, entirely on the device,
 * with a test evaluation, a summary line (and optionally a JSON line, CSV row, SVG plot
 * and checkpoint) per epoch.
 */
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "report.h"

enum { MAX_LAYERS = 64, MAX_EPOCHS = 100000 };

static const char help[] =
    "usage: clmlp train [options]\n"
    "\n"
    "Trains a tanh network on MNIST-format data (train-images-idx3-ubyte[.gz], train-labels-\n"
    "idx1-ubyte[.gz], t10k-…) and evaluates it on the test files after every epoch.\n"
    "\n"
    "data and net:\n"
    "  --data DIR          data directory (default: $CLMLP_DATA, ./data/mnist, then Debian's\n"
    "                      Fashion-MNIST in /usr/share/datasets/fashion-mnist)\n"
    "  --layers LIST       sizes n_0,...,n_L (default 784,256,128,10; n_0 = crop² with --crop)\n"
    "  --loss mse|ce       tanh + squared error (the exercise) or softmax cross-entropy (default ce)\n"
    "  --dtype f32|f64     precision (default f32)\n"
    "  --crop N            center crop the images to N×N\n"
    "  --targets 01|pm1    one-hot targets in {0,1} (default) or {-1,+1}\n"
    "  --mean X --std Y    standardize with these (default: computed from the training images)\n"
    "  --resume FILE       continue from a checkpoint (--save's file) or a model: its sizes, loss,\n"
    "                      dtype, preprocessing, momentum and epoch count; give the same training\n"
    "                      options and the result equals an uninterrupted run\n"
    "device:\n"
    "  --backend B         auto (default), opencl or host\n"
    "  --device SPEC       gpu, cpu or PLATFORM:DEVICE (like CLMLP_DEVICE)\n"
    "training:\n"
    "  --epochs N          epochs (default 5)\n"
    "  --batch N           samples per step (default 128)\n"
    "  --lr X              learning rate for the batch-averaged loss (default 0.1)\n"
    "  --momentum X        SGD momentum in [0, 1) (default 0)\n"
    "  --weight-decay X    L2 weight decay (default 0)\n"
    "  --lr-decay X        multiply the learning rate by X after every epoch (default 1)\n"
    "  --seed N            weights and shuffles (default 0)\n"
    "output:\n"
    "  --save FILE         save a checkpoint after every epoch (atomically), and on SIGINT/SIGTERM\n"
    "  --metrics FILE.csv  one row per epoch\n"
    "  --plot FILE.svg     loss and accuracy curves, redrawn after every epoch\n"
    "  --json              one JSON object per epoch on stdout; human output goes to stderr\n"
    "  --profile           after every epoch, each kernel's launches and device time (OpenCL;\n"
    "                      also with CLMLP_PROFILE=1)\n"
    "  --help              this text\n";

typedef struct {
    const char *data, *device, *save, *resume, *metrics, *plot;
    size_t sizes[MAX_LAYERS + 1], n_sizes;
    int layers_given, json, mean_given, std_given;
    clmlp_config cfg;
    clmlp_preprocess pp;
    clmlp_train_options train;
    unsigned long long epochs, seed;
} options;

static int parse(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    clmlp_config_init(&o->cfg);
    o->cfg.dtype = CLMLP_F32;
    o->cfg.loss = CLMLP_LOSS_SOFTMAX_CE;
    clmlp_preprocess_init(&o->pp);
    clmlp_train_options_init(&o->train);
    o->epochs = 5;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            fputs(help, stdout);
            exit(CLI_OK);
        }
        if (strcmp(opt, "--json") == 0) {
            o->json = 1;
            continue;
        }
        if (strcmp(opt, "--profile") == 0) {
            o->cfg.profile = 1;
            continue;
        }
        if (strncmp(opt, "--", 2) != 0 || !val)
            return cli_error(CLI_USAGE, "train: %s '%s' (see clmlp train --help)",
                             strncmp(opt, "--", 2) ? "unexpected argument" : "missing value for", opt);
        i++;
        int ok = 1;
        if (strcmp(opt, "--data") == 0)
            o->data = val;
        else if (strcmp(opt, "--device") == 0)
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
        } else if (strcmp(opt, "--loss") == 0)
            ok = cli_parse_loss(val, &o->cfg.loss);
        else if (strcmp(opt, "--dtype") == 0)
            ok = cli_parse_dtype(val, &o->cfg.dtype);
        else if (strcmp(opt, "--backend") == 0)
            ok = cli_parse_backend(val, &o->cfg.backend);
        else if (strcmp(opt, "--crop") == 0)
            ok = cli_parse_size(val, 1, 1u << 16, &o->pp.crop);
        else if (strcmp(opt, "--targets") == 0)
            ok = cli_parse_target(val, &o->pp.target);
        else if (strcmp(opt, "--mean") == 0) {
            ok = cli_parse_double(val, -1e6, 1e6, &o->pp.mean);
            o->mean_given = 1;
        } else if (strcmp(opt, "--std") == 0) {
            ok = cli_parse_double(val, 1e-12, 1e6, &o->pp.std);
            o->std_given = 1;
        } else if (strcmp(opt, "--epochs") == 0)
            ok = cli_parse_u64(val, 1, MAX_EPOCHS, &o->epochs);
        else if (strcmp(opt, "--batch") == 0)
            ok = cli_parse_size(val, 1, 1u << 20, &o->train.batch);
        else if (strcmp(opt, "--lr") == 0)
            ok = cli_parse_double(val, 0, 1e6, &o->train.lr);
        else if (strcmp(opt, "--momentum") == 0)
            ok = cli_parse_double(val, 0, 0.999999, &o->train.momentum);
        else if (strcmp(opt, "--weight-decay") == 0)
            ok = cli_parse_double(val, 0, 1e6, &o->train.weight_decay);
        else if (strcmp(opt, "--lr-decay") == 0)
            ok = cli_parse_double(val, 1e-6, 1e6, &o->train.lr_decay);
        else if (strcmp(opt, "--seed") == 0)
            ok = cli_parse_u64(val, 0, UINT64_MAX, &o->seed);
        else
            return cli_error(CLI_USAGE, "train: unknown option '%s' (see clmlp train --help)", opt);
        if (!ok)
            return cli_error(CLI_USAGE, "train: bad value '%s' for %s (see clmlp train --help)", val, opt);
    }
    o->cfg.seed = o->train.seed = o->seed; /* weights and shuffles */
    if (o->mean_given != o->std_given)
        return cli_error(CLI_USAGE, "train: --mean and --std go together");
    if (o->mean_given)
        o->pp.normalize = CLMLP_NORMALIZE_GIVEN;
    return CLI_OK;
}

static volatile sig_atomic_t stop_signal; /* SIGINT or SIGTERM received */

static void on_signal(int sig) { stop_signal = sig; }

typedef struct {
    report_progress bar;
    size_t epoch;
} progress_state;

/* Called every few steps: draws the bar and stops the epoch when a signal came. */
static int on_progress(void *user, size_t done, size_t total, double running_loss)
{
    progress_state *p = user;
    report_progress_update(&p->bar, p->epoch, done, total, running_loss);
    return stop_signal != 0;
}

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

static int create_net(options *o, clmlp_net **net, size_t *epochs_done)
{
    clmlp_status s;
    *epochs_done = 0;
    if (o->resume) {
        s = clmlp_load_checkpoint(o->resume, &o->cfg, net, &o->pp, epochs_done);
        if (s != CLMLP_OK)
            return cli_error(CLI_RUNTIME, "--resume: %s", clmlp_last_error());
        return CLI_OK;
    }
    if (!o->layers_given) {
        size_t side = o->pp.crop ? o->pp.crop : 28;
        const size_t defaults[] = {side * side, 256, 128, 10};
        memcpy(o->sizes, defaults, sizeof defaults);
        o->n_sizes = 4;
    }
    s = clmlp_create(o->sizes, o->n_sizes, &o->cfg, net);
    if (s != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "%s: %s", clmlp_strerror(s), clmlp_last_error());
    return CLI_OK;
}

static void print_net(FILE *out, const clmlp_net *net, const options *o)
{
    fprintf(out, "net: ");
    for (size_t l = 0; l <= clmlp_num_layers(net); l++)
        fprintf(out, "%zu%s", clmlp_layer_size(net, l), l < clmlp_num_layers(net) ? "-" : "");
    fprintf(out, ", %s, %s, on %s\n", clmlp_loss_type(net) == CLMLP_LOSS_MSE ? "tanh + MSE" : "softmax-CE",
            clmlp_dtype_of(net) == CLMLP_F64 ? "f64" : "f32", clmlp_backend_name(net));
    fprintf(out, "training: %llu epochs, batch %zu, lr %g, momentum %g, weight decay %g, lr decay %g, seed %llu\n",
            o->epochs, o->train.batch, o->train.lr, o->train.momentum, o->train.weight_decay, o->train.lr_decay,
            (unsigned long long)o->train.seed);
}

int cmd_train(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK)
        return rc;
    if ((rc = cli_use_device(o.device, &o.cfg)) != CLI_OK)
        return rc;
    FILE *human = o.json ? stderr : stdout;
    char dir[4096];
    const char *why;
    if (!cli_find_data_dir(o.data, dir, sizeof dir, &why))
        return cli_error(CLI_RUNTIME, "no data: give --data DIR, set CLMLP_DATA, create ./data/mnist or install "
                                      "dataset-fashion-mnist");
    fprintf(human, "data: %s (%s)\n", dir, why);

    clmlp_net *net = NULL;
    clmlp_dataset *train = NULL, *test = NULL;
    report_epoch *rows = calloc(o.epochs, sizeof *rows);
    if (!rows)
        return cli_error(CLI_RUNTIME, "out of memory");
    size_t first = 0; /* epochs done before this run (a checkpoint's) */
    if ((rc = create_net(&o, &net, &first)) || (rc = load_split(net, dir, "train", &o.pp, &train)) ||
        (rc = load_split(net, dir, "t10k", &o.pp, &test)))
        goto done;
    print_net(human, net, &o);
    fprintf(human, "inputs: %s, standardized with mean %.4f and std %.4f; %zu training and %zu test images\n",
            o.pp.scale_255 ? "pixels/255" : "pixels", o.pp.mean, o.pp.std, clmlp_dataset_count(train),
            clmlp_dataset_count(test));

    if (o.resume)
        fprintf(human, "resumed: %s after %zu epoch%s\n", o.resume, first, first == 1 ? "" : "s");
    progress_state progress = {.epoch = 0};
    report_progress_start(&progress.bar, stderr);
    o.train.progress = on_progress;
    o.train.user = &progress;
    o.train.report_every = progress.bar.is_tty ? 20 : 50; /* also how soon a signal is noticed */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    for (size_t i = 0; i < o.epochs; i++) {
        size_t e = first + i; /* the epoch's number from 0: picks its shuffle and learning rate */
        clmlp_epoch_stats st;
        clmlp_eval ev = {0};
        progress.epoch = e + 1;
        clmlp_status s = clmlp_train_epoch(net, train, &o.train, e, &st);
        report_progress_done(&progress.bar);
        if (s == CLMLP_OK && stop_signal) {
            rc = 128 + stop_signal;
            fprintf(stderr, "clmlp: %s during epoch %zu after %zu samples",
                    stop_signal == SIGINT ? "interrupted" : "terminated", e + 1, st.samples);
            if (o.save && clmlp_save_checkpoint(net, &o.pp, e, o.save) == CLMLP_OK)
                fprintf(stderr, "; saved the state so far to %s (--resume repeats epoch %zu)\n", o.save, e + 1);
            else if (o.save)
                fprintf(stderr, "; could not save: %s\n", clmlp_last_error());
            else
                fprintf(stderr, "; nothing saved (no --save)\n");
            goto done;
        }
        if (s == CLMLP_OK)
            s = clmlp_evaluate(net, test, &ev);
        if (s != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "epoch %zu: %s", e + 1, clmlp_last_error());
            goto done;
        }
        rows[i] = (report_epoch){.epoch = e + 1,
                                 .train_loss = st.loss,
                                 .train_accuracy = st.accuracy,
                                 .test_loss = ev.loss,
                                 .test_accuracy = ev.accuracy,
                                 .samples_per_s = (double)st.samples / st.seconds,
                                 .seconds = st.seconds,
                                 .lr = o.train.lr * pow(o.train.lr_decay, (double)e)};
        fprintf(human,
                "epoch %zu/%llu  train loss %.4f  test loss %.4f  test accuracy %.2f%%  %.1f s  %.0f samples/s\n",
                e + 1, first + o.epochs, st.loss, ev.loss, 100 * ev.accuracy, st.seconds, rows[i].samples_per_s);
        clmlp_kernel_profile kernels[48];
        size_t n_kernels = 0;
        if (clmlp_profile(net, kernels, 48, &n_kernels, 1) == CLMLP_OK) /* the epoch and its evaluation */
            report_print_profile(human, kernels, n_kernels < 48 ? n_kernels : 48, st.seconds);
        fflush(human);
        if (o.json)
            report_print_json(stdout, &rows[i]);
        if (o.metrics && report_write_csv(o.metrics, rows, i + 1) != 0) {
            rc = cli_error(CLI_RUNTIME, "--metrics %s: cannot write", o.metrics);
            goto done;
        }
        if (o.plot && report_write_svg(o.plot, rows, i + 1, "clmlp train") != 0) {
            rc = cli_error(CLI_RUNTIME, "--plot %s: cannot write", o.plot);
            goto done;
        }
        if (o.save && clmlp_save_checkpoint(net, &o.pp, e + 1, o.save) != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "--save: %s", clmlp_last_error());
            goto done;
        }
    }
    if (o.save)
        fprintf(human, "saved: %s\n", o.save);
done:
    clmlp_dataset_destroy(train);
    clmlp_dataset_destroy(test);
    clmlp_destroy(net);
    free(rows);
    return rc;
}
