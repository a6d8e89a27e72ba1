/*
 * `clmlp gradcheck`: the exercise's checks for any layer sizes on any data. Per-sample
 * SGD with the checked net and a host net stepping side by side from the same weights;
 * at every step, per layer, the relative error device vs host and the exercise's
 * finite-difference residual ‖g_fd − g‖ / (‖g_fd‖ + ‖g‖), PASS or FAIL against its
 * thresholds. Data: generated (x_i = i + N(0,1) in every input, y_ij = (−1)^j i, the
 * exercise's toy) or the first images of an MNIST-format test set.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "cli.h"

enum { MAX_LAYERS = 64 };

static const char help[] =
    "usage: clmlp gradcheck [options]\n"
    "\n"
    "Trains per sample with SGD, the checked net and a host net side by side, and checks\n"
    "every step's gradients: checked net vs host (relative error <= 1e-3) and vs central\n"
    "finite differences of a double host net (eps 1e-4, residual |fd - g| / (|fd| + |g|)\n"
    "<= 1e-4; where a layer's whole gradient is below the rounding noise of the finite\n"
    "differences, about 2.2e-16·loss/eps per entry, the residual is reported but excused).\n"
    "Exit code 0 when every check passes, 1 otherwise.\n"
    "\n"
    "options:\n"
    "  --layers LIST     layer sizes n_0,...,n_L (default 2,3,2, the exercise's toy net;\n"
    "                    576,16,10 with --data and --crop 24)\n"
    "  --data DIR        use the first --samples images of DIR's t10k files: pixels/255,\n"
    "                    standardized (--mean, --std; default 0.1306, 0.3080 as in the\n"
    "                    exercise); targets: the row filled with the label (mse) or one-hot (ce)\n"
    "  --crop N          center crop the images to N×N\n"
    "  --mean X --std Y  standardization of the images\n"
    "  --samples N       samples per epoch (default 10, or 5 with --data)\n"
    "  --epochs N        epochs (default 5, or 1 with --data)\n"
    "  --lr X            learning rate (default 0.1)\n"
    "  --loss mse|ce     loss (default mse)\n"
    "  --dtype f64|f32   precision of the checked and host nets (default f64)\n"
    "  --backend B       the checked net: opencl (default), auto or host\n"
    "  --device SPEC     OpenCL device: gpu, cpu or PLATFORM:DEVICE (as CLMLP_DEVICE)\n"
    "  --seed N          seed for the weights and the generated data (default 0)\n"
    "  --help            this text\n";

typedef struct {
    size_t sizes[MAX_LAYERS + 1], n_sizes, samples;
    unsigned long long epochs, seed;
    double lr, mean, std;
    clmlp_loss loss;
    clmlp_dtype dtype;
    clmlp_backend backend;
    const char *device, *data;
    size_t crop;
    int layers_given, samples_given, epochs_given;
} options;

static int parse(int argc, char **argv, options *o)
{
    *o = (options){.sizes = {2, 3, 2},
                   .n_sizes = 3,
                   .samples = 10,
                   .epochs = 5,
                   .lr = 0.1,
                   .mean = 0.1306,
                   .std = 0.3080,
                   .loss = CLMLP_LOSS_MSE,
                   .dtype = CLMLP_F64,
                   .backend = CLMLP_BACKEND_OPENCL};
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
            o->layers_given = 1;
            if (o->n_sizes < 2)
                return cli_error(CLI_USAGE, "gradcheck: --layers '%s' is not a list of at least two sizes >= 1", val);
        } else if (strcmp(opt, "--samples") == 0 && cli_parse_u64(val, 1, 100000, &n)) {
            o->samples = (size_t)n;
            o->samples_given = 1;
        } else if (strcmp(opt, "--epochs") == 0 && cli_parse_u64(val, 1, 100000, &o->epochs)) {
            o->epochs_given = 1;
        } else if (strcmp(opt, "--crop") == 0 && cli_parse_u64(val, 1, 1u << 16, &n)) {
            o->crop = (size_t)n;
        } else if (strcmp(opt, "--seed") == 0 && cli_parse_u64(val, 0, UINT64_MAX, &o->seed)) {
        } else if (strcmp(opt, "--lr") == 0 && cli_parse_double(val, 0, 1e6, &o->lr)) {
        } else if (strcmp(opt, "--mean") == 0 && cli_parse_double(val, -1e6, 1e6, &o->mean)) {
        } else if (strcmp(opt, "--std") == 0 && cli_parse_double(val, 1e-12, 1e6, &o->std)) {
        } else if (strcmp(opt, "--loss") == 0 && cli_parse_loss(val, &o->loss)) {
        } else if (strcmp(opt, "--dtype") == 0 && cli_parse_dtype(val, &o->dtype)) {
        } else if (strcmp(opt, "--backend") == 0 && cli_parse_backend(val, &o->backend)) {
        } else if (strcmp(opt, "--device") == 0) {
            o->device = val;
        } else if (strcmp(opt, "--data") == 0) {
            o->data = val;
        } else {
            return cli_error(CLI_USAGE, "gradcheck: bad option '%s %s' (see --help)", opt, val);
        }
    }
    if (o->data && !o->layers_given) { /* the exercise's second net */
        size_t side = o->crop ? o->crop : 28;
        o->sizes[0] = side * side, o->sizes[1] = 16, o->sizes[2] = 10, o->n_sizes = 3;
    }
    if (o->data && !o->samples_given)
        o->samples = 5;
    if (o->data && !o->epochs_given)
        o->epochs = 1;
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

