/*
 * Datasets of reals, their split, clmlp_predict and the standardization on both
 * backends, against values the test computes itself from clmlp_forward's outputs.
 */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { COUNT = 53, N_IN = 5, N_OUT = 3 };
static const size_t sizes[] = {N_IN, 7, N_OUT};

static clmlp_backend backend_of(void **state) { return *(clmlp_backend *)*state; }

/* Mean loss per sample and accuracy of net on (x, y) from clmlp_forward, computed here. */
static void reference_eval(clmlp_net *net, clmlp_loss loss, const double *x, const double *y, size_t count,
                           double *mean_loss, double *accuracy)
{
    double *out = test_alloc(count * N_OUT);
    TEST_OK(clmlp_forward(net, x, count, out));
    *mean_loss = test_loss(loss, out, y, count, N_OUT) / (double)count;
    size_t right = 0;
    for (size_t i = 0; i < count; i++) {
        size_t p = 0, t = 0;
        for (size_t k = 1; k < N_OUT; k++) {
            p = out[i * N_OUT + k] > out[i * N_OUT + p] ? k : p;
            t = y[i * N_OUT + k] > y[i * N_OUT + t] ? k : t;
        }
        right += p == t;
    }
    *accuracy = (double)right / (double)count;
    free(out);
}

static void make_data(double *x, double *y, uint32_t *labels)
{
    test_rng rng = {42};
    test_fill(&rng, x, COUNT * N_IN, -2, 2);
    for (size_t i = 0; i < COUNT; i++) {
        labels[i] = (uint32_t)(i * 7 % N_OUT);
        for (size_t k = 0; k < N_OUT; k++)
            y[i * N_OUT + k] = labels[i] == k ? 1.0 : 0.0;
    }
}

static void arrays_and_labels_evaluate_like_forward(void **state)
{
    double x[COUNT * N_IN], y[COUNT * N_OUT];
    uint32_t labels[COUNT];
    make_data(x, y, labels);
    for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
        clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F64, (clmlp_loss)loss, 3);
        clmlp_dataset *a, *b;
        TEST_OK(clmlp_dataset_from_arrays(net, x, y, COUNT, &a));
        TEST_OK(clmlp_dataset_from_labels(net, x, labels, COUNT, CLMLP_TARGET_ONEHOT_01, &b));
        assert_int_equal(clmlp_dataset_count(a), COUNT);
        double ref_loss, ref_acc;
        reference_eval(net, (clmlp_loss)loss, x, y, COUNT, &ref_loss, &ref_acc);
        clmlp_eval ea = {0}, eb = {0};
        TEST_OK(clmlp_evaluate(net, a, &ea));
        TEST_OK(clmlp_evaluate(net, b, &eb));
        assert_true(fabs(ea.loss - ref_loss) <= 1e-12 * fabs(ref_loss));
        assert_true(ea.loss == eb.loss && ea.accuracy == eb.accuracy);
        assert_true(ea.accuracy == ref_acc);
        clmlp_dataset_destroy(a);
        clmlp_dataset_destroy(b);
        clmlp_destroy(net);
    }
}

static void dataset_errors(void **state)
{
    double x[COUNT * N_IN], y[COUNT * N_OUT];
    uint32_t labels[COUNT];
    make_data(x, y, labels);
    clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F32, CLMLP_LOSS_MSE, 3);
    clmlp_dataset *d = NULL;
    x[3 * N_IN + 1] = NAN;
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_dataset_from_arrays(net, x, y, COUNT, &d));
    assert_non_null(strstr(clmlp_last_error(), "x[3][1]"));
    x[3 * N_IN + 1] = 1e39; /* beyond float */
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_dataset_from_labels(net, x, labels, COUNT, CLMLP_TARGET_ONEHOT_01, &d));
    x[3 * N_IN + 1] = 0;
    y[5 * N_OUT + 2] = INFINITY;
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_dataset_from_arrays(net, x, y, COUNT, &d));
    assert_non_null(strstr(clmlp_last_error(), "y[5][2]"));
    labels[9] = N_OUT;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_from_labels(net, x, labels, COUNT, CLMLP_TARGET_ONEHOT_01, &d));
    labels[9] = 0;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_from_labels(net, x, labels, COUNT, (clmlp_target)7, &d));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_from_arrays(net, x, x, 0, &d));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_from_arrays(NULL, x, x, 1, &d));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_from_arrays(net, x, NULL, 1, &d));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_from_labels(net, x, labels, (size_t)1 << 62, CLMLP_TARGET_ONEHOT_01, &d));
    assert_null(d);
    clmlp_destroy(net);
}

