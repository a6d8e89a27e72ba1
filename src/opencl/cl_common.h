/* Shared by the OpenCL backend's files: the backend struct and checked-call helpers. */
#ifndef CLMLP_CL_COMMON_H
#define CLMLP_CL_COMMON_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>

#include "../backend.h"

/* Which code computes the matrix products of a batch > 1: OWN, the register-tiled
 * kernels of gemm.cl (made for CPU devices); CLBLAST (tuned for GPUs); SIMPLE, the
 * one-work-item-per-output kernels of layers.cl, which always serve batch 1. AUTO picks
 * OWN on CPU devices and CLBLAST elsewhere. */
typedef enum { CLMLP_GEMM_AUTO = 0, CLMLP_GEMM_OWN = 1, CLMLP_GEMM_CLBLAST = 2, CLMLP_GEMM_SIMPLE = 3 } clmlp_gemm_mode;

/* Every device buffer has this many spare elements past its end: the tiled products
 * read whole vectors (up to 2 × 16 floats) at the edges. */
enum { CLMLP_PAD = 32 };

typedef struct clmlp_cl_kernels {
    cl_kernel forward_layer, bias_act, output_delta_mse, output_delta_ce, backprop_delta,
        sech2_mul, weight_grad, bias_grad, sgd_update, fill, gather_rows, gather_pixels, sgd_momentum, batch_stats,
        confusion_update, gemm_nn, gemm_tn, gemm_nt, gemm_tn_sgd, train_per_sample;
} clmlp_cl_kernels;

typedef struct clmlp_cl_be {
    clmlp_be base;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    clmlp_cl_kernels k;
    clmlp_gemm_mode gemm; /* resolved: never AUTO once created */
    clmlp_buf *work;      /* z, a, delta of the fused per-sample kernel, grown on demand */
    cl_ulong max_alloc; /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    int program_from_cache; /* the program came from the on-disk cache (for tests) */
} clmlp_cl_be;

struct clmlp_buf {
    cl_mem mem;
    size_t n;
};

struct clmlp_ibuf {
    cl_mem mem;
    size_t n;
};

struct clmlp_bbuf {
    cl_mem mem;
    size_t n;
};

/* "CL_OUT_OF_RESOURCES" for -5 and so on. */
const char *clmlp_cl_error_name(cl_int err);
/* CLMLP_EOPENCL with "<call> failed: <error name> (<code>)". */
clmlp_status clmlp_cl_fail(const char *call, cl_int err);

/* Picks platform and device from the config (or CLMLP_DEVICE when both are −1). */
clmlp_status clmlp_cl_choose_device(int platform, int device, cl_device_id *out);

/* Builds the embedded kernels for the backend's dtype and creates every kernel. */
clmlp_status clmlp_cl_build_kernels(clmlp_cl_be *be);
void clmlp_cl_release_kernels(clmlp_cl_be *be);

/* The on-disk program cache (cl_cache.c): the entry's path and key (0: cache off),
 * a built program from it (NULL: miss or bad entry), and storing a built program. */
int clmlp_cl_cache_path(const clmlp_cl_be *be, const char *options, const char *source, char *path, size_t size,
                        uint64_t *key);
cl_program clmlp_cl_cache_load(clmlp_cl_be *be, const char *path, uint64_t key, const char *options);
void clmlp_cl_cache_store(clmlp_cl_be *be, cl_program program, const char *path, uint64_t key);

/* C = op(A)·op(B) through CLBlast, row-major; op transposes when the flag is set. */
clmlp_status clmlp_cl_gemm(clmlp_cl_be *be, int trans_a, int trans_b, size_t m, size_t n,
                           size_t k, const clmlp_buf *A, size_t lda, const clmlp_buf *B,
                           size_t ldb, clmlp_buf *C, size_t ldc);

#endif
