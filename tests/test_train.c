/*
 * Training and evaluation on the device: the optimizer against a hand-rolled update
 * through the public forward/backward API, evaluation against host-side counting,
 * dataset checks, reproducibility, and a small Fashion-MNIST run that must learn.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static clmlp_backend backend_of(void **state) { return *(clmlp_backend *)*state; }

/* count random 4×5 "images" with labels < 3. */
static void tiny_data(size_t count, uint8_t *images, uint8_t *labels)
{
    test_rng r = {77};
    for (size_t i = 0; i < count * 20; i++)
        images[i] = (uint8_t)test_uniform(&r, 0, 256);
    for (size_t i = 0; i < count; i++)
        labels[i] = (uint8_t)(i % 3);
}

/* The inputs and one-hot targets a dataset holds, computed here from the definitions. */
static void expected_rows(const clmlp_preprocess *pp, const uint8_t *images, const uint8_t *labels, size_t count,
                          double *x, double *y)
{
    for (size_t i = 0; i < count * 20; i++)
        x[i] = (images[i] / 255.0 - pp->mean) / pp->std;
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < 3; k++)
            y[i * 3 + k] = labels[i] == k ? 1.0 : (pp->target == CLMLP_TARGET_ONEHOT_PM1 ? -1.0 : 0.0);
}

/* Full-batch epochs make the shuffle irrelevant: epochs of SGD with momentum and
 * weight decay equal v = μv + g/N + λW, W −= lr·v computed by hand from clmlp_backward.
 * The third epoch runs without momentum, which (as torch) keeps no velocity: the fourth
 * starts again from v = 0. */
static void optimizer_matches_hand_update(void **state)
{
    enum { N = 12 };
    const size_t sizes[] = {20, 6, 3};
    uint8_t images[N * 20], labels[N];
    tiny_data(N, images, labels);
    for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
        clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F64, (clmlp_loss)loss, 9);
        clmlp_net *ref = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, (clmlp_loss)loss, 9);
        clmlp_preprocess pp;
        clmlp_preprocess_init(&pp);
        clmlp_dataset *data;
        TEST_OK(clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data));
        assert_int_equal(pp.normalize, CLMLP_NORMALIZE_GIVEN); /* fitted values, reusable */
        double x[N * 20], y[N * 3];
        expected_rows(&pp, images, labels, N, x, y);

        clmlp_train_options opt;
        clmlp_train_options_init(&opt);
        opt.batch = N;
        opt.lr = 0.3;
        opt.momentum = 0.9;
        opt.weight_decay = 0.01;
        opt.lr_decay = 0.5;
        double vW1[6 * 20] = {0}, vb1[6] = {0}, vW2[3 * 6] = {0}, vb2[3] = {0};
        double *v[3][2] = {{NULL, NULL}, {vW1, vb1}, {vW2, vb2}};
        for (size_t epoch = 0; epoch < 4; epoch++) {
            opt.momentum = epoch == 2 ? 0 : 0.9;
            clmlp_epoch_stats st;
            double expected_loss;
            TEST_OK(clmlp_forward(ref, x, N, NULL));
            TEST_OK(clmlp_backward(ref, y, &expected_loss));
            TEST_OK(clmlp_train_epoch(net, data, &opt, epoch, &st));
            assert_true(fabs(st.loss - expected_loss / N) <= 1e-12 * fabs(expected_loss / N));
            assert_int_equal(st.samples, N);
            double lr = opt.lr * pow(opt.lr_decay, (double)epoch);
            for (size_t l = 1; l <= 2; l++) {
                size_t n_w = sizes[l] * sizes[l - 1];
                double W[120], b[6], dW[120], db[6], W_dev[120], b_dev[6];
                TEST_OK(clmlp_get_layer(ref, l, W, b));
                TEST_OK(clmlp_get_grad(ref, l, dW, db));
                for (size_t e = 0; e < n_w + sizes[l]; e++) {
                    double *p = e < n_w ? &W[e] : &b[e - n_w], g = e < n_w ? dW[e] : db[e - n_w];
                    double *vel = e < n_w ? &v[l][0][e] : &v[l][1][e - n_w];
                    double step = opt.momentum * *vel + g / N + opt.weight_decay * *p;
                    *vel = opt.momentum == 0 ? 0 : step;
                    *p -= lr * step;
                }
                TEST_OK(clmlp_set_layer(ref, l, W, b));
                TEST_OK(clmlp_get_layer(net, l, W_dev, b_dev));
                assert_true(test_rel_err(W_dev, W, n_w) <= 1e-12);
                assert_true(test_rel_err(b_dev, b, sizes[l]) <= 1e-12);
            }
        }
        clmlp_dataset_destroy(data);
        clmlp_destroy(net);
        clmlp_destroy(ref);
    }
}

