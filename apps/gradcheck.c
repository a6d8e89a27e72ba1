/*
 * `clmlp gradcheck`: the exercise's checks. Per-sample SGD over generated samples
 * (x_i = i + N(0,1) in every input, targets y_ij = (-1)^j i), with the device and the
 * host path stepping side by side from the same weights; per layer the worst relative
 * error device vs host and the exercise's finite-difference residual
 * ‖g_fd − g‖ / (‖g_fd‖ + ‖g‖), PASS or FAIL against its thresholds.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { MAX_LAYERS = 64 };

static const char help[] =
    "usage: clmlp gradcheck [options]\n"
    "\n"
    "Trains per sample with SGD on generated data (x_i = i + N(0,1), y_ij = (-1)^j i) on the\n"
    "device and on the host side by side, and checks every step's gradients: device vs host\n"
    "(relative error <= 1e-3) and both vs central finite differences (eps 1e-4, residual\n"
    "|fd - g| / (|fd| + |g|) <= 1e-4). Exit code 0 when every check passes, 1 otherwise.\n"
    "\n"
    "options:\n"
    "  --layers LIST     layer sizes n_0,...,n_L (default 2,3,2, the exercise's toy net)\n"
    "  --samples N       samples per epoch (default 10)\n"
    "  --epochs N        epochs (default 5)\n"
    "  --lr X            learning rate (default 0.1)\n"
    "  --loss mse|ce     loss (default mse)\n"
    "  --dtype f64|f32   precision of the device and host nets (default f64; finite\n"
    "                    differences always use a double host net)\n"
    "  --backend B       the net checked against the host: opencl (default), auto or host\n"
    "  --device SPEC     OpenCL device: gpu, cpu or PLATFORM:DEVICE (as CLMLP_DEVICE)\n"
    "  --seed N          seed for the weights and the data (default 0)\n"
    "  --help            this text\n";

typedef struct {
    size_t sizes[MAX_LAYERS + 1], n_sizes, samples;
    unsigned long long epochs, seed;
    double lr;
    clmlp_loss loss;
    clmlp_dtype dtype;
    clmlp_backend backend;
    const char *device;
} options;

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.sizes = {2, 3, 2}, .n_sizes = 3, .samples = 10, .epochs = 5, .lr = 0.1,
                   .loss = CLMLP_LOSS_MSE, .dtype = CLMLP_F64, .backend = CLMLP_BACKEND_OPENCL};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
            fputs(help, stdout);
            exit(CLI_OK);
        }
        if (!val)
            return cli_error(CLI_USAGE, "gradcheck: unknown option '%s' or missing value (see --help)", opt);
        i++;
        if (strcmp(opt, "--layers") == 0) {
            o->n_sizes = cli_parse_sizes(val, o->sizes, MAX_LAYERS + 1);
            if (o->n_sizes < 2)
                return cli_error(CLI_USAGE, "gradcheck: --layers '%s' is not a list of at least two sizes >= 1", val);
        } else if (strcmp(opt, "--samples") == 0 && cli_parse_u64(val, 1, 100000, &n)) {
            o->samples = (size_t)n;
        } else if (strcmp(opt, "--epochs") == 0 && cli_parse_u64(val, 1, 100000, &o->epochs)) {
        } else if (strcmp(opt, "--seed") == 0 && cli_parse_u64(val, 0, UINT64_MAX, &o->seed)) {
        } else if (strcmp(opt, "--lr") == 0 && cli_parse_double(val, 0, 1e6, &o->lr)) {
        } else if (strcmp(opt, "--loss") == 0 && cli_parse_loss(val, &o->loss)) {
        } else if (strcmp(opt, "--dtype") == 0 && cli_parse_dtype(val, &o->dtype)) {
        } else if (strcmp(opt, "--backend") == 0 && cli_parse_backend(val, &o->backend)) {
        } else if (strcmp(opt, "--device") == 0) {
            o->device = val;
        } else {
            return cli_error(CLI_USAGE, "gradcheck: bad option '%s %s' (see --help)", opt, val);
        }
    }
    return CLI_OK;
}

static double normal(uint64_t *state)
{
    double u[2];
    for (int k = 0; k < 2; k++) { /* splitmix64 → uniform (0, 1) */
        uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        u[k] = ((double)((z ^ (z >> 31)) >> 11) + 0.5) * 0x1.0p-53;
    }
    return sqrt(-2 * log(u[0])) * cos(2 * 3.14159265358979323846 * u[1]);
}

static double norm_diff(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - (b ? b[i] : 0)) * (a[i] - (b ? b[i] : 0));
    return sqrt(s);
}

static int create(const options *o, clmlp_backend backend, clmlp_dtype dtype, clmlp_net **net)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    cfg.dtype = dtype;
    cfg.loss = o->loss;
    cfg.seed = o->seed;
    clmlp_status s = clmlp_create(o->sizes, o->n_sizes, &cfg, net);
    if (s != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "cannot create the %s net: %s: %s",
                         backend == CLMLP_BACKEND_HOST ? "host" : "device", clmlp_strerror(s), clmlp_last_error());
    return CLI_OK;
}

#define CHECK(call)                                                                                \
    do {                                                                                           \
        clmlp_status s_ = (call);                                                                  \
        if (s_ != CLMLP_OK) {                                                                      \
            rc = cli_error(CLI_RUNTIME, "%s: %s", clmlp_strerror(s_), clmlp_last_error());         \
            goto done;                                                                             \
        }                                                                                          \
    } while (0)

