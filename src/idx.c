/*
 * The IDX reader (the MNIST file format): a big-endian header — two zero bytes, the
 * element type (0x08: unsigned byte), the number of dimensions — then one 32-bit
 * big-endian size per dimension and the elements. zlib reads gzip and raw files alike.
 *
 * Nothing is sized by the header alone. A raw regular file's size is known up front:
 * it must be exactly the header plus the claimed elements, checked before the data is
 * read, and the buffer is then allocated once. Input whose size is not known (gzip, a
 * pipe, a device) is refused when it claims more than IDX_MAX_STREAMED elements, a
 * gzip file also when the claim exceeds what its compressed size can expand to; past
 * that the buffer starts at 1 MiB and at most doubles, only as data actually arrives.
 * A directory is CLMLP_EIO.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "checked.h"
#include "clmlp.h"
#include "error.h"

enum { IDX_MAX_DIMS = 4, IDX_TYPE_UBYTE = 0x08, IDX_FIRST_BUFFER = 1 << 20 };

/* The most elements (bytes) a gzip or streamed IDX file may claim, 4 GiB: far beyond
 * any MNIST-like data set, and a bound on what a pipe that never ends can make us hold. */
#define IDX_MAX_STREAMED ((uint64_t)1 << 32)

/* deflate expands at most 1032:1 (a 258-byte match coded in 2 bits); the slack covers
 * rounding at the start of a stream. Concatenated gzip members only add overhead. */
enum { DEFLATE_MAX_RATIO = 1032, DEFLATE_SLACK = 4096 };

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

/* zlib's message without the "<fd:N>: " that gzdopen names the file by. */
static const char *zlib_message(gzFile f, int *zerr)
{
    const char *msg = gzerror(f, zerr);
    const char *rest = strncmp(msg, "<fd:", 4) == 0 ? strstr(msg, ">: ") : NULL;
    return rest ? rest + 3 : msg;
}

static clmlp_status stream_error(gzFile f, const char *path, const char *what, size_t got, size_t want)
{
    int zerr = 0;
    int err = errno;
    const char *msg = zlib_message(f, &zerr);
    if (zerr == Z_ERRNO)
        return clmlp_fail(CLMLP_EIO, "%s: cannot read the %s: %s", path, what, strerror(err));
    if (zerr != Z_OK && zerr != Z_BUF_ERROR)
        return clmlp_fail(CLMLP_EFORMAT, "%s: %s (in the %s)", path, msg, what);
    return clmlp_fail(CLMLP_EFORMAT, "%s: truncated %s: %zu of %zu bytes", path, what, got, want);
}

/* The magic and the sizes. */
static size_t header_size(const clmlp_idx *idx) { return 4 + 4 * idx->ndims; }

static clmlp_status read_header(gzFile f, const char *path, clmlp_idx *idx)
{
    uint8_t magic[4];
    size_t got;
    errno = 0;
    if (!read_full(f, magic, 4, &got))
        return stream_error(f, path, "header", got, 4);
    if (magic[0] != 0 || magic[1] != 0)
        return clmlp_fail(CLMLP_EFORMAT, "%s: not an IDX file (magic %02x %02x %02x %02x)", path, magic[0], magic[1],
                          magic[2], magic[3]);
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
    if (idx->count > SIZE_MAX - header_size(idx)) /* so that the whole file's size fits too */
        return clmlp_fail(CLMLP_EFORMAT, "%s: IDX dimensions overflow size_t", path);
    return CLMLP_OK;
}

/* Refutes the header's claim from what is known of the input, before anything sized by
 * it is allocated. *exact: a raw regular file of exactly the claimed size. */
static clmlp_status check_claim(gzFile f, const char *path, const struct stat *st, const clmlp_idx *idx, int *exact)
{
    size_t header = header_size(idx), claim = header + idx->count; /* no overflow: read_header */
    int gzip = !gzdirect(f);
    *exact = 0;
    if (!gzip && S_ISREG(st->st_mode)) {
        if (st->st_size < 0 || (uintmax_t)st->st_size != claim)
            return clmlp_fail(CLMLP_EFORMAT,
                              "%s: the header claims %zu bytes (%zu of header, %zu elements) "
                              "but the file has %jd bytes (%s)",
                              path, claim, header, idx->count, (intmax_t)st->st_size,
                              (uintmax_t)st->st_size < claim ? "truncated" : "trailing bytes");
        *exact = 1;
        return CLMLP_OK;
    }
    if ((uint64_t)idx->count > IDX_MAX_STREAMED)
        return clmlp_fail(CLMLP_EFORMAT,
                          "%s: the header claims %zu elements, more than the %" PRIu64 " a %s IDX file may hold", path,
                          idx->count, IDX_MAX_STREAMED, gzip ? "compressed" : "streamed");
    if (gzip && S_ISREG(st->st_mode) && st->st_size >= 0 &&
        (uint64_t)st->st_size <= (UINT64_MAX - DEFLATE_SLACK) / DEFLATE_MAX_RATIO) {
        uint64_t most = (uint64_t)st->st_size * DEFLATE_MAX_RATIO + DEFLATE_SLACK;
        if ((uint64_t)claim > most)
            return clmlp_fail(CLMLP_EFORMAT,
                              "%s: the header claims %zu bytes but %jd bytes of gzip expand to at "
                              "most %" PRIu64 " (deflate's %d:1)",
                              path, claim, (intmax_t)st->st_size, most, DEFLATE_MAX_RATIO);
    }
    return CLMLP_OK;
}

/* Reads count elements: into one buffer of that size when the claim was checked against
 * the file's size, otherwise into a buffer that at most doubles as data arrives. */
static clmlp_status read_elements(gzFile f, const char *path, clmlp_idx *idx, int exact)
{
    size_t cap = exact || idx->count < IDX_FIRST_BUFFER ? idx->count : IDX_FIRST_BUFFER, have = 0;
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
    const char *msg = zlib_message(f, &zerr);
    if (zerr != Z_OK)
        return clmlp_fail(CLMLP_EFORMAT, "%s: %s", path, msg);
    return CLMLP_OK;
}

clmlp_status clmlp_idx_load(const char *path, clmlp_idx **out)
{
    if (!path || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_idx_load: %s is NULL", !path ? "path" : "out");
    /* one descriptor for both fstat and zlib, so the size checked is the file read;
     * a FIFO blocks here until its writer opens it, as any reader of a FIFO does */
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return clmlp_fail(errno == ENOMEM ? CLMLP_ENOMEM : CLMLP_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    int err = fstat(fd, &st) != 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : 0;
    if (err) {
        close(fd);
        return clmlp_fail(CLMLP_EIO, "%s: cannot read: %s", path, strerror(err));
    }
    gzFile f = gzdopen(fd, "rb");
    if (!f) {
        close(fd);
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot open: out of memory for zlib", path);
    }
    clmlp_idx *idx = calloc(1, sizeof *idx);
    clmlp_status s = idx ? read_header(f, path, idx) : clmlp_fail(CLMLP_ENOMEM, "cannot allocate an IDX handle");
    int exact = 0;
    if (s == CLMLP_OK)
        s = check_claim(f, path, &st, idx, &exact);
    if (s == CLMLP_OK)
        s = read_elements(f, path, idx, exact);
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
