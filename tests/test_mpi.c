/*
 * Data-parallel training over MPI, run by tests/test_mpi.sh under mpirun (2 ranks):
 *   equivalence  K ranks (each starting from its own weights: rank 0's must be broadcast)
 *                against one process with the same global batch: SGD with momentum and
 *                weight decay (CE on labels) and Adam (MSE on arrays), f64, an uneven
 *                last batch and a last step of one row (a rank with 0 rows); the epoch
 *                statistics; clmlp_update with the communicator; every rank's weights
 *                bitwise equal; a second run bitwise equal to the first
 *   failing      rank 1's device fails at a step (fault injection): both ranks return at
 *                that step, rank 1 its own error, rank 0 CLMLP_ECOMM naming rank 1
 *   stuck        rank 1 stops answering (a progress callback that sleeps): rank 0 gets
 *                CLMLP_ECOMM past the deadline, naming epoch and step; then MPI_Abort
 *   killed       rank 1 is SIGKILLed during training: mpirun ends the job (no hang)
 *   mismatch     a rank with another learning rate, another net, or another epoch is
 *                refused on every rank, naming the rank and what differs
 * Each rank prints "ok: …" or "FAIL: …" lines; the exit status is 1 on any FAIL.
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clmlp_mpi.h"
#include "fault.h"

static int rank, size, failures;

static void check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(int ok, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    printf("%s: rank %d: %s\n", ok ? "ok" : "FAIL", rank, text);
    fflush(stdout);
    failures += !ok;
}

#define OK(call)                                                                                                       \
    do {                                                                                                               \
        clmlp_status s_ = (call);                                                                                      \
        if (s_ != CLMLP_OK) {                                                                                          \
            check(0, "%s -> %s: %s", #call, clmlp_strerror(s_), clmlp_last_error());                                   \
            MPI_Abort(MPI_COMM_WORLD, 1);                                                                              \
        }                                                                                                              \
    } while (0)

/* ---- data and nets ---- */

enum { N_IN = 6, N_HIDDEN = 9, N_OUT = 4, COUNT = 19, BATCH = 6 }; /* steps of 6, 6, 6, 1 rows */

static uint64_t rng_state = 12345;
static double uniform(double lo, double hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (double)(rng_state >> 11) / 9007199254740992.0;
}

static double x[COUNT * N_IN], y[COUNT * N_OUT];
static uint32_t labels[COUNT];

static void make_data(void)
{
    for (size_t i = 0; i < COUNT * N_IN; i++)
        x[i] = uniform(-1, 1);
    for (size_t i = 0; i < COUNT * N_OUT; i++)
        y[i] = uniform(-0.8, 0.8);
    for (size_t i = 0; i < COUNT; i++)
        labels[i] = (uint32_t)(i * 7 % N_OUT);
}

static clmlp_net *make_net(clmlp_loss loss, uint64_t seed, size_t hidden)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.loss = loss;
    cfg.seed = seed;
    const char *backend = getenv("CLMLP_TEST_BACKEND");
    cfg.backend = backend && strcmp(backend, "host") == 0 ? CLMLP_BACKEND_HOST : CLMLP_BACKEND_AUTO;
    const size_t sizes[] = {N_IN, hidden, N_OUT};
    clmlp_net *net = NULL;
    OK(clmlp_create(sizes, 3, &cfg, &net));
    return net;
}

static clmlp_dataset *make_dataset(clmlp_net *net, clmlp_loss loss)
{
    clmlp_dataset *data = NULL;
    if (loss == CLMLP_LOSS_SOFTMAX_CE)
        OK(clmlp_dataset_from_labels(net, x, labels, COUNT, CLMLP_TARGET_ONEHOT_01, &data));
    else
        OK(clmlp_dataset_from_arrays(net, x, y, COUNT, &data));
    return data;
}

static void sgd_momentum(clmlp_train_options *opt)
{
    clmlp_train_options_init(opt);
    opt->batch = BATCH;
    opt->lr = 0.2;
    opt->momentum = 0.9;
    opt->weight_decay = 0.01;
    opt->seed = 7;
}

