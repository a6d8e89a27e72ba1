/* One batch of training or evaluation as a sequence of backend operations (step.h). */
#include "step.h"

#include <math.h>
#include <stdlib.h>

#include "checked.h"

/* ---- buffers ------------------------------------------------------------ */

static void release_batch_state(clmlp_net *net, clmlp_layer *layers, clmlp_buf *y, clmlp_buf *row_loss)
{
    for (size_t l = 0; l <= net->L; l++) {
        clmlp_buf_release(net->be, layers[l].z);
        clmlp_buf_release(net->be, layers[l].a);
        clmlp_buf_release(net->be, layers[l].delta);
    }
    clmlp_buf_release(net->be, y);
    clmlp_buf_release(net->be, row_loss);
}

/* Growing allocates the new set before freeing the old, so a failure leaves the net as
 * it was. */
clmlp_status clmlp_step_reserve(clmlp_net *net, size_t rows)
{
    if (rows <= net->capacity)
        return CLMLP_OK;
    for (size_t l = 0; l <= net->L; l++) {
        size_t bytes;
        if (!clmlp_mul3_ok(rows, net->n[l], sizeof(double), &bytes))
            return clmlp_fail(CLMLP_ENOMEM, "a batch of %zu rows × n_%zu = %zu overflows size_t", rows, l, net->n[l]);
    }
    clmlp_layer *fresh = calloc(net->L + 1, sizeof *fresh);
    clmlp_buf *y = NULL, *row_loss = NULL;
    if (!fresh)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate batch state");
    clmlp_status s = CLMLP_OK;
    for (size_t l = 0; l <= net->L && s == CLMLP_OK; l++) {
        size_t count = rows * net->n[l];
        s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, count, &fresh[l].a);
        if (s == CLMLP_OK && l > 0)
            s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, count, &fresh[l].z);
        if (s == CLMLP_OK && l > 0)
            s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, count, &fresh[l].delta);
    }
    if (s == CLMLP_OK)
        s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, rows * net->n[net->L], &y);
    if (s == CLMLP_OK)
        s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, rows, &row_loss);
    if (s != CLMLP_OK) {
        release_batch_state(net, fresh, y, row_loss);
        free(fresh);
        return s;
    }
    release_batch_state(net, net->layers, net->y, net->row_loss);
    for (size_t l = 0; l <= net->L; l++) {
        net->layers[l].z = fresh[l].z;
        net->layers[l].a = fresh[l].a;
        net->layers[l].delta = fresh[l].delta;
    }
    free(fresh);
    net->y = y;
    net->row_loss = row_loss;
    net->capacity = rows;
    return CLMLP_OK;
}

void clmlp_step_release(clmlp_net *net)
{
    release_batch_state(net, net->layers, net->y, net->row_loss);
    clmlp_buf_release(net->be, net->stats);
    clmlp_buf_release(net->be, net->confusion);
    clmlp_buf_release(net->be, net->order);
}

/* *buf becomes n zeros, allocated if missing; a failure to zero a new buffer releases
 * it (never left allocated but unset). */
static clmlp_status zeroed(clmlp_net *net, size_t n, clmlp_buf **buf)
{
    if (*buf)
        return clmlp_buf_fill(net->be, *buf, n, 0.0);
    clmlp_buf *fresh;
    TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, n, &fresh));
    clmlp_status s = clmlp_buf_fill(net->be, fresh, n, 0.0);
    if (s != CLMLP_OK) {
        clmlp_buf_release(net->be, fresh);
        return s;
    }
    *buf = fresh;
    return CLMLP_OK;
}

/* ---- the passes ---------------------------------------------------------- */

static int apply_tanh(const clmlp_net *net, size_t l)
{
    return !(net->cfg.loss == CLMLP_LOSS_SOFTMAX_CE && l == net->L);
}

clmlp_status clmlp_step_forward_into(const clmlp_net *net, size_t batch, const clmlp_buf *a0, clmlp_buf *const *z,
                                     clmlp_buf *const *a)
{
    for (size_t l = 1; l <= net->L; l++) {
        const clmlp_layer *ly = &net->layers[l];
        clmlp_status s = net->be->ops->forward_layer(net->be, batch, net->n[l - 1], net->n[l], l == 1 ? a0 : a[l - 1],
                                                     ly->W, ly->b, apply_tanh(net, l), z[l], a[l]);
        if (s != CLMLP_OK)
            return clmlp_fail_context(s, "forward layer %zu", l);
    }
    return CLMLP_OK;
}