static int count_reports(void *user, size_t done, size_t total, double loss)
{
    (void)done, (void)total, (void)loss;
    (*(int *)user)++;
    return 0;
}

/* Batch 1 on the OpenCL backend runs the fused per-sample kernel (up to 4 layers) or the
 * step-by-step operations (5 layers): both must train exactly like the host path. */
static void per_sample_matches_host(void **state)
{
    (void)state;
    enum { N = 40 };
    static const size_t two[] = {20, 6, 3}, four[] = {20, 5, 4, 3, 3}, five[] = {20, 4, 4, 4, 4, 3};
    const size_t *nets[] = {two, four, five}, lengths[] = {3, 5, 6};
    uint8_t images[N * 20], labels[N];
    tiny_data(N, images, labels);
    for (size_t t = 0; t < 3; t++)
        for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
            clmlp_net *dev = test_net(nets[t], lengths[t], CLMLP_BACKEND_OPENCL, CLMLP_F64, (clmlp_loss)loss, 2);
            clmlp_net *host = test_net(nets[t], lengths[t], CLMLP_BACKEND_HOST, CLMLP_F64, (clmlp_loss)loss, 2);
            clmlp_preprocess pp_dev, pp_host;
            clmlp_preprocess_init(&pp_dev);
            clmlp_preprocess_init(&pp_host);
            clmlp_dataset *d_dev, *d_host;
            TEST_OK(clmlp_dataset_create(dev, images, labels, N, 4, 5, &pp_dev, &d_dev));
            TEST_OK(clmlp_dataset_create(host, images, labels, N, 4, 5, &pp_host, &d_host));
            clmlp_train_options opt;
            clmlp_train_options_init(&opt);
            opt.batch = 1;
            opt.lr = 0.05;
            opt.momentum = 0.5;
            opt.weight_decay = 0.001;
            opt.report_every = 7; /* the fused kernel runs in chunks between reports */
            int reports = 0;
            opt.progress = count_reports;
            opt.user = &reports;
            clmlp_epoch_stats s_dev, s_host;
            for (size_t epoch = 0; epoch < 2; epoch++) {
                TEST_OK(clmlp_train_epoch(dev, d_dev, &opt, epoch, &s_dev));
                TEST_OK(clmlp_train_epoch(host, d_host, &opt, epoch, &s_host));
                assert_true(fabs(s_dev.loss - s_host.loss) <= 1e-12 * s_host.loss);
                assert_true(s_dev.accuracy == s_host.accuracy);
            }
            assert_int_equal(reports, 4 * (N / 7)); /* 2 epochs × 2 nets */
            for (size_t l = 1; l < lengths[t]; l++) {
                size_t n_w = nets[t][l] * nets[t][l - 1];
                double W_dev[120], b_dev[6], W_host[120], b_host[6];
                TEST_OK(clmlp_get_layer(dev, l, W_dev, b_dev));
                TEST_OK(clmlp_get_layer(host, l, W_host, b_host));
                if (!(test_rel_err(W_dev, W_host, n_w) <= 1e-12 && test_rel_err(b_dev, b_host, nets[t][l]) <= 1e-12))
                    fail_msg("net %zu loss %d layer %zu: device %.3g from host", t, loss, l,
                             test_rel_err(W_dev, W_host, n_w));
            }
            clmlp_dataset_destroy(d_dev);
            clmlp_dataset_destroy(d_host);
            clmlp_destroy(dev);
            clmlp_destroy(host);
        }
}

