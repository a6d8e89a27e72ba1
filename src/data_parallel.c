/* Data-parallel training over a communicator (see data_parallel.h). The collectives are
 * the same on every rank, in the same order and sizes: each decision that ends a call
 * early (a local error, a stop, a divergence) is first agreed on by all. */
#include "data_parallel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "clock.h"
#include "error.h"
#include "net_internal.h"

/* ---- agreeing on local statuses ---------------------------------------------- */

clmlp_status clmlp_dp_agree(const clmlp_comm *c, clmlp_status local, double *values, size_t n, const char *what)
{
    char mine[1024];
    snprintf(mine, sizeof mine, "%s", local != CLMLP_OK ? clmlp_last_error() : "");
    values[n] = local != CLMLP_OK;
    TRY(c->ops->allreduce(c, values, n + 1, CLMLP_REDUCE_SUM, what));
    if (values[n] == 0)
        return CLMLP_OK;
    /* the lowest failing rank tells every rank its status and message */
    double lowest = local != CLMLP_OK ? -(double)c->rank : -INFINITY;
    TRY(c->ops->allreduce(c, &lowest, 1, CLMLP_REDUCE_MAX, what));
    int root = (int)-lowest;
    struct {
        int32_t status;
        char message[480];
    } report = {(int32_t)local, ""};
    snprintf(report.message, sizeof report.message, "%.479s", mine);
    TRY(c->ops->broadcast(c, root, &report, sizeof report, what));
    if (local != CLMLP_OK)
        return clmlp_fail(local, "%s", mine);
    report.message[sizeof report.message - 1] = '\0';
    return clmlp_fail(CLMLP_ECOMM, "%s: rank %d failed (%s): %s", what, root,
                      clmlp_strerror((clmlp_status)report.status), report.message);
}

clmlp_status clmlp_dp_any(const clmlp_comm *c, int *stop, const char *what)
{
    double flag = *stop != 0;
    TRY(c->ops->allreduce(c, &flag, 1, CLMLP_REDUCE_MAX, what));
    *stop = flag != 0;
    return CLMLP_OK;
}

/* ---- what the ranks must have in common ---------------------------------------- */

enum { FP_VERSION, FP_SIZES, FP_LOSS_DTYPE, FP_OPTIONS, FP_DATA, FP_EPOCH, FP_FIELDS };
static const char *const fp_names[FP_FIELDS] = {
    "clmlp version", "net sizes", "loss or dtype", "training options", "training data (rows, columns, kind)", "epoch"};

/* FNV-1a, 64 bits: a fingerprint, not a defence against anyone */
static void mix(uint64_t *h, const void *bytes, size_t n)
{
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++)
        *h = (*h ^ p[i]) * 0x100000001B3ull;
}

#define MIX(h, v) mix((h), &(v), sizeof(v))

static void fingerprint(const clmlp_net *net, const clmlp_dataset *train, const clmlp_train_options *opt, size_t epoch,
                        uint64_t fp[FP_FIELDS])
{
    for (int f = 0; f < FP_FIELDS; f++)
        fp[f] = 0xCBF29CE484222325ull;
    const char *version = clmlp_version();
    mix(&fp[FP_VERSION], version, strlen(version));
    if (net) {
        mix(&fp[FP_SIZES], net->n, (net->L + 1) * sizeof *net->n);
        MIX(&fp[FP_LOSS_DTYPE], net->cfg.loss);
        MIX(&fp[FP_LOSS_DTYPE], net->cfg.dtype);
    }
    if (opt) { /* what decides the arithmetic and the sequence of collectives */
        const double reals[] = {opt->lr,    opt->momentum, opt->weight_decay, opt->beta1,
                                opt->beta2, opt->eps,      opt->lr_decay};
        const uint64_t counts[] = {opt->batch, (uint64_t)opt->optimizer, opt->seed, opt->report_every};
        mix(&fp[FP_OPTIONS], reals, sizeof reals);
        mix(&fp[FP_OPTIONS], counts, sizeof counts);
    }
    if (train) {
        const uint64_t shape[] = {train->count, train->n_in, train->n_out, train->pixels != NULL};
        mix(&fp[FP_DATA], shape, sizeof shape);
        if (train->pixels) {
            MIX(&fp[FP_DATA], train->x_scale);
            MIX(&fp[FP_DATA], train->x_shift);
        }
    }
    uint64_t e = epoch;
    MIX(&fp[FP_EPOCH], e);
}

