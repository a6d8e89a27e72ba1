/* Shared by the OpenCL backend's files: the backend struct and checked-call helpers. */
#ifndef CLMLP_CL_COMMON_H
#define CLMLP_CL_COMMON_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <pthread.h>

#include "../backend.h"

/* The two kernel families: CPU (kernels/gemm.cl, per_sample.cl: one work-item per
 * register tile, explicit vectors) and GPU (gemm_gpu.cl, per_sample_gpu.cl: work-groups
 * with local-memory tiles and reductions). */
typedef enum { CLMLP_CL_CPU = 0, CLMLP_CL_GPU = 1 } clmlp_cl_family;

/* The GPU family's shape (-D GPU_WG_M ... GROUP, cl_tiles_gpu.c): a work-group of
 * wg_m × wg_n work-items computes a tile of (wg_m·tm) × (wg_n·tn) outputs, tm × tn per
 * work-item, stepping K by kt through local memory (rows padded by lpad) with global
 * loads of vw reals; `group` is the work-group size of the 1-D kernels (reductions,
 * per-sample training). */
typedef struct clmlp_cl_gpu_shape {
    unsigned wg_m, wg_n, tm, tn, kt, vw, lpad, group;
} clmlp_cl_gpu_shape;

/* The shape of the kernels, passed to the program build as -D options (cl_tiles.c):
 * for the CPU family the register tiles of common.cl (VW, NN_ROWS, NN_VECS, NT_ROWS,
 * NT_COLS), for the GPU family `gpu`. */
typedef struct clmlp_cl_tiles {
    unsigned vw;               /* reals per vector */
    unsigned nn_rows, nn_vecs; /* gemm_nn / gemm_tn: rows × vectors */
    unsigned nt_rows, nt_cols; /* gemm_nt: rows of A × rows of B */
    unsigned planted_bug;      /* tests only: a candidate built wrong (-D CLMLP_PLANT_TILE_BUG) */
    clmlp_cl_family family;
    clmlp_cl_gpu_shape gpu;
    unsigned clblast; /* the products CLBlast runs instead (clmlp_cl_product bits; the tuner's finding) */
} clmlp_cl_tiles;

/* An initializer of CPU-family tiles: vector width, gemm_nn rows × vectors, gemm_nt
 * rows × columns. */
#define CLMLP_CL_CPU_TILES(w, r, v, nr, nc)                                                                            \
    {                                                                                                                  \
        .vw = (w), .nn_rows = (r), .nn_vecs = (v), .nt_rows = (nr), .nt_cols = (nc)                                    \
    }

/* The three products of a layer, as bits of clmlp_cl_tiles.clblast. */
typedef enum {
    CLMLP_CL_FORWARD = 1,     /* z = a_prev · W^T */
    CLMLP_CL_BACKPROP = 2,    /* delta_prev = delta · W */
    CLMLP_CL_WEIGHT_GRAD = 4, /* dW = delta^T · a_prev */
    CLMLP_CL_ALL_PRODUCTS = 7
} clmlp_cl_product;

/* The tiles for a native vector width (reals) and a register budget (vector registers). */
clmlp_cl_tiles clmlp_cl_tiles_for(unsigned native_width, unsigned registers);
/* The tiles the device's properties give for dtype in a family. */
clmlp_status clmlp_cl_tiles_of_device(cl_device_id device, clmlp_dtype dtype, clmlp_cl_family family,
                                      clmlp_cl_tiles *out);
/* The GPU family's default for the device (its vendor's, within its work-group limit). */
clmlp_status clmlp_cl_gpu_shape_of_device(cl_device_id device, clmlp_cl_gpu_shape *out);
/* CLMLP_EINVAL for a GPU shape the kernels do not take; "gpu:WMxWN:TMxTN:KT:VW:PAD:G"
 * to a shape and back. */