/* A checkpoint carries the momentum and the epoch count: 1 epoch, save, load, 1 more
 * epoch gives bit for bit what 2 epochs straight give. */
static void checkpoint_resumes_exactly(void **state)
{
    enum { N = 24 };
    const size_t sizes[] = {20, 6, 3};
    uint8_t images[N * 20], labels[N];
    tiny_data(N, images, labels);
    char path[] = "/tmp/clmlp-checkpoint-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = 5;
    opt.momentum = 0.9;
    opt.lr_decay = 0.7;
    double W_straight[120], b_straight[6], W_resumed[120], b_resumed[6];
    for (int run = 0; run < 2; run++) {
        clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 8);
        clmlp_preprocess pp;
        clmlp_preprocess_init(&pp);
        clmlp_dataset *data;
        TEST_OK(clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data));
        TEST_OK(clmlp_train_epoch(net, data, &opt, 0, NULL));
        size_t done = 1;
        if (run == 1) { /* through the file */
            TEST_OK(clmlp_save_checkpoint(net, &pp, 1, path));
            clmlp_dataset_destroy(data);
            clmlp_destroy(net);
            clmlp_config cfg;
            clmlp_config_init(&cfg);
            cfg.backend = test_backend(backend_of(state));
            TEST_OK(clmlp_load_checkpoint(path, &cfg, &net, &pp, &done));
            assert_int_equal(done, 1);
            TEST_OK(clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data));
        }
        TEST_OK(clmlp_train_epoch(net, data, &opt, done, NULL));
        TEST_OK(clmlp_get_layer(net, 1, run ? W_resumed : W_straight, run ? b_resumed : b_straight));
        clmlp_dataset_destroy(data);
        clmlp_destroy(net);
    }
    assert_memory_equal(W_straight, W_resumed, sizeof W_straight);
    assert_memory_equal(b_straight, b_resumed, sizeof b_straight);
    size_t done = 99;
    clmlp_net *plain = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F32, CLMLP_LOSS_MSE, 1), *net;
    TEST_OK(clmlp_save(plain, NULL, path));
    TEST_OK(clmlp_load_checkpoint(path, NULL, &net, NULL, &done));
    assert_int_equal(done, 0); /* a plain model: no epochs done */
    clmlp_destroy(net);
    clmlp_destroy(plain);
    unlink(path);
}

/* Weights at the edge of float range make the logits overflow at the first step: the
 * epoch stops with ENUMERIC naming epoch 1 step 1, found on the device. */
static void divergence_names_the_step(void **state)
{
    enum { N = 20 };
    const size_t sizes[] = {20, 3};
    uint8_t images[N * 20], labels[N];
    tiny_data(N, images, labels);
    for (size_t batch = 1; batch <= 4; batch += 3) { /* the fused per-sample kernel and the batch path */
        clmlp_net *net = test_net(sizes, 2, backend_of(state), CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 1);
        clmlp_preprocess pp;
        clmlp_preprocess_init(&pp);
        clmlp_dataset *data;
        TEST_OK(clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data));
        double W[60], b[3] = {0, 0, 0};
        for (size_t i = 0; i < 60; i++)
            W[i] = i % 2 ? 3e38 : -3e38;
        TEST_OK(clmlp_set_layer(net, 1, W, b));
        clmlp_train_options opt;
        clmlp_train_options_init(&opt);
        opt.batch = batch;
        TEST_FAILS(CLMLP_ENUMERIC, clmlp_train_epoch(net, data, &opt, 0, NULL));
        if (!strstr(clmlp_last_error(), "epoch 1 step 1 "))
            fail_msg("batch %zu: %s", batch, clmlp_last_error());
        clmlp_dataset_destroy(data);
        clmlp_destroy(net);
    }
}

