/* Minibatch SGD over a device-resident dataset: per step, gather the shuffled batch,
 * forward, output delta, counters, backward with each layer updated as soon as its
 * weights are no longer needed (in the gradient's own kernel where the backend can).
 * Nothing is read back inside an epoch except the two counters at each report. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "checked.h"
#include "error.h"
#include "net_internal.h"
#include "rng.h"

/* Float counters are exact up to 2^24; read and zero them at least this often. */
enum { FLUSH_SAMPLES = 1 << 22 };

void clmlp_train_options_init(clmlp_train_options *opt)
{
    if (!opt)
        return;
    *opt = (clmlp_train_options){.batch = 128, .lr = 0.1, .momentum = 0, .weight_decay = 0, .lr_decay = 1,
                                 .seed = 0, .report_every = 0, .progress = NULL, .user = NULL};
}

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static clmlp_status check_options(const clmlp_train_options *o)
{
    if (o->batch == 0)
        return clmlp_fail(CLMLP_EINVAL, "training: batch size 0");
    if (!(isfinite(o->lr) && o->lr >= 0))
        return clmlp_fail(CLMLP_EINVAL, "training: learning rate %g is not finite and >= 0", o->lr);
    if (!(o->momentum >= 0 && o->momentum < 1))
        return clmlp_fail(CLMLP_EINVAL, "training: momentum %g is not in [0, 1)", o->momentum);
    if (!(isfinite(o->weight_decay) && o->weight_decay >= 0))
        return clmlp_fail(CLMLP_EINVAL, "training: weight decay %g is not finite and >= 0", o->weight_decay);
    if (!(isfinite(o->lr_decay) && o->lr_decay > 0))
        return clmlp_fail(CLMLP_EINVAL, "training: learning-rate decay %g is not finite and > 0", o->lr_decay);
    return CLMLP_OK;
}