static void adam(clmlp_train_options *opt)
{
    clmlp_train_options_init(opt);
    opt->batch = BATCH;
    opt->optimizer = CLMLP_OPT_ADAM;
    opt->lr = 0.01;
    opt->weight_decay = 0.01;
    opt->seed = 8;
}

/* All of the net's weights and biases, layer after layer (caller frees). */
static double *weights(const clmlp_net *net, size_t *n)
{
    size_t L = clmlp_num_layers(net), total = 0;
    for (size_t l = 1; l <= L; l++)
        total += clmlp_layer_size(net, l) * (clmlp_layer_size(net, l - 1) + 1);
    double *w = malloc(total * sizeof *w), *p = w;
    for (size_t l = 1; l <= L; l++) {
        size_t n_w = clmlp_layer_size(net, l) * clmlp_layer_size(net, l - 1);
        OK(clmlp_get_layer(net, l, p, p + n_w));
        p += n_w + clmlp_layer_size(net, l);
    }
    *n = total;
    return w;
}

static double max_rel_diff(const double *a, const double *b, size_t n)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

/* Every rank holds the same bytes: rank 0's broadcast and compared. */
static int same_on_every_rank(const double *w, size_t n)
{
    double *root = malloc(n * sizeof *root);
    memcpy(root, w, n * sizeof *root);
    MPI_Bcast(root, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
    int same = memcmp(root, w, n * sizeof *w) == 0, all = 0;
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    free(root);
    return all;
}

enum { EPOCHS = 3 };

/* EPOCHS epochs from the net of seed 100 + rank (with comm) or 100 (without). */
static double *train(clmlp_loss loss, void (*options)(clmlp_train_options *), const clmlp_comm *comm, size_t *n,
                     clmlp_epoch_stats *stats)
{
    clmlp_net *net = make_net(loss, 100 + (comm ? (uint64_t)rank : 0), N_HIDDEN);
    clmlp_dataset *data = make_dataset(net, loss);
    clmlp_train_options opt;
    options(&opt);
    opt.comm = comm;
    for (size_t e = 0; e < EPOCHS; e++)
        OK(clmlp_train_epoch(net, data, &opt, e, &stats[e]));
    double *w = weights(net, n);
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
    return w;
}

static void equivalence_of(const char *name, clmlp_loss loss, void (*options)(clmlp_train_options *),
                           const clmlp_comm *comm)
{
    size_t n = 0, n_alone = 0;
    clmlp_epoch_stats stats[EPOCHS], again_stats[EPOCHS], alone_stats[EPOCHS];
    double *w = train(loss, options, comm, &n, stats);
    double *again = train(loss, options, comm, &n, again_stats);
    double *alone = train(loss, options, NULL, &n_alone, alone_stats);
    double err = max_rel_diff(w, alone, n);
    check(n == n_alone && err <= 1e-12, "%s: %d ranks vs one process, weights after %d epochs: max rel diff %.3g", name,
          size, EPOCHS, err);
    double worst = 0;
    for (int e = 0; e < EPOCHS; e++) {
        worst = fmax(worst, fabs(stats[e].loss - alone_stats[e].loss) / fabs(alone_stats[e].loss));
        check(stats[e].samples == COUNT && stats[e].accuracy == alone_stats[e].accuracy,
              "%s: epoch %d counts %zu samples, accuracy %.4f (one process: %.4f)", name, e + 1, stats[e].samples,
              stats[e].accuracy, alone_stats[e].accuracy);
    }
    check(worst <= 1e-12, "%s: epoch losses vs one process: max rel diff %.3g", name, worst);
    check(memcmp(w, again, n * sizeof *w) == 0, "%s: a second %d-rank run gives the same bits", name, size);
    check(same_on_every_rank(w, n), "%s: every rank holds the same weights, bit for bit", name);
    free(w);
    free(again);
    free(alone);
}

/* clmlp_update with the communicator: each rank's forward/backward of its rows (every
 * rank needs some: clmlp_update needs a backward), the summed gradient, against one
 * process's full batch. */
static void update_equivalence(const clmlp_comm *comm)
{
    clmlp_net *net = make_net(CLMLP_LOSS_MSE, 100, N_HIDDEN), *alone = make_net(CLMLP_LOSS_MSE, 100, N_HIDDEN);
    size_t per = (COUNT + (size_t)size - 1) / (size_t)size, first = (size_t)rank * per;
    size_t rows = first >= COUNT ? 0 : (COUNT - first < per ? COUNT - first : per);
    clmlp_train_options opt;
    sgd_momentum(&opt);
    for (int step = 0; step < 3; step++) {
        double out[COUNT * N_OUT], loss;
        OK(clmlp_forward(net, x + first * N_IN, rows, out));
        OK(clmlp_backward(net, y + first * N_OUT, &loss));
        opt.comm = comm;
        OK(clmlp_update(net, &opt, 1.0 / COUNT));
        OK(clmlp_forward(alone, x, COUNT, out));
        OK(clmlp_backward(alone, y, &loss));
        opt.comm = NULL;
        OK(clmlp_update(alone, &opt, 1.0 / COUNT));
    }
    size_t n, n_alone;
    double *w = weights(net, &n), *w_alone = weights(alone, &n_alone);
    double err = max_rel_diff(w, w_alone, n);
    check(err <= 1e-12, "clmlp_update over %d ranks (rows %zu here) vs one process: max rel diff %.3g", size, rows,
          err);
    free(w);
    free(w_alone);
    clmlp_destroy(net);
    clmlp_destroy(alone);
}

static void equivalence(const clmlp_comm *comm)
{
    equivalence_of("SGD momentum 0.9 weight decay 0.01, CE", CLMLP_LOSS_SOFTMAX_CE, sgd_momentum, comm);
    equivalence_of("Adam weight decay 0.01, MSE", CLMLP_LOSS_MSE, adam, comm);
    if (size * 3 <= COUNT)
        update_equivalence(comm);
}

/* ---- faults ---- */

static void failing(const clmlp_comm *comm)
{
#ifdef CLMLP_FAULT_INJECTION
    clmlp_net *net = make_net(CLMLP_LOSS_SOFTMAX_CE, 100, N_HIDDEN);
    clmlp_dataset *data = make_dataset(net, CLMLP_LOSS_SOFTMAX_CE);
    clmlp_train_options opt;
    sgd_momentum(&opt);
    opt.comm = comm;
    OK(clmlp_train_epoch(net, data, &opt, 0, NULL));
    /* rank 1 learns how many launches an epoch takes, then fails in the middle of the next */
    long per_epoch = 0;
    if (rank == 1) {
        clmlp_fault_arm(CLMLP_FAULT_ENQUEUE, 0);
        OK(clmlp_train_epoch(net, data, &opt, 1, NULL));
        per_epoch = clmlp_fault_calls(CLMLP_FAULT_ENQUEUE);
        clmlp_fault_arm(CLMLP_FAULT_ENQUEUE, per_epoch / 2);
    } else
        OK(clmlp_train_epoch(net, data, &opt, 1, NULL));
    clmlp_status s = clmlp_train_epoch(net, data, &opt, 2, NULL);
    const char *why = clmlp_last_error();
    if (rank == 1)
        check(s == CLMLP_EOPENCL && strstr(why, "epoch 3 step"), "the failing rank returns its own error: %s: %s",
              clmlp_strerror(s), why);
    else
        check(s == CLMLP_ECOMM && strstr(why, "rank 1 failed") && strstr(why, "epoch 3 step"),
              "another rank returns CLMLP_ECOMM naming rank 1: %s: %s", clmlp_strerror(s), why);
    /* the communicator still works: the failure was agreed on, not timed out */
    double one = 1;
    OK(clmlp_comm_sum(comm, &one, 1));
    check(one == size, "the communicator still sums after the failure (%g)", one);
    clmlp_fault_arm(CLMLP_FAULT_ENQUEUE, 0);
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
#else
    (void)comm;
    check(0, "failing: this build has no fault injection (CLMLP_FAULT_INJECTION)");
#endif
}

static int sleep_once(void *user, size_t done, size_t total, double loss)
{
    (void)total, (void)loss;
    if (rank == 1 && done >= 2 * BATCH && !*(int *)user) {
        *(int *)user = 1;
        sleep(8);
    }
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void stuck(void)
{
    clmlp_comm *comm = NULL;
    OK(clmlp_comm_create(MPI_COMM_WORLD, 2.0, &comm));
    clmlp_net *net = make_net(CLMLP_LOSS_SOFTMAX_CE, 100, N_HIDDEN);
    clmlp_dataset *data = make_dataset(net, CLMLP_LOSS_SOFTMAX_CE);
    clmlp_train_options opt;
    sgd_momentum(&opt);
    int slept = 0;
    opt.comm = comm;
    opt.report_every = 1;
    opt.progress = sleep_once;
    opt.user = &slept;
    double start = now();
    clmlp_status s = clmlp_train_epoch(net, data, &opt, 0, NULL);
    double seconds = now() - start;
    if (rank == 0) {
        const char *why = clmlp_last_error();
        check(s == CLMLP_ECOMM && strstr(why, "epoch 1 step") && strstr(why, "within 2 s"),
              "a stuck rank: CLMLP_ECOMM after %.1f s: %s", seconds, why);
        check(seconds < 7, "the deadline (2 s) ended the wait before the stuck rank woke (%.1f s)", seconds);
        fflush(stdout);
        MPI_Abort(MPI_COMM_WORLD, failures ? 1 : 3); /* as the command does */
    }
    sleep(30); /* rank 1: mpirun ends it */
}

static void killed(void)
{
    clmlp_comm *comm = NULL;
    OK(clmlp_comm_create(MPI_COMM_WORLD, 0, &comm));
    clmlp_net *net = make_net(CLMLP_LOSS_SOFTMAX_CE, 100, N_HIDDEN);
    clmlp_dataset *data = make_dataset(net, CLMLP_LOSS_SOFTMAX_CE);
    clmlp_train_options opt;
    sgd_momentum(&opt);
    opt.comm = comm;
    for (size_t e = 0;; e++) {
        if (rank == 1 && e == 2) {
            printf("rank 1: killing itself (SIGKILL) at epoch 3\n");
            fflush(stdout);
            raise(SIGKILL);
        }
        clmlp_status s = clmlp_train_epoch(net, data, &opt, e, NULL);
        if (s != CLMLP_OK) { /* Open MPI may report the dead peer before mpirun kills this rank */
            printf("rank %d: %s: %s\n", rank, clmlp_strerror(s), clmlp_last_error());
            fflush(stdout);
            MPI_Abort(MPI_COMM_WORLD, 3);
        }
    }
}

/* ---- refusals ---- */

static void mismatch(const clmlp_comm *comm)
{
    struct {
        const char *what, *message;
        double lr;
        size_t hidden, epoch;
    } cases[] = {
        {"another learning rate on rank 1", "rank 1's training options differ from rank 0's", 0.3, N_HIDDEN, 0},
        {"another net on rank 1", "rank 1's net sizes differ from rank 0's", 0.2, N_HIDDEN + 1, 0},
        {"another epoch on rank 1", "rank 1's epoch differs from rank 0's", 0.2, N_HIDDEN, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int odd = rank == 1;
        clmlp_net *net = make_net(CLMLP_LOSS_SOFTMAX_CE, 100, odd ? cases[i].hidden : N_HIDDEN);
        clmlp_dataset *data = make_dataset(net, CLMLP_LOSS_SOFTMAX_CE);
        clmlp_train_options opt;
        sgd_momentum(&opt);
        opt.comm = comm;
        opt.lr = odd ? cases[i].lr : 0.2;
        clmlp_status s = clmlp_train_epoch(net, data, &opt, odd ? cases[i].epoch : 0, NULL);
        check(s == CLMLP_EINVAL && strstr(clmlp_last_error(), cases[i].message), "%s: refused on every rank: %s",
              cases[i].what, clmlp_last_error());
        clmlp_dataset_destroy(data);
        clmlp_destroy(net);
    }
    /* a local failure of the checks on one rank reaches every rank at once */
    clmlp_net *net = make_net(CLMLP_LOSS_SOFTMAX_CE, 100, N_HIDDEN);
    clmlp_dataset *data = make_dataset(net, CLMLP_LOSS_SOFTMAX_CE);
    clmlp_train_options opt;
    sgd_momentum(&opt);
    opt.comm = comm;
    opt.batch = rank == 1 ? 0 : BATCH;
    clmlp_status s = clmlp_train_epoch(net, data, &opt, 0, NULL);
    check(rank == 1 ? s == CLMLP_EINVAL : s == CLMLP_ECOMM && strstr(clmlp_last_error(), "rank 1 failed"),
          "batch 0 on rank 1 only: %s: %s", clmlp_strerror(s), clmlp_last_error());
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
}

static void arguments(void)
{
    clmlp_comm *comm = NULL;
    check(clmlp_comm_create(MPI_COMM_WORLD, -1, &comm) == CLMLP_EINVAL && !comm, "a negative timeout is refused");
    check(clmlp_comm_create(MPI_COMM_WORLD, NAN, &comm) == CLMLP_EINVAL, "a NaN timeout is refused");
    check(clmlp_comm_create(MPI_COMM_NULL, 0, &comm) == CLMLP_EINVAL, "MPI_COMM_NULL is refused");
    check(clmlp_comm_create(MPI_COMM_WORLD, 0, NULL) == CLMLP_EINVAL, "a NULL out is refused");
    check(clmlp_comm_rank(NULL) == 0 && clmlp_comm_size(NULL) == 1, "NULL is rank 0 of 1");
    check(clmlp_comm_sum(NULL, NULL, 0) == CLMLP_EINVAL, "clmlp_comm_sum(NULL) is refused");
    check(clmlp_comm_broadcast_net(NULL, NULL, NULL) == CLMLP_EINVAL, "clmlp_comm_broadcast_net(NULL) is refused");
    clmlp_comm_destroy(NULL);
}

/* clmlp_comm_broadcast_net: rank 0's weights and a value reach every rank. */
static void broadcast(const clmlp_comm *comm)
{
    clmlp_net *net = make_net(CLMLP_LOSS_MSE, 200 + (uint64_t)rank, N_HIDDEN);
    clmlp_net *root = make_net(CLMLP_LOSS_MSE, 200, N_HIDDEN); /* what rank 0's is */
    size_t value = rank == 0 ? 42 : 0, n, n_root;
    OK(clmlp_comm_broadcast_net(comm, net, &value));
    double *w = weights(net, &n), *w_root = weights(root, &n_root);
    check(value == 42 && n == n_root && memcmp(w, w_root, n * sizeof *w) == 0,
          "clmlp_comm_broadcast_net: rank 0's weights (seed 200) and value 42 here (value %zu)", value);
    free(w);
    free(w_root);
    clmlp_destroy(net);
    clmlp_destroy(root);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const char *mode = argc > 1 ? argv[1] : "equivalence";
    make_data();
    if (strcmp(mode, "stuck") == 0)
        stuck();
    if (strcmp(mode, "killed") == 0)
        killed();
    clmlp_comm *comm = NULL;
    OK(clmlp_comm_create(MPI_COMM_WORLD, 60, &comm));
    check(clmlp_comm_rank(comm) == rank && clmlp_comm_size(comm) == size, "rank %d of %d", clmlp_comm_rank(comm),
          clmlp_comm_size(comm));
    if (strcmp(mode, "equivalence") == 0) {
        arguments();
        broadcast(comm);
        equivalence(comm);
    } else if (strcmp(mode, "failing") == 0)
        failing(comm);
    else if (strcmp(mode, "mismatch") == 0)
        mismatch(comm);
    else
        check(0, "unknown mode %s", mode);
    clmlp_comm_destroy(comm);
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    MPI_Finalize();
    return all ? 1 : 0;
}
