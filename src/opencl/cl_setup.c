/* The OpenCL backend's life cycle: the device the config names, its context, one
 * in-order queue, the product choice resolved for the device, the kernels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "cl_common.h"

void clmlp_cl_destroy(clmlp_be *base)
{
    clmlp_cl_be *be = (clmlp_cl_be *)base;
    if (!be)
        return;
    if (be->queue)
        clFinish(be->queue);
    clmlp_buf_release(base, be->work);
    clmlp_cl_release_kernels(be);
    clmlp_cl_profile_release(be);
    if (be->queue)
        clReleaseCommandQueue(be->queue);
    if (be->context)
        clReleaseContext(be->context);
    if (be->lock_ready)
        pthread_mutex_destroy(&be->lock);
    free(be);
}

static clmlp_status device_info(cl_device_id device, cl_device_info what, size_t size, void *value, const char *name)
{
    cl_int err = clGetDeviceInfo(device, what, size, value, NULL);
    if (err != CL_SUCCESS) {
        char call[96];
        snprintf(call, sizeof call, "clGetDeviceInfo(%s)", name);
        return clmlp_cl_fail(call, err);
    }
    return CLMLP_OK;
}

static clmlp_status require_fp64(cl_device_id device, const char *name)
{
    size_t len = 0;
    cl_int err = clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, 0, NULL, &len);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", err);
    char *all = malloc(len + 1);
    if (!all)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu bytes for the extension list", len + 1);
    err = clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, len, all, NULL);
    all[len] = '\0';
    int has_fp64 = err == CL_SUCCESS && strstr(all, "cl_khr_fp64") != NULL;
    free(all);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_EXTENSIONS)", err);
    if (!has_fp64)
        return clmlp_fail(CLMLP_ENODEVICE, "OpenCL device '%s' lacks cl_khr_fp64, needed for CLMLP_F64 (use CLMLP_F32)",
                          name);
    return CLMLP_OK;
}

/* The kernel family: the configured tiles', else the config's (CLMLP_KERNELS), else
 * the device type's (CPU devices the CPU family, anything else the GPU family). */
static clmlp_status choose_family(clmlp_cl_be *be)
{
    int tiles_given = be->tiles.vw || be->tiles.gpu.wg_m;
    clmlp_cl_family given = be->tiles.family;
    if (be->kernels == CLMLP_KERNELS_CPU || be->kernels == CLMLP_KERNELS_GPU) {
        be->family = be->kernels == CLMLP_KERNELS_GPU ? CLMLP_CL_GPU : CLMLP_CL_CPU;
        if (tiles_given && given != be->family)
            return clmlp_fail(CLMLP_EINVAL, "tiles for the %s kernels given with the %s kernels asked for",
                              given == CLMLP_CL_GPU ? "gpu" : "cpu", be->family == CLMLP_CL_GPU ? "gpu" : "cpu");
        return CLMLP_OK;
    }
    if (tiles_given) {
        be->family = given;
        return CLMLP_OK;
    }
    cl_device_type type = 0;
    TRY(device_info(be->device, CL_DEVICE_TYPE, sizeof type, &type, "CL_DEVICE_TYPE"));
    be->family = type & CL_DEVICE_TYPE_CPU ? CLMLP_CL_CPU : CLMLP_CL_GPU;
    return CLMLP_OK;
}

