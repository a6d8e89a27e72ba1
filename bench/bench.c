/*
 * clmlp's benchmarks (speed lives here, never in tests). For each backend and dtype:
 *   (a) minibatch training, 784-256-128-10, batch 128, one Fashion-MNIST epoch after a
 *       warm-up: samples/s;
 *   (b) per-sample SGD (batch 1) on 576-16-10 (24×24 crops) and 784-256-128-10: samples/s;
 *   (c) the products of a training step (forward, weight gradient, error propagation)
 *       in GFLOP/s and an elementwise kernel (sech²) in GB/s, through the backend's
 *       operations;
 *   (d) cold start: process start to the first finished training step, with an empty
 *       and with a warm kernel cache.
 * Each figure is the median of --runs runs (default 5) with min and max beside it,
 * printed as a table and, with --json, as JSON lines.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "clmlp.h"
#include "clock.h"
#include "config.h"
#include "opencl/cl_common.h"

#define DATA_DIR "/usr/share/datasets/fashion-mnist"

typedef struct {
    int runs, json, profile;
    size_t epoch_samples, per_sample_samples, batch;
    const char *only, *data;
    int backends[2], dtypes[2]; /* which to run */
    const char *self;
} options;

static double now(void) { return clmlp_seconds(); }

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void report(const options *o, const char *bench, const char *backend, const char *dtype, const char *what,
                   double *values, int n, const char *unit)
{
    qsort(values, (size_t)n, sizeof *values, compare);
    double median = n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
    printf("%-11s %-14s %-4s %-34s %12.4g %12.4g %12.4g  %s\n", bench, backend, dtype, what, median, values[0],
           values[n - 1], unit);
    if (o->json)
        fprintf(stderr,
                "{\"bench\":\"%s\",\"backend\":\"%s\",\"dtype\":\"%s\",\"what\":\"%s\",\"median\":%.6g,\"min\":%.6g,"
                "\"max\":%.6g,\"unit\":\"%s\",\"runs\":%d}\n",
                bench, backend, dtype, what, median, values[0], values[n - 1], unit, n);
    fflush(stdout);
}

static const char *backend_label(clmlp_backend b) { return b == CLMLP_BACKEND_HOST ? "host" : "opencl"; }
static const char *dtype_label(clmlp_dtype d) { return d == CLMLP_F32 ? "f32" : "f64"; }

static int wanted(const options *o, const char *section) { return !o->only || strstr(o->only, section) != NULL; }

#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        clmlp_status s_ = (call);                                                                                      \
        if (s_ != CLMLP_OK) {                                                                                          \
            fprintf(stderr, "bench: %s: %s\n", #call, clmlp_last_error());                                             \
            exit(1);                                                                                                   \
        }                                                                                                              \
    } while (0)

typedef struct {
    clmlp_idx *images, *labels;
} mnist;

static mnist load_train(const options *o)
{
    char images[1024], labels[1024];
    mnist m;
    snprintf(images, sizeof images, "%s/train-images-idx3-ubyte.gz", o->data);
    snprintf(labels, sizeof labels, "%s/train-labels-idx1-ubyte.gz", o->data);
    CHECK(clmlp_idx_load(images, &m.images));
    CHECK(clmlp_idx_load(labels, &m.labels));
    return m;
}

static clmlp_net *make_net(const size_t *sizes, size_t n, clmlp_backend b, clmlp_dtype d, clmlp_loss loss, int profile)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.profile = profile && b == CLMLP_BACKEND_OPENCL ? 1 : 0;
    cfg.backend = b;
    cfg.dtype = d;
    cfg.loss = loss;
    clmlp_net *net;
    CHECK(clmlp_create(sizes, n, &cfg, &net));
    return net;
}

/* The kernels' share of the device time of a net created with profiling, per step. */
static void print_profile(clmlp_net *net, double wall, double steps)
{
    clmlp_kernel_profile k[40];
    size_t n;
    CHECK(clmlp_profile(net, k, 40, &n, 1));
    double total = 0;
    for (size_t i = 0; i < n && i < 40; i++)
        total += k[i].seconds;
    printf("  profile: %.3f s of kernels in %.3f s of epochs (%.0f %%); per step:\n", total, wall,
           wall > 0 ? 100 * total / wall : 0.0);
    for (size_t i = 0; i < n && i < 40; i++)
        printf("  %-20s %8.2f launches %10.1f us %6.1f %%\n", k[i].kernel, (double)k[i].launches / steps,
               1e6 * k[i].seconds / steps, total > 0 ? 100 * k[i].seconds / total : 0.0);
}

