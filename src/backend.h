/*
 * The backend interface: what the host path (host_fallback/) and the OpenCL path
 * (src/opencl/) each implement. The step module (step.c) runs the layer loop once; a
 * backend provides memory and the per-layer operations of the math.
 *
 * Buffers are one type with an element kind (backend.c allocates them, checks every
 * size and bound, and converts reals from and to double); a backend only moves bytes.
 * Operations are given exact sizes; buffers may be larger. An operation may run
 * asynchronously: only reading a buffer waits for the results to be ready.
 */
#ifndef CLMLP_BACKEND_H
#define CLMLP_BACKEND_H

#include <stdint.h>

#include "clmlp.h"

typedef enum {
    CLMLP_BUF_REAL,  /* float or double, as the backend's dtype */
    CLMLP_BUF_INDEX, /* uint32 */
    CLMLP_BUF_BYTE   /* a dataset's pixels */
} clmlp_buf_kind;

typedef struct clmlp_buf {
    clmlp_buf_kind kind;
    size_t n;  /* elements */
    void *mem; /* the backend's memory: host memory or a cl_mem */
} clmlp_buf;

typedef struct clmlp_be clmlp_be;

/* One layer's buffers: parameters W[l] (n_l × n_{l-1}) and b[l], their gradients and
 * momentum velocities, and the batch state z[l], a[l], delta[l] (batch × n_l; layer 0
 * has only a, the input). */
typedef struct clmlp_layer {
    clmlp_buf *W, *b, *dW, *db;
    clmlp_buf *vW, *vb; /* SGD's velocity, or Adam's first moment */
    clmlp_buf *sW, *sb; /* Adam's second moment */
    clmlp_buf *z, *a, *delta;
} clmlp_layer;

/* The net as every operation sees it: sizes n[0..L], the loss and layers[0..L]. */
typedef struct clmlp_layers {
    size_t L;
    const size_t *n;
    clmlp_loss loss;
    clmlp_layer *layer;
} clmlp_layers;

/* One optimizer step's settings, as torch's SGD:
 *   g = grad_scale·grad + weight_decay·param;  v = momentum·v + g;  param −= lr·v
 * and with momentum 0, param −= lr·g with the velocity neither read nor written. */
typedef struct clmlp_sgd {
    double lr, grad_scale, momentum, weight_decay;
} clmlp_sgd;

/* One step of torch's Adam at step t (from 1), with its L2 term:
 *   g = grad_scale·grad + weight_decay·param;  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
 *   param −= (lr / correction1) · m / (√v / √correction2 + eps)
 * where correction1 = 1 − β1^t and correction2 = 1 − β2^t. */
typedef struct clmlp_adam {
    double lr, grad_scale, beta1, beta2, eps, weight_decay;
    double correction1, correction2;
} clmlp_adam;

/* What a backend can do beyond the required operations (asked by the step module). */
typedef enum {
    CLMLP_CAN_FUSE_WEIGHT_SGD, /* weight_grad_sgd at this batch size */
    CLMLP_CAN_TRAIN_PER_SAMPLE /* train_per_sample for this net */
} clmlp_capability;

