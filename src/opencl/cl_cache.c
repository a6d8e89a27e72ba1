/*
 * Compiled programs cached on disk, so a second process does not pay the build again on
 * any OpenCL implementation. An entry is keyed by a hash of the platform and device
 * names and versions, the driver version, the build options and the source. Entries are
 * written atomically (temporary file, rename); a missing, foreign, corrupt or rejected
 * entry is ignored and rebuilt. CLMLP_CACHE_DIR moves the cache (default
 * $XDG_CACHE_HOME/clmlp or ~/.cache/clmlp); CLMLP_CACHE_DIR=off disables it.
 *
 * File: "CLMLPBIN" | u32 version 1 | u64 key | u64 n | n bytes of binary | u32 CRC-32 of
 * everything before it; integers little-endian.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "cl_common.h"

enum { CACHE_VERSION = 1, HEADER = 8 + 4 + 8 + 8, MAX_BINARY = 256 << 20 };

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return (h ^ 0xff) * 0x100000001B3ull; /* separates consecutive strings */
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
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

cl_program clmlp_cl_cache_load(clmlp_cl_be *be, const char *path, uint64_t key, const char *options)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char header[HEADER];
    unsigned char *file = NULL;
    cl_program program = NULL;
    if (fread(header, 1, HEADER, f) != HEADER || memcmp(header, "CLMLPBIN", 8) != 0 ||
        get_le(header + 8, 4) != CACHE_VERSION || get_le(header + 12, 8) != key)
        goto done;
    uint64_t n = get_le(header + 20, 8);
    if (n == 0 || n > MAX_BINARY || !(file = malloc(HEADER + n + 4)))
        goto done;
    memcpy(file, header, HEADER);
    unsigned char extra;
    if (fread(file + HEADER, 1, n + 4, f) != n + 4 || fread(&extra, 1, 1, f) != 0)
        goto done;
    if (crc32(0L, file, (uInt)(HEADER + n)) != get_le(file + HEADER + n, 4))
        goto done;
    const unsigned char *binary = file + HEADER;
    size_t length = (size_t)n;
    cl_int status, err;
    program = clCreateProgramWithBinary(be->context, 1, &be->device, &length, &binary, &status, &err);
    if (err != CL_SUCCESS || status != CL_SUCCESS) {
        if (err == CL_SUCCESS)
            clReleaseProgram(program);
        program = NULL;
        goto done;
    }
    if (clBuildProgram(program, 1, &be->device, options, NULL, NULL) != CL_SUCCESS) {
        clReleaseProgram(program);
        program = NULL;
    }
done:
    free(file);
    fclose(f);
    return program;
}

void clmlp_cl_cache_store(clmlp_cl_be *be, cl_program program, const char *path, uint64_t key)
{
    size_t n = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof n, &n, NULL) != CL_SUCCESS || n == 0 ||
        n > MAX_BINARY)
        return;
    unsigned char *file = malloc(HEADER + n + 4), *binary = file ? file + HEADER : NULL;
    if (!file)
        return;
    (void)be;
    if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof binary, &binary, NULL) != CL_SUCCESS) {
        free(file);
        return;
    }
    memcpy(file, "CLMLPBIN", 8);
    put_le(file + 8, CACHE_VERSION, 4);
    put_le(file + 12, key, 8);
    put_le(file + 20, n, 8);
    put_le(file + HEADER + n, crc32(0L, file, (uInt)(HEADER + n)), 4);

    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path);
    int fd = slash && make_dirs(dir) == 0 ? mkstemp(tmp) : -1;
    if (fd >= 0) {
        size_t done = 0, total = HEADER + n + 4;
        while (done < total) {
            ssize_t w = write(fd, file + done, total - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        int ok = done == total && fsync(fd) == 0;
        ok = close(fd) == 0 && ok;
        if (!ok || rename(tmp, path) != 0)
            unlink(tmp); /* a cache that cannot be written is only slower */
    }
    free(file);
}
