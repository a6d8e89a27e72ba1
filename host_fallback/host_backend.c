/* The host backend: buffers in host memory, operations from host_math.inc. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include "../src/backend.h"
#include "../src/checked.h"
#include "../src/error.h"
#include "../src/fault.h"

#define REAL double
#define SUFFIX _f64
#include "host_math.inc"
#undef REAL
#undef SUFFIX

#define REAL float
#define SUFFIX _f32
#include "host_math.inc"
#undef REAL
#undef SUFFIX

struct clmlp_buf {
    size_t n;
    void *data; /* n doubles or n floats */
};

struct clmlp_ibuf {
    size_t n;
    uint32_t *data;
};

struct clmlp_bbuf {
    size_t n;
    uint8_t *data;
};

static int is_f32(const clmlp_be *be) { return be->dtype == CLMLP_F32; }

#define F32(buf) ((float *)(buf)->data)
#define F64(buf) ((double *)(buf)->data)

static void host_destroy(clmlp_be *be) { free(be); }

static clmlp_status host_alloc(clmlp_be *be, size_t n, clmlp_buf **out)
{
    size_t bytes;
    if (!clmlp_mul_ok(n ? n : 1, is_f32(be) ? sizeof(float) : sizeof(double), &bytes))
        return clmlp_fail(CLMLP_ENOMEM, "buffer of %zu elements overflows size_t", n);
    clmlp_buf *buf = malloc(sizeof *buf);
    void *data = clmlp_fault_hit(CLMLP_FAULT_ALLOC) ? NULL : malloc(bytes);
    if (!buf || !data) {
        free(buf);
        free(data);
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes of host memory", bytes);
    }
    buf->n = n;
    buf->data = data;
    *out = buf;
    return CLMLP_OK;
}

static void host_release(clmlp_be *be, clmlp_buf *buf)
{
    (void)be;
    if (buf) {
        free(buf->data);
        free(buf);
    }
}

static clmlp_status host_upload(clmlp_be *be, clmlp_buf *dst, size_t offset, const double *src, size_t n)
{
    if (offset > dst->n || n > dst->n - offset)
        return clmlp_fail(CLMLP_EINVAL, "upload of %zu elements at %zu into a buffer of %zu", n, offset, dst->n);
    if (is_f32(be))
        for (size_t e = 0; e < n; e++)
            F32(dst)[offset + e] = (float)src[e];
    else
        memcpy(F64(dst) + offset, src, n * sizeof(double));
    return CLMLP_OK;
}

static clmlp_status host_fill(clmlp_be *be, clmlp_buf *dst, size_t n, double value)
{
    if (n > dst->n)
        return clmlp_fail(CLMLP_EINVAL, "fill of %zu elements in a buffer of %zu", n, dst->n);
    for (size_t e = 0; e < n; e++)
        if (is_f32(be))
            F32(dst)[e] = (float)value;
        else
            F64(dst)[e] = value;
    return CLMLP_OK;
}

static clmlp_status host_alloc_indices(clmlp_be *be, size_t n, clmlp_ibuf **out)
{
    (void)be;
    clmlp_ibuf *buf = malloc(sizeof *buf);
    uint32_t *data = n <= SIZE_MAX / sizeof(uint32_t) ? malloc(n ? n * sizeof(uint32_t) : 1) : NULL;
    if (!buf || !data) {
        free(buf);
        free(data);
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu indices", n);
    }
    buf->n = n;
    buf->data = data;
    *out = buf;
    return CLMLP_OK;
}

static void host_release_indices(clmlp_be *be, clmlp_ibuf *buf)
{
    (void)be;
    if (buf) {
        free(buf->data);
        free(buf);
    }
}

static clmlp_status host_upload_indices(clmlp_be *be, clmlp_ibuf *dst, const uint32_t *src, size_t n)
{
    (void)be;
    if (n > dst->n)
        return clmlp_fail(CLMLP_EINVAL, "upload of %zu indices into a buffer of %zu", n, dst->n);
    memcpy(dst->data, src, n * sizeof *src);
    return CLMLP_OK;
}

static clmlp_status host_alloc_bytes(clmlp_be *be, size_t n, clmlp_bbuf **out)
{
    (void)be;
    clmlp_bbuf *buf = malloc(sizeof *buf);
    uint8_t *data = malloc(n ? n : 1);
    if (!buf || !data) {
        free(buf);
        free(data);
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes", n);
    }
    *buf = (clmlp_bbuf){.n = n, .data = data};
    *out = buf;
    return CLMLP_OK;
}

static void host_release_bytes(clmlp_be *be, clmlp_bbuf *buf)
{
    (void)be;
    if (buf) {
        free(buf->data);
        free(buf);
    }
}

static clmlp_status host_upload_bytes(clmlp_be *be, clmlp_bbuf *dst, size_t offset, const uint8_t *src, size_t n)
{
    (void)be;
    if (offset > dst->n || n > dst->n - offset)
        return clmlp_fail(CLMLP_EINVAL, "upload of %zu bytes at %zu into a buffer of %zu", n, offset, dst->n);
    memcpy(dst->data + offset, src, n);
    return CLMLP_OK;
}

static clmlp_status host_download(clmlp_be *be, const clmlp_buf *src, double *dst, size_t n)
{
    if (n > src->n)
        return clmlp_fail(CLMLP_EINVAL, "download of %zu elements from a buffer of %zu", n, src->n);
    if (is_f32(be))
        for (size_t e = 0; e < n; e++)
            dst[e] = F32(src)[e];
    else
        memcpy(dst, src->data, n * sizeof(double));
    return CLMLP_OK;
}