/* Rank 0's fingerprint (fields first … last − 1) compared on every rank: the lowest rank
 * that differs, and in what, refused on every rank. */
static clmlp_status compare_fingerprints(const clmlp_comm *c, const uint64_t mine[FP_FIELDS], int first, int last,
                                         const char *what)
{
    uint64_t root[FP_FIELDS];
    memcpy(root, mine, sizeof root);
    TRY(c->ops->broadcast(c, 0, root, sizeof root, what));
    int differs = -1;
    for (int f = first; f < last && differs < 0; f++)
        if (mine[f] != root[f])
            differs = f;
    double lowest = differs >= 0 ? -((double)c->rank * FP_FIELDS + differs) : -INFINITY;
    TRY(c->ops->allreduce(c, &lowest, 1, CLMLP_REDUCE_MAX, what));
    if (!isfinite(lowest))
        return CLMLP_OK;
    long code = (long)-lowest;
    return clmlp_fail(CLMLP_EINVAL, "%s: rank %ld's %s differ%s from rank 0's", what, code / FP_FIELDS,
                      fp_names[code % FP_FIELDS],
                      code % FP_FIELDS == FP_EPOCH || code % FP_FIELDS == FP_VERSION ? "s" : "");
}

/* ---- broadcasting a net ------------------------------------------------------------ */

/* n doubles from rank 0 to every rank, with rank 0's status of reading them agreed on first. */
static clmlp_status broadcast_values(const clmlp_comm *c, clmlp_status read, double *values, size_t n, const char *what)
{
    double flag[1];
    TRY(clmlp_dp_agree(c, read, flag, 0, what));
    size_t bytes;
    if (!clmlp_mul_ok(n, sizeof *values, &bytes))
        return clmlp_fail(CLMLP_ENOMEM, "%s: %zu values overflow size_t", what, n);
    return c->ops->broadcast(c, 0, values, bytes, what);
}

/* Layer l's W, b (moment 0) or optimizer moment 1 or 2 from rank 0. */
static clmlp_status broadcast_layer(const clmlp_comm *c, clmlp_net *net, size_t l, int moment, int write,
                                    double *buffer)
{
    size_t n_w = net->n[l] * net->n[l - 1];
    double *W = buffer, *b = buffer + n_w;
    clmlp_status read = CLMLP_OK;
    if (c->rank == 0)
        read = moment ? clmlp_net_read_moment(net, moment, l, W, b) : clmlp_get_layer(net, l, W, b);
    char what[96];
    snprintf(what, sizeof what, "broadcasting layer %zu's %s", l, moment ? "optimizer state" : "weights");
    TRY(broadcast_values(c, read, buffer, n_w + net->n[l], what));
    clmlp_status s = CLMLP_OK;
    if (c->rank != 0 && write)
        s = moment ? clmlp_net_write_moment(net, moment, l, W, b) : clmlp_set_layer(net, l, W, b);
    double flag[1];
    return clmlp_dp_agree(c, s, flag, 0, what);
}

