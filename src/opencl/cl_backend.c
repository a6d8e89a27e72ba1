/* The OpenCL backend: context, queue, device buffers and the per-layer operations.
 * Everything is enqueued on one in-order queue; only download() waits. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../checked.h"
#include "../error.h"
#include "../fault.h"
#include "cl_common.h"

#define BE(be) ((clmlp_cl_be *)(be))

static size_t real_size(const clmlp_be *be) { return be->dtype == CLMLP_F32 ? sizeof(float) : sizeof(double); }

/* ---- kernel launches ---------------------------------------------------- */

typedef struct {
    size_t size;
    const void *value;
} karg;
#define ARG(x) ((karg){sizeof(x), &(x)})
#define MEM(buf) ((karg){sizeof(cl_mem), &(buf)->mem})

/* A real-valued kernel argument in the backend's precision. */
typedef struct {
    float f;
    double d;
} real_arg;

static karg real_karg(const clmlp_be *base, real_arg *storage, double v)
{
    storage->f = (float)v;
    storage->d = v;
    return base->dtype == CLMLP_F32 ? ARG(storage->f) : ARG(storage->d);
}

/* local may be NULL: the implementation picks. */
static clmlp_status launch_local(clmlp_cl_be *be, cl_kernel kernel, const char *name, cl_uint dims,
                                 const size_t *global, const size_t *local, size_t n_args, const karg *args)
{
    for (size_t i = 0; i < n_args; i++) {
        cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS) {
            clmlp_cl_fail("clSetKernelArg", err);
            return clmlp_fail_context(CLMLP_EOPENCL, "kernel %s argument %zu", name, i);
        }
    }
    cl_int err = clmlp_fault_hit(CLMLP_FAULT_ENQUEUE)
                     ? CL_OUT_OF_RESOURCES
                     : clEnqueueNDRangeKernel(be->queue, kernel, dims, NULL, global, local, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        clmlp_cl_fail("clEnqueueNDRangeKernel", err);
        return clmlp_fail_context(CLMLP_EOPENCL, "kernel %s", name);
    }
    return CLMLP_OK;
}

static clmlp_status launch(clmlp_cl_be *be, cl_kernel kernel, const char *name, cl_uint dims, const size_t *global,
                           size_t n_args, const karg *args)
{
    return launch_local(be, kernel, name, dims, global, NULL, n_args, args);
}

/* Kernels take sizes as uint: refuse what does not fit before launching. */
static clmlp_status as_uint(size_t v, const char *what, cl_uint *out)
{
    if (v > UINT_MAX)
        return clmlp_fail(CLMLP_EINVAL, "%s = %zu exceeds the OpenCL backend's limit %u", what, v, UINT_MAX);
    *out = (cl_uint)v;
    return CLMLP_OK;
}

/* Batch 1 (and SIMPLE) uses the one-work-item-per-output kernels: a single row gains
 * nothing from tiling. */
static int tiled(const clmlp_cl_be *be, size_t batch)
{
    return batch > 1 && be->gemm != CLMLP_GEMM_SIMPLE;
}

enum { MAX_EPILOGUE_ARGS = 8 };

/* Launches one of gemm.cl's products, C (m × n) from A, B with row strides lda, ldb, ldc,
 * over tiles of tile_rows × tile_cols outputs (one work-item each, local size 1; the
 * tiles' columns in dimension 0, or their rows when rows_first), with the kernel's
 * epilogue arguments after C's. */
static clmlp_status launch_product(clmlp_cl_be *be, cl_kernel kernel, const char *name, int rows_first,
                                   size_t tile_rows, size_t tile_cols, size_t m, size_t n, size_t k,
                                   const clmlp_buf *A, size_t lda, const clmlp_buf *B, size_t ldb, clmlp_buf *C,
                                   size_t ldc, size_t n_epilogue, const karg *epilogue)
{
    if (n_epilogue > MAX_EPILOGUE_ARGS)
        return clmlp_fail(CLMLP_EINVAL, "kernel %s: %zu epilogue arguments, at most %d", name, n_epilogue,
                          MAX_EPILOGUE_ARGS);
    cl_uint um, un, uk, ua, ub, uc;
    TRY(as_uint(m, "rows", &um));
    TRY(as_uint(n, "columns", &un));
    TRY(as_uint(k, "inner size", &uk));
    TRY(as_uint(lda, "row stride", &ua));
    TRY(as_uint(ldb, "row stride", &ub));
    TRY(as_uint(ldc, "row stride", &uc));
    karg args[9 + MAX_EPILOGUE_ARGS] = {ARG(um), ARG(un), ARG(uk), MEM(A), ARG(ua), MEM(B), ARG(ub), MEM(C), ARG(uc)};
    for (size_t i = 0; i < n_epilogue; i++)
        args[9 + i] = epilogue[i];
    size_t row_tiles = (m + tile_rows - 1) / tile_rows, col_tiles = (n + tile_cols - 1) / tile_cols;
    size_t global[2] = {rows_first ? row_tiles : col_tiles, rows_first ? col_tiles : row_tiles};
    return launch_local(be, kernel, name, 2, global, (size_t[]){1, 1}, 9 + n_epilogue, args);
}

