/*
 * Every operation of the OpenCL backend against the host backend, on random data at
 * awkward shapes (sizes 1, 3, 7, 10, 17, 33, 257, 784; batch 1 and > 1), in double and
 * float, with the simple kernels, the tiled products and CLBlast. Outputs are poisoned with NaN first, so
 * an element a kernel forgets to write fails the comparison. With CLMLP_KERNELS=gpu the
 * same over the GPU family and a grid of its shapes, each also checked against common
 * device limits (48 KiB of local memory, 256 work-items).
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "opencl/cl_common.h"

typedef struct {
    clmlp_dtype dtype;
    clmlp_products gemm;
    const clmlp_cl_tiles *tiles; /* NULL: the device's */
    clmlp_be *host, *dev;
} suite;

typedef struct {
    size_t batch, n_in, n_out;
} shape;

static const shape shapes[] = {
    {1, 1, 1},   {1, 3, 17},   {3, 17, 3},  {17, 257, 17}, {1, 257, 3},  {17, 1, 257},
    {3, 3, 257}, {257, 17, 1}, {7, 10, 33}, {33, 784, 10}, {10, 7, 784}, {128, 784, 256},
};

static double tolerance(const suite *st) { return st->dtype == CLMLP_F64 ? 1e-12 : 2e-6; }

static int setup(void **state)
{
    suite *st = *state;
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        skip();
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = st->dtype;
    TEST_OK(clmlp_host_backend_create(st->dtype, &st->host));
    cfg.products = st->gemm;
    TEST_OK(clmlp_config_resolve(&cfg, &cfg)); /* CLMLP_KERNELS picks the family */
    TEST_OK(clmlp_cl_backend_create_tiled(&cfg, st->tiles, &st->dev));
    return 0;
}

static int teardown(void **state)
{
    suite *st = *state;
    st->host->ops->destroy(st->host);
    st->dev->ops->destroy(st->dev);
    return 0;
}

/* A pair of buffers, one per backend, holding the same values. */
typedef struct {
    clmlp_buf *host, *dev;
    size_t n;
} pair;

static pair pair_new(suite *st, size_t n, const double *values)
{
    pair p = {NULL, NULL, n};
    TEST_OK(clmlp_buf_alloc(st->host, CLMLP_BUF_REAL, n, &p.host));
    TEST_OK(clmlp_buf_alloc(st->dev, CLMLP_BUF_REAL, n, &p.dev));
    double *poison = test_alloc(n);
    for (size_t i = 0; i < n; i++)
        poison[i] = NAN;
    TEST_OK(clmlp_buf_upload(st->host, p.host, 0, values ? values : poison, n));
    TEST_OK(clmlp_buf_upload(st->dev, p.dev, 0, values ? values : poison, n));
    free(poison);
    return p;
}

static pair pair_random(suite *st, test_rng *r, size_t n, double lo, double hi)
{
    double *v = test_alloc(n);
    test_fill(r, v, n, lo, hi);
    pair p = pair_new(st, n, v);
    free(v);
    return p;
}

static void pair_free(suite *st, pair *p)
{
    clmlp_buf_release(st->host, p->host);
    clmlp_buf_release(st->dev, p->dev);
}

/* Downloads both sides and requires every element finite and the two to agree. */
static void pair_expect_equal(suite *st, const pair *p, const char *what, const shape *sh)
{
    double *h = test_alloc(p->n), *d = test_alloc(p->n);
    TEST_OK(clmlp_buf_download(st->host, p->host, h, p->n));
    TEST_OK(clmlp_buf_download(st->dev, p->dev, d, p->n));
    for (size_t i = 0; i < p->n; i++)
        if (!isfinite(d[i]) || !isfinite(h[i]))
            fail_msg("%s (batch %zu, %zu -> %zu): element %zu not written or not finite: device %g host %g", what,
                     sh->batch, sh->n_in, sh->n_out, i, d[i], h[i]);
    double err = test_rel_err(d, h, p->n);
    if (!(err <= tolerance(st)))
        fail_msg("%s (batch %zu, %zu -> %zu): device vs host relative error %.3g > %.1g", what, sh->batch, sh->n_in,
                 sh->n_out, err, tolerance(st));
    free(h);
    free(d);
}