/* A seeded Fisher-Yates shuffle of 0..count-1, uploaded as the epoch's order. */
static clmlp_status upload_shuffle(clmlp_net *net, size_t count, uint64_t seed, size_t epoch)
{
    const clmlp_backend_ops *ops = net->be->ops;
    if (net->order && net->order_n < count) {
        ops->release_indices(net->be, net->order);
        net->order = NULL;
    }
    if (!net->order) {
        TRY(ops->alloc_indices(net->be, count, &net->order));
        net->order_n = count;
    }
    uint32_t *order = clmlp_alloc_array(count, sizeof *order);
    if (!order)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu indices", count);
    uint64_t state = seed ^ (0xD1B54A32D192ED03ull * (epoch + 1));
    for (size_t i = 0; i < count; i++)
        order[i] = (uint32_t)i;
    for (size_t i = count - 1; i > 0; i--) {
        size_t j = (size_t)(clmlp_rng_next(&state) % (i + 1));
        uint32_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    clmlp_status s = ops->upload_indices(net->be, net->order, order, count);
    free(order);
    return s;
}

/* The net as the fused per-sample operation sees it; 0 when it does not fit. */
static int fused_view(const clmlp_net *net, clmlp_fused_net *view)
{
    if (net->L > CLMLP_FUSED_MAX_LAYERS || !net->be->ops->train_per_sample)
        return 0;
    *view = (clmlp_fused_net){.L = net->L, .n = net->n, .loss = net->cfg.loss};
    for (size_t l = 1; l <= net->L; l++) {
        view->W[l] = net->layers[l].W;
        view->b[l] = net->layers[l].b;
        view->vW[l] = net->layers[l].vW;
        view->vb[l] = net->layers[l].vb;
    }
    return 1;
}

clmlp_status clmlp_train_epoch(clmlp_net *net, const clmlp_dataset *train, const clmlp_train_options *opt,
                               size_t epoch, clmlp_epoch_stats *stats)
{
    clmlp_train_options defaults;
    clmlp_train_options_init(&defaults);
    if (!net || !train)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_train_epoch: %s is NULL", !net ? "net" : "train");
    if (train->net != net)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_train_epoch: the dataset was loaded for another net");
    opt = opt ? opt : &defaults;
    TRY(check_options(opt));
    size_t batch = opt->batch < train->count ? opt->batch : train->count;

    TRY(clmlp_net_reserve(net, batch));
    TRY(clmlp_net_reserve_counters(net, 0));
    TRY(clmlp_net_reserve_velocities(net));
    if (opt->momentum == 0) /* no velocity then (the kernels skip it): a later momentum starts afresh, as torch's */
        for (size_t l = 1; l <= net->L; l++) {
            TRY(net->be->ops->fill(net->be, net->layers[l].vW, net->n[l] * net->n[l - 1], 0));
            TRY(net->be->ops->fill(net->be, net->layers[l].vb, net->n[l], 0));
        }
    TRY(upload_shuffle(net, train->count, opt->seed, epoch));
    net->batch = 0; /* training overwrites the forward state and the gradients */
    net->have_grad = 0;
    net->weights_moved = 1;

    const clmlp_backend_ops *ops = net->be->ops;
    const size_t L = net->L;
    clmlp_sgd sgd = {.lr = opt->lr * pow(opt->lr_decay, (double)epoch), .momentum = opt->momentum,
                     .weight_decay = opt->weight_decay};
    double sums[3] = {0, 0, 0}, start = now_seconds();
    size_t done = 0, step = 0, since_flush = 0;
    int stopped = 0;
    clmlp_fused_net fused;
    int use_fused = batch == 1 && fused_view(net, &fused);
    while (done < train->count && !stopped) {
        size_t rows = train->count - done < batch ? train->count - done : batch;
        if (use_fused) { /* steps until the next report or flush, in one call */
            size_t until_report = opt->report_every ? opt->report_every - step % opt->report_every : SIZE_MAX;
            size_t steps = train->count - done;
            steps = steps < until_report ? steps : until_report;
            steps = steps < FLUSH_SAMPLES - since_flush ? steps : FLUSH_SAMPLES - since_flush;
            TRY(ops->train_per_sample(net->be, &fused, train->pixels, train->x_scale, train->x_shift, train->y,
                                      net->order, done, steps, sgd.lr, opt->momentum, opt->weight_decay, net->stats));
            rows = steps;
            step += steps - 1;
        } else {
            sgd.grad_scale = 1.0 / (double)rows; /* the loss is averaged over the batch */
            TRY(ops->gather_pixels(net->be, train->pixels, train->n_in, net->order, done, rows, train->x_scale,
                                   train->x_shift, net->layers[0].a));
            TRY(ops->gather_rows(net->be, train->y, train->n_out, net->order, done, rows, net->y));
            TRY(clmlp_net_forward_pass(net, rows));
            TRY(clmlp_net_output_delta(net, rows));
            TRY(ops->batch_stats(net->be, rows, net->n[L], net->layers[L].a, net->y, net->row_loss, step + 1,
                                 net->stats));
            TRY(clmlp_net_backward_pass(net, rows, &sgd));
        }
        done += rows;
        step++;
        since_flush += rows;
        int report = opt->report_every && step % opt->report_every == 0;
        if (report || since_flush >= FLUSH_SAMPLES || done == train->count) {
            TRY(clmlp_net_flush_counters(net, sums, NULL));
            since_flush = 0;
            if (sums[2] > 0 || !isfinite(sums[0]))
                return clmlp_fail(CLMLP_ENUMERIC,
                                  "training diverged: the loss became %g at epoch %zu step %.0f "
                                  "(learning rate too large?)",
                                  sums[0], epoch + 1, sums[2] > 0 ? sums[2] : (double)step);
            if (report && opt->progress)
                stopped = opt->progress(opt->user, done, train->count, sums[0] / (double)done);
        }
    }
    if (stats)
        *stats = (clmlp_epoch_stats){.loss = sums[0] / (double)done, .accuracy = sums[1] / (double)done,
                                     .samples = done, .seconds = now_seconds() - start};
    return CLMLP_OK;
}
