/* An epoch of minibatch training over a device-resident dataset: the options, the seeded
 * shuffle, and the loop over training steps (step.c) with its reports. Nothing is read
 * back inside an epoch except the counters at each report. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "checked.h"
#include "clock.h"
#include "data_parallel.h"
#include "error.h"
#include "net_internal.h"
#include "rng.h"
#include "step.h"

/* Float counters are exact up to 2^24; read and zero them at least this often. */
enum { FLUSH_SAMPLES = 1 << 22 };

void clmlp_train_options_init(clmlp_train_options *opt)
{
    if (!opt)
        return;
    *opt = (clmlp_train_options){.batch = 128,
                                 .lr = 0.1,
                                 .optimizer = CLMLP_OPT_SGD,
                                 .momentum = 0,
                                 .weight_decay = 0,
                                 .beta1 = 0.9,
                                 .beta2 = 0.999,
                                 .eps = 1e-8,
                                 .lr_decay = 1,
                                 .seed = 0,
                                 .report_every = 0,
                                 .progress = NULL,
                                 .user = NULL,
                                 .comm = NULL};
}

clmlp_status clmlp_train_options_check(const clmlp_train_options *o)
{
    if (o->optimizer != CLMLP_OPT_SGD && o->optimizer != CLMLP_OPT_ADAM)
        return clmlp_fail(CLMLP_EINVAL, "training: optimizer %d is not CLMLP_OPT_SGD or CLMLP_OPT_ADAM",
                          (int)o->optimizer);
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return clmlp_fail(CLMLP_EINVAL, "training: Adam's beta1 %g and beta2 %g must be in [0, 1)", o->beta1, o->beta2);
    if (!(isfinite(o->eps) && o->eps > 0))
        return clmlp_fail(CLMLP_EINVAL, "training: Adam's eps %g is not finite and > 0", o->eps);
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

clmlp_rule clmlp_train_rule(const clmlp_train_options *o, double lr)
{
    return (clmlp_rule){.optimizer = o->optimizer,
                        .lr = lr,
                        .momentum = o->momentum,
                        .weight_decay = o->weight_decay,
                        .beta1 = o->beta1,
                        .beta2 = o->beta2,
                        .eps = o->eps};
}

/* A seeded Fisher-Yates shuffle of 0..count-1: the order of epoch `epoch`. */
static uint32_t *shuffle(size_t count, uint64_t seed, size_t epoch)
{
    uint32_t *order = clmlp_alloc_array(count, sizeof *order);
    if (order)
        clmlp_rng_shuffle(order, count, seed ^ (0xD1B54A32D192ED03ull * (epoch + 1)));
    return order;
}

/* The checks of clmlp_train_epoch's arguments. */
static clmlp_status check_epoch(const clmlp_net *net, const clmlp_dataset *train, const clmlp_train_options *opt)
{
    if (!net || !train)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_train_epoch: %s is NULL", !net ? "net" : "train");
    if (train->net != net)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_train_epoch: the dataset was loaded for another net");
    return clmlp_train_options_check(opt);
}

/* Before the epoch's steps: batch buffers, counters, state and the order. */
static clmlp_status begin_epoch(clmlp_net *net, const clmlp_dataset *train, const clmlp_train_options *opt,
                                size_t epoch, size_t batch, const clmlp_rule *rule)
{
    size_t count = clmlp_dataset_count(train);
    uint32_t *order = shuffle(count, opt->seed, epoch);
    if (!order)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu indices", count);
    clmlp_status s = clmlp_step_begin_training(net, batch, rule, order, count);
    free(order);
    return s;
}

/* The counters so far into sums, over every rank when data-parallel. */
static clmlp_status read_counters(clmlp_net *net, const clmlp_comm *comm, double *sums, size_t epoch, size_t step)
{
    if (!comm)
        return clmlp_step_read_counters(net, sums, NULL);
    char what[96];
    snprintf(what, sizeof what, "epoch %zu step %zu: the counters", epoch + 1, step);
    return clmlp_dp_read_counters(comm, net, sums, what);
}

clmlp_status clmlp_train_epoch(clmlp_net *net, const clmlp_dataset *train, const clmlp_train_options *opt, size_t epoch,
                               clmlp_epoch_stats *stats)
{
    clmlp_train_options defaults;
    clmlp_train_options_init(&defaults);
    opt = opt ? opt : &defaults;
    const clmlp_comm *comm = opt->comm;
    clmlp_status checked = check_epoch(net, train, opt);
    if (comm) /* every rank learns of any rank's failed check: none waits for the others */
        TRY(clmlp_dp_begin_epoch(comm, checked, net, train, opt, epoch));
    TRY(checked);
    size_t count = clmlp_dataset_count(train), batch = opt->batch < count ? opt->batch : count;
    /* a rank's share of a step needs at most ⌈batch / ranks⌉ rows of buffers; batch is plenty */
    clmlp_rule rule = clmlp_train_rule(opt, opt->lr * pow(opt->lr_decay, (double)epoch));
    clmlp_status s = begin_epoch(net, train, opt, epoch, batch, &rule);
    if (comm) {
        double flag[1];
        TRY(clmlp_dp_agree(comm, s, flag, 0, "starting a data-parallel epoch"));
    }
    TRY(s);

    double sums[3] = {0, 0, 0}, start = clmlp_seconds();
    size_t done = 0, step = 0, since_flush = 0;
    int stopped = 0;
    while (done < count && !stopped) {
        /* at most the steps until the next report, and the samples until the next flush */
        size_t max_steps = opt->report_every ? opt->report_every - step % opt->report_every : SIZE_MAX;
        size_t flush_steps = (FLUSH_SAMPLES - since_flush + batch - 1) / batch;
        max_steps = max_steps < flush_steps ? max_steps : flush_steps;
        size_t rows, steps = 1;
        if (comm)
            TRY(clmlp_dp_train_step(comm, net, train, done, batch, &rule, epoch, step, &rows));
        else
            TRY(clmlp_step_train(net, train, done, batch, max_steps, &rule, step, &rows, &steps));
        done += rows;
        step += steps;
        since_flush += rows;
        int report = opt->report_every && step % opt->report_every == 0;
        if (report || since_flush >= FLUSH_SAMPLES || done == count) {
            TRY(read_counters(net, comm, sums, epoch, step));
            since_flush = 0;
            if (sums[2] > 0 || !isfinite(sums[0]))
                return clmlp_fail(CLMLP_ENUMERIC,
                                  "training diverged: the loss became %g at epoch %zu step %.0f "
                                  "(learning rate too large?)",
                                  sums[0], epoch + 1, sums[2] > 0 ? sums[2] : (double)step);
            if (report && opt->progress)
                stopped = opt->progress(opt->user, done, count, sums[0] / (double)done);
            if (report && comm) { /* a stop on any rank stops every rank */
                char what[96];
                snprintf(what, sizeof what, "epoch %zu step %zu: the progress report", epoch + 1, step);
                TRY(clmlp_dp_any(comm, &stopped, what));
            }
        }
    }
    if (stats)
        *stats = (clmlp_epoch_stats){.loss = sums[0] / (double)done,
                                     .accuracy = sums[1] / (double)done,
                                     .samples = done,
                                     .seconds = clmlp_seconds() - start};
    return CLMLP_OK;
}
