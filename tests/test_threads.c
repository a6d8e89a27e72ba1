/*
 * Separate nets from separate threads at once: two trainings run concurrently in one
 * process (host path) and each ends with exactly the weights of the same training run
 * alone; errors stay per thread. Run under ThreadSanitizer by scripts/sanitize.sh.
 */
#include "support.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

enum { N = 200 };

typedef struct {
    uint64_t seed;
    double W[16 * 20];
    int status;
    char error[256];
} job;

static uint8_t images[N * 20], labels[N];

static void *train(void *arg)
{
    job *j = arg;
    const size_t sizes[] = {20, 16, 3};
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_HOST;
    cfg.seed = j->seed;
    clmlp_net *net = NULL;
    clmlp_dataset *data = NULL;
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = 8;
    opt.momentum = 0.5;
    opt.seed = j->seed;
    double b[16];
    j->status = clmlp_create(sizes, 3, &cfg, &net);
    if (j->status == CLMLP_OK)
        j->status = clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data);
    for (size_t epoch = 0; epoch < 3 && j->status == CLMLP_OK; epoch++)
        j->status = clmlp_train_epoch(net, data, &opt, epoch, NULL);
    if (j->status == CLMLP_OK)
        j->status = clmlp_get_layer(net, 1, j->W, b);
    /* a failure in this thread leaves its own message, whatever the other thread does */
    if (j->status == CLMLP_OK && clmlp_set_layer(net, 9, j->W, b) == CLMLP_EINVAL)
        snprintf(j->error, sizeof j->error, "%s", clmlp_last_error());
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
    return NULL;
}

static void concurrent_trainings(void **state)
{
    (void)state;
    for (size_t i = 0; i < N * 20; i++)
        images[i] = (uint8_t)(i * 37 % 251);
    for (size_t i = 0; i < N; i++)
        labels[i] = (uint8_t)(i % 3);
    job alone[2] = {{.seed = 1}, {.seed = 2}}, together[2] = {{.seed = 1}, {.seed = 2}};
    train(&alone[0]);
    train(&alone[1]);
    pthread_t threads[2];
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, train, &together[t]), 0);
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(together[t].status, CLMLP_OK);
        assert_memory_equal(together[t].W, alone[t].W, sizeof alone[t].W);
        assert_non_null(strstr(together[t].error, "layer 9"));
    }
    assert_memory_not_equal(alone[0].W, alone[1].W, sizeof alone[0].W);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(concurrent_trainings)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
