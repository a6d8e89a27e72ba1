/*
 * `clmlp sweep`: train's options, where the sweepable ones given more than once are the
 * axes of a grid; every point of the axes' cross product is trained as `clmlp train`
 * with its options would train it (quietly), then reported as a line, a JSON object and
 * a row of a table sorted by loss. With --mpi under mpirun the points are shared out
 * ((point − 1) mod K), each trained alone on its rank's device; the results travel to
 * rank 0 as fixed-size records, which it prints in point order. Without --mpi, --jobs N
 * threads of this process train the points at once, each taking the next point not
 * taken yet and making its own net on its device (job J on the J mod D-th of the D local
 * devices of the default's type); the main thread prints their records in point order.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "mpi_ranks.h"
#include "report.h"
#include "train.h"

enum { MAX_POINTS = 100000, MAX_ERROR = 1024, MAX_JOBS = 256, MAX_DEVICES = 64 };

static const char help[] =
    "usage: clmlp sweep [clmlp train's options] [--json FILE|-] [--save-dir DIR] [--jobs N] [--mpi]\n"
    "\n"
    "Trains a net for every point of a grid of options and compares them. Every option of\n"
    "clmlp train applies to every point; these, given more than once, are the grid's axes:\n"
    "  --lr --momentum --weight-decay --lr-decay --batch --epochs --seed --layers\n"
    "  --optimizer --beta1 --beta2 --eps --loss --dtype --patience\n"
    "The points are the cross product of the axes' values, the axes in the order they are\n"
    "first given, the last one varying fastest, numbered from 1:\n"
    "  clmlp sweep --lr 0.05 --lr 0.2 --seed 1 --seed 2 --epochs 3\n"
    "trains point 1 (--lr 0.05 --seed 1), 2 (--lr 0.05 --seed 2), 3 (--lr 0.2 --seed 1) and\n"
    "4 (--lr 0.2 --seed 2), each exactly as clmlp train with its options would (the same\n"
    "result). A line per point as it ends, then a table of the points, best first: by\n"
    "validation loss with --validation, else by test loss (else by training loss); failed\n"
    "points last. A point that fails (e.g. diverges) is reported, the others go on, and the\n"
    "exit code is then 1.\n"
    "\n"
    "  --json FILE|-     one JSON object per point, in point order: its axes' values, its\n"
    "                    options, its kept epoch's train/validation metrics, the test metrics,\n"
    "                    seconds, and the rank and job that ran it; to FILE, or to stdout with\n"
    "                    - (the lines and the table then go to stderr)\n"
    "  --save-dir DIR    keep each point's model as DIR/point-N.clmlp (train --save's atomic\n"
    "                    checkpoint; with --patience the best epoch's); DIR is created\n"
    "  --jobs N          train N points at once, on threads of their own, each with its own net\n"
    "                    and its own copy of the data: job J on the (J mod D)-th of the D OpenCL\n"
    "                    devices of the type clmlp picks by default, unless --device or\n"
    "                    CLMLP_DEVICE choose one for all (default: D; 1 with a device chosen, on\n"
    "                    the host path or without OpenCL; --jobs 1: one after another). Jobs\n"
    "                    beyond D share the devices (on a CPU device, its cores). The results\n"
    "                    do not depend on N; the lines still come in point order. Not with --mpi\n"
    "  --mpi             under mpirun -np K: point N is trained by rank (N-1) mod K, alone, on\n"
    "                    its device (by its rank on the machine, unless --device or\n"
    "                    CLMLP_DEVICE choose); rank 0 prints; a --save-dir must be one every\n"
    "                    rank can write (a shared directory across machines). Without --mpi\n"
    "                    run it as one process: under mpirun every rank would run every point\n"
    "  --help            this text\n"
    "Not in a sweep: --save (--save-dir), --resume, --metrics, --plot, --profile, --mpi-timeout.\n";

/* The options that may take several values; none of them is a flag. */
static const char *const axis_options[] = {"--lr",     "--momentum", "--weight-decay", "--lr-decay",  "--batch",
                                           "--epochs", "--seed",     "--layers",       "--optimizer", "--beta1",
                                           "--beta2",  "--eps",      "--loss",         "--dtype",     "--patience"};
enum { N_AXIS_OPTIONS = sizeof axis_options / sizeof axis_options[0] };

/* For cli_has_flag: sweep's --json takes a value, train's is a flag. */
static const char *const sweep_flags[] = {"--profile", "--standardize", "--mpi", "--help", NULL};

typedef struct axis {
    const char *option;  /* "--lr" */
    const char **values; /* as given, in order */
    size_t n;
} axis;

typedef struct sweep {
    char **base; /* "sweep" and the options that are not axes, as train_parse reads them */
    int n_base;
    axis axes[N_AXIS_OPTIONS];
    size_t n_axes, points;
    char **argv;      /* one point's arguments: base, then an option and a value per axis */
    size_t argv_size; /* its length: every point's arguments and a NULL */
    const char *save_dir, *json_path;
    int mpi;
    unsigned long long jobs; /* --jobs (0: not given) */
} sweep;

