/*
 * The public API's contract on both backends: hand-derived values for a 1-1 and a 2-2
 * net, seeded initialization, and every argument error returning its status with a
 * message and without side effects.
 */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static clmlp_backend backend_of(void **state) { return *(clmlp_backend *)*state; }

static void config_defaults(void **state)
{
    (void)state;
    clmlp_config cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    clmlp_config_init(&cfg);
    assert_int_equal(cfg.backend, CLMLP_BACKEND_AUTO);
    assert_int_equal(cfg.dtype, CLMLP_F64);
    assert_int_equal(cfg.loss, CLMLP_LOSS_MSE);
    assert_int_equal(cfg.platform, -1);
    assert_int_equal(cfg.device, -1);
    assert_true(cfg.seed == 0);
    clmlp_config_init(NULL);
    for (int s = CLMLP_OK; s <= CLMLP_ENUMERIC; s++) {
        assert_true(strlen(clmlp_strerror((clmlp_status)s)) > 0);
        for (int t = CLMLP_OK; t < s; t++)
            assert_string_not_equal(clmlp_strerror((clmlp_status)s), clmlp_strerror((clmlp_status)t));
    }
    assert_true(strlen(clmlp_strerror((clmlp_status)99)) > 0);
    assert_string_equal(clmlp_version(), "0.1.0");
    clmlp_destroy(NULL);
    assert_int_equal(clmlp_num_layers(NULL), 0);
    assert_int_equal(clmlp_layer_size(NULL, 0), 0);
    assert_string_equal(clmlp_backend_name(NULL), "");
}

/* z = 0.5·2 + 0.25 = 1.25, a = tanh z; MSE against y = 1; derived by hand:
 * dL/dW = 2(a − y)·sech²(z)·x, dL/db = 2(a − y)·sech²(z). */
static void one_unit_by_hand(void **state)
{
    const size_t sizes[] = {1, 1};
    for (int dt = CLMLP_F64; dt <= CLMLP_F32; dt++) {
        clmlp_net *net = test_net(sizes, 2, backend_of(state), (clmlp_dtype)dt, CLMLP_LOSS_MSE, 0);
        double tol = dt == CLMLP_F64 ? 1e-15 : 1e-6;
        double W = 0.5, b = 0.25, x = 2, y_true = 1, out, z, a, loss, dW, db;
        TEST_OK(clmlp_set_layer(net, 1, &W, &b));
        TEST_OK(clmlp_forward(net, &x, 1, &out));
        TEST_OK(clmlp_get_state(net, 1, &z, &a));
        double a_ref = tanh(1.25), sech2 = 1 / (cosh(1.25) * cosh(1.25));
        assert_true(fabs(z - 1.25) <= tol && fabs(a - a_ref) <= tol && out == a);
        TEST_OK(clmlp_get_state(net, 0, NULL, &a));
        assert_true(a == 2);
        TEST_OK(clmlp_backward(net, &y_true, &loss));
        TEST_OK(clmlp_get_grad(net, 1, &dW, &db));
        assert_true(fabs(loss - (a_ref - 1) * (a_ref - 1)) <= tol);
        assert_true(fabs(dW - 2 * (a_ref - 1) * sech2 * 2) <= tol);
        assert_true(fabs(db - 2 * (a_ref - 1) * sech2) <= tol);
        TEST_OK(clmlp_sgd_step(net, 0.1));
        double W2, b2;
        TEST_OK(clmlp_get_layer(net, 1, &W2, &b2));
        assert_true(fabs(W2 - (0.5 - 0.1 * dW)) <= tol && fabs(b2 - (0.25 - 0.1 * db)) <= tol);
        clmlp_destroy(net);
    }
}

