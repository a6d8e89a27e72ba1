/* The host backend: buffers in host memory, operations from host_math.inc. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "../src/backend.h"
#include "../src/error.h"

#define REAL   double
#define SUFFIX _f64
#include "host_math.inc"
#undef REAL
#undef SUFFIX

#define REAL   float
#define SUFFIX _f32
#include "host_math.inc"
#undef REAL
#undef SUFFIX

static int is_f32(const clmlp_be *be) { return be->dtype == CLMLP_F32; }

#define F32(buf)     ((float *)(buf)->mem)
#define F64(buf)     ((double *)(buf)->mem)
#define INDICES(buf) ((const uint32_t *)(buf)->mem)
#define BYTES(buf)   ((const uint8_t *)(buf)->mem)

static void host_destroy(clmlp_be *be) { free(be); }

static clmlp_status host_mem_alloc(clmlp_be *be, size_t bytes, void **mem)
{
    (void)be;
    *mem = malloc(bytes ? bytes : 1);
    return *mem ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes of host memory", bytes);
}

static void host_mem_free(clmlp_be *be, void *mem)
{
    (void)be;
    free(mem);
}

static clmlp_status host_mem_write(clmlp_be *be, void *mem, size_t offset, void *staging, size_t bytes)
{
    (void)be;
    memcpy((char *)mem + offset, staging, bytes);
    free(staging);
    return CLMLP_OK;
}

static clmlp_status host_mem_read(clmlp_be *be, const void *mem, void *dst, size_t bytes)
{
    (void)be;
    memcpy(dst, mem, bytes);
    return CLMLP_OK;
}

static clmlp_status host_fill(clmlp_be *be, clmlp_buf *dst, size_t n, double value)
{
    for (size_t e = 0; e < n; e++)
        if (is_f32(be))
            F32(dst)[e] = (float)value;
        else
            F64(dst)[e] = value;
    return CLMLP_OK;
}

/* The reference computes every operation as written: nothing fused. */
static int host_can(const clmlp_be *be, clmlp_capability what, const clmlp_layers *net, size_t batch)
{
    (void)be;
    (void)what;
    (void)net;
    (void)batch;
    return 0;
}

static clmlp_status host_forward_layer(clmlp_be *be, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *a_prev,
                                       const clmlp_buf *W, const clmlp_buf *b, int apply_tanh, clmlp_buf *z,
                                       clmlp_buf *a)
{
    if (is_f32(be))
        forward_layer_f32(batch, n_in, n_out, F32(a_prev), F32(W), F32(b), apply_tanh, F32(z), F32(a));
    else
        forward_layer_f64(batch, n_in, n_out, F64(a_prev), F64(W), F64(b), apply_tanh, F64(z), F64(a));
    return CLMLP_OK;
}

static clmlp_status host_output_delta(clmlp_be *be, clmlp_loss loss, size_t batch, size_t n, const clmlp_buf *z,
                                      const clmlp_buf *a, const clmlp_buf *y, clmlp_buf *delta, clmlp_buf *row_loss)
{
    if (loss == CLMLP_LOSS_MSE && is_f32(be))
        output_delta_mse_f32(batch, n, F32(z), F32(a), F32(y), F32(delta), F32(row_loss));
    else if (loss == CLMLP_LOSS_MSE)
        output_delta_mse_f64(batch, n, F64(z), F64(a), F64(y), F64(delta), F64(row_loss));
    else if (is_f32(be))
        output_delta_ce_f32(batch, n, F32(z), F32(y), F32(delta), F32(row_loss));
    else
        output_delta_ce_f64(batch, n, F64(z), F64(y), F64(delta), F64(row_loss));
    return CLMLP_OK;
}

static clmlp_status host_backprop_delta(clmlp_be *be, size_t batch, size_t n, size_t n_next,
                                        const clmlp_buf *delta_next, const clmlp_buf *W_next, const clmlp_buf *z,
                                        clmlp_buf *delta)
{
    if (is_f32(be))
        backprop_delta_f32(batch, n, n_next, F32(delta_next), F32(W_next), F32(z), F32(delta));
    else
        backprop_delta_f64(batch, n, n_next, F64(delta_next), F64(W_next), F64(z), F64(delta));
    return CLMLP_OK;
}

static clmlp_status host_weight_grad(clmlp_be *be, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *delta,
                                     const clmlp_buf *a_prev, clmlp_buf *dW, clmlp_buf *db)
{
    if (is_f32(be))
        weight_grad_f32(batch, n_in, n_out, F32(delta), F32(a_prev), F32(dW), F32(db));
    else
        weight_grad_f64(batch, n_in, n_out, F64(delta), F64(a_prev), F64(dW), F64(db));
    return CLMLP_OK;
}