static clmlp_status host_forward_layer(clmlp_be *be, size_t batch, size_t n_in, size_t n_out,
                                       const clmlp_buf *a_prev, const clmlp_buf *W,
                                       const clmlp_buf *b, int apply_tanh, clmlp_buf *z, clmlp_buf *a)
{
    if (is_f32(be))
        forward_layer_f32(batch, n_in, n_out, F32(a_prev), F32(W), F32(b), apply_tanh, F32(z), F32(a));
    else
        forward_layer_f64(batch, n_in, n_out, F64(a_prev), F64(W), F64(b), apply_tanh, F64(z), F64(a));
    return CLMLP_OK;
}

static clmlp_status host_output_delta(clmlp_be *be, clmlp_loss loss, size_t batch, size_t n,
                                      const clmlp_buf *z, const clmlp_buf *a, const clmlp_buf *y,
                                      clmlp_buf *delta, clmlp_buf *row_loss)
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
                                        const clmlp_buf *delta_next, const clmlp_buf *W_next,
                                        const clmlp_buf *z, clmlp_buf *delta)
{
    if (is_f32(be))
        backprop_delta_f32(batch, n, n_next, F32(delta_next), F32(W_next), F32(z), F32(delta));
    else
        backprop_delta_f64(batch, n, n_next, F64(delta_next), F64(W_next), F64(z), F64(delta));
    return CLMLP_OK;
}

static clmlp_status host_sech2_mul(clmlp_be *be, size_t count, const clmlp_buf *z,
                                   const clmlp_buf *g, clmlp_buf *out)
{
    if (is_f32(be))
        sech2_mul_f32(count, F32(z), F32(g), F32(out));
    else
        sech2_mul_f64(count, F64(z), F64(g), F64(out));
    return CLMLP_OK;
}

static clmlp_status host_weight_grad(clmlp_be *be, size_t batch, size_t n_in, size_t n_out,
                                     const clmlp_buf *delta, const clmlp_buf *a_prev,
                                     clmlp_buf *dW, clmlp_buf *db)
{
    if (is_f32(be))
        weight_grad_f32(batch, n_in, n_out, F32(delta), F32(a_prev), F32(dW), F32(db));
    else
        weight_grad_f64(batch, n_in, n_out, F64(delta), F64(a_prev), F64(dW), F64(db));
    return CLMLP_OK;
}

static clmlp_status host_sgd_update(clmlp_be *be, size_t count, double lr, const clmlp_buf *grad,
                                    clmlp_buf *param)
{
    if (is_f32(be))
        sgd_update_f32(count, (float)lr, F32(grad), F32(param));
    else
        sgd_update_f64(count, lr, F64(grad), F64(param));
    return CLMLP_OK;
}

static clmlp_status host_gather_pixels(clmlp_be *be, const clmlp_bbuf *src, size_t cols, const clmlp_ibuf *idx,
                                       size_t first, size_t rows, double scale, double shift, clmlp_buf *dst)
{
    if (is_f32(be))
        gather_pixels_f32(src->data, cols, idx->data + first, rows, (float)scale, (float)shift, F32(dst));
    else
        gather_pixels_f64(src->data, cols, idx->data + first, rows, scale, shift, F64(dst));
    return CLMLP_OK;
}

static clmlp_status host_gather_rows(clmlp_be *be, const clmlp_buf *src, size_t cols, const clmlp_ibuf *idx,
                                     size_t first, size_t rows, clmlp_buf *dst)
{
    if (is_f32(be))
        gather_rows_f32(F32(src), cols, idx->data + first, rows, F32(dst));
    else
        gather_rows_f64(F64(src), cols, idx->data + first, rows, F64(dst));
    return CLMLP_OK;
}

static clmlp_status host_sgd_momentum(clmlp_be *be, size_t count, double lr, double grad_scale, double momentum,
                                      double weight_decay, const clmlp_buf *grad, clmlp_buf *velocity,
                                      clmlp_buf *param)
{
    if (is_f32(be))
        sgd_momentum_f32(count, (float)lr, (float)grad_scale, (float)momentum, (float)weight_decay, F32(grad),
                         F32(velocity), F32(param));
    else
        sgd_momentum_f64(count, lr, grad_scale, momentum, weight_decay, F64(grad), F64(velocity), F64(param));
    return CLMLP_OK;
}

static clmlp_status host_batch_stats(clmlp_be *be, size_t batch, size_t n, const clmlp_buf *out,
                                     const clmlp_buf *y, const clmlp_buf *row_loss, size_t step, clmlp_buf *stats)
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
    .alloc = host_alloc,
    .release = host_release,
    .upload = host_upload,
    .download = host_download,
    .fill = host_fill,
    .alloc_indices = host_alloc_indices,
    .release_indices = host_release_indices,
    .upload_indices = host_upload_indices,
    .alloc_bytes = host_alloc_bytes,
    .release_bytes = host_release_bytes,
    .upload_bytes = host_upload_bytes,
    .forward_layer = host_forward_layer,
    .output_delta = host_output_delta,
    .backprop_delta = host_backprop_delta,
    .sech2_mul = host_sech2_mul,
    .weight_grad = host_weight_grad,
    .sgd_update = host_sgd_update,
    .gather_rows = host_gather_rows,
    .gather_pixels = host_gather_pixels,
    .sgd_momentum = host_sgd_momentum,
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
