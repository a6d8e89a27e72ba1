/*
 * Full backward passes against central finite differences (double) and against each
 * other: host vs OpenCL, float vs double, MSE and softmax-CE, batch 1 and > 1.
 * The finite differences go through the public API only and compute the loss in
 * long double from the net's outputs, independently of the library's backward code.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    const size_t *sizes;
    size_t n_sizes, batch;
} net_case;

static const size_t net_a[] = {3, 4, 2}, net_b[] = {5, 7, 3, 4}, net_c[] = {1, 1}, net_d[] = {17, 3, 1},
                    net_e[] = {6, 257, 3};
static const net_case cases[] = {
    {net_a, 3, 1}, {net_a, 3, 4}, {net_b, 4, 1}, {net_b, 4, 5},
    {net_c, 2, 1}, {net_c, 2, 3}, {net_d, 3, 2}, {net_e, 3, 3},
};

/* Inputs and targets for a case; CE targets are non-negative rows that need not sum to 1. */
static void make_data(const net_case *c, clmlp_loss loss, uint64_t seed, double **x, double **y)
{
    test_rng r = {seed};
    size_t n_in = c->sizes[0], n_out = c->sizes[c->n_sizes - 1];
    *x = test_alloc(c->batch * n_in);
    *y = test_alloc(c->batch * n_out);
    test_fill(&r, *x, c->batch * n_in, -1.5, 1.5);
    test_fill(&r, *y, c->batch * n_out, loss == CLMLP_LOSS_MSE ? -1 : 0, 1);
}

typedef struct {
    double *dW, *db;
} grads;

static grads get_grads(clmlp_net *net, size_t l)
{
    size_t rows = clmlp_layer_size(net, l), cols = clmlp_layer_size(net, l - 1);
    grads g = {test_alloc(rows * cols), test_alloc(rows)};
    TEST_OK(clmlp_get_grad(net, l, g.dW, g.db));
    return g;
}

static void free_grads(grads *g)
{
    free(g->dW);
    free(g->db);
}

/* Relative error over the concatenation of dW and db. */
static double grads_rel_err(const grads *a, const grads *b, size_t n_w, size_t n_b)
{
    double *va = test_alloc(n_w + n_b), *vb = test_alloc(n_w + n_b);
    for (size_t i = 0; i < n_w; i++) {
        va[i] = a->dW[i];
        vb[i] = b->dW[i];
    }
    for (size_t i = 0; i < n_b; i++) {
        va[n_w + i] = a->db[i];
        vb[n_w + i] = b->db[i];
    }
    double e = test_rel_err(va, vb, n_w + n_b);
    free(va);
    free(vb);
    return e;
}

static void check_against_fd(clmlp_backend backend, clmlp_loss loss)
{
    double worst = 0;
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        const net_case *c = &cases[ci];
        double *x, *y;
        make_data(c, loss, 100 + ci, &x, &y);
        clmlp_net *net = test_net(c->sizes, c->n_sizes, backend, CLMLP_F64, loss, 7 + ci);
        double value;
        TEST_OK(clmlp_forward(net, x, c->batch, NULL));
        TEST_OK(clmlp_backward(net, y, &value));
        assert_true(isfinite(value) && value >= 0); /* CE over one output is 0 */
        for (size_t l = 1; l < c->n_sizes; l++) {
            size_t rows = c->sizes[l], cols = c->sizes[l - 1];
            grads g = get_grads(net, l), fd = {test_alloc(rows * cols), test_alloc(rows)};
            test_fd_grad(net, loss, x, y, c->batch, l, 1e-6, fd.dW, fd.db);
            double err = grads_rel_err(&g, &fd, rows * cols, rows);
            if (!(err <= 1e-7))
                fail_msg("case %zu layer %zu: gradient vs finite differences relative error %.3g (|dW| / |fd| = %.3g)",
                         ci, l, err, test_norm(g.dW, rows * cols) / test_norm(fd.dW, rows * cols));
            worst = err > worst ? err : worst;
            free_grads(&g);
            free_grads(&fd);
        }
        clmlp_destroy(net);
        free(x);
        free(y);
    }
    printf("# %s %s: worst relative error vs finite differences %.3g\n",
           backend == CLMLP_BACKEND_HOST ? "host" : "opencl", loss == CLMLP_LOSS_MSE ? "MSE" : "softmax-CE", worst);
}

static void host_mse_vs_fd(void **state)
{
    (void)state;
    check_against_fd(CLMLP_BACKEND_HOST, CLMLP_LOSS_MSE);
}
static void host_ce_vs_fd(void **state)
{
    (void)state;
    check_against_fd(CLMLP_BACKEND_HOST, CLMLP_LOSS_SOFTMAX_CE);
}
static void opencl_mse_vs_fd(void **state)
{
    (void)state;
    check_against_fd(CLMLP_BACKEND_OPENCL, CLMLP_LOSS_MSE);
}
static void opencl_ce_vs_fd(void **state)
{
    (void)state;
    check_against_fd(CLMLP_BACKEND_OPENCL, CLMLP_LOSS_SOFTMAX_CE);
}