/* What a point's training gave, sent as bytes from its rank to rank 0. */
typedef struct point_record {
    uint64_t point; /* from 1 */
    int32_t rank;
    int32_t rc;  /* CLI_OK, the run's exit code, or 128 + a signal */
    int32_t job; /* the job (thread) that trained it, from 0 (--jobs) */
    double seconds;
    train_result result;
    char error[MAX_ERROR]; /* rc 1 or 2: the message */
} point_record;

static void sweep_free(sweep *s)
{
    for (size_t k = 0; k < s->n_axes; k++)
        free(s->axes[k].values);
    free(s->base);
    free(s->argv);
}

static int axis_index(const char *opt)
{
    for (int k = 0; k < N_AXIS_OPTIONS; k++)
        if (strcmp(opt, axis_options[k]) == 0)
            return k;
    return -1;
}

/* Options a sweep refuses, and why. */
static const char *refused(const char *opt)
{
    static const char *const no[][2] = {
        {"--save", "keeps one model per point with --save-dir DIR"},
        {"--resume", "trains every point from the start"},
        {"--metrics", "reports each point's result (--json), not its epochs"},
        {"--plot", "reports each point's result (--json), not its epochs"},
        {"--profile", "reports each point's result, not its kernels"},
        {"--mpi-timeout", "has no collectives to time: its points train alone (train --mpi has)"},
    };
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        if (strcmp(opt, no[i][0]) == 0)
            return no[i][1];
    return NULL;
}

static int base_has(const sweep *s, const char *opt)
{
    for (int i = 1; i < s->n_base; i++)
        if (strcmp(s->base[i], opt) == 0)
            return 1;
    return 0;
}

/* A value given to an axis option: a new axis, or one more value of its axis. */
static int add_value(sweep *s, const char *opt, const char *val, int argc)
{
    size_t k = 0;
    while (k < s->n_axes && strcmp(s->axes[k].option, opt) != 0)
        k++;
    axis *a = &s->axes[k];
    if (k == s->n_axes) {
        a->option = opt;
        if (!(a->values = calloc((size_t)argc, sizeof *a->values)))
            return cli_error(CLI_RUNTIME, "out of memory");
        s->n_axes++;
    }
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->values[i], val) == 0)
            return cli_error(CLI_USAGE, "sweep: %s %s given twice (every point would be trained twice)", opt, val);
    a->values[a->n++] = val;
    return CLI_OK;
}

/* The sweep's own options (--json, --save-dir, --mpi) taken out, the axes' values
 * gathered; axes with one value go back among the base options. */
static const char jobs_with_mpi[] = "sweep: --jobs and --mpi exclude each other: under --mpi each rank trains its "
                                    "points one after another on its own device (run more ranks instead)";

static int parse_sweep(int argc, char **argv, sweep *s)
{
    memset(s, 0, sizeof *s);
    s->base = calloc((size_t)argc + 1, sizeof *s->base);
    if (!s->base)
        return cli_error(CLI_RUNTIME, "out of memory");
    s->base[s->n_base++] = "sweep";
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL, *why = refused(opt);
        if (strcmp(opt, "--mpi") == 0) {
            s->mpi = 1;
            continue;
        }
        if (strcmp(opt, "--standardize") == 0) { /* train's flags that a sweep passes on */
            if (!base_has(s, opt))
                s->base[s->n_base++] = argv[i];
            continue;
        }
        if (why)
            return cli_error(CLI_USAGE, "sweep: no %s: a sweep %s", opt, why);
        if (strncmp(opt, "--", 2) != 0)
            return cli_error(CLI_USAGE, "sweep: unexpected argument '%s' (see clmlp sweep --help)", opt);
        if (!val || !*val || (strncmp(val, "--", 2) == 0))
            return cli_error(CLI_USAGE, "sweep: missing value for '%s' (see clmlp sweep --help)", opt);
        i++;
        int rc = CLI_OK;
        if (strcmp(opt, "--jobs") == 0) {
            if (s->jobs)
                return cli_error(CLI_USAGE, "sweep: --jobs given twice");
            if (!cli_parse_u64(val, 1, MAX_JOBS, &s->jobs))
                return cli_error(CLI_USAGE, "sweep: bad value '%s' for --jobs (1 to %d points at once)", val, MAX_JOBS);
        } else if (strcmp(opt, "--json") == 0 || strcmp(opt, "--save-dir") == 0) {
            const char **slot = opt[2] == 'j' ? &s->json_path : &s->save_dir;
            if (*slot)
                return cli_error(CLI_USAGE, "sweep: %s given twice", opt);
            *slot = val;
        } else if (axis_index(opt) >= 0)
            rc = add_value(s, opt, val, argc);
        else if (base_has(s, opt))
            return cli_error(CLI_USAGE,
                             "sweep: %s given twice (only --lr, --seed, ... take several values: see clmlp "
                             "sweep --help)",
                             opt);
        else {
            s->base[s->n_base++] = argv[i - 1];
            s->base[s->n_base++] = argv[i];
        }
        if (rc != CLI_OK)
            return rc;
    }
    s->points = 1;
    for (size_t k = 0; k < s->n_axes; k++) {
        if (s->points > MAX_POINTS / s->axes[k].n)
            return cli_error(CLI_USAGE, "sweep: more than %d points", MAX_POINTS);
        s->points *= s->axes[k].n;
    }
    size_t kept = 0;
    for (size_t k = 0; k < s->n_axes; k++) {
        axis a = s->axes[k];
        if (a.n == 1) { /* one value: an option like any other */
            s->base[s->n_base++] = (char *)a.option;
            s->base[s->n_base++] = (char *)a.values[0];
            free(a.values);
        } else
            s->axes[kept++] = a;
    }
    s->n_axes = kept;
    if (s->mpi && s->jobs)
        return cli_error(CLI_USAGE, "%s", jobs_with_mpi);
    s->argv_size = (size_t)s->n_base + 2 * s->n_axes + 1;
    s->argv = calloc(s->argv_size, sizeof *s->argv);
    return s->argv ? CLI_OK : cli_error(CLI_RUNTIME, "out of memory");
}