/* Samples per second of clmlp_train_epoch over `count` images with batch `batch`,
 * after a warm-up epoch on a small prefix. */
static void train_throughput(const options *o, const mnist *m, const char *bench, const size_t *sizes, size_t n_sizes,
                             size_t crop, size_t batch, size_t count, clmlp_backend b, clmlp_dtype d, const char *what)
{
    clmlp_net *net = make_net(sizes, n_sizes, b, d, CLMLP_LOSS_MSE, o->profile);
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    pp.crop = crop;
    clmlp_dataset *data, *warm;
    size_t warm_count = batch * 4 < count ? batch * 4 : count;
    CHECK(clmlp_dataset_create(net, clmlp_idx_data(m->images), clmlp_idx_data(m->labels), count, 28, 28, &pp, &data));
    CHECK(clmlp_dataset_create(net, clmlp_idx_data(m->images), clmlp_idx_data(m->labels), warm_count, 28, 28, &pp,
                               &warm));
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = batch;
    opt.lr = batch == 1 ? 0.01 : 0.1;
    CHECK(clmlp_train_epoch(net, warm, &opt, 0, NULL));
    size_t n_kernels;
    if (o->profile && b == CLMLP_BACKEND_OPENCL)
        CHECK(clmlp_profile(net, NULL, 0, &n_kernels, 1)); /* the warm-up's launches do not count */
    double values[64], wall = 0;
    for (int r = 0; r < o->runs; r++) {
        clmlp_epoch_stats st;
        CHECK(clmlp_train_epoch(net, data, &opt, (size_t)r + 1, &st));
        values[r] = (double)st.samples / st.seconds;
        wall += st.seconds;
    }
    report(o, bench, backend_label(b), dtype_label(d), what, values, o->runs, "samples/s");
    if (o->profile && b == CLMLP_BACKEND_OPENCL)
        print_profile(net, wall, (double)count * o->runs / (double)batch);
    clmlp_dataset_destroy(data);
    clmlp_dataset_destroy(warm);
    clmlp_destroy(net);
}

/* ---- (c): the products of a step and an elementwise kernel ----------------- */

typedef struct {
    clmlp_be *be;
    clmlp_buf *sync;
} op_env;

static clmlp_buf *random_buf(clmlp_be *be, size_t n, unsigned seed)
{
    double *v = malloc(n * sizeof *v);
    srand(seed);
    for (size_t i = 0; i < n; i++)
        v[i] = (double)rand() / RAND_MAX - 0.5;
    clmlp_buf *buf;
    CHECK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &buf));
    CHECK(clmlp_buf_upload(be, buf, 0, v, n));
    free(v);
    return buf;
}

/* Seconds per call of op(), measured over enough calls, each run ending with a read. */
typedef void (*op_fn)(clmlp_be *be, clmlp_buf **bufs, size_t m, size_t n, size_t k);

static void op_forward(clmlp_be *be, clmlp_buf **b, size_t m, size_t n, size_t k)
{
    CHECK(be->ops->forward_layer(be, m, k, n, b[0], b[1], b[2], 1, b[3], b[4]));
}

static void op_weight_grad(clmlp_be *be, clmlp_buf **b, size_t m, size_t n, size_t k)
{
    /* dW (m × n) = delta^T (m × k) · a_prev (k × n): batch k */
    CHECK(be->ops->weight_grad(be, k, n, m, b[0], b[1], b[2], b[3]));
}

static void op_weight_grad_sgd(clmlp_be *be, clmlp_buf **b, size_t m, size_t n, size_t k)
{
    /* as op_weight_grad, with the SGD step of W (m × n) and b (m) in the training step's
     * fused form where the backend has one (momentum 0, as the recipe: no velocity) */
    clmlp_sgd sgd = {.lr = 1e-6, .grad_scale = 1.0 / (double)k, .momentum = 0, .weight_decay = 0};
    if (be->ops->can(be, CLMLP_CAN_FUSE_WEIGHT_SGD, NULL, k)) {
        CHECK(be->ops->weight_grad_sgd(be, k, n, m, b[0], b[1], &sgd, b[4], b[5], b[6], b[7]));
        return;
    }
    CHECK(be->ops->weight_grad(be, k, n, m, b[0], b[1], b[2], b[3]));
    CHECK(be->ops->sgd_momentum(be, m * n, &sgd, b[2], b[5], b[4]));
    CHECK(be->ops->sgd_momentum(be, m, &sgd, b[3], b[7], b[6]));
}