static void test_forward_layer(void **state)
{
    suite *st = *state;
    test_rng r = {1};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int act = 0; act <= 1; act++) {
            const shape *sh = &shapes[s];
            pair x = pair_random(st, &r, sh->batch * sh->n_in, -2, 2);
            pair W = pair_random(st, &r, sh->n_out * sh->n_in, -1, 1);
            pair b = pair_random(st, &r, sh->n_out, -1, 1);
            pair z = pair_new(st, sh->batch * sh->n_out, NULL), a = pair_new(st, sh->batch * sh->n_out, NULL);
            TEST_OK(st->host->ops->forward_layer(st->host, sh->batch, sh->n_in, sh->n_out, x.host, W.host, b.host, act,
                                                 z.host, a.host));
            TEST_OK(st->dev->ops->forward_layer(st->dev, sh->batch, sh->n_in, sh->n_out, x.dev, W.dev, b.dev, act,
                                                z.dev, a.dev));
            pair_expect_equal(st, &z, "forward z", sh);
            pair_expect_equal(st, &a, act ? "forward tanh(z)" : "forward linear a", sh);
            pair *all[] = {&x, &W, &b, &z, &a};
            for (size_t i = 0; i < 5; i++)
                pair_free(st, all[i]);
        }
}

static void test_output_delta(void **state)
{
    suite *st = *state;
    test_rng r = {2};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
            shape sh = shapes[s];
            size_t n = sh.batch * sh.n_out;
            pair z = pair_random(st, &r, n, -30, 30); /* includes saturated tanh and large logits */
            pair a = pair_random(st, &r, n, -1, 1);
            pair y = pair_random(st, &r, n, -1, 1);
            pair delta = pair_new(st, n, NULL), row_loss = pair_new(st, sh.batch, NULL);
            TEST_OK(st->host->ops->output_delta(st->host, (clmlp_loss)loss, sh.batch, sh.n_out, z.host, a.host, y.host,
                                                delta.host, row_loss.host));
            TEST_OK(st->dev->ops->output_delta(st->dev, (clmlp_loss)loss, sh.batch, sh.n_out, z.dev, a.dev, y.dev,
                                               delta.dev, row_loss.dev));
            pair_expect_equal(st, &delta, loss ? "softmax-CE delta" : "MSE delta", &sh);
            pair_expect_equal(st, &row_loss, loss ? "softmax-CE row loss" : "MSE row loss", &sh);
            pair *all[] = {&z, &a, &y, &delta, &row_loss};
            for (size_t i = 0; i < 5; i++)
                pair_free(st, all[i]);
        }
}

/* shape: batch, n = n_in (the layer), n_next = n_out (the layer above). */
static void test_backprop_delta(void **state)
{
    suite *st = *state;
    test_rng r = {3};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        pair dn = pair_random(st, &r, sh->batch * sh->n_out, -1, 1);
        pair Wn = pair_random(st, &r, sh->n_out * sh->n_in, -1, 1);
        pair z = pair_random(st, &r, sh->batch * sh->n_in, -5, 5);
        pair delta = pair_new(st, sh->batch * sh->n_in, NULL);
        TEST_OK(st->host->ops->backprop_delta(st->host, sh->batch, sh->n_in, sh->n_out, dn.host, Wn.host, z.host,
                                              delta.host));
        TEST_OK(
            st->dev->ops->backprop_delta(st->dev, sh->batch, sh->n_in, sh->n_out, dn.dev, Wn.dev, z.dev, delta.dev));
        pair_expect_equal(st, &delta, "backprop delta", sh);
        pair *all[] = {&dn, &Wn, &z, &delta};
        for (size_t i = 0; i < 4; i++)
            pair_free(st, all[i]);
    }
}