int cmd_gradcheck(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK)
        return rc;
    if (o.device && setenv("CLMLP_DEVICE", o.device, 1) != 0)
        return cli_error(CLI_RUNTIME, "cannot set CLMLP_DEVICE");

    const size_t L = o.n_sizes - 1, n_in = o.sizes[0], n_out = o.sizes[L];
    clmlp_net *dev = NULL, *host = NULL, *fd_net = NULL;
    double *x = NULL, *y = NULL, *g_dev = NULL, *g_host = NULL, *g_fd = NULL;
    double worst_dev[MAX_LAYERS + 1] = {0}, worst_fd[MAX_LAYERS + 1] = {0};
    size_t biggest = 0;
    for (size_t l = 1; l <= L; l++)
        biggest = o.sizes[l] * o.sizes[l - 1] + o.sizes[l] > biggest ? o.sizes[l] * o.sizes[l - 1] + o.sizes[l] : biggest;

    if ((rc = create(&o, o.backend, o.dtype, &dev)) || (rc = create(&o, CLMLP_BACKEND_HOST, o.dtype, &host)) ||
        (rc = create(&o, CLMLP_BACKEND_HOST, CLMLP_F64, &fd_net)))
        goto done;
    x = malloc(o.samples * n_in * sizeof *x);
    y = malloc(o.samples * n_out * sizeof *y);
    g_dev = malloc(biggest * sizeof *g_dev);
    g_host = malloc(biggest * sizeof *g_host);
    g_fd = malloc(biggest * sizeof *g_fd);
    if (!x || !y || !g_dev || !g_host || !g_fd) {
        rc = cli_error(CLI_RUNTIME, "out of memory");
        goto done;
    }
    uint64_t state = o.seed ^ 0x5eedull;
    for (size_t i = 0; i < o.samples; i++) {
        for (size_t k = 0; k < n_in; k++)
            x[i * n_in + k] = (double)i + normal(&state);
        for (size_t j = 0; j < n_out; j++)
            y[i * n_out + j] = o.loss == CLMLP_LOSS_MSE ? (j % 2 ? -1.0 : 1.0) * (double)i : (double)(j == i % n_out);
    }
    printf("device: %s\nhost:   %s\nnet:    ", clmlp_backend_name(dev), clmlp_backend_name(host));
    for (size_t l = 0; l <= L; l++)
        printf("%zu%s", o.sizes[l], l < L ? "-" : "");
    printf(", %s, %s, %llu epoch(s) of %zu samples, lr %g\n", o.loss == CLMLP_LOSS_MSE ? "MSE" : "softmax-CE",
           o.dtype == CLMLP_F64 ? "f64" : "f32", o.epochs, o.samples, o.lr);

    for (size_t l = 1; l <= L; l++) { /* all three nets start from the same weights */
        size_t n_w = o.sizes[l] * o.sizes[l - 1];
        CHECK(clmlp_get_layer(host, l, g_host, g_host + n_w));
        CHECK(clmlp_set_layer(dev, l, g_host, g_host + n_w));
        CHECK(clmlp_set_layer(fd_net, l, g_host, g_host + n_w));
    }
    for (unsigned long long epoch = 0; epoch < o.epochs; epoch++)
        for (size_t i = 0; i < o.samples; i++) {
            const double *xi = x + i * n_in, *yi = y + i * n_out;
            for (size_t l = 1; l <= L; l++) {
                size_t n_w = o.sizes[l] * o.sizes[l - 1], n = n_w + o.sizes[l];
                CHECK(clmlp_numeric_grad(fd_net, xi, yi, 1, l, 1e-4, g_fd, g_fd + n_w));
                CHECK(clmlp_forward(dev, xi, 1, NULL));
                CHECK(clmlp_backward(dev, yi, NULL));
                CHECK(clmlp_get_grad(dev, l, g_dev, g_dev + n_w));
                CHECK(clmlp_forward(host, xi, 1, NULL));
                CHECK(clmlp_backward(host, yi, NULL));
                CHECK(clmlp_get_grad(host, l, g_host, g_host + n_w));
                double ref = norm_diff(g_host, NULL, n), fd = norm_diff(g_fd, NULL, n);
                double e_dev = ref > 0 ? norm_diff(g_dev, g_host, n) / ref : norm_diff(g_dev, NULL, n);
                double e_fd = fd + ref > 0 ? norm_diff(g_fd, g_dev, n) / (fd + norm_diff(g_dev, NULL, n)) : 0;
                worst_dev[l] = e_dev > worst_dev[l] ? e_dev : worst_dev[l];
                worst_fd[l] = e_fd > worst_fd[l] ? e_fd : worst_fd[l];
            }
            CHECK(clmlp_forward(fd_net, xi, 1, NULL));
            CHECK(clmlp_backward(fd_net, yi, NULL));
            CHECK(clmlp_sgd_step(fd_net, o.lr));
            CHECK(clmlp_sgd_step(dev, o.lr));
            CHECK(clmlp_sgd_step(host, o.lr));
        }

    int all_pass = 1;
    printf("\nlayer  params  device vs host  device vs finite differences  result\n");
    for (size_t l = 1; l <= L; l++) {
        int pass = worst_dev[l] <= 1e-3 && worst_fd[l] <= 1e-4;
        all_pass &= pass;
        printf("%5zu  %6zu  %14.3g  %28.3g  %s\n", l, o.sizes[l] * o.sizes[l - 1] + o.sizes[l], worst_dev[l],
               worst_fd[l], pass ? "PASS" : "FAIL");
    }
    printf("(worst over all steps; thresholds: device vs host <= 1e-3, finite differences <= 1e-4)\n");
    rc = all_pass ? CLI_OK : CLI_RUNTIME;
done:
    clmlp_destroy(dev);
    clmlp_destroy(host);
    clmlp_destroy(fd_net);
    free(x);
    free(y);
    free(g_dev);
    free(g_host);
    free(g_fd);
    return rc;
}
