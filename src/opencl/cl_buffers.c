/* Device memory: allocation (with the padding the tiled products read past an edge),
 * writes from a staging copy that an event callback frees, blocking reads, fills. */
#include <stdlib.h>

#include "../error.h"
#include "cl_common.h"

#define BE(be) ((clmlp_cl_be *)(be))

clmlp_status clmlp_cl_mem_alloc(clmlp_be *base, size_t bytes, void **mem)
{
    clmlp_cl_be *be = BE(base);
    if (bytes > SIZE_MAX - be->pad_bytes)
        return clmlp_fail(CLMLP_ENOMEM, "a device buffer of %zu bytes overflows size_t", bytes);
    bytes += be->pad_bytes;
    if (bytes > be->max_alloc)
        return clmlp_fail(CLMLP_ENOMEM,
                          "a device buffer of %zu bytes exceeds the device's largest allocation (%llu bytes)", bytes,
                          (unsigned long long)be->max_alloc);
    cl_int err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    cl_mem created = clCreateBuffer(be->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
    if (err == CL_SUCCESS) {
        *mem = created;
        return CLMLP_OK;
    }
    clmlp_status s =
        err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_HOST_MEMORY || err == CL_OUT_OF_RESOURCES
            ? CLMLP_ENOMEM
            : CLMLP_EOPENCL;
    clmlp_cl_fail("clCreateBuffer", err);
    return clmlp_fail_context(s, "device buffer of %zu bytes", bytes);
}

void clmlp_cl_mem_free(clmlp_be *base, void *mem)
{
    (void)base;
    if (mem) /* enqueued work keeps its own reference */
        clReleaseMemObject((cl_mem)mem);
}

static void CL_CALLBACK free_staging(cl_event event, cl_int status, void *staging)
{
    (void)event;
    (void)status;
    free(staging);
}

/* Writes without waiting: the staging copy is freed by an event callback when the
 * write completes (or here, after waiting, if the callback cannot be set). */
clmlp_status clmlp_cl_mem_write(clmlp_be *base, void *mem, size_t offset, void *staging, size_t bytes)
{
    clmlp_cl_be *be = BE(base);
    cl_event done;
    cl_int err = clEnqueueWriteBuffer(be->queue, (cl_mem)mem, CL_FALSE, offset, bytes, staging, 0, NULL, &done);
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

clmlp_status clmlp_cl_mem_read(clmlp_be *base, const void *mem, void *dst, size_t bytes)
{
    cl_int err = clEnqueueReadBuffer(BE(base)->queue, (cl_mem)mem, CL_TRUE, 0, bytes, dst, 0, NULL, NULL);
    return err == CL_SUCCESS ? CLMLP_OK : clmlp_cl_fail("clEnqueueReadBuffer", err);
}

clmlp_status clmlp_cl_fill(clmlp_be *base, clmlp_buf *dst, size_t n, double value)
{
    clmlp_cl_be *be = BE(base);
    cl_uint un;
    clmlp_real_arg v;
    TRY(clmlp_cl_uint(n, "element count", &un));
    return clmlp_cl_launch(be, be->k.fill, "fill", 1, (size_t[]){n}, NULL, 3,
                           (clmlp_karg[]){ARG(un), clmlp_cl_real(be, &v, value), MEM(dst)});
}

clmlp_status clmlp_cl_reserve(clmlp_cl_be *be, clmlp_buf **buf, size_t n)
{
    if (*buf && (*buf)->n >= n)
        return CLMLP_OK;
    clmlp_buf *bigger;
    TRY(clmlp_buf_alloc(&be->base, CLMLP_BUF_REAL, n, &bigger));
    clmlp_buf_release(&be->base, *buf);
    *buf = bigger;
    return CLMLP_OK;
}