static void test_weight_grad(void **state)
{
    suite *st = *state;
    test_rng r = {4};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        pair delta = pair_random(st, &r, sh->batch * sh->n_out, -1, 1);
        pair a = pair_random(st, &r, sh->batch * sh->n_in, -1, 1);
        pair dW = pair_new(st, sh->n_out * sh->n_in, NULL), db = pair_new(st, sh->n_out, NULL);
        TEST_OK(
            st->host->ops->weight_grad(st->host, sh->batch, sh->n_in, sh->n_out, delta.host, a.host, dW.host, db.host));
        TEST_OK(st->dev->ops->weight_grad(st->dev, sh->batch, sh->n_in, sh->n_out, delta.dev, a.dev, dW.dev, db.dev));
        pair_expect_equal(st, &dW, "weight gradient", sh);
        pair_expect_equal(st, &db, "bias gradient", sh);
        pair *all[] = {&delta, &a, &dW, &db};
        for (size_t i = 0; i < 4; i++)
            pair_free(st, all[i]);
    }
}

/* The training step's fused gradient + SGD against the host path's weight_grad and
 * sgd_momentum run one after the other, with and without momentum (without it, the
 * velocities must stay untouched: they hold random values here). */
static void test_weight_grad_sgd(void **state)
{
    suite *st = *state;
    test_rng r = {6};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int with_momentum = 0; with_momentum < 2; with_momentum++) {
            const shape *sh = &shapes[s];
            size_t nw = sh->n_out * sh->n_in;
            clmlp_sgd sgd = {.lr = 0.05,
                             .grad_scale = 1.0 / (double)sh->batch,
                             .momentum = with_momentum ? 0.9 : 0,
                             .weight_decay = 1e-3};
            pair delta = pair_random(st, &r, sh->batch * sh->n_out, -1, 1);
            pair a = pair_random(st, &r, sh->batch * sh->n_in, -1, 1);
            pair W = pair_random(st, &r, nw, -1, 1), vW = pair_random(st, &r, nw, -1, 1);
            pair b = pair_random(st, &r, sh->n_out, -1, 1), vb = pair_random(st, &r, sh->n_out, -1, 1);
            pair dW = pair_new(st, nw, NULL), db = pair_new(st, sh->n_out, NULL);
            const clmlp_backend_ops *h = st->host->ops;
            TEST_OK(h->weight_grad(st->host, sh->batch, sh->n_in, sh->n_out, delta.host, a.host, dW.host, db.host));
            TEST_OK(h->sgd_momentum(st->host, nw, &sgd, dW.host, vW.host, W.host));
            TEST_OK(h->sgd_momentum(st->host, sh->n_out, &sgd, db.host, vb.host, b.host));
            const clmlp_backend_ops *d = st->dev->ops;
            if (d->can(st->dev, CLMLP_CAN_FUSE_WEIGHT_SGD, NULL, sh->batch))
                TEST_OK(d->weight_grad_sgd(st->dev, sh->batch, sh->n_in, sh->n_out, delta.dev, a.dev, &sgd, W.dev,
                                           vW.dev, b.dev, vb.dev));
            else { /* as the step module composes it */
                TEST_OK(d->weight_grad(st->dev, sh->batch, sh->n_in, sh->n_out, delta.dev, a.dev, dW.dev, db.dev));
                TEST_OK(d->sgd_momentum(st->dev, nw, &sgd, dW.dev, vW.dev, W.dev));
                TEST_OK(d->sgd_momentum(st->dev, sh->n_out, &sgd, db.dev, vb.dev, b.dev));
            }
            pair_expect_equal(st, &W, with_momentum ? "W after SGD with momentum" : "W after SGD", sh);
            pair_expect_equal(st, &b, with_momentum ? "b after SGD with momentum" : "b after SGD", sh);
            pair_expect_equal(st, &vW, with_momentum ? "velocity of W" : "velocity of W (untouched)", sh);
            pair_expect_equal(st, &vb, with_momentum ? "velocity of b" : "velocity of b (untouched)", sh);
            /* The forward pass reads the W the step wrote, and an overwritten W after that
             * (nothing of the step may be cached in between). */
            for (int overwritten = 0; overwritten < 2; overwritten++) {
                if (overwritten) {
                    double *w = test_alloc(nw);
                    test_fill(&r, w, nw, -1, 1);
                    TEST_OK(clmlp_buf_upload(st->host, W.host, 0, w, nw));
                    TEST_OK(clmlp_buf_upload(st->dev, W.dev, 0, w, nw));
                    free(w);
                }
                pair z = pair_new(st, sh->batch * sh->n_out, NULL), act = pair_new(st, sh->batch * sh->n_out, NULL);
                TEST_OK(h->forward_layer(st->host, sh->batch, sh->n_in, sh->n_out, a.host, W.host, b.host, 1, z.host,
                                         act.host));
                TEST_OK(st->dev->ops->forward_layer(st->dev, sh->batch, sh->n_in, sh->n_out, a.dev, W.dev, b.dev, 1,
                                                    z.dev, act.dev));
                pair_expect_equal(st, &z, overwritten ? "forward z, W overwritten" : "forward z after the step", sh);
                pair_expect_equal(st, &act, overwritten ? "forward a, W overwritten" : "forward a after the step", sh);
                pair_free(st, &z);
                pair_free(st, &act);
            }
            pair *all[] = {&delta, &a, &W, &vW, &b, &vb, &dW, &db};
            for (size_t i = 0; i < 8; i++)
                pair_free(st, all[i]);
        }
}