clmlp_status clmlp_step_forward(clmlp_net *net, size_t batch)
{
    for (size_t l = 1; l <= net->L; l++) {
        clmlp_layer *ly = &net->layers[l];
        clmlp_status s = net->be->ops->forward_layer(net->be, batch, net->n[l - 1], net->n[l], net->layers[l - 1].a,
                                                     ly->W, ly->b, apply_tanh(net, l), ly->z, ly->a);
        if (s != CLMLP_OK)
            return clmlp_fail_context(s, "forward layer %zu", l);
    }
    return CLMLP_OK;
}

static clmlp_status output_delta(clmlp_net *net, size_t batch)
{
    clmlp_layer *out = &net->layers[net->L];
    return net->be->ops->output_delta(net->be, net->cfg.loss, batch, net->n[net->L], out->z, out->a, net->y, out->delta,
                                      net->row_loss);
}

/* One update: SGD's step or Adam's (exactly one of the two set). */
typedef struct update {
    const clmlp_sgd *sgd;
    const clmlp_adam *adam;
} update;

/* Layer l's parameters take the update from the gradients in dW[l], db[l]. */
static clmlp_status apply_update(clmlp_net *net, size_t l, const update *u)
{
    const clmlp_backend_ops *ops = net->be->ops;
    clmlp_layer *ly = &net->layers[l];
    size_t n_w = net->n[l] * net->n[l - 1];
    if (u->adam) {
        TRY(ops->adam(net->be, n_w, u->adam, ly->dW, ly->vW, ly->sW, ly->W));
        return ops->adam(net->be, net->n[l], u->adam, ly->db, ly->vb, ly->sb, ly->b);
    }
    TRY(ops->sgd_momentum(net->be, n_w, u->sgd, ly->dW, ly->vW, ly->W));
    return ops->sgd_momentum(net->be, net->n[l], u->sgd, ly->db, ly->vb, ly->b);
}

/* Layer l's gradient, or with an update (training) its update: SGD's fused with the
 * gradient where the backend can. */
static clmlp_status layer_update(clmlp_net *net, size_t batch, size_t l, const update *u)
{
    const clmlp_backend_ops *ops = net->be->ops;
    clmlp_layer *ly = &net->layers[l];
    const clmlp_buf *a_prev = net->layers[l - 1].a;
    size_t n_in = net->n[l - 1], n_out = net->n[l];
    clmlp_layers view = clmlp_net_layers(net);
    if (u && u->sgd && ops->can(net->be, CLMLP_CAN_FUSE_WEIGHT_SGD, &view, batch))
        return ops->weight_grad_sgd(net->be, batch, n_in, n_out, ly->delta, a_prev, u->sgd, ly->W, ly->vW, ly->b,
                                    ly->vb);
    TRY(ops->weight_grad(net->be, batch, n_in, n_out, ly->delta, a_prev, ly->dW, ly->db));
    return u ? apply_update(net, l, u) : CLMLP_OK;
}

static clmlp_status backward_layers(clmlp_net *net, size_t batch, const update *sgd)
{
    for (size_t l = net->L; l >= 1; l--) {
        clmlp_layer *ly = &net->layers[l];
        clmlp_status s = CLMLP_OK;
        if (l > 1) /* before W[l] moves */
            s = net->be->ops->backprop_delta(net->be, batch, net->n[l - 1], net->n[l], ly->delta, ly->W,
                                             net->layers[l - 1].z, net->layers[l - 1].delta);
        if (s == CLMLP_OK)
            s = layer_update(net, batch, l, sgd);
        if (s != CLMLP_OK)
            return clmlp_fail_context(s, "backward layer %zu", l);
    }
    return CLMLP_OK;
}

clmlp_status clmlp_step_backward(clmlp_net *net, size_t batch)
{
    TRY(output_delta(net, batch));
    return backward_layers(net, batch, NULL);
}

clmlp_status clmlp_step_set_targets(clmlp_net *net, const double *y, size_t batch)
{
    return clmlp_buf_upload(net->be, net->y, 0, y, batch * net->n[net->L]);
}

clmlp_status clmlp_step_loss(clmlp_net *net, size_t batch, double *loss)
{
    double *rows = clmlp_alloc_array(batch, sizeof *rows);
    if (!rows)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu losses", batch);
    clmlp_status s = clmlp_buf_download(net->be, net->row_loss, rows, batch);
    double total = 0;
    for (size_t i = 0; s == CLMLP_OK && i < batch; i++)
        total += rows[i];
    free(rows);
    *loss = total;
    return s;
}

/* ---- training ------------------------------------------------------------ */

