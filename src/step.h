/*
 * One step in one place: the sequence of backend operations for one batch — the
 * forward pass, the output delta, the batch statistics, the backward pass and the
 * update — for training (clmlp_step_train) and for evaluation (clmlp_step_evaluate),
 * and the pieces the API's clmlp_forward / clmlp_backward run. Which operations fuse is
 * decided here, by asking the backend (backend.h: can).
 */
#ifndef CLMLP_STEP_H
#define CLMLP_STEP_H

#include "net_internal.h"

/* How a training step updates the parameters: the optimizer of clmlp_train_options
 * with the learning rate of the epoch. */
typedef struct clmlp_rule {
    clmlp_optimizer optimizer;
    double lr, momentum, weight_decay; /* momentum: SGD only */
    double beta1, beta2, eps;          /* Adam only */
} clmlp_rule;

/* train.c: the options' checks, and the rule they give at learning rate lr. */
clmlp_status clmlp_train_options_check(const clmlp_train_options *opt);
clmlp_rule clmlp_train_rule(const clmlp_train_options *opt, double lr);

/* Batch buffers for at least `rows` rows; a failure changes nothing. */
clmlp_status clmlp_step_reserve(clmlp_net *net, size_t rows);
/* Releases everything step.c allocated for the net. */
void clmlp_step_release(clmlp_net *net);

/* The forward pass over `batch` rows already in a[0]. */
clmlp_status clmlp_step_forward(clmlp_net *net, size_t batch);
/* The forward pass of `batch` rows from input a0 through the net's W, b into z[1..L],
 * a[1..L] (arrays of L + 1 buffers, index 0 unused): the forward of clmlp_predict,
 * which touches nothing of the net. */
clmlp_status clmlp_step_forward_into(const clmlp_net *net, size_t batch, const clmlp_buf *a0, clmlp_buf *const *z,
                                     clmlp_buf *const *a);
/* After a forward, with the targets uploaded by clmlp_step_set_targets: delta[L] and
 * the row losses, then for l = L..1 delta[l-1] and the gradients dW[l], db[l]. */
clmlp_status clmlp_step_backward(clmlp_net *net, size_t batch);
clmlp_status clmlp_step_set_targets(clmlp_net *net, const double *y, size_t batch);
/* The loss of the last backward's rows, summed. */
clmlp_status clmlp_step_loss(clmlp_net *net, size_t batch, double *loss);

/* The optimizer state rule needs: SGD's velocities (zeroed when momentum is 0: torch
 * keeps none then) or Adam's moments; a state of the other optimizer starts afresh. */
clmlp_status clmlp_step_prepare_state(clmlp_net *net, const clmlp_rule *rule);
/* After a backward (gradients in dW, db): one update of every layer by rule on the
 * gradients times grad_scale (clmlp_update). */
clmlp_status clmlp_step_update(clmlp_net *net, const clmlp_rule *rule, double grad_scale);

/* Before an epoch: batch buffers, zeroed counters, the optimizer state, and the
 * epoch's sample order (count entries). */
clmlp_status clmlp_step_begin_training(clmlp_net *net, size_t batch, const clmlp_rule *rule, const uint32_t *order,
                                       size_t count);
/* Training steps of `batch` rows from row `first` of the epoch's order, numbered from
 * `step` + 1: one step, or where the backend runs batch-1 steps in one call, up to
 * max_steps of them. *rows receives the rows trained, *steps the steps taken. */
clmlp_status clmlp_step_train(clmlp_net *net, const clmlp_dataset *data, size_t first, size_t batch, size_t max_steps,
                              const clmlp_rule *rule, size_t step, size_t *rows, size_t *steps);

/* The gradients dW, db (summed over the rows, not yet scaled) of rows first … first +
 * rows − 1 of the epoch's order, counted as step `step` + 1; rows 0 gives zeros. The
 * share of one rank in data-parallel training: the update comes after the allreduce. */
clmlp_status clmlp_step_gradient(clmlp_net *net, const clmlp_dataset *data, size_t first, size_t rows, size_t step);

/* Before an evaluation: batch buffers and zeroed counters and confusion matrix. */
clmlp_status clmlp_step_begin_evaluation(clmlp_net *net, size_t batch);
/* One evaluation batch: rows first … first + rows − 1 of data, in order. */
clmlp_status clmlp_step_evaluate(clmlp_net *net, const clmlp_dataset *data, size_t first, size_t rows);

/* Adds the counters to sums[0..1] (loss, correct), keeps the first diverging step in
 * sums[2] (0: none), adds the confusion matrix to confusion (n_L² entries) when not
 * NULL, then zeroes them on the device: float counters stay exact. */
clmlp_status clmlp_step_read_counters(clmlp_net *net, double *sums, double *confusion);

#endif