/* Evaluation counts what a host-side argmax over clmlp_forward's outputs counts. */
static void evaluation_matches_forward(void **state)
{
    enum { N = 30 };
    const size_t sizes[] = {20, 5, 3};
    uint8_t images[N * 20], labels[N];
    tiny_data(N, images, labels);
    for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
        clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F64, (clmlp_loss)loss, 4);
        clmlp_preprocess pp;
        clmlp_preprocess_init(&pp);
        pp.target = CLMLP_TARGET_ONEHOT_PM1;
        clmlp_dataset *data;
        TEST_OK(clmlp_dataset_create(net, images, labels, N, 4, 5, &pp, &data));
        double x[N * 20], y[N * 3], out[N * 3];
        expected_rows(&pp, images, labels, N, x, y);
        size_t confusion[9];
        clmlp_eval ev = {.confusion = confusion};
        TEST_OK(clmlp_evaluate(net, data, &ev));
        TEST_OK(clmlp_forward(net, x, N, out));
        size_t expected[9] = {0}, correct = 0;
        for (size_t i = 0; i < N; i++) {
            size_t pred = 0;
            for (size_t k = 1; k < 3; k++)
                pred = out[i * 3 + k] > out[i * 3 + pred] ? k : pred;
            expected[labels[i] * 3 + pred]++;
            correct += pred == labels[i];
        }
        assert_memory_equal(confusion, expected, sizeof expected);
        assert_int_equal(ev.n, N);
        assert_int_equal(ev.classes, 3);
        assert_true(fabs(ev.accuracy - (double)correct / N) < 1e-15);
        double ref_loss = test_loss((clmlp_loss)loss, out, y, N, 3) / N;
        assert_true(fabs(ev.loss - ref_loss) <= 1e-12 * fabs(ref_loss));
        clmlp_dataset_destroy(data);
        clmlp_destroy(net);
    }
}

static void dataset_checks(void **state)
{
    const size_t sizes[] = {20, 4, 3}, sizes16[] = {16, 4, 3};
    uint8_t images[10 * 20], labels[10];
    tiny_data(10, images, labels);
    clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F32, CLMLP_LOSS_MSE, 1);
    clmlp_net *net16 = test_net(sizes16, 3, backend_of(state), CLMLP_F32, CLMLP_LOSS_MSE, 1);
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    clmlp_dataset *data = (clmlp_dataset *)(uintptr_t)0x1, *sentinel = data;
    pp.crop = 4; /* 16 inputs for a 20-input net */
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 10, 4, 5, &pp, &data));
    assert_non_null(strstr(clmlp_last_error(), "16"));
    assert_non_null(strstr(clmlp_last_error(), "20"));
    TEST_OK(clmlp_dataset_create(net16, images, labels, 10, 4, 5, &pp, &data)); /* the crop fits that one */
    clmlp_dataset_destroy(data);
    assert_int_equal(pp.normalize, CLMLP_NORMALIZE_GIVEN);
    clmlp_preprocess_init(&pp); /* back to fitting the data */
    data = sentinel;
    pp.crop = 6;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 10, 4, 5, &pp, &data));
    pp.crop = 0;
    labels[7] = 3; /* not below n_L = 3 */
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 10, 4, 5, &pp, &data));
    labels[7] = 1;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 0, 4, 5, &pp, &data));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(NULL, images, labels, 10, 4, 5, &pp, &data));
    memset(images, 9, sizeof images); /* constant images have no std */
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_create(net, images, labels, 10, 4, 5, &pp, &data));
    assert_ptr_equal(data, sentinel);
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = 0;
    TEST_FAILS(CLMLP_EINVAL, clmlp_train_epoch(net, NULL, &opt, 0, NULL));
    clmlp_destroy(net);
    clmlp_destroy(net16);
}

/* Files of different lengths: the message names both counts. */
static void mismatched_files(void **state)
{
    const size_t sizes[] = {784, 10};
    clmlp_net *net = test_net(sizes, 2, backend_of(state), CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 1);
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    clmlp_dataset *data = NULL;
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_load(net, CLMLP_TEST_DATA_DIR "/t10k-images-idx3-ubyte.gz",
                                                CLMLP_TEST_DATA_DIR "/train-labels-idx1-ubyte.gz", &pp, &data));
    assert_non_null(strstr(clmlp_last_error(), "10000"));
    assert_non_null(strstr(clmlp_last_error(), "60000"));
    TEST_FAILS(CLMLP_EINVAL, clmlp_dataset_load(net, CLMLP_TEST_DATA_DIR "/t10k-labels-idx1-ubyte.gz",
                                                CLMLP_TEST_DATA_DIR "/t10k-labels-idx1-ubyte.gz", &pp, &data));
    TEST_FAILS(CLMLP_EIO, clmlp_dataset_load(net, "/nonexistent/images", "/nonexistent/labels", &pp, &data));
    assert_null(data);
    clmlp_destroy(net);
}

