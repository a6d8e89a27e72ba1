/*
 * The IDX reader (the MNIST file format): a big-endian header — two zero bytes, the
 * element type (0x08: unsigned byte), the number of dimensions — then one 32-bit
 * big-endian size per dimension and the elements. zlib reads gzip and raw files alike.
 * The buffer grows with what is actually read, so a header that claims gigabytes in a
 * short file costs nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checked.h"
#include "clmlp.h"
#include "error.h"

enum { IDX_MAX_DIMS = 4, IDX_TYPE_UBYTE = 0x08 };

struct clmlp_idx {
    size_t ndims;
    size_t dims[IDX_MAX_DIMS];
    size_t count;
    uint8_t *data;
};

/* Reads exactly n bytes; *got tells how many came. */
static int read_full(gzFile f, void *dst, size_t n, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        size_t want = n - done > (1u << 30) ? (1u << 30) : n - done;
        int r = gzread(f, (char *)dst + done, (unsigned)want);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    *got = done;
    return done == n;
}

static clmlp_status stream_error(gzFile f, const char *path, const char *what, size_t got, size_t want)
{
    int zerr = 0;
    int err = errno;
    const char *msg = gzerror(f, &zerr); /* zlib's message starts with the path */
    if (zerr == Z_ERRNO)
        return clmlp_fail(CLMLP_EIO, "%s: cannot read the %s: %s", path, what, strerror(err));
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        return clmlp_fail(CLMLP_EFORMAT, "%s (in the %s)", msg, what);
    return clmlp_fail(CLMLP_EFORMAT, "%s: truncated %s: %zu of %zu bytes", path, what, got, want);
}

static clmlp_status read_header(gzFile f, const char *path, clmlp_idx *idx)
{
    uint8_t magic[4];
    size_t got;
    errno = 0;
    if (!read_full(f, magic, 4, &got))
        return stream_error(f, path, "header", got, 4);
    if (magic[0] != 0 || magic[1] != 0)
        return clmlp_fail(CLMLP_EFORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x)", path, magic[0],
                          magic[1], magic[2], magic[3]);
    if (magic[2] != IDX_TYPE_UBYTE)
        return clmlp_fail(CLMLP_EFORMAT, "%s: IDX element type 0x%02x is not supported (only 0x08, unsigned byte)",
                          path, magic[2]);
    if (magic[3] < 1 || magic[3] > IDX_MAX_DIMS)
        return clmlp_fail(CLMLP_EFORMAT, "%s: IDX file with %u dimensions (1 to %d supported)", path, magic[3],
                          IDX_MAX_DIMS);
    idx->ndims = magic[3];
    uint8_t raw[4 * IDX_MAX_DIMS];
    if (!read_full(f, raw, 4 * idx->ndims, &got))
        return stream_error(f, path, "dimensions", got, 4 * idx->ndims);
    idx->count = 1;
    for (size_t d = 0; d < idx->ndims; d++) {
        const uint8_t *p = raw + 4 * d;
        idx->dims[d] = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (!clmlp_mul_ok(idx->count, idx->dims[d], &idx->count))
            return clmlp_fail(CLMLP_EFORMAT, "%s: IDX dimensions overflow size_t", path);
    }
    return CLMLP_OK;
}

/* Reads count elements, growing the buffer as data arrives. */
static clmlp_status read_elements(gzFile f, const char *path, clmlp_idx *idx)
{
    size_t cap = idx->count < (1u << 20) ? idx->count : (1u << 20), have = 0;
    idx->data = malloc(cap ? cap : 1);
    if (!idx->data)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
    while (have < idx->count) {
        if (have == cap) {
            size_t grown = cap > idx->count / 2 ? idx->count : cap * 2;
            uint8_t *bigger = realloc(idx->data, grown);
            if (!bigger)
                return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu bytes", path, grown);
            idx->data = bigger;
            cap = grown;
        }
        size_t got;
        errno = 0;
        int full = read_full(f, idx->data + have, cap - have, &got);
        have += got;
        if (!full)
            return stream_error(f, path, "data", have, idx->count);
    }
    uint8_t extra;
    size_t got;
    if (read_full(f, &extra, 1, &got))
        return clmlp_fail(CLMLP_EFORMAT, "%s: trailing bytes after %zu elements", path, idx->count);
    /* Z_BUF_ERROR here is zlib's "unexpected end of file": a gzip stream cut after the
     * last element (end of the deflate data or the CRC trailer missing) */
    int zerr = 0;
    const char *msg = gzerror(f, &zerr);
    if (zerr != Z_OK)
        return clmlp_fail(CLMLP_EFORMAT, "%s", msg);
    return CLMLP_OK;
}

clmlp_status clmlp_idx_load(const char *path, clmlp_idx **out)
{
    if (!path || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_idx_load: %s is NULL", !path ? "path" : "out");
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return clmlp_fail(errno == ENOMEM ? CLMLP_ENOMEM : CLMLP_EIO, "%s: cannot open: %s", path,
                          errno ? strerror(errno) : "zlib error");
    clmlp_idx *idx = calloc(1, sizeof *idx);
    clmlp_status s = idx ? read_header(f, path, idx) : clmlp_fail(CLMLP_ENOMEM, "cannot allocate an IDX handle");
    if (s == CLMLP_OK)
        s = read_elements(f, path, idx);
    gzclose(f);
    if (s != CLMLP_OK) {
        clmlp_idx_free(idx);
        return s;
    }
    *out = idx;
    return CLMLP_OK;
}

void clmlp_idx_free(clmlp_idx *idx)
{
    if (idx) {
        free(idx->data);
        free(idx);
    }
}

size_t clmlp_idx_ndims(const clmlp_idx *idx) { return idx ? idx->ndims : 0; }

size_t clmlp_idx_dim(const clmlp_idx *idx, size_t i) { return idx && i < idx->ndims ? idx->dims[i] : 0; }

const uint8_t *clmlp_idx_data(const clmlp_idx *idx) { return idx ? idx->data : NULL; }

size_t clmlp_idx_count(const clmlp_idx *idx) { return idx ? idx->count : 0; }
