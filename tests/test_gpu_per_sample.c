/*
 * The GPU kernel family's per-sample training (kernels/per_sample_gpu.cl: one work-group,
 * activations and, when they fit, the weights in local memory, tree reductions) and its
 * batch_stats / confusion_update (one work-group each), forced on whatever OpenCL device
 * the tests have (POCL: config.kernels = CLMLP_KERNELS_GPU). Per-sample epochs with
 * momentum and weight decay, for MSE and softmax-CE in f32 and f64, must give the host
 * path's weights and epoch loss (from the same seed and data), and two runs must agree
 * bit for bit. The nets cover W in local memory (576-16-10 in f32: 41 KB, within the
 * 48 KB the kernel may take on a device with that much), W in global memory (576-16-10 in
 * f64, 784-32-10, 784-256-128-10), several launches per call (784-256-128-10: the FLOP
 * cap per launch) and a net whose activations do not fit local memory at all (784-1800-10
 * in f64: the step-by-step batch-1 path instead). The evaluation after each epoch runs
 * batch_stats and confusion_update on more rows than a work-group has.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIDE = 28, PIXELS = SIDE * SIDE, CLASSES = 10 };

typedef struct {
    const size_t *sizes;
    size_t n_sizes, crop, samples;
    clmlp_dtype dtype;
    clmlp_loss loss;
    size_t report_every; /* 0: the epoch in one call of the fused kernel */
    size_t launches;     /* the fused kernel's launches at least; 0: it must not run (too large) */
} scenario;

typedef struct {
    double *W[4], *b[4];
    clmlp_epoch_stats stats;
    size_t per_sample_launches;
    clmlp_eval eval;
    size_t confusion[CLASSES * CLASSES];
} outcome;

/* Random images (some structure: a bright band per class) and labels. */
static void make_data(size_t count, uint8_t *images, uint8_t *labels)
{
    test_rng r = {2024};
    for (size_t i = 0; i < count; i++) {
        labels[i] = (uint8_t)test_uniform(&r, 0, CLASSES);
        for (size_t p = 0; p < PIXELS; p++) {
            double v = test_uniform(&r, 0, 160) + (p / SIDE / 3 == labels[i] ? 90 : 0);
            images[i * PIXELS + p] = (uint8_t)v;
        }
    }
}

static size_t launches_of(clmlp_net *net, const char *kernel)
{
    clmlp_kernel_profile rows[40];
    size_t count = 0, launches = 0;
    TEST_OK(clmlp_profile(net, rows, 40, &count, 1));
    for (size_t i = 0; i < count && i < 40; i++)
        if (strcmp(rows[i].kernel, kernel) == 0)
            launches += (size_t)rows[i].launches;
    return launches;
}

/* One epoch of per-sample SGD from seed 5 on the backend, then an evaluation on the
 * same data. */
static void train(const scenario *s, clmlp_backend backend, const uint8_t *images, const uint8_t *labels, outcome *out)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    cfg.dtype = s->dtype;
    cfg.loss = s->loss;
    cfg.seed = 5;
    if (backend == CLMLP_BACKEND_OPENCL) {
        cfg.kernels = CLMLP_KERNELS_GPU;
        cfg.profile = 1;
    }
    clmlp_net *net = NULL;
    TEST_OK(clmlp_create(s->sizes, s->n_sizes, &cfg, &net));
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    pp.crop = s->crop;
    clmlp_dataset *data;
    TEST_OK(clmlp_dataset_create(net, images, labels, s->samples, SIDE, SIDE, &pp, &data));
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = 1;
    opt.lr = 0.005;
    opt.momentum = 0.5;
    opt.weight_decay = 1e-3;
    opt.report_every = s->report_every;
    TEST_OK(clmlp_train_epoch(net, data, &opt, 0, &out->stats));
    out->per_sample_launches = backend == CLMLP_BACKEND_OPENCL ? launches_of(net, "train_per_sample") : 0;
    for (size_t l = 1; l < s->n_sizes; l++) {
        out->W[l - 1] = test_alloc(s->sizes[l] * s->sizes[l - 1]);
        out->b[l - 1] = test_alloc(s->sizes[l]);
        TEST_OK(clmlp_get_layer(net, l, out->W[l - 1], out->b[l - 1]));
    }
    out->eval.confusion = out->confusion;
    TEST_OK(clmlp_evaluate(net, data, &out->eval));
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
}

static void release(const scenario *s, outcome *o)
{
    for (size_t l = 1; l < s->n_sizes; l++) {
        free(o->W[l - 1]);
        free(o->b[l - 1]);
    }
}

static const char *name_of(const scenario *s, char *buf, size_t size)
{
    int at = 0;
    for (size_t l = 0; l < s->n_sizes && at >= 0 && (size_t)at < size; l++)
        at += snprintf(buf + at, size - (size_t)at, "%s%zu", l ? "-" : "", s->sizes[l]);
    if (at >= 0 && (size_t)at < size)
        snprintf(buf + at, size - (size_t)at, " %s %s", s->dtype == CLMLP_F32 ? "f32" : "f64",
                 s->loss == CLMLP_LOSS_MSE ? "mse" : "ce");
    return buf;
}