/* A batch's inputs gathered from pixels by index (from an offset into the order, rows
 * of 1 to 784 bytes) against fma(p, scale, shift) computed here, on both backends. */
static void test_gather_pixels(void **state)
{
    suite *st = *state;
    test_rng r = {7};
    const size_t widths[] = {1, 3, 17, 33, 784}, count = 300, first = 37, rows = 129;
    const double scale = 1.0 / 255 / 0.353, shift = -0.286 / 0.353;
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        size_t cols = widths[w];
        uint8_t *pixels = malloc(count * cols);
        uint32_t order[300];
        assert_non_null(pixels);
        for (size_t i = 0; i < count * cols; i++)
            pixels[i] = (uint8_t)test_uniform(&r, 0, 256);
        for (size_t i = 0; i < count; i++)
            order[i] = (uint32_t)((i * 131 + 7) % count); /* a permutation */
        clmlp_be *be[2] = {st->host, st->dev};
        clmlp_buf *src[2], *idx[2];
        pair x = pair_new(st, rows * cols, NULL);
        for (int b = 0; b < 2; b++) {
            TEST_OK(clmlp_buf_alloc(be[b], CLMLP_BUF_BYTE, count * cols, &src[b]));
            TEST_OK(clmlp_buf_upload_raw(be[b], src[b], 0, pixels, count * cols));
            TEST_OK(clmlp_buf_alloc(be[b], CLMLP_BUF_INDEX, count, &idx[b]));
            TEST_OK(clmlp_buf_upload_raw(be[b], idx[b], 0, order, count));
            TEST_OK(
                be[b]->ops->gather_pixels(be[b], src[b], cols, idx[b], first, rows, scale, shift, b ? x.dev : x.host));
        }
        shape sh = {rows, cols, cols};
        pair_expect_equal(st, &x, "gathered pixels", &sh);
        double *got = test_alloc(rows * cols);
        TEST_OK(clmlp_buf_download(st->dev, x.dev, got, rows * cols));
        for (size_t i = 0; i < rows; i++)
            for (size_t c = 0; c < cols; c++) {
                double want = fma(pixels[order[first + i] * cols + c], scale, shift);
                if (!(fabs(got[i * cols + c] - want) <= tolerance(st) * 4))
                    fail_msg("row %zu col %zu: %.17g, expected %.17g", i, c, got[i * cols + c], want);
            }
        for (int b = 0; b < 2; b++) {
            clmlp_buf_release(be[b], src[b]);
            clmlp_buf_release(be[b], idx[b]);
        }
        pair_free(st, &x);
        free(got);
        free(pixels);
    }
}

