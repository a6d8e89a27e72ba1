/*
 * Model files (docs/model-file.md): a magic, a format version, the sizes, loss,
 * dtype, preprocessing and every weight as IEEE-754 binary64, all little-endian and
 * written byte by byte, then a CRC-32 of everything before it.
 *
 * Saving goes through atomic_file.h (a temporary file beside the target, synced, renamed
 * over it, the directory synced): a crash leaves the old file or the new one, and what is
 * not a regular file (a device node, a FIFO, a directory) is never replaced.
 * Loading reads the whole file (at most CLMLP_MODEL_MAX_BYTES), checks the layout
 * against the actual length before allocating anything sized by the header, then the
 * checksum, then every field; only then is the net created. The net is reached only
 * through the public API.
 */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "atomic_file.h"
#include "checked.h"
#include "clmlp.h"
#include "error.h"
#include "fault.h"
#include "le.h"
#include "net_internal.h"

/* Weights travel as bit patterns: the host's double must be IEEE-754 binary64. */
_Static_assert(sizeof(double) == 8 && FLT_RADIX == 2 && DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024,
               "double must be IEEE-754 binary64");

#define MODEL_MAGIC "CLMLPNET"
enum {
    MAGIC_BYTES = 8,
    MODEL_VERSION = 1,      /* a model */
    CHECKPOINT_VERSION = 2, /* a model followed by the training state */
    PREFIX_BYTES = 16,      /* magic, version, n_sizes */
    SETTINGS_BYTES = 44,    /* loss … target, after the sizes */
    CRC_BYTES = 4,
    MAX_SIZES = 65536,  /* n_sizes limit: 65535 layers */
    CHUNK_VALUES = 8192 /* weights encoded per write */
};
/* The largest model file written or read: 4 GiB (about 537 million weights). */
#define MODEL_MAX_BYTES ((uint64_t)1 << 32)

/* ---- the layout, shared by both directions -------------------------------- */

static bool add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b)
        return false;
    *out = a + b;
    return true;
}

static bool mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* Weights (W and b of every layer) and total file bytes for sizes[0..n-1] (each ≥ 1);
 * false when the count overflows or the file would exceed MODEL_MAX_BYTES. */
static bool model_layout(const uint64_t *sizes, size_t n, int with_state, uint64_t *n_params, uint64_t *total)
{
    uint64_t params = 0, bytes;
    for (size_t l = 1; l < n; l++) {
        uint64_t w;
        if (!mul_u64(sizes[l], sizes[l - 1], &w) || !add_u64(w, sizes[l], &w) || !add_u64(params, w, &params))
            return false;
        if (params > MODEL_MAX_BYTES / 8)
            return false;
    }
    /* a checkpoint adds the epochs done and a momentum velocity per weight */
    bytes = PREFIX_BYTES + 8 * (uint64_t)n + SETTINGS_BYTES + 8 * params + CRC_BYTES;
    if (with_state && params > (MODEL_MAX_BYTES - bytes - 8) / 8)
        return false;
    if (with_state)
        bytes += 8 + 8 * params;
    if (bytes > MODEL_MAX_BYTES || bytes > SIZE_MAX)
        return false;
    *n_params = params;
    *total = bytes;
    return true;
}

/* The preprocessing rules both directions enforce, so every saved file loads. */
static clmlp_status check_preprocess(const clmlp_preprocess *pp, clmlp_status status, const char *path)
{
    if (pp->normalize != CLMLP_NORMALIZE_NONE && pp->normalize != CLMLP_NORMALIZE_GIVEN &&
        pp->normalize != CLMLP_NORMALIZE_DATA)
        return clmlp_fail(status, "%s: unknown normalization %d", path, (int)pp->normalize);
    if (pp->target != CLMLP_TARGET_ONEHOT_01 && pp->target != CLMLP_TARGET_ONEHOT_PM1)
        return clmlp_fail(status, "%s: unknown target encoding %d", path, (int)pp->target);
    if (!isfinite(pp->mean) || !isfinite(pp->std))
        return clmlp_fail(status, "%s: preprocessing mean %g / std %g: both must be finite", path, pp->mean, pp->std);
    if (pp->normalize != CLMLP_NORMALIZE_NONE && !(pp->std > 0))
        return clmlp_fail(status, "%s: preprocessing std %g: must be > 0 when normalizing", path, pp->std);
    return CLMLP_OK;
}