typedef struct clmlp_backend_ops {
    void (*destroy)(clmlp_be *be);

    /* ---- memory (bytes; backend.c does the rest) ---- */
    clmlp_status (*mem_alloc)(clmlp_be *be, size_t bytes, void **mem);
    void (*mem_free)(clmlp_be *be, void *mem); /* NULL is a no-op */
    /* Writes `bytes` from `staging` at byte `offset`; takes ownership of staging (a
     * malloc'ed block, freed once the write no longer needs it). */
    clmlp_status (*mem_write)(clmlp_be *be, void *mem, size_t offset, void *staging, size_t bytes);
    /* The first `bytes`, after every operation enqueued before has finished. */
    clmlp_status (*mem_read)(clmlp_be *be, const void *mem, void *dst, size_t bytes);
    /* The first n reals = value. */
    clmlp_status (*fill)(clmlp_be *be, clmlp_buf *dst, size_t n, double value);

    /* 1 when the backend can do `what` for a batch of `batch` rows of net. */
    int (*can)(const clmlp_be *be, clmlp_capability what, const clmlp_layers *net, size_t batch);

    /* ---- the math of one layer ---- */
    /* z = a_prev·W^T + b, a = tanh(z) (a = z when !apply_tanh): the forward pass of one
     * layer; a_prev batch × n_in, W n_out × n_in, b n_out, z and a batch × n_out. */
    clmlp_status (*forward_layer)(clmlp_be *be, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *a_prev,
                                  const clmlp_buf *W, const clmlp_buf *b, int apply_tanh, clmlp_buf *z, clmlp_buf *a);
    /* The output delta and each row's loss, batch × n:
     *   MSE:        delta = 2(a − y) ⊙ sech²(z),      row_loss = Σ_k (a − y)²
     *   softmax-CE: delta = softmax(z)·Σ_k y − y,     row_loss = −Σ_k y log softmax(z) */
    clmlp_status (*output_delta)(clmlp_be *be, clmlp_loss loss, size_t batch, size_t n, const clmlp_buf *z,
                                 const clmlp_buf *a, const clmlp_buf *y, clmlp_buf *delta, clmlp_buf *row_loss);
    /* Transposed-weight error propagation:
     *   delta = (delta_next · W_next) ⊙ sech²(z)
     * delta_next batch × n_next, W_next n_next × n, z and delta batch × n. */
    clmlp_status (*backprop_delta)(clmlp_be *be, size_t batch, size_t n, size_t n_next, const clmlp_buf *delta_next,
                                   const clmlp_buf *W_next, const clmlp_buf *z, clmlp_buf *delta);
    /* dW = delta^T · a_prev (outer products summed over the batch), db = Σ_rows delta;
     * delta batch × n_out, a_prev batch × n_in, dW n_out × n_in, db n_out. */
    clmlp_status (*weight_grad)(clmlp_be *be, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *delta,
                                const clmlp_buf *a_prev, clmlp_buf *dW, clmlp_buf *db);
    /* sgd's step on count elements of param from grad (velocity: see clmlp_sgd; may be
     * NULL when sgd->momentum is 0). */
    clmlp_status (*sgd_momentum)(clmlp_be *be, size_t count, const clmlp_sgd *sgd, const clmlp_buf *grad,
                                 clmlp_buf *velocity, clmlp_buf *param);
    /* adam's step on count elements of param from grad, with moments m and v. */
    clmlp_status (*adam)(clmlp_be *be, size_t count, const clmlp_adam *adam, const clmlp_buf *grad, clmlp_buf *m,
                         clmlp_buf *v, clmlp_buf *param);
    /* Only where can(CLMLP_CAN_FUSE_WEIGHT_SGD): weight_grad, then sgd_momentum on W
     * and on b, in one pass that never writes dW or db. */
    clmlp_status (*weight_grad_sgd)(clmlp_be *be, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *delta,
                                    const clmlp_buf *a_prev, const clmlp_sgd *sgd, clmlp_buf *W, clmlp_buf *vW,
                                    clmlp_buf *b, clmlp_buf *vb);

    /* ---- batches ---- */
    /* dst row r = src row idx[first + r] for r < rows; rows are `cols` wide. */
    clmlp_status (*gather_rows)(clmlp_be *be, const clmlp_buf *src, size_t cols, const clmlp_buf *idx, size_t first,
                                size_t rows, clmlp_buf *dst);
    /* The same from rows of `cols` pixels, each becoming the real fma(p, scale, shift)
     * (scale and shift in the backend's precision): a batch's inputs, preprocessed as
     * they are gathered from a dataset that keeps 1 byte per input. */
    clmlp_status (*gather_pixels)(clmlp_be *be, const clmlp_buf *src, size_t cols, const clmlp_buf *idx, size_t first,
                                  size_t rows, double scale, double shift, clmlp_buf *dst);
    /* stats[0] += Σ row_loss, stats[1] += rows whose argmax(out) equals argmax(y),
     * and stats[2] = step when it is still 0 and this batch's loss is not finite (the
     * first diverging step, found without reading anything back); out and y batch × n. */
    clmlp_status (*batch_stats)(clmlp_be *be, size_t batch, size_t n, const clmlp_buf *out, const clmlp_buf *y,
                                const clmlp_buf *row_loss, size_t step, clmlp_buf *stats);
    /* confusion[argmax(y) · n + argmax(out)] += 1 per row. */
    clmlp_status (*confusion_update)(clmlp_be *be, size_t batch, size_t n, const clmlp_buf *out, const clmlp_buf *y,
                                     clmlp_buf *confusion);
    /* Only where can(CLMLP_CAN_TRAIN_PER_SAMPLE): `count` training steps of batch 1
     * over samples order[first…] in one call — gather_pixels, the forward pass, the
     * output delta, batch_stats (step first + s + 1 for sample s), the backward pass and
     * sgd's step per sample, with the same arithmetic as the operations above — on
     * net's parameters and velocities. */
    clmlp_status (*train_per_sample)(clmlp_be *be, const clmlp_layers *net, const clmlp_buf *pixels, double scale,
                                     double shift, const clmlp_buf *y, const clmlp_buf *order, size_t first,
                                     size_t count, const clmlp_sgd *sgd, clmlp_buf *stats);
    /* Optional (NULL: no profiling): clmlp_profile's table, after waiting for the queue. */
    clmlp_status (*profile)(clmlp_be *be, clmlp_kernel_profile *out, size_t capacity, size_t *count, int reset);
} clmlp_backend_ops;