/* gemm.cl's TILE_COLS: the columns of a gemm_nn / gemm_tn tile (of 8 rows). */
static size_t tile_cols(const clmlp_cl_be *be) { return be->base.dtype == CLMLP_F32 ? 32 : 16; }

/* A NULL buffer argument (an epilogue left out). */
static const karg no_buffer = {sizeof(cl_mem), NULL};

/* C (m × n) = op(A) · B with op(A) = A (m × k) or, when trans_a, A^T (A stored k × m);
 * B is k × n. Row strides lda, ldb, ldc. */
static clmlp_status product(clmlp_cl_be *be, int trans_a, size_t m, size_t n, size_t k, const clmlp_buf *A,
                            size_t lda, const clmlp_buf *B, size_t ldb, clmlp_buf *C, size_t ldc)
{
    if (be->gemm == CLMLP_GEMM_CLBLAST)
        return clmlp_cl_gemm(be, trans_a, 0, m, n, k, A, lda, B, ldb, C, ldc);
    if (trans_a)
        return launch_product(be, be->k.gemm_tn, "gemm_tn", 0, 8, tile_cols(be), m, n, k, A, lda, B, ldb, C, ldc, 0, NULL);
    return launch_product(be, be->k.gemm_nn, "gemm_nn", 0, 8, tile_cols(be), m, n, k, A, lda, B, ldb, C, ldc, 1,
                          &no_buffer);
}

static clmlp_status cl_alloc(clmlp_be *base, size_t n, clmlp_buf **out);

/* Grows a backend-owned buffer to at least n elements. */
static clmlp_status reserve(clmlp_cl_be *be, clmlp_buf **buf, size_t n)
{
    if (*buf && (*buf)->n >= n)
        return CLMLP_OK;
    clmlp_buf *bigger;
    TRY(cl_alloc(&be->base, n, &bigger));
    if (*buf) { /* enqueued work keeps its own reference to the old buffer */
        clReleaseMemObject((*buf)->mem);
        free(*buf);
    }
    *buf = bigger;
    return CLMLP_OK;
}


/* ---- buffers ------------------------------------------------------------ */

/* A device buffer of `bytes`; running out of memory is CLMLP_ENOMEM, naming the size. */
static clmlp_status create_mem(clmlp_cl_be *be, size_t bytes, cl_mem_flags flags, cl_mem *out)
{
    if (bytes > be->max_alloc)
        return clmlp_fail(CLMLP_ENOMEM, "a device buffer of %zu bytes exceeds the device's largest allocation (%llu bytes)",
                          bytes, (unsigned long long)be->max_alloc);
    cl_int err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    *out = clmlp_fault_hit(CLMLP_FAULT_ALLOC) ? NULL : clCreateBuffer(be->context, flags, bytes, NULL, &err);
    if (err == CL_SUCCESS)
        return CLMLP_OK;
    clmlp_status s = err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY || err == CL_OUT_OF_RESOURCES
                         ? CLMLP_ENOMEM
                         : CLMLP_EOPENCL;
    clmlp_cl_fail("clCreateBuffer", err);
    return clmlp_fail_context(s, "device buffer of %zu bytes", bytes);
}

static clmlp_status cl_alloc(clmlp_be *base, size_t n, clmlp_buf **out)
{
    clmlp_cl_be *be = BE(base);
    size_t bytes;
    if (n > SIZE_MAX - CLMLP_PAD || !clmlp_mul_ok(n + CLMLP_PAD, real_size(base), &bytes))
        return clmlp_fail(CLMLP_ENOMEM, "a device buffer of %zu elements of %zu bytes overflows size_t", n,
                          real_size(base));
    clmlp_buf *buf = malloc(sizeof *buf);
    if (!buf)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a buffer handle");
    clmlp_status s = create_mem(be, bytes, CL_MEM_READ_WRITE, &buf->mem);
    if (s != CLMLP_OK) {
        free(buf);
        return s;
    }
    buf->n = n;
    *out = buf;
    return CLMLP_OK;
}

