/*
 * The model file format (docs/model-file.md), bytes ↔ model, with no file I/O: a magic,
 * a format version, the sizes, loss, dtype, preprocessing and every weight as
 * IEEE-754 binary64, all little-endian, then a CRC-32 of everything before it. Version
 * 3 (what is written) adds flags naming its optional sections: the per-input
 * standardization, and a checkpoint's training state (epochs done, the optimizer,
 * Adam's step count, the first moments or velocities, Adam's second moments); versions
 * 1 (a model) and 2 (a checkpoint with SGD's velocities) are still read. The parser
 * checks the layout against the actual length before allocating anything sized by the
 * header, then the checksum, then every field. This is what the fuzzer drives.
 */
#include "model_format.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "checked.h"
#include "error.h"
#include "le.h"
#include "net_internal.h"

/* Weights travel as bit patterns: the host's double must be IEEE-754 binary64. */
_Static_assert(sizeof(double) == 8 && FLT_RADIX == 2 && DBL_MANT_DIG == 53 && DBL_MAX_EXP == 1024,
               "double must be IEEE-754 binary64");

#define MODEL_MAGIC "CLMLPNET"
enum {
    MAGIC_BYTES = 8,
    MODEL_VERSION = 1,      /* a model (read only) */
    CHECKPOINT_VERSION = 2, /* a model followed by the epochs done and SGD's velocities (read only) */
    CURRENT_VERSION = 3,    /* a model with the optional sections its flags name */
    PREFIX_BYTES = 16,      /* magic, version, n_sizes */
    SETTINGS_BYTES = 44,    /* loss … target, after the sizes */
    FLAGS_BYTES = 4,        /* version 3: after the settings */
    V2_STATE_BYTES = 8,     /* version 2's training state before the velocities: epochs done */
    STATE_BYTES = 20,       /* version 3's: epochs done, optimizer, Adam's step count */
    CRC_BYTES = 4,
    CHUNK_VALUES = 8192 /* weights encoded per write */
};

/* Version 3's flags: which optional sections follow the weights. */
enum {
    FLAG_STANDARDIZATION = 1u << 0, /* n_0 means, then n_0 stds */
    FLAG_TRAINING_STATE = 1u << 1,  /* a checkpoint: the state block and the first moments */
    FLAG_SECOND_MOMENT = 1u << 2,   /* Adam's second moments (needs FLAG_TRAINING_STATE) */
    KNOWN_FLAGS = FLAG_STANDARDIZATION | FLAG_TRAINING_STATE | FLAG_SECOND_MOMENT
};

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

/* Where each section of a file starts (0: absent) and its total length. */
typedef struct layout {
    uint64_t params; /* P: W and b values of every layer */
    uint64_t weights, standardization, state;
    uint64_t moments[2]; /* first moments (velocities), second moments */
    uint64_t total;      /* the file's length, the CRC included */
} layout;

/* The layout of a file of this version and flags (version 2: FLAG_TRAINING_STATE) for
 * sizes[0..n-1] (n ≤ CLMLP_MODEL_MAX_SIZES, each ≥ 1); false when the weight count
 * overflows or the file would exceed CLMLP_MODEL_MAX_BYTES. */
static bool model_layout(const uint64_t *sizes, size_t n, uint32_t version, uint32_t flags, layout *out)
{
    uint64_t params = 0;
    for (size_t l = 1; l < n; l++) {
        uint64_t w;
        if (!mul_u64(sizes[l], sizes[l - 1], &w) || !add_u64(w, sizes[l], &w) || !add_u64(params, w, &params))
            return false;
        if (params > CLMLP_MODEL_MAX_BYTES / 8)
            return false;
    }
    /* params ≤ 2^29 and n_0 ≤ n_0·n_1 ≤ params: no sum below can overflow */
    layout lay = {.params = params};
    uint64_t at = PREFIX_BYTES + 8 * (uint64_t)n + SETTINGS_BYTES + (version >= CURRENT_VERSION ? FLAGS_BYTES : 0);
    lay.weights = at;
    at += 8 * params;
    if (flags & FLAG_STANDARDIZATION) {
        lay.standardization = at;
        at += 2 * 8 * sizes[0];
    }
    if (flags & FLAG_TRAINING_STATE) {
        lay.state = at;
        at += version == CHECKPOINT_VERSION ? V2_STATE_BYTES : STATE_BYTES;
        lay.moments[0] = at;
        at += 8 * params;
        if (flags & FLAG_SECOND_MOMENT) {
            lay.moments[1] = at;
            at += 8 * params;
        }
    }
    at += CRC_BYTES;
    if (at > CLMLP_MODEL_MAX_BYTES || at > SIZE_MAX)
        return false;
    lay.total = at;
    *out = lay;
    return true;
}

