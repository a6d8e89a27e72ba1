/*
 * Compiled programs cached on disk, so a second process does not pay the build again on
 * any OpenCL implementation. An entry is keyed by a hash of the platform and device
 * names and versions, the driver version, the build options and the source. Entries are
 * written atomically (../atomic_file.h); a missing, foreign, corrupt or rejected
 * entry is ignored and rebuilt. CLMLP_CACHE_DIR moves the cache (default
 * $XDG_CACHE_HOME/clmlp or ~/.cache/clmlp); CLMLP_CACHE_DIR=off disables it.
 * The entry format is in ../cache_entry.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../atomic_file.h"
#include "../cache_entry.h"
#include "../config.h"
#include "../error.h"
#include "cl_common.h"

static uint64_t fnv1a(uint64_t h, const char *s)
{
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return (h ^ 0xff) * 0x100000001B3ull; /* separates consecutive strings */
}

int clmlp_cl_make_dirs(const char *dir)
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

clmlp_status clmlp_cl_device_key(const clmlp_cl_be *be, const char *const *parts, size_t n_parts, uint64_t *key)
{
    char platform_version[256] = "", device_name[256] = "", device_version[256] = "", driver[256] = "";
    cl_platform_id platform;
    cl_int err = clGetDeviceInfo(be->device, CL_DEVICE_PLATFORM, sizeof platform, &platform, NULL);
    if (err == CL_SUCCESS)
        err = clGetPlatformInfo(platform, CL_PLATFORM_VERSION, sizeof platform_version - 1, platform_version, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(be->device, CL_DEVICE_NAME, sizeof device_name - 1, device_name, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(be->device, CL_DEVICE_VERSION, sizeof device_version - 1, device_version, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(be->device, CL_DRIVER_VERSION, sizeof driver - 1, driver, NULL);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo (the device's names and versions)", err);
    const char *device[] = {platform_version, device_name, device_version, driver};
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < 4; i++)
        h = fnv1a(h, device[i]);
    for (size_t i = 0; i < n_parts; i++)
        h = fnv1a(h, parts[i]);
    *key = h;
    return CLMLP_OK;
}

int clmlp_cl_cache_path(const clmlp_cl_be *be, const char *options, const char *source, char *path, size_t size,
                        uint64_t *key)
{
    char base[4096];
    if (!clmlp_env_cache_dir(base, sizeof base))
        return 0;
    const char *parts[] = {"clmlp program cache 1", options, source};
    if (clmlp_cl_device_key(be, parts, 3, key) != CLMLP_OK)
        return 0;
    return snprintf(path, size, "%s/%016llx.bin", base, (unsigned long long)*key) < (int)size;
}

/* The whole file, if it is a regular file no larger than an entry can be; NULL for
 * anything else (a FIFO, a directory, a device, a socket: a rebuild, never a wait).
 * O_NONBLOCK keeps the open itself from waiting for a FIFO's writer or a device;
 * symlinks are followed, the file they reach is checked by fstat. */
static unsigned char *read_file(const char *path, size_t *size)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    unsigned char *data = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
        (uintmax_t)st.st_size <= CLMLP_CACHE_HEADER + CLMLP_CACHE_MAX_BINARY + 4u &&
        (data = malloc((size_t)st.st_size))) {
        size_t want = (size_t)st.st_size, done = 0;
        while (done < want) { /* a regular file does not return EAGAIN; any error is a rebuild */
            ssize_t r = read(fd, data + done, want - done);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            done += (size_t)r;
        }
        if (done == want) {
            *size = want;
        } else { /* shrunk or unreadable */
            free(data);
            data = NULL;
        }
    }
    close(fd);
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

    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    /* a cache that cannot be written is only slower, and what is not a regular file at an
     * entry's path (a device node, a FIFO) is left alone: the result does not matter */
    if (slash && clmlp_cl_make_dirs(dir) == 0)
        (void)clmlp_atomic_write_bytes(path, file, size, NULL);
    free(file);
}