static void cl_release(clmlp_be *base, clmlp_buf *buf)
{
    (void)base;
    if (buf) {
        clReleaseMemObject(buf->mem);
        free(buf);
    }
}

static void CL_CALLBACK free_staging(cl_event event, cl_int status, void *staging)
{
    (void)event;
    (void)status;
    free(staging);
}

/* Writes `bytes` from a malloc'ed staging copy at byte `offset` without waiting: the
 * copy is freed by an event callback when the write completes (or here, after waiting,
 * if the callback cannot be set). Takes ownership of staging. */
static clmlp_status write_staged(clmlp_cl_be *be, cl_mem mem, size_t offset, void *staging, size_t bytes)
{
    cl_event done;
    cl_int err = clEnqueueWriteBuffer(be->queue, mem, CL_FALSE, offset, bytes, staging, 0, NULL, &done);
    if (err != CL_SUCCESS) {
        free(staging);
        return clmlp_cl_fail("clEnqueueWriteBuffer", err);
    }
    err = clSetEventCallback(done, CL_COMPLETE, free_staging, staging);
    if (err != CL_SUCCESS) {
        cl_int wait = clWaitForEvents(1, &done);
        free(staging);
        clReleaseEvent(done);
        return wait == CL_SUCCESS ? CLMLP_OK : clmlp_cl_fail("clWaitForEvents", wait);
    }
    clReleaseEvent(done);
    return CLMLP_OK;
}

static clmlp_status cl_upload(clmlp_be *base, clmlp_buf *dst, size_t offset, const double *src, size_t n)
{
    clmlp_cl_be *be = BE(base);
    if (offset > dst->n || n > dst->n - offset)
        return clmlp_fail(CLMLP_EINVAL, "upload of %zu elements at %zu into a buffer of %zu", n, offset, dst->n);
    if (n == 0)
        return CLMLP_OK;
    size_t bytes = n * real_size(base);
    void *staging = malloc(bytes);
    if (!staging)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes to stage an upload", bytes);
    if (base->dtype == CLMLP_F32)
        for (size_t e = 0; e < n; e++)
            ((float *)staging)[e] = (float)src[e];
    else
        memcpy(staging, src, bytes);
    return write_staged(be, dst->mem, offset * real_size(base), staging, bytes);
}

static clmlp_status cl_alloc_indices(clmlp_be *base, size_t n, clmlp_ibuf **out)
{
    size_t bytes;
    if (!clmlp_mul_ok(n ? n : 1, sizeof(cl_uint), &bytes))
        return clmlp_fail(CLMLP_ENOMEM, "%zu indices overflow size_t", n);
    clmlp_ibuf *buf = malloc(sizeof *buf);
    if (!buf)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a buffer handle");
    clmlp_status s = create_mem(BE(base), bytes, CL_MEM_READ_ONLY, &buf->mem);
    if (s != CLMLP_OK) {
        free(buf);
        return s;
    }
    buf->n = n;
    *out = buf;
    return CLMLP_OK;
}

static void cl_release_indices(clmlp_be *base, clmlp_ibuf *buf)
{
    (void)base;
    if (buf) {
        clReleaseMemObject(buf->mem);
        free(buf);
    }
}

static clmlp_status cl_upload_indices(clmlp_be *base, clmlp_ibuf *dst, const uint32_t *src, size_t n)
{
    if (n > dst->n)
        return clmlp_fail(CLMLP_EINVAL, "upload of %zu indices into a buffer of %zu", n, dst->n);
    if (n == 0)
        return CLMLP_OK;
    void *staging = malloc(n * sizeof(cl_uint));
    if (!staging)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes to stage indices", n * sizeof(cl_uint));
    memcpy(staging, src, n * sizeof(cl_uint));
    return write_staged(BE(base), dst->mem, 0, staging, n * sizeof(cl_uint));
}

static clmlp_status cl_alloc_bytes(clmlp_be *base, size_t n, clmlp_bbuf **out)
{
    clmlp_bbuf *buf = malloc(sizeof *buf);
    if (!buf)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a buffer handle");
    clmlp_status s = n > SIZE_MAX - CLMLP_PAD ? clmlp_fail(CLMLP_ENOMEM, "%zu bytes overflow size_t", n)
                                              : create_mem(BE(base), n + CLMLP_PAD, CL_MEM_READ_ONLY, &buf->mem);
    if (s != CLMLP_OK) {
        free(buf);
        return s;
    }
    buf->n = n;
    *out = buf;
    return CLMLP_OK;
}