/* ---- saving ---------------------------------------------------------------- */

typedef struct writer {
    FILE *f;
    uLong crc;
    int err; /* errno of the first failed write, or -1 for a short write without one */
} writer;

/* Writes n bytes (n ≤ 8 · CHUNK_VALUES), adding them to the checksum when asked. */
static void write_raw(writer *w, const uint8_t *p, size_t n, bool checksum)
{
    if (w->err)
        return;
    if (checksum)
        w->crc = crc32(w->crc, p, (uInt)n);
    errno = 0;
    if (clmlp_fault_hit(CLMLP_FAULT_WRITE) ? (errno = ENOSPC, 1) : fwrite(p, 1, n, w->f) != n)
        w->err = errno ? errno : -1;
}

static void write_bytes(writer *w, const uint8_t *p, size_t n) { write_raw(w, p, n, true); }

static void write_values(writer *w, const double *v, size_t n, uint8_t *chunk)
{
    for (size_t done = 0; done < n;) {
        size_t k = n - done < CHUNK_VALUES ? n - done : CHUNK_VALUES;
        for (size_t i = 0; i < k; i++)
            clmlp_le_put_f64(chunk + 8 * i, v[done + i]);
        write_bytes(w, chunk, 8 * k);
        done += k;
    }
}

static const char *err_text(int err) { return err > 0 ? strerror(err) : "short write"; }

/* W[l] and b[l] (state 0), or their momentum velocities (state 1). */
static clmlp_status read_layer(const clmlp_net *net, size_t l, int state, double *W, double *b)
{
    return state ? clmlp_net_read_velocity(net, l, W, b) : clmlp_get_layer(net, l, W, b);
}

/* Header, settings, weights, the training state when epochs_done is not NULL, and the
 * CRC; status of the first failure. */
static clmlp_status write_model(writer *w, const clmlp_net *net, const uint64_t *sizes, size_t n_sizes,
                                const clmlp_preprocess *pp, const uint64_t *epochs_done, const char *path)
{
    uint8_t head[PREFIX_BYTES], settings[SETTINGS_BYTES], field[8];
    memcpy(head, MODEL_MAGIC, MAGIC_BYTES);
    clmlp_le_put(head + 8, epochs_done ? CHECKPOINT_VERSION : MODEL_VERSION, 4);
    clmlp_le_put(head + 12, (uint32_t)n_sizes, 4);
    write_bytes(w, head, sizeof head);
    for (size_t l = 0; l < n_sizes; l++) {
        clmlp_le_put(field, sizes[l], 8);
        write_bytes(w, field, 8);
    }
    clmlp_le_put(settings + 0, (uint32_t)clmlp_loss_type(net), 4);
    clmlp_le_put(settings + 4, (uint32_t)clmlp_dtype_of(net), 4);
    clmlp_le_put(settings + 8, pp->scale_255 ? 1u : 0u, 4);
    clmlp_le_put(settings + 12, (uint32_t)pp->normalize, 4);
    clmlp_le_put_f64(settings + 16, pp->mean);
    clmlp_le_put_f64(settings + 24, pp->std);
    clmlp_le_put(settings + 32, (uint64_t)pp->crop, 8);
    clmlp_le_put(settings + 40, (uint32_t)pp->target, 4);
    write_bytes(w, settings, sizeof settings);

    uint8_t *chunk = malloc(8 * CHUNK_VALUES);
    if (!chunk)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate a write buffer", path);
    clmlp_status s = CLMLP_OK;
    for (int state = 0; state <= (epochs_done != NULL) && s == CLMLP_OK; state++) {
        if (state) {
            clmlp_le_put(field, *epochs_done, 8);
            write_bytes(w, field, 8);
        }
        for (size_t l = 1; l < n_sizes && s == CLMLP_OK && !w->err; l++) {
            size_t rows = (size_t)sizes[l], cols = (size_t)sizes[l - 1];
            /* clmlp_create checked rows · cols */
            double *W = clmlp_alloc_array(rows * cols, sizeof *W), *b = clmlp_alloc_array(rows, sizeof *b);
            if (!W || !b)
                s = clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate layer %zu (%zu × %zu weights)", path, l, rows, cols);
            else if ((s = read_layer(net, l, state, W, b)) != CLMLP_OK)
                s = clmlp_fail_context(s, "%s: layer %zu", path, l);
            else {
                write_values(w, W, rows * cols, chunk);
                write_values(w, b, rows, chunk);
            }
            free(W);
            free(b);
        }
    }
    free(chunk);
    if (s != CLMLP_OK)
        return s;
    clmlp_le_put(field, (uint32_t)w->crc, 4);
    write_raw(w, field, CRC_BYTES, false);
    if (w->err)
        return clmlp_fail(CLMLP_EIO, "%s: cannot write: %s", path, err_text(w->err));
    return CLMLP_OK;
}

