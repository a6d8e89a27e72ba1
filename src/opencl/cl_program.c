/* Building the embedded kernels for the backend's dtype, or loading them from the cache. */
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

static clmlp_status build_failure(clmlp_cl_be *be, cl_int err)
{
    size_t len = 0;
    char log[768] = "";
    if (clGetProgramBuildInfo(be->program, be->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len) == CL_SUCCESS &&
        len > 0) {
        char *full = malloc(len);
        if (full && clGetProgramBuildInfo(be->program, be->device, CL_PROGRAM_BUILD_LOG, len, full, NULL) == CL_SUCCESS) {
            strncpy(log, full, sizeof log - 1);
            log[sizeof log - 1] = '\0';
        }
        free(full);
    }
    return clmlp_fail(CLMLP_EOPENCL, "clBuildProgram failed: %s (%d); build log: %s",
                      clmlp_cl_error_name(err), (int)err, log[0] ? log : "(empty)");
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

clmlp_status clmlp_cl_build_kernels(clmlp_cl_be *be)
{
    cl_int err;
    const char *src = clmlp_kernel_source;
    const char *options = be->base.dtype == CLMLP_F64 ? "-cl-std=CL1.2 -D CLMLP_FP64" PLANTED_BUG
                                                      : "-cl-std=CL1.2" PLANTED_BUG;
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
        if (cached)
            clmlp_cl_cache_store(be, be->program, cache_path, key);
    }

    struct {
        const char *name;
        cl_kernel *slot;
    } kernels[] = {
        {"forward_layer", &be->k.forward_layer},   {"bias_act", &be->k.bias_act},
        {"output_delta_mse", &be->k.output_delta_mse}, {"output_delta_ce", &be->k.output_delta_ce},
        {"backprop_delta", &be->k.backprop_delta}, {"sech2_mul", &be->k.sech2_mul},
        {"weight_grad", &be->k.weight_grad},       {"bias_grad", &be->k.bias_grad},
        {"sgd_update", &be->k.sgd_update},         {"fill", &be->k.fill},
        {"gather_rows", &be->k.gather_rows},       {"sgd_momentum", &be->k.sgd_momentum},
        {"gather_pixels", &be->k.gather_pixels},
        {"batch_stats", &be->k.batch_stats},       {"confusion_update", &be->k.confusion_update},
        {"gemm_nn", &be->k.gemm_nn},               {"gemm_tn", &be->k.gemm_tn},
        {"train_per_sample", &be->k.train_per_sample},
        {"gemm_nt", &be->k.gemm_nt},               {"gemm_tn_sgd", &be->k.gemm_tn_sgd},
    };
    for (size_t i = 0; i < sizeof kernels / sizeof kernels[0]; i++) {
        clmlp_status s = create_kernel(be, kernels[i].name, kernels[i].slot);
        if (s != CLMLP_OK)
            return s;
    }
    return CLMLP_OK;
}

void clmlp_cl_release_kernels(clmlp_cl_be *be)
{
    cl_kernel *all[] = {&be->k.forward_layer,   &be->k.bias_act,       &be->k.output_delta_mse,
                        &be->k.output_delta_ce, &be->k.backprop_delta, &be->k.sech2_mul,
                        &be->k.weight_grad,     &be->k.bias_grad,      &be->k.sgd_update,
                        &be->k.fill,            &be->k.gather_rows,    &be->k.sgd_momentum,
                        &be->k.gather_pixels,
                        &be->k.batch_stats,     &be->k.confusion_update, &be->k.gemm_nn,
                        &be->k.gemm_tn,         &be->k.train_per_sample,
                        &be->k.gemm_nt,         &be->k.gemm_tn_sgd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (*all[i]) {
            clReleaseKernel(*all[i]);
            *all[i] = NULL;
        }
    if (be->program) {
        clReleaseProgram(be->program);
        be->program = NULL;
    }
}
