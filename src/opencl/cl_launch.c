/* Launching kernels: arguments, sizes that must fit a uint, and the tiled products'
 * shape. Every enqueue goes through clmlp_cl_launch. In the GPU family every enqueue
 * has an explicit local size, the global size rounded up to it (the kernels check
 * their bounds). */
#include <limits.h>

#include "../error.h"
#include "../fault.h"
#include "cl_common.h"

clmlp_karg clmlp_cl_real(const clmlp_cl_be *be, clmlp_real_arg *storage, double v)
{
    storage->f = (float)v;
    storage->d = v;
    return be->base.dtype == CLMLP_F32 ? ARG(storage->f) : ARG(storage->d);
}

clmlp_status clmlp_cl_uint(size_t v, const char *what, cl_uint *out)
{
    if (v > UINT_MAX)
        return clmlp_fail(CLMLP_EINVAL, "%s = %zu exceeds the OpenCL backend's limit %u", what, v, UINT_MAX);
    *out = (cl_uint)v;
    return CLMLP_OK;
}

enum { GPU_ELEMENTWISE_GROUP = 64 };

static size_t next_power_of_two(size_t v)
{
    size_t p = 1;
    while (p < v && p < GPU_ELEMENTWISE_GROUP)
        p <<= 1;
    return p;
}

/* A GPU local size for a kernel launched without one: 64 work-items, as many as
 * possible in dimension 0; *rounded the global size rounded up to it. */
static void gpu_local_size(cl_uint dims, const size_t *global, size_t *local, size_t *rounded)
{
    size_t left = GPU_ELEMENTWISE_GROUP;
    for (cl_uint d = 0; d < dims; d++) {
        local[d] = next_power_of_two(global[d]);
        if (local[d] > left)
            local[d] = left;
        left /= local[d];
        rounded[d] = (global[d] + local[d] - 1) / local[d] * local[d];
    }
}

clmlp_status clmlp_cl_launch(clmlp_cl_be *be, cl_kernel kernel, const char *name, cl_uint dims, const size_t *global,
                             const size_t *local, size_t n_args, const clmlp_karg *args)
{
    size_t gpu_local[3], gpu_global[3];
    if (!local && be->family == CLMLP_CL_GPU && dims <= 3) {
        gpu_local_size(dims, global, gpu_local, gpu_global);
        local = gpu_local;
        global = gpu_global;
    }
    /* a kernel object holds one set of arguments: from the first to the enqueue, which
     * captures them, no other thread may set this kernel's (nor touch the profile) */
    pthread_mutex_lock(&be->lock);
    clmlp_status s = CLMLP_OK;
    for (size_t i = 0; i < n_args && s == CLMLP_OK; i++) {
        cl_int err = clSetKernelArg(kernel, (cl_uint)i, args[i].size, args[i].value);
        if (err != CL_SUCCESS) {
            clmlp_cl_fail("clSetKernelArg", err);
            s = clmlp_fail_context(CLMLP_EOPENCL, "kernel %s argument %zu", name, i);
        }
    }
    if (s == CLMLP_OK) {
        cl_event event = NULL;
        cl_int err = clmlp_fault_hit(CLMLP_FAULT_ENQUEUE)
                         ? CL_OUT_OF_RESOURCES
                         : clEnqueueNDRangeKernel(be->queue, kernel, dims, NULL, global, local, 0, NULL,
                                                  clmlp_cl_profile_event(be, &event));
        if (err != CL_SUCCESS) {
            clmlp_cl_fail("clEnqueueNDRangeKernel", err);
            s = clmlp_fail_context(CLMLP_EOPENCL, "kernel %s", name);
        } else
            s = clmlp_cl_profile_record(be, name, event);
    }
    pthread_mutex_unlock(&be->lock);
    return s;
}

enum { MAX_EPILOGUE_ARGS = 8 };

clmlp_status clmlp_cl_launch_product(clmlp_cl_be *be, cl_kernel kernel, const char *name, int rows_first,
                                     size_t tile_rows, size_t tile_cols, size_t m, size_t n, size_t k,
                                     const clmlp_buf *A, size_t lda, const clmlp_buf *B, size_t ldb, clmlp_buf *C,
                                     size_t ldc, size_t n_epilogue, const clmlp_karg *epilogue)
{
    if (n_epilogue > MAX_EPILOGUE_ARGS)
        return clmlp_fail(CLMLP_EINVAL, "kernel %s: %zu epilogue arguments, at most %d", name, n_epilogue,
                          MAX_EPILOGUE_ARGS);
    cl_uint um, un, uk, ua, ub, uc;
    TRY(clmlp_cl_uint(m, "rows", &um));
    TRY(clmlp_cl_uint(n, "columns", &un));
    TRY(clmlp_cl_uint(k, "inner size", &uk));
    TRY(clmlp_cl_uint(lda, "row stride", &ua));
    TRY(clmlp_cl_uint(ldb, "row stride", &ub));
    TRY(clmlp_cl_uint(ldc, "row stride", &uc));
    clmlp_karg args[9 + MAX_EPILOGUE_ARGS] = {ARG(um), ARG(un), ARG(uk), MEM(A), ARG(ua),
                                              MEM(B),  ARG(ub), MEM(C),  ARG(uc)};
    for (size_t i = 0; i < n_epilogue; i++)
        args[9 + i] = epilogue[i];
    if (be->family == CLMLP_CL_GPU) { /* gemm_gpu.cl: a work-group per tile, columns in dimension 0 */
        const clmlp_cl_gpu_shape *g = &be->tiles.gpu;
        size_t row_tiles = (m + g->wg_m * g->tm - 1) / (g->wg_m * g->tm);
        size_t col_tiles = (n + g->wg_n * g->tn - 1) / (g->wg_n * g->tn);
        size_t global[2] = {col_tiles * g->wg_n, row_tiles * g->wg_m}, local[2] = {g->wg_n, g->wg_m};
        return clmlp_cl_launch(be, kernel, name, 2, global, local, 9 + n_epilogue, args);
    }
    size_t row_tiles = (m + tile_rows - 1) / tile_rows, col_tiles = (n + tile_cols - 1) / tile_cols;
    size_t global[2] = {rows_first ? row_tiles : col_tiles, rows_first ? col_tiles : row_tiles};
    return clmlp_cl_launch(be, kernel, name, 2, global, (size_t[]){1, 1}, 9 + n_epilogue, args);
}
