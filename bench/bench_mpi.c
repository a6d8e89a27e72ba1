/*
 * Data-parallel training over MPI: run under `mpirun -np K` (K = 1, 2, …). For the
 * headline net 784-256-128-10 (f32, softmax-CE) on Fashion-MNIST training images and
 * each global batch of --batches, after a warm-up epoch:
 *   - samples/s of clmlp_train_epoch with the communicator (every rank's share of each
 *     global batch), median of --runs epochs, min and max beside it;
 *   - per step (the library's counters): waiting for the share's forward/backward on the
 *     device ("compute", read when the gradients are), the gradients' copies between
 *     device and host, and their allreduce; the rest is the update and the launches;
 *   - rank 0 alone, without a communicator, at the same global batch: the baseline.
 * And the bare MPI_Allreduce of the same number of doubles, for comparison.
 * Only rank 0 prints: a table, and with --json JSON lines.
 *   usage: mpirun -np K clmlp_bench_mpi [--samples N] [--runs R] [--batches 128,1024] [--json]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clmlp_mpi.h"
#include "clock.h"
#include "net_internal.h"

#define DATA_DIR "/usr/share/datasets/fashion-mnist"

static int rank, size;

#define CHECK(call)                                                                                                    \
    do {                                                                                                               \
        clmlp_status s_ = (call);                                                                                      \
        if (s_ != CLMLP_OK) {                                                                                          \
            fprintf(stderr, "rank %d: %s: %s: %s\n", rank, #call, clmlp_strerror(s_), clmlp_last_error());             \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                                              \
        }                                                                                                              \
    } while (0)

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct {
    double samples_per_s[3]; /* median, min, max */
    double reduce_us, copy_us, wait_us, step_us;
} result;

static const size_t sizes[] = {784, 256, 128, 10};

static clmlp_net *make_net(void)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = CLMLP_F32;
    cfg.loss = CLMLP_LOSS_SOFTMAX_CE;
    cfg.seed = 1;
    clmlp_net *net = NULL;
    CHECK(clmlp_create(sizes, 4, &cfg, &net));
    return net;
}

/* Epochs of `count` images at global batch `batch`, with comm (or alone). */
static result measure(const clmlp_idx *images, const clmlp_idx *labels, size_t count, size_t batch, int runs,
                      const clmlp_comm *comm)
{
    clmlp_net *net = make_net();
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    clmlp_dataset *data = NULL;
    CHECK(clmlp_dataset_create(net, clmlp_idx_data(images), clmlp_idx_data(labels), count, 28, 28, &pp, &data));
    clmlp_train_options opt;
    clmlp_train_options_init(&opt);
    opt.batch = batch;
    opt.lr = 0.05;
    opt.comm = comm;
    CHECK(clmlp_train_epoch(net, data, &opt, 0, NULL)); /* warm-up: kernels built, buffers allocated */
    double *rates = malloc((size_t)runs * sizeof *rates);
    net->dp_reduce_seconds = net->dp_copy_seconds = net->dp_wait_seconds = 0;
    net->dp_steps = 0;
    double total = 0;
    for (int r = 0; r < runs; r++) {
        if (comm)
            MPI_Barrier(MPI_COMM_WORLD);
        double start = clmlp_seconds();
        CHECK(clmlp_train_epoch(net, data, &opt, (size_t)r + 1, NULL));
        double seconds = clmlp_seconds() - start;
        total += seconds;
        rates[r] = (double)count / seconds;
    }
    size_t steps = (count + batch - 1) / batch * (size_t)runs;
    result out = {.reduce_us = net->dp_steps ? 1e6 * net->dp_reduce_seconds / (double)net->dp_steps : 0,
                  .copy_us = net->dp_steps ? 1e6 * net->dp_copy_seconds / (double)net->dp_steps : 0,
                  .wait_us = net->dp_steps ? 1e6 * net->dp_wait_seconds / (double)net->dp_steps : 0,
                  .step_us = 1e6 * total / (double)steps};
    out.samples_per_s[0] = median(rates, runs);
    out.samples_per_s[1] = rates[0];
    out.samples_per_s[2] = rates[runs - 1];
    free(rates);
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
    return out;
}

