/*
 * Every operation the GPU kernel family runs as a kernel, once, at small awkward sizes
 * (1, 3, 5, 7, 9, 17: partial tiles in every direction, K below and off the K step),
 * with small GPU shapes, in float and double, against the host backend. Outputs are
 * poisoned with NaN first, so an element a kernel forgets to write fails the check.
 *
 * The work is kept tiny so that the whole test also runs under Oclgrind, a simulator
 * that reports data races, uninitialised reads, out-of-bounds accesses and divergent
 * barriers (scripts/oclgrind.sh); POCL runs a work-group's items one after another and
 * can hide a missing barrier. The device is the first one there is, whatever its type
 * (under Oclgrind its own); the GPU family is forced. CLMLP_TEST_OCLGRIND_QUICK=1 runs
 * fewer shapes and sizes (CTest sets it: on POCL a cold cache compiles every kernel of
 * every shape's program, which takes minutes for the full set).
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "opencl/cl_common.h"

typedef struct {
    clmlp_dtype dtype;
    const char *tiles;
    clmlp_be *host, *dev;
    int no_device; /* f64 on a device without cl_khr_fp64: every test skips */
} suite;

static suite *current; /* the suite the group setup prepares */

static double tolerance(const suite *st) { return st->dtype == CLMLP_F64 ? 1e-10 : 1e-4; }

static int group_setup(void **state)
{
    (void)state;
    suite *st = current;
    st->host = st->dev = NULL;
    st->no_device = 0;
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        return 0;
    clmlp_cl_tiles tiles;
    if (clmlp_cl_tiles_parse(st->tiles, &tiles) != CLMLP_OK) {
        print_error("tiles %s: %s\n", st->tiles, clmlp_last_error());
        return -1;
    }
    clmlp_config cfg;
    clmlp_config_init(&cfg); /* platform, device -1, no spec: the first GPU, else the first device */
    cfg.dtype = st->dtype;
    cfg.kernels = CLMLP_KERNELS_GPU;
    cfg.products = CLMLP_PRODUCTS_OWN;
    if (clmlp_host_backend_create(st->dtype, &st->host) != CLMLP_OK) {
        print_error("host backend: %s\n", clmlp_last_error());
        return -1;
    }
    clmlp_status s = clmlp_cl_backend_create_tiled(&cfg, &tiles, &st->dev);
    if (s == CLMLP_ENODEVICE && st->dtype == CLMLP_F64) {
        print_message("skipping f64: %s\n", clmlp_last_error());
        st->no_device = 1;
        st->dev = NULL;
        return 0;
    }
    if (s != CLMLP_OK) {
        print_error("OpenCL backend with %s: %s: %s\n", st->tiles, clmlp_strerror(s), clmlp_last_error());
        st->dev = NULL;
        return -1;
    }
    print_message("%s: %s, %s\n", st->tiles, st->dev->name, st->dev->kernels);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    suite *st = current;
    if (st->host)
        st->host->ops->destroy(st->host);
    if (st->dev)
        st->dev->ops->destroy(st->dev);
    st->host = st->dev = NULL;
    return 0;
}

static int need_device(void **state)
{
    suite *st = *state;
    if (!st->dev)
        skip();
    return 0;
}

static int quick(void)
{
    return getenv("CLMLP_TEST_OCLGRIND_QUICK") && strcmp(getenv("CLMLP_TEST_OCLGRIND_QUICK"), "0");
}

/* ---- buffers on both backends ---- */

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

/* INDEX or BYTE buffers with the same raw contents. */
static pair pair_raw(suite *st, clmlp_buf_kind kind, size_t n, const void *values)
{
    pair p = {NULL, NULL, n};
    TEST_OK(clmlp_buf_alloc(st->host, kind, n, &p.host));
    TEST_OK(clmlp_buf_alloc(st->dev, kind, n, &p.dev));
    TEST_OK(clmlp_buf_upload_raw(st->host, p.host, 0, values, n));
    TEST_OK(clmlp_buf_upload_raw(st->dev, p.dev, 0, values, n));
    return p;
}

static void pair_free(suite *st, pair *p)
{
    clmlp_buf_release(st->host, p->host);
    clmlp_buf_release(st->dev, p->dev);
    p->host = p->dev = NULL;
}

/* Downloads both sides and requires them to agree: finite values within the relative
 * tolerance (over the whole buffer), non-finite ones identical (both NaN or the same
 * infinity); with !allow_nonfinite every element must be finite (written). */