/* Point p's value index on axis k (p from 0; the last axis varies fastest). */
static size_t value_of(const sweep *s, size_t p, size_t k)
{
    for (size_t j = s->n_axes; j-- > k + 1;)
        p /= s->axes[j].n;
    return p % s->axes[k].n;
}

/* "--lr 0.2 --seed 1": the point's axes. */
static void describe_point(const sweep *s, size_t p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < s->n_axes && used < size; k++) {
        int n = snprintf(buf + used, size - used, "%s%s %s", k ? " " : "", s->axes[k].option,
                         s->axes[k].values[value_of(s, p, k)]);
        used += n > 0 ? (size_t)n : 0;
    }
}

/* Point p's options, parsed (messages name the point after the first: its errors are the
 * base options' more often than not), its arguments put together in argv (s->argv_size
 * slots: each thread its own; o points to the strings, not to argv). */
static int point_args(const sweep *s, size_t p, char **argv, train_args *o, char *who, size_t who_size)
{
    int n = 0;
    for (int i = 0; i < s->n_base; i++)
        argv[n++] = s->base[i];
    for (size_t k = 0; k < s->n_axes; k++) {
        argv[n++] = (char *)s->axes[k].option;
        argv[n++] = (char *)s->axes[k].values[value_of(s, p, k)];
    }
    argv[n] = NULL;
    char axes[512];
    describe_point(s, p, axes, sizeof axes);
    if (p == 0)
        snprintf(who, who_size, "sweep");
    else
        snprintf(who, who_size, "sweep: point %zu (%s)", p + 1, axes);
    return train_parse(n, argv, "sweep", who, o);
}

/* ---- running the points ---- */

static int make_save_dir(const char *dir)
{
    struct stat st;
    if (mkdir(dir, 0777) == 0 || (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)))
        return CLI_OK;
    return cli_error(CLI_RUNTIME, "--save-dir %s: cannot create it: %s", dir,
                     errno == EEXIST ? "it exists and is not a directory" : strerror(errno));
}

static void save_path(const sweep *s, size_t p, char *path, size_t size)
{
    snprintf(path, size, "%s/point-%zu.clmlp", s->save_dir, p + 1);
}

/* Where a point trains: its rank's device (--mpi), or its job's. */
typedef struct placement {
    const cli_ranks *ranks; /* --mpi, else NULL */
    int job;                /* the thread, from 0 */
    const char *device;     /* the job's device ("P:D"), or NULL: the choice a run alone makes */
    char **argv;            /* the point's arguments: the thread's own (point_args) */
    int signals_caught;     /* the main thread installed the handlers (train_catch_signals) */
} placement;

/* Trains point p quietly: its failure's message is kept in the record, not printed. May
 * run on several threads at once (each its own placement and record). */
static void run_point(const sweep *s, size_t p, const placement *at, point_record *rec)
{
    train_args o;
    char who[640], path[4096];
    const cli_ranks *ranks = at->ranks;
    memset(rec, 0, sizeof *rec);
    rec->point = p + 1;
    rec->rank = ranks ? ranks->rank : 0;
    rec->job = at->job;
    cli_error_silence(1);
    double start = report_now();
    int rc = point_args(s, p, at->argv, &o, who, sizeof who); /* checked before: CLI_OK */
    if (rc == CLI_OK && s->save_dir) {
        save_path(s, p, path, sizeof path);
        o.save = path;
    }
    if (rc == CLI_OK && ranks)
        rc = ranks_pick_device(ranks, &o.cfg);
    if (rc == CLI_OK && at->device)
        rc = cli_use_device(at->device, &o.cfg);
    /* alone: no communicator */
    train_context x = {.quiet = 1, .writes = 1, .signals_caught = at->signals_caught};
    if (rc == CLI_OK)
        rc = train_run(&o, &x, &rec->result);
    rec->seconds = report_now() - start;
    rec->rc = rc;
    if (rc != CLI_OK && rc < 128)
        snprintf(rec->error, sizeof rec->error, "%s", cli_error_last());
    cli_error_silence(ranks && ranks->rank != 0);
}

/* ---- what rank 0 prints ---- */

typedef struct report {
    FILE *human, *json;
    int mpi, jobs;         /* jobs: how many train at once (its column when more than 1) */
    int has_val, has_test; /* the sort key: validation loss, else test loss, else training loss */
    size_t failed, done;
} report;

