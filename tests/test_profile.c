/*
 * The kernel profile (clmlp_profile, CLMLP_PROFILE): a profiled epoch reports the
 * kernels a step launches, as many times as the step structure says (counted here from
 * the batch count and the layers, not read from the code), with device time; a reset
 * starts again from zero; the host path and an unprofiled net refuse.
 */
#include "support.h"

#include <stdlib.h>
#include <string.h>

static const size_t sizes[] = {16, 12, 8, 4};
enum { COUNT = 40, BATCH = 8 };

static clmlp_net *profiled_net(clmlp_backend backend, int profile)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    cfg.profile = profile;
    clmlp_net *net = NULL;
    TEST_OK(clmlp_create(sizes, 4, &cfg, &net));
    return net;
}

static clmlp_dataset *dataset(clmlp_net *net)
{
    uint8_t images[COUNT * 16], labels[COUNT];
    for (size_t i = 0; i < sizeof images; i++)
        images[i] = (uint8_t)(i * 37 % 251);
    for (size_t i = 0; i < COUNT; i++)
        labels[i] = (uint8_t)(i % 4);
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    clmlp_dataset *data = NULL;
    TEST_OK(clmlp_dataset_create(net, images, labels, COUNT, 4, 4, &pp, &data));
    return data;
}

static const clmlp_kernel_profile *find(const clmlp_kernel_profile *k, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(k[i].kernel, name) == 0)
            return &k[i];
    return NULL;
}

static void epoch_is_profiled(void **state)
{
    (void)state;
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        skip();
    clmlp_net *net = profiled_net(CLMLP_BACKEND_OPENCL, 1);
    clmlp_dataset *data = dataset(net);
    size_t n = 0;
    TEST_OK(clmlp_profile(net, NULL, 0, &n, 1)); /* what creating the net and the dataset ran */
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = BATCH;
    TEST_OK(clmlp_train_epoch(net, data, &opt, 0, NULL));
    clmlp_kernel_profile k[48];
    TEST_OK(clmlp_profile(net, k, 48, &n, 0));
    assert_true(n >= 4 && n <= 48);
    const size_t steps = COUNT / BATCH, L = 3;
    /* the OWN products of the default configuration: one forward product per layer, one
     * error propagation per layer below the top, the fused weight gradient per layer */
    const clmlp_kernel_profile *fw = find(k, n, "gemm_nt"), *bp = find(k, n, "gemm_nn"),
                               *wg = find(k, n, "gemm_tn_sgd");
    const char *gemm = getenv("CLMLP_GEMM");
    if (gemm && strcmp(gemm, "own") != 0 && strcmp(gemm, "auto") != 0)
        fw = bp = wg = NULL, assert_non_null(find(k, n, gemm[0] == 'c' ? "clblast_gemm" : "forward_layer"));
    else {
        assert_non_null(fw);
        assert_non_null(bp);
        assert_non_null(wg);
        assert_int_equal(fw->launches, steps * L);
        assert_int_equal(bp->launches, steps * (L - 1));
        assert_int_equal(wg->launches, steps * L);
    }
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_true(k[i].launches > 0);
        assert_true(k[i].seconds >= 0 && k[i].seconds < 60);
        total += k[i].seconds;
    }
    assert_true(total > 0);
    /* reading again changes nothing; a reset empties the table */
    clmlp_kernel_profile again[48];
    size_t n2 = 0;
    TEST_OK(clmlp_profile(net, again, 48, &n2, 1));
    assert_int_equal(n2, n);
    assert_int_equal(again[0].launches, k[0].launches);
    TEST_OK(clmlp_profile(net, again, 48, &n2, 0));
    assert_int_equal(n2, 0);
    /* capacity smaller than the table: only that many written, the count is the whole */
    TEST_OK(clmlp_train_epoch(net, data, &opt, 1, NULL));
    clmlp_kernel_profile one[1];
    TEST_OK(clmlp_profile(net, one, 1, &n2, 0));
    assert_int_equal(n2, n);
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
}

static void refusals(void **state)
{
    (void)state;
    size_t n = 0;
    clmlp_kernel_profile k[4];
    clmlp_net *host = profiled_net(CLMLP_BACKEND_HOST, 1);
    TEST_FAILS(CLMLP_EINVAL, clmlp_profile(host, k, 4, &n, 0));
    TEST_FAILS(CLMLP_EINVAL, clmlp_profile(NULL, k, 4, &n, 0));
    TEST_FAILS(CLMLP_EINVAL, clmlp_profile(host, NULL, 4, &n, 0));
    TEST_FAILS(CLMLP_EINVAL, clmlp_profile(host, k, 4, NULL, 0));
    clmlp_destroy(host);
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.profile = 2;
    clmlp_net *net = NULL;
    TEST_FAILS(CLMLP_EINVAL, clmlp_create(sizes, 4, &cfg, &net));
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        return;
    net = profiled_net(CLMLP_BACKEND_OPENCL, -1);
    TEST_FAILS(CLMLP_EINVAL, clmlp_profile(net, k, 4, &n, 0));
    clmlp_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(epoch_is_profiled),
        cmocka_unit_test(refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