static clmlp_status device_setup(clmlp_cl_be *be)
{
    char name[200] = "";
    TRY(device_info(be->device, CL_DEVICE_NAME, sizeof name - 1, name, "CL_DEVICE_NAME"));
    snprintf(be->base.name, sizeof be->base.name, "opencl: %s", name);
    TRY(device_info(be->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof be->max_alloc, &be->max_alloc,
                    "CL_DEVICE_MAX_MEM_ALLOC_SIZE"));
    TRY(choose_family(be));
    if (be->gemm == CLMLP_PRODUCTS_AUTO) /* each family's own products, with their fused epilogues */
        be->gemm = CLMLP_PRODUCTS_OWN;
    if (be->base.dtype == CLMLP_F64)
        TRY(require_fp64(be->device, name));
    if (!be->tiles.vw && !be->tiles.gpu.wg_m && be->db_sizes &&
        clmlp_cl_tuning_lookup(be, be->db_sizes, be->db_n_sizes, &be->tiles))
        be->tiles_source = "tuned";
    if (!be->tiles.vw && !be->tiles.gpu.wg_m) {
        TRY(clmlp_cl_tiles_of_device(be->device, be->base.dtype, be->family, &be->tiles));
        be->tiles_source = "device default";
    }
    TRY(clmlp_cl_tiles_check(&be->tiles));
    be->pad_bytes = clmlp_cl_tiles_pad(&be->tiles) * clmlp_buf_element_size(&be->base, CLMLP_BUF_REAL);
    char tiles[32];
    static const char *const products[] = {"auto", "own", "clblast", "simple"};
    clmlp_cl_tiles_format(&be->tiles, tiles, sizeof tiles);
    unsigned cb = be->gemm == CLMLP_PRODUCTS_OWN ? be->tiles.clblast : 0;
    snprintf(be->base.kernels, sizeof be->base.kernels, "%s kernels, products %s%s%s%s%s, tiles %s (%s)",
             be->family == CLMLP_CL_GPU ? "gpu" : "cpu", products[be->gemm], cb ? " but CLBlast for" : "",
             cb & CLMLP_CL_FORWARD ? " forward" : "", cb & CLMLP_CL_BACKPROP ? " backprop" : "",
             cb & CLMLP_CL_WEIGHT_GRAD ? " weight-grad" : "", tiles, be->tiles_source);

    cl_int err;
    be->context = clCreateContext(NULL, 1, &be->device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        be->context = NULL;
        return clmlp_cl_fail("clCreateContext", err);
    }
    be->queue = clCreateCommandQueue(be->context, be->device, be->profile ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (err != CL_SUCCESS) {
        be->queue = NULL;
        return clmlp_cl_fail("clCreateCommandQueue", err);
    }
    return clmlp_cl_build_kernels(be);
}

/* The backend; the tiles are the given ones, else the config's, else the tuning
 * database's entry for a net of these sizes, else what the device allows. */
static clmlp_status create(const clmlp_config *cfg, const clmlp_cl_tiles *tiles, const size_t *sizes, size_t n_sizes,
                           clmlp_be **out)
{
    clmlp_cl_be *be = calloc(1, sizeof *be);
    if (!be)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate the OpenCL backend");
    if (pthread_mutex_init(&be->lock, NULL) != 0) {
        free(be);
        return clmlp_fail(CLMLP_ENOMEM, "cannot create the OpenCL backend's lock");
    }
    be->lock_ready = 1;
    be->base.ops = &clmlp_cl_ops;
    be->base.dtype = cfg->dtype;
    be->gemm = cfg->products;
    be->kernels = cfg->kernels;
    clmlp_status s = CLMLP_OK;
    be->tiles_source = "configured";
    if (tiles)
        be->tiles = *tiles;
    else if (cfg->tiles[0])
        s = clmlp_cl_tiles_parse(cfg->tiles, &be->tiles);
    if (s == CLMLP_OK && cfg->profile == 1 && !(be->profile = calloc(1, sizeof *be->profile)))
        s = clmlp_fail(CLMLP_ENOMEM, "cannot allocate the kernel profile");
    be->db_sizes = tiles || cfg->tiles[0] ? NULL : sizes;
    be->db_n_sizes = n_sizes;
    if (s == CLMLP_OK)
        s = clmlp_cl_choose_device(cfg, &be->device);
    if (s == CLMLP_OK)
        s = device_setup(be);
    if (s != CLMLP_OK) {
        clmlp_cl_destroy(&be->base);
        return s;
    }
    *out = &be->base;
    return CLMLP_OK;
}

clmlp_status clmlp_opencl_backend_create(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, clmlp_be **out)
{
    return create(cfg, NULL, sizes, n_sizes, out);
}

clmlp_status clmlp_cl_backend_create_tiled(const clmlp_config *cfg, const clmlp_cl_tiles *tiles, clmlp_be **out)
{
    return create(cfg, tiles, NULL, 0, out);
}
