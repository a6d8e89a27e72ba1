#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t next(test_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double test_uniform(test_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(next(r) >> 11) * 0x1.0p-53);
}

double test_normal(test_rng *r)
{
    double u1 = test_uniform(r, 0x1.0p-53, 1.0), u2 = test_uniform(r, 0.0, 1.0);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

void test_fill(test_rng *r, double *v, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        v[i] = test_uniform(r, lo, hi);
}

double *test_alloc(size_t n)
{
    double *p = calloc(n ? n : 1, sizeof *p);
    assert_non_null(p);
    return p;
}

double test_norm(const double *v, size_t n)
{
    long double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (long double)v[i] * v[i];
    return (double)sqrtl(s);
}

double test_rel_err(const double *a, const double *b, size_t n)
{
    long double diff = 0, ref = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = (long double)a[i] - b[i];
        diff += d * d;
        ref += (long double)b[i] * b[i];
    }
    if (ref == 0)
        return diff == 0 ? 0.0 : INFINITY;
    return (double)sqrtl(diff / ref);
}

double test_fd_residual(const double *fd, const double *g, size_t n)
{
    long double diff = 0, nfd = 0, ng = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = (long double)fd[i] - g[i];
        diff += d * d;
        nfd += (long double)fd[i] * fd[i];
        ng += (long double)g[i] * g[i];
    }
    long double denom = sqrtl(nfd) + sqrtl(ng);
    return denom == 0 ? 0.0 : (double)(sqrtl(diff) / denom);
}

double test_loss(clmlp_loss loss, const double *out, const double *y, size_t batch, size_t n)
{
    long double total = 0;
    for (size_t i = 0; i < batch; i++) {
        const double *o = out + i * n, *t = y + i * n;
        if (loss == CLMLP_LOSS_MSE) {
            for (size_t k = 0; k < n; k++)
                total += ((long double)o[k] - t[k]) * ((long double)o[k] - t[k]);
        } else {
            long double m = o[0], s = 0;
            for (size_t k = 1; k < n; k++)
                m = o[k] > m ? o[k] : m;
            for (size_t k = 0; k < n; k++)
                s += expl((long double)o[k] - m);
            for (size_t k = 0; k < n; k++)
                total -= t[k] * ((long double)o[k] - m - logl(s));
        }
    }
    return (double)total;
}

static double loss_at(clmlp_net *net, clmlp_loss loss, const double *x, const double *y, size_t batch, double *out)
{
    size_t n_out = clmlp_layer_size(net, clmlp_num_layers(net));
    TEST_OK(clmlp_forward(net, x, batch, out));
    return test_loss(loss, out, y, batch, n_out);
}

void test_fd_grad(clmlp_net *net, clmlp_loss loss, const double *x, const double *y, size_t batch, size_t l, double eps,
                  double *dW, double *db)
{
    size_t rows = clmlp_layer_size(net, l), cols = clmlp_layer_size(net, l - 1);
    size_t n_w = rows * cols, n_out = clmlp_layer_size(net, clmlp_num_layers(net));
    double *W = test_alloc(n_w), *b = test_alloc(rows), *out = test_alloc(batch * n_out);
    TEST_OK(clmlp_get_layer(net, l, W, b));
    for (size_t e = 0; e < n_w + rows; e++) {
        double *p = e < n_w ? &W[e] : &b[e - n_w], saved = *p;
        *p = saved + eps;
        TEST_OK(clmlp_set_layer(net, l, W, b));
        double plus = loss_at(net, loss, x, y, batch, out);
        *p = saved - eps;
        TEST_OK(clmlp_set_layer(net, l, W, b));
        double minus = loss_at(net, loss, x, y, batch, out);
        *p = saved;
        double g = (plus - minus) / (2 * eps);
        if (e < n_w)
            dW[e] = g;
        else
            db[e - n_w] = g;
    }
    TEST_OK(clmlp_set_layer(net, l, W, b));
    free(W);
    free(b);
    free(out);
}

clmlp_backend test_backend(clmlp_backend backend)
{
    return getenv("CLMLP_TEST_HOST_ONLY") ? CLMLP_BACKEND_HOST : backend;
}

clmlp_net *test_net(const size_t *sizes, size_t n_sizes, clmlp_backend backend, clmlp_dtype dtype, clmlp_loss loss,
                    uint64_t seed)
{
    backend = test_backend(backend);
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    cfg.dtype = dtype;
    cfg.loss = loss;
    cfg.seed = seed;
    clmlp_net *net = NULL;
    TEST_OK(clmlp_create(sizes, n_sizes, &cfg, &net));
    if (backend == CLMLP_BACKEND_OPENCL)
        assert_true(strncmp(clmlp_backend_name(net), "opencl: ", 8) == 0);
    return net;
}

void test_copy_weights(const clmlp_net *src, clmlp_net *dst)
{
    for (size_t l = 1; l <= clmlp_num_layers(src); l++) {
        size_t rows = clmlp_layer_size(src, l), cols = clmlp_layer_size(src, l - 1);
        double *W = test_alloc(rows * cols), *b = test_alloc(rows);
        TEST_OK(clmlp_get_layer(src, l, W, b));
        TEST_OK(clmlp_set_layer(dst, l, W, b));
        free(W);
        free(b);
    }
}