static const char *optimizer_text(clmlp_optimizer o) { return o == CLMLP_OPT_ADAM ? "adam" : "sgd"; }

static void json_field(FILE *out, const char *key, double v)
{
    fprintf(out, ",\"%s\":", key);
    report_json_number(out, v);
}

/* One JSON line: the point, its axes' values as given, its options, its result. */
static void print_point_json(FILE *out, const sweep *s, const point_record *rec, const train_args *o)
{
    size_t p = rec->point - 1;
    const train_result *r = &rec->result;
    int ok = rec->rc == CLI_OK;
    fprintf(out, "{\"type\":\"point\",\"point\":%zu,\"points\":%zu,\"rank\":%d,\"axes\":{", p + 1, s->points,
            (int)rec->rank);
    for (size_t k = 0; k < s->n_axes; k++) {
        fprintf(out, "%s", k ? "," : "");
        report_json_string(out, s->axes[k].option + 2);
        fputc(':', out);
        report_json_string(out, s->axes[k].values[value_of(s, p, k)]);
    }
    fputs("},\"layers\":", out);
    const size_t *sizes = r->n_sizes ? r->sizes : o->sizes;
    size_t n_sizes = r->n_sizes ? r->n_sizes : o->layers_given ? o->n_sizes : 0;
    if (n_sizes) {
        for (size_t l = 0; l < n_sizes; l++)
            fprintf(out, "%s%zu", l ? "," : "[", sizes[l]);
        fputc(']', out);
    } else
        fputs("null", out);
    clmlp_loss loss = r->n_sizes ? r->loss : o->cfg.loss;
    clmlp_dtype dtype = r->n_sizes ? r->dtype : o->cfg.dtype;
    fprintf(out, ",\"loss\":\"%s\",\"dtype\":\"%s\",\"optimizer\":\"%s\"", loss == CLMLP_LOSS_MSE ? "mse" : "ce",
            dtype == CLMLP_F64 ? "f64" : "f32", optimizer_text(o->train.optimizer));
    json_field(out, "lr", o->train.lr);
    json_field(out, "momentum", o->train.momentum);
    json_field(out, "beta1", o->train.beta1);
    json_field(out, "beta2", o->train.beta2);
    json_field(out, "eps", o->train.eps);
    json_field(out, "weight_decay", o->train.weight_decay);
    json_field(out, "lr_decay", o->train.lr_decay);
    fprintf(out, ",\"batch\":%zu,\"epochs\":%llu,\"seed\":%llu", o->train.batch, o->epochs, o->seed);
    json_field(out, "validation", o->validation ? o->validation : NAN);
    if (o->patience)
        fprintf(out, ",\"patience\":%llu", o->patience);
    else
        fputs(",\"patience\":null", out);
    fprintf(out, ",\"ok\":%s,\"epochs_run\":%zu,\"kept_epoch\":%zu,\"stopped_early\":%s", ok ? "true" : "false",
            r->epochs_run, r->kept_epoch, r->stopped_early ? "true" : "false");
    json_field(out, "train_loss", ok ? r->train_loss : NAN);
    json_field(out, "train_accuracy", ok && r->classes ? r->train_accuracy : NAN);
    json_field(out, "val_loss", ok ? r->val_loss : NAN);
    json_field(out, "val_accuracy", ok && r->classes ? r->val_accuracy : NAN);
    json_field(out, "test_loss", ok ? r->test_loss : NAN);
    json_field(out, "test_accuracy", ok && r->classes ? r->test_accuracy : NAN);
    fprintf(out, ",\"train_n\":%zu,\"val_n\":%zu,\"test_n\":%zu", r->train_n, r->val_n, r->test_n);
    json_field(out, "seconds", rec->seconds);
    fprintf(out, ",\"job\":%d", (int)rec->job);
    fputs(",\"saved\":", out);
    char path[4096];
    if (s->save_dir && ok)
        save_path(s, p, path, sizeof path);
    report_json_string(out, s->save_dir && ok ? path : NULL);
    fputs(",\"error\":", out);
    report_json_string(out, ok ? NULL : rec->error);
    fputs("}\n", out);
    fflush(out);
}

static void print_point_line(FILE *out, const sweep *s, const point_record *rec, const report *rep)
{
    char axes[512];
    describe_point(s, rec->point - 1, axes, sizeof axes);
    const train_result *r = &rec->result;
    fprintf(out, "point %llu/%zu%s%s", (unsigned long long)rec->point, s->points, *axes ? "  " : "", axes);
    if (rec->rc != CLI_OK)
        fprintf(out, "  failed: %s", rec->error);
    else {
        fprintf(out, "  train loss %.4f", r->train_loss);
        if (r->val_n) {
            fprintf(out, "  val loss %.4f", r->val_loss);
            if (r->classes)
                fprintf(out, "  val accuracy %.2f%%", 100 * r->val_accuracy);
        }
        if (r->test_n) {
            fprintf(out, "  test loss %.4f", r->test_loss);
            if (r->classes)
                fprintf(out, "  test accuracy %.2f%%", 100 * r->test_accuracy);
        }
        fprintf(out, "  %zu epoch%s", r->epochs_run, cli_plural(r->epochs_run));
        if (r->kept_epoch != r->last_epoch)
            fprintf(out, " (kept %zu)", r->kept_epoch);
    }
    fprintf(out, "  %.1f s", rec->seconds);
    if (rep->mpi)
        fprintf(out, "  rank %d", (int)rec->rank);
    if (rep->jobs > 1)
        fprintf(out, "  job %d", (int)rec->job);
    fputc('\n', out);
    fflush(out);
}

