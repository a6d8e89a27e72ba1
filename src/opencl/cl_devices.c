/* clmlp_list_devices: every OpenCL device with what matters for choosing one. */
#include <stdio.h>
#include <string.h>

#include "../config.h"
#include "../error.h"
#include "cl_common.h"

enum { MAX_PLATFORMS = 16, MAX_DEVICES = 64 };

static void info_string(cl_device_id d, cl_device_info what, char *out, size_t size)
{
    if (clGetDeviceInfo(d, what, size - 1, out, NULL) != CL_SUCCESS)
        snprintf(out, size, "?");
    out[size - 1] = '\0';
}

static void describe(cl_device_id d, clmlp_device_info *info)
{
    cl_device_type type = 0;
    cl_uint units = 0;
    cl_ulong global = 0, max_alloc = 0;
    size_t len = 0;
    char extensions[8192] = "";
    info_string(d, CL_DEVICE_NAME, info->name, sizeof info->name);
    clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL);
    clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof global, &global, NULL);
    clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof max_alloc, &max_alloc, NULL);
    if (clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, sizeof extensions - 1, extensions, &len) != CL_SUCCESS)
        extensions[0] = '\0';
    snprintf(info->type, sizeof info->type, "%s",
             type & CL_DEVICE_TYPE_GPU           ? "GPU"
             : type & CL_DEVICE_TYPE_CPU         ? "CPU"
             : type & CL_DEVICE_TYPE_ACCELERATOR ? "accelerator"
                                                 : "other");
    info->compute_units = units;
    info->global_memory = global;
    info->max_allocation = max_alloc;
    info->fp64 = strstr(extensions, "cl_khr_fp64") != NULL;
}

clmlp_status clmlp_list_devices(clmlp_device_info *infos, size_t max, size_t *count)
{
    if (!count || (!infos && max > 0))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_list_devices: %s is NULL", !count ? "count" : "infos");
    *count = 0;
    cl_platform_id platforms[MAX_PLATFORMS];
    cl_uint n_platforms = 0;
    cl_int err = clGetPlatformIDs(MAX_PLATFORMS, platforms, &n_platforms);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && n_platforms == 0))
        return CLMLP_OK;
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetPlatformIDs", err);
    n_platforms = n_platforms > MAX_PLATFORMS ? MAX_PLATFORMS : n_platforms;

    cl_device_id chosen = NULL; /* what the default choice would take (none: no flag set) */
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    if (clmlp_config_resolve(&cfg, &cfg) != CLMLP_OK || clmlp_cl_choose_device(&cfg, &chosen) != CLMLP_OK)
        chosen = NULL;
    for (cl_uint p = 0; p < n_platforms; p++) {
        cl_device_id devices[MAX_DEVICES];
        cl_uint n = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_DEVICES, devices, &n) != CL_SUCCESS)
            continue;
        char platform_name[128] = "?";
        if (clGetPlatformInfo(platforms[p], CL_PLATFORM_NAME, sizeof platform_name - 1, platform_name, NULL) !=
            CL_SUCCESS)
            snprintf(platform_name, sizeof platform_name, "?");
        platform_name[sizeof platform_name - 1] = '\0';
        for (cl_uint d = 0; d < n && d < MAX_DEVICES; d++, (*count)++) {
            if (*count >= max)
                continue;
            clmlp_device_info *info = &infos[*count];
            memset(info, 0, sizeof *info);
            info->platform = (int)p;
            info->device = (int)d;
            memcpy(info->platform_name, platform_name, sizeof info->platform_name);
            describe(devices[d], info);
            info->chosen = devices[d] == chosen;
        }
    }
    return CLMLP_OK;
}