static void test_sgd_update(void **state)
{
    suite *st = *state;
    test_rng r = {5};
    const size_t counts[] = {1, 3, 17, 257, 4099};
    for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
        shape sh = {1, counts[s], counts[s]};
        pair g = pair_random(st, &r, counts[s], -1, 1), p = pair_random(st, &r, counts[s], -1, 1);
        clmlp_sgd plain = {.lr = 0.1, .grad_scale = 1}; /* clmlp_sgd_step's update */
        TEST_OK(st->host->ops->sgd_momentum(st->host, counts[s], &plain, g.host, NULL, p.host));
        TEST_OK(st->dev->ops->sgd_momentum(st->dev, counts[s], &plain, g.dev, NULL, p.dev));
        pair_expect_equal(st, &p, "SGD update", &sh);
        pair_free(st, &g);
        pair_free(st, &p);
    }
}

/* sech² and tanh at extreme |z| against long double: no overflow, no NaN. */
static void test_extreme_z(void **state)
{
    suite *st = *state;
    const double z[] = {0, 1e-8, -1e-8, 0.5, -1, 3, -9, 12, 20, -40, 50, 89, -100, 400, 1e3, -1e3, 1e4, -1e4};
    const size_t n = sizeof z / sizeof z[0];
    double one = 1, zero = 0, *out = test_alloc(n), *ones = test_alloc(n);
    for (size_t i = 0; i < n; i++)
        ones[i] = 1;
    clmlp_be *be = st->dev;
    clmlp_buf *bz, *bg, *bout, *bw, *bb, *bzz, *ba;
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &bz));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &bg));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &bout));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 1, &bw));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 1, &bb));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &bzz));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &ba));
    TEST_OK(clmlp_buf_upload(be, bz, 0, z, n));
    TEST_OK(clmlp_buf_upload(be, bg, 0, ones, n));
    TEST_OK(clmlp_cl_sech2_mul((clmlp_cl_be *)be, n, bz, bg, bout));
    TEST_OK(clmlp_buf_download(be, bout, out, n));
    double min_normal = st->dtype == CLMLP_F64 ? 0x1p-1022 : 0x1p-126;
    double rel_tol = st->dtype == CLMLP_F64 ? 4e-16 : 4e-7;
    for (size_t i = 0; i < n; i++) {
        long double c = coshl((long double)z[i]);
        long double ref = 1.0L / (c * c);
        assert_true(isfinite(out[i]) && out[i] >= 0);
        if (ref >= min_normal) {
            if (!(fabsl(out[i] - ref) <= rel_tol * ref))
                fail_msg("sech²(%g) = %.17g, expected %.17Lg", z[i], out[i], ref);
        } else if (!(out[i] <= 2 * min_normal)) {
            fail_msg("sech²(%g) = %g, expected ~%Lg", z[i], out[i], ref);
        }
    }
    /* tanh through the forward kernel: a = tanh(1·z + 0) */
    TEST_OK(clmlp_buf_upload(be, bw, 0, &one, 1));
    TEST_OK(clmlp_buf_upload(be, bb, 0, &zero, 1));
    TEST_OK(be->ops->forward_layer(be, n, 1, 1, bz, bw, bb, 1, bzz, ba));
    TEST_OK(clmlp_buf_download(be, ba, out, n));
    for (size_t i = 0; i < n; i++) {
        long double ref = tanhl((long double)z[i]);
        if (!(fabsl(out[i] - ref) <= rel_tol * fabsl(ref)))
            fail_msg("tanh(%g) = %.17g, expected %.17Lg", z[i], out[i], ref);
    }
    clmlp_buf *all[] = {bz, bg, bout, bw, bb, bzz, ba};
    for (size_t i = 0; i < 7; i++)
        clmlp_buf_release(be, all[i]);
    free(out);
    free(ones);
}

/* tanh (the kernels' own exp-based formula) on a dense sweep of z in [-25, 25] and of
 * tiny |z|, through the tiled forward's epilogue and the simple kernel alike
 * (a = tanh(1·z + 0)), against long double. */