/* The two parts are a partition of the rows: their summed losses and confusion
 * matrices add up to the whole's; the same seed gives the same split. */
static void split_partitions_the_rows(void **state)
{
    double x[COUNT * N_IN], y[COUNT * N_OUT];
    uint32_t labels[COUNT];
    make_data(x, y, labels);
    for (size_t i = 0; i < COUNT; i++) /* distinct targets: a row lost or doubled changes the sum */
        y[i * N_OUT] = 0.01 * (double)i;
    clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F64, CLMLP_LOSS_MSE, 3);
    clmlp_dataset *all, *a, *b, *a2, *b2, *c, *d;
    TEST_OK(clmlp_dataset_from_arrays(net, x, y, COUNT, &all));
    TEST_OK(clmlp_dataset_split(all, 0.3, 9, &a, &b));
    assert_int_equal(clmlp_dataset_count(a), 16); /* round(0.3 · 53) */
    assert_int_equal(clmlp_dataset_count(b), 37);
    size_t conf_all[N_OUT * N_OUT], conf_a[N_OUT * N_OUT], conf_b[N_OUT * N_OUT];
    clmlp_eval e_all = {.confusion = conf_all}, e_a = {.confusion = conf_a}, e_b = {.confusion = conf_b};
    TEST_OK(clmlp_evaluate(net, all, &e_all));
    TEST_OK(clmlp_evaluate(net, a, &e_a));
    TEST_OK(clmlp_evaluate(net, b, &e_b));
    double parts = e_a.loss * 16 + e_b.loss * 37, whole = e_all.loss * COUNT;
    assert_true(fabs(parts - whole) <= 1e-12 * whole);
    for (size_t c2 = 0; c2 < N_OUT * N_OUT; c2++)
        assert_int_equal(conf_a[c2] + conf_b[c2], conf_all[c2]);
    TEST_OK(clmlp_dataset_split(all, 0.3, 9, &a2, &b2));
    clmlp_eval e_a2 = {0};
    TEST_OK(clmlp_evaluate(net, a2, &e_a2));
    assert_true(e_a2.loss == e_a.loss);
    TEST_OK(clmlp_dataset_split(all, 0.3, 10, &c, &d));
    clmlp_eval e_c = {0};
    TEST_OK(clmlp_evaluate(net, c, &e_c));
    assert_true(e_c.loss != e_a.loss);
    clmlp_dataset *never = NULL;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_split(all, 0.0, 1, &never, &never));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_split(all, 1.0, 1, &never, &never));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_split(all, 0.001, 1, &never, &never)); /* an empty part */
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_split(all, NAN, 1, &never, &never));
    assert_null(never);
    clmlp_dataset *ds[] = {all, a, b, a2, b2, c, d};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++)
        clmlp_dataset_destroy(ds[i]);
    clmlp_destroy(net);
}

/* A net learns a smooth regression from real arrays (the loss falls by half). */
static void trains_on_arrays(void **state)
{
    enum { ROWS = 256 };
    const size_t reg_sizes[] = {2, 12, 1};
    double *x = test_alloc(ROWS * 2), y[ROWS];
    test_rng rng = {5};
    test_fill(&rng, x, ROWS * 2, -1, 1);
    for (size_t i = 0; i < ROWS; i++)
        y[i] = 0.5 * sin(2 * x[2 * i]) * x[2 * i + 1];
    clmlp_net *net = test_net(reg_sizes, 3, backend_of(state), CLMLP_F64, CLMLP_LOSS_MSE, 1);
    clmlp_dataset *d;
    TEST_OK(clmlp_dataset_from_arrays(net, x, y, ROWS, &d));
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = 16;
    opt.optimizer = CLMLP_OPT_ADAM;
    opt.lr = 0.01;
    clmlp_eval before = {0}, after = {0};
    TEST_OK(clmlp_evaluate(net, d, &before));
    for (size_t e = 0; e < 30; e++)
        TEST_OK(clmlp_train_epoch(net, d, &opt, e, NULL));
    TEST_OK(clmlp_evaluate(net, d, &after));
    print_message("regression: mean loss %.4g before, %.4g after 30 epochs of Adam\n", before.loss, after.loss);
    assert_true(after.loss < 0.5 * before.loss);
    clmlp_dataset_destroy(d);
    clmlp_destroy(net);
    free(x);
}