/* The bare MPI_Allreduce of n doubles: median of 50 calls, in µs. */
static double bare_allreduce_us(size_t n)
{
    double *v = calloc(n, sizeof *v), t[50];
    for (int i = 0; i < 50; i++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double start = MPI_Wtime();
        MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        t[i] = 1e6 * (MPI_Wtime() - start);
    }
    free(v);
    return median(t, 50);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    size_t count = 12800, batches[8] = {128, 1024}, n_batches = 2;
    int runs = 5, json = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--samples") == 0 && i + 1 < argc)
            count = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc) {
            n_batches = 0;
            for (char *p = strtok(argv[++i], ","); p && n_batches < 8; p = strtok(NULL, ","))
                batches[n_batches++] = strtoul(p, NULL, 10);
        } else {
            if (rank == 0)
                fprintf(stderr, "usage: mpirun -np K clmlp_bench_mpi [--samples N] [--runs R] "
                                "[--batches B,B…] [--json]\n");
            MPI_Finalize();
            return 2;
        }
    }
    if (runs < 1 || count == 0) {
        MPI_Finalize();
        return 2;
    }
    clmlp_idx *images = NULL, *labels = NULL;
    CHECK(clmlp_idx_load(DATA_DIR "/train-images-idx3-ubyte.gz", &images));
    CHECK(clmlp_idx_load(DATA_DIR "/train-labels-idx1-ubyte.gz", &labels));
    clmlp_comm *comm = NULL;
    CHECK(clmlp_comm_create(MPI_COMM_WORLD, 0, &comm));
    size_t parameters = 0;
    for (size_t l = 1; l < 4; l++)
        parameters += sizes[l] * (sizes[l - 1] + 1);
    double bare = bare_allreduce_us(parameters + 1);
    if (rank == 0) {
        clmlp_net *net = make_net();
        printf("data-parallel 784-256-128-10 f32 CE, %zu Fashion-MNIST images per epoch, %d ranks, %s\n", count, size,
               clmlp_backend_name(net));
        printf("bare MPI_Allreduce of %zu doubles (%.2f MB): %.0f us\n", parameters + 1,
               8.0 * (double)(parameters + 1) / 1e6, bare);
        printf("%-7s %-10s %12s %12s %12s %10s %10s %10s %10s\n", "batch", "mode", "samples/s", "min", "max", "step us",
               "compute us", "copy us", "reduce us");
        clmlp_destroy(net);
    }
    for (size_t b = 0; b < n_batches; b++) {
        result dp = measure(images, labels, count, batches[b], runs, comm);
        if (rank == 0) {
            result alone = measure(images, labels, count, batches[b], runs, NULL);
            const result *rs[2] = {&alone, &dp};
            for (int k = 0; k < 2; k++) {
                char mode[32];
                snprintf(mode, sizeof mode, k ? "%d ranks" : "alone", size);
                printf("%-7zu %-10s %12.0f %12.0f %12.0f %10.0f %10.0f %10.0f %10.0f\n", batches[b], mode,
                       rs[k]->samples_per_s[0], rs[k]->samples_per_s[1], rs[k]->samples_per_s[2], rs[k]->step_us,
                       rs[k]->wait_us, rs[k]->copy_us, rs[k]->reduce_us);
                if (json)
                    printf("{\"bench\":\"data_parallel\",\"ranks\":%d,\"mode\":\"%s\",\"batch\":%zu,"
                           "\"samples_per_s\":%.1f,\"min\":%.1f,\"max\":%.1f,\"step_us\":%.1f,\"reduce_us\":%.1f,"
                           "\"copy_us\":%.1f,\"compute_wait_us\":%.1f,\"bare_allreduce_us\":%.1f}\n",
                           size, k ? "comm" : "alone", batches[b], rs[k]->samples_per_s[0], rs[k]->samples_per_s[1],
                           rs[k]->samples_per_s[2], rs[k]->step_us, rs[k]->reduce_us, rs[k]->copy_us, rs[k]->wait_us,
                           bare);
            }
            fflush(stdout);
        }
        MPI_Barrier(MPI_COMM_WORLD); /* the others wait while rank 0 runs alone */
    }
    clmlp_comm_destroy(comm);
    clmlp_idx_free(images);
    clmlp_idx_free(labels);
    MPI_Finalize();
    return 0;
}
