/* Opening the backend a config asks for, and the one buffer type every backend shares:
 * sizes, kinds and bounds are checked here, reals converted from and to double here;
 * a backend only allocates, moves and frees bytes. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "error.h"
#include "fault.h"
#include "net_internal.h"

clmlp_status clmlp_backend_open(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, clmlp_be **out)
{
    switch (cfg->backend) {
    case CLMLP_BACKEND_HOST: return clmlp_host_backend_create(cfg->dtype, out);
    case CLMLP_BACKEND_OPENCL: return clmlp_opencl_backend_create(cfg, sizes, n_sizes, out);
    case CLMLP_BACKEND_AUTO: {
        /* A device asked for (indices, device_spec, or CLMLP_DEVICE, which the resolved
         * config carries the same way) is a request: one that cannot be met is an error.
         * Only a fully open choice falls back to the host path, which computes the same
         * thing, when no device is usable (none installed, no fp64, a failed build); a
         * malformed request or exhausted memory is an error either way. */
        int device_asked = cfg->platform >= 0 || cfg->device >= 0 || cfg->device_spec[0] != '\0';
        clmlp_status s = clmlp_opencl_backend_create(cfg, sizes, n_sizes, out);
        if (s == CLMLP_OK || device_asked || s == CLMLP_EINVAL || s == CLMLP_ENOMEM)
            return s;
        char reason[sizeof((clmlp_be *)0)->fallback];
        snprintf(reason, sizeof reason, "%s", clmlp_last_error()[0] ? clmlp_last_error() : clmlp_strerror(s));
        TRY(clmlp_host_backend_create(cfg->dtype, out));
        memcpy((*out)->fallback, reason, sizeof reason);
        return CLMLP_OK;
    }
    }
    return clmlp_fail(CLMLP_EINVAL, "unknown backend %d", (int)cfg->backend);
}

const char *clmlp_fallback_reason(const clmlp_net *net) { return net ? net->be->fallback : ""; }

static const char *kind_name(clmlp_buf_kind kind)
{
    return kind == CLMLP_BUF_REAL ? "reals" : kind == CLMLP_BUF_INDEX ? "indices" : "bytes";
}

size_t clmlp_buf_element_size(const clmlp_be *be, clmlp_buf_kind kind)
{
    switch (kind) {
    case CLMLP_BUF_REAL: return be->dtype == CLMLP_F32 ? sizeof(float) : sizeof(double);
    case CLMLP_BUF_INDEX: return sizeof(uint32_t);
    case CLMLP_BUF_BYTE: return 1;
    }
    return 1;
}

clmlp_status clmlp_buf_alloc(clmlp_be *be, clmlp_buf_kind kind, size_t n, clmlp_buf **out)
{
    size_t bytes;
    if (!clmlp_mul_ok(n, clmlp_buf_element_size(be, kind), &bytes))
        return clmlp_fail(CLMLP_ENOMEM, "a buffer of %zu %s overflows size_t", n, kind_name(kind));
    clmlp_buf *buf = malloc(sizeof *buf);
    if (!buf)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a buffer handle");
    *buf = (clmlp_buf){.kind = kind, .n = n};
    clmlp_status s = clmlp_fault_hit(CLMLP_FAULT_ALLOC)
                         ? clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes (fault injected)", bytes)
                         : be->ops->mem_alloc(be, bytes, &buf->mem);
    if (s != CLMLP_OK) {
        free(buf);
        return s;
    }
    *out = buf;
    return CLMLP_OK;
}

void clmlp_buf_release(clmlp_be *be, clmlp_buf *buf)
{
    if (!buf)
        return;
    be->ops->mem_free(be, buf->mem);
    free(buf);
}

static clmlp_status check_range(const clmlp_buf *buf, clmlp_buf_kind kind, size_t offset, size_t n, const char *what)
{
    if (buf->kind != kind)
        return clmlp_fail(CLMLP_EINVAL, "%s of %s into a buffer of %s", what, kind_name(kind), kind_name(buf->kind));
    if (offset > buf->n || n > buf->n - offset)
        return clmlp_fail(CLMLP_EINVAL, "%s of %zu %s at %zu: the buffer holds %zu", what, n, kind_name(kind), offset,
                          buf->n);
    return CLMLP_OK;
}

clmlp_status clmlp_buf_upload(clmlp_be *be, clmlp_buf *dst, size_t offset, const double *src, size_t n)
{
    TRY(check_range(dst, CLMLP_BUF_REAL, offset, n, "upload"));
    if (n == 0)
        return CLMLP_OK;
    size_t size = clmlp_buf_element_size(be, CLMLP_BUF_REAL);
    void *staging = clmlp_alloc_array(n, size);
    if (!staging)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu reals to stage an upload", n);
    if (be->dtype == CLMLP_F32)
        for (size_t e = 0; e < n; e++)
            ((float *)staging)[e] = (float)src[e];
    else
        memcpy(staging, src, n * size);
    return be->ops->mem_write(be, dst->mem, offset * size, staging, n * size);
}

clmlp_status clmlp_buf_upload_raw(clmlp_be *be, clmlp_buf *dst, size_t offset, const void *src, size_t n)
{
    if (dst->kind == CLMLP_BUF_REAL)
        return clmlp_fail(CLMLP_EINVAL, "raw upload into a buffer of reals");
    TRY(check_range(dst, dst->kind, offset, n, "upload"));
    if (n == 0)
        return CLMLP_OK;
    size_t size = clmlp_buf_element_size(be, dst->kind);
    void *staging = clmlp_alloc_array(n, size);
    if (!staging)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu %s to stage an upload", n, kind_name(dst->kind));
    memcpy(staging, src, n * size);
    return be->ops->mem_write(be, dst->mem, offset * size, staging, n * size);
}

clmlp_status clmlp_buf_download(clmlp_be *be, const clmlp_buf *src, double *dst, size_t n)
{
    TRY(check_range(src, CLMLP_BUF_REAL, 0, n, "download"));
    if (n == 0)
        return CLMLP_OK;
    if (be->dtype == CLMLP_F64)
        return be->ops->mem_read(be, src->mem, dst, n * sizeof(double));
    float *staging = clmlp_alloc_array(n, sizeof(float));
    if (!staging)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu floats to stage a download", n);
    clmlp_status s = be->ops->mem_read(be, src->mem, staging, n * sizeof(float));
    for (size_t e = 0; s == CLMLP_OK && e < n; e++)
        dst[e] = staging[e];
    free(staging);
    return s;
}

clmlp_status clmlp_buf_download_raw(clmlp_be *be, const clmlp_buf *src, void *dst, size_t n)
{
    if (src->kind == CLMLP_BUF_REAL)
        return clmlp_fail(CLMLP_EINVAL, "raw download from a buffer of reals");
    TRY(check_range(src, src->kind, 0, n, "download"));
    return n == 0 ? CLMLP_OK : be->ops->mem_read(be, src->mem, dst, n * clmlp_buf_element_size(be, src->kind));
}

clmlp_status clmlp_buf_fill(clmlp_be *be, clmlp_buf *dst, size_t n, double value)
{
    TRY(check_range(dst, CLMLP_BUF_REAL, 0, n, "fill"));
    return n == 0 ? CLMLP_OK : be->ops->fill(be, dst, n, value);
}
