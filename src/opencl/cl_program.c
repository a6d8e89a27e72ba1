/* Building the embedded kernels for the backend's dtype, or loading them from the cache. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "../fault.h"
#include "cl_common.h"

extern const char clmlp_kernel_source[]; /* generated from the kernels/ folder by CMake */

#ifdef CLMLP_PLANT_MISSING_OUTPUT_SECH2
#define PLANTED_BUG " -D CLMLP_PLANT_MISSING_OUTPUT_SECH2"
#else
#define PLANTED_BUG ""
#endif

/* Every kernel the backend uses, by name and place in clmlp_cl_kernels. */
#define KERNEL(name)                                                                                                   \
    {                                                                                                                  \
#name, offsetof(clmlp_cl_kernels, name)                                                                        \
    }
static const struct {
    const char *name;
    size_t offset;
} kernels[] = {
    KERNEL(forward_layer),  KERNEL(bias_act),         KERNEL(output_delta_mse), KERNEL(output_delta_ce),
    KERNEL(backprop_delta), KERNEL(sech2_mul),        KERNEL(weight_grad),      KERNEL(bias_grad),
    KERNEL(fill),           KERNEL(gather_rows),      KERNEL(gather_pixels),    KERNEL(sgd_momentum),
    KERNEL(batch_stats),    KERNEL(confusion_update), KERNEL(gemm_nn),          KERNEL(gemm_tn),
    KERNEL(gemm_nt),        KERNEL(gemm_tn_sgd),      KERNEL(train_per_sample), KERNEL(adam_update),
};
#undef KERNEL

static cl_kernel *slot(clmlp_cl_be *be, size_t i) { return (cl_kernel *)((char *)&be->k + kernels[i].offset); }

static clmlp_status build_failure(clmlp_cl_be *be, cl_int err)
{
    size_t len = 0;
    char log[768] = "";
    if (clGetProgramBuildInfo(be->program, be->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) == CL_SUCCESS && len > 0) {
        char *full = malloc(len);
        if (full &&
            clGetProgramBuildInfo(be->program, be->device, CL_PROGRAM_BUILD_LOG, len, full, NULL) == CL_SUCCESS) {
            strncpy(log, full, sizeof log - 1);
            log[sizeof log - 1] = '\0';
        }
        free(full);
    }
    return clmlp_fail(CLMLP_EOPENCL, "clBuildProgram failed: %s (%d); build log: %s", clmlp_cl_error_name(err),
                      (int)err, log[0] ? log : "(empty)");
}

/* The log of the program build that just succeeded, kept for clmlp_cl_build_log (a
 * clean build leaves it empty or blank; a missing log is an empty one). */
static void keep_build_log(clmlp_cl_be *be)
{
    size_t len = 0;
    free(be->build_log);
    be->build_log = NULL;
    if (clGetProgramBuildInfo(be->program, be->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) != CL_SUCCESS || len < 2)
        return;
    char *log = malloc(len + 1);
    if (log && clGetProgramBuildInfo(be->program, be->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) == CL_SUCCESS) {
        log[len] = '\0';
        be->build_log = log;
        return;
    }
    free(log);
}

const char *clmlp_cl_build_log(const clmlp_be *base)
{
    const clmlp_cl_be *be = (const clmlp_cl_be *)base;
    return base && base->ops == &clmlp_cl_ops && be->build_log ? be->build_log : "";
}

static clmlp_status create_kernel(clmlp_cl_be *be, const char *name, cl_kernel *out)
{
    cl_int err;
    *out = clCreateKernel(be->program, name, &err);
    if (err != CL_SUCCESS) {
        *out = NULL;
        clmlp_cl_fail("clCreateKernel", err);
        return clmlp_fail_context(CLMLP_EOPENCL, "kernel %s", name);
    }
    return CLMLP_OK;
}

/* The GPU family's work-groups must fit what the built kernels allow on the device:
 * a shape that does not is refused here, with the figures, rather than at a launch. */
