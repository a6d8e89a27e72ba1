/*
 * Compiled programs cached on disk, so a second process does not pay the build again on
 * any OpenCL implementation. An entry is keyed by a hash of the platform and device
 * names and versions, the driver version, the build options and the source. Entries are
 * written atomically (temporary file, rename); a missing, foreign, corrupt or rejected
 * entry is ignored and rebuilt. CLMLP_CACHE_DIR moves the cache (default
 * $XDG_CACHE_HOME/clmlp or ~/.cache/clmlp); CLMLP_CACHE_DIR=off disables it.
 * The entry format is in ../cache_entry.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../cache_entry.h"
#include "cl_common.h"


static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return (h ^ 0xff) * 0x100000001B3ull; /* separates consecutive strings */
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return -1;
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(path, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

int clmlp_cl_cache_path(const clmlp_cl_be *be, const char *options, const char *source, char *path, size_t size,
                        uint64_t *key)
{
    const char *dir = getenv("CLMLP_CACHE_DIR"), *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");
    char base[4096];
    if (dir && strcmp(dir, "off") == 0)
        return 0;
    if (dir && *dir)
        snprintf(base, sizeof base, "%s", dir);
    else if (xdg && *xdg)
        snprintf(base, sizeof base, "%s/clmlp", xdg);
    else if (home && *home)
        snprintf(base, sizeof base, "%s/.cache/clmlp", home);
    else
        return 0;
    char platform_version[256] = "", device_name[256] = "", device_version[256] = "", driver[256] = "";
    cl_platform_id platform;
    if (clGetDeviceInfo(be->device, CL_DEVICE_PLATFORM, sizeof platform, &platform, NULL) != CL_SUCCESS ||
        clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof platform_version - 1, platform_version, NULL) !=
            CL_SUCCESS ||
        clGetDeviceInfo(be->device, CL_DEVICE_NAME, sizeof device_name - 1, device_name, NULL) != CL_SUCCESS ||
        clGetDeviceInfo(be->device, CL_DEVICE_VERSION, sizeof device_version - 1, device_version, NULL) != CL_SUCCESS ||
        clGetDeviceInfo(be->device, CL_DRIVER_VERSION, sizeof driver - 1, driver, NULL) != CL_SUCCESS)
        return 0;
    uint64_t h = 0xCBF29CE484222325ull;
    const char *parts[] = {"clmlp program cache 1", platform_version, device_name, device_version, driver, options,
                           source};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        h = fnv1a(h, parts[i]);
    *key = h;
    return snprintf(path, size, "%s/%016llx.bin", base, (unsigned long long)h) < (int)size;
}

/* The whole file, if it is no larger than an entry can be. */
static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *data = NULL;
    long length = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (length > 0 && (unsigned long)length <= CLMLP_CACHE_HEADER + CLMLP_CACHE_MAX_BINARY + 4u &&
        fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)length)) &&
        fread(data, 1, (size_t)length, f) != (size_t)length) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = (size_t)length;
    return data;
}

cl_program clmlp_cl_cache_load(clmlp_cl_be *be, const char *path, uint64_t key, const char *options)
{
    size_t size = 0, length = 0;
    unsigned char *file = read_file(path, &size);
    const unsigned char *binary;
    cl_program program = NULL;
    if (file && clmlp_cache_entry_decode(file, size, key, &binary, &length)) {
        cl_int status, err;
        program = clCreateProgramWithBinary(be->context, 1, &be->device, &length, &binary, &status, &err);
        if (err != CL_SUCCESS || status != CL_SUCCESS) {
            if (err == CL_SUCCESS)
                clReleaseProgram(program);
            program = NULL;
        } else if (clBuildProgram(program, 1, &be->device, options, NULL, NULL) != CL_SUCCESS) {
            clReleaseProgram(program);
            program = NULL;
        }
    }
    free(file);
    return program;
}

void clmlp_cl_cache_store(clmlp_cl_be *be, cl_program program, const char *path, uint64_t key)
{
    (void)be;
    size_t n = 0, size = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) != CL_SUCCESS || n == 0 ||
        n > CLMLP_CACHE_MAX_BINARY)
        return;
    unsigned char *binary = malloc(n), *file = NULL;
    if (binary && clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof binary, &binary, NULL) == CL_SUCCESS)
        file = clmlp_cache_entry_encode(key, binary, n, &size);
    free(binary);
    if (!file)
        return;

    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = slash && make_dirs(dir) == 0 ? mkstemp(tmp) : -1;
    if (fd >= 0) {
        size_t done = 0;
        while (done < size) {
            ssize_t w = write(fd, file + done, size - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        int ok = done == size && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0)
            unlink(tmp); /* a cache that cannot be written is only slower */
    }
    free(file);
}
