/*
 * The GPU family's shapes (kernels/gemm_gpu.cl): a vendor's default, checked against
 * what the kernels take and the device's work-group limit, written as
 * "gpu:WMxWN:TMxTN:KT:VW:PAD:G" (work-group rows × columns, outputs per work-item,
 * K step, reals per global load, local-memory padding, 1-D work-group size).
 *
 * The defaults follow the public tuning results for small GEMMs (CLBlast's
 * XgemmDirect defaults, Nugteren's tutorial): 256 work-items in 16 × 16, 2 × 2 outputs
 * each (32 × 32 tiles: an MNIST-size product still fills dozens of work-groups), a K
 * step of 16 and 2-wide loads; 64 work-items in 8 × 8 on Intel's narrower units.
 * `clmlp tune` searches around them.
 */
#include <stdio.h>
#include <string.h>

#include "../error.h"
#include "cl_common.h"

static int power_of_two(unsigned v) { return v && (v & (v - 1)) == 0; }

clmlp_status clmlp_cl_gpu_shape_check(const clmlp_cl_gpu_shape *g)
{
    if (g->wg_m < 1 || g->wg_n < 1 || g->wg_m > 64 || g->wg_n > 64 || g->wg_m * g->wg_n > 1024)
        return clmlp_fail(CLMLP_EINVAL, "gpu tiles: work-group %u×%u (each 1–64, at most 1024 work-items)", g->wg_m,
                          g->wg_n);
    if (g->tm < 1 || g->tn < 1 || g->tm > 8 || g->tn > 8)
        return clmlp_fail(CLMLP_EINVAL, "gpu tiles: %u×%u outputs per work-item (1–8 each)", g->tm, g->tn);
    if (!power_of_two(g->kt) || g->kt < 4 || g->kt > 64)
        return clmlp_fail(CLMLP_EINVAL, "gpu tiles: K step %u (4, 8, 16, 32 or 64)", g->kt);
    if (g->vw != 1 && g->vw != 2 && g->vw != 4)
        return clmlp_fail(CLMLP_EINVAL, "gpu tiles: load width %u (1, 2 or 4)", g->vw);
    /* a load of vw reals stays within one row of a local tile */
    if ((g->wg_m * g->tm) % g->vw || (g->wg_n * g->tn) % g->vw)
        return clmlp_fail(CLMLP_EINVAL, "gpu tiles: tile %u×%u is not a multiple of the load width %u", g->wg_m * g->tm,
                          g->wg_n * g->tn, g->vw);
    if (g->lpad > 4)
        return clmlp_fail(CLMLP_EINVAL, "gpu tiles: local padding %u (0–4)", g->lpad);
    if (!power_of_two(g->group) || g->group > 1024)
        return clmlp_fail(CLMLP_EINVAL, "gpu tiles: 1-D work-group %u (a power of 2 up to 1024)", g->group);
    return CLMLP_OK;
}

clmlp_status clmlp_cl_gpu_shape_of_device(cl_device_id device, clmlp_cl_gpu_shape *out)
{
    char vendor[128] = "";
    size_t max_group = 0;
    cl_int err = clGetDeviceInfo(device, CL_DEVICE_VENDOR, sizeof vendor - 1, vendor, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_group, &max_group, NULL);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_VENDOR / CL_DEVICE_MAX_WORK_GROUP_SIZE)", err);
    clmlp_cl_gpu_shape g = {16, 16, 2, 2, 16, 2, 1, 256};
    if (strstr(vendor, "Intel"))
        g = (clmlp_cl_gpu_shape){8, 8, 4, 4, 16, 4, 1, 64};
    while (g.wg_m * g.wg_n > max_group && g.wg_m > 1) { /* halve the group until the device takes it */
        g.wg_m /= 2;
        g.tm *= 2;
    }
    while (g.group > max_group && g.group > 1)
        g.group /= 2;
    if (g.tm > 8)
        return clmlp_fail(CLMLP_ENODEVICE, "OpenCL device allows work-groups of %zu: too few for the GPU kernels",
                          max_group);
    *out = g;
    return clmlp_cl_gpu_shape_check(out);
}

clmlp_status clmlp_cl_gpu_shape_parse(const char *text, clmlp_cl_gpu_shape *out)
{
    clmlp_cl_gpu_shape g;
    int used = 0;
    if (sscanf(text, "gpu:%ux%u:%ux%u:%u:%u:%u:%u%n", &g.wg_m, &g.wg_n, &g.tm, &g.tn, &g.kt, &g.vw, &g.lpad, &g.group,
               &used) != 8 ||
        text[used] != '\0')
        return clmlp_fail(CLMLP_EINVAL,
                          "gpu tiles '%s' are not gpu:WMxWN:TMxTN:KT:VW:PAD:G (e.g. gpu:16x16:2x2:16:2:1:256)", text);
    TRY(clmlp_cl_gpu_shape_check(&g));
    *out = g;
    return CLMLP_OK;
}

int clmlp_cl_gpu_shape_format(const clmlp_cl_gpu_shape *g, char *out, size_t size)
{
    int n = snprintf(out, size, "gpu:%ux%u:%ux%u:%u:%u:%u:%u", g->wg_m, g->wg_n, g->tm, g->tn, g->kt, g->vw, g->lpad,
                     g->group);
    return n > 0 && (size_t)n < size;
}

int clmlp_cl_gpu_shape_options(const clmlp_cl_gpu_shape *g, char *out, size_t size)
{
    int n = snprintf(out, size,
                     "-D CLMLP_GPU -D GPU_WG_M=%u -D GPU_WG_N=%u -D GPU_TM=%u -D GPU_TN=%u -D GPU_KT=%u -D GPU_VW=%u "
                     "-D GPU_LPAD=%u -D GROUP=%u",
                     g->wg_m, g->wg_n, g->tm, g->tn, g->kt, g->vw, g->lpad, g->group);
    return n > 0 && (size_t)n < size;
}