static void cl_release_bytes(clmlp_be *base, clmlp_bbuf *buf)
{
    (void)base;
    if (buf) {
        clReleaseMemObject(buf->mem);
        free(buf);
    }
}

static clmlp_status cl_upload_bytes(clmlp_be *base, clmlp_bbuf *dst, size_t offset, const uint8_t *src, size_t n)
{
    if (offset > dst->n || n > dst->n - offset)
        return clmlp_fail(CLMLP_EINVAL, "upload of %zu bytes at %zu into a buffer of %zu", n, offset, dst->n);
    if (n == 0)
        return CLMLP_OK;
    void *staging = malloc(n);
    if (!staging)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes to stage an upload", n);
    memcpy(staging, src, n);
    return write_staged(BE(base), dst->mem, offset, staging, n);
}

static clmlp_status cl_download(clmlp_be *base, const clmlp_buf *src, double *dst, size_t n)
{
    clmlp_cl_be *be = BE(base);
    if (n > src->n)
        return clmlp_fail(CLMLP_EINVAL, "download of %zu elements from a buffer of %zu", n, src->n);
    if (n == 0)
        return CLMLP_OK;
    if (base->dtype == CLMLP_F64) {
        cl_int err = clEnqueueReadBuffer(be->queue, src->mem, CL_TRUE, 0, n * sizeof(double), dst, 0, NULL, NULL);
        return err == CL_SUCCESS ? CLMLP_OK : clmlp_cl_fail("clEnqueueReadBuffer", err);
    }
    float *staging = malloc(n * sizeof(float));
    if (!staging)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes to stage a download", n * sizeof(float));
    cl_int err = clEnqueueReadBuffer(be->queue, src->mem, CL_TRUE, 0, n * sizeof(float), staging, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        for (size_t e = 0; e < n; e++)
            dst[e] = staging[e];
    free(staging);
    return err == CL_SUCCESS ? CLMLP_OK : clmlp_cl_fail("clEnqueueReadBuffer", err);
}

/* ---- operations --------------------------------------------------------- */

static clmlp_status cl_forward_layer(clmlp_be *base, size_t batch, size_t n_in, size_t n_out,
                                     const clmlp_buf *a_prev, const clmlp_buf *W, const clmlp_buf *b,
                                     int apply_tanh, clmlp_buf *z, clmlp_buf *a)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, ui, uo, ucount, act = apply_tanh ? 1 : 0;
    TRY(as_uint(batch, "batch", &ub));
    TRY(as_uint(n_in, "layer input size", &ui));
    TRY(as_uint(n_out, "layer size", &uo));
    TRY(as_uint(batch * n_out, "batch × layer size", &ucount));
    if (tiled(be, batch)) {
        if (be->gemm == CLMLP_GEMM_OWN) /* W as stored, in dot-product form, with the epilogue: 4 × 4 per work-item */
            return launch_product(be, be->k.gemm_nt, "gemm_nt", 1, 4, 4, batch, n_out, n_in, a_prev, n_in, W, n_in, z,
                                  n_out, 3, (karg[]){MEM(b), ARG(act), MEM(a)});
        TRY(clmlp_cl_gemm(be, 0, 1, batch, n_out, n_in, a_prev, n_in, W, n_in, z, n_out));
        return launch(be, be->k.bias_act, "bias_act", 2, (size_t[]){n_out, batch}, 6,
                      (karg[]){ARG(ub), ARG(uo), MEM(b), ARG(act), MEM(z), MEM(a)});
    }
    return launch(be, be->k.forward_layer, "forward_layer", 2, (size_t[]){n_out, batch}, 9,
                  (karg[]){ARG(ub), ARG(ui), ARG(uo), MEM(a_prev), MEM(W), MEM(b), ARG(act), MEM(z), MEM(a)});
}

static clmlp_status cl_output_delta(clmlp_be *base, clmlp_loss loss, size_t batch, size_t n,
                                    const clmlp_buf *z, const clmlp_buf *a, const clmlp_buf *y,
                                    clmlp_buf *delta, clmlp_buf *row_loss)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, un;
    TRY(as_uint(batch, "batch", &ub));
    TRY(as_uint(n, "output size", &un));
    if (loss == CLMLP_LOSS_MSE)
        return launch(be, be->k.output_delta_mse, "output_delta_mse", 1, (size_t[]){batch}, 7,
                      (karg[]){ARG(ub), ARG(un), MEM(z), MEM(a), MEM(y), MEM(delta), MEM(row_loss)});
    return launch(be, be->k.output_delta_ce, "output_delta_ce", 1, (size_t[]){batch}, 6,
                  (karg[]){ARG(ub), ARG(un), MEM(z), MEM(y), MEM(delta), MEM(row_loss)});
}