static void gpu_family_matches_host_and_repeats(void **state)
{
    const scenario *s = *state;
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        skip(); /* the valgrind run: no OpenCL device */
    uint8_t *images = malloc(s->samples * PIXELS), *labels = malloc(s->samples);
    assert_non_null(images);
    assert_non_null(labels);
    make_data(s->samples, images, labels);
    outcome gpu = {0}, again = {0}, host = {0};
    train(s, CLMLP_BACKEND_OPENCL, images, labels, &gpu);
    train(s, CLMLP_BACKEND_OPENCL, images, labels, &again);
    train(s, CLMLP_BACKEND_HOST, images, labels, &host);
    char name[96];
    name_of(s, name, sizeof name);
    if (gpu.per_sample_launches < s->launches)
        fail_msg("%s: %zu launches of the fused per-sample kernel, not %zu or more", name, gpu.per_sample_launches,
                 s->launches);
    if (!s->launches && gpu.per_sample_launches != 0)
        fail_msg("%s: the fused per-sample kernel ran though its activations do not fit local memory", name);

    /* the same as the host path */
    double tol = s->dtype == CLMLP_F64 ? 1e-11 : 1e-4; /* seen on POCL: 1e-15, 5e-7 */
    assert_int_equal(gpu.stats.samples, s->samples);
    if (!(fabs(gpu.stats.loss - host.stats.loss) <= tol * fabs(host.stats.loss)))
        fail_msg("%s: epoch loss %.17g on the GPU kernels, %.17g on the host", name, gpu.stats.loss, host.stats.loss);
    if (!(fabs(gpu.stats.accuracy - host.stats.accuracy) <= (s->dtype == CLMLP_F64 ? 0 : 2.0 / (double)s->samples)))
        fail_msg("%s: epoch accuracy %g on the GPU kernels, %g on the host", name, gpu.stats.accuracy,
                 host.stats.accuracy);
    for (size_t l = 1; l < s->n_sizes; l++) {
        double eW = test_rel_err(gpu.W[l - 1], host.W[l - 1], s->sizes[l] * s->sizes[l - 1]);
        double eb = test_rel_err(gpu.b[l - 1], host.b[l - 1], s->sizes[l]);
        if (!(eW <= tol && eb <= tol))
            fail_msg("%s: layer %zu differs from the host path's by %.3g (W), %.3g (b)", name, l, eW, eb);
    }
    if (!(fabs(gpu.eval.loss - host.eval.loss) <= tol * fabs(host.eval.loss)))
        fail_msg("%s: evaluation loss %.17g on the GPU kernels, %.17g on the host", name, gpu.eval.loss,
                 host.eval.loss);
    if (s->dtype == CLMLP_F64)
        assert_memory_equal(gpu.confusion, host.confusion, sizeof gpu.confusion);
    size_t total = 0;
    for (size_t c = 0; c < CLASSES * CLASSES; c++)
        total += gpu.confusion[c];
    assert_int_equal(total, s->samples);

    /* bit for bit the same twice */
    assert_true(memcmp(&gpu.stats.loss, &again.stats.loss, sizeof(double)) == 0);
    assert_true(gpu.stats.accuracy == again.stats.accuracy);
    for (size_t l = 1; l < s->n_sizes; l++) {
        if (memcmp(gpu.W[l - 1], again.W[l - 1], s->sizes[l] * s->sizes[l - 1] * sizeof(double)) != 0 ||
            memcmp(gpu.b[l - 1], again.b[l - 1], s->sizes[l] * sizeof(double)) != 0)
            fail_msg("%s: layer %zu differs between two runs of the GPU kernels", name, l);
    }
    assert_true(memcmp(&gpu.eval.loss, &again.eval.loss, sizeof(double)) == 0);
    assert_memory_equal(gpu.confusion, again.confusion, sizeof gpu.confusion);
    assert_int_equal(gpu.per_sample_launches, again.per_sample_launches);
    release(s, &gpu);
    release(s, &again);
    release(s, &host);
    free(images);
    free(labels);
}

int main(void)
{
    static const size_t cropped[] = {576, 16, 10}, small[] = {784, 32, 10}, large[] = {784, 256, 128, 10},
                        wide[] = {784, 1800, 10};
    /* report_every 64: calls of 64 samples, one launch each; 784-256-128-10 takes about
     * 1.5 MFLOP per sample, 135 samples per launch: the 200 of its epoch in one call
     * (report_every 0) are two launches. */
    static const scenario scenarios[] = {
        {cropped, 3, 24, 300, CLMLP_F32, CLMLP_LOSS_MSE, 64, 5}, /* W in local memory: 41 KB of 48 */
        {cropped, 3, 24, 300, CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 64, 5},
        {cropped, 3, 24, 300, CLMLP_F64, CLMLP_LOSS_MSE, 64, 5}, /* W in global memory (75 KB) from here on */
        {cropped, 3, 24, 300, CLMLP_F64, CLMLP_LOSS_SOFTMAX_CE, 64, 5},
        {small, 3, 0, 300, CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 64, 5},
        {small, 3, 0, 300, CLMLP_F64, CLMLP_LOSS_MSE, 64, 5},
        {large, 4, 0, 200, CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 0, 2},
        {large, 4, 0, 200, CLMLP_F64, CLMLP_LOSS_MSE, 64, 4},
        {wide, 3, 0, 12, CLMLP_F64, CLMLP_LOSS_MSE, 0, 0}, /* 784 + 256 + 3 * 1810 reals: 52 KB, over 48 */
    };
    enum { N = sizeof scenarios / sizeof scenarios[0] };
    struct CMUnitTest tests[N];
    for (size_t i = 0; i < N; i++)
        tests[i] =
            (struct CMUnitTest)cmocka_unit_test_prestate(gpu_family_matches_host_and_repeats, (void *)&scenarios[i]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
