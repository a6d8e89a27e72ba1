/*
 * The backend interface: what the host path (host_fallback/) and the OpenCL path
 * (src/opencl/) each implement. The API layer (net.c) checks arguments and runs the
 * layer loop once; a backend only provides buffers and the per-layer operations.
 *
 * A buffer holds n reals of the backend's dtype (float or double). Operations are
 * given exact sizes; buffers may be larger. An operation may run asynchronously:
 * only download() waits for the results to be ready.
 */
#ifndef CLMLP_BACKEND_H
#define CLMLP_BACKEND_H

#include <stdint.h>

#include "clmlp.h"

typedef struct clmlp_buf clmlp_buf; /* defined by each backend */
typedef struct clmlp_ibuf clmlp_ibuf; /* an array of uint32 indices, likewise */
typedef struct clmlp_bbuf clmlp_bbuf; /* an array of bytes (a dataset's pixels), likewise */
typedef struct clmlp_be clmlp_be;

/* What the fused per-sample operation needs of a net of at most CLMLP_FUSED_MAX_LAYERS
 * layers: sizes, loss and, for l = 1..L, the parameters and momentum buffers. */
enum { CLMLP_FUSED_MAX_LAYERS = 4 };
typedef struct clmlp_fused_net {
    size_t L;
    const size_t *n; /* n[0..L] */
    clmlp_loss loss;
    clmlp_buf *W[CLMLP_FUSED_MAX_LAYERS + 1], *b[CLMLP_FUSED_MAX_LAYERS + 1];
    clmlp_buf *vW[CLMLP_FUSED_MAX_LAYERS + 1], *vb[CLMLP_FUSED_MAX_LAYERS + 1];
} clmlp_fused_net;

/* One SGD step's settings, as torch's SGD (see sgd_momentum). */
typedef struct clmlp_sgd {
    double lr, grad_scale, momentum, weight_decay;
} clmlp_sgd;