struct clmlp_be {
    const clmlp_backend_ops *ops;
    clmlp_dtype dtype;
    char name[256];     /* what clmlp_backend_name() reports */
    char kernels[160];  /* what clmlp_kernel_info() reports */
    char fallback[160]; /* what clmlp_fallback_reason() reports: why AUTO fell back to the host path */
};

/* The backend the config asks for for a net of these sizes (sizes may be NULL: no net
 * yet); cfg resolved (config.c). AUTO: the device the config names (or an error), else
 * OpenCL if usable, else host with the reason in fallback. */
clmlp_status clmlp_backend_open(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, clmlp_be **out);

clmlp_status clmlp_host_backend_create(clmlp_dtype dtype, clmlp_be **out);
clmlp_status clmlp_opencl_backend_create(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, clmlp_be **out);

/* ---- buffers (backend.c): every size and bound checked here, once ---- */

/* Bytes per element of `kind` on be. */
size_t clmlp_buf_element_size(const clmlp_be *be, clmlp_buf_kind kind);
clmlp_status clmlp_buf_alloc(clmlp_be *be, clmlp_buf_kind kind, size_t n, clmlp_buf **out);
void clmlp_buf_release(clmlp_be *be, clmlp_buf *buf); /* NULL is a no-op */
/* n reals from double at element `offset` on (REAL buffers). */
clmlp_status clmlp_buf_upload(clmlp_be *be, clmlp_buf *dst, size_t offset, const double *src, size_t n);
/* n indices or bytes at element `offset` on (INDEX and BYTE buffers). */
clmlp_status clmlp_buf_upload_raw(clmlp_be *be, clmlp_buf *dst, size_t offset, const void *src, size_t n);
/* The first n reals as double (waits). */
clmlp_status clmlp_buf_download(clmlp_be *be, const clmlp_buf *src, double *dst, size_t n);
/* The first n indices or bytes (INDEX and BYTE buffers; waits). */
clmlp_status clmlp_buf_download_raw(clmlp_be *be, const clmlp_buf *src, void *dst, size_t n);
/* The first n reals = value. */
clmlp_status clmlp_buf_fill(clmlp_be *be, clmlp_buf *dst, size_t n, double value);

#endif
