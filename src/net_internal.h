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
};

/* A dataset resident on its net's backend: inputs as pixels and targets, row-major. */
struct clmlp_dataset {
    clmlp_net *net;
    size_t count, n_in, n_out;
    clmlp_buf *pixels;       /* count × n_in cropped pixels (bytes): 1 byte per input on the device */
    double x_scale, x_shift; /* input = fma(pixel, x_scale, x_shift) */
    clmlp_buf *y;            /* count × n_out targets */
    clmlp_buf *identity;     /* 0, 1, …, count − 1: the order of an evaluation */
};

/* The net as the backend's operations see it. */
static inline clmlp_layers clmlp_net_layers(const clmlp_net *net)
{
    return (clmlp_layers){.L = net->L, .n = net->n, .loss = net->cfg.loss, .layer = net->layers};
}

/* The momentum velocities of layer l (zeros before any training), and setting them. */
clmlp_status clmlp_net_read_velocity(const clmlp_net *net, size_t l, double *vW, double *vb);
clmlp_status clmlp_net_write_velocity(clmlp_net *net, size_t l, const double *vW, const double *vb);

#endif
