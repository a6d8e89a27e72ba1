/*
 * train_mnist — a small program using the installed clmlp library: trains a 784-64-10
 * net (tanh hidden layer, softmax cross-entropy) on MNIST-format data and prints the
 * accuracy on the test set.
 *
 *     train_mnist [DATA_DIR [EPOCHS [MAX_TRAIN]]]
 *
 * DATA_DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
 * and t10k-labels-idx1-ubyte, gzip-compressed (.gz) or not (default
 * /usr/share/datasets/fashion-mnist); EPOCHS defaults to 1; MAX_TRAIN > 0 trains on only
 * the first MAX_TRAIN training images (0 or absent: all of them).
 * Exit status: 0 on success, 1 when a clmlp call fails, 2 for bad arguments.
 */
#include <clmlp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

/* Reports a failed call with the library's detail; returns nonzero when s is CLMLP_OK. */
static int ok(clmlp_status s, const char *what)
{
    if (s == CLMLP_OK)
        return 1;
    fprintf(stderr, "train_mnist: %s failed: %s: %s\n", what, clmlp_strerror(s), clmlp_last_error());
    return 0;
}

/* DIR/NAME.gz when that file exists, else DIR/NAME (the loader reports it if missing). */
static int data_path(char *path, size_t size, const char *dir, const char *name)
{
    int n = snprintf(path, size, "%s/%s.gz", dir, name);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "train_mnist: data directory name too long: %s\n", dir);
        return 0;
    }
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        return 1;
    }
    snprintf(path, size, "%s/%s", dir, name);
    return 1;
}

/* A nonnegative decimal integer. */
static int parse_count(const char *text, const char *what, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || strchr(text, '-') || v > (size_t)-1) {
        fprintf(stderr, "train_mnist: %s must be a nonnegative integer, not \"%s\"\n", what, text);
        return 0;
    }
    *out = (size_t)v;
    return 1;
}

/* Loads the first `max` (0: all) training images and their labels into a dataset on the
 * net's device; pp receives the training set's mean and std. */
static clmlp_status load_train(clmlp_net *net, const char *dir, size_t max, clmlp_preprocess *pp, clmlp_dataset **out)
{
    char images_path[4096], labels_path[4096];
    if (!data_path(images_path, sizeof images_path, dir, "train-images-idx3-ubyte") ||
        !data_path(labels_path, sizeof labels_path, dir, "train-labels-idx1-ubyte"))
        return CLMLP_EINVAL;
    clmlp_idx *images = NULL, *labels = NULL;
    clmlp_status s = clmlp_idx_load(images_path, &images);
    if (!ok(s, "clmlp_idx_load (training images)"))
        return s;
    s = clmlp_idx_load(labels_path, &labels);
    if (ok(s, "clmlp_idx_load (training labels)")) {
        size_t count = clmlp_idx_dim(images, 0);
        if (clmlp_idx_ndims(images) != 3 || clmlp_idx_ndims(labels) != 1 || clmlp_idx_dim(labels, 0) != count) {
            fprintf(stderr, "train_mnist: %s and %s are not MNIST-format images and labels\n", images_path,
                    labels_path);
            s = CLMLP_EFORMAT;
        } else {
            if (max > 0 && max < count)
                count = max;
            s = clmlp_dataset_create(net, clmlp_idx_data(images), clmlp_idx_data(labels), count,
                                     clmlp_idx_dim(images, 1), clmlp_idx_dim(images, 2), pp, out);
            ok(s, "clmlp_dataset_create (training set)");
        }
    }
    clmlp_idx_free(labels);
    clmlp_idx_free(images);
    return s;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : DEFAULT_DATA_DIR;
    size_t epochs = 1, max_train = 0;
    if (argc > 4 || (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
        fprintf(stderr, "usage: train_mnist [DATA_DIR [EPOCHS [MAX_TRAIN]]]   (default %s 1 0)\n", DEFAULT_DATA_DIR);
        return 2;
    }
    if ((argc > 2 && !parse_count(argv[2], "EPOCHS", &epochs)) ||
        (argc > 3 && !parse_count(argv[3], "MAX_TRAIN", &max_train)))
        return 2;

    printf("clmlp %s\n", clmlp_version());

    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_AUTO; /* the OpenCL device if there is one, else the host path */
    cfg.dtype = CLMLP_F32;
    cfg.loss = CLMLP_LOSS_SOFTMAX_CE;
    cfg.seed = 1;
    const size_t sizes[] = {784, 64, 10};
    clmlp_net *net = NULL;
    clmlp_dataset *train = NULL, *test = NULL;
    int status = 1;

    if (!ok(clmlp_create(sizes, sizeof sizes / sizeof sizes[0], &cfg, &net), "clmlp_create"))
        goto done;
    printf("net 784-64-10, softmax cross-entropy, f32, on %s\n", clmlp_backend_name(net));

    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp); /* pixels / 255, normalized by the training set's mean and std */
    if (load_train(net, dir, max_train, &pp, &train) != CLMLP_OK)
        goto done;

    char images_path[4096], labels_path[4096];
    if (!data_path(images_path, sizeof images_path, dir, "t10k-images-idx3-ubyte") ||
        !data_path(labels_path, sizeof labels_path, dir, "t10k-labels-idx1-ubyte"))
        goto done;
    /* The same pp: the test set is normalized with the training set's mean and std. */
    if (!ok(clmlp_dataset_load(net, images_path, labels_path, &pp, &test), "clmlp_dataset_load (test set)"))
        goto done;
    printf("data: %zu training and %zu test images from %s (mean %.4f, std %.4f)\n", clmlp_dataset_count(train),
           clmlp_dataset_count(test), dir, pp.mean, pp.std);

    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = 64;
    opt.lr = 0.05;
    opt.momentum = 0.9;
    opt.seed = 1;
    for (size_t e = 0; e < epochs; e++) {
        clmlp_epoch_stats st;
        if (!ok(clmlp_train_epoch(net, train, &opt, e, &st), "clmlp_train_epoch"))
            goto done;
        printf("epoch %zu: loss %.4f, training accuracy %.4f (%zu samples, %.2f s)\n", e + 1, st.loss, st.accuracy,
               st.samples, st.seconds);
    }

    clmlp_eval ev;
    memset(&ev, 0, sizeof ev); /* ev.confusion NULL: no confusion matrix */
    if (!ok(clmlp_evaluate(net, test, &ev), "clmlp_evaluate"))
        goto done;
    printf("test accuracy: %.4f (%zu images, mean loss %.4f)\n", ev.accuracy, ev.n, ev.loss);
    status = 0;

done:
    clmlp_dataset_destroy(test); /* datasets before their net */
    clmlp_dataset_destroy(train);
    clmlp_destroy(net);
    return status;
}