static void expect_equal_at(suite *st, const pair *p, int allow_nonfinite, const char *what, const char *where)
{
    double *h = test_alloc(p->n), *d = test_alloc(p->n);
    TEST_OK(clmlp_buf_download(st->host, p->host, h, p->n));
    TEST_OK(clmlp_buf_download(st->dev, p->dev, d, p->n));
    for (size_t i = 0; i < p->n; i++) {
        if (isfinite(d[i]) && isfinite(h[i]))
            continue;
        int same = (isnan(d[i]) && isnan(h[i])) || d[i] == h[i];
        if (!allow_nonfinite || !same)
            fail_msg("%s (%s, %s): element %zu not written or not finite: device %g host %g", what, where, st->tiles, i,
                     d[i], h[i]);
        d[i] = h[i] = 0; /* out of the norms */
    }
    double err = test_rel_err(d, h, p->n);
    if (!(err <= tolerance(st)))
        fail_msg("%s (%s, %s): device vs host relative error %.3g > %.1g", what, where, st->tiles, err, tolerance(st));
    free(h);
    free(d);
}

static void expect_equal(suite *st, const pair *p, const char *what, const char *where)
{
    expect_equal_at(st, p, 0, what, where);
}

/* ---- shapes ---- */

typedef struct {
    size_t batch, n_in, n_out;
} shape;

/* forward: M = batch, N = n_out, K = n_in; backprop (gemm_nn): M = batch, N = n_in,
 * K = n_out; weight gradient (gemm_tn): M = n_out, N = n_in, K = batch. The tiles are
 * 4 to 8 wide and the K steps 4 or 8: 9 and 17 leave partial tiles, 1, 3, 5, 7 are K
 * below a step, 9 and 17 K off one. Batch 1 runs the simple kernels. */
static const shape shapes[] = {{3, 5, 9}, {17, 7, 3}, {1, 7, 5}, {5, 3, 17}, {9, 17, 1}, {7, 1, 7}};
static size_t n_shapes(void) { return quick() ? 3 : sizeof shapes / sizeof shapes[0]; }

static const char *shape_name(const shape *sh, char *buf, size_t size)
{
    snprintf(buf, size, "batch %zu, %zu -> %zu", sh->batch, sh->n_in, sh->n_out);
    return buf;
}

/* ---- the products and their epilogues ---- */

static void test_forward_layer(void **state)
{
    suite *st = *state;
    test_rng r = {11};
    for (size_t s = 0; s < n_shapes(); s++)
        for (int act = 0; act <= 1; act++) {
            const shape *sh = &shapes[s];
            char where[64];
            shape_name(sh, where, sizeof where);
            pair x = pair_random(st, &r, sh->batch * sh->n_in, -2, 2);
            pair W = pair_random(st, &r, sh->n_out * sh->n_in, -1, 1);
            pair b = pair_random(st, &r, sh->n_out, -1, 1);
            pair z = pair_new(st, sh->batch * sh->n_out, NULL), a = pair_new(st, sh->batch * sh->n_out, NULL);
            TEST_OK(st->host->ops->forward_layer(st->host, sh->batch, sh->n_in, sh->n_out, x.host, W.host, b.host, act,
                                                 z.host, a.host));
            TEST_OK(st->dev->ops->forward_layer(st->dev, sh->batch, sh->n_in, sh->n_out, x.dev, W.dev, b.dev, act,
                                                z.dev, a.dev));
            expect_equal(st, &z, "forward z", where);
            expect_equal(st, &a, act ? "forward tanh(z)" : "forward linear a", where);
            pair *all[] = {&x, &W, &b, &z, &a};
            for (size_t i = 0; i < 5; i++)
                pair_free(st, all[i]);
        }
}

/* shape: batch, n = n_in (the layer), n_next = n_out (the layer above). */
static void test_backprop_delta(void **state)
{
    suite *st = *state;
    test_rng r = {12};
    for (size_t s = 0; s < n_shapes(); s++) {
        const shape *sh = &shapes[s];
        char where[64];
        shape_name(sh, where, sizeof where);
        pair dn = pair_random(st, &r, sh->batch * sh->n_out, -1, 1);
        pair Wn = pair_random(st, &r, sh->n_out * sh->n_in, -1, 1);
        pair z = pair_random(st, &r, sh->batch * sh->n_in, -3, 3);
        pair delta = pair_new(st, sh->batch * sh->n_in, NULL);
        TEST_OK(st->host->ops->backprop_delta(st->host, sh->batch, sh->n_in, sh->n_out, dn.host, Wn.host, z.host,
                                              delta.host));
        TEST_OK(
            st->dev->ops->backprop_delta(st->dev, sh->batch, sh->n_in, sh->n_out, dn.dev, Wn.dev, z.dev, delta.dev));
        expect_equal(st, &delta, "backprop delta", where);
        pair *all[] = {&dn, &Wn, &z, &delta};
        for (size_t i = 0; i < 4; i++)
            pair_free(st, all[i]);
    }
}