static clmlp_status cl_sech2_mul(clmlp_be *base, size_t count, const clmlp_buf *z,
                                 const clmlp_buf *g, clmlp_buf *out)
{
    clmlp_cl_be *be = BE(base);
    cl_uint uc;
    TRY(as_uint(count, "element count", &uc));
    return launch(be, be->k.sech2_mul, "sech2_mul", 1, (size_t[]){count}, 4,
                  (karg[]){ARG(uc), MEM(z), MEM(g), MEM(out)});
}

static clmlp_status cl_backprop_delta(clmlp_be *base, size_t batch, size_t n, size_t n_next,
                                      const clmlp_buf *delta_next, const clmlp_buf *W_next,
                                      const clmlp_buf *z, clmlp_buf *delta)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, un, unext, ucount;
    TRY(as_uint(batch, "batch", &ub));
    TRY(as_uint(n, "layer size", &un));
    TRY(as_uint(n_next, "next layer size", &unext));
    TRY(as_uint(batch * n, "batch × layer size", &ucount));
    if (tiled(be, batch) && be->gemm == CLMLP_GEMM_OWN) /* sech² in the product's epilogue */
        return launch_product(be, be->k.gemm_nn, "gemm_nn", 0, 8, tile_cols(be), batch, n, n_next, delta_next, n_next,
                              W_next, n, delta, n, 1, (karg[]){MEM(z)});
    if (tiled(be, batch)) {
        TRY(product(be, 0, batch, n, n_next, delta_next, n_next, W_next, n, delta, n));
        return cl_sech2_mul(base, batch * n, z, delta, delta);
    }
    return launch(be, be->k.backprop_delta, "backprop_delta", 2, (size_t[]){n, batch}, 7,
                  (karg[]){ARG(ub), ARG(un), ARG(unext), MEM(delta_next), MEM(W_next), MEM(z), MEM(delta)});
}

static clmlp_status cl_weight_grad(clmlp_be *base, size_t batch, size_t n_in, size_t n_out,
                                   const clmlp_buf *delta, const clmlp_buf *a_prev, clmlp_buf *dW,
                                   clmlp_buf *db)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, ui, uo;
    TRY(as_uint(batch, "batch", &ub));
    TRY(as_uint(n_in, "layer input size", &ui));
    TRY(as_uint(n_out, "layer size", &uo));
    if (tiled(be, batch))
        TRY(product(be, 1, n_out, n_in, batch, delta, n_out, a_prev, n_in, dW, n_in));
    else
        TRY(launch(be, be->k.weight_grad, "weight_grad", 2, (size_t[]){n_in, n_out}, 6,
                   (karg[]){ARG(ub), ARG(ui), ARG(uo), MEM(delta), MEM(a_prev), MEM(dW)}));
    return launch(be, be->k.bias_grad, "bias_grad", 1, (size_t[]){n_out}, 4,
                  (karg[]){ARG(ub), ARG(uo), MEM(delta), MEM(db)});
}

static clmlp_status cl_sgd_update(clmlp_be *base, size_t count, double lr, const clmlp_buf *grad,
                                  clmlp_buf *param)
{
    clmlp_cl_be *be = BE(base);
    cl_uint uc;
    TRY(as_uint(count, "parameter count", &uc));
    real_arg lr_value;
    return launch(be, be->k.sgd_update, "sgd_update", 1, (size_t[]){count}, 4,
                  (karg[]){ARG(uc), real_karg(base, &lr_value, lr), MEM(grad), MEM(param)});
}

static clmlp_status cl_fill(clmlp_be *base, clmlp_buf *dst, size_t n, double value)
{
    cl_uint un;
    real_arg v;
    if (n > dst->n)
        return clmlp_fail(CLMLP_EINVAL, "fill of %zu elements in a buffer of %zu", n, dst->n);
    TRY(as_uint(n, "element count", &un));
    if (n == 0)
        return CLMLP_OK;
    return launch(BE(base), BE(base)->k.fill, "fill", 1, (size_t[]){n}, 3,
                  (karg[]){ARG(un), real_karg(base, &v, value), MEM(dst)});
}