clmlp_status clmlp_cl_gpu_shape_check(const clmlp_cl_gpu_shape *g);
clmlp_status clmlp_cl_gpu_shape_parse(const char *text, clmlp_cl_gpu_shape *out);
int clmlp_cl_gpu_shape_format(const clmlp_cl_gpu_shape *g, char *out, size_t size);
int clmlp_cl_gpu_shape_options(const clmlp_cl_gpu_shape *g, char *out, size_t size);
/* CLMLP_EINVAL for a shape the kernels do not take. */
clmlp_status clmlp_cl_tiles_check(const clmlp_cl_tiles *t);
/* Spare elements every device buffer needs past its end (the products over-read). */
size_t clmlp_cl_tiles_pad(const clmlp_cl_tiles *t);
/* "VW:RxV:RxC" (clmlp_config.tiles) to tiles and back (0 if out is too small). */
clmlp_status clmlp_cl_tiles_parse(const char *text, clmlp_cl_tiles *out);
int clmlp_cl_tiles_format(const clmlp_cl_tiles *t, char *out, size_t size);
/* The build options; 0 if they do not fit out. */
int clmlp_cl_tiles_options(const clmlp_cl_tiles *t, char *out, size_t size);

typedef struct clmlp_cl_kernels {
    cl_kernel forward_layer, bias_act, output_delta_mse, output_delta_ce, backprop_delta, sech2_mul, weight_grad,
        bias_grad, fill, gather_rows, gather_pixels, sgd_momentum, adam_update, batch_stats, confusion_update, gemm_nn,
        gemm_tn, gemm_nt, gemm_tn_sgd, train_per_sample;
} clmlp_cl_kernels;

/* Kernel timings of a profiling queue (cl_profile.c): events wait in `pending` until
 * the table is read or the list is full, then their times add to their kernel's row. */
enum { CLMLP_CL_PROFILE_PENDING = 256, CLMLP_CL_PROFILE_KERNELS = 40 };
typedef struct clmlp_cl_profile {
    size_t n_pending, n_kernels;
    cl_event pending[CLMLP_CL_PROFILE_PENDING];
    const char *pending_name[CLMLP_CL_PROFILE_PENDING];
    clmlp_kernel_profile kernels[CLMLP_CL_PROFILE_KERNELS];
} clmlp_cl_profile;

typedef struct clmlp_cl_be {
    clmlp_be base;
    cl_device_id device;
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    clmlp_cl_kernels k;
    clmlp_products gemm;      /* clmlp_config.products, resolved: never AUTO once created */
    clmlp_kernels kernels;    /* clmlp_config.kernels */
    clmlp_cl_family family;   /* resolved from it, the tiles and the device type */
    clmlp_cl_tiles tiles;     /* the CPU kernels' shape */
    const char *tiles_source; /* "configured", "tuned" or "device default" */
    const size_t *db_sizes;   /* during creation: the net's sizes, to look the tiles up */
    size_t db_n_sizes;
    clmlp_buf *work;           /* z, a, delta of the fused per-sample kernel, grown on demand */
    size_t pad_bytes;          /* spare bytes past every buffer's end (clmlp_cl_tiles_pad) */
    cl_ulong max_alloc;        /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    int program_from_cache;    /* the program came from the on-disk cache (for tests) */
    char *build_log;           /* the compiler's log of the program build (NULL: empty, or from the cache) */
    clmlp_cl_profile *profile; /* NULL unless profiling */
    /* Held around what several threads running operations on one backend at once (as
     * clmlp_predict does) must not interleave: a kernel's clSetKernelArg calls and its
     * enqueue (clmlp_cl_launch), every CLBlast call, the profile's bookkeeping (which may
     * wait for the pending events: they are enqueued already). Not recursive: never held
     * across a call that takes it. */
    pthread_mutex_t lock;
    int lock_ready; /* lock initialized (destroy may meet a backend that failed before) */
} clmlp_cl_be;

/* A buffer's memory as the device sees it (clmlp_buf.mem holds a cl_mem). */
#define CL_MEM(buf) ((cl_mem)(buf)->mem)

/* ---- launching kernels (cl_launch.c) ---- */

/* A kernel argument: its size and where its value is. */
typedef struct {
    size_t size;
    const void *value;
} clmlp_karg;
#define ARG(x)   ((clmlp_karg){sizeof(x), &(x)})
#define MEM(buf) ((clmlp_karg){sizeof(cl_mem), &(buf)->mem})
/* A NULL buffer argument (an epilogue left out). */
#define NO_BUFFER ((clmlp_karg){sizeof(cl_mem), NULL})