/* The exercise's toy data. */
static void generate(const options *o, double *x, double *y)
{
    size_t n_in = o->sizes[0], n_out = o->sizes[o->n_sizes - 1];
    uint64_t state = o->seed ^ 0x5eedull;
    for (size_t i = 0; i < o->samples; i++) {
        for (size_t k = 0; k < n_in; k++)
            x[i * n_in + k] = (double)i + normal(&state);
        for (size_t j = 0; j < n_out; j++)
            y[i * n_out + j] = o->loss == CLMLP_LOSS_MSE ? (j % 2 ? -1.0 : 1.0) * (double)i : (double)(j == i % n_out);
    }
}

/* The first samples of DIR's test set, preprocessed like the exercise did. */
static int load_images(const options *o, double *x, double *y)
{
    char dir[4096], images_path[4096], labels_path[4096];
    const char *why;
    size_t n_in = o->sizes[0], n_out = o->sizes[o->n_sizes - 1];
    if (!cli_find_data_dir(o->data, dir, sizeof dir, &why) ||
        !cli_data_file(dir, "t10k-images-idx3-ubyte", images_path, sizeof images_path) ||
        !cli_data_file(dir, "t10k-labels-idx1-ubyte", labels_path, sizeof labels_path))
        return cli_error(CLI_RUNTIME, "gradcheck: no t10k files in %s", o->data);
    clmlp_idx *images = NULL, *labels = NULL;
    int rc = CLI_OK;
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    pp.normalize = CLMLP_NORMALIZE_GIVEN;
    pp.mean = o->mean;
    pp.std = o->std;
    pp.crop = o->crop;
    pp.n_inputs = n_in; /* clmlp_preprocess_apply refuses images that do not fit the net */
    if (clmlp_idx_load(images_path, &images) != CLMLP_OK || clmlp_idx_load(labels_path, &labels) != CLMLP_OK) {
        rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    } else if (clmlp_idx_ndims(images) != 3 || clmlp_idx_dim(images, 0) < o->samples ||
               clmlp_idx_dim(labels, 0) < o->samples) {
        rc = cli_error(CLI_RUNTIME, "gradcheck: %s does not hold %zu images", images_path, o->samples);
    } else {
        size_t rows = clmlp_idx_dim(images, 1), cols = clmlp_idx_dim(images, 2);
        if (clmlp_preprocess_apply(&pp, clmlp_idx_data(images), o->samples, rows, cols, x) != CLMLP_OK)
            rc = cli_error(CLI_RUNTIME, "gradcheck: %s: %s", images_path, clmlp_last_error());
        for (size_t i = 0; rc == CLI_OK && i < o->samples; i++)
            for (size_t j = 0; j < n_out; j++) {
                double label = clmlp_idx_data(labels)[i];
                y[i * n_out + j] = o->loss == CLMLP_LOSS_MSE ? label : (double)(j == label);
            }
    }
    clmlp_idx_free(images);
    clmlp_idx_free(labels);
    return rc;
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
    int rc = cli_use_device(o->device, &cfg);
    if (rc != CLI_OK)
        return rc;
    clmlp_status s = clmlp_create(o->sizes, o->n_sizes, &cfg, net);
    if (s != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "cannot create the %s net: %s: %s",
                         backend == CLMLP_BACKEND_HOST ? "host" : "checked", clmlp_strerror(s), clmlp_last_error());
    return CLI_OK;
}