static void test_weight_grad(void **state)
{
    suite *st = *state;
    test_rng r = {13};
    for (size_t s = 0; s < n_shapes(); s++) {
        const shape *sh = &shapes[s];
        char where[64];
        shape_name(sh, where, sizeof where);
        pair delta = pair_random(st, &r, sh->batch * sh->n_out, -1, 1);
        pair a = pair_random(st, &r, sh->batch * sh->n_in, -1, 1);
        pair dW = pair_new(st, sh->n_out * sh->n_in, NULL), db = pair_new(st, sh->n_out, NULL);
        TEST_OK(
            st->host->ops->weight_grad(st->host, sh->batch, sh->n_in, sh->n_out, delta.host, a.host, dW.host, db.host));
        TEST_OK(st->dev->ops->weight_grad(st->dev, sh->batch, sh->n_in, sh->n_out, delta.dev, a.dev, dW.dev, db.dev));
        expect_equal(st, &dW, "weight gradient", where);
        expect_equal(st, &db, "bias gradient", where);
        pair *all[] = {&delta, &a, &dW, &db};
        for (size_t i = 0; i < 4; i++)
            pair_free(st, all[i]);
    }
}

/* gemm_tn_sgd (every batch > 1 must take it) against the host's weight_grad and
 * sgd_momentum, with momentum and weight decay on, and with momentum off (the
 * velocities, random here, must stay untouched). */
static void test_weight_grad_sgd(void **state)
{
    suite *st = *state;
    test_rng r = {14};
    for (size_t s = 0; s < n_shapes(); s++)
        for (int with_momentum = 1; with_momentum >= 0; with_momentum--) {
            const shape *sh = &shapes[s];
            char where[96];
            shape_name(sh, where, sizeof where);
            strcat(where, with_momentum ? ", momentum 0.9" : ", no momentum");
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
            const clmlp_backend_ops *h = st->host->ops, *d = st->dev->ops;
            TEST_OK(h->weight_grad(st->host, sh->batch, sh->n_in, sh->n_out, delta.host, a.host, dW.host, db.host));
            TEST_OK(h->sgd_momentum(st->host, nw, &sgd, dW.host, vW.host, W.host));
            TEST_OK(h->sgd_momentum(st->host, sh->n_out, &sgd, db.host, vb.host, b.host));
            int fused = d->can(st->dev, CLMLP_CAN_FUSE_WEIGHT_SGD, NULL, sh->batch);
            if (sh->batch > 1 && !fused)
                fail_msg("batch %zu: the GPU family does not fuse the weight gradient and SGD (gemm_tn_sgd)",
                         sh->batch);
            if (fused)
                TEST_OK(d->weight_grad_sgd(st->dev, sh->batch, sh->n_in, sh->n_out, delta.dev, a.dev, &sgd, W.dev,
                                           vW.dev, b.dev, vb.dev));
            else { /* batch 1, as the step module composes it */
                TEST_OK(d->weight_grad(st->dev, sh->batch, sh->n_in, sh->n_out, delta.dev, a.dev, dW.dev, db.dev));
                TEST_OK(d->sgd_momentum(st->dev, nw, &sgd, dW.dev, vW.dev, W.dev));
                TEST_OK(d->sgd_momentum(st->dev, sh->n_out, &sgd, db.dev, vb.dev, b.dev));
            }
            expect_equal(st, &W, "W after the step", where);
            expect_equal(st, &b, "b after the step", where);
            expect_equal(st, &vW, with_momentum ? "velocity of W" : "velocity of W (untouched)", where);
            expect_equal(st, &vb, with_momentum ? "velocity of b" : "velocity of b (untouched)", where);
            pair *all[] = {&delta, &a, &W, &vW, &b, &vb, &dW, &db};
            for (size_t i = 0; i < 8; i++)
                pair_free(st, all[i]);
        }
}

/* ---- the output layer and the counters ---- */