/* The same net on two configurations: outputs, states and gradients agree within tol. */
static void compare_configs(clmlp_backend b1, clmlp_dtype d1, clmlp_backend b2, clmlp_dtype d2, double tol)
{
    double worst = 0;
    for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++)
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            const net_case *c = &cases[ci];
            double *x, *y;
            make_data(c, (clmlp_loss)loss, 200 + ci, &x, &y);
            clmlp_net *n1 = test_net(c->sizes, c->n_sizes, b1, d1, (clmlp_loss)loss, 11 + ci);
            clmlp_net *n2 = test_net(c->sizes, c->n_sizes, b2, d2, (clmlp_loss)loss, 11 + ci);
            test_copy_weights(n1, n2); /* float nets round them; give both the same values */
            test_copy_weights(n2, n1);
            size_t n_out = c->sizes[c->n_sizes - 1];
            double *o1 = test_alloc(c->batch * n_out), *o2 = test_alloc(c->batch * n_out), loss1, loss2;
            TEST_OK(clmlp_forward(n1, x, c->batch, o1));
            TEST_OK(clmlp_forward(n2, x, c->batch, o2));
            TEST_OK(clmlp_backward(n1, y, &loss1));
            TEST_OK(clmlp_backward(n2, y, &loss2));
            double e = test_rel_err(o2, o1, c->batch * n_out);
            worst = e > worst ? e : worst;
            if (!(e <= tol))
                fail_msg("case %zu: outputs differ by %.3g", ci, e);
            if (!(fabs(loss2 - loss1) <= tol * fabs(loss1)))
                fail_msg("case %zu: loss %.17g vs %.17g", ci, loss1, loss2);
            for (size_t l = 1; l < c->n_sizes; l++) {
                size_t rows = c->sizes[l], cols = c->sizes[l - 1];
                grads g1 = get_grads(n1, l), g2 = get_grads(n2, l);
                e = grads_rel_err(&g2, &g1, rows * cols, rows);
                worst = e > worst ? e : worst;
                if (!(e <= tol))
                    fail_msg("case %zu (%s) layer %zu: gradients differ by %.3g > %.1g", ci, loss ? "CE" : "MSE", l, e,
                             tol);
                free_grads(&g1);
                free_grads(&g2);
            }
            clmlp_destroy(n1);
            clmlp_destroy(n2);
            free(o1);
            free(o2);
            free(x);
            free(y);
        }
    printf("# worst relative difference: %.3g\n", worst);
}

static void opencl_vs_host_f64(void **state)
{
    (void)state;
    compare_configs(CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_BACKEND_OPENCL, CLMLP_F64, 1e-12);
}

static void opencl_vs_host_f32(void **state)
{
    (void)state;
    compare_configs(CLMLP_BACKEND_HOST, CLMLP_F32, CLMLP_BACKEND_OPENCL, CLMLP_F32, 1e-5);
}

static void f32_vs_f64(void **state)
{
    (void)state;
    compare_configs(CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_BACKEND_HOST, CLMLP_F32, 1e-4);
    compare_configs(CLMLP_BACKEND_OPENCL, CLMLP_F64, CLMLP_BACKEND_OPENCL, CLMLP_F32, 1e-4);
}

/* Gradients are sums over the batch: the gradient of a batch equals the sum of the
 * per-sample gradients (hand-derived property of dL/dW = delta^T a). */
static void batch_is_sum_of_samples(void **state)
{
    (void)state;
    for (clmlp_backend be = CLMLP_BACKEND_OPENCL; be <= CLMLP_BACKEND_HOST; be++) {
        const net_case *c = &cases[3];
        double *x, *y;
        make_data(c, CLMLP_LOSS_MSE, 300, &x, &y);
        clmlp_net *net = test_net(c->sizes, c->n_sizes, be, CLMLP_F64, CLMLP_LOSS_MSE, 5);
        size_t n_in = c->sizes[0], n_out = c->sizes[c->n_sizes - 1];
        for (size_t l = 1; l < c->n_sizes; l++) {
            size_t rows = c->sizes[l], cols = c->sizes[l - 1];
            grads sum = {test_alloc(rows * cols), test_alloc(rows)};
            for (size_t i = 0; i < c->batch; i++) {
                TEST_OK(clmlp_forward(net, x + i * n_in, 1, NULL));
                TEST_OK(clmlp_backward(net, y + i * n_out, NULL));
                grads g = get_grads(net, l);
                for (size_t e = 0; e < rows * cols; e++)
                    sum.dW[e] += g.dW[e];
                for (size_t e = 0; e < rows; e++)
                    sum.db[e] += g.db[e];
                free_grads(&g);
            }
            TEST_OK(clmlp_forward(net, x, c->batch, NULL));
            TEST_OK(clmlp_backward(net, y, NULL));
            grads whole = get_grads(net, l);
            assert_true(grads_rel_err(&whole, &sum, rows * cols, rows) <= 1e-13);
            free_grads(&whole);
            free_grads(&sum);
        }
        clmlp_destroy(net);
        free(x);
        free(y);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_mse_vs_fd),     cmocka_unit_test(host_ce_vs_fd),
        cmocka_unit_test(opencl_mse_vs_fd),   cmocka_unit_test(opencl_ce_vs_fd),
        cmocka_unit_test(opencl_vs_host_f64), cmocka_unit_test(opencl_vs_host_f32),
        cmocka_unit_test(f32_vs_f64),         cmocka_unit_test(batch_is_sum_of_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
