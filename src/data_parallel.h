/*
 * Data-parallel training over a communicator (comm.h), as PyTorch DDP does it: every rank
 * holds the same weights, trains its contiguous share of each step's rows, and the summed
 * gradients of one allreduce give every rank the same update. Each collective carries
 * the ranks' local statuses, so a failure anywhere stops every rank at the same step.
 */
#ifndef CLMLP_DATA_PARALLEL_H
#define CLMLP_DATA_PARALLEL_H

#include "comm.h"
#include "step.h"

/* Every rank's local status of one point of the program, agreed on: CLMLP_OK when all
 * succeeded; else the failing rank returns its own status and message, the others
 * CLMLP_ECOMM naming the lowest failing rank and its message. values[0 … n−1] (n may be
 * 0) are summed over the ranks by the same allreduce, and values[n] must exist (the
 * flag's slot). `what` names the point in errors. */
clmlp_status clmlp_dp_agree(const clmlp_comm *c, clmlp_status local, double *values, size_t n, const char *what);

/* The start of an epoch: the ranks agree on the library, the net, the options, the data's
 * shape and the epoch (CLMLP_EINVAL naming the first rank and what differs), given each
 * rank's status of its own checks (net and train may be NULL when local failed); the
 * first time the net meets c, rank 0's weights and optimizer state are broadcast. */
clmlp_status clmlp_dp_begin_epoch(const clmlp_comm *c, clmlp_status local, clmlp_net *net, const clmlp_dataset *train,
                                  const clmlp_train_options *opt, size_t epoch);

/* One step of `batch` global rows from row `first` of the epoch's order (step numbered
 * step + 1): this rank's share of the gradient, the allreduce, the update with
 * grad_scale 1/rows. *rows receives the step's global rows. */
clmlp_status clmlp_dp_train_step(const clmlp_comm *c, clmlp_net *net, const clmlp_dataset *data, size_t first,
                                 size_t batch, const clmlp_rule *rule, size_t epoch, size_t step, size_t *rows);

/* The host buffer of the gradients' allreduce, allocated (and agreed on) before the
 * first sum; local is this rank's status so far. */
clmlp_status clmlp_dp_prepare(const clmlp_comm *c, clmlp_net *net, clmlp_status local, const char *what);
/* The gradients dW, db of every layer summed over the ranks, in place: one allreduce that
 * carries local too (clmlp_dp_agree). Needs clmlp_dp_prepare. */
clmlp_status clmlp_dp_sum_gradients(const clmlp_comm *c, clmlp_net *net, clmlp_status local, const char *what);

/* The training counters of every rank added to sums (as clmlp_step_read_counters does
 * for one: loss, correct, the first diverging step), then zeroed on the device. */
clmlp_status clmlp_dp_read_counters(const clmlp_comm *c, clmlp_net *net, double *sums, const char *what);

/* Nonzero on every rank when `stop` is nonzero on any. */
clmlp_status clmlp_dp_any(const clmlp_comm *c, int *stop, const char *what);

#endif