static void op_backprop(clmlp_be *be, clmlp_buf **b, size_t m, size_t n, size_t k)
{
    /* delta (m × n) = delta_next (m × k) · W_next (k × n) ⊙ sech²(z) */
    CHECK(be->ops->backprop_delta(be, m, n, k, b[0], b[1], b[2], b[3]));
}

static void op_sech2(clmlp_be *be, clmlp_buf **b, size_t m, size_t n, size_t k)
{
    (void)k;
    CHECK(clmlp_cl_sech2_mul((clmlp_cl_be *)be, m * n, b[0], b[1], b[2]));
}

static void time_op(const options *o, clmlp_be *be, const char *backend, clmlp_dtype d, const char *what, op_fn fn,
                    size_t m, size_t n, size_t k, size_t buf_sizes[8], double work, const char *unit)
{
    clmlp_buf *bufs[8] = {NULL};
    for (int i = 0; i < 8; i++)
        if (buf_sizes[i])
            bufs[i] = random_buf(be, buf_sizes[i], (unsigned)i + 1);
    double probe;
    fn(be, bufs, m, n, k); /* warm-up: compiles, first-use costs */
    CHECK(clmlp_buf_download(be, bufs[0], &probe, 1));
    int calls = 1;
    double t0 = now();
    do { /* calibrate: at least 0.2 s per run */
        calls *= 2;
        for (int c = 0; c < calls; c++)
            fn(be, bufs, m, n, k);
        CHECK(clmlp_buf_download(be, bufs[0], &probe, 1));
    } while (now() - t0 < 0.2 && calls < (1 << 20));
    double values[64];
    for (int r = 0; r < o->runs; r++) {
        double start = now();
        for (int c = 0; c < calls; c++)
            fn(be, bufs, m, n, k);
        CHECK(clmlp_buf_download(be, bufs[0], &probe, 1));
        double per_call = (now() - start) / calls;
        values[r] = work / per_call * 1e-9;
    }
    report(o, "kernels", backend, dtype_label(d), what, values, o->runs, unit);
    for (int i = 0; i < 8; i++)
        if (bufs[i])
            clmlp_buf_release(be, bufs[i]);
}

static void kernels(const options *o, clmlp_backend b, clmlp_dtype d, const char *gemm_label, clmlp_products mode)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = d;
    cfg.products = mode;
    CHECK(clmlp_config_resolve(&cfg, &cfg)); /* CLMLP_TILES and the device choice apply */
    clmlp_be *be;
    if (b == CLMLP_BACKEND_HOST)
        CHECK(clmlp_host_backend_create(d, &be));
    else
        CHECK(clmlp_opencl_backend_create(&cfg, NULL, 0, &be));
    char backend[32];
    snprintf(backend, sizeof backend, "%s%s", backend_label(b), gemm_label);
    size_t real = d == CLMLP_F32 ? 4 : 8;
    struct {
        const char *what;
        op_fn fn;
        size_t m, n, k;
    } shapes[] = {
        /* every product of a 784-256-128-10 training step at batch 128 */
        {"forward 128x256 <- 784", op_forward, 128, 256, 784},
        {"forward 128x128 <- 256", op_forward, 128, 128, 256},
        {"forward 128x10 <- 128", op_forward, 128, 10, 128},
        {"weight grad 256x784 (batch 128)", op_weight_grad, 256, 784, 128},
        {"weight grad+SGD 256x784 (batch 128)", op_weight_grad_sgd, 256, 784, 128},
        {"weight grad+SGD 128x256 (batch 128)", op_weight_grad_sgd, 128, 256, 128},
        {"weight grad+SGD 10x128 (batch 128)", op_weight_grad_sgd, 10, 128, 128},
        {"error prop 128x256 <- 128", op_backprop, 128, 256, 128},
        {"error prop 128x128 <- 10", op_backprop, 128, 128, 10},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t m = shapes[s].m, n = shapes[s].n, k = shapes[s].k, sizes[8] = {0};
        if (shapes[s].fn == op_forward) { /* a_prev m×k, W n×k, b n, z, a m×n */
            sizes[0] = m * k, sizes[1] = n * k, sizes[2] = n, sizes[3] = m * n, sizes[4] = m * n;
        } else if (shapes[s].fn == op_backprop) { /* delta_next m×k, W_next k×n, z m×n, delta m×n */
            sizes[0] = m * k, sizes[1] = k * n, sizes[2] = m * n, sizes[3] = m * n;
        } else { /* delta k×m, a_prev k×n, dW m×n, db m (and W, vW m×n, b, vb m for the step) */
            sizes[0] = k * m, sizes[1] = k * n, sizes[2] = m * n, sizes[3] = m;
            sizes[4] = sizes[5] = m * n, sizes[6] = sizes[7] = m;
        }
        time_op(o, be, backend, d, shapes[s].what, shapes[s].fn, m, n, k, sizes, 2.0 * (double)(m * n * k), "GFLOP/s");
    }
    size_t sizes[8] = {128 * 256, 128 * 256, 128 * 256, 0, 0, 0, 0, 0};
    if (b == CLMLP_BACKEND_OPENCL) /* the CLBlast path's separate epilogue */
        time_op(o, be, backend, d, "sech2 multiply 128x256", op_sech2, 128, 256, 0, sizes, 3.0 * 128 * 256 * real,
                "GB/s");
    be->ops->destroy(be);
}