/* A small net on a Fashion-MNIST subset learns well above chance (10%), and the same
 * seed gives the same weights run after run. */
static void learns_fashion_mnist(void **state)
{
    enum { N_TRAIN = 6000, N_TEST = 2000 };
    clmlp_idx *train_images, *train_labels, *test_images, *test_labels;
    TEST_OK(clmlp_idx_load(CLMLP_TEST_DATA_DIR "/train-images-idx3-ubyte.gz", &train_images));
    TEST_OK(clmlp_idx_load(CLMLP_TEST_DATA_DIR "/train-labels-idx1-ubyte.gz", &train_labels));
    TEST_OK(clmlp_idx_load(CLMLP_TEST_DATA_DIR "/t10k-images-idx3-ubyte.gz", &test_images));
    TEST_OK(clmlp_idx_load(CLMLP_TEST_DATA_DIR "/t10k-labels-idx1-ubyte.gz", &test_labels));
    const size_t sizes[] = {784, 64, 10};
    double W_first[64 * 784], b_first[64], W[64 * 784], b[64];
    for (int run = 0; run < 2; run++) {
        clmlp_net *net = test_net(sizes, 3, backend_of(state), CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 5);
        clmlp_preprocess pp;
        clmlp_preprocess_init(&pp);
        clmlp_dataset *train, *test;
        TEST_OK(clmlp_dataset_create(net, clmlp_idx_data(train_images), clmlp_idx_data(train_labels), N_TRAIN, 28, 28,
                                     &pp, &train));
        TEST_OK(clmlp_dataset_create(net, clmlp_idx_data(test_images), clmlp_idx_data(test_labels), N_TEST, 28, 28, &pp,
                                     &test));
        clmlp_train_options opt;
        clmlp_train_options_init(&opt);
        opt.seed = 5;
        clmlp_eval ev = {0};
        for (size_t epoch = 0; epoch < 2; epoch++)
            TEST_OK(clmlp_train_epoch(net, train, &opt, epoch, NULL));
        TEST_OK(clmlp_evaluate(net, test, &ev));
        printf("# %s: test accuracy after 2 epochs on %d images: %.2f%%\n", clmlp_backend_name(net), N_TRAIN,
               100 * ev.accuracy);
        assert_true(ev.accuracy >= 0.75);
        TEST_OK(clmlp_get_layer(net, 1, run ? W : W_first, run ? b : b_first));
        clmlp_dataset_destroy(train);
        clmlp_dataset_destroy(test);
        clmlp_destroy(net);
    }
    assert_memory_equal(W, W_first, sizeof W); /* reproducible, bit for bit */
    assert_memory_equal(b, b_first, sizeof b);
    clmlp_idx_free(train_images);
    clmlp_idx_free(train_labels);
    clmlp_idx_free(test_images);
    clmlp_idx_free(test_labels);
}

int main(void)
{
    static clmlp_backend host = CLMLP_BACKEND_HOST, opencl = CLMLP_BACKEND_OPENCL;
#define BOTH(fn) cmocka_unit_test_prestate(fn, &host), cmocka_unit_test_prestate(fn, &opencl)
    const struct CMUnitTest tests[] = {
        BOTH(optimizer_matches_hand_update),
        BOTH(evaluation_matches_forward),
        BOTH(dataset_checks),
        BOTH(mismatched_files),
        BOTH(learns_fashion_mnist),
        cmocka_unit_test(per_sample_matches_host),
        BOTH(checkpoint_resumes_exactly),
        BOTH(divergence_names_the_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