static clmlp_status cl_gather_rows(clmlp_be *base, const clmlp_buf *src, size_t cols, const clmlp_ibuf *idx,
                                   size_t first, size_t rows, clmlp_buf *dst)
{
    cl_uint uc, uf, ur;
    TRY(as_uint(cols, "row length", &uc));
    TRY(as_uint(first, "first index", &uf));
    TRY(as_uint(rows, "rows", &ur));
    return launch(BE(base), BE(base)->k.gather_rows, "gather_rows", 1, (size_t[]){rows}, 6,
                  (karg[]){ARG(uc), ARG(uf), ARG(ur), MEM(src), MEM(idx), MEM(dst)});
}

static clmlp_status cl_gather_pixels(clmlp_be *base, const clmlp_bbuf *src, size_t cols, const clmlp_ibuf *idx,
                                     size_t first, size_t rows, double scale, double shift, clmlp_buf *dst)
{
    cl_uint uc, uf, ur;
    real_arg s, t;
    TRY(as_uint(cols, "row length", &uc));
    TRY(as_uint(first, "first index", &uf));
    TRY(as_uint(rows, "rows", &ur));
    return launch(BE(base), BE(base)->k.gather_pixels, "gather_pixels", 1, (size_t[]){rows}, 8,
                  (karg[]){ARG(uc), ARG(uf), ARG(ur), MEM(src), MEM(idx), real_karg(base, &s, scale),
                           real_karg(base, &t, shift), MEM(dst)});
}

static clmlp_status cl_sgd_momentum(clmlp_be *base, size_t count, double lr, double grad_scale, double momentum,
                                    double weight_decay, const clmlp_buf *grad, clmlp_buf *velocity,
                                    clmlp_buf *param)
{
    cl_uint uc;
    real_arg a, b, c, d;
    TRY(as_uint(count, "parameter count", &uc));
    return launch(BE(base), BE(base)->k.sgd_momentum, "sgd_momentum", 1, (size_t[]){count}, 8,
                  (karg[]){ARG(uc), real_karg(base, &a, lr), real_karg(base, &b, grad_scale),
                           real_karg(base, &c, momentum), real_karg(base, &d, weight_decay), MEM(grad),
                           MEM(velocity), MEM(param)});
}

static clmlp_status cl_weight_grad_sgd(clmlp_be *base, size_t batch, size_t n_in, size_t n_out,
                                       const clmlp_buf *delta, const clmlp_buf *a_prev, const clmlp_sgd *sgd,
                                       clmlp_buf *dW, clmlp_buf *db, clmlp_buf *W, clmlp_buf *vW, clmlp_buf *b,
                                       clmlp_buf *vb)
{
    clmlp_cl_be *be = BE(base);
    if (!(tiled(be, batch) && be->gemm == CLMLP_GEMM_OWN)) { /* the steps one by one */
        TRY(cl_weight_grad(base, batch, n_in, n_out, delta, a_prev, dW, db));
        TRY(cl_sgd_momentum(base, n_out * n_in, sgd->lr, sgd->grad_scale, sgd->momentum, sgd->weight_decay, dW, vW,
                            W));
        return cl_sgd_momentum(base, n_out, sgd->lr, sgd->grad_scale, sgd->momentum, sgd->weight_decay, db, vb, b);
    }
    real_arg lr, scale, momentum, decay;
    karg epilogue[] = {MEM(vW),
                       MEM(b),
                       MEM(vb),
                       real_karg(base, &lr, sgd->lr),
                       real_karg(base, &scale, sgd->grad_scale),
                       real_karg(base, &momentum, sgd->momentum),
                       real_karg(base, &decay, sgd->weight_decay)};
    return launch_product(be, be->k.gemm_tn_sgd, "gemm_tn_sgd", 0, 8, tile_cols(be), n_out, n_in, batch, delta, n_out,
                          a_prev, n_in, W, n_in, sizeof epilogue / sizeof epilogue[0], epilogue);
}

static clmlp_status cl_batch_stats(clmlp_be *base, size_t batch, size_t n, const clmlp_buf *out,
                                   const clmlp_buf *y, const clmlp_buf *row_loss, size_t step, clmlp_buf *stats)
{
    cl_uint ub, un, us = step > UINT_MAX ? UINT_MAX : (cl_uint)step;
    TRY(as_uint(batch, "batch", &ub));
    TRY(as_uint(n, "output size", &un));
    return launch(BE(base), BE(base)->k.batch_stats, "batch_stats", 1, (size_t[]){1}, 7,
                  (karg[]){ARG(ub), ARG(un), MEM(out), MEM(y), MEM(row_loss), ARG(us), MEM(stats)});
}

