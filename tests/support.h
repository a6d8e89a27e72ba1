/* Helpers shared by the test suites: data, norms, finite differences, backends. */
#ifndef CLMLP_TEST_SUPPORT_H
#define CLMLP_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the three headers above first */
#include <cmocka.h>

#include "clmlp.h"

/* Deterministic test data. */
typedef struct {
    uint64_t state;
} test_rng;
double test_uniform(test_rng *r, double lo, double hi);
double test_normal(test_rng *r);
void test_fill(test_rng *r, double *v, size_t n, double lo, double hi);
double *test_alloc(size_t n); /* calloc that fails the test on NULL */

/* Euclidean norm. */
double test_norm(const double *v, size_t n);
/* ‖a − b‖ / ‖b‖ (0 when both are 0). */
double test_rel_err(const double *a, const double *b, size_t n);
/* The exercise's residual ‖fd − g‖ / (‖fd‖ + ‖g‖). */
double test_fd_residual(const double *fd, const double *g, size_t n);

/* The loss of the net's last forward computed by the test in long double from the
 * net's outputs out (batch × n): MSE Σ (out − y)², CE −Σ y log softmax(out). */
double test_loss(clmlp_loss loss, const double *out, const double *y, size_t batch, size_t n);

/* Central finite differences of the loss with respect to W[l] and b[l], through the
 * public API only (set_layer, forward). Restores the layer afterwards. */
void test_fd_grad(clmlp_net *net, clmlp_loss loss, const double *x, const double *y, size_t batch, size_t l, double eps,
                  double *dW, double *db);

/* The backend a test should use: `backend`, or the host path in the valgrind run
 * (CLMLP_TEST_HOST_ONLY set). */
clmlp_backend test_backend(clmlp_backend backend);

/* A net on the requested backend; fails the test with clmlp_last_error() if refused.
 * With CLMLP_TEST_HOST_ONLY set (the valgrind run), every net is a host net. */
clmlp_net *test_net(const size_t *sizes, size_t n_sizes, clmlp_backend backend, clmlp_dtype dtype, clmlp_loss loss,
                    uint64_t seed);

/* Copies every layer's W and b from src to dst. */
void test_copy_weights(const clmlp_net *src, clmlp_net *dst);

/* Asserts a call succeeded, printing the library's detail otherwise. */
#define TEST_OK(call)                                                                                                  \
    do {                                                                                                               \
        clmlp_status s_ = (call);                                                                                      \
        if (s_ != CLMLP_OK)                                                                                            \
            fail_msg("%s -> %s: %s", #call, clmlp_strerror(s_), clmlp_last_error());                                   \
    } while (0)

/* Asserts a call failed with the given status and left a message. */
#define TEST_FAILS(status, call)                                                                                       \
    do {                                                                                                               \
        clmlp_status s_ = (call);                                                                                      \
        if (s_ != (status))                                                                                            \
            fail_msg("%s -> %s, expected %s (%s)", #call, clmlp_strerror(s_), clmlp_strerror(status),                  \
                     clmlp_last_error());                                                                              \
        assert_true(clmlp_last_error()[0] != '\0');                                                                    \
    } while (0)

#endif