static clmlp_status host_gather_pixels(clmlp_be *be, const clmlp_buf *src, size_t cols, const clmlp_buf *idx,
                                       size_t first, size_t rows, double scale, double shift, clmlp_buf *dst)
{
    if (is_f32(be))
        gather_pixels_f32(BYTES(src), cols, INDICES(idx) + first, rows, (float)scale, (float)shift, F32(dst));
    else
        gather_pixels_f64(BYTES(src), cols, INDICES(idx) + first, rows, scale, shift, F64(dst));
    return CLMLP_OK;
}

static clmlp_status host_gather_rows(clmlp_be *be, const clmlp_buf *src, size_t cols, const clmlp_buf *idx,
                                     size_t first, size_t rows, clmlp_buf *dst)
{
    if (is_f32(be))
        gather_rows_f32(F32(src), cols, INDICES(idx) + first, rows, F32(dst));
    else
        gather_rows_f64(F64(src), cols, INDICES(idx) + first, rows, F64(dst));
    return CLMLP_OK;
}

static clmlp_status host_sgd_momentum(clmlp_be *be, size_t count, const clmlp_sgd *sgd, const clmlp_buf *grad,
                                      clmlp_buf *velocity, clmlp_buf *param)
{
    if (is_f32(be))
        sgd_momentum_f32(count, (float)sgd->lr, (float)sgd->grad_scale, (float)sgd->momentum, (float)sgd->weight_decay,
                         F32(grad), velocity ? F32(velocity) : NULL, F32(param));
    else
        sgd_momentum_f64(count, sgd->lr, sgd->grad_scale, sgd->momentum, sgd->weight_decay, F64(grad),
                         velocity ? F64(velocity) : NULL, F64(param));
    return CLMLP_OK;
}

static clmlp_status host_adam(clmlp_be *be, size_t count, const clmlp_adam *adam, const clmlp_buf *grad, clmlp_buf *m,
                              clmlp_buf *v, clmlp_buf *param)
{
    double step_size = adam->lr / adam->correction1, sqrt_correction2 = sqrt(adam->correction2);
    if (is_f32(be))
        adam_f32(count, (float)step_size, (float)adam->grad_scale, (float)adam->beta1, (float)(1 - adam->beta1),
                 (float)adam->beta2, (float)(1 - adam->beta2), (float)adam->eps, (float)sqrt_correction2,
                 (float)adam->weight_decay, F32(grad), F32(m), F32(v), F32(param));
    else
        adam_f64(count, step_size, adam->grad_scale, adam->beta1, 1 - adam->beta1, adam->beta2, 1 - adam->beta2,
                 adam->eps, sqrt_correction2, adam->weight_decay, F64(grad), F64(m), F64(v), F64(param));
    return CLMLP_OK;
}

static clmlp_status host_batch_stats(clmlp_be *be, size_t batch, size_t n, const clmlp_buf *out, const clmlp_buf *y,
                                     const clmlp_buf *row_loss, size_t step, clmlp_buf *stats)
{
    if (is_f32(be))
        batch_stats_f32(batch, n, F32(out), F32(y), F32(row_loss), step, F32(stats));
    else
        batch_stats_f64(batch, n, F64(out), F64(y), F64(row_loss), step, F64(stats));
    return CLMLP_OK;
}

static clmlp_status host_confusion_update(clmlp_be *be, size_t batch, size_t n, const clmlp_buf *out,
                                          const clmlp_buf *y, clmlp_buf *confusion)
{
    if (is_f32(be))
        confusion_update_f32(batch, n, F32(out), F32(y), F32(confusion));
    else
        confusion_update_f64(batch, n, F64(out), F64(y), F64(confusion));
    return CLMLP_OK;
}

static const clmlp_backend_ops host_ops = {
    .destroy = host_destroy,
    .mem_alloc = host_mem_alloc,
    .mem_free = host_mem_free,
    .mem_write = host_mem_write,
    .mem_read = host_mem_read,
    .fill = host_fill,
    .can = host_can,
    .forward_layer = host_forward_layer,
    .output_delta = host_output_delta,
    .backprop_delta = host_backprop_delta,
    .weight_grad = host_weight_grad,
    .sgd_momentum = host_sgd_momentum,
    .adam = host_adam,
    .gather_rows = host_gather_rows,
    .gather_pixels = host_gather_pixels,
    .batch_stats = host_batch_stats,
    .confusion_update = host_confusion_update,
};

clmlp_status clmlp_host_backend_create(clmlp_dtype dtype, clmlp_be **out)
{
    clmlp_be *be = calloc(1, sizeof *be);
    if (!be)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate the host backend");
    be->ops = &host_ops;
    be->dtype = dtype;
    strcpy(be->name, "host");
    *out = be;
    return CLMLP_OK;
}