static int print_point(report *rep, const sweep *s, const point_record *rec)
{
    train_args o;
    char who[640];
    cli_error_silence(1);
    int rc = point_args(s, rec->point - 1, s->argv, &o, who, sizeof who); /* checked before; the main thread's */
    cli_error_silence(0);
    if (rc != CLI_OK)
        return rc;
    if (rec->rc == CLI_OK) {
        rep->has_val |= rec->result.val_n > 0;
        rep->has_test |= rec->result.test_n > 0;
    } else
        rep->failed++;
    rep->done++;
    print_point_line(rep->human, s, rec, rep);
    if (rep->json)
        print_point_json(rep->json, s, rec, &o);
    return CLI_OK;
}

/* The sort: the key loss, ascending; failed points (and non-finite losses) last; ties
 * in point order. */
static const report *sort_by;

static double sort_key(const point_record *r)
{
    if (r->rc != CLI_OK)
        return INFINITY;
    double v = sort_by->has_val ? r->result.val_loss : sort_by->has_test ? r->result.test_loss : r->result.train_loss;
    return isfinite(v) ? v : INFINITY;
}

static int by_loss(const void *a, const void *b)
{
    const point_record *x = *(const point_record *const *)a, *y = *(const point_record *const *)b;
    double kx = sort_key(x), ky = sort_key(y);
    if (kx != ky)
        return kx < ky ? -1 : 1;
    return x->point < y->point ? -1 : x->point > y->point;
}

static void print_loss(FILE *out, int width, int ok, double v)
{
    if (ok && isfinite(v))
        fprintf(out, "  %*.4f", width, v);
    else
        fprintf(out, "  %*s", width, "-");
}

static void print_accuracy(FILE *out, int ok, double v)
{
    if (ok && isfinite(v))
        fprintf(out, "  %8.2f%%", 100 * v);
    else
        fprintf(out, "  %9s", "-");
}

/* The table: every point, best first. */
static int print_table(report *rep, const sweep *s, point_record *recs)
{
    const point_record **order = malloc(s->points * sizeof *order);
    if (!order)
        return cli_error(CLI_RUNTIME, "out of memory");
    for (size_t p = 0; p < s->points; p++)
        order[p] = &recs[p];
    sort_by = rep;
    qsort(order, s->points, sizeof *order, by_loss);
    int widths[N_AXIS_OPTIONS];
    FILE *out = rep->human;
    fprintf(out, "\nbest first, by %s:\n",
            rep->has_val    ? "validation loss"
            : rep->has_test ? "test loss"
                            : "training loss (no validation or test set)");
    fprintf(out, "%5s  %5s", "#", "point");
    for (size_t k = 0; k < s->n_axes; k++) {
        widths[k] = (int)strlen(s->axes[k].option);
        for (size_t i = 0; i < s->axes[k].n; i++)
            if ((int)strlen(s->axes[k].values[i]) > widths[k])
                widths[k] = (int)strlen(s->axes[k].values[i]);
        fprintf(out, "  %-*s", widths[k], s->axes[k].option);
    }
    fprintf(out, "  %10s", "train_loss");
    if (rep->has_val)
        fprintf(out, "  %10s  %9s", "val_loss", "val_acc");
    if (rep->has_test)
        fprintf(out, "  %10s  %9s", "test_loss", "test_acc");
    fprintf(out, "  %6s  %8s%s%s\n", "epochs", "seconds", rep->mpi ? "  rank" : "", rep->jobs > 1 ? "  job" : "");
    for (size_t i = 0; i < s->points; i++) {
        const point_record *r = order[i];
        int ok = r->rc == CLI_OK, classes = ok && r->result.classes;
        fprintf(out, "%5zu  %5llu", i + 1, (unsigned long long)r->point);
        for (size_t k = 0; k < s->n_axes; k++)
            fprintf(out, "  %-*s", widths[k], s->axes[k].values[value_of(s, r->point - 1, k)]);
        print_loss(out, 10, ok, r->result.train_loss);
        if (rep->has_val) {
            print_loss(out, 10, ok, r->result.val_loss);
            print_accuracy(out, classes, r->result.val_accuracy);
        }
        if (rep->has_test) {
            print_loss(out, 10, ok, r->result.test_loss);
            print_accuracy(out, classes, r->result.test_accuracy);
        }
        if (ok)
            fprintf(out, "  %6zu", r->result.epochs_run);
        else
            fprintf(out, "  %6s", "failed");
        fprintf(out, "  %8.1f", r->seconds);
        if (rep->mpi)
            fprintf(out, "  %4d", (int)r->rank);
        if (rep->jobs > 1)
            fprintf(out, "  %3d", (int)r->job);
        fputc('\n', out);
    }
    fflush(out);
    free(order);
    return CLI_OK;
}

/* ---- the sweep ---- */