/* A real-valued kernel argument in the backend's precision, kept in *storage. */
typedef struct {
    float f;
    double d;
} clmlp_real_arg;
clmlp_karg clmlp_cl_real(const clmlp_cl_be *be, clmlp_real_arg *storage, double v);

/* Kernels take sizes as uint: refuses what does not fit before launching. */
clmlp_status clmlp_cl_uint(size_t v, const char *what, cl_uint *out);
/* Sets the arguments and enqueues kernel over global (local NULL: the implementation
 * picks), atomically under be->lock; errors name the kernel. */
clmlp_status clmlp_cl_launch(clmlp_cl_be *be, cl_kernel kernel, const char *name, cl_uint dims, const size_t *global,
                             const size_t *local, size_t n_args, const clmlp_karg *args);
/* One of gemm.cl's products, C (m × n) from A, B with row strides lda, ldb, ldc, over
 * tiles of tile_rows × tile_cols outputs (one work-item each, local size 1; the tiles'
 * columns in dimension 0, or their rows when rows_first), with the kernel's epilogue
 * arguments after C's. In the GPU family, gemm_gpu.cl's: a work-group per tile of the
 * GPU shape (the tile arguments are the CPU family's and ignored). */
clmlp_status clmlp_cl_launch_product(clmlp_cl_be *be, cl_kernel kernel, const char *name, int rows_first,
                                     size_t tile_rows, size_t tile_cols, size_t m, size_t n, size_t k,
                                     const clmlp_buf *A, size_t lda, const clmlp_buf *B, size_t ldb, clmlp_buf *C,
                                     size_t ldc, size_t n_epilogue, const clmlp_karg *epilogue);

/* Profiling (cl_profile.c): where a launch's event goes (NULL when not profiling),
 * recording it under the kernel's name (a string that outlives the backend; the caller
 * holds be->lock), and the backend operation `profile` (takes be->lock). */
cl_event *clmlp_cl_profile_event(clmlp_cl_be *be, cl_event *slot);
clmlp_status clmlp_cl_profile_record(clmlp_cl_be *be, const char *name, cl_event event);
clmlp_status clmlp_cl_profile_read(clmlp_be *be, clmlp_kernel_profile *out, size_t capacity, size_t *count, int reset);
void clmlp_cl_profile_release(clmlp_cl_be *be);

/* ---- memory (cl_buffers.c) and operations (cl_ops.c) ---- */

clmlp_status clmlp_cl_mem_alloc(clmlp_be *be, size_t bytes, void **mem);
void clmlp_cl_mem_free(clmlp_be *be, void *mem);
clmlp_status clmlp_cl_mem_write(clmlp_be *be, void *mem, size_t offset, void *staging, size_t bytes);
clmlp_status clmlp_cl_mem_read(clmlp_be *be, const void *mem, void *dst, size_t bytes);
clmlp_status clmlp_cl_fill(clmlp_be *be, clmlp_buf *dst, size_t n, double value);
/* Grows a backend-owned buffer of reals to at least n elements. */
clmlp_status clmlp_cl_reserve(clmlp_cl_be *be, clmlp_buf **buf, size_t n);

/* The operations of the backend interface (cl_ops.c), destroy from cl_setup.c. */
extern const clmlp_backend_ops clmlp_cl_ops;
void clmlp_cl_destroy(clmlp_be *be);
/* The tuner's search (cl_tune.c): builds, checks against the host path and times each
 * candidate for a net of these sizes at batch; *best gets the fastest that passed. */
clmlp_status clmlp_cl_tune_search(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, size_t batch,
                                  const clmlp_cl_tiles *candidates, size_t n_candidates, clmlp_cl_tiles *best,
                                  clmlp_tune_report *report);
/* The tuner's candidates for a device whose default shape is `device` (cl_tune.c):
 * device first, then the family's search around it; out holds CLMLP_CL_TUNE_CANDIDATES. */