/* Softmax-CE on a linear 2-2 layer, derived by hand: p = softmax(z), dL/dz = p − y. */
static void softmax_ce_by_hand(void **state)
{
    const size_t sizes[] = {2, 2};
    clmlp_net *net = test_net(sizes, 2, backend_of(state), CLMLP_F64, CLMLP_LOSS_SOFTMAX_CE, 0);
    const double W[] = {1, 0, 0, 1}, b[] = {0, 0}, x[] = {0.3, -0.2}, y[] = {0, 1};
    double out[2], loss, dW[4], db[2];
    TEST_OK(clmlp_set_layer(net, 1, W, b));
    TEST_OK(clmlp_forward(net, x, 1, out));
    assert_true(out[0] == 0.3 && out[1] == -0.2); /* linear last layer: a = z */
    TEST_OK(clmlp_backward(net, y, &loss));
    double p0 = exp(0.3) / (exp(0.3) + exp(-0.2)), p1 = 1 - p0;
    assert_true(fabs(loss - -log(p1)) <= 1e-15);
    TEST_OK(clmlp_get_grad(net, 1, dW, db));
    assert_true(fabs(db[0] - p0) <= 1e-15 && fabs(db[1] - (p1 - 1)) <= 1e-15);
    assert_true(fabs(dW[0] - p0 * 0.3) <= 1e-15 && fabs(dW[1] - p0 * -0.2) <= 1e-15);
    assert_true(fabs(dW[2] - (p1 - 1) * 0.3) <= 1e-15 && fabs(dW[3] - (p1 - 1) * -0.2) <= 1e-15);
    clmlp_destroy(net);
}

static void seeded_init(void **state)
{
    const size_t sizes[] = {9, 4, 3};
    clmlp_net *a = test_net(sizes, 3, backend_of(state), CLMLP_F64, CLMLP_LOSS_MSE, 1);
    clmlp_net *b = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 1);
    clmlp_net *c = test_net(sizes, 3, backend_of(state), CLMLP_F64, CLMLP_LOSS_MSE, 2);
    double Wa[36], ba[4], Wb[36], bb[4], Wc[36], bc[4];
    TEST_OK(clmlp_get_layer(a, 1, Wa, ba));
    TEST_OK(clmlp_get_layer(b, 1, Wb, bb));
    TEST_OK(clmlp_get_layer(c, 1, Wc, bc));
    assert_memory_equal(Wa, Wb, sizeof Wa); /* same seed: same weights on every backend */
    assert_memory_equal(ba, bb, sizeof ba);
    assert_memory_not_equal(Wa, Wc, sizeof Wa);
    double lo = 0, hi = 0;
    for (size_t i = 0; i < 36; i++) {
        assert_true(fabs(Wa[i]) <= 1.0 / 3.0); /* U(±1/√9) */
        lo = Wa[i] < lo ? Wa[i] : lo;
        hi = Wa[i] > hi ? Wa[i] : hi;
    }
    assert_true(lo < -0.15 && hi > 0.15); /* spread over the interval, not clustered */
    assert_int_equal(clmlp_num_layers(a), 2);
    assert_int_equal(clmlp_layer_size(a, 0), 9);
    assert_int_equal(clmlp_layer_size(a, 2), 3);
    assert_int_equal(clmlp_layer_size(a, 3), 0);
    clmlp_destroy(a);
    clmlp_destroy(b);
    clmlp_destroy(c);
}

static void create_errors(void **state)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend_of(state);
    clmlp_net *sentinel = (clmlp_net *)(uintptr_t)0x1234, *net = sentinel;
    const size_t ok[] = {3, 2}, zero[] = {3, 0, 2}, huge[] = {SIZE_MAX / 2, 3};
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(ok, 2, &cfg, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(NULL, 2, &cfg, &net));
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(ok, 0, &cfg, &net));
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(ok, 1, &cfg, &net));
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(zero, 3, &cfg, &net));
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(huge, 2, &cfg, &net));
    assert_non_null(strstr(clmlp_last_error(), "overflow"));
    clmlp_config bad = cfg;
    bad.dtype = (clmlp_dtype)5;
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(ok, 2, &bad, &net));
    bad = cfg;
    bad.loss = (clmlp_loss)-1;
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(ok, 2, &bad, &net));
    bad = cfg;
    bad.backend = (clmlp_backend)3;
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(ok, 2, &bad, &net));
    bad = cfg;
    bad.platform = -2;
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(ok, 2, &bad, &net));
    assert_ptr_equal(net, sentinel);
    TEST_OK(clmlp_create(ok, 2, NULL, &net)); /* NULL config: the defaults */
    clmlp_destroy(net);
}