/* clmlp_predict equals clmlp_forward's a[L] (MSE) or its softmax (CE), in batches
 * larger than one pass, and leaves the forward state as it was. */
static void predict_like_forward(void **state)
{
    enum { ROWS = 600 };
    double *x = test_alloc(ROWS * N_IN), *out = test_alloc(ROWS * N_OUT), *p = test_alloc(ROWS * N_OUT);
    test_rng rng = {8};
    test_fill(&rng, x, ROWS * N_IN, -2, 2);
    for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
        clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F64, (clmlp_loss)loss, 4);
        TEST_OK(clmlp_forward(net, x, ROWS, out));
        if (loss == CLMLP_LOSS_SOFTMAX_CE)
            for (size_t i = 0; i < ROWS; i++) {
                double total = 0;
                for (size_t k = 0; k < N_OUT; k++)
                    total += exp(out[i * N_OUT + k]);
                for (size_t k = 0; k < N_OUT; k++)
                    out[i * N_OUT + k] = exp(out[i * N_OUT + k]) / total;
            }
        TEST_OK(clmlp_predict(net, x + N_IN, 3, p)); /* a small batch first: the state must survive it */
        TEST_OK(clmlp_predict(net, x, ROWS, p));
        assert_true(test_rel_err(p, out, ROWS * N_OUT) <= 1e-14);
        double *a = test_alloc(ROWS * N_OUT), y_true[ROWS * N_OUT], loss_value;
        TEST_OK(clmlp_get_state(net, 2, NULL, a)); /* still the forward of ROWS rows */
        memset(y_true, 0, sizeof y_true);
        TEST_OK(clmlp_backward(net, y_true, &loss_value));
        free(a);
        x[7] = NAN;
        TEST_FAILS(CLMLP_ENUMERIC, clmlp_predict(net, x, ROWS, p));
        x[7] = 0.5;
        TEST_FAILS(CLMLP_EINVAL, clmlp_predict(net, x, 0, p));
        TEST_FAILS(CLMLP_EINVAL, clmlp_predict(NULL, x, 1, p));
        TEST_FAILS(CLMLP_EINVAL, clmlp_predict(net, x, SIZE_MAX / 2, p));
        clmlp_destroy(net);
    }
    free(x);
    free(out);
    free(p);
}

static void standardization(void **state)
{
    clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F64, CLMLP_LOSS_MSE, 4);
    double mean[N_IN] = {1, 2, 3, 4, 5}, std[N_IN] = {2, 4, 0.5, 1, 10}, got_m[N_IN], got_s[N_IN];
    double x[2 * N_IN] = {1, 2, 3, 4, 5, 3, 6, 4, 5, 25};
    int present = -1;
    TEST_OK(clmlp_get_standardization(net, got_m, got_s, &present));
    assert_int_equal(present, 0);
    TEST_OK(clmlp_standardize(net, x, 2)); /* none: unchanged */
    assert_true(x[9] == 25);
    std[2] = 0;
    TEST_FAILS(CLMLP_EINVAL, clmlp_set_standardization(net, mean, std));
    std[2] = 0.5;
    TEST_FAILS(CLMLP_EINVAL, clmlp_set_standardization(net, mean, NULL));
    TEST_OK(clmlp_set_standardization(net, mean, std));
    TEST_OK(clmlp_get_standardization(net, got_m, got_s, &present));
    assert_int_equal(present, 1);
    assert_memory_equal(got_m, mean, sizeof mean);
    assert_memory_equal(got_s, std, sizeof std);
    TEST_OK(clmlp_standardize(net, x, 2));
    const double expect[2 * N_IN] = {0, 0, 0, 0, 0, 1, 1, 2, 1, 2};
    assert_memory_equal(x, expect, sizeof expect);
    TEST_OK(clmlp_set_standardization(net, NULL, NULL));
    TEST_OK(clmlp_get_standardization(net, NULL, NULL, &present));
    assert_int_equal(present, 0);
    clmlp_destroy(net);
}

int main(void)
{
    static clmlp_backend host = CLMLP_BACKEND_HOST, opencl = CLMLP_BACKEND_OPENCL;
#define BOTH(fn) cmocka_unit_test_prestate(fn, &host), cmocka_unit_test_prestate(fn, &opencl)
    const struct CMUnitTest tests[] = {
        BOTH(arrays_and_labels_evaluate_like_forward),
        BOTH(dataset_errors),
        BOTH(split_partitions_the_rows),
        BOTH(trains_on_arrays),
        BOTH(predict_like_forward),
        BOTH(standardization),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