/* The preprocessing rules both directions enforce, so every saved file loads. */
clmlp_status clmlp_model_check_preprocess(const clmlp_preprocess *pp, clmlp_status status, const char *path)
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

/* ---- encoding ---------------------------------------------------------- */

typedef struct writer {
    clmlp_model_sink sink;
    void *user;
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
    w->err = w->sink(w->user, p, n);
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

/* W[l] and b[l] (state 0), their first moments or velocities (state 1) or their
 * second moments (state 2, refused when negative: the file could not be loaded). */
static clmlp_status read_layer(const clmlp_net *net, size_t l, int state, double *W, double *b)
{
    if (state == 0)
        return clmlp_get_layer(net, l, W, b);
    TRY(clmlp_net_read_moment(net, state, l, W, b));
    size_t rows = clmlp_layer_size(net, l), cols = clmlp_layer_size(net, l - 1);
    for (size_t e = 0; state == 2 && e < rows * cols + rows; e++) {
        double v = e < rows * cols ? W[e] : b[e - rows * cols];
        if (v < 0)
            return clmlp_fail(CLMLP_ENUMERIC, "second moment of %s[%zu] element %zu is %g, negative",
                              e < rows * cols ? "W" : "b", l, e < rows * cols ? e : e - rows * cols, v);
    }
    return CLMLP_OK;
}

/* The sections a version-3 file of net holds: its standardization when it has one, the
 * training state when asked, and then Adam's second moments when Adam owns the state. */
static uint32_t model_flags(const clmlp_net *net, int with_state)
{
    int present = 0;
    uint32_t flags = 0;
    if (clmlp_get_standardization(net, NULL, NULL, &present) == CLMLP_OK && present)
        flags |= FLAG_STANDARDIZATION;
    if (with_state) {
        flags |= FLAG_TRAINING_STATE;
        if (net->state_of == CLMLP_OPT_ADAM)
            flags |= FLAG_SECOND_MOMENT;
    }
    return flags;
}

/* Every layer's W and b (state 0), first moments (1) or second moments (2). */
static clmlp_status write_layers(writer *w, const clmlp_net *net, const uint64_t *sizes, size_t n_sizes, int state,
                                 uint8_t *chunk, const char *path)
{
    clmlp_status s = CLMLP_OK;
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
    return s;
}

/* The standardization's means, then its stds. */
static clmlp_status write_standardization(writer *w, const clmlp_net *net, uint8_t *chunk, const char *path)
{
    size_t n0 = clmlp_layer_size(net, 0);
    double *mean = clmlp_alloc_array(n0, sizeof *mean), *std = clmlp_alloc_array(n0, sizeof *std);
    int present = 0;
    clmlp_status s = CLMLP_OK;
    if (!mean || !std)
        s = clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate the standardization (%zu inputs)", path, n0);
    else if ((s = clmlp_get_standardization(net, mean, std, &present)) != CLMLP_OK)
        s = clmlp_fail_context(s, "%s", path);
    else if (!present)
        s = clmlp_fail(CLMLP_EINVAL, "%s: the net's standardization went away while saving", path);
    else {
        write_values(w, mean, n0, chunk);
        write_values(w, std, n0, chunk);
    }
    free(mean);
    free(std);
    return s;
}

/* Header, settings, flags, weights, the sections the flags name, and the CRC (version
 * 3); status of the first failure. */
static clmlp_status write_model(writer *w, const clmlp_net *net, const uint64_t *sizes, size_t n_sizes,
                                const clmlp_preprocess *pp, uint32_t flags, const uint64_t *epochs_done,
                                const char *path)
{
    uint8_t head[PREFIX_BYTES], settings[SETTINGS_BYTES + FLAGS_BYTES], field[STATE_BYTES];
    memcpy(head, MODEL_MAGIC, MAGIC_BYTES);
    clmlp_le_put(head + 8, CURRENT_VERSION, 4);
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
    clmlp_le_put(settings + SETTINGS_BYTES, flags, 4);
    write_bytes(w, settings, sizeof settings);

    uint8_t *chunk = malloc(8 * CHUNK_VALUES);
    if (!chunk)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate a write buffer", path);
    clmlp_status s = write_layers(w, net, sizes, n_sizes, 0, chunk, path);
    if (s == CLMLP_OK && (flags & FLAG_STANDARDIZATION))
        s = write_standardization(w, net, chunk, path);
    if (s == CLMLP_OK && (flags & FLAG_TRAINING_STATE)) {
        int adam = (flags & FLAG_SECOND_MOMENT) != 0;
        clmlp_le_put(field, *epochs_done, 8);
        clmlp_le_put(field + 8, adam ? (uint32_t)CLMLP_OPT_ADAM : (uint32_t)CLMLP_OPT_SGD, 4);
        clmlp_le_put(field + 12, adam ? net->adam_steps : 0, 8); /* SGD keeps no step count */
        write_bytes(w, field, STATE_BYTES);
        s = write_layers(w, net, sizes, n_sizes, 1, chunk, path);
        if (s == CLMLP_OK && adam)
            s = write_layers(w, net, sizes, n_sizes, 2, chunk, path);
    }
    free(chunk);
    if (s != CLMLP_OK)
        return s;
    clmlp_le_put(field, (uint32_t)w->crc, 4);
    write_raw(w, field, CRC_BYTES, false);
    if (w->err)
        return clmlp_fail(CLMLP_EIO, "%s: cannot write: %s", path, w->err > 0 ? strerror(w->err) : "short write");
    return CLMLP_OK;
}

clmlp_status clmlp_model_check(const clmlp_net *net, const clmlp_preprocess *pp, int with_state, const char *path)
{
    TRY(clmlp_model_check_preprocess(pp, CLMLP_EINVAL, path));
    if (pp->n_inputs && pp->n_inputs != clmlp_layer_size(net, 0))
        return clmlp_fail(CLMLP_EINVAL, "%s: the preprocessing feeds %zu inputs, the net takes n_0 = %zu", path,
                          pp->n_inputs, clmlp_layer_size(net, 0));
    size_t n_sizes = clmlp_num_layers(net) + 1;
    uint64_t *sizes = clmlp_alloc_array(n_sizes, sizeof *sizes);
    if (!sizes)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu sizes", path, n_sizes);
    for (size_t l = 0; l < n_sizes; l++)
        sizes[l] = clmlp_layer_size(net, l);
    layout lay;
    bool fits = n_sizes <= CLMLP_MODEL_MAX_SIZES &&
                model_layout(sizes, n_sizes, CURRENT_VERSION, model_flags(net, with_state), &lay);
    free(sizes);
    if (!fits)
        return clmlp_fail(CLMLP_ENOMEM,
                          "%s: a net of %zu layers this large exceeds the model file limits "
                          "(%d sizes, 4 GiB)",
                          path, n_sizes - 1, CLMLP_MODEL_MAX_SIZES);
    return CLMLP_OK;
}

clmlp_status clmlp_model_encode(const clmlp_net *net, const clmlp_preprocess *pp, const uint64_t *epochs_done,
                                const char *path, clmlp_model_sink sink, void *user, int *err)
{
    size_t n_sizes = clmlp_num_layers(net) + 1;
    uint64_t *sizes = clmlp_alloc_array(n_sizes, sizeof *sizes);
    if (!sizes)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu sizes", path, n_sizes);
    for (size_t l = 0; l < n_sizes; l++)
        sizes[l] = clmlp_layer_size(net, l);
    writer w = {sink, user, crc32(0L, Z_NULL, 0), 0};
    clmlp_status s = write_model(&w, net, sizes, n_sizes, pp, model_flags(net, epochs_done != NULL), epochs_done, path);
    free(sizes);
    *err = w.err;
    return s;
}

/* ---- reading a parsed model ------------------------------------------------ */

clmlp_status clmlp_model_layer(const clmlp_model *m, int state, size_t l, double *W, double *b)
{
    static const char *const names[] = {"weights", "first moments", "second moments"};
    if (state < 0 || state > 2)
        return clmlp_fail(CLMLP_EINVAL, "model: no state %d", state);
    const uint8_t *p = state == 0 ? m->weights : m->moments[state - 1];
    if (l < 1 || l >= m->n_sizes || !p)
        return clmlp_fail(CLMLP_EINVAL, "model: no %s of layer %zu", names[state], l);
    for (size_t k = 1; k < l; k++)
        p += 8 * ((size_t)m->sizes[k] * (size_t)m->sizes[k - 1] + (size_t)m->sizes[k]);
    size_t rows = (size_t)m->sizes[l], cols = (size_t)m->sizes[l - 1];
    for (size_t e = 0; e < rows * cols; e++, p += 8)
        W[e] = clmlp_le_get_f64(p);
    for (size_t e = 0; e < rows; e++, p += 8)
        b[e] = clmlp_le_get_f64(p);
    return CLMLP_OK;
}

clmlp_status clmlp_model_standardization(const clmlp_model *m, double *mean, double *std)
{
    if (!m->standardization)
        return clmlp_fail(CLMLP_EINVAL, "model: no standardization");
    size_t n0 = (size_t)m->sizes[0];
    for (size_t j = 0; j < n0; j++) {
        mean[j] = clmlp_le_get_f64(m->standardization + 8 * j);
        std[j] = clmlp_le_get_f64(m->standardization + 8 * (n0 + j));
    }
    return CLMLP_OK;
}

/* ---- parsing ------------------------------------------------------------ */

/* Every value of a section of W and b per layer at p is finite, and within float range
 * for an F32 net; a second moment is also ≥ 0. what prefixes the name in messages. */
static clmlp_status check_values(const clmlp_model *m, const uint8_t *p, const char *what, bool nonnegative,
                                 const char *path)
{
    double limit = m->dtype == CLMLP_F32 ? FLT_MAX : DBL_MAX;
    for (size_t l = 1; l < m->n_sizes; l++) {
        size_t rows = (size_t)m->sizes[l], cols = (size_t)m->sizes[l - 1];
        for (size_t e = 0; e < rows * cols + rows; e++, p += 8) {
            double v = clmlp_le_get_f64(p);
            if (!(fabs(v) <= limit) || (nonnegative && v < 0))
                return clmlp_fail(CLMLP_EFORMAT, "%s: %s%s[%zu] element %zu is %g, not a finite%s %s", path, what,
                                  e < rows * cols ? "W" : "b", l, e < rows * cols ? e : e - rows * cols, v,
                                  nonnegative ? " non-negative" : "", m->dtype == CLMLP_F32 ? "float" : "double");
        }
    }
    return CLMLP_OK;
}

/* The standardization: n_0 finite means, n_0 finite stds > 0 (clmlp_set_standardization's rules). */
static clmlp_status check_standardization(const clmlp_model *m, const char *path)
{
    size_t n0 = (size_t)m->sizes[0];
    for (size_t j = 0; j < n0; j++) {
        double mean = clmlp_le_get_f64(m->standardization + 8 * j);
        double std = clmlp_le_get_f64(m->standardization + 8 * (n0 + j));
        if (!isfinite(mean))
            return clmlp_fail(CLMLP_EFORMAT, "%s: standardization mean[%zu] is %g, not finite", path, j, mean);
        if (!(isfinite(std) && std > 0))
            return clmlp_fail(CLMLP_EFORMAT, "%s: standardization std[%zu] is %g, not finite and > 0", path, j, std);
    }
    return CLMLP_OK;
}

/* Magic, version, layout against the length, CRC, then every field. */
clmlp_status clmlp_model_parse(const uint8_t *d, size_t len, const char *path, clmlp_model *m)
{
    if (len == 0)
        return clmlp_fail(CLMLP_EFORMAT, "%s: empty file, not a clmlp model file", path);
    size_t head = len < MAGIC_BYTES ? len : MAGIC_BYTES;
    if (memcmp(d, MODEL_MAGIC, head) != 0)
        return clmlp_fail(CLMLP_EFORMAT, "%s: not a clmlp model file (no %s magic)", path, MODEL_MAGIC);
    if (len < PREFIX_BYTES)
        return clmlp_fail(CLMLP_EFORMAT, "%s: truncated: %zu bytes, the header alone is %d", path, len, PREFIX_BYTES);
    uint32_t version = (uint32_t)clmlp_le_get(d + 8, 4);
    if (version != MODEL_VERSION && version != CHECKPOINT_VERSION && version != CURRENT_VERSION)
        return clmlp_fail(CLMLP_EFORMAT, "%s: model file format version %u; this library reads versions %d, %d and %d",
                          path, (unsigned)version, MODEL_VERSION, CHECKPOINT_VERSION, CURRENT_VERSION);
    m->version = version;
    uint32_t n_sizes = (uint32_t)clmlp_le_get(d + 12, 4);
    if (n_sizes < 2 || n_sizes > CLMLP_MODEL_MAX_SIZES)
        return clmlp_fail(CLMLP_EFORMAT, "%s: %u layer sizes; a model has 2 to %d", path, (unsigned)n_sizes,
                          CLMLP_MODEL_MAX_SIZES);
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
    const uint8_t *s = d + PREFIX_BYTES + 8 * (size_t)n_sizes; /* the settings */
    uint32_t flags = version == CHECKPOINT_VERSION ? FLAG_TRAINING_STATE : 0;
    if (version == CURRENT_VERSION) {
        if (len - PREFIX_BYTES - 8 * (size_t)n_sizes < SETTINGS_BYTES + FLAGS_BYTES)
            return clmlp_fail(CLMLP_EFORMAT, "%s: truncated: %zu bytes cannot hold the settings and flags", path, len);
        flags = (uint32_t)clmlp_le_get(s + SETTINGS_BYTES, 4);
        if (flags & ~(uint32_t)KNOWN_FLAGS)
            return clmlp_fail(CLMLP_EFORMAT, "%s: unknown flags 0x%x (this library knows 0x%x)", path, (unsigned)flags,
                              (unsigned)KNOWN_FLAGS);
        if ((flags & FLAG_SECOND_MOMENT) && !(flags & FLAG_TRAINING_STATE))
            return clmlp_fail(CLMLP_EFORMAT, "%s: flags 0x%x: second moments without a training state", path,
                              (unsigned)flags);
    }
    layout lay;
    if (!model_layout(m->sizes, n_sizes, version, flags, &lay))
        return clmlp_fail(CLMLP_EFORMAT,
                          "%s: the layer sizes declare more weights than a model file can hold "
                          "(overflow or over 4 GiB)",
                          path);
    if (len < lay.total)
        return clmlp_fail(CLMLP_EFORMAT, "%s: truncated: %zu of the %llu bytes its header declares", path, len,
                          (unsigned long long)lay.total);
    if (len > lay.total)
        return clmlp_fail(CLMLP_EFORMAT, "%s: %zu trailing bytes after the %llu its header declares", path,
                          len - (size_t)lay.total, (unsigned long long)lay.total);

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
    clmlp_status st = clmlp_model_check_preprocess(&m->pp, CLMLP_EFORMAT, path);
    if (st != CLMLP_OK)
        return st;

    /* every weight finite, and within float range for an F32 net */
    m->weights = d + lay.weights;
    TRY(check_values(m, m->weights, "", false, path));
    if (lay.standardization) {
        m->standardization = d + lay.standardization;
        TRY(check_standardization(m, path));
    }
    if (!lay.state)
        return CLMLP_OK;
    const uint8_t *state = d + lay.state;
    m->has_state = 1;
    m->epochs_done = clmlp_le_get(state, 8);
    m->optimizer = CLMLP_OPT_SGD;
    m->adam_steps = 0;
    if (version == CURRENT_VERSION) {
        uint32_t optimizer = (uint32_t)clmlp_le_get(state + 8, 4);
        uint64_t steps = clmlp_le_get(state + 12, 8);
        if (optimizer != CLMLP_OPT_SGD && optimizer != CLMLP_OPT_ADAM)
            return clmlp_fail(CLMLP_EFORMAT, "%s: unknown optimizer %u", path, (unsigned)optimizer);
        if ((optimizer == CLMLP_OPT_ADAM) != ((flags & FLAG_SECOND_MOMENT) != 0))
            return clmlp_fail(CLMLP_EFORMAT, "%s: the optimizer is %s, but the flags (0x%x) %s second moments", path,
                              optimizer == CLMLP_OPT_ADAM ? "Adam" : "SGD", (unsigned)flags,
                              optimizer == CLMLP_OPT_ADAM ? "hold no" : "hold");
        if (optimizer == CLMLP_OPT_SGD && steps != 0)
            return clmlp_fail(CLMLP_EFORMAT, "%s: Adam's step count is %llu with the SGD optimizer, not 0", path,
                              (unsigned long long)steps);
        m->optimizer = (clmlp_optimizer)optimizer;
        m->adam_steps = steps;
    }
    int adam = m->optimizer == CLMLP_OPT_ADAM;
    m->moments[0] = d + lay.moments[0];
    TRY(check_values(m, m->moments[0], adam ? "first moment of " : "velocity of ", false, path));
    if (adam) {
        m->moments[1] = d + lay.moments[1];
        TRY(check_values(m, m->moments[1], "second moment of ", true, path));
    }
    return CLMLP_OK;
}
