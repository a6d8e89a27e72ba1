/*
 * Injected faults (a library built with -DCLMLP_FAULT_INJECTION=ON): for each kind — a
 * buffer allocation, a kernel enqueue, a program build, a model-file write, an fsync —
 * the test walks N over every such call of a create / train / evaluate / save cycle and
 * makes the Nth fail. Each time the cycle must stop with an error status and a message;
 * the net that exists must still evaluate (or refuse with a message); the checkpoint on
 * disk must still be the previous good one. Under scripts/sanitize.sh, LeakSanitizer
 * also checks that no failure path leaks.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

enum { N = 30 };
static uint8_t images[N * 20], labels[N];
static char path[] = "/tmp/clmlp-faults-XXXXXX";
static unsigned char *good_file;
static size_t good_size;

static unsigned char *slurp(const char *file, size_t *size)
{
    FILE *f = fopen(file, "rb");
    assert_non_null(f);
    unsigned char *data = malloc(1 << 16);
    assert_non_null(data);
    *size = fread(data, 1, 1 << 16, f);
    fclose(f);
    return data;
}

/* create, train 2 epochs, evaluate, save a checkpoint over `path`, load it back. */
static clmlp_status cycle(clmlp_backend backend, clmlp_net **net_out)
{
    const size_t sizes[] = {20, 8, 3};
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    cfg.dtype = CLMLP_F32;
    cfg.loss = CLMLP_LOSS_SOFTMAX_CE;
    cfg.seed = 3;
    clmlp_net *net = NULL, *loaded = NULL;
    clmlp_dataset *data = NULL;
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = 7;
    opt.momentum = 0.9;
    clmlp_eval ev = {0};
    clmlp_status s = clmlp_create(sizes, 3, &cfg, &net);
    if (s == CLMLP_OK)
        s = clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data);
    for (size_t epoch = 0; epoch < 2 && s == CLMLP_OK; epoch++)
        s = clmlp_train_epoch(net, data, &opt, epoch, NULL);
    if (s == CLMLP_OK)
        s = clmlp_evaluate(net, data, &ev);
    if (s == CLMLP_OK)
        s = clmlp_save_checkpoint(net, &pp, 2, path);
    if (s == CLMLP_OK)
        s = clmlp_load_checkpoint(path, &cfg, &loaded, NULL, NULL);
    clmlp_destroy(loaded);
    clmlp_dataset_destroy(data);
    *net_out = net;
    return s;
}

/* After a failure: the net evaluates or says why; the checkpoint is the good one. */
static void check_aftermath(clmlp_net *net, const char *what, long n)
{
    if (net) {
        clmlp_dataset *data = NULL;
        clmlp_preprocess pp;
        clmlp_preprocess_init(&pp);
        clmlp_eval ev = {0};
        clmlp_status s = clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data);
        if (s == CLMLP_OK)
            s = clmlp_evaluate(net, data, &ev);
        if (s == CLMLP_OK && !(isfinite(ev.loss) && ev.n == N))
            fail_msg("%s #%ld: the net evaluates to loss %g over %zu samples", what, n, ev.loss, ev.n);
        if (s != CLMLP_OK && clmlp_last_error()[0] == '\0')
            fail_msg("%s #%ld: the net refuses without a message", what, n);
        clmlp_dataset_destroy(data);
    }
    size_t size;
    unsigned char *now = slurp(path, &size);
    int same = size == good_size && memcmp(now, good_file, size) == 0;
    free(now);
    if (!same) { /* only a failed directory fsync may leave the new (complete) file */
        clmlp_config cfg;
        clmlp_config_init(&cfg);
        cfg.backend = CLMLP_BACKEND_HOST;
        clmlp_net *loaded = NULL;
        if (clmlp_load(path, &cfg, &loaded, NULL) != CLMLP_OK)
            fail_msg("%s #%ld: the checkpoint on disk no longer loads: %s", what, n, clmlp_last_error());
        clmlp_destroy(loaded);
    }
}

static void walk(clmlp_backend backend, clmlp_fault_kind kind, const char *what)
{
    clmlp_net *net;
    clmlp_fault_arm(kind, 0);
    assert_int_equal(cycle(backend, &net), CLMLP_OK);
    clmlp_destroy(net);
    long calls = clmlp_fault_calls(kind);
    for (long n = 1; n <= calls; n++) {
        FILE *f = fopen(path, "wb"); /* the previous good checkpoint */
        assert_non_null(f);
        assert_int_equal(fwrite(good_file, 1, good_size, f), good_size);
        fclose(f);
        clmlp_fault_arm(kind, n);
        clmlp_status s = cycle(backend, &net);
        clmlp_fault_arm(kind, 0);
        if (s == CLMLP_OK)
            fail_msg("%s #%ld of %ld: the cycle succeeded although the call failed", what, n, calls);
        if (clmlp_last_error()[0] == '\0')
            fail_msg("%s #%ld: %s without a message", what, n, clmlp_strerror(s));
        check_aftermath(net, what, n);
        clmlp_destroy(net);
    }
    printf("# %s: %ld %s calls in a cycle, each failure reported and survived\n",
           backend == CLMLP_BACKEND_HOST ? "host" : "opencl", calls, what);
}

static void allocations_host(void **state)
{
    (void)state;
    walk(CLMLP_BACKEND_HOST, CLMLP_FAULT_ALLOC, "allocation");
}
static void allocations_opencl(void **state)
{
    (void)state;
    walk(CLMLP_BACKEND_OPENCL, CLMLP_FAULT_ALLOC, "allocation");
}
static void enqueues_opencl(void **state)
{
    (void)state;
    walk(CLMLP_BACKEND_OPENCL, CLMLP_FAULT_ENQUEUE, "enqueue");
}
static void builds_opencl(void **state)
{
    (void)state;
    walk(CLMLP_BACKEND_OPENCL, CLMLP_FAULT_BUILD, "build");
}
static void writes(void **state)
{
    (void)state;
    walk(CLMLP_BACKEND_HOST, CLMLP_FAULT_WRITE, "file write");
}
static void fsyncs(void **state)
{
    (void)state;
    walk(CLMLP_BACKEND_HOST, CLMLP_FAULT_FSYNC, "fsync");
}

int main(void)
{
    setenv("CLMLP_CACHE_DIR", "off", 1); /* every create builds its program */
    for (size_t i = 0; i < sizeof images; i++)
        images[i] = (uint8_t)(i * 53 % 256);
    for (size_t i = 0; i < N; i++)
        labels[i] = (uint8_t)(i % 3);
    int fd = mkstemp(path);
    if (fd < 0)
        return 1;
    close(fd);
    clmlp_net *net;
    clmlp_fault_arm(CLMLP_FAULT_ALLOC, 0);
    if (cycle(CLMLP_BACKEND_HOST, &net) != CLMLP_OK)
        return 1;
    clmlp_destroy(net);
    good_file = slurp(path, &good_size);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allocations_host), cmocka_unit_test(allocations_opencl),
        cmocka_unit_test(enqueues_opencl),  cmocka_unit_test(builds_opencl),
        cmocka_unit_test(writes),           cmocka_unit_test(fsyncs),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    free(good_file);
    unlink(path);
    return failed;
}