clmlp_status clmlp_step_prepare_state(clmlp_net *net, const clmlp_rule *rule)
{
    int adam = rule->optimizer == CLMLP_OPT_ADAM;
    int fresh = rule->optimizer != net->state_of || (!adam && rule->momentum == 0);
    for (size_t l = 1; l <= net->L; l++) { /* the state starts at zero and persists across epochs */
        clmlp_layer *ly = &net->layers[l];
        size_t n_w = net->n[l] * net->n[l - 1];
        /* SGD without momentum keeps no velocity (the kernels skip it): a later momentum starts afresh */
        if (!ly->vW || fresh)
            TRY(zeroed(net, n_w, &ly->vW));
        if (!ly->vb || fresh)
            TRY(zeroed(net, net->n[l], &ly->vb));
        if (adam && (!ly->sW || fresh))
            TRY(zeroed(net, n_w, &ly->sW));
        if (adam && (!ly->sb || fresh))
            TRY(zeroed(net, net->n[l], &ly->sb));
    }
    if (rule->optimizer != net->state_of)
        net->adam_steps = 0;
    net->state_of = rule->optimizer;
    return CLMLP_OK;
}

/* The settings of the next step: SGD's, or Adam's at t = adam_steps + 1 (counted). */
static void next_update(clmlp_net *net, const clmlp_rule *rule, double grad_scale, clmlp_sgd *sgd, clmlp_adam *adam,
                        update *u)
{
    if (rule->optimizer == CLMLP_OPT_ADAM) {
        double t = (double)++net->adam_steps;
        *adam = (clmlp_adam){.lr = rule->lr,
                             .grad_scale = grad_scale,
                             .beta1 = rule->beta1,
                             .beta2 = rule->beta2,
                             .eps = rule->eps,
                             .weight_decay = rule->weight_decay,
                             .correction1 = 1 - pow(rule->beta1, t),
                             .correction2 = 1 - pow(rule->beta2, t)};
        *u = (update){.adam = adam};
        return;
    }
    *sgd = (clmlp_sgd){
        .lr = rule->lr, .grad_scale = grad_scale, .momentum = rule->momentum, .weight_decay = rule->weight_decay};
    *u = (update){.sgd = sgd};
}

clmlp_status clmlp_step_update(clmlp_net *net, const clmlp_rule *rule, double grad_scale)
{
    TRY(clmlp_step_prepare_state(net, rule));
    clmlp_sgd sgd;
    clmlp_adam adam;
    update u;
    next_update(net, rule, grad_scale, &sgd, &adam, &u);
    for (size_t l = 1; l <= net->L; l++)
        TRY(apply_update(net, l, &u));
    return CLMLP_OK;
}

clmlp_status clmlp_step_begin_training(clmlp_net *net, size_t batch, const clmlp_rule *rule, const uint32_t *order,
                                       size_t count)
{
    TRY(clmlp_step_reserve(net, batch));
    TRY(zeroed(net, 3, &net->stats));
    TRY(clmlp_step_prepare_state(net, rule));
    if (net->order && net->order->n < count) {
        clmlp_buf_release(net->be, net->order);
        net->order = NULL;
    }
    if (!net->order)
        TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_INDEX, count, &net->order));
    TRY(clmlp_buf_upload_raw(net->be, net->order, 0, order, count));
    net->batch = 0; /* training overwrites the forward state and the gradients */
    net->have_grad = 0;
    net->weights_moved = 1;
    return CLMLP_OK;
}

/* A batch's inputs into a[0]: rows idx[first…] of the dataset's pixels (preprocessed
 * as they are gathered) or reals. */
static clmlp_status gather_inputs(clmlp_net *net, const clmlp_dataset *data, const clmlp_buf *idx, size_t first,
                                  size_t rows)
{
    const clmlp_backend_ops *ops = net->be->ops;
    if (data->pixels)
        return ops->gather_pixels(net->be, data->pixels, data->n_in, idx, first, rows, data->x_scale, data->x_shift,
                                  net->layers[0].a);
    return ops->gather_rows(net->be, data->x, data->n_in, idx, first, rows, net->layers[0].a);
}

/* Rows first … first + rows − 1 of the epoch's order through the forward pass, the
 * output delta and the counters (of step `step` + 1). */
static clmlp_status forward_counted(clmlp_net *net, const clmlp_dataset *data, size_t first, size_t rows, size_t step)
{
    const clmlp_backend_ops *ops = net->be->ops;
    TRY(gather_inputs(net, data, net->order, first, rows));
    TRY(ops->gather_rows(net->be, data->y, data->n_out, net->order, first, rows, net->y));
    TRY(clmlp_step_forward(net, rows));
    TRY(output_delta(net, rows));
    return ops->batch_stats(net->be, rows, net->n[net->L], net->layers[net->L].a, net->y, net->row_loss, step + 1,
                            net->stats);
}