static void test_tanh_sweep(void **state)
{
    suite *st = *state;
    enum { N = 4001, TINY = 200 };
    double *z = test_alloc(N + TINY), *out = test_alloc(N + TINY), one = 1, zero = 0;
    for (size_t i = 0; i < N; i++)
        z[i] = -25 + 50.0 * (double)i / (N - 1);
    for (size_t i = 0; i < TINY; i++) /* 1e-12 .. 1, both signs */
        z[N + i] = (i % 2 ? -1 : 1) * pow(10, -12 + 12.0 * (double)(i / 2) / (TINY / 2 - 1));
    size_t n = N + TINY;
    clmlp_be *be = st->dev;
    clmlp_buf *bz, *bw, *bb, *bzz, *ba;
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &bz));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 1, &bw));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 1, &bb));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &bzz));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &ba));
    TEST_OK(clmlp_buf_upload(be, bz, 0, z, n));
    TEST_OK(clmlp_buf_upload(be, bw, 0, &one, 1));
    TEST_OK(clmlp_buf_upload(be, bb, 0, &zero, 1));
    TEST_OK(be->ops->forward_layer(be, n, 1, 1, bz, bw, bb, 1, bzz, ba));
    TEST_OK(clmlp_buf_download(be, ba, out, n));
    double rel_tol = st->dtype == CLMLP_F64 ? 4e-16 : 4e-7, worst = 0;
    for (size_t i = 0; i < n; i++) {
        /* the input is rounded to the dtype first: compare with tanh of what the device saw */
        long double zi = st->dtype == CLMLP_F32 ? (long double)(float)z[i] : (long double)z[i];
        long double ref = tanhl(zi), err = fabsl(out[i] - ref) / (ref != 0 ? fabsl(ref) : 1);
        worst = err > worst ? (double)err : worst;
        if (!(err <= rel_tol))
            fail_msg("tanh(%.17g) = %.17g, expected %.17Lg (relative error %.3Lg)", z[i], out[i], ref, err);
    }
    print_message("tanh: worst relative error %.3g over %zu points\n", worst, n);
    clmlp_buf *all[] = {bz, bw, bb, bzz, ba};
    for (size_t i = 0; i < 5; i++)
        clmlp_buf_release(be, all[i]);
    free(z);
    free(out);
}

/* The GPU family's kernels, as built, within what common GPUs allow: local memory
 * ≤ 48 KiB per work-group (NVIDIA's OpenCL limit), work-groups ≤ 256 work-items (AMD's
 * default) and within the built kernel's CL_KERNEL_WORK_GROUP_SIZE. */
static void test_gpu_limits(void **state)
{
    suite *st = *state;
    clmlp_cl_be *be = (clmlp_cl_be *)st->dev;
    if (be->family != CLMLP_CL_GPU)
        skip();
    const clmlp_cl_gpu_shape *g = &be->tiles.gpu;
    size_t group2d = (size_t)g->wg_m * g->wg_n;
    assert_true(group2d <= 256 && g->group <= 256);
    const cl_kernel *k = (const cl_kernel *)&be->k;
    for (size_t i = 0; i < sizeof be->k / sizeof(cl_kernel); i++) {
        size_t local = 0, max_group = 0;
        TEST_OK(clmlp_cl_kernel_limits(be, k[i], &local, &max_group));
        if (local > 48 * 1024)
            fail_msg("kernel %zu of clmlp_cl_kernels uses %zu bytes of local memory (> 48 KiB)", i, local);
        assert_true(max_group >= (group2d > g->group ? group2d : g->group));
    }
    size_t local = 0, max_group = 0;
    TEST_OK(clmlp_cl_kernel_limits(be, be->k.gemm_nt, &local, &max_group));
    size_t real = st->dtype == CLMLP_F64 ? 8 : 4; /* the products' two local tiles, as sized in gemm_gpu.cl */
    size_t tiles = real * g->kt * ((size_t)g->wg_m * g->tm + g->lpad + (size_t)g->wg_n * g->tn + g->lpad);
    assert_true(local >= tiles);
    print_message("gemm_nt: %zu bytes of local memory, up to %zu work-items\n", local, max_group);
}