typedef struct {
    double dev_vs_host, fd; /* worst residuals */
    size_t excused;         /* steps whose fd residual was rounding noise */
} layer_result;

#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        clmlp_status s_ = (call);                                                                                      \
        if (s_ != CLMLP_OK) {                                                                                          \
            rc = cli_error(CLI_RUNTIME, "%s: %s", clmlp_strerror(s_), clmlp_last_error());                             \
            goto done;                                                                                                 \
        }                                                                                                              \
    } while (0)

int cmd_gradcheck(int argc, char **argv)
{
    options o;
    int rc = parse(argc, argv, &o);
    if (rc != CLI_OK)
        return rc;

    const size_t L = o.n_sizes - 1, n_in = o.sizes[0], n_out = o.sizes[L];
    clmlp_net *dev = NULL, *host = NULL, *fd_net = NULL;
    double *x = NULL, *y = NULL, *g_dev = NULL, *g_host = NULL, *g_fd = NULL;
    layer_result result[MAX_LAYERS + 1];
    memset(result, 0, sizeof result);
    size_t biggest = 0;
    for (size_t l = 1; l <= L; l++)
        biggest =
            o.sizes[l] * o.sizes[l - 1] + o.sizes[l] > biggest ? o.sizes[l] * o.sizes[l - 1] + o.sizes[l] : biggest;

    /* sizes ≤ 10^9 and samples ≤ 10^5 (parse): these counts fit size_t, the bytes are checked */
    x = clmlp_alloc_array(o.samples * n_in, sizeof *x);
    y = clmlp_alloc_array(o.samples * n_out, sizeof *y);
    g_dev = clmlp_alloc_array(biggest, sizeof *g_dev);
    g_host = clmlp_alloc_array(biggest, sizeof *g_host);
    g_fd = clmlp_alloc_array(biggest, sizeof *g_fd);
    if (!x || !y || !g_dev || !g_host || !g_fd) {
        rc = cli_error(CLI_RUNTIME, "out of memory");
        goto done;
    }
    if (o.data)
        rc = load_images(&o, x, y);
    else
        generate(&o, x, y);
    if (rc || (rc = create(&o, o.backend, o.dtype, &dev)) || (rc = create(&o, CLMLP_BACKEND_HOST, o.dtype, &host)) ||
        (rc = create(&o, CLMLP_BACKEND_HOST, CLMLP_F64, &fd_net)))
        goto done;
    printf("checked: %s\nhost:    %s\nnet:     ", clmlp_backend_name(dev), clmlp_backend_name(host));
    for (size_t l = 0; l <= L; l++)
        printf("%zu%s", o.sizes[l], l < L ? "-" : "");
    printf(", %s, %s, %llu epoch(s) of %zu %s samples, lr %g\n", o.loss == CLMLP_LOSS_MSE ? "MSE" : "softmax-CE",
           o.dtype == CLMLP_F64 ? "f64" : "f32", o.epochs, o.samples, o.data ? "image" : "generated", o.lr);

    for (size_t l = 1; l <= L; l++) { /* all three nets start from the same weights */
        size_t n_w = o.sizes[l] * o.sizes[l - 1];
        CHECK(clmlp_get_layer(host, l, g_host, g_host + n_w));
        CHECK(clmlp_set_layer(dev, l, g_host, g_host + n_w));
        CHECK(clmlp_set_layer(fd_net, l, g_host, g_host + n_w));
    }
    for (unsigned long long epoch = 0; epoch < o.epochs; epoch++)
        for (size_t i = 0; i < o.samples; i++) {
            const double *xi = x + i * n_in, *yi = y + i * n_out;
            double loss;
            CHECK(clmlp_forward(fd_net, xi, 1, NULL));
            CHECK(clmlp_backward(fd_net, yi, &loss));
            CHECK(clmlp_forward(dev, xi, 1, NULL));
            CHECK(clmlp_backward(dev, yi, NULL));
            CHECK(clmlp_forward(host, xi, 1, NULL));
            CHECK(clmlp_backward(host, yi, NULL));
            for (size_t l = 1; l <= L; l++) {
                size_t n_w = o.sizes[l] * o.sizes[l - 1], n = n_w + o.sizes[l];
                CHECK(clmlp_get_grad(dev, l, g_dev, g_dev + n_w));
                CHECK(clmlp_get_grad(host, l, g_host, g_host + n_w));
                CHECK(clmlp_numeric_grad(fd_net, xi, yi, 1, l, 1e-4, g_fd, g_fd + n_w));
                double ref = norm_diff(g_host, NULL, n), diff = norm_diff(g_fd, g_dev, n);
                double e_dev = ref > 0 ? norm_diff(g_dev, g_host, n) / ref : norm_diff(g_dev, NULL, n);
                double denom = norm_diff(g_fd, NULL, n) + norm_diff(g_dev, NULL, n);
                double e_fd = denom > 0 ? diff / denom : 0;
                double noise = 4 * 2.220446049250313e-16 * (1 + loss) / 1e-4 * sqrt((double)n);
                layer_result *r = &result[l];
                r->dev_vs_host = fmax(r->dev_vs_host, e_dev);
                if (e_fd > 1e-4 && diff <= noise)
                    r->excused++;
                else
                    r->fd = fmax(r->fd, e_fd);
            }
            CHECK(clmlp_forward(fd_net, xi, 1, NULL)); /* numeric_grad left no state */
            CHECK(clmlp_backward(fd_net, yi, NULL));
            CHECK(clmlp_sgd_step(fd_net, o.lr));
            CHECK(clmlp_sgd_step(dev, o.lr));
            CHECK(clmlp_sgd_step(host, o.lr));
        }

    int all_pass = 1;
    printf("\nlayer  params  checked vs host  vs finite differences  result\n");
    for (size_t l = 1; l <= L; l++) {
        int pass = result[l].dev_vs_host <= 1e-3 && result[l].fd <= 1e-4;
        all_pass &= pass;
        printf("%5zu  %6zu  %15.3g  %21.3g  %s", l, o.sizes[l] * o.sizes[l - 1] + o.sizes[l], result[l].dev_vs_host,
               result[l].fd, pass ? "PASS" : "FAIL");
        if (result[l].excused)
            printf("  (%zu step%s within rounding noise)", result[l].excused, result[l].excused == 1 ? "" : "s");
        printf("\n");
    }
    printf("(worst over all steps; thresholds: checked vs host <= 1e-3, finite differences <= 1e-4)\n");
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
