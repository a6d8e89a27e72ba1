/*
 * The tuning database: the tile shape `clmlp tune` found fastest, per device and
 * driver, dtype and shape class, in one text file beside the program cache
 * (<cache dir>/tuning.txt). A record is one line,
 *     clmlp-tuning-2 <key> <tiles> <clblast> <crc>
 * with key the hash of the device's names and versions, the kernel family, the dtype
 * and the shape class (clmlp_cl_device_key), tiles as clmlp_cl_tiles_format writes
 * them, clblast the products CLBlast computes faster (clmlp_cl_tiles.clblast, a
 * number) and crc the CRC-32 of what precedes it. A
 * line that does not parse, fails its CRC or holds tiles the kernels do not take is
 * ignored (and dropped at the next store); any problem reading the file means "no
 * entry", never an error. Stores rewrite the file atomically (atomic_file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../atomic_file.h"
#include "../config.h"
#include "../error.h"
#include "cl_common.h"

#define RECORD_TAG "clmlp-tuning-2"
enum { MAX_DB_BYTES = 1 << 20, LINE_MAX_BYTES = 160 };

/* The class of nets a record serves: the widest layer, rounded up to a power of 2. */
static unsigned long shape_class(const size_t *sizes, size_t n_sizes)
{
    size_t widest = 1;
    for (size_t l = 0; l < n_sizes; l++)
        widest = sizes[l] > widest ? sizes[l] : widest;
    unsigned long c = 1;
    while (c < widest && c < (1ul << 30))
        c <<= 1;
    return c;
}

static clmlp_status record_key(const clmlp_cl_be *be, const size_t *sizes, size_t n_sizes, uint64_t *key)
{
    char cls[32];
    snprintf(cls, sizeof cls, "width %lu", shape_class(sizes, n_sizes));
    const char *parts[] = {"clmlp tuning 2", be->family == CLMLP_CL_GPU ? "gpu kernels" : "cpu kernels",
                           be->base.dtype == CLMLP_F64 ? "f64" : "f32", cls};
    return clmlp_cl_device_key(be, parts, 4, key);
}

static int db_path(char *path, size_t size)
{
    char dir[4096];
    return clmlp_env_cache_dir(dir, sizeof dir) && snprintf(path, size, "%s/tuning.txt", dir) < (int)size;
}

/* The file's bytes (NUL-terminated; NULL when missing, unreadable, not a regular file
 * or too large): only regular files are ever opened for good, and never waited on. */
static char *read_db(const char *path)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *text = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < MAX_DB_BYTES &&
        (text = malloc((size_t)st.st_size + 1))) {
        size_t have = 0;
        while (have < (size_t)st.st_size) {
            ssize_t r = read(fd, text + have, (size_t)st.st_size - have);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            have += (size_t)r;
        }
        text[have] = '\0';
    }
    close(fd);
    return text;
}

static unsigned long line_crc(const char *body, size_t n) { return crc32(0L, (const Bytef *)body, (uInt)n); }

/* A valid record's key and tiles from one line; 0 for anything else. */
static int parse_record(const char *line, size_t len, uint64_t *key, clmlp_cl_tiles *tiles)
{
    char copy[LINE_MAX_BYTES], text[48];
    unsigned long long k;
    unsigned long crc;
    unsigned clblast;
    int body_len = 0;
    if (len == 0 || len >= sizeof copy)
        return 0;
    memcpy(copy, line, len);
    copy[len] = '\0';
    if (sscanf(copy, RECORD_TAG " %16llx %47s %u%n %8lx", &k, text, &clblast, &body_len, &crc) != 4 ||
        line_crc(copy, (size_t)body_len) != crc || clblast > CLMLP_CL_ALL_PRODUCTS)
        return 0;
    clmlp_status s = clmlp_cl_tiles_parse(text, tiles);
    tiles->clblast = clblast;
    *key = k;
    return s == CLMLP_OK;
}

int clmlp_cl_tuning_lookup(const clmlp_cl_be *be, const size_t *sizes, size_t n_sizes, clmlp_cl_tiles *out)
{
    char path[4200];
    uint64_t key;
    if (!db_path(path, sizeof path) || record_key(be, sizes, n_sizes, &key) != CLMLP_OK)
        return 0;
    char *text = read_db(path);
    int found = 0;
    for (const char *line = text; line && *line && !found;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        uint64_t k;
        clmlp_cl_tiles t;
        if (parse_record(line, len, &k, &t) && k == key && t.family == be->family) {
            *out = t;
            found = 1;
        }
        line = end ? end + 1 : line + len;
    }
    free(text);
    return found;
}

clmlp_status clmlp_cl_tuning_store(const clmlp_cl_be *be, const size_t *sizes, size_t n_sizes,
                                   const clmlp_cl_tiles *tiles)
{
    char path[4200], dir[4096], formatted[32];
    uint64_t key;
    if (!db_path(path, sizeof path) || !clmlp_env_cache_dir(dir, sizeof dir))
        return clmlp_fail(CLMLP_EINVAL, "tuning: no cache directory to keep the database in (CLMLP_CACHE_DIR is "
                                        "off, or neither XDG_CACHE_HOME nor HOME is set)");
    TRY(record_key(be, sizes, n_sizes, &key));
    if (!clmlp_cl_tiles_format(tiles, formatted, sizeof formatted))
        return clmlp_fail(CLMLP_EINVAL, "tuning: tiles do not format");
    char *old = read_db(path);
    size_t old_len = old ? strlen(old) : 0;
    char *text = malloc(old_len + LINE_MAX_BYTES + 1);
    if (!text) {
        free(old);
        return clmlp_fail(CLMLP_ENOMEM, "tuning: cannot allocate the database");
    }
    size_t n = 0;
    for (const char *line = old; line && *line;) { /* the other valid records stay */
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        uint64_t k;
        clmlp_cl_tiles t;
        if (parse_record(line, len, &k, &t) && k != key) {
            memcpy(text + n, line, len);
            n += len;
            text[n++] = '\n';
        }
        line = end ? end + 1 : line + len;
    }
    free(old);
    int body = snprintf(text + n, LINE_MAX_BYTES, RECORD_TAG " %016llx %s %u", (unsigned long long)key, formatted,
                        tiles->clblast & CLMLP_CL_ALL_PRODUCTS);
    n += (size_t)snprintf(text + n + (size_t)body, LINE_MAX_BYTES - (size_t)body, " %08lx\n",
                          line_crc(text + n, (size_t)body)) +
         (size_t)body;
    const char *what = NULL;
    int result = clmlp_cl_make_dirs(dir) == 0 ? clmlp_atomic_write_bytes(path, text, n, &what) : CLMLP_ATOMIC_FAILED;
    int err = errno;
    free(text);
    if (result < 0)
        return clmlp_fail(CLMLP_EIO, "%s: cannot %s: %s", path, what ? what : "create its directory", strerror(err));
    return CLMLP_OK;
}