static clmlp_status cl_confusion_update(clmlp_be *base, size_t batch, size_t n, const clmlp_buf *out,
                                        const clmlp_buf *y, clmlp_buf *confusion)
{
    cl_uint ub, un;
    TRY(as_uint(batch, "batch", &ub));
    TRY(as_uint(n, "output size", &un));
    return launch(BE(base), BE(base)->k.confusion_update, "confusion_update", 1, (size_t[]){1}, 5,
                  (karg[]){ARG(ub), ARG(un), MEM(out), MEM(y), MEM(confusion)});
}

static clmlp_status cl_train_per_sample(clmlp_be *base, const clmlp_fused_net *net, const clmlp_bbuf *pixels,
                                        double scale, double shift, const clmlp_buf *y, const clmlp_ibuf *order,
                                        size_t first, size_t count, double lr, double momentum, double weight_decay,
                                        clmlp_buf *stats)
{
    clmlp_cl_be *be = BE(base);
    if (net->L < 1 || net->L > CLMLP_FUSED_MAX_LAYERS)
        return clmlp_fail(CLMLP_EINVAL, "the fused per-sample kernel takes 1 to %d layers, not %zu",
                          CLMLP_FUSED_MAX_LAYERS, net->L);
    cl_uint u[5] = {0, 0, 0, 0, 0}, uL = (cl_uint)net->L, ce = net->loss == CLMLP_LOSS_SOFTMAX_CE, ufirst, ucount;
    size_t work = 0;
    for (size_t l = 0; l <= net->L; l++) {
        TRY(as_uint(net->n[l], "layer size", &u[l]));
        work += l ? 3 * net->n[l] : net->n[0];
    }
    TRY(as_uint(first, "first sample", &ufirst));
    TRY(as_uint(count, "sample count", &ucount));
    TRY(reserve(be, &be->work, work));
    real_arg r_lr, r_mom, r_wd, r_scale, r_shift;
    karg args[35] = {ARG(uL),
                     ARG(u[0]),
                     ARG(u[1]),
                     ARG(u[2]),
                     ARG(u[3]),
                     ARG(u[4]),
                     ARG(ce),
                     real_karg(base, &r_lr, lr),
                     real_karg(base, &r_mom, momentum),
                     real_karg(base, &r_wd, weight_decay),
                     ARG(ufirst),
                     ARG(ucount),
                     MEM(pixels),
                     real_karg(base, &r_scale, scale),
                     real_karg(base, &r_shift, shift),
                     MEM(y),
                     MEM(order),
                     MEM(be->work),
                     MEM(stats)};
    for (size_t l = 1; l <= CLMLP_FUSED_MAX_LAYERS; l++) { /* unused layers repeat layer 1's buffers */
        size_t k = l <= net->L ? l : 1;
        args[19 + 4 * (l - 1) + 0] = MEM(net->W[k]);
        args[19 + 4 * (l - 1) + 1] = MEM(net->b[k]);
        args[19 + 4 * (l - 1) + 2] = MEM(net->vW[k]);
        args[19 + 4 * (l - 1) + 3] = MEM(net->vb[k]);
    }
    return launch(be, be->k.train_per_sample, "train_per_sample", 1, (size_t[]){1}, 35, args);
}

/* ---- life cycle --------------------------------------------------------- */

static void cl_destroy(clmlp_be *base)
{
    clmlp_cl_be *be = BE(base);
    if (!be)
        return;
    if (be->queue)
        clFinish(be->queue);
    clmlp_cl_release_kernels(be);
    clmlp_buf *owned[] = {be->work};
    for (size_t i = 0; i < 1; i++)
        if (owned[i]) {
            clReleaseMemObject(owned[i]->mem);
            free(owned[i]);
        }
    if (be->queue)
        clReleaseCommandQueue(be->queue);
    if (be->context)
        clReleaseContext(be->context);
    free(be);
}

static const clmlp_backend_ops cl_ops = {
    .destroy = cl_destroy,
    .alloc = cl_alloc,
    .release = cl_release,
    .upload = cl_upload,
    .download = cl_download,
    .fill = cl_fill,
    .alloc_indices = cl_alloc_indices,
    .release_indices = cl_release_indices,
    .upload_indices = cl_upload_indices,
    .alloc_bytes = cl_alloc_bytes,
    .release_bytes = cl_release_bytes,
    .upload_bytes = cl_upload_bytes,
    .forward_layer = cl_forward_layer,
    .output_delta = cl_output_delta,
    .backprop_delta = cl_backprop_delta,
    .sech2_mul = cl_sech2_mul,
    .weight_grad = cl_weight_grad,
    .sgd_update = cl_sgd_update,
    .gather_rows = cl_gather_rows,
    .gather_pixels = cl_gather_pixels,
    .sgd_momentum = cl_sgd_momentum,
    .weight_grad_sgd = cl_weight_grad_sgd,
    .batch_stats = cl_batch_stats,
    .confusion_update = cl_confusion_update,
    .train_per_sample = cl_train_per_sample,
};