enum { CLMLP_CL_TUNE_CANDIDATES = 40 };
size_t clmlp_cl_tune_candidates(const clmlp_cl_tiles *device, clmlp_cl_tiles *out);
/* The backend with these tiles instead of the device's (tests and the tuner); NULL:
 * the device's. */
clmlp_status clmlp_cl_backend_create_tiled(const clmlp_config *cfg, const clmlp_cl_tiles *tiles, clmlp_be **out);
/* The fused per-sample kernels' layer limit (per_sample.cl, per_sample_gpu.cl). */
enum { CLMLP_CL_PER_SAMPLE_MAX_LAYERS = 4 };
/* out = g ⊙ sech²(z) on count elements (out may be g): the CLBlast path's epilogue. */
clmlp_status clmlp_cl_sech2_mul(clmlp_cl_be *be, size_t count, const clmlp_buf *z, const clmlp_buf *g, clmlp_buf *out);

/* "CL_OUT_OF_RESOURCES" for -5 and so on. */
const char *clmlp_cl_error_name(cl_int err);
/* CLMLP_EOPENCL with "<call> failed: <error name> (<code>)". */
clmlp_status clmlp_cl_fail(const char *call, cl_int err);

/* Picks platform and device as a resolved config says (config.h). */
clmlp_status clmlp_cl_choose_device(const clmlp_config *cfg, cl_device_id *out);

/* Builds the embedded kernels for the backend's dtype and tiles and creates every kernel. */
clmlp_status clmlp_cl_build_kernels(clmlp_cl_be *be);
void clmlp_cl_release_kernels(clmlp_cl_be *be);
/* The compiler's log of be's program build (CL_PROGRAM_BUILD_LOG after a successful
 * clBuildProgram): "" when it was empty, when the program came from the cache, and for
 * a backend that is not OpenCL's. Warnings show here (tests/test_build_log.c). */
const char *clmlp_cl_build_log(const clmlp_be *be);
/* What a built kernel takes on be's device: its local memory (CL_KERNEL_LOCAL_MEM_SIZE)
 * and largest work-group (CL_KERNEL_WORK_GROUP_SIZE). */
clmlp_status clmlp_cl_kernel_limits(const clmlp_cl_be *be, cl_kernel kernel, size_t *local_bytes, size_t *max_group);

/* A 64-bit hash of the device's platform version, name, version and driver version,
 * then of parts: the key of a cache entry or a tuning record. */
clmlp_status clmlp_cl_device_key(const clmlp_cl_be *be, const char *const *parts, size_t n_parts, uint64_t *key);
/* The tuning database (cl_tuning_db.c): the tuned tiles for a net of these sizes on
 * be's device and dtype (0: none), and recording them. */
int clmlp_cl_tuning_lookup(const clmlp_cl_be *be, const size_t *sizes, size_t n_sizes, clmlp_cl_tiles *out);
clmlp_status clmlp_cl_tuning_store(const clmlp_cl_be *be, const size_t *sizes, size_t n_sizes,
                                   const clmlp_cl_tiles *tiles);
/* mkdir -p: 0 or -1 with errno. */
int clmlp_cl_make_dirs(const char *dir);

/* The on-disk program cache (cl_cache.c): the entry's path and key (0: cache off),
 * a built program from it (NULL: miss or bad entry), and storing a built program. */
int clmlp_cl_cache_path(const clmlp_cl_be *be, const char *options, const char *source, char *path, size_t size,
                        uint64_t *key);
cl_program clmlp_cl_cache_load(clmlp_cl_be *be, const char *path, uint64_t key, const char *options);
void clmlp_cl_cache_store(clmlp_cl_be *be, cl_program program, const char *path, uint64_t key);

/* C = op(A)·op(B) through CLBlast, row-major; op transposes when the flag is set
 * (under be->lock). */
clmlp_status clmlp_cl_gemm(clmlp_cl_be *be, int trans_a, int trans_b, size_t m, size_t n, size_t k, const clmlp_buf *A,
                           size_t lda, const clmlp_buf *B, size_t ldb, clmlp_buf *C, size_t ldc);

#endif
