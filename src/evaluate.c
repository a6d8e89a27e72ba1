/* Loss, accuracy and confusion matrix of a net on a dataset: a loop over evaluation
 * batches (step.c), counted on the device. */
#include <math.h>
#include <stdlib.h>

#include "error.h"
#include "net_internal.h"
#include "step.h"

enum { EVAL_BATCH = 1024, FLUSH_SAMPLES = 1 << 22 };

clmlp_status clmlp_evaluate(clmlp_net *net, const clmlp_dataset *data, clmlp_eval *out)
{
    if (!net || !data || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_evaluate: %s is NULL", !net ? "net" : !data ? "data" : "out");
    if (data->net != net)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_evaluate: the dataset was loaded for another net");
    const size_t classes = clmlp_layer_size(net, clmlp_num_layers(net));
    size_t count = clmlp_dataset_count(data), batch = count < EVAL_BATCH ? count : EVAL_BATCH;
    TRY(clmlp_step_begin_evaluation(net, batch));
    size_t cells = classes * classes; /* checked by clmlp_step_begin_evaluation */
    double sums[3] = {0, 0, 0}, *confusion = calloc(cells, sizeof *confusion);
    if (!confusion)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a %zu × %zu confusion matrix", classes, classes);
    clmlp_status s = CLMLP_OK;
    size_t done = 0, since_flush = 0;
    while (s == CLMLP_OK && done < count) {
        size_t rows = count - done < batch ? count - done : batch;
        s = clmlp_step_evaluate(net, data, done, rows);
        done += rows;
        since_flush += rows;
        if (s == CLMLP_OK && (since_flush >= FLUSH_SAMPLES || done == count)) {
            s = clmlp_step_read_counters(net, sums, confusion);
            since_flush = 0;
        }
    }
    if (s == CLMLP_OK && !isfinite(sums[0]))
        s = clmlp_fail(CLMLP_ENUMERIC, "evaluation: the loss is %g; the net diverged", sums[0]);
    if (s == CLMLP_OK) {
        out->loss = sums[0] / (double)count;
        out->accuracy = sums[1] / (double)count;
        out->n = count;
        out->classes = classes;
        if (out->confusion)
            for (size_t c = 0; c < cells; c++)
                out->confusion[c] = (size_t)confusion[c];
    }
    free(confusion);
    return s;
}