#define SUITE_TESTS(st)                                                                                                \
    cmocka_unit_test_prestate_setup_teardown(test_gpu_limits, setup, teardown, &st),                                   \
        cmocka_unit_test_prestate_setup_teardown(test_forward_layer, setup, teardown, &st),                            \
        cmocka_unit_test_prestate_setup_teardown(test_output_delta, setup, teardown, &st),                             \
        cmocka_unit_test_prestate_setup_teardown(test_backprop_delta, setup, teardown, &st),                           \
        cmocka_unit_test_prestate_setup_teardown(test_weight_grad, setup, teardown, &st),                              \
        cmocka_unit_test_prestate_setup_teardown(test_weight_grad_sgd, setup, teardown, &st),                          \
        cmocka_unit_test_prestate_setup_teardown(test_gather_pixels, setup, teardown, &st),                            \
        cmocka_unit_test_prestate_setup_teardown(test_sgd_update, setup, teardown, &st),                               \
        cmocka_unit_test_prestate_setup_teardown(test_extreme_z, setup, teardown, &st),                                \
        cmocka_unit_test_prestate_setup_teardown(test_tanh_sweep, setup, teardown, &st)

/* The GPU family: the device's default shape with each kind of product (the first
 * n_default suites), then each vendor's default and the corners of the grid — load
 * widths 1, 2, 4; work-groups 8x8, 16x16, 32x8, 8x32; K steps 8, 16, 32; tiles larger
 * than most of the shapes' M, N, K. */
static int gpu_grid(suite *defaults, const char *const *default_names, size_t n_default)
{
    static const struct {
        clmlp_dtype dtype;
        const char *tiles, *name;
    } grid[] = {
        {CLMLP_F32, "gpu:16x16:2x2:16:2:1:256", "f32, gpu 16x16 2x2 k16 v2 (NVIDIA / AMD default)"},
        {CLMLP_F64, "gpu:16x16:2x2:16:2:1:256", "f64, gpu 16x16 2x2 k16 v2 (NVIDIA / AMD default)"},
        {CLMLP_F32, "gpu:8x8:4x4:16:4:1:64", "f32, gpu 8x8 4x4 k16 v4 (Intel default)"},
        {CLMLP_F64, "gpu:8x8:1x1:8:1:0:64", "f64, gpu 8x8 1x1 k8 v1 pad 0"},
        {CLMLP_F32, "gpu:32x8:4x2:32:4:1:256", "f32, gpu 32x8 4x2 k32 v4"},
        {CLMLP_F64, "gpu:16x16:4x4:32:4:2:128", "f64, gpu 16x16 4x4 k32 v4 pad 2"},
        {CLMLP_F32, "gpu:8x32:2x4:8:2:1:32", "f32, gpu 8x32 2x4 k8 v2"},
        {CLMLP_F64, "gpu:4x4:3x3:16:1:1:16", "f64, gpu 4x4 3x3 k16 v1 (odd tiles)"},
        {CLMLP_F32, "gpu:8x8:2x2:16:2:1:64", "f32, gpu 8x8 2x2 k16 v2, CLBlast error propagation"},
    };
    enum { N_GRID = sizeof grid / sizeof grid[0] };
    static clmlp_cl_tiles tiles[N_GRID];
    static suite suites[N_GRID];
    int failed = 0;
    for (size_t i = 0; i < n_default; i++) {
        const struct CMUnitTest tests[] = {SUITE_TESTS(defaults[i])};
        failed += _cmocka_run_group_tests(default_names[i], tests, sizeof tests / sizeof tests[0], NULL, NULL);
    }
    for (size_t i = 0; i < N_GRID; i++) {
        if (clmlp_cl_tiles_parse(grid[i].tiles, &tiles[i]) != CLMLP_OK) {
            fprintf(stderr, "%s: %s\n", grid[i].tiles, clmlp_last_error());
            return 1;
        }
        if (i == N_GRID - 1)
            tiles[i].clblast = CLMLP_CL_BACKPROP;
        suites[i] = (suite){grid[i].dtype, CLMLP_PRODUCTS_OWN, &tiles[i], NULL, NULL};
        const struct CMUnitTest tests[] = {SUITE_TESTS(suites[i])};
        failed += _cmocka_run_group_tests(grid[i].name, tests, sizeof tests / sizeof tests[0], NULL, NULL);
    }
    return failed;
}

