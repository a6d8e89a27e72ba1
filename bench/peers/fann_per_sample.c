/*
 * The per-sample SGD workload in FANN 2.2 (Debian's libfann-dev): incremental training
 * of a tanh net on MNIST-format images, reported in samples/s as a JSON line.
 * Build twice: with -DFANN_DOUBLE and -ldoublefann (double), with -lfloatfann (float).
 *
 *   fann_per_sample SIZES SAMPLES CROP [DATA_DIR] [LR]     e.g. 576,16,10 3000 24
 *
 * FANN's tanh is FANN_SIGMOID_SYMMETRIC with the steepness set to 1.0 (its default 0.5
 * computes tanh(x/2)); FANN_ERRORFUNC_LINEAR, and 4× the learning rate of the other
 * peers (FANN halves the output error).
 * Inputs: pixels/255 standardized by mean 0.2860 / std 0.3530; targets one-hot {0,1}.
 */
#ifdef FANN_DOUBLE
#include <doublefann.h>
#else
#include <floatfann.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

static unsigned char *read_idx(const char *path, unsigned *count, unsigned *rows, unsigned *cols)
{
    gzFile f = gzopen(path, "rb");
    unsigned char h[16];
    if (!f || gzread(f, h, 4) != 4)
        return NULL;
    int dims = h[3];
    unsigned d[3] = {1, 1, 1};
    for (int i = 0; i < dims; i++) {
        unsigned char b[4];
        if (gzread(f, b, 4) != 4)
            return NULL;
        d[i] = (unsigned)b[0] << 24 | (unsigned)b[1] << 16 | (unsigned)b[2] << 8 | b[3];
    }
    size_t n = (size_t)d[0] * d[1] * d[2];
    unsigned char *data = malloc(n);
    if (!data || gzread(f, data, (unsigned)n) != (int)n)
        return NULL;
    gzclose(f);
    *count = d[0], *rows = d[1], *cols = d[2];
    return data;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s SIZES SAMPLES CROP [DATA_DIR] [LR]\n", argv[0]);
        return 2;
    }
    unsigned sizes[16], n_sizes = 0;
    for (char *p = argv[1]; *p && n_sizes < 16;) {
        sizes[n_sizes++] = (unsigned)strtoul(p, &p, 10);
        if (*p == ',')
            p++;
    }
    unsigned samples = (unsigned)atoi(argv[2]), crop = (unsigned)atoi(argv[3]);
    const char *dir = argc > 4 ? argv[4] : "/usr/share/datasets/fashion-mnist";
    double lr = argc > 5 ? atof(argv[5]) : 0.01;
    char path[1024];
    unsigned count, rows, cols, lcount, l1, l2;
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    unsigned char *images = read_idx(path, &count, &rows, &cols);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte.gz", dir);
    unsigned char *labels = read_idx(path, &lcount, &l1, &l2);
    if (!images || !labels || samples > count) {
        fprintf(stderr, "cannot read the data in %s\n", dir);
        return 1;
    }
    unsigned side = crop ? crop : rows, off = (rows - side) / 2, n_in = side * side, n_out = sizes[n_sizes - 1];
    if (n_in != sizes[0]) {
        fprintf(stderr, "the images give %u inputs, the net takes %u\n", n_in, sizes[0]);
        return 1;
    }
    fann_type *x = malloc(sizeof *x * n_in * samples), *y = malloc(sizeof *y * n_out * samples);
    for (unsigned i = 0; i < samples; i++) {
        for (unsigned r = 0; r < side; r++)
            for (unsigned c = 0; c < side; c++)
                x[i * n_in + r * side + c] =
                    (fann_type)((images[(size_t)i * rows * cols + (r + off) * cols + c + off] / 255.0 - 0.2860) /
                                0.3530);
        for (unsigned k = 0; k < n_out; k++)
            y[i * n_out + k] = labels[i] == k;
    }
    struct fann *ann = fann_create_standard_array(n_sizes, sizes);
    fann_set_activation_function_hidden(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_function_output(ann, FANN_SIGMOID_SYMMETRIC);
    fann_set_activation_steepness_hidden(ann, 1.0);
    fann_set_activation_steepness_output(ann, 1.0);
    fann_set_train_error_function(ann, FANN_ERRORFUNC_LINEAR);
    fann_set_learning_rate(ann, (float)(4 * lr));
    fann_set_learning_momentum(ann, 0);
    fann_randomize_weights(ann, -0.1, 0.1);
    for (unsigned i = 0; i < 100 && i < samples; i++) /* warm-up */
        fann_train(ann, x + i * n_in, y + i * n_out);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    double loss = 0;
    for (unsigned i = 0; i < samples; i++) {
        fann_type *out = fann_run(ann, x + i * n_in);
        for (unsigned k = 0; k < n_out; k++)
            loss += (out[k] - y[i * n_out + k]) * (out[k] - y[i * n_out + k]);
        fann_train(ann, x + i * n_in, y + i * n_out);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("{\"peer\":\"fann\",\"dtype\":\"%s\",\"sizes\":\"%s\",\"samples\":%u,\"samples_per_s\":%.1f,"
           "\"mean_loss\":%.6f}\n",
           sizeof(fann_type) == 8 ? "f64" : "f32", argv[1], samples, samples / seconds, loss / samples);
    fann_destroy(ann);
    free(x);
    free(y);
    free(images);
    free(labels);
    return 0;
}