static clmlp_status broadcast_net(const clmlp_comm *c, clmlp_net *net, size_t *value)
{
    struct {
        int32_t state_of, moment1, moment2;
        uint64_t adam_steps, value;
    } head = {(int32_t)net->state_of, net->layers[1].vW != NULL, net->layers[1].sW != NULL, net->adam_steps,
              value ? *value : 0};
    TRY(c->ops->broadcast(c, 0, &head, sizeof head, "broadcasting the optimizer state"));
    size_t largest = 0;
    for (size_t l = 1; l <= net->L; l++) {
        size_t n = net->n[l] * net->n[l - 1] + net->n[l]; /* allocated: no overflow */
        largest = n > largest ? n : largest;
    }
    double *buffer = clmlp_alloc_array(largest, sizeof *buffer);
    double flag[1];
    TRY(clmlp_dp_agree(c, buffer ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu values", largest), flag, 0,
                       "broadcasting the net"));
    clmlp_status s = CLMLP_OK;
    for (size_t l = 1; l <= net->L && s == CLMLP_OK; l++) {
        s = broadcast_layer(c, net, l, 0, 1, buffer);
        /* a moment rank 0 lacks is zero, as a fresh one: written only where one exists */
        for (int moment = 1; moment <= 2 && s == CLMLP_OK; moment++) {
            int root_has = moment == 1 ? head.moment1 : head.moment2;
            int here = moment == 1 ? net->layers[l].vW != NULL : net->layers[l].sW != NULL;
            double any = root_has || here;
            if ((s = c->ops->allreduce(c, &any, 1, CLMLP_REDUCE_MAX, "broadcasting the optimizer state")) != CLMLP_OK)
                break;
            if (any)
                s = broadcast_layer(c, net, l, moment, root_has || here, buffer);
        }
    }
    free(buffer);
    TRY(s);
    net->state_of = (clmlp_optimizer)head.state_of;
    net->adam_steps = head.adam_steps;
    if (value)
        *value = (size_t)head.value;
    net->batch = 0; /* the forward state and gradients were this rank's own */
    net->have_grad = 0;
    net->weights_moved = 1;
    net->synced_with = c;
    return CLMLP_OK;
}

clmlp_status clmlp_comm_broadcast_net(const clmlp_comm *c, clmlp_net *net, size_t *value)
{
    if (!c)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_comm_broadcast_net: c is NULL");
    clmlp_status local = net ? CLMLP_OK : clmlp_fail(CLMLP_EINVAL, "clmlp_comm_broadcast_net: net is NULL");
    double flag[1];
    TRY(clmlp_dp_agree(c, local, flag, 0, "clmlp_comm_broadcast_net"));
    uint64_t fp[FP_FIELDS];
    fingerprint(net, NULL, NULL, 0, fp);
    TRY(compare_fingerprints(c, fp, FP_VERSION, FP_OPTIONS, "clmlp_comm_broadcast_net"));
    return broadcast_net(c, net, value);
}

clmlp_status clmlp_dp_begin_epoch(const clmlp_comm *c, clmlp_status local, clmlp_net *net, const clmlp_dataset *train,
                                  const clmlp_train_options *opt, size_t epoch)
{
    double flag[1];
    TRY(clmlp_dp_agree(c, local, flag, 0, "starting a data-parallel epoch"));
    uint64_t fp[FP_FIELDS];
    fingerprint(net, train, opt, epoch, fp);
    TRY(compare_fingerprints(c, fp, FP_VERSION, FP_FIELDS, "data-parallel training"));
    if (net->synced_with != c)
        TRY(broadcast_net(c, net, NULL));
    return clmlp_dp_prepare(c, net, CLMLP_OK, "data-parallel training: the gradients' buffer");
}

/* ---- gradients and counters ---------------------------------------------------------- */

static size_t flat_count(const clmlp_net *net)
{
    size_t total = 0;
    for (size_t l = 1; l <= net->L; l++)
        total += net->n[l] * net->n[l - 1] + net->n[l]; /* allocated: no overflow */
    return total;
}

clmlp_status clmlp_dp_prepare(const clmlp_comm *c, clmlp_net *net, clmlp_status local, const char *what)
{
    if (local == CLMLP_OK && !net->dp_flat) {
        size_t n = flat_count(net);
        net->dp_flat = clmlp_alloc_array(n + 1, sizeof *net->dp_flat);
        if (!net->dp_flat)
            local = clmlp_fail(CLMLP_ENOMEM, "cannot allocate the buffer of %zu gradients", n);
    }
    double flag[1];
    return clmlp_dp_agree(c, local, flag, 0, what);
}