/* Before any point: the save directory (every rank), the JSON file (rank 0). */
static int open_outputs(const sweep *s, int rank, report *rep)
{
    int rc;
    if (s->save_dir && (rc = make_save_dir(s->save_dir)) != CLI_OK)
        return rc;
    if (rank != 0 || !s->json_path)
        return CLI_OK;
    if (strcmp(s->json_path, "-") == 0) {
        rep->json = stdout;
        rep->human = stderr;
        return CLI_OK;
    }
    if (!(rep->json = fopen(s->json_path, "w")))
        return cli_error(CLI_RUNTIME, "--json %s: cannot write: %s", s->json_path, strerror(errno));
    return CLI_OK;
}

/* Rank 0's records as they come in, printed in point order. */
typedef struct gathered {
    point_record *recs; /* all points' */
    unsigned char *have;
    size_t next; /* the first point not printed yet */
} gathered;

static int take(gathered *g, report *rep, const sweep *s, const point_record *rec)
{
    if (rec->point < 1 || rec->point > s->points || g->have[rec->point - 1])
        return cli_error(CLI_RUNTIME, "sweep --mpi: rank %d sent a result for point %llu", (int)rec->rank,
                         (unsigned long long)rec->point);
    g->recs[rec->point - 1] = *rec;
    g->have[rec->point - 1] = 1;
    while (g->next < s->points && g->have[g->next]) {
        int rc = print_point(rep, s, &g->recs[g->next]);
        if (rc != CLI_OK)
            return rc;
        g->next++;
    }
    return CLI_OK;
}

/* Every result the other ranks have sent so far (wait: until every point is in). */
static int collect(gathered *g, report *rep, const sweep *s, const cli_ranks *ranks, point_record *buf, int wait)
{
    int got;
    while (g->next < s->points && (got = ranks_receive_on_0(ranks, buf, sizeof *buf, wait)) != 0) {
        if (got < 0)
            return CLI_RUNTIME;
        if (buf->rc >= 128)
            return buf->rc; /* a rank was interrupted: the sweep is */
        int rc = take(g, rep, s, buf);
        if (rc != CLI_OK)
            return rc;
    }
    return CLI_OK;
}

/* After every point: a signal's message, or the table and how many failed. */
static int conclude(report *rep, const sweep *s, point_record *recs, int rc)
{
    if (rc >= 128)
        return cli_error(rc, "sweep: %s; %zu of %zu point%s done", rc == 128 + SIGINT ? "interrupted" : "terminated",
                         rep->done, s->points, cli_plural(s->points));
    if (rc != CLI_OK)
        return rc;
    if ((rc = print_table(rep, s, recs)) != CLI_OK)
        return rc;
    if (rep->failed)
        rc = cli_error(CLI_RUNTIME, "sweep: %zu of %zu point%s failed", rep->failed, s->points, cli_plural(s->points));
    return rc;
}

/* This rank's points, in order; the results to rank 0, which prints them all. Returns
 * CLI_OK, 1 when a point failed, 128 + a signal, or an error code with *abort_job. */
static int run_points(const sweep *s, const cli_ranks *ranks, report *rep, int *abort_job)
{
    int rank = ranks ? ranks->rank : 0, size = ranks ? ranks->size : 1, rc = CLI_OK;
    gathered g = {0};
    point_record *rec = malloc(sizeof *rec), *buf = malloc(sizeof *buf);
    placement at = {.ranks = ranks, .argv = s->argv};
    if (rank == 0) {
        g.recs = calloc(s->points, sizeof *g.recs);
        g.have = calloc(s->points, 1);
    }
    if (!rec || !buf || (rank == 0 && (!g.recs || !g.have))) {
        rc = cli_error(CLI_RUNTIME, "out of memory for %zu points' results", s->points);
        *abort_job = ranks != NULL;
        goto done;
    }
    for (size_t p = (size_t)rank; p < s->points && rc == CLI_OK; p += (size_t)size) {
        run_point(s, p, &at, rec);
        if (rank == 0 && rec->rc >= 128) { /* interrupted: nothing to print for it */
            rc = rec->rc;
            break;
        }
        if (rank == 0) {
            if ((rc = take(&g, rep, s, rec)) == CLI_OK && ranks)
                rc = collect(&g, rep, s, ranks, buf, 0);
        } else
            rc = ranks_send_to_0(ranks, rec, sizeof *rec);
        if (rc == CLI_OK && rec->rc >= 128)
            rc = rec->rc;
    }
    if (rank == 0 && rc == CLI_OK && ranks)
        rc = collect(&g, rep, s, ranks, buf, 1);
    if (rank != 0) { /* rank 0 reports; an MPI failure here is this rank's to tell */
        if (rc != CLI_OK && rc < 128)
            *abort_job = 1;
        goto done;
    }
    if (rc != CLI_OK)
        *abort_job = ranks != NULL; /* the other ranks may still be training */
    rc = conclude(rep, s, g.recs, rc);
done:
    free(rec);
    free(buf);
    free(g.recs);
    free(g.have);
    return rc;
}

/* ---- --jobs: points trained at once, on threads of this process ---- */

/* The devices the jobs are spread over, "P:D" each. */
typedef struct device_list {
    char spec[MAX_DEVICES][32];
    size_t n; /* 0: every job makes the choice a run alone makes */
} device_list;