/* Every failing call leaves weights, state and gradients as they were. */
static void call_errors_change_nothing(void **state)
{
    const size_t sizes[] = {3, 4, 2};
    clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F32, CLMLP_LOSS_MSE, 3);
    double W[12], b[4], W_after[12], b_after[4], x[6] = {0.1, 0.2, 0.3, -0.1, -0.2, -0.3}, y[4] = {1, -1, 0.5, 0};
    double a1[8], a1_after[8], dW[12], dW_after[12], db[4], bad_W[12];
    TEST_OK(clmlp_get_layer(net, 1, W, b));

    /* out of order: nothing computed yet */
    TEST_FAILS(CLMLP_EINVAL, clmlp_backward(net, y, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_grad(net, 1, dW, db));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_state(net, 1, NULL, a1));
    TEST_FAILS(CLMLP_EINVAL, clmlp_sgd_step(net, 0.1));

    /* layer indices and NULLs */
    TEST_FAILS(CLMLP_EINVAL, clmlp_set_layer(net, 0, W, b));
    TEST_FAILS(CLMLP_EINVAL, clmlp_set_layer(net, 3, W, b));
    TEST_FAILS(CLMLP_EINVAL, clmlp_set_layer(NULL, 1, W, b));
    TEST_FAILS(CLMLP_EINVAL, clmlp_set_layer(net, 1, NULL, b));
    TEST_FAILS(CLMLP_EINVAL, clmlp_set_layer(net, 1, W, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_layer(net, 0, W, b));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_layer(net, 1, NULL, b));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_layer(NULL, 1, W, b));

    /* non-finite values, and values a float net cannot hold */
    memcpy(bad_W, W, sizeof W);
    bad_W[5] = NAN;
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_set_layer(net, 1, bad_W, b));
    bad_W[5] = 1e39;
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_set_layer(net, 1, bad_W, b));
    TEST_OK(clmlp_get_layer(net, 1, W_after, b_after));
    assert_memory_equal(W, W_after, sizeof W);
    assert_memory_equal(b, b_after, sizeof b);

    /* forward errors */
    TEST_FAILS(CLMLP_EINVAL, clmlp_forward(NULL, x, 2, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_forward(net, NULL, 2, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_forward(net, x, 0, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_forward(net, x, SIZE_MAX / 2, NULL));
    TEST_OK(clmlp_forward(net, x, 2, NULL));
    TEST_OK(clmlp_get_state(net, 1, NULL, a1));
    x[4] = INFINITY;
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_forward(net, x, 2, NULL));
    x[4] = -0.2;
    TEST_OK(clmlp_get_state(net, 1, NULL, a1_after)); /* the refused forward kept the state */
    assert_memory_equal(a1, a1_after, sizeof a1);

    /* state errors */
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_state(net, 0, a1, a1));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_state(net, 3, NULL, a1));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_state(net, 1, NULL, NULL));

    /* backward and step errors */
    TEST_FAILS(CLMLP_EINVAL, clmlp_backward(net, NULL, NULL));
    y[1] = NAN;
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_backward(net, y, NULL));
    y[1] = -1;
    TEST_OK(clmlp_backward(net, y, NULL));
    TEST_OK(clmlp_get_grad(net, 1, dW, db));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_grad(net, 0, dW, db));
    TEST_FAILS(CLMLP_EINVAL, clmlp_get_grad(net, 1, NULL, db));
    TEST_FAILS(CLMLP_EINVAL, clmlp_sgd_step(net, NAN));
    TEST_FAILS(CLMLP_EINVAL, clmlp_sgd_step(net, -0.1));
    TEST_FAILS(CLMLP_EINVAL, clmlp_sgd_step(net, INFINITY));
    TEST_FAILS(CLMLP_EINVAL, clmlp_sgd_step(NULL, 0.1));
    TEST_OK(clmlp_get_layer(net, 1, W_after, b_after));
    assert_memory_equal(W, W_after, sizeof W);
    TEST_OK(clmlp_get_grad(net, 1, dW_after, db));
    assert_memory_equal(dW, dW_after, sizeof dW);

    /* a weight change makes the kept state stale for backward */
    TEST_OK(clmlp_sgd_step(net, 0.1));
    TEST_FAILS(CLMLP_EINVAL, clmlp_backward(net, y, NULL));
    TEST_OK(clmlp_forward(net, x, 2, NULL));
    TEST_OK(clmlp_set_layer(net, 1, W, b));
    TEST_FAILS(CLMLP_EINVAL, clmlp_backward(net, y, NULL));
    TEST_OK(clmlp_forward(net, x, 1, NULL)); /* a smaller batch reuses the buffers */
    TEST_OK(clmlp_backward(net, y, NULL));

    /* a loss that overflows is refused, not returned as Inf */
    double big_y[4] = {1e300, 0, 0, 0}, loss = 0;
    clmlp_net *net64 = test_net(sizes, 3, backend_of(state), CLMLP_F64, CLMLP_LOSS_MSE, 3);
    TEST_OK(clmlp_forward(net64, x, 2, NULL));
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_backward(net64, big_y, &loss));
    assert_true(loss == 0);
    clmlp_destroy(net64);
    clmlp_destroy(net);
}