static void test_output_delta(void **state)
{
    suite *st = *state;
    test_rng r = {15};
    const size_t sizes[][2] = {{1, 1}, {3, 5}, {17, 3}, {5, 17}, {9, 10}};
    size_t n_sizes = quick() ? 3 : sizeof sizes / sizeof sizes[0];
    for (size_t s = 0; s < n_sizes; s++)
        for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
            size_t batch = sizes[s][0], n = sizes[s][1];
            char where[64];
            snprintf(where, sizeof where, "batch %zu, %zu outputs", batch, n);
            pair z = pair_random(st, &r, batch * n, -8, 8);
            pair a = pair_random(st, &r, batch * n, -1, 1);
            pair y = pair_random(st, &r, batch * n, -1, 1);
            pair delta = pair_new(st, batch * n, NULL), row_loss = pair_new(st, batch, NULL);
            TEST_OK(st->host->ops->output_delta(st->host, (clmlp_loss)loss, batch, n, z.host, a.host, y.host,
                                                delta.host, row_loss.host));
            TEST_OK(st->dev->ops->output_delta(st->dev, (clmlp_loss)loss, batch, n, z.dev, a.dev, y.dev, delta.dev,
                                               row_loss.dev));
            expect_equal(st, &delta, loss ? "softmax-CE delta" : "MSE delta", where);
            expect_equal(st, &row_loss, loss ? "softmax-CE row loss" : "MSE row loss", where);
            pair *all[] = {&z, &a, &y, &delta, &row_loss};
            for (size_t i = 0; i < 5; i++)
                pair_free(st, all[i]);
        }
}

/* Rows of one-hot targets and outputs whose argmax is the target's about half the time
 * (no ties). */
static void classify_data(test_rng *r, size_t batch, size_t n, double *out, double *y)
{
    for (size_t i = 0; i < batch; i++) {
        size_t label = (size_t)test_uniform(r, 0, (double)n);
        label = label < n ? label : n - 1;
        for (size_t k = 0; k < n; k++) {
            y[i * n + k] = k == label ? 1 : 0;
            out[i * n + k] = test_uniform(r, -1, 0.9);
        }
        if (test_uniform(r, 0, 1) < 0.5)
            out[i * n + label] = 0.95 + 0.01 * test_uniform(r, 0, 1);
    }
}

/* Three steps into the same counters (started non-zero): a finite batch, one with an
 * infinite row loss (its step is recorded) and one with a NaN (the first stays). The
 * batches are larger than the 1-D work-groups (8 to 32) and not multiples of them. */
static void test_batch_stats(void **state)
{
    suite *st = *state;
    test_rng r = {16};
    const size_t sizes[][2] = {{1, 3}, {17, 10}, {40, 3}, {70, 1}};
    size_t n_sizes = quick() ? 2 : sizeof sizes / sizeof sizes[0];
    for (size_t s = 0; s < n_sizes; s++) {
        size_t batch = sizes[s][0], n = sizes[s][1];
        char where[64];
        snprintf(where, sizeof where, "batch %zu, %zu outputs", batch, n);
        const double start[3] = {1.5, 2, 0};
        pair stats = pair_new(st, 3, start);
        for (size_t step = 1; step <= 3; step++) {
            double *out = test_alloc(batch * n), *y = test_alloc(batch * n), *loss = test_alloc(batch);
            classify_data(&r, batch, n, out, y);
            test_fill(&r, loss, batch, 0, 2);
            if (step == 2)
                loss[batch / 2] = INFINITY;
            if (step == 3)
                loss[batch - 1] = NAN;
            pair po = pair_new(st, batch * n, out), py = pair_new(st, batch * n, y), pl = pair_new(st, batch, loss);
            TEST_OK(st->host->ops->batch_stats(st->host, batch, n, po.host, py.host, pl.host, step, stats.host));
            TEST_OK(st->dev->ops->batch_stats(st->dev, batch, n, po.dev, py.dev, pl.dev, step, stats.dev));
            char at[96];
            snprintf(at, sizeof at, "%s, step %zu", where, step);
            expect_equal_at(st, &stats, step > 1, "batch counters", at);
            pair_free(st, &po);
            pair_free(st, &py);
            pair_free(st, &pl);
            free(out);
            free(y);
            free(loss);
        }
        double got[3];
        TEST_OK(clmlp_buf_download(st->dev, stats.dev, got, 3));
        if (!(got[2] == 2))
            fail_msg("batch counters (%s, %s): first diverging step %g, expected 2", where, st->tiles, got[2]);
        pair_free(st, &stats);
    }
}