/* ---- (d): cold start ------------------------------------------------------- */

/* The child: create a net, one training step on a batch of 128, exit. */
static int first_step(void)
{
    const size_t sizes[] = {784, 256, 128, 10};
    clmlp_net *net = make_net(sizes, 4, CLMLP_BACKEND_OPENCL, CLMLP_F32, CLMLP_LOSS_MSE, 0);
    double *x = calloc(128 * 784, sizeof *x), *y = calloc(128 * 10, sizeof *y), W[10 * 128], b[10], loss;
    if (!x || !y)
        return 1;
    CHECK(clmlp_forward(net, x, 128, NULL));
    CHECK(clmlp_backward(net, y, &loss));
    CHECK(clmlp_sgd_step(net, 0.1));
    CHECK(clmlp_get_layer(net, 3, W, b)); /* the step has finished when its result is read */
    free(x);
    free(y);
    clmlp_destroy(net);
    return 0;
}

static double run_child(const options *o, const char *cache_dir)
{
    double start = now();
    pid_t pid = fork();
    if (pid == 0) {
        setenv("POCL_CACHE_DIR", cache_dir, 1);
        setenv("CLMLP_CACHE_DIR", cache_dir, 1);
        execl(o->self, o->self, "--first-step", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: the cold-start child failed\n");
        exit(1);
    }
    return now() - start;
}

static void cold_start(const options *o)
{
    double empty[64], warm[64];
    char base[] = "/tmp/clmlp-bench-XXXXXX";
    if (!mkdtemp(base)) {
        perror("mkdtemp");
        exit(1);
    }
    for (int r = 0; r < o->runs; r++) {
        char dir[64];
        snprintf(dir, sizeof dir, "%s/empty%d", base, r);
        empty[r] = run_child(o, dir);
    }
    char dir[64];
    snprintf(dir, sizeof dir, "%s/warm", base);
    run_child(o, dir);
    for (int r = 0; r < o->runs; r++)
        warm[r] = run_child(o, dir);
    report(o, "cold-start", "opencl", "f32", "first step, empty kernel cache", empty, o->runs, "s");
    report(o, "cold-start", "opencl", "f32", "first step, warm kernel cache", warm, o->runs, "s");
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", base);
}

static void usage(void)
{
    puts("usage: clmlp_bench [--runs N] [--only minibatch,per-sample,kernels,cold-start] [--backends host,opencl]\n"
         "                   [--dtypes f32,f64] [--epoch-samples N] [--per-sample-samples N] [--data DIR] [--json]\n"
         "                   [--batch N (minibatch, default 128)] [--profile]\n"
         "\n"
         "Medians of N runs (default 5) with min and max; --json also writes JSON lines to stderr;\n"
         "--profile prints each kernel's launches and device time per training step (OpenCL).");
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--first-step") == 0)
        return first_step();
    options o = {.runs = 5,
                 .epoch_samples = 60000,
                 .per_sample_samples = 3000,
                 .batch = 128,
                 .data = DATA_DIR,
                 .backends = {1, 1},
                 .dtypes = {1, 1},
                 .self = "/proc/self/exe"};
    static char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        o.self = self;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(a, "--json") == 0)
            o.json = 1;
        else if (strcmp(a, "--profile") == 0)
            o.profile = 1;
        else if (strcmp(a, "--runs") == 0 && ++i)
            o.runs = atoi(v) < 1 ? 1 : atoi(v) > 64 ? 64 : atoi(v);
        else if (strcmp(a, "--only") == 0 && ++i)
            o.only = v;
        else if (strcmp(a, "--data") == 0 && ++i)
            o.data = v;
        else if (strcmp(a, "--epoch-samples") == 0 && ++i)
            o.epoch_samples = (size_t)atol(v);
        else if (strcmp(a, "--batch") == 0 && ++i)
            o.batch = (size_t)atol(v);
        else if (strcmp(a, "--per-sample-samples") == 0 && ++i)
            o.per_sample_samples = (size_t)atol(v);
        else if (strcmp(a, "--backends") == 0 && ++i)
            o.backends[0] = strstr(v, "opencl") != NULL, o.backends[1] = strstr(v, "host") != NULL;
        else if (strcmp(a, "--dtypes") == 0 && ++i)
            o.dtypes[0] = strstr(v, "f32") != NULL, o.dtypes[1] = strstr(v, "f64") != NULL;
        else {
            usage();
            return strcmp(a, "--help") == 0 ? 0 : 2;
        }
    }
    if (o.epoch_samples < 256 || o.epoch_samples > 60000 || o.per_sample_samples < 10 || o.per_sample_samples > 60000 ||
        o.batch < 2 || o.batch > o.epoch_samples) {
        fprintf(stderr, "bench: --epoch-samples must be 256..60000, --per-sample-samples 10..60000, --batch "
                        "2..epoch samples\n");
        return 2;
    }
    char minibatch_what[48];
    snprintf(minibatch_what, sizeof minibatch_what, "784-256-128-10 batch %zu", o.batch);
    printf("%-11s %-14s %-4s %-34s %12s %12s %12s\n", "bench", "backend", "type", "workload", "median", "min", "max");
    const clmlp_backend backends[2] = {CLMLP_BACKEND_OPENCL, CLMLP_BACKEND_HOST};
    const clmlp_dtype dtypes[2] = {CLMLP_F32, CLMLP_F64};
    mnist m = {NULL, NULL};
    if (wanted(&o, "minibatch") || wanted(&o, "per-sample"))
        m = load_train(&o);
    for (int bi = 0; bi < 2; bi++)
        for (int di = 0; di < 2; di++) {
            if (!o.backends[bi] || !o.dtypes[di])
                continue;
            clmlp_backend b = backends[bi];
            clmlp_dtype d = dtypes[di];
            const size_t big[] = {784, 256, 128, 10}, small[] = {576, 16, 10};
            if (wanted(&o, "minibatch"))
                train_throughput(&o, &m, "minibatch", big, 4, 0, o.batch, o.epoch_samples, b, d, minibatch_what);
            if (wanted(&o, "per-sample")) {
                train_throughput(&o, &m, "per-sample", small, 3, 24, 1, o.per_sample_samples, b, d,
                                 "576-16-10 batch 1");
                train_throughput(&o, &m, "per-sample", big, 4, 0, 1, o.per_sample_samples / 4, b, d,
                                 "784-256-128-10 batch 1");
            }
            if (wanted(&o, "kernels")) {
                if (b == CLMLP_BACKEND_HOST)
                    kernels(&o, b, d, "", CLMLP_PRODUCTS_AUTO);
                else {
                    kernels(&o, b, d, "/own", CLMLP_PRODUCTS_OWN);
                    kernels(&o, b, d, "/clblast", CLMLP_PRODUCTS_CLBLAST);
                }
            }
        }
    if (wanted(&o, "cold-start") && o.backends[0])
        cold_start(&o);
    clmlp_idx_free(m.images);
    clmlp_idx_free(m.labels);
    return 0;
}