typedef struct clmlp_backend_ops {
    void (*destroy)(clmlp_be *be);

    clmlp_status (*alloc)(clmlp_be *be, size_t n, clmlp_buf **out);
    void (*release)(clmlp_be *be, clmlp_buf *buf); /* NULL is a no-op */
    /* n elements from element `offset` on (upload) or the first n (download), converted
     * from/to double. */
    clmlp_status (*upload)(clmlp_be *be, clmlp_buf *dst, size_t offset, const double *src, size_t n);
    clmlp_status (*download)(clmlp_be *be, const clmlp_buf *src, double *dst, size_t n);
    /* The first n elements = value. */
    clmlp_status (*fill)(clmlp_be *be, clmlp_buf *dst, size_t n, double value);

    clmlp_status (*alloc_indices)(clmlp_be *be, size_t n, clmlp_ibuf **out);
    void (*release_indices)(clmlp_be *be, clmlp_ibuf *buf); /* NULL is a no-op */
    clmlp_status (*upload_indices)(clmlp_be *be, clmlp_ibuf *dst, const uint32_t *src, size_t n);

    clmlp_status (*alloc_bytes)(clmlp_be *be, size_t n, clmlp_bbuf **out);
    void (*release_bytes)(clmlp_be *be, clmlp_bbuf *buf); /* NULL is a no-op */
    /* n bytes from byte `offset` on. */
    clmlp_status (*upload_bytes)(clmlp_be *be, clmlp_bbuf *dst, size_t offset, const uint8_t *src, size_t n);

    /* z = a_prev·W^T + b, a = tanh(z) (a = z when !apply_tanh): the forward pass of one
     * layer; a_prev batch × n_in, W n_out × n_in, b n_out, z and a batch × n_out. */
    clmlp_status (*forward_layer)(clmlp_be *be, size_t batch, size_t n_in, size_t n_out,
                                  const clmlp_buf *a_prev, const clmlp_buf *W, const clmlp_buf *b,
                                  int apply_tanh, clmlp_buf *z, clmlp_buf *a);
    /* The output delta and each row's loss, batch × n:
     *   MSE:        delta = 2(a − y) ⊙ sech²(z),      row_loss = Σ_k (a − y)²
     *   softmax-CE: delta = softmax(z)·Σ_k y − y,     row_loss = −Σ_k y log softmax(z) */
    clmlp_status (*output_delta)(clmlp_be *be, clmlp_loss loss, size_t batch, size_t n,
                                 const clmlp_buf *z, const clmlp_buf *a, const clmlp_buf *y,
                                 clmlp_buf *delta, clmlp_buf *row_loss);
    /* Transposed-weight error propagation:
     *   delta = (delta_next · W_next) ⊙ sech²(z)
     * delta_next batch × n_next, W_next n_next × n, z and delta batch × n. */
    clmlp_status (*backprop_delta)(clmlp_be *be, size_t batch, size_t n, size_t n_next,
                                   const clmlp_buf *delta_next, const clmlp_buf *W_next,
                                   const clmlp_buf *z, clmlp_buf *delta);
    /* out = g ⊙ sech²(z) on count elements (out may be g). */
    clmlp_status (*sech2_mul)(clmlp_be *be, size_t count, const clmlp_buf *z, const clmlp_buf *g,
                              clmlp_buf *out);
    /* dW = delta^T · a_prev (outer products summed over the batch), db = Σ_rows delta;
     * delta batch × n_out, a_prev batch × n_in, dW n_out × n_in, db n_out. */
    clmlp_status (*weight_grad)(clmlp_be *be, size_t batch, size_t n_in, size_t n_out,
                                const clmlp_buf *delta, const clmlp_buf *a_prev, clmlp_buf *dW,
                                clmlp_buf *db);
    /* param −= lr · grad on count elements. */
    clmlp_status (*sgd_update)(clmlp_be *be, size_t count, double lr, const clmlp_buf *grad,
                               clmlp_buf *param);

    /* ---- training ---- */
    /* Optional (NULL: the caller runs weight_grad, then sgd_momentum on W and on b):
     * the same as those three in one step, for training, where the gradients themselves
     * are not needed; dW and db are left unspecified. */
    clmlp_status (*weight_grad_sgd)(clmlp_be *be, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *delta,
                                    const clmlp_buf *a_prev, const clmlp_sgd *sgd, clmlp_buf *dW, clmlp_buf *db,
                                    clmlp_buf *W, clmlp_buf *vW, clmlp_buf *b, clmlp_buf *vb);
    /* dst row r = src row idx[first + r] for r < rows; rows are `cols` wide. */
    clmlp_status (*gather_rows)(clmlp_be *be, const clmlp_buf *src, size_t cols, const clmlp_ibuf *idx,
                                size_t first, size_t rows, clmlp_buf *dst);
    /* The same from rows of `cols` pixels, each becoming the real fma(p, scale, shift)
     * (scale and shift in the backend's precision): a batch's inputs, preprocessed as
     * they are gathered from a dataset that keeps 1 byte per input. */
    clmlp_status (*gather_pixels)(clmlp_be *be, const clmlp_bbuf *src, size_t cols, const clmlp_ibuf *idx,
                                  size_t first, size_t rows, double scale, double shift, clmlp_buf *dst);
    /* torch's SGD with momentum and weight decay on count elements:
     *   g = grad_scale·grad + weight_decay·param;  v = momentum·v + g;  param −= lr·v
     * and with momentum 0, param −= lr·g with the velocity neither read nor written. */
    clmlp_status (*sgd_momentum)(clmlp_be *be, size_t count, double lr, double grad_scale, double momentum,
                                 double weight_decay, const clmlp_buf *grad, clmlp_buf *velocity,
                                 clmlp_buf *param);
    /* stats[0] += Σ row_loss, stats[1] += rows whose argmax(out) equals argmax(y),
     * and stats[2] = step when it is still 0 and this batch's loss is not finite (the
     * first diverging step, found without reading anything back); out and y batch × n. */
    clmlp_status (*batch_stats)(clmlp_be *be, size_t batch, size_t n, const clmlp_buf *out, const clmlp_buf *y,
                                const clmlp_buf *row_loss, size_t step, clmlp_buf *stats);
    /* confusion[argmax(y) · n + argmax(out)] += 1 per row. */
    clmlp_status (*confusion_update)(clmlp_be *be, size_t batch, size_t n, const clmlp_buf *out,
                                     const clmlp_buf *y, clmlp_buf *confusion);
    /* Optional (NULL where a step's operations are cheap to call one by one): `count`
     * per-sample SGD steps (batch 1) over samples order[first…] in one call, with the
     * same arithmetic as the operations above (inputs from pixels as gather_pixels),
     * adding to stats like batch_stats (step first + s + 1 for sample s). */
    clmlp_status (*train_per_sample)(clmlp_be *be, const clmlp_fused_net *net, const clmlp_bbuf *pixels,
                                     double scale, double shift, const clmlp_buf *y, const clmlp_ibuf *order,
                                     size_t first, size_t count, double lr, double momentum, double weight_decay,
                                     clmlp_buf *stats);
} clmlp_backend_ops;

struct clmlp_be {
    const clmlp_backend_ops *ops;
    clmlp_dtype dtype;
    char name[256]; /* what clmlp_backend_name() reports */
};

/* The backend the config asks for (AUTO: OpenCL if usable, else host). */
clmlp_status clmlp_backend_open(const clmlp_config *cfg, clmlp_be **out);

clmlp_status clmlp_host_backend_create(clmlp_dtype dtype, clmlp_be **out);
clmlp_status clmlp_opencl_backend_create(const clmlp_config *cfg, clmlp_be **out);

#endif