static void test_confusion_update(void **state)
{
    suite *st = *state;
    test_rng r = {17};
    const size_t sizes[][2] = {{1, 3}, {17, 10}, {40, 3}, {9, 1}};
    size_t n_sizes = quick() ? 2 : sizeof sizes / sizeof sizes[0];
    for (size_t s = 0; s < n_sizes; s++) {
        size_t batch = sizes[s][0], n = sizes[s][1];
        char where[64];
        snprintf(where, sizeof where, "batch %zu, %zu classes", batch, n);
        double *counts = test_alloc(n * n), *out = test_alloc(batch * n), *y = test_alloc(batch * n);
        for (size_t i = 0; i < n * n; i++)
            counts[i] = (double)(i % 4);
        pair confusion = pair_new(st, n * n, counts);
        for (int round = 0; round < 2; round++) {
            classify_data(&r, batch, n, out, y);
            pair po = pair_new(st, batch * n, out), py = pair_new(st, batch * n, y);
            TEST_OK(st->host->ops->confusion_update(st->host, batch, n, po.host, py.host, confusion.host));
            TEST_OK(st->dev->ops->confusion_update(st->dev, batch, n, po.dev, py.dev, confusion.dev));
            pair_free(st, &po);
            pair_free(st, &py);
        }
        expect_equal(st, &confusion, "confusion matrix", where);
        double *got = test_alloc(n * n), *want = test_alloc(n * n);
        TEST_OK(clmlp_buf_download(st->dev, confusion.dev, got, n * n));
        TEST_OK(clmlp_buf_download(st->host, confusion.host, want, n * n));
        for (size_t i = 0; i < n * n; i++)
            if (got[i] != want[i])
                fail_msg("confusion matrix (%s, %s): cell %zu is %g, expected %g", where, st->tiles, i, got[i],
                         want[i]);
        pair_free(st, &confusion);
        free(counts);
        free(out);
        free(y);
        free(got);
        free(want);
    }
}

/* ---- batches, updates, fills ---- */

static void test_gather(void **state)
{
    suite *st = *state;
    test_rng r = {18};
    const size_t widths[] = {1, 3, 7, 10}, count = 9, first = 2, rows = 5;
    const double scale = 1.0 / 255 / 0.353, shift = -0.286 / 0.353;
    size_t n_widths = quick() ? 2 : sizeof widths / sizeof widths[0];
    for (size_t w = 0; w < n_widths; w++) {
        size_t cols = widths[w];
        char where[64];
        snprintf(where, sizeof where, "%zu rows of %zu from %zu", rows, cols, count);
        uint8_t *pixels = malloc(count * cols);
        uint32_t order[9];
        double *values = test_alloc(count * cols);
        assert_non_null(pixels);
        for (size_t i = 0; i < count * cols; i++)
            pixels[i] = (uint8_t)test_uniform(&r, 0, 256);
        test_fill(&r, values, count * cols, -1, 1);
        for (size_t i = 0; i < count; i++)
            order[i] = (uint32_t)((i * 4 + 3) % count); /* a permutation */
        pair src = pair_raw(st, CLMLP_BUF_BYTE, count * cols, pixels);
        pair idx = pair_raw(st, CLMLP_BUF_INDEX, count, order);
        pair real_src = pair_new(st, count * cols, values);
        pair x = pair_new(st, rows * cols, NULL), g = pair_new(st, rows * cols, NULL);
        TEST_OK(st->host->ops->gather_pixels(st->host, src.host, cols, idx.host, first, rows, scale, shift, x.host));
        TEST_OK(st->dev->ops->gather_pixels(st->dev, src.dev, cols, idx.dev, first, rows, scale, shift, x.dev));
        TEST_OK(st->host->ops->gather_rows(st->host, real_src.host, cols, idx.host, first, rows, g.host));
        TEST_OK(st->dev->ops->gather_rows(st->dev, real_src.dev, cols, idx.dev, first, rows, g.dev));
        expect_equal(st, &x, "gathered pixels", where);
        expect_equal(st, &g, "gathered rows", where);
        pair *all[] = {&src, &idx, &real_src, &x, &g};
        for (size_t i = 0; i < 5; i++)
            pair_free(st, all[i]);
        free(pixels);
        free(values);
    }
}