/* A diverging net reports ENUMERIC at the first read instead of returning Inf or NaN. */
static void divergence_is_reported(void **state)
{
    const size_t sizes[] = {1, 1};
    clmlp_net *net = test_net(sizes, 2, backend_of(state), CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 0);
    double W = 1e30, b = 0, x = 1e10, y = 1, out = 0, dW, db;
    TEST_OK(clmlp_set_layer(net, 1, &W, &b));
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_forward(net, &x, 1, &out)); /* z = 1e40 overflows float */
    clmlp_destroy(net);

    net = test_net(sizes, 2, backend_of(state), CLMLP_F32, CLMLP_LOSS_MSE, 0);
    W = 0.5, x = 2, y = 1;
    TEST_OK(clmlp_set_layer(net, 1, &W, &b));
    TEST_OK(clmlp_forward(net, &x, 1, &out));
    TEST_OK(clmlp_backward(net, &y, NULL));
    TEST_OK(clmlp_get_grad(net, 1, &dW, &db));
    TEST_OK(clmlp_sgd_step(net, 3e38 / fabs(dW) * 4)); /* W − lr·dW leaves float range */
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_get_layer(net, 1, &W, &b));
    assert_non_null(strstr(clmlp_last_error(), "diverged"));
    clmlp_destroy(net);
}

/* Sizes that overflow once they become bytes, and results of failed calls, are never
 * used: clmlp_numeric_grad with batch 2^61 on a 2-3-2 net (batch · n_L · 8 wraps), and
 * after a forward it cannot run (a non-finite input). */
static void hostile_sizes(void **state)
{
    const size_t sizes[] = {2, 3, 2};
    clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F64, CLMLP_LOSS_MSE, 1);
    double x[4] = {0.5, -0.5, 0.25, 0.75}, y[4] = {1, 0, 0, 1}, dW[6], db[3];
    for (size_t e = 0; e < 6; e++)
        dW[e] = 42;
    TEST_FAILS(CLMLP_EINVAL, clmlp_numeric_grad(net, x, y, (size_t)1 << 61, 1, 1e-6, dW, db));
    TEST_FAILS(CLMLP_EINVAL, clmlp_numeric_grad(net, x, y, SIZE_MAX, 2, 1e-6, dW, db));
    x[1] = NAN;
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_numeric_grad(net, x, y, 2, 1, 1e-6, dW, db));
    for (size_t e = 0; e < 6; e++)
        assert_true(dW[e] == 42); /* nothing computed from the outputs of a failed forward */
    x[1] = -0.5;
    TEST_OK(clmlp_numeric_grad(net, x, y, 2, 1, 1e-6, dW, db));
    clmlp_destroy(net);
}