static clmlp_status move_gradients(clmlp_net *net, int to_device)
{
    double *p = net->dp_flat;
    for (size_t l = 1; l <= net->L; l++) {
        clmlp_layer *ly = &net->layers[l];
        size_t n_w = net->n[l] * net->n[l - 1];
        if (to_device) {
            TRY(clmlp_buf_upload(net->be, ly->dW, 0, p, n_w));
            TRY(clmlp_buf_upload(net->be, ly->db, 0, p + n_w, net->n[l]));
        } else {
            TRY(clmlp_buf_download(net->be, ly->dW, p, n_w));
            TRY(clmlp_buf_download(net->be, ly->db, p + n_w, net->n[l]));
        }
        p += n_w + net->n[l];
    }
    return CLMLP_OK;
}

clmlp_status clmlp_dp_sum_gradients(const clmlp_comm *c, clmlp_net *net, clmlp_status local, const char *what)
{
    /* one allreduce: the gradients and the flag; a failing rank sends what its buffer holds */
    double start = clmlp_seconds();
    /* layer 1's bias gradient is the step's last result: reading one value waits for the
     * queue, so that the copies' time below is the copies' alone */
    if (local == CLMLP_OK)
        local = clmlp_buf_download(net->be, net->layers[1].db, net->dp_flat, 1);
    double computed = clmlp_seconds();
    if (local == CLMLP_OK)
        local = move_gradients(net, 0);
    double copied = clmlp_seconds();
    TRY(clmlp_dp_agree(c, local, net->dp_flat, flat_count(net), what));
    double reduced = clmlp_seconds();
    TRY(move_gradients(net, 1));
    net->dp_reduce_seconds += reduced - copied;
    net->dp_wait_seconds += computed - start;
    net->dp_copy_seconds += (copied - computed) + (clmlp_seconds() - reduced);
    net->dp_steps++;
    return CLMLP_OK;
}

clmlp_status clmlp_dp_train_step(const clmlp_comm *c, clmlp_net *net, const clmlp_dataset *data, size_t first,
                                 size_t batch, const clmlp_rule *rule, size_t epoch, size_t step, size_t *rows)
{
    size_t left = data->count - first, n = left < batch ? left : batch;
    size_t size = (size_t)c->size, rank = (size_t)c->rank;
    size_t base = n / size, extra = n % size;
    size_t mine = base + (rank < extra), offset = rank * base + (rank < extra ? rank : extra);
    char what[96];
    snprintf(what, sizeof what, "epoch %zu step %zu", epoch + 1, step + 1);
    clmlp_status local = clmlp_step_gradient(net, data, first + offset, mine, step);
    if (local != CLMLP_OK)
        local = clmlp_fail_context(local, "%s", what);
    TRY(clmlp_dp_sum_gradients(c, net, local, what));
    *rows = n;
    return clmlp_step_update(net, rule, 1.0 / (double)n); /* the loss is averaged over the global batch */
}

clmlp_status clmlp_dp_read_counters(const clmlp_comm *c, clmlp_net *net, double *sums, const char *what)
{
    double part[4] = {0, 0, 0, 0};
    clmlp_status local = clmlp_step_read_counters(net, part, NULL);
    double diverged = part[2];
    part[2] = diverged > 0;
    TRY(clmlp_dp_agree(c, local, part, 3, what));
    sums[0] += part[0];
    sums[1] += part[1];
    if (part[2] > 0) { /* the earliest step at which a rank's loss was not finite */
        double earliest = diverged > 0 ? -diverged : -INFINITY;
        TRY(c->ops->allreduce(c, &earliest, 1, CLMLP_REDUCE_MAX, what));
        if (sums[2] == 0)
            sums[2] = -earliest;
    }
    return CLMLP_OK;
}