static void test_sgd_momentum(void **state)
{
    suite *st = *state;
    test_rng r = {19};
    const size_t counts[] = {1, 17, 65};
    for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++)
        for (int with_momentum = 1; with_momentum >= 0; with_momentum--) {
            size_t n = counts[s];
            char where[64];
            snprintf(where, sizeof where, "%zu parameters%s", n, with_momentum ? ", momentum" : "");
            clmlp_sgd sgd = {.lr = 0.1, .grad_scale = 0.25, .momentum = with_momentum ? 0.9 : 0, .weight_decay = 1e-2};
            pair g = pair_random(st, &r, n, -1, 1), p = pair_random(st, &r, n, -1, 1),
                 v = pair_random(st, &r, n, -1, 1);
            TEST_OK(st->host->ops->sgd_momentum(st->host, n, &sgd, g.host, with_momentum ? v.host : NULL, p.host));
            TEST_OK(st->dev->ops->sgd_momentum(st->dev, n, &sgd, g.dev, with_momentum ? v.dev : NULL, p.dev));
            expect_equal(st, &p, "parameters after SGD", where);
            expect_equal(st, &v, "velocity", where);
            pair_free(st, &g);
            pair_free(st, &p);
            pair_free(st, &v);
        }
}

/* The first n of n + 3 elements; the rest keep their values. */
static void test_fill_op(void **state)
{
    suite *st = *state;
    const size_t counts[] = {1, 17, 65};
    for (size_t s = 0; s < sizeof counts / sizeof counts[0]; s++) {
        size_t n = counts[s];
        char where[64];
        snprintf(where, sizeof where, "%zu of %zu elements", n, n + 3);
        double *sevens = test_alloc(n + 3);
        for (size_t i = 0; i < n + 3; i++)
            sevens[i] = 7;
        pair p = pair_new(st, n + 3, sevens);
        TEST_OK(st->host->ops->fill(st->host, p.host, n, -0.5));
        TEST_OK(st->dev->ops->fill(st->dev, p.dev, n, -0.5));
        expect_equal(st, &p, "filled buffer", where);
        pair_free(st, &p);
        free(sevens);
    }
}

/* ---- per-sample training ---- */

/* A 5-3-2 net's parameters, velocities and batch-1 state on one backend. */
typedef struct {
    clmlp_layer layer[3];
    clmlp_layers view;
} tiny_net;

static const size_t tiny_sizes[3] = {5, 3, 2};

static void tiny_net_create(clmlp_be *be, clmlp_loss loss, tiny_net *t)
{
    memset(t, 0, sizeof *t);
    test_rng r = {21};
    for (size_t l = 0; l <= 2; l++) {
        clmlp_layer *ly = &t->layer[l];
        size_t n = tiny_sizes[l];
        TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, &ly->a));
        if (l == 0)
            continue;
        size_t nw = n * tiny_sizes[l - 1];
        double *v = test_alloc(nw);
        clmlp_buf **params[] = {&ly->W, &ly->vW, &ly->dW};
        for (size_t i = 0; i < 3; i++) {
            TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, nw, params[i]));
            test_fill(&r, v, nw, i == 0 ? -0.8 : -0.1, i == 0 ? 0.8 : 0.1);
            TEST_OK(clmlp_buf_upload(be, *params[i], 0, v, nw));
        }
        clmlp_buf **vectors[] = {&ly->b, &ly->vb, &ly->db, &ly->z, &ly->delta};
        for (size_t i = 0; i < 5; i++) {
            TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, n, vectors[i]));
            test_fill(&r, v, n, i == 0 ? -0.5 : -0.1, i == 0 ? 0.5 : 0.1);
            TEST_OK(clmlp_buf_upload(be, *vectors[i], 0, v, n));
        }
        free(v);
    }
    t->view = (clmlp_layers){.L = 2, .n = tiny_sizes, .loss = loss, .layer = t->layer};
}

static void tiny_net_free(clmlp_be *be, tiny_net *t)
{
    for (size_t l = 0; l <= 2; l++) {
        clmlp_layer *ly = &t->layer[l];
        clmlp_buf *all[] = {ly->W, ly->b, ly->dW, ly->db, ly->vW, ly->vb, ly->z, ly->a, ly->delta};
        for (size_t i = 0; i < 9; i++)
            clmlp_buf_release(be, all[i]);
    }
}