static clmlp_status gemm_mode_from_env(clmlp_gemm_mode *mode)
{
    const char *v = getenv("CLMLP_GEMM");
    if (!v || !*v || strcmp(v, "auto") == 0)
        *mode = CLMLP_GEMM_AUTO;
    else if (strcmp(v, "own") == 0)
        *mode = CLMLP_GEMM_OWN;
    else if (strcmp(v, "clblast") == 0)
        *mode = CLMLP_GEMM_CLBLAST;
    else if (strcmp(v, "simple") == 0)
        *mode = CLMLP_GEMM_SIMPLE;
    else
        return clmlp_fail(CLMLP_EINVAL, "CLMLP_GEMM='%s' is not auto, own, clblast or simple", v);
    return CLMLP_OK;
}

static clmlp_status device_setup(clmlp_cl_be *be)
{
    char name[200] = "";
    cl_int err = clGetDeviceInfo(be->device, CL_DEVICE_NAME, sizeof name - 1, name, NULL);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_NAME)", err);
    snprintf(be->base.name, sizeof be->base.name, "opencl: %s", name);

    err = clGetDeviceInfo(be->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof be->max_alloc, &be->max_alloc, NULL);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_MAX_MEM_ALLOC_SIZE)", err);
    if (be->gemm == CLMLP_GEMM_AUTO) { /* our tiled kernels on CPUs, CLBlast's tuning elsewhere */
        cl_device_type type = 0;
        err = clGetDeviceInfo(be->device, CL_DEVICE_TYPE, sizeof type, &type, NULL);
        if (err != CL_SUCCESS)
            return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_TYPE)", err);
        be->gemm = type & CL_DEVICE_TYPE_CPU ? CLMLP_GEMM_OWN : CLMLP_GEMM_CLBLAST;
    }

    if (be->base.dtype == CLMLP_F64) {
        size_t len = 0;
        err = clGetDeviceInfo(be->device, CL_DEVICE_EXTENSIONS, 0, NULL, &len);
        char *all = err == CL_SUCCESS ? malloc(len + 1) : NULL;
        if (err != CL_SUCCESS)
            return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", err);
        if (!all)
            return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes for the extension list", len + 1);
        err = clGetDeviceInfo(be->device, CL_DEVICE_EXTENSIONS, len, all, NULL);
        all[len] = '\0';
        int has_fp64 = err == CL_SUCCESS && strstr(all, "cl_khr_fp64") != NULL;
        free(all);
        if (err != CL_SUCCESS)
            return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", err);
        if (!has_fp64)
            return clmlp_fail(CLMLP_ENODEVICE, "OpenCL device '%s' lacks cl_khr_fp64, needed for CLMLP_F64 (use CLMLP_F32)", name);
    }

    be->context = clCreateContext(NULL, 1, &be->device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        be->context = NULL;
        return clmlp_cl_fail("clCreateContext", err);
    }
    be->queue = clCreateCommandQueue(be->context, be->device, 0, &err);
    if (err != CL_SUCCESS) {
        be->queue = NULL;
        return clmlp_cl_fail("clCreateCommandQueue", err);
    }
    return clmlp_cl_build_kernels(be);
}

clmlp_status clmlp_opencl_backend_create(const clmlp_config *cfg, clmlp_be **out)
{
    clmlp_gemm_mode gemm = CLMLP_GEMM_AUTO;
    clmlp_status s = gemm_mode_from_env(&gemm);
    if (s != CLMLP_OK)
        return s;
    clmlp_cl_be *be = calloc(1, sizeof *be);
    if (!be)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate the OpenCL backend");
    be->base.ops = &cl_ops;
    be->base.dtype = cfg->dtype;
    be->gemm = gemm;
    s = clmlp_cl_choose_device(cfg->platform, cfg->device, &be->device);
    if (s == CLMLP_OK)
        s = device_setup(be);
    if (s != CLMLP_OK) {
        cl_destroy(&be->base);
        return s;
    }
    *out = &be->base;
    return CLMLP_OK;
}
