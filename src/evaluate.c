/* Loss, accuracy and confusion matrix of a net on a dataset, counted on the device. */
#include <math.h>
#include <stdlib.h>

#include "checked.h"
#include "error.h"
#include "net_internal.h"

enum { EVAL_BATCH = 1024, FLUSH_SAMPLES = 1 << 22 };

clmlp_status clmlp_evaluate(clmlp_net *net, const clmlp_dataset *data, clmlp_eval *out)
{
    if (!net || !data || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_evaluate: %s is NULL", !net ? "net" : !data ? "data" : "out");
    if (data->net != net)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_evaluate: the dataset was loaded for another net");
    const size_t L = net->L, classes = net->n[L];
    size_t batch = data->count < EVAL_BATCH ? data->count : EVAL_BATCH;
    size_t cells;
    if (!clmlp_mul_ok(classes, classes, &cells))
        return clmlp_fail(CLMLP_ENOMEM, "clmlp_evaluate: a %zu × %zu confusion matrix overflows size_t", classes,
                          classes);
    TRY(clmlp_net_reserve(net, batch));
    TRY(clmlp_net_reserve_counters(net, 1));
    double sums[3] = {0, 0, 0}, *confusion = calloc(cells, sizeof *confusion);
    if (!confusion)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a %zu × %zu confusion matrix", classes, classes);
    net->batch = 0; /* the batches overwrite the forward state */
    net->have_grad = 0;

    const clmlp_backend_ops *ops = net->be->ops;
    clmlp_status s = CLMLP_OK;
    size_t done = 0, since_flush = 0;
    while (s == CLMLP_OK && done < data->count) {
        size_t rows = data->count - done < batch ? data->count - done : batch;
        s = ops->gather_pixels(net->be, data->pixels, data->n_in, data->identity, done, rows, data->x_scale,
                               data->x_shift, net->layers[0].a);
        if (s == CLMLP_OK)
            s = ops->gather_rows(net->be, data->y, data->n_out, data->identity, done, rows, net->y);
        if (s == CLMLP_OK)
            s = clmlp_net_forward_pass(net, rows);
        if (s == CLMLP_OK)
            s = clmlp_net_output_delta(net, rows);
        if (s == CLMLP_OK)
            s = ops->batch_stats(net->be, rows, classes, net->layers[L].a, net->y, net->row_loss, 0, net->stats);
        if (s == CLMLP_OK)
            s = ops->confusion_update(net->be, rows, classes, net->layers[L].a, net->y, net->confusion);
        done += rows;
        since_flush += rows;
        if (s == CLMLP_OK && (since_flush >= FLUSH_SAMPLES || done == data->count)) {
            s = clmlp_net_flush_counters(net, sums, confusion);
            since_flush = 0;
        }
    }
    if (s == CLMLP_OK && !isfinite(sums[0]))
        s = clmlp_fail(CLMLP_ENUMERIC, "evaluation: the loss is %g; the net diverged", sums[0]);
    if (s == CLMLP_OK) {
        out->loss = sums[0] / (double)data->count;
        out->accuracy = sums[1] / (double)data->count;
        out->n = data->count;
        out->classes = classes;
        if (out->confusion)
            for (size_t c = 0; c < cells; c++)
                out->confusion[c] = (size_t)confusion[c];
    }
    free(confusion);
    return s;
}