int main(void)
{
    /* the tiled products' grid: the shapes the device rules pick for AVX-512 (16/8-wide
     * vectors, 8 x 2, 4 x 4) and AVX2 (8/4-wide, 4 x 3, 2 x 4), and corners */
    static const clmlp_cl_tiles avx512_f32 = CLMLP_CL_CPU_TILES(16, 8, 2, 4, 4),
                                avx512_f64 = CLMLP_CL_CPU_TILES(8, 8, 2, 4, 4),
                                avx2_f32 = CLMLP_CL_CPU_TILES(8, 4, 3, 2, 4),
                                avx2_f64 = CLMLP_CL_CPU_TILES(4, 4, 3, 2, 4),
                                narrow = CLMLP_CL_CPU_TILES(2, 3, 1, 1, 3), scalar = CLMLP_CL_CPU_TILES(1, 1, 1, 1, 1),
                                wide = CLMLP_CL_CPU_TILES(4, 16, 4, 8, 8);
    static clmlp_cl_tiles mixed = CLMLP_CL_CPU_TILES(4, 4, 3, 2, 4); /* the tuner gave two products to CLBlast */
    mixed.clblast = CLMLP_CL_FORWARD | CLMLP_CL_WEIGHT_GRAD;
    static suite suites[] = {
        {CLMLP_F64, CLMLP_PRODUCTS_SIMPLE, NULL, NULL, NULL},
        {CLMLP_F64, CLMLP_PRODUCTS_OWN, NULL, NULL, NULL},
        {CLMLP_F64, CLMLP_PRODUCTS_CLBLAST, NULL, NULL, NULL},
        {CLMLP_F32, CLMLP_PRODUCTS_SIMPLE, NULL, NULL, NULL},
        {CLMLP_F32, CLMLP_PRODUCTS_OWN, NULL, NULL, NULL},
        {CLMLP_F32, CLMLP_PRODUCTS_CLBLAST, NULL, NULL, NULL},
        {CLMLP_F32, CLMLP_PRODUCTS_OWN, &avx512_f32, NULL, NULL},
        {CLMLP_F64, CLMLP_PRODUCTS_OWN, &avx512_f64, NULL, NULL},
        {CLMLP_F32, CLMLP_PRODUCTS_OWN, &avx2_f32, NULL, NULL},
        {CLMLP_F64, CLMLP_PRODUCTS_OWN, &avx2_f64, NULL, NULL},
        {CLMLP_F32, CLMLP_PRODUCTS_OWN, &narrow, NULL, NULL},
        {CLMLP_F64, CLMLP_PRODUCTS_OWN, &scalar, NULL, NULL},
        {CLMLP_F32, CLMLP_PRODUCTS_OWN, &wide, NULL, NULL},
        {CLMLP_F64, CLMLP_PRODUCTS_OWN, &mixed, NULL, NULL},
    };
    const char *names[] = {"f64, simple kernels",
                           "f64, tiled products (device tiles)",
                           "f64, CLBlast products",
                           "f32, simple kernels",
                           "f32, tiled products (device tiles)",
                           "f32, CLBlast products",
                           "f32, tiles 16-wide 8x2 / 4x4",
                           "f64, tiles 8-wide 8x2 / 4x4",
                           "f32, tiles 8-wide 4x3 / 2x4",
                           "f64, tiles 4-wide 4x3 / 2x4",
                           "f32, tiles 2-wide 3x1 / 1x3",
                           "f64, tiles scalar 1x1 / 1x1",
                           "f32, tiles 4-wide 16x4 / 8x8",
                           "f64, tiles 4-wide 4x3 / 2x4, CLBlast forward and weight grad"};
    int failed = 0;
    const char *family = getenv("CLMLP_KERNELS");
    if (family && strcmp(family, "gpu") == 0)
        return gpu_grid(suites, names, 6);
    for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++) {
        const struct CMUnitTest tests[] = {SUITE_TESTS(suites[i])};
        failed += _cmocka_run_group_tests(names[i], tests, sizeof tests / sizeof tests[0], NULL, NULL);
    }
    return failed;
}
