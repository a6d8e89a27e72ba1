/* Choosing the OpenCL device from a resolved config: by index, by type ("gpu", "cpu"),
 * else the first GPU, else the first device of the first platform that has one. */
#include <stdio.h>
#include <string.h>

#include "../error.h"
#include "cl_common.h"

enum { MAX_PLATFORMS = 16, MAX_DEVICES = 64 };

static clmlp_status list_platforms(cl_platform_id *ids, cl_uint *count)
{
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, ids, count);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && *count == 0))
        return clmlp_fail(CLMLP_ENODEVICE, "no OpenCL platform is installed (clGetPlatformIDs)");
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetPlatformIDs", err);
    if (*count > MAX_PLATFORMS)
        *count = MAX_PLATFORMS;
    return CLMLP_OK;
}

/* Devices of `type` on a platform; a platform without such devices gives count 0. */
static cl_uint list_devices(cl_platform_id platform, cl_device_type type, cl_device_id *ids)
{
    cl_uint count = 0;
    if (clGetDeviceIDs(platform, type, MAX_DEVICES, ids, &count) != CL_SUCCESS)
        return 0;
    return count > MAX_DEVICES ? MAX_DEVICES : count;
}

/* The first device of `type` over the platforms, in order. */
static clmlp_status first_of_type(const cl_platform_id *platforms, cl_uint n_platforms, cl_device_type type,
                                  cl_device_id *out)
{
    cl_device_id ids[MAX_DEVICES];
    for (cl_uint p = 0; p < n_platforms; p++)
        if (list_devices(platforms[p], type, ids) > 0) {
            *out = ids[0];
            return CLMLP_OK;
        }
    return CLMLP_ENODEVICE;
}

/* "NAME: 1 CPU; NAME: 2 GPUs, 1 other" over the platforms, for messages. */
static void describe_platforms(const cl_platform_id *platforms, cl_uint n_platforms, char *out, size_t size)
{
    static const struct {
        cl_device_type type;
        const char *one, *many;
    } kinds[] = {{CL_DEVICE_TYPE_GPU, "GPU", "GPUs"},
                 {CL_DEVICE_TYPE_CPU, "CPU", "CPUs"},
                 {CL_DEVICE_TYPE_ACCELERATOR, "accelerator", "accelerators"}};
    size_t used = 0;
    out[0] = '\0';
    for (cl_uint p = 0; p < n_platforms && used < size; p++) {
        char name[64] = "";
        if (clGetPlatformInfo(platforms[p], CL_PLATFORM_NAME, sizeof name - 1, name, NULL) != CL_SUCCESS)
            snprintf(name, sizeof name, "platform %u", p);
        int n = snprintf(out + used, size - used, "%s%s:", p ? "; " : "", name);
        used += n > 0 ? (size_t)n : 0;
        cl_device_id ids[MAX_DEVICES];
        cl_uint all = list_devices(platforms[p], CL_DEVICE_TYPE_ALL, ids), counted = 0, shown = 0;
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0] && used < size; k++) {
            cl_uint c = list_devices(platforms[p], kinds[k].type, ids);
            counted += c;
            if (c) {
                n = snprintf(out + used, size - used, "%s %u %s", shown++ ? "," : "", c,
                             c == 1 ? kinds[k].one : kinds[k].many);
                used += n > 0 ? (size_t)n : 0;
            }
        }
        if (used < size && all > counted) {
            n = snprintf(out + used, size - used, "%s %u other", shown++ ? "," : "", all - counted);
            used += n > 0 ? (size_t)n : 0;
        }
        if (used < size && !shown) {
            n = snprintf(out + used, size - used, " no devices");
            used += n > 0 ? (size_t)n : 0;
        }
    }
}

static clmlp_status by_index(const cl_platform_id *platforms, cl_uint n_platforms, int platform, int device,
                             cl_device_id *out)
{
    if (platform < 0 || (cl_uint)platform >= n_platforms)
        return clmlp_fail(CLMLP_ENODEVICE, "OpenCL platform %d does not exist (%u platform%s)", platform, n_platforms,
                          n_platforms == 1 ? "" : "s");
    cl_device_id ids[MAX_DEVICES];
    cl_uint n = list_devices(platforms[platform], CL_DEVICE_TYPE_ALL, ids);
    if (device < 0) { /* the platform's first GPU, else its first device */
        cl_device_id gpu[MAX_DEVICES];
        if (list_devices(platforms[platform], CL_DEVICE_TYPE_GPU, gpu) > 0) {
            *out = gpu[0];
            return CLMLP_OK;
        }
        device = 0;
    }
    if ((cl_uint)device >= n)
        return clmlp_fail(CLMLP_ENODEVICE, "OpenCL device %d:%d does not exist (platform %d has %u device%s)", platform,
                          device, platform, n, n == 1 ? "" : "s");
    *out = ids[device];
    return CLMLP_OK;
}

clmlp_status clmlp_cl_choose_device(const clmlp_config *cfg, cl_device_id *out)
{
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint n_platforms = 0;
    clmlp_status s = list_platforms(platforms, &n_platforms);
    if (s != CLMLP_OK)
        return s;

    if (cfg->platform >= 0 || cfg->device >= 0)
        return by_index(platforms, n_platforms, cfg->platform < 0 ? 0 : cfg->platform, cfg->device, out);
    const char *spec = cfg->device_spec;
    if (strcmp(spec, "gpu") == 0 || strcmp(spec, "cpu") == 0) {
        int gpu = spec[0] == 'g';
        if (first_of_type(platforms, n_platforms, gpu ? CL_DEVICE_TYPE_GPU : CL_DEVICE_TYPE_CPU, out) == CLMLP_OK)
            return CLMLP_OK;
        char found[512];
        describe_platforms(platforms, n_platforms, found, sizeof found);
        return clmlp_fail(CLMLP_ENODEVICE, "device %s: no OpenCL %s device found (platforms: %s)", spec,
                          gpu ? "GPU" : "CPU", found);
    }
    if (first_of_type(platforms, n_platforms, CL_DEVICE_TYPE_GPU, out) == CLMLP_OK ||
        first_of_type(platforms, n_platforms, CL_DEVICE_TYPE_ALL, out) == CLMLP_OK)
        return CLMLP_OK;
    char found[512];
    describe_platforms(platforms, n_platforms, found, sizeof found);
    return clmlp_fail(CLMLP_ENODEVICE, "no OpenCL device found on %u platform%s (%s)", n_platforms,
                      n_platforms == 1 ? "" : "s", found);
}