/* With no device chosen (no --device, no CLMLP_DEVICE) and an OpenCL backend possible:
 * the devices of the type clmlp picks by default (as ranks_pick_device counts them for
 * the ranks of a machine), the default device first, so that job 0 trains where a run
 * alone would. None when the default picks none (the host path: a job on a device would
 * give another result), or when the devices cannot be listed (the runs will say why). */
static void local_devices(const clmlp_config *cfg, device_list *list)
{
    const char *env = getenv("CLMLP_DEVICE");
    list->n = 0;
    if (cfg->device_spec[0] || (env && *env) || cfg->backend == CLMLP_BACKEND_HOST)
        return;
    clmlp_device_info infos[MAX_DEVICES];
    size_t count = 0, chosen = 0;
    if (clmlp_list_devices(infos, MAX_DEVICES, &count) != CLMLP_OK)
        return;
    if (count > MAX_DEVICES)
        count = MAX_DEVICES;
    while (chosen < count && !infos[chosen].chosen)
        chosen++;
    if (chosen == count)
        return;
    for (size_t k = 0; k < count; k++) {
        size_t i = (chosen + k) % count; /* the chosen one, those after it, then those before */
        if (strcmp(infos[i].type, infos[chosen].type) == 0)
            snprintf(list->spec[list->n++], sizeof list->spec[0], "%d:%d", infos[i].platform, infos[i].device);
    }
}

/* What the jobs share: the next point to hand out and every point's record. */
typedef struct pool {
    const sweep *s;
    pthread_mutex_t lock;
    pthread_cond_t changed; /* a point is done, or a job has ended */
    size_t next;            /* the first point not handed out */
    size_t running;         /* jobs that have not ended */
    int stopped;            /* a point was interrupted, or the main thread gave up: hand out no more */
    point_record *recs;     /* recs[p] is written by the job that took p, read once have[p] is set */
    unsigned char *have;
} pool;

typedef struct job {
    pool *pool;
    placement at;
    pthread_t thread;
} job;

/* A job: the next point not taken, until none is left (or a signal came). */
static void *job_main(void *arg)
{
    job *j = arg;
    pool *pl = j->pool;
    for (;;) {
        pthread_mutex_lock(&pl->lock);
        size_t p = pl->next;
        int go = !pl->stopped && !train_stop_signal() && p < pl->s->points;
        if (go)
            pl->next++;
        else {
            pl->running--;
            pthread_cond_broadcast(&pl->changed);
        }
        pthread_mutex_unlock(&pl->lock);
        if (!go)
            return NULL;
        point_record *rec = &pl->recs[p];
        run_point(pl->s, p, &j->at, rec);
        pthread_mutex_lock(&pl->lock);
        pl->have[p] = 1;
        if (rec->rc >= 128)
            pl->stopped = 1;
        pthread_cond_broadcast(&pl->changed);
        pthread_mutex_unlock(&pl->lock);
    }
}

/* The points on n_jobs threads (n_jobs ≥ 2), printed in point order by this one. */
static int run_jobs(const sweep *s, size_t n_jobs, const device_list *devices, report *rep)
{
    pool pl = {.s = s};
    job *jobs = calloc(n_jobs, sizeof *jobs);
    char **argvs = calloc(n_jobs * s->argv_size, sizeof *argvs);
    pl.recs = calloc(s->points, sizeof *pl.recs);
    pl.have = calloc(s->points, 1);
    int rc = CLI_OK;
    if (!jobs || !argvs || !pl.recs || !pl.have) {
        rc = cli_error(CLI_RUNTIME, "out of memory for %zu points' results", s->points);
        goto done;
    }
    pthread_mutex_init(&pl.lock, NULL);
    pthread_cond_init(&pl.changed, NULL);
    train_catch_signals(); /* once, before the threads: every job sees the flag */
    size_t started = 0;
    for (; started < n_jobs; started++) {
        job *j = &jobs[started];
        j->pool = &pl;
        j->at = (placement){.job = (int)started,
                            .device = devices->n ? devices->spec[started % devices->n] : NULL,
                            .argv = argvs + started * s->argv_size,
                            .signals_caught = 1};
        pthread_mutex_lock(&pl.lock);
        pl.running++;
        pthread_mutex_unlock(&pl.lock);
        int err = pthread_create(&j->thread, NULL, job_main, j);
        if (err != 0) {
            pthread_mutex_lock(&pl.lock);
            pl.running--;
            pthread_mutex_unlock(&pl.lock);
            if (started == 0)
                rc = cli_error(CLI_RUNTIME, "sweep --jobs: cannot start a thread: %s", strerror(err));
            break; /* the jobs started train every point */
        }
    }
    size_t next = 0; /* the first point not printed */
    pthread_mutex_lock(&pl.lock);
    while (rc == CLI_OK && next < s->points) {
        if (pl.have[next]) {
            pthread_mutex_unlock(&pl.lock); /* its record is final: its job has moved on */
            const point_record *rec = &pl.recs[next];
            if (rec->rc >= 128)
                rc = rec->rc; /* interrupted: nothing to print for it */
            else if ((rc = print_point(rep, s, rec)) == CLI_OK)
                next++;
            pthread_mutex_lock(&pl.lock);
        } else if (pl.running == 0) /* every job ended before this point was trained: a signal */
            rc = train_stop_signal() ? 128 + train_stop_signal()
                                     : cli_error(CLI_RUNTIME, "sweep: point %zu was not trained", next + 1);
        else
            pthread_cond_wait(&pl.changed, &pl.lock);
    }
    pl.stopped = 1; /* (after an interruption: the jobs are stopping already) */
    pthread_mutex_unlock(&pl.lock);
    for (size_t i = 0; i < started; i++)
        pthread_join(jobs[i].thread, NULL);
    pthread_cond_destroy(&pl.changed);
    pthread_mutex_destroy(&pl.lock);
    rc = conclude(rep, s, pl.recs, rc);
done:
    free(jobs);
    free(argvs);
    free(pl.recs);
    free(pl.have);
    return rc;
}