/* What emit_model writes, and the status of its writing. */
typedef struct model_job {
    const clmlp_net *net;
    const uint64_t *sizes;
    size_t n_sizes;
    const clmlp_preprocess *pp;
    const uint64_t *epochs_done;
    const char *path;
    clmlp_status status; /* when not CLMLP_OK, the detail message is already set */
} model_job;

/* The model through the checksumming writer, for clmlp_atomic_write. */
static int emit_model(FILE *f, void *user)
{
    model_job *job = user;
    writer w = {f, crc32(0L, Z_NULL, 0), 0};
    job->status = write_model(&w, job->net, job->sizes, job->n_sizes, job->pp, job->epochs_done, job->path);
    if (job->status == CLMLP_OK)
        return 0;
    errno = w.err > 0 ? w.err : EIO;
    return -1;
}

static clmlp_status save(const clmlp_net *net, const clmlp_preprocess *pp, const uint64_t *epochs_done,
                         const char *path)
{
    if (!net || !path)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_save: %s is NULL", !net ? "net" : "path");
    if (!*path)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_save: path is empty");
    clmlp_preprocess defaults;
    if (!pp) {
        clmlp_preprocess_init(&defaults);
        pp = &defaults;
    }
    clmlp_status s = check_preprocess(pp, CLMLP_EINVAL, path);
    if (s != CLMLP_OK)
        return s;
    if (pp->n_inputs && pp->n_inputs != clmlp_layer_size(net, 0))
        return clmlp_fail(CLMLP_EINVAL, "%s: the preprocessing feeds %zu inputs, the net takes n_0 = %zu", path,
                          pp->n_inputs, clmlp_layer_size(net, 0));

    size_t n_sizes = clmlp_num_layers(net) + 1;
    uint64_t *sizes = malloc(n_sizes * sizeof *sizes), n_params, total;
    if (!sizes)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu sizes", path, n_sizes);
    for (size_t l = 0; l < n_sizes; l++)
        sizes[l] = clmlp_layer_size(net, l);
    if (n_sizes > MAX_SIZES || !model_layout(sizes, n_sizes, epochs_done != NULL, &n_params, &total)) {
        free(sizes);
        return clmlp_fail(CLMLP_ENOMEM,
                          "%s: a net of %zu layers this large exceeds the model file limits "
                          "(%d sizes, 4 GiB)",
                          path, n_sizes - 1, MAX_SIZES);
    }

    /* beside the target, synced, renamed over it, the directory synced (atomic_file.h) */
    model_job job = {net, sizes, n_sizes, pp, epochs_done, path, CLMLP_OK};
    const char *what = NULL;
    int result = clmlp_atomic_write(path, emit_model, &job, &what), err = errno;
    free(sizes);
    if (result == CLMLP_ATOMIC_DONE)
        return CLMLP_OK;
    if (job.status != CLMLP_OK)
        return job.status;
    if (result == CLMLP_ATOMIC_REFUSED)
        return clmlp_fail(CLMLP_EIO, "%s: exists and is not a regular file (%s): refusing to replace it", path, what);
    if (result == CLMLP_ATOMIC_NOT_DURABLE)
        return clmlp_fail(CLMLP_EIO, "%s: written, but cannot %s: %s", path, what, strerror(err));
    return clmlp_fail(err == ENOMEM ? CLMLP_ENOMEM : CLMLP_EIO, "%s: cannot %s: %s", path, what, strerror(err));
}

clmlp_status clmlp_save(const clmlp_net *net, const clmlp_preprocess *pp, const char *path)
{
    return save(net, pp, NULL, path);
}

clmlp_status clmlp_save_checkpoint(const clmlp_net *net, const clmlp_preprocess *pp, size_t epochs_done,
                                   const char *path)
{
    uint64_t done = epochs_done;
    return save(net, pp, &done, path);
}

/* ---- loading ----------------------------------------------------------------- */

