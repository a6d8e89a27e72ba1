/* The net object, shared by the files that drive it: net.c (the API), step.c (one batch
 * of training or evaluation) and dataset.c / model_file.c (what they store). */
#ifndef CLMLP_NET_INTERNAL_H
#define CLMLP_NET_INTERNAL_H

#include "backend.h"
#include "error.h"

struct clmlp_net {
    clmlp_be *be;
    clmlp_config cfg; /* resolved (config.h) */
    size_t L;
    size_t *n;           /* n[0..L] */
    clmlp_layer *layers; /* [0..L]; parameters and gradients from l = 1, velocities once training starts */
    size_t batch;        /* rows of the last forward; 0: no usable forward state */
    int weights_moved;   /* weights changed since the last forward: backward would mix them */
    int have_grad;
    /* owned by step.c: batch buffers (targets, row losses) for `capacity` rows, the
     * loss/correct/first-diverging-step counters, the confusion matrix, the epoch's order */
    clmlp_buf *y, *row_loss;
    size_t capacity;
    clmlp_buf *stats, *confusion, *order;
    /* the optimizer the layers' vW, vb (and for Adam sW, sb) belong to, and Adam's t */
    clmlp_optimizer state_of;
    uint64_t adam_steps;
    double *input_mean, *input_std; /* n_0 each, or NULL: the standardization (host only) */
    /* data-parallel training (data_parallel.c): the communicator whose rank 0 the net was
     * last made equal to, and the host buffer of the gradients' allreduce */
    const clmlp_comm *synced_with;
    double *dp_flat;
    /* where the data-parallel steps' time goes (for bench/): waiting for the share's
     * computation, the gradients' copies between device and host, their allreduce; steps
     * counted */
    double dp_wait_seconds, dp_copy_seconds, dp_reduce_seconds;
    size_t dp_steps;
};

/* A dataset resident on its net's backend, row-major: inputs as pixels (from images)
 * or as reals (from arrays), and targets. */
struct clmlp_dataset {
    clmlp_net *net;
    size_t count, n_in, n_out;
    clmlp_buf *pixels;       /* count × n_in cropped pixels (bytes): 1 byte per input on the device */
    double x_scale, x_shift; /* input = fma(pixel, x_scale, x_shift) */
    clmlp_buf *x;            /* or count × n_in reals (pixels NULL) */
    clmlp_buf *y;            /* count × n_out targets */
    clmlp_buf *identity;     /* 0, 1, …, count − 1: the order of an evaluation */
};

/* Refuses NaN and Inf, and values a float net cannot hold, in v (rows × cols), naming
 * the element as what[row][column] (CLMLP_ENUMERIC). */
clmlp_status clmlp_check_finite(const clmlp_net *net, const double *v, size_t rows, size_t cols, const char *what);

/* The net as the backend's operations see it. */
static inline clmlp_layers clmlp_net_layers(const clmlp_net *net)
{
    return (clmlp_layers){.L = net->L, .n = net->n, .loss = net->cfg.loss, .layer = net->layers};
}

/* The optimizer state of layer l: moment 1 is SGD's velocity or Adam's first moment
 * (vW, vb), moment 2 Adam's second moment (sW, sb); zeros where none exists yet. Writing
 * allocates what is missing. The state's owner and Adam's t are net->state_of and
 * net->adam_steps. */
clmlp_status clmlp_net_read_moment(const clmlp_net *net, int moment, size_t l, double *W, double *b);
clmlp_status clmlp_net_write_moment(clmlp_net *net, int moment, size_t l, const double *W, const double *b);

#endif