/* train_per_sample's definition in backend.h, with the host backend's operations. */
static void host_per_sample(clmlp_be *be, tiny_net *t, const clmlp_buf *pixels, double scale, double shift,
                            const clmlp_buf *y, const clmlp_buf *order, size_t first, size_t count,
                            const clmlp_sgd *sgd, clmlp_buf *stats)
{
    const clmlp_backend_ops *ops = be->ops;
    clmlp_layer *L = t->layer;
    clmlp_buf *y1, *row_loss;
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, tiny_sizes[2], &y1));
    TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 1, &row_loss));
    clmlp_sgd one = *sgd;
    one.grad_scale = 1;
    for (size_t s = 0; s < count; s++) {
        TEST_OK(ops->gather_pixels(be, pixels, tiny_sizes[0], order, first + s, 1, scale, shift, L[0].a));
        TEST_OK(ops->gather_rows(be, y, tiny_sizes[2], order, first + s, 1, y1));
        for (size_t l = 1; l <= 2; l++)
            TEST_OK(ops->forward_layer(be, 1, tiny_sizes[l - 1], tiny_sizes[l], L[l - 1].a, L[l].W, L[l].b,
                                       !(t->view.loss == CLMLP_LOSS_SOFTMAX_CE && l == 2), L[l].z, L[l].a));
        TEST_OK(ops->output_delta(be, t->view.loss, 1, tiny_sizes[2], L[2].z, L[2].a, y1, L[2].delta, row_loss));
        TEST_OK(ops->batch_stats(be, 1, tiny_sizes[2], L[2].a, y1, row_loss, first + s + 1, stats));
        for (size_t l = 2; l >= 1; l--) {
            if (l > 1)
                TEST_OK(ops->backprop_delta(be, 1, tiny_sizes[l - 1], tiny_sizes[l], L[l].delta, L[l].W, L[l - 1].z,
                                            L[l - 1].delta));
            TEST_OK(
                ops->weight_grad(be, 1, tiny_sizes[l - 1], tiny_sizes[l], L[l].delta, L[l - 1].a, L[l].dW, L[l].db));
            TEST_OK(ops->sgd_momentum(be, tiny_sizes[l] * tiny_sizes[l - 1], &one, L[l].dW, L[l].vW, L[l].W));
            TEST_OK(ops->sgd_momentum(be, tiny_sizes[l], &one, L[l].db, L[l].vb, L[l].b));
        }
    }
    clmlp_buf_release(be, y1);
    clmlp_buf_release(be, row_loss);
}

static void compare_buffers(suite *st, const clmlp_buf *h, const clmlp_buf *d, size_t n, const char *what,
                            const char *where)
{
    pair p = {(clmlp_buf *)h, (clmlp_buf *)d, n};
    expect_equal(st, &p, what, where);
}

/* Six batch-1 steps of a 5-3-2 net over samples order[1..6] of 8 images of 5 pixels,
 * MSE and softmax-CE, momentum and weight decay on. */
static void test_train_per_sample(void **state)
{
    suite *st = *state;
    enum { COUNT = 8, FIRST = 1, STEPS = 6 };
    test_rng r = {22};
    uint8_t pixels[COUNT * 5];
    uint32_t order[COUNT];
    double y[COUNT * 2];
    for (size_t i = 0; i < sizeof pixels; i++)
        pixels[i] = (uint8_t)test_uniform(&r, 0, 256);
    for (size_t i = 0; i < COUNT; i++) {
        order[i] = (uint32_t)((i * 3 + 5) % COUNT);
        y[2 * i] = i % 2 ? 1 : 0;
        y[2 * i + 1] = i % 2 ? 0 : 1;
    }
    const double scale = 1.0 / 255 / 0.3, shift = -0.4 / 0.3;
    clmlp_sgd sgd = {.lr = 0.1, .grad_scale = 1, .momentum = 0.9, .weight_decay = 1e-3};
    for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
        const char *where = loss ? "5-3-2, softmax-CE" : "5-3-2, MSE";
        tiny_net h, d;
        tiny_net_create(st->host, (clmlp_loss)loss, &h);
        tiny_net_create(st->dev, (clmlp_loss)loss, &d);
        if (!st->dev->ops->can(st->dev, CLMLP_CAN_TRAIN_PER_SAMPLE, &d.view, 1))
            fail_msg("the GPU family does not train a 5-3-2 net per sample (%s)", st->tiles);
        pair px = pair_raw(st, CLMLP_BUF_BYTE, sizeof pixels, pixels);
        pair ord = pair_raw(st, CLMLP_BUF_INDEX, COUNT, order);
        pair py = pair_new(st, COUNT * 2, y);
        const double start[3] = {0.25, 1, 0};
        pair stats = pair_new(st, 3, start);
        host_per_sample(st->host, &h, px.host, scale, shift, py.host, ord.host, FIRST, STEPS, &sgd, stats.host);
        TEST_OK(st->dev->ops->train_per_sample(st->dev, &d.view, px.dev, scale, shift, py.dev, ord.dev, FIRST, STEPS,
                                               &sgd, stats.dev));
        expect_equal(st, &stats, "per-sample counters", where);
        for (size_t l = 1; l <= 2; l++) {
            char at[64];
            snprintf(at, sizeof at, "%s, layer %zu", where, l);
            size_t nw = tiny_sizes[l] * tiny_sizes[l - 1];
            compare_buffers(st, h.layer[l].W, d.layer[l].W, nw, "per-sample W", at);
            compare_buffers(st, h.layer[l].b, d.layer[l].b, tiny_sizes[l], "per-sample b", at);
            compare_buffers(st, h.layer[l].vW, d.layer[l].vW, nw, "per-sample velocity of W", at);
            compare_buffers(st, h.layer[l].vb, d.layer[l].vb, tiny_sizes[l], "per-sample velocity of b", at);
        }
        pair_free(st, &px);
        pair_free(st, &ord);
        pair_free(st, &py);
        pair_free(st, &stats);
        tiny_net_free(st->host, &h);
        tiny_net_free(st->dev, &d);
    }
}