clmlp_status clmlp_step_gradient(clmlp_net *net, const clmlp_dataset *data, size_t first, size_t rows, size_t step)
{
    if (rows == 0) { /* a rank without rows this step adds nothing to the sum */
        for (size_t l = 1; l <= net->L; l++) {
            TRY(clmlp_buf_fill(net->be, net->layers[l].dW, net->n[l] * net->n[l - 1], 0.0));
            TRY(clmlp_buf_fill(net->be, net->layers[l].db, net->n[l], 0.0));
        }
        return CLMLP_OK;
    }
    TRY(forward_counted(net, data, first, rows, step));
    return backward_layers(net, rows, NULL);
}

clmlp_status clmlp_step_train(clmlp_net *net, const clmlp_dataset *data, size_t first, size_t batch, size_t max_steps,
                              const clmlp_rule *rule, size_t step, size_t *rows, size_t *steps)
{
    const clmlp_backend_ops *ops = net->be->ops;
    size_t left = data->count - first;
    clmlp_layers view = clmlp_net_layers(net);
    clmlp_sgd sgd;
    clmlp_adam adam;
    update u;
    if (batch == 1 && data->pixels && rule->optimizer == CLMLP_OPT_SGD &&
        ops->can(net->be, CLMLP_CAN_TRAIN_PER_SAMPLE, &view, 1)) {
        size_t count = left < max_steps ? left : max_steps;
        next_update(net, rule, 1.0, &sgd, &adam, &u);
        TRY(ops->train_per_sample(net->be, &view, data->pixels, data->x_scale, data->x_shift, data->y, net->order,
                                  first, count, &sgd, net->stats));
        *rows = *steps = count;
        return CLMLP_OK;
    }
    size_t n = left < batch ? left : batch;
    TRY(forward_counted(net, data, first, n, step));
    next_update(net, rule, 1.0 / (double)n, &sgd, &adam, &u); /* the loss is averaged over the batch */
    TRY(backward_layers(net, n, &u));
    *rows = n;
    *steps = 1;
    return CLMLP_OK;
}

/* ---- evaluation ---------------------------------------------------------- */

clmlp_status clmlp_step_begin_evaluation(clmlp_net *net, size_t batch)
{
    size_t classes = net->n[net->L], cells;
    if (!clmlp_mul_ok(classes, classes, &cells))
        return clmlp_fail(CLMLP_ENOMEM, "a %zu × %zu confusion matrix overflows size_t", classes, classes);
    TRY(clmlp_step_reserve(net, batch));
    TRY(zeroed(net, 3, &net->stats));
    TRY(zeroed(net, cells, &net->confusion));
    net->batch = 0; /* the batches overwrite the forward state */
    net->have_grad = 0;
    return CLMLP_OK;
}

clmlp_status clmlp_step_evaluate(clmlp_net *net, const clmlp_dataset *data, size_t first, size_t rows)
{
    const clmlp_backend_ops *ops = net->be->ops;
    const size_t L = net->L;
    TRY(gather_inputs(net, data, data->identity, first, rows));
    TRY(ops->gather_rows(net->be, data->y, data->n_out, data->identity, first, rows, net->y));
    TRY(clmlp_step_forward(net, rows));
    TRY(output_delta(net, rows));
    TRY(ops->batch_stats(net->be, rows, net->n[L], net->layers[L].a, net->y, net->row_loss, 0, net->stats));
    return ops->confusion_update(net->be, rows, net->n[L], net->layers[L].a, net->y, net->confusion);
}

clmlp_status clmlp_step_read_counters(clmlp_net *net, double *sums, double *confusion)
{
    double counters[3];
    TRY(clmlp_buf_download(net->be, net->stats, counters, 3));
    sums[0] += counters[0];
    sums[1] += counters[1];
    if (sums[2] == 0)
        sums[2] = counters[2];
    TRY(clmlp_buf_fill(net->be, net->stats, 3, 0.0));
    if (!confusion)
        return CLMLP_OK;
    size_t cells = net->n[net->L] * net->n[net->L]; /* checked by clmlp_step_begin_evaluation */
    double *counts = clmlp_alloc_array(cells, sizeof *counts);
    if (!counts)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a %zu-cell confusion matrix", cells);
    clmlp_status s = clmlp_buf_download(net->be, net->confusion, counts, cells);
    for (size_t c = 0; s == CLMLP_OK && c < cells; c++)
        confusion[c] += counts[c];
    free(counts);
    TRY(s);
    return clmlp_buf_fill(net->be, net->confusion, cells, 0.0);
}
