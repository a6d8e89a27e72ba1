/*
 * clmlp_predict from several threads on one net at once: 4 threads, each many calls on
 * changing inputs, alternating batch 1 (the simple kernels) and batch 37 (the tiled
 * products, or CLBlast with CLMLP_GEMM=clblast), on the host path and the OpenCL
 * device, in f64 and f32, with MSE and softmax-CE. Every result must equal, bit for
 * bit, the same call made alone beforehand, which in turn must agree with clmlp_forward
 * (and the test's own softmax of it for CE). With profiling on, the kernel table must
 * count every launch the threads made. scripts/sanitize.sh runs it under
 * ThreadSanitizer. CLMLP_TEST_PREDICT_ITERATIONS sets the calls per thread (200).
 */
#include "support.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, INPUT_SETS = 6, BIG = 37, L = 3 };
static const size_t sizes[L + 1] = {29, 24, 11, 6};
#define N_IN  29
#define N_OUT 6

typedef struct {
    clmlp_net *net;
    double x[INPUT_SETS][BIG * N_IN];
    double ref1[INPUT_SETS][N_OUT], ref37[INPUT_SETS][BIG * N_OUT]; /* each call made alone */
    size_t iterations;
} shared;

typedef struct {
    shared *sh;
    int index;
    size_t calls1, calls37;
    int status;      /* the first failing call's */
    char error[512]; /* its message, or the first mismatch */
} worker;

static size_t iterations(void)
{
    const char *env = getenv("CLMLP_TEST_PREDICT_ITERATIONS");
    long n = env ? strtol(env, NULL, 10) : 0;
    return n > 0 ? (size_t)n : 200;
}

static void *run(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    double y[BIG * N_OUT];
    for (size_t i = 0; i < sh->iterations && !w->error[0]; i++) {
        size_t k = ((size_t)w->index * 5 + i) % INPUT_SETS, batch = (i + (size_t)w->index) % 2 ? BIG : 1;
        const double *want = batch == 1 ? sh->ref1[k] : sh->ref37[k];
        memset(y, 0xff, sizeof y); /* NaN: an output left unwritten shows */
        clmlp_status s = clmlp_predict(sh->net, sh->x[k], batch, y);
        if (s != CLMLP_OK) {
            w->status = (int)s;
            snprintf(w->error, sizeof w->error, "call %zu: %s: %s", i, clmlp_strerror(s), clmlp_last_error());
            break;
        }
        *(batch == 1 ? &w->calls1 : &w->calls37) += 1;
        for (size_t e = 0; e < batch * N_OUT; e++)
            if (memcmp(&y[e], &want[e], sizeof y[e]) != 0) {
                snprintf(w->error, sizeof w->error,
                         "call %zu (input set %zu, batch %zu): output %zu is %.17g, alone it was %.17g", i, k, batch, e,
                         y[e], want[e]);
                break;
            }
    }
    return NULL;
}

static void softmax_rows(double *y, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        double *v = y + r * n, top = v[0], total = 0;
        for (size_t c = 1; c < n; c++)
            top = fmax(top, v[c]);
        for (size_t c = 0; c < n; c++)
            total += v[c] = exp(v[c] - top);
        for (size_t c = 0; c < n; c++)
            v[c] /= total;
    }
}

static void assert_close(const double *got, const double *want, size_t n, double tol, const char *what)
{
    for (size_t e = 0; e < n; e++)
        if (!(fabs(got[e] - want[e]) <= tol * (1 + fabs(want[e]))))
            fail_msg("%s: element %zu is %.17g, expected %.17g", what, e, got[e], want[e]);
}

/* The total launches of the net's kernel table (and it starts again from zero). */
static uint64_t launches(clmlp_net *net)
{
    clmlp_kernel_profile rows[64];
    size_t count = 0;
    TEST_OK(clmlp_profile(net, rows, 64, &count, 1));
    uint64_t total = 0;
    for (size_t i = 0; i < count && i < 64; i++)
        total += rows[i].launches;
    return total;
}