/* The whole file, refusing more than MODEL_MAX_BYTES; *data is malloc'd. */
static clmlp_status read_file(const char *path, uint8_t **data, size_t *size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return clmlp_fail(CLMLP_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        clmlp_status s = clmlp_fail(CLMLP_EIO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return s;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return clmlp_fail(CLMLP_EIO, "%s: is a directory, not a model file", path);
    }
    uint64_t limit = MODEL_MAX_BYTES < SIZE_MAX ? MODEL_MAX_BYTES : SIZE_MAX - 1;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit) {
        close(fd);
        return clmlp_fail(CLMLP_EFORMAT, "%s: %lld bytes: too large to be a clmlp model file (limit 4 GiB)", path,
                          (long long)st.st_size);
    }
    /* the size is a hint (the file may change, or not be a regular file): grow as data comes */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, have = 0;
    uint8_t *buf = malloc(cap);
    clmlp_status s = buf ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
    while (s == CLMLP_OK) {
        if (have == cap) {
            if ((uint64_t)cap > limit) {
                s = clmlp_fail(CLMLP_EFORMAT, "%s: too large to be a clmlp model file (limit 4 GiB)", path);
                break;
            }
            size_t grown = (uint64_t)cap * 2 > limit + 1 ? (size_t)(limit + 1) : cap * 2;
            uint8_t *bigger = realloc(buf, grown);
            if (!bigger) {
                s = clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu bytes", path, grown);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        size_t want = cap - have < ((size_t)1 << 30) ? cap - have : ((size_t)1 << 30);
        ssize_t r = read(fd, buf + have, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            s = clmlp_fail(CLMLP_EIO, "%s: cannot read: %s", path, strerror(errno));
        else if (r == 0)
            break;
        else
            have += (size_t)r;
    }
    close(fd);
    if (s != CLMLP_OK) {
        free(buf);
        return s;
    }
    *data = buf;
    *size = have;
    return CLMLP_OK;
}

/* What a file holds, once checked. */
typedef struct model {
    size_t n_sizes;
    uint64_t *sizes;
    clmlp_loss loss;
    clmlp_dtype dtype;
    clmlp_preprocess pp;
    const uint8_t *weights; /* into the file's bytes */
    int has_state;          /* a checkpoint: */
    uint64_t epochs_done;
    const uint8_t *velocities;
} model;

/* Magic, version, layout against the length, CRC, then every field. */
static clmlp_status parse_model(const uint8_t *d, size_t len, const char *path, model *m)
{
    if (len == 0)
        return clmlp_fail(CLMLP_EFORMAT, "%s: empty file, not a clmlp model file", path);
    size_t head = len < MAGIC_BYTES ? len : MAGIC_BYTES;
    if (memcmp(d, MODEL_MAGIC, head) != 0)
        return clmlp_fail(CLMLP_EFORMAT, "%s: not a clmlp model file (no %s magic)", path, MODEL_MAGIC);
    if (len < PREFIX_BYTES)
        return clmlp_fail(CLMLP_EFORMAT, "%s: truncated: %zu bytes, the header alone is %d", path, len, PREFIX_BYTES);
    uint32_t version = (uint32_t)clmlp_le_get(d + 8, 4);
    if (version != MODEL_VERSION && version != CHECKPOINT_VERSION)
        return clmlp_fail(CLMLP_EFORMAT, "%s: model file format version %u; this library reads versions %d and %d",
                          path, (unsigned)version, MODEL_VERSION, CHECKPOINT_VERSION);
    m->has_state = version == CHECKPOINT_VERSION;
    uint32_t n_sizes = (uint32_t)clmlp_le_get(d + 12, 4);
    if (n_sizes < 2 || n_sizes > MAX_SIZES)
        return clmlp_fail(CLMLP_EFORMAT, "%s: %u layer sizes; a model has 2 to %d", path, (unsigned)n_sizes, MAX_SIZES);
    if ((len - PREFIX_BYTES) / 8 < n_sizes)
        return clmlp_fail(CLMLP_EFORMAT, "%s: truncated: %zu bytes cannot hold %u layer sizes", path, len,
                          (unsigned)n_sizes);
    m->sizes = clmlp_alloc_array(n_sizes, sizeof *m->sizes); /* ≤ 8 bytes per byte of file */
    if (!m->sizes)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %u sizes", path, (unsigned)n_sizes);
    m->n_sizes = n_sizes;
    for (size_t l = 0; l < n_sizes; l++) {
        m->sizes[l] = clmlp_le_get(d + PREFIX_BYTES + 8 * l, 8);
        if (m->sizes[l] == 0)
            return clmlp_fail(CLMLP_EFORMAT, "%s: layer size n_%zu is 0", path, l);
    }
    uint64_t n_params, total;
    if (!model_layout(m->sizes, n_sizes, m->has_state, &n_params, &total))
        return clmlp_fail(CLMLP_EFORMAT,
                          "%s: the layer sizes declare more weights than a model file can hold "
                          "(overflow or over 4 GiB)",
                          path);
    if (len < total)
        return clmlp_fail(CLMLP_EFORMAT, "%s: truncated: %zu of the %llu bytes its header declares", path, len,
                          (unsigned long long)total);
    if (len > total)
        return clmlp_fail(CLMLP_EFORMAT, "%s: %zu trailing bytes after the %llu its header declares", path,
                          len - (size_t)total, (unsigned long long)total);

    uLong crc = crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < len - CRC_BYTES;) {
        size_t k = len - CRC_BYTES - done < ((size_t)1 << 30) ? len - CRC_BYTES - done : ((size_t)1 << 30);
        crc = crc32(crc, d + done, (uInt)k);
        done += k;
    }
    uint32_t stored = (uint32_t)clmlp_le_get(d + len - CRC_BYTES, 4);
    if ((uint32_t)crc != stored)
        return clmlp_fail(CLMLP_EFORMAT, "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                          path, (unsigned)stored, (unsigned)(uint32_t)crc);

    const uint8_t *s = d + PREFIX_BYTES + 8 * (size_t)n_sizes;
    uint32_t loss = (uint32_t)clmlp_le_get(s, 4), dtype = (uint32_t)clmlp_le_get(s + 4, 4),
             scale = (uint32_t)clmlp_le_get(s + 8, 4), normalize = (uint32_t)clmlp_le_get(s + 12, 4);
    uint32_t target = (uint32_t)clmlp_le_get(s + 40, 4);
    uint64_t crop = clmlp_le_get(s + 32, 8);
    if (loss != CLMLP_LOSS_MSE && loss != CLMLP_LOSS_SOFTMAX_CE)
        return clmlp_fail(CLMLP_EFORMAT, "%s: unknown loss %u", path, (unsigned)loss);
    if (dtype != CLMLP_F64 && dtype != CLMLP_F32)
        return clmlp_fail(CLMLP_EFORMAT, "%s: unknown dtype %u", path, (unsigned)dtype);
    if (scale > 1)
        return clmlp_fail(CLMLP_EFORMAT, "%s: scale_255 is %u, not 0 or 1", path, (unsigned)scale);
    if (normalize > CLMLP_NORMALIZE_DATA)
        return clmlp_fail(CLMLP_EFORMAT, "%s: unknown normalization %u", path, (unsigned)normalize);
    if (target > CLMLP_TARGET_ONEHOT_PM1)
        return clmlp_fail(CLMLP_EFORMAT, "%s: unknown target encoding %u", path, (unsigned)target);
    if (crop > SIZE_MAX)
        return clmlp_fail(CLMLP_EFORMAT, "%s: crop %llu does not fit size_t", path, (unsigned long long)crop);
    m->loss = (clmlp_loss)loss;
    m->dtype = (clmlp_dtype)dtype;
    clmlp_preprocess_init(&m->pp);
    m->pp.scale_255 = (int)scale;
    m->pp.normalize = (clmlp_normalize)normalize;
    m->pp.mean = clmlp_le_get_f64(s + 16);
    m->pp.std = clmlp_le_get_f64(s + 24);
    m->pp.crop = (size_t)crop;
    m->pp.target = (clmlp_target)target;
    clmlp_status st = check_preprocess(&m->pp, CLMLP_EFORMAT, path);
    if (st != CLMLP_OK)
        return st;

    /* every weight (and velocity) finite, and within float range for an F32 net */
    m->weights = s + SETTINGS_BYTES;
    double limit = m->dtype == CLMLP_F32 ? FLT_MAX : DBL_MAX;
    const uint8_t *p = m->weights;
    for (int state = 0; state <= m->has_state; state++) {
        if (state) {
            m->epochs_done = clmlp_le_get(p, 8);
            p += 8;
            m->velocities = p;
        }
        for (size_t l = 1; l < n_sizes; l++) {
            size_t rows = (size_t)m->sizes[l], cols = (size_t)m->sizes[l - 1];
            for (size_t e = 0; e < rows * cols + rows; e++, p += 8) {
                double v = clmlp_le_get_f64(p);
                if (!(fabs(v) <= limit))
                    return clmlp_fail(CLMLP_EFORMAT, "%s: %s%s[%zu] element %zu is %g, not a finite %s", path,
                                      state ? "velocity of " : "", e < rows * cols ? "W" : "b", l,
                                      e < rows * cols ? e : e - rows * cols, v,
                                      m->dtype == CLMLP_F32 ? "float" : "double");
            }
        }
    }
    return CLMLP_OK;
}

/* The net the model describes, with cfg's backend, device and seed. */
static clmlp_status build_net(const model *m, const clmlp_config *cfg, const char *path, clmlp_net **out)
{
    clmlp_config c;
    clmlp_config_init(&c);
    if (cfg)
        c = *cfg;
    c.dtype = m->dtype;
    c.loss = m->loss;
    size_t *sizes = clmlp_alloc_array(m->n_sizes, sizeof *sizes);
    if (!sizes)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu sizes", path, m->n_sizes);
    for (size_t l = 0; l < m->n_sizes; l++)
        sizes[l] = (size_t)m->sizes[l];
    clmlp_net *net = NULL;
    clmlp_status s = clmlp_create(sizes, m->n_sizes, &c, &net);
    if (s != CLMLP_OK)
        s = clmlp_fail_context(s, "%s", path);
    for (int state = 0; state <= m->has_state && s == CLMLP_OK; state++) {
        const uint8_t *p = state ? m->velocities : m->weights;
        for (size_t l = 1; l < m->n_sizes && s == CLMLP_OK; l++) {
            size_t rows = sizes[l], cols = sizes[l - 1];
            /* clmlp_create checked rows · cols */
            double *W = clmlp_alloc_array(rows * cols, sizeof *W), *b = clmlp_alloc_array(rows, sizeof *b);
            if (!W || !b)
                s = clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate layer %zu (%zu × %zu weights)", path, l, rows, cols);
            else {
                for (size_t e = 0; e < rows * cols; e++, p += 8)
                    W[e] = clmlp_le_get_f64(p);
                for (size_t e = 0; e < rows; e++, p += 8)
                    b[e] = clmlp_le_get_f64(p);
                s = state ? clmlp_net_write_velocity(net, l, W, b) : clmlp_set_layer(net, l, W, b);
                if (s != CLMLP_OK)
                    s = clmlp_fail_context(s, "%s: layer %zu", path, l);
            }
            free(W);
            free(b);
        }
    }
    free(sizes);
    if (s != CLMLP_OK) {
        clmlp_destroy(net);
        return s;
    }
    *out = net;
    return CLMLP_OK;
}

clmlp_status clmlp_load(const char *path, const clmlp_config *cfg, clmlp_net **out, clmlp_preprocess *pp)
{
    return clmlp_load_checkpoint(path, cfg, out, pp, NULL);
}

clmlp_status clmlp_load_checkpoint(const char *path, const clmlp_config *cfg, clmlp_net **out, clmlp_preprocess *pp,
                                   size_t *epochs_done)
{
    if (!path || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_load: %s is NULL", !path ? "path" : "out");
    uint8_t *data = NULL;
    size_t len = 0;
    clmlp_status s = read_file(path, &data, &len);
    if (s != CLMLP_OK)
        return s;
    model m = {0};
    s = parse_model(data, len, path, &m);
    clmlp_net *net = NULL;
    if (s == CLMLP_OK)
        s = build_net(&m, cfg, path, &net);
    if (s == CLMLP_OK && m.epochs_done > SIZE_MAX) {
        clmlp_destroy(net);
        s = clmlp_fail(CLMLP_EFORMAT, "%s: %llu epochs done does not fit size_t", path,
                       (unsigned long long)m.epochs_done);
    }
    if (s == CLMLP_OK) {
        *out = net;
        if (pp) {
            *pp = m.pp;
            pp->n_inputs = (size_t)m.sizes[0];
        }
        if (epochs_done)
            *epochs_done = (size_t)m.epochs_done;
    }
    free(m.sizes);
    free(data);
    return s;
}