/* Images whose size does not give the net's n_0 inputs are refused by every path that
 * turns images into inputs, naming both numbers, before anything is written. */
static void image_size_must_fit_the_net(void **state)
{
    const size_t sizes[] = {16, 3, 2};
    clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F32, CLMLP_LOSS_MSE, 1);
    uint8_t images[2 * 8 * 8] = {0}, labels[2] = {0, 1};
    for (size_t i = 0; i < sizeof images; i++)
        images[i] = (uint8_t)(i * 7);
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    assert_true(pp.n_inputs == 0);
    pp.normalize = CLMLP_NORMALIZE_NONE;
    pp.scale_255 = 0; /* inputs = pixels */
    clmlp_dataset *data = NULL;

    /* 8 × 8 images give 64 inputs, 2 × 2 crops 4: neither is 16 */
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 2, 8, 8, &pp, &data));
    assert_non_null(strstr(clmlp_last_error(), "64"));
    assert_non_null(strstr(clmlp_last_error(), "16"));
    pp.crop = 2;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 2, 8, 8, &pp, &data));
    assert_non_null(strstr(clmlp_last_error(), "4 inputs"));
    assert_null(data);
    pp.crop = 9;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 2, 8, 8, &pp, &data));

    /* a 4 × 4 crop fits; the dataset function records n_0 in pp */
    pp.crop = 4;
    TEST_OK(clmlp_dataset_create(net, images, labels, 2, 8, 8, &pp, &data));
    assert_true(pp.n_inputs == 16);
    size_t n = 0;
    TEST_OK(clmlp_preprocess_inputs(&pp, 8, 8, &n));
    assert_true(n == 16);

    /* clmlp_preprocess_apply with that pp: 8 × 8 images without the crop, or 2 × 2
     * crops, would write 64 or read 4 inputs per image into x sized for 16 */
    double x[2 * 64];
    for (size_t i = 0; i < 2 * 64; i++)
        x[i] = -7;
    pp.crop = 0;
    TEST_FAILS(CLMLP_EINVAL, clmlp_preprocess_apply(&pp, images, 2, 8, 8, x));
    assert_non_null(strstr(clmlp_last_error(), "64"));
    assert_non_null(strstr(clmlp_last_error(), "16"));
    pp.crop = 2;
    TEST_FAILS(CLMLP_EINVAL, clmlp_preprocess_apply(&pp, images, 2, 8, 8, x));
    for (size_t i = 0; i < 2 * 64; i++)
        assert_true(x[i] == -7);
    TEST_FAILS(CLMLP_EINVAL, clmlp_preprocess_inputs(&pp, 1, 8, &n)); /* a crop larger than the image */
    pp.crop = 4;
    TEST_OK(clmlp_preprocess_apply(&pp, images, 2, 8, 8, x));
    /* image 0's crop starts at row 2, column 2: pixel (2,2) is (2·8 + 2)·7 */
    assert_true(x[0] == (double)(uint8_t)(18 * 7));
    assert_true(x[32] == -7);
    pp.n_inputs = 15; /* a preprocessing for another net cannot be saved with this one */
    TEST_FAILS(CLMLP_EINVAL, clmlp_save(net, &pp, "/nonexistent-dir/never-written.clmlp"));
    assert_non_null(strstr(clmlp_last_error(), "15"));
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
}

int main(void)
{
    static clmlp_backend host = CLMLP_BACKEND_HOST, opencl = CLMLP_BACKEND_OPENCL;
#define BOTH(fn) cmocka_unit_test_prestate(fn, &host), cmocka_unit_test_prestate(fn, &opencl)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_defaults),
        BOTH(one_unit_by_hand),
        BOTH(softmax_ce_by_hand),
        BOTH(seeded_init),
        BOTH(create_errors),
        BOTH(call_errors_change_nothing),
        BOTH(divergence_is_reported),
        BOTH(hostile_sizes),
        BOTH(image_size_must_fit_the_net),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