static void concurrent_predictions(clmlp_backend backend, clmlp_dtype dtype, clmlp_loss loss)
{
    if (backend == CLMLP_BACKEND_OPENCL && getenv("CLMLP_TEST_HOST_ONLY"))
        skip();
    int profiled = backend == CLMLP_BACKEND_OPENCL && loss == CLMLP_LOSS_MSE;
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    cfg.dtype = dtype;
    cfg.loss = loss;
    cfg.seed = 11 + (uint64_t)dtype * 2 + (uint64_t)loss;
    cfg.profile = profiled ? 1 : -1;
    shared *sh = calloc(1, sizeof *sh);
    assert_non_null(sh);
    TEST_OK(clmlp_create(sizes, L + 1, &cfg, &sh->net));
    sh->iterations = iterations();
    test_rng rng = {cfg.seed};
    for (size_t k = 0; k < INPUT_SETS; k++)
        test_fill(&rng, sh->x[k], BIG * N_IN, -2, 2);
    double tol = dtype == CLMLP_F64 ? 1e-12 : 2e-6, y[BIG * N_OUT];

    /* the calls alone, and clmlp_forward (with the test's softmax for CE) agreeing */
    for (size_t k = 0; k < INPUT_SETS; k++) {
        TEST_OK(clmlp_predict(sh->net, sh->x[k], 1, sh->ref1[k]));
        TEST_OK(clmlp_predict(sh->net, sh->x[k], BIG, sh->ref37[k]));
        TEST_OK(clmlp_forward(sh->net, sh->x[k], BIG, y));
        if (loss == CLMLP_LOSS_SOFTMAX_CE)
            softmax_rows(y, BIG, N_OUT);
        assert_close(sh->ref37[k], y, BIG * N_OUT, tol, "predict (batch 37) against forward");
        TEST_OK(clmlp_forward(sh->net, sh->x[k], 1, y));
        if (loss == CLMLP_LOSS_SOFTMAX_CE)
            softmax_rows(y, 1, N_OUT);
        assert_close(sh->ref1[k], y, N_OUT, tol, "predict (batch 1) against forward");
        assert_close(sh->ref1[k], sh->ref37[k], N_OUT, tol, "batch 1 against the first row of batch 37");
    }
    uint64_t per_call1 = 0, per_call37 = 0;
    if (profiled) { /* the launches of one call of each batch */
        launches(sh->net);
        TEST_OK(clmlp_predict(sh->net, sh->x[0], 1, y));
        per_call1 = launches(sh->net);
        TEST_OK(clmlp_predict(sh->net, sh->x[0], BIG, y));
        per_call37 = launches(sh->net);
        assert_true(per_call1 >= L && per_call37 >= L);
    }

    worker workers[THREADS];
    pthread_t threads[THREADS];
    memset(workers, 0, sizeof workers);
    for (int t = 0; t < THREADS; t++) {
        workers[t].sh = sh;
        workers[t].index = t;
        assert_int_equal(pthread_create(&threads[t], NULL, run, &workers[t]), 0);
    }
    size_t calls1 = 0, calls37 = 0;
    int failed = 0;
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        if (workers[t].error[0]) {
            print_error("thread %d: %s\n", t, workers[t].error);
            failed = 1;
        }
        calls1 += workers[t].calls1;
        calls37 += workers[t].calls37;
    }
    if (!failed)
        assert_int_equal(calls1 + calls37, THREADS * sh->iterations);
    if (profiled && !failed) /* the profile's bookkeeping lost no launch */
        assert_int_equal(launches(sh->net), calls1 * per_call1 + calls37 * per_call37);
    /* the net is untouched: a call afterwards still gives the reference */
    TEST_OK(clmlp_predict(sh->net, sh->x[3], BIG, y));
    assert_memory_equal(y, sh->ref37[3], sizeof y);
    clmlp_destroy(sh->net);
    free(sh);
    assert_false(failed);
}

#define CASE(name, backend, dtype, loss)                                                                               \
    static void name(void **state)                                                                                     \
    {                                                                                                                  \
        (void)state;                                                                                                   \
        concurrent_predictions(backend, dtype, loss);                                                                  \
    }
CASE(host_f64_mse, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE)
CASE(host_f64_ce, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_SOFTMAX_CE)
CASE(host_f32_mse, CLMLP_BACKEND_HOST, CLMLP_F32, CLMLP_LOSS_MSE)
CASE(host_f32_ce, CLMLP_BACKEND_HOST, CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE)
CASE(opencl_f64_mse, CLMLP_BACKEND_OPENCL, CLMLP_F64, CLMLP_LOSS_MSE)
CASE(opencl_f64_ce, CLMLP_BACKEND_OPENCL, CLMLP_F64, CLMLP_LOSS_SOFTMAX_CE)
CASE(opencl_f32_mse, CLMLP_BACKEND_OPENCL, CLMLP_F32, CLMLP_LOSS_MSE)
CASE(opencl_f32_ce, CLMLP_BACKEND_OPENCL, CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE)

int main(int argc, char **argv)
{
    /* --backend host|opencl runs one backend's cases (the sanitizer runs take them apart) */
    const char *only = argc > 2 && strcmp(argv[1], "--backend") == 0 ? argv[2] : NULL;
    const struct CMUnitTest host[] = {
        cmocka_unit_test(host_f64_mse),
        cmocka_unit_test(host_f64_ce),
        cmocka_unit_test(host_f32_mse),
        cmocka_unit_test(host_f32_ce),
    };
    const struct CMUnitTest opencl[] = {
        cmocka_unit_test(opencl_f64_mse),
        cmocka_unit_test(opencl_f64_ce),
        cmocka_unit_test(opencl_f32_mse),
        cmocka_unit_test(opencl_f32_ce),
    };
    int failed = 0;
    if (!only || strcmp(only, "host") == 0)
        failed += cmocka_run_group_tests_name("host", host, NULL, NULL);
    if (!only || strcmp(only, "opencl") == 0)
        failed += cmocka_run_group_tests_name("opencl", opencl, NULL, NULL);
    return failed;
}