static clmlp_status check_gpu_limits(clmlp_cl_be *be)
{
    cl_ulong device_local = 0;
    cl_int err = clGetDeviceInfo(be->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof device_local, &device_local, NULL);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_LOCAL_MEM_SIZE)", err);
    const clmlp_cl_gpu_shape *g = &be->tiles.gpu;
    const struct {
        cl_kernel kernel;
        const char *name;
        size_t items;
    } checks[] = {
        {be->k.gemm_nn, "gemm_nn", g->wg_m * g->wg_n},         {be->k.gemm_tn, "gemm_tn", g->wg_m * g->wg_n},
        {be->k.gemm_tn_sgd, "gemm_tn_sgd", g->wg_m * g->wg_n}, {be->k.gemm_nt, "gemm_nt", g->wg_m * g->wg_n},
        {be->k.batch_stats, "batch_stats", g->group},          {be->k.confusion_update, "confusion_update", g->group},
        {be->k.train_per_sample, "train_per_sample", g->group}};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        size_t local = 0, max_group = 0;
        TRY(clmlp_cl_kernel_limits(be, checks[i].kernel, &local, &max_group));
        if (checks[i].items > max_group || local > device_local)
            return clmlp_fail(CLMLP_EINVAL,
                              "gpu tiles: kernel %s needs %zu work-items and %zu bytes of local memory; the device "
                              "allows %zu and %llu",
                              checks[i].name, checks[i].items, local, max_group, (unsigned long long)device_local);
    }
    return CLMLP_OK;
}

clmlp_status clmlp_cl_build_kernels(clmlp_cl_be *be)
{
    cl_int err;
    const char *src = clmlp_kernel_source;
    char tiles[160], options[256];
    if (!clmlp_cl_tiles_options(&be->tiles, tiles, sizeof tiles))
        return clmlp_fail(CLMLP_EINVAL, "the tile options do not fit");
    snprintf(options, sizeof options, "-cl-std=CL1.2%s %s%s", be->base.dtype == CLMLP_F64 ? " -D CLMLP_FP64" : "",
             tiles, PLANTED_BUG);
    char cache_path[4096];
    uint64_t key = 0;
    int cached = clmlp_cl_cache_path(be, options, src, cache_path, sizeof cache_path, &key);
    be->program = cached ? clmlp_cl_cache_load(be, cache_path, key, options) : NULL;
    be->program_from_cache = be->program != NULL;
    if (!be->program) {
        be->program = clCreateProgramWithSource(be->context, 1, &src, NULL, &err);
        if (err != CL_SUCCESS) {
            be->program = NULL;
            return clmlp_cl_fail("clCreateProgramWithSource", err);
        }
        err = clmlp_fault_hit(CLMLP_FAULT_BUILD) ? CL_BUILD_PROGRAM_FAILURE
                                                 : clBuildProgram(be->program, 1, &be->device, options, NULL, NULL);
        if (err != CL_SUCCESS)
            return build_failure(be, err);
        keep_build_log(be);
        if (cached)
            clmlp_cl_cache_store(be, be->program, cache_path, key);
    }

    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        TRY(create_kernel(be, kernels[i].name, slot(be, i)));
    return be->family == CLMLP_CL_GPU ? check_gpu_limits(be) : CLMLP_OK;
}

clmlp_status clmlp_cl_kernel_limits(const clmlp_cl_be *be, cl_kernel kernel, size_t *local_bytes, size_t *max_group)
{
    cl_ulong local = 0;
    cl_int err = clGetKernelWorkGroupInfo(kernel, be->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof local, &local, NULL);
    if (err == CL_SUCCESS)
        err =
            clGetKernelWorkGroupInfo(kernel, be->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof *max_group, max_group, NULL);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetKernelWorkGroupInfo", err);
    *local_bytes = (size_t)local;
    return CLMLP_OK;
}

void clmlp_cl_release_kernels(clmlp_cl_be *be)
{
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++)
        if (*slot(be, i)) {
            clReleaseKernel(*slot(be, i));
            *slot(be, i) = NULL;
        }
    if (be->program) {
        clReleaseProgram(be->program);
        be->program = NULL;
    }
    free(be->build_log);
    be->build_log = NULL;
}