/* The header line: how many points over which axes, on how many processes or threads. */
static void print_plan(FILE *out, const sweep *s, const cli_ranks *ranks, size_t n_jobs, const device_list *devices)
{
    fprintf(out, "sweep: %zu point%s", s->points, cli_plural(s->points));
    for (size_t k = 0; k < s->n_axes; k++) {
        fprintf(out, "%s%s", k ? " x " : ", ", s->axes[k].option);
        for (size_t i = 0; i < s->axes[k].n; i++)
            fprintf(out, "%s%s", i ? "|" : " ", s->axes[k].values[i]);
    }
    if (ranks)
        fprintf(out, "; on %d rank%s, point N on rank (N-1) mod %d\n", ranks->size,
                cli_plural((unsigned long long)ranks->size), ranks->size);
    else if (n_jobs > 1) {
        fprintf(out, "; %zu jobs at once in this process, each taking the next point", n_jobs);
        if (devices->n == 1)
            fprintf(out, ", on device %s", devices->spec[0]);
        else if (devices->n > 1) {
            fprintf(out, ", job J on device J mod %zu (", devices->n);
            for (size_t d = 0; d < devices->n; d++)
                fprintf(out, "%s%s", d ? ", " : "", devices->spec[d]);
            fputc(')', out);
        }
        fputc('\n', out);
    } else
        fputs("; one after another in this process\n", out);
    fflush(out);
}

static int sweep_main(const sweep *s, cli_ranks *ranks, int *abort_job)
{
    /* every point's options checked before the first trains: a typo costs no training */
    clmlp_config first; /* point 1's: the device options are every point's (none is an axis) */
    clmlp_config_init(&first);
    for (size_t p = 0; p < s->points; p++) {
        train_args o;
        char who[640];
        int rc = point_args(s, p, s->argv, &o, who, sizeof who);
        if (rc != CLI_OK)
            return rc;
        if (p == 0)
            first = o.cfg;
    }
    device_list devices = {.n = 0};
    size_t n_jobs = 1;
    if (!ranks) {
        if (s->jobs != 1)
            local_devices(&first, &devices);
        n_jobs = s->jobs ? (size_t)s->jobs : devices.n ? devices.n : 1;
        if (n_jobs > s->points)
            n_jobs = s->points;
    }
    int rc;
    if (ranks && (rc = ranks_open_comm(ranks, 0)) != CLI_OK) {
        *abort_job = 1;
        return rc;
    }
    report rep = {.human = stdout, .mpi = ranks != NULL, .jobs = (int)n_jobs};
    int rank = ranks ? ranks->rank : 0;
    rc = open_outputs(s, rank, &rep);
    if (ranks)
        rc = ranks_agree(ranks, rc, abort_job);
    if (rc == CLI_OK) {
        if (rank == 0)
            print_plan(rep.human, s, ranks, n_jobs, &devices);
        rc = n_jobs > 1 ? run_jobs(s, n_jobs, &devices, &rep) : run_points(s, ranks, &rep, abort_job);
    }
    if (rep.json && rep.json != stdout && fclose(rep.json) != 0 && rc == CLI_OK)
        rc = cli_error(CLI_RUNTIME, "--json %s: cannot write: %s", s->json_path, strerror(errno));
    return rc;
}

int cmd_sweep(int argc, char **argv)
{
    if (cli_has_flag(argc, argv, "--help", sweep_flags) || cli_has_flag(argc, argv, "-h", sweep_flags))
        return fputs(help, stdout), CLI_OK;
    cli_ranks ranks;
    int mpi = cli_has_flag(argc, argv, "--mpi", sweep_flags), rc, abort_job = 0;
    if (mpi && cli_has_flag(argc, argv, "--jobs", sweep_flags)) /* refused before MPI starts */
        return cli_error(CLI_USAGE, "%s", jobs_with_mpi);
    if (mpi && (rc = ranks_start(&ranks, "sweep")) != CLI_OK)
        return rc;
    sweep s;
    /* the same arguments on every rank: the same verdict, which rank 0 alone prints */
    if ((rc = parse_sweep(argc, argv, &s)) == CLI_OK)
        rc = sweep_main(&s, mpi ? &ranks : NULL, &abort_job);
    sweep_free(&s);
    if (mpi)
        ranks_finish(&ranks, abort_job);
    return rc;
}