#define SUITE_TESTS(st)                                                                                                \
    cmocka_unit_test_prestate_setup_teardown(test_forward_layer, need_device, NULL, &st),                              \
        cmocka_unit_test_prestate_setup_teardown(test_backprop_delta, need_device, NULL, &st),                         \
        cmocka_unit_test_prestate_setup_teardown(test_weight_grad, need_device, NULL, &st),                            \
        cmocka_unit_test_prestate_setup_teardown(test_weight_grad_sgd, need_device, NULL, &st),                        \
        cmocka_unit_test_prestate_setup_teardown(test_output_delta, need_device, NULL, &st),                           \
        cmocka_unit_test_prestate_setup_teardown(test_batch_stats, need_device, NULL, &st),                            \
        cmocka_unit_test_prestate_setup_teardown(test_confusion_update, need_device, NULL, &st),                       \
        cmocka_unit_test_prestate_setup_teardown(test_gather, need_device, NULL, &st),                                 \
        cmocka_unit_test_prestate_setup_teardown(test_sgd_momentum, need_device, NULL, &st),                           \
        cmocka_unit_test_prestate_setup_teardown(test_fill_op, need_device, NULL, &st),                                \
        cmocka_unit_test_prestate_setup_teardown(test_train_per_sample, need_device, NULL, &st)

int main(void)
{
    /* Small shapes (a simulator runs every work-item): tiles 8x8, 8x8, 4x8, 4x8, 3x5;
     * K steps 4 and 8; load widths 1, 2, 4; padding 0 and 1; 1-D groups 8 to 32, and a
     * work-group that is not a power of two. The quick run keeps the first three. */
    static suite suites[] = {
        {CLMLP_F32, "gpu:4x4:2x2:4:2:1:16", NULL, NULL, 0}, {CLMLP_F64, "gpu:8x4:1x2:8:1:0:32", NULL, NULL, 0},
        {CLMLP_F32, "gpu:4x2:1x4:4:4:0:16", NULL, NULL, 0}, {CLMLP_F64, "gpu:2x8:2x1:4:2:1:8", NULL, NULL, 0},
        {CLMLP_F32, "gpu:8x4:1x2:8:1:0:32", NULL, NULL, 0}, {CLMLP_F64, "gpu:4x2:1x4:4:4:0:16", NULL, NULL, 0},
        {CLMLP_F64, "gpu:4x4:2x2:4:2:1:16", NULL, NULL, 0}, {CLMLP_F32, "gpu:3x5:1x1:4:1:1:8", NULL, NULL, 0},
    };
    size_t n_suites = quick() ? 3 : sizeof suites / sizeof suites[0];
    int failed = 0;
    for (size_t i = 0; i < n_suites; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s, %s", suites[i].dtype == CLMLP_F64 ? "f64" : "f32", suites[i].tiles);
        current = &suites[i];
        const struct CMUnitTest tests[] = {SUITE_TESTS(suites[i])};
        failed += _cmocka_run_group_tests(name, tests, sizeof tests / sizeof tests[0], group_setup, group_teardown);
    }
    return failed;
}
