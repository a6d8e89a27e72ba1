/* The net object, shared by the files that drive it (net.c, train.c, dataset.c). */
#ifndef CLMLP_NET_INTERNAL_H
#define CLMLP_NET_INTERNAL_H

#include "backend.h"
#include "error.h"

typedef struct layer {
    clmlp_buf *W, *b, *dW, *db; /* parameters and their gradients (l ≥ 1) */
    clmlp_buf *z, *a, *delta;   /* batch × n_l state; layer 0 has only a, the input */
    clmlp_buf *vW, *vb;         /* momentum velocities, allocated by the first training epoch */
} layer;

struct clmlp_net {
    clmlp_be *be;
    clmlp_config cfg;
    size_t L;
    size_t *n;         /* n[0..L] */
    layer *layers;     /* [0..L] */
    clmlp_buf *y;      /* targets, batch × n_L */
    clmlp_buf *row_loss;
    size_t capacity;   /* rows the batch buffers hold */
    size_t batch;      /* rows of the last forward; 0: no usable forward state */
    int weights_moved; /* weights changed since the last forward: backward would mix them */
    int have_grad;
    /* training and evaluation state, allocated on first use */
    clmlp_buf *stats;     /* loss sum, correct count, first step with a non-finite loss */
    clmlp_buf *confusion; /* n_L × n_L counts */
    clmlp_ibuf *order;    /* sample order of the epoch */
    size_t order_n;
};


/* A dataset resident on its net's backend: inputs and one-hot targets, row-major. */
struct clmlp_dataset {
    clmlp_net *net;
    size_t count, n_in, n_out;
    clmlp_bbuf *pixels;       /* count × n_in cropped pixels: 1 byte per input on the device */
    double x_scale, x_shift;  /* input = fma(pixel, x_scale, x_shift) */
    clmlp_buf *y;             /* count × n_out targets */
    clmlp_ibuf *identity; /* 0, 1, …, count − 1: the order of an evaluation */
};

/* Makes the batch buffers hold at least `rows` rows (a failure changes nothing). */
clmlp_status clmlp_net_reserve(clmlp_net *net, size_t rows);
/* The forward pass over `batch` rows already in layers[0].a. */
clmlp_status clmlp_net_forward_pass(clmlp_net *net, size_t batch);
/* The output delta (targets already in net->y, row losses into net->row_loss). */
clmlp_status clmlp_net_output_delta(clmlp_net *net, size_t batch);
/* For l = L..1: delta[l-1] (from W[l]), then dW[l] and db[l]; with sgd (training),
 * W[l] and b[l] take the SGD step instead and the gradients are not kept. */
clmlp_status clmlp_net_backward_pass(clmlp_net *net, size_t batch, const clmlp_sgd *sgd);

/* The momentum velocities of layer l (zeros before any training), and setting them. */
clmlp_status clmlp_net_read_velocity(const clmlp_net *net, size_t l, double *vW, double *vb);
clmlp_status clmlp_net_write_velocity(clmlp_net *net, size_t l, const double *vW, const double *vb);
/* Allocates the momentum velocities (zeroed) if missing. */
clmlp_status clmlp_net_reserve_velocities(clmlp_net *net);

/* Allocates the loss/correct counters (and, when classes > 0, the confusion matrix)
 * if missing. */
clmlp_status clmlp_net_reserve_counters(clmlp_net *net, int confusion);
/* Adds the counters to sums[0..1], keeps the first diverging step in sums[2] (0: none),
 * adds the confusion matrix to confusion (n_L² entries) when not NULL, then zeroes
 * them on the device: float counters stay exact. */
clmlp_status clmlp_net_flush_counters(clmlp_net *net, double *sums, double *confusion);

#endif
