/*
 * Every path that trains against finite differences: one epoch of one step — on the
 * host path, on the device's batch path (batch > 1: the tiled products and their fused
 * update) and on the device's fused per-sample kernel (batch 1) — must move each
 * weight by lr times the gradient that clmlp_numeric_grad measures from forward passes
 * alone. Nothing here shares code with backpropagation, so a wrong formula on any one
 * path shows: scripts/test.sh builds with the planted bug (no sech² in the output
 * delta) and requires each of these tests to fail (TRAIN_PATH selects one).
 */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    clmlp_backend backend;
    size_t batch;
} path;

static void one_step_matches_finite_differences(void **state)
{
    const path *p = *state;
    const size_t sizes[] = {6, 5, 3}, L = 2, count = p->batch;
    const double lr = 0.1;
    uint8_t images[4 * 6], labels[4];
    for (size_t i = 0; i < sizeof images; i++)
        images[i] = (uint8_t)(37 * i + 11);
    for (size_t i = 0; i < count; i++)
        labels[i] = (uint8_t)(i % 3);
    clmlp_net *net = test_net(sizes, 3, p->backend, CLMLP_F64, CLMLP_LOSS_MSE, 5);
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    pp.normalize = CLMLP_NORMALIZE_NONE;
    clmlp_dataset *data;
    TEST_OK(clmlp_dataset_create(net, images, labels, count, 2, 3, &pp, &data));
    double x[4 * 6], y[4 * 3] = {0};
    TEST_OK(clmlp_preprocess_apply(&pp, images, count, 2, 3, x));
    for (size_t i = 0; i < count; i++)
        y[i * 3 + labels[i]] = 1;

    double W0[3][30], b0[3][5], dW[3][30], db[3][5];
    for (size_t l = 1; l <= L; l++) {
        TEST_OK(clmlp_get_layer(net, l, W0[l], b0[l]));
        TEST_OK(clmlp_numeric_grad(net, x, y, count, l, 1e-6, dW[l], db[l]));
    }
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = count;
    opt.lr = lr;
    TEST_OK(clmlp_train_epoch(net, data, &opt, 0, NULL));
    for (size_t l = 1; l <= L; l++) {
        size_t n_w = sizes[l] * sizes[l - 1];
        double W1[30], b1[5], step[35], expected[35];
        TEST_OK(clmlp_get_layer(net, l, W1, b1));
        for (size_t e = 0; e < n_w + sizes[l]; e++) { /* the step, against lr · mean gradient */
            step[e] = e < n_w ? W0[l][e] - W1[e] : b0[l][e - n_w] - b1[e - n_w];
            expected[e] = lr * (e < n_w ? dW[l][e] : db[l][e - n_w]) / (double)count;
        }
        double err = test_rel_err(step, expected, n_w + sizes[l]);
        if (!(err <= 1e-6))
            fail_msg("%s, batch %zu, layer %zu: the step differs from lr × the finite-difference gradient by %.3g",
                     p->backend == CLMLP_BACKEND_HOST ? "host" : "OpenCL", p->batch, l, err);
    }
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
}

int main(void)
{
    static const path host = {CLMLP_BACKEND_HOST, 4}, batch = {CLMLP_BACKEND_OPENCL, 4},
                      per_sample = {CLMLP_BACKEND_OPENCL, 1};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate(one_step_matches_finite_differences, (void *)&host),
        cmocka_unit_test_prestate(one_step_matches_finite_differences, (void *)&batch),
        cmocka_unit_test_prestate(one_step_matches_finite_differences, (void *)&per_sample),
    };
    const char *only = getenv("TRAIN_PATH"); /* host, batch or per-sample: that test alone */
    if (only) {
        const struct CMUnitTest *pick = strcmp(only, "host") == 0    ? &tests[0]
                                        : strcmp(only, "batch") == 0 ? &tests[1]
                                                                     : &tests[2];
        return _cmocka_run_group_tests(only, pick, 1, NULL, NULL);
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
