/*
 * Model files (docs/model-file.md): save and load round trips on both backends and
 * dtypes — weights, the standardization, a checkpoint's SGD or Adam state — the
 * documented bytes of version 3, versions 1 and 2 built byte by byte, atomic
 * replacement, and every way a file can be wrong — truncated, a byte flipped, trailing
 * bytes, foreign, or a hostile header or section with a valid checksum — is
 * CLMLP_EFORMAT with nothing returned. Files live in a mkdtemp directory under /tmp.
 */
#define _XOPEN_SOURCE 700 /* mknod */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "net_internal.h" /* the optimizer state: clmlp_net_read_moment, state_of, adam_steps */

static char tmp_root[64];

static clmlp_backend backend_of(void **state) { return *(clmlp_backend *)*state; }

/* ---- files and directories -------------------------------------------------- */

/* root/name (a fresh static buffer per call slot, enough for a test's few paths). */
static const char *path_in(const char *dir, const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8], joined[sizeof buf[0]];
    snprintf(joined, sizeof joined, "%s/%s", dir, name); /* dir may be an older slot */
    memcpy(p, joined, sizeof joined);
    return p;
}

/* A fresh, empty directory for one test. */
static const char *fresh_dir(const char *name)
{
    const char *dir = path_in(tmp_root, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    return dir;
}

static void remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                    continue;
                char child[1024];
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                remove_tree(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else
        unlink(path);
}

/* Entries of dir (without . and ..); *tmp_files counts the names holding ".tmp.". */
static size_t list_dir(const char *dir, size_t *tmp_files)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0, tmp = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (strstr(e->d_name, ".tmp."))
            tmp++;
    }
    closedir(d);
    if (tmp_files)
        *tmp_files = tmp;
    return n;
}

static void write_bytes(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static uint8_t *read_bytes(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *data = malloc((size_t)n + 1);
    assert_non_null(data);
    assert_int_equal(fread(data, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return data;
}

/* ---- a model file built by hand, following docs/model-file.md ------------------ */

enum { FLAG_STD = 1, FLAG_STATE = 2, FLAG_MOMENT2 = 4 }; /* version 3's flags */

typedef struct spec {
    uint8_t magic[8];
    uint32_t version, n_sizes_field;
    size_t n_sizes;
    uint64_t sizes[4];
    uint32_t loss, dtype, scale_255, normalize, target;
    double mean, std;
    uint64_t crop;
    size_t n_weights;
    double weights[32];
    /* version 3: the flags, written as given; each bit adds its section (so a file can
     * hold what its flags forbid) */
    uint32_t flags;
    double std_mean[4], std_std[4]; /* n_0 each (FLAG_STD) */
    /* version 2, and version 3 with FLAG_STATE */
    uint64_t epochs_done;
    uint32_t optimizer; /* version 3 */
    uint64_t adam_steps;
    double moment1[32], moment2[32]; /* moment2: version 3 with FLAG_MOMENT2 */
} spec;

/* MyNet(2, 3, 2), F64, MSE, GIVEN normalization: 2·3 + 3 + 3·2 + 2 = 17 weights; a
 * version 1 file unless changed. The other sections hold values ready for use. */
static spec small_spec(void)
{
    spec s;
    memset(&s, 0, sizeof s);
    memcpy(s.magic, "CLMLPNET", 8);
    s.version = 1;
    s.n_sizes = s.n_sizes_field = 3;
    s.sizes[0] = 2, s.sizes[1] = 3, s.sizes[2] = 2;
    s.loss = CLMLP_LOSS_MSE;
    s.dtype = CLMLP_F64;
    s.scale_255 = 1;
    s.normalize = CLMLP_NORMALIZE_GIVEN;
    s.mean = 0.2860;
    s.std = 0.3530;
    s.crop = 0;
    s.target = CLMLP_TARGET_ONEHOT_PM1;
    s.n_weights = 17;
    for (size_t i = 0; i < s.n_weights; i++) {
        s.weights[i] = 0.0625 * (double)i - 0.5 + 1e-3 / 3.0;
        s.moment1[i] = 0.01 * (double)i - 0.07 + 1e-5 / 7.0;
        s.moment2[i] = 1e-4 * (double)(i + 1) / 3.0; /* ≥ 0, as Adam's second moments are */
    }
    s.std_mean[0] = 0.5, s.std_mean[1] = -0.25 + 1e-3 / 3.0;
    s.std_std[0] = 2.0, s.std_std[1] = 0.1;
    s.epochs_done = 7;
    s.optimizer = CLMLP_OPT_SGD;
    s.adam_steps = 0;
    return s;
}

/* A version 3 file of small_spec with these flags (FLAG_MOMENT2: Adam at step 42). */
static spec v3_spec(uint32_t flags)
{
    spec s = small_spec();
    s.version = 3;
    s.flags = flags;
    if (flags & FLAG_MOMENT2) {
        s.optimizer = CLMLP_OPT_ADAM;
        s.adam_steps = 42;
    }
    return s;
}

static uint8_t *put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static uint8_t *put_values(uint8_t *p, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p = put_le(p, bits_of(v[i]), 8);
    return p;
}

/* The CRC-32 of everything before the last 4 bytes, into them. */
static void fix_crc(uint8_t *data, size_t len)
{
    uLong crc = crc32(crc32(0L, Z_NULL, 0), data, (uInt)(len - 4));
    put_le(data + len - 4, (uint32_t)crc, 4);
}

/* The file's bytes with a correct CRC-32 at the end; *len receives the length. */
static uint8_t *build(const spec *s, size_t *len)
{
    /* a hostile n_0 gets no more standardization values than the spec holds */
    size_t n = 16 + 8 * s->n_sizes + 44 + 8 * s->n_weights + 4, n0 = s->sizes[0] < 4 ? (size_t)s->sizes[0] : 4;
    if (s->version == 2)
        n += 8 + 8 * s->n_weights;
    if (s->version == 3)
        n += 4 + (s->flags & FLAG_STD ? 16 * n0 : 0) + (s->flags & FLAG_STATE ? 20 + 8 * s->n_weights : 0) +
             (s->flags & FLAG_MOMENT2 ? 8 * s->n_weights : 0);
    uint8_t *data = malloc(n), *p = data;
    assert_non_null(data);
    memcpy(p, s->magic, 8);
    p += 8;
    p = put_le(p, s->version, 4);
    p = put_le(p, s->n_sizes_field, 4);
    for (size_t l = 0; l < s->n_sizes; l++)
        p = put_le(p, s->sizes[l], 8);
    p = put_le(p, s->loss, 4);
    p = put_le(p, s->dtype, 4);
    p = put_le(p, s->scale_255, 4);
    p = put_le(p, s->normalize, 4);
    p = put_le(p, bits_of(s->mean), 8);
    p = put_le(p, bits_of(s->std), 8);
    p = put_le(p, s->crop, 8);
    p = put_le(p, s->target, 4);
    if (s->version == 3)
        p = put_le(p, s->flags, 4);
    p = put_values(p, s->weights, s->n_weights);
    if (s->version == 2) {
        p = put_le(p, s->epochs_done, 8);
        p = put_values(p, s->moment1, s->n_weights);
    }
    if (s->version == 3 && (s->flags & FLAG_STD)) {
        p = put_values(p, s->std_mean, n0);
        p = put_values(p, s->std_std, n0);
    }
    if (s->version == 3 && (s->flags & FLAG_STATE)) {
        p = put_le(p, s->epochs_done, 8);
        p = put_le(p, s->optimizer, 4);
        p = put_le(p, s->adam_steps, 8);
        p = put_values(p, s->moment1, s->n_weights);
    }
    if (s->version == 3 && (s->flags & FLAG_MOMENT2))
        p = put_values(p, s->moment2, s->n_weights);
    p += 4;
    assert_int_equal((size_t)(p - data), n);
    fix_crc(data, n);
    *len = n;
    return data;
}

static void write_spec(const char *path, const spec *s)
{
    size_t len;
    uint8_t *data = build(s, &len);
    write_bytes(path, data, len);
    free(data);
}

/* ---- loading that must fail ------------------------------------------------------ */

/* Loads path with clmlp_load and with clmlp_load_checkpoint expecting `status`; checks
 * nothing was returned and the message names the file (and holds `needle` when given). */
static void expect_load_fails(const char *path, clmlp_status status, const char *needle)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_HOST;
    for (int checkpoint = 0; checkpoint < 2; checkpoint++) {
        clmlp_net *sentinel = (clmlp_net *)(uintptr_t)0x1234, *net = sentinel;
        clmlp_preprocess pp, untouched;
        memset(&pp, 0x5a, sizeof pp);
        memcpy(&untouched, &pp, sizeof pp);
        size_t done = 12345;
        clmlp_status s =
            checkpoint ? clmlp_load_checkpoint(path, &cfg, &net, &pp, &done) : clmlp_load(path, &cfg, &net, &pp);
        if (s != status)
            fail_msg("%s %s -> %s, expected %s (%s)", checkpoint ? "load_checkpoint" : "load", path, clmlp_strerror(s),
                     clmlp_strerror(status), clmlp_last_error());
        assert_ptr_equal(net, sentinel);
        assert_memory_equal(&pp, &untouched, sizeof pp);
        assert_int_equal(done, 12345);
        assert_non_null(strstr(clmlp_last_error(), path));
        if (needle && !strstr(clmlp_last_error(), needle))
            fail_msg("load %s: message \"%s\" lacks \"%s\"", path, clmlp_last_error(), needle);
    }
}

/* ---- helpers on nets ----------------------------------------------------------------- */

static void assert_same_weights(const clmlp_net *a, const clmlp_net *b)
{
    assert_int_equal(clmlp_num_layers(a), clmlp_num_layers(b));
    for (size_t l = 0; l <= clmlp_num_layers(a); l++)
        assert_int_equal(clmlp_layer_size(a, l), clmlp_layer_size(b, l));
    for (size_t l = 1; l <= clmlp_num_layers(a); l++) {
        size_t rows = clmlp_layer_size(a, l), cols = clmlp_layer_size(a, l - 1);
        double *Wa = test_alloc(rows * cols), *ba = test_alloc(rows);
        double *Wb = test_alloc(rows * cols), *bb = test_alloc(rows);
        TEST_OK(clmlp_get_layer(a, l, Wa, ba));
        TEST_OK(clmlp_get_layer(b, l, Wb, bb));
        assert_memory_equal(Wa, Wb, rows * cols * sizeof *Wa);
        assert_memory_equal(ba, bb, rows * sizeof *ba);
        free(Wa);
        free(ba);
        free(Wb);
        free(bb);
    }
}

/* Every layer's W and b (moment 0) or optimizer moment 1 or 2, flattened in the file's
 * order (W[1], b[1], W[2], …); returns a malloc'ed array of *count values. */
static double *flat_values(const clmlp_net *net, int moment, size_t *count)
{
    size_t total = 0;
    for (size_t l = 1; l <= clmlp_num_layers(net); l++)
        total += clmlp_layer_size(net, l) * (clmlp_layer_size(net, l - 1) + 1);
    double *v = test_alloc(total), *p = v;
    for (size_t l = 1; l <= clmlp_num_layers(net); l++) {
        size_t rows = clmlp_layer_size(net, l), cols = clmlp_layer_size(net, l - 1);
        if (moment == 0)
            TEST_OK(clmlp_get_layer(net, l, p, p + rows * cols));
        else
            TEST_OK(clmlp_net_read_moment(net, moment, l, p, p + rows * cols));
        p += rows * cols + rows;
    }
    *count = total;
    return v;
}

/* net's values of `moment` are exactly expect[0..count) (NULL: all zeros). */
static void assert_values(const clmlp_net *net, int moment, const double *expect, size_t count)
{
    size_t n;
    double *got = flat_values(net, moment, &n), *zeros = test_alloc(n);
    assert_int_equal(n, count);
    assert_memory_equal(got, expect ? expect : zeros, n * sizeof *got);
    free(got);
    free(zeros);
}

/* Both nets hold the same optimizer state, bit for bit. */
static void assert_same_state(const clmlp_net *a, const clmlp_net *b)
{
    assert_int_equal(a->state_of, b->state_of);
    assert_int_equal(a->adam_steps, b->adam_steps);
    for (int moment = 1; moment <= 2; moment++) {
        size_t n;
        double *va = flat_values(a, moment, &n);
        assert_values(b, moment, va, n);
        free(va);
    }
}

/* Sets the optimizer state of a net from flat arrays (moment2 NULL: SGD). */
static void set_state(clmlp_net *net, const double *moment1, const double *moment2, uint64_t adam_steps)
{
    for (int moment = 1; moment <= (moment2 ? 2 : 1); moment++) {
        const double *p = moment == 1 ? moment1 : moment2;
        for (size_t l = 1; l <= clmlp_num_layers(net); l++) {
            size_t rows = clmlp_layer_size(net, l), cols = clmlp_layer_size(net, l - 1);
            TEST_OK(clmlp_net_write_moment(net, moment, l, p, p + rows * cols));
            p += rows * cols + rows;
        }
    }
    net->state_of = moment2 ? CLMLP_OPT_ADAM : CLMLP_OPT_SGD;
    net->adam_steps = adam_steps;
}

/* The net's standardization is exactly mean, std (NULL: it has none). */
static void assert_standardization(const clmlp_net *net, const double *mean, const double *std)
{
    size_t n0 = clmlp_layer_size(net, 0);
    double *m = test_alloc(n0), *s = test_alloc(n0);
    int present = -1;
    TEST_OK(clmlp_get_standardization(net, m, s, &present));
    assert_int_equal(present, mean != NULL);
    if (mean) {
        assert_memory_equal(m, mean, n0 * sizeof *m);
        assert_memory_equal(s, std, n0 * sizeof *s);
    }
    free(m);
    free(s);
}

/* Forward outputs of both nets on the same random batch; *rel receives their relative
 * difference and the return says whether they are bit-identical. */
static int same_outputs(clmlp_net *a, clmlp_net *b, uint64_t seed, double *rel)
{
    const size_t batch = 5, n_in = clmlp_layer_size(a, 0), n_out = clmlp_layer_size(a, clmlp_num_layers(a));
    test_rng rng = {seed};
    double *x = test_alloc(batch * n_in), *ya = test_alloc(batch * n_out), *yb = test_alloc(batch * n_out);
    test_fill(&rng, x, batch * n_in, -2, 2);
    TEST_OK(clmlp_forward(a, x, batch, ya));
    TEST_OK(clmlp_forward(b, x, batch, yb));
    int same = memcmp(ya, yb, batch * n_out * sizeof *ya) == 0;
    *rel = test_rel_err(yb, ya, batch * n_out);
    free(x);
    free(ya);
    free(yb);
    return same;
}

static clmlp_config config_for(clmlp_backend backend)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = backend;
    return cfg;
}

/* ---- round trips ------------------------------------------------------------------------ */

static void round_trip(void **state)
{
    const clmlp_backend backend = backend_of(state);
    const char *dir = fresh_dir(backend == CLMLP_BACKEND_HOST ? "round_trip_host" : "round_trip_opencl");
    const char *path = path_in(dir, "net.clmlp");
    const size_t sizes[] = {9, 7, 5, 4};
    for (int dt = CLMLP_F64; dt <= CLMLP_F32; dt++)
        for (int loss = CLMLP_LOSS_MSE; loss <= CLMLP_LOSS_SOFTMAX_CE; loss++) {
            clmlp_net *net =
                test_net(sizes, 4, backend, (clmlp_dtype)dt, (clmlp_loss)loss, 40 + (uint64_t)(dt * 2 + loss));
            clmlp_preprocess pp;
            clmlp_preprocess_init(&pp);
            pp.scale_255 = dt == CLMLP_F64 ? 0 : 1;
            pp.normalize = CLMLP_NORMALIZE_GIVEN;
            pp.mean = 0.1 + 1e-17 * (double)loss; /* odd bit patterns survive */
            pp.std = 1.0 / 3.0;
            pp.crop = 3; /* 3 × 3 = n_0 */
            pp.target = loss == CLMLP_LOSS_MSE ? CLMLP_TARGET_ONEHOT_PM1 : CLMLP_TARGET_ONEHOT_01;
            TEST_OK(clmlp_save(net, &pp, path));

            /* cfg's dtype and loss are ignored: the file's are used */
            clmlp_config cfg = config_for(backend);
            cfg.dtype = dt == CLMLP_F64 ? CLMLP_F32 : CLMLP_F64;
            cfg.loss = loss == CLMLP_LOSS_MSE ? CLMLP_LOSS_SOFTMAX_CE : CLMLP_LOSS_MSE;
            cfg.seed = 999;
            clmlp_net *back = NULL;
            clmlp_preprocess got;
            memset(&got, 0x5a, sizeof got);
            TEST_OK(clmlp_load(path, &cfg, &back, &got));
            assert_int_equal(clmlp_dtype_of(back), dt);
            assert_int_equal(clmlp_loss_type(back), loss);
            assert_string_equal(clmlp_backend_name(back), clmlp_backend_name(net));
            assert_int_equal(got.scale_255, pp.scale_255);
            assert_int_equal(got.normalize, pp.normalize);
            assert_memory_equal(&got.mean, &pp.mean, sizeof pp.mean);
            assert_memory_equal(&got.std, &pp.std, sizeof pp.std);
            assert_int_equal(got.crop, pp.crop);
            assert_int_equal(got.target, pp.target);
            assert_same_weights(net, back);
            double rel;
            assert_true(same_outputs(net, back, 7, &rel)); /* same backend: bit-identical */
            clmlp_destroy(back);

            /* pp NULL on both sides: the defaults are stored */
            TEST_OK(clmlp_save(net, NULL, path));
            TEST_OK(clmlp_load(path, &cfg, &back, &got));
            clmlp_preprocess defaults;
            clmlp_preprocess_init(&defaults);
            assert_int_equal(got.scale_255, defaults.scale_255);
            assert_int_equal(got.normalize, defaults.normalize);
            assert_true(got.mean == defaults.mean && got.std == defaults.std);
            assert_int_equal(got.crop, defaults.crop);
            assert_int_equal(got.target, defaults.target);
            clmlp_destroy(back);
            back = NULL;
            TEST_OK(clmlp_load(path, &cfg, &back, NULL));
            assert_same_weights(net, back);
            clmlp_destroy(back);
            clmlp_destroy(net);
        }
    size_t tmp_files;
    assert_int_equal(list_dir(dir, &tmp_files), 1);
    assert_int_equal(tmp_files, 0);
}

/* A model saved from the host path runs on the OpenCL device. */
static void host_file_on_opencl(void **state)
{
    (void)state;
    const char *dir = fresh_dir("host_to_opencl");
    const char *path = path_in(dir, "net.clmlp");
    const size_t sizes[] = {6, 8, 3};
    for (int dt = CLMLP_F64; dt <= CLMLP_F32; dt++) {
        clmlp_net *host = test_net(sizes, 3, CLMLP_BACKEND_HOST, (clmlp_dtype)dt, CLMLP_LOSS_SOFTMAX_CE, 5);
        TEST_OK(clmlp_save(host, NULL, path));
        clmlp_config cfg = config_for(CLMLP_BACKEND_OPENCL);
        clmlp_net *dev = NULL;
        TEST_OK(clmlp_load(path, &cfg, &dev, NULL));
        assert_true(strncmp(clmlp_backend_name(dev), "opencl: ", 8) == 0);
        assert_int_equal(clmlp_dtype_of(dev), dt);
        assert_int_equal(clmlp_loss_type(dev), CLMLP_LOSS_SOFTMAX_CE);
        assert_same_weights(host, dev);
        double rel;
        same_outputs(host, dev, 11, &rel);
        assert_true(rel <= (dt == CLMLP_F64 ? 1e-13 : 1e-5));
        clmlp_destroy(dev);
        clmlp_destroy(host);
    }
}

/* What clmlp_save (epochs_done NULL) or clmlp_save_checkpoint writes for net is exactly
 * the hand-built file of `expect`, `length` bytes long. */
static void assert_saves_as(const clmlp_net *net, const clmlp_preprocess *pp, const size_t *epochs_done,
                            const spec *expect, size_t length, const char *path)
{
    if (epochs_done)
        TEST_OK(clmlp_save_checkpoint(net, pp, *epochs_done, path));
    else
        TEST_OK(clmlp_save(net, pp, path));
    size_t len_saved, len_built;
    uint8_t *a = read_bytes(path, &len_saved), *b = build(expect, &len_built);
    assert_int_equal(len_built, length);
    assert_int_equal(len_saved, len_built);
    assert_memory_equal(a, b, len_saved);
    free(a);
    free(b);
}

/* clmlp_save and clmlp_save_checkpoint write exactly the documented bytes of version 3,
 * section by section, and the hand-built files of every version load. */
static void matches_documented_layout(void **state)
{
    (void)state;
    const char *dir = fresh_dir("layout");
    const char *saved = path_in(dir, "saved.clmlp"), *built = path_in(dir, "built.clmlp");
    spec s = small_spec();
    const size_t sizes[] = {2, 3, 2};
    clmlp_net *net = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 0);
    TEST_OK(clmlp_set_layer(net, 1, s.weights, s.weights + 6));
    TEST_OK(clmlp_set_layer(net, 2, s.weights + 9, s.weights + 15));
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    pp.scale_255 = 7; /* any nonzero value is stored as 1 */
    pp.normalize = CLMLP_NORMALIZE_GIVEN;
    pp.mean = s.mean;
    pp.std = s.std;
    pp.target = CLMLP_TARGET_ONEHOT_PM1;

    /* a model: 16 + 8·3 + 44 + 4 + 8·17 + 4 bytes; a never-trained net's checkpoint
     * holds zero velocities for SGD */
    spec expect = v3_spec(0);
    assert_saves_as(net, &pp, NULL, &expect, 228, saved);
    expect = v3_spec(FLAG_STATE);
    memset(expect.moment1, 0, sizeof expect.moment1);
    size_t epochs = 7;
    assert_saves_as(net, &pp, &epochs, &expect, 228 + 20 + 136, saved);
    /* SGD's velocities */
    set_state(net, s.moment1, NULL, 0);
    expect = v3_spec(FLAG_STATE);
    assert_saves_as(net, &pp, &epochs, &expect, 228 + 20 + 136, saved);
    /* the standardization, and Adam's state with its second moments */
    TEST_OK(clmlp_set_standardization(net, s.std_mean, s.std_std));
    set_state(net, s.moment1, s.moment2, 42);
    expect = v3_spec(FLAG_STD);
    assert_saves_as(net, &pp, NULL, &expect, 228 + 32, saved);
    expect = v3_spec(FLAG_STD | FLAG_STATE | FLAG_MOMENT2);
    assert_saves_as(net, &pp, &epochs, &expect, 228 + 32 + 20 + 2 * 136, saved);
    expect = v3_spec(FLAG_STATE | FLAG_MOMENT2);
    TEST_OK(clmlp_set_standardization(net, NULL, NULL));
    assert_saves_as(net, &pp, &epochs, &expect, 228 + 20 + 2 * 136, saved);

    /* every hand-built file loads, version 1 included */
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    const uint32_t flag_sets[] = {0, FLAG_STD, FLAG_STATE, FLAG_STATE | FLAG_MOMENT2, 7};
    for (size_t i = 0; i < sizeof flag_sets / sizeof *flag_sets; i++) {
        expect = v3_spec(flag_sets[i]);
        write_spec(built, &expect);
        clmlp_net *back = NULL;
        clmlp_preprocess got;
        size_t done = 99;
        TEST_OK(clmlp_load_checkpoint(built, &cfg, &back, &got, &done));
        assert_values(back, 0, s.weights, 17);
        assert_int_equal(got.scale_255, 1);
        assert_true(got.mean == s.mean && got.std == s.std);
        assert_int_equal(done, flag_sets[i] & FLAG_STATE ? 7 : 0);
        assert_values(back, 1, flag_sets[i] & FLAG_STATE ? s.moment1 : NULL, 17);
        assert_values(back, 2, flag_sets[i] & FLAG_MOMENT2 ? s.moment2 : NULL, 17);
        assert_int_equal(back->state_of, flag_sets[i] & FLAG_MOMENT2 ? CLMLP_OPT_ADAM : CLMLP_OPT_SGD);
        assert_int_equal(back->adam_steps, flag_sets[i] & FLAG_MOMENT2 ? 42 : 0);
        assert_standardization(back, flag_sets[i] & FLAG_STD ? s.std_mean : NULL, s.std_std);
        clmlp_destroy(back);
    }
    write_spec(built, &s);
    clmlp_net *back = NULL;
    clmlp_preprocess got;
    TEST_OK(clmlp_load(built, &cfg, &back, &got));
    assert_same_weights(net, back);
    assert_int_equal(got.scale_255, 1);
    clmlp_destroy(back);

    /* an F32 file's weights and moments that are floats load exactly */
    s = v3_spec(FLAG_STATE | FLAG_MOMENT2);
    s.dtype = CLMLP_F32;
    for (size_t i = 0; i < s.n_weights; i++) {
        s.weights[i] = (double)(float)s.weights[i];
        s.moment1[i] = (double)(float)s.moment1[i];
        s.moment2[i] = (double)(float)s.moment2[i];
    }
    write_spec(built, &s);
    TEST_OK(clmlp_load_checkpoint(built, &cfg, &back, NULL, NULL));
    assert_int_equal(clmlp_dtype_of(back), CLMLP_F32);
    assert_values(back, 0, s.weights, 17);
    assert_values(back, 1, s.moment1, 17);
    assert_values(back, 2, s.moment2, 17);
    clmlp_destroy(back);
    clmlp_destroy(net);
}

/* Versions 1 and 2, built byte by byte as docs/model-file.md describes them, load as
 * they always did: version 1 without any training state, version 2 with SGD's
 * velocities; neither has a standardization. clmlp_load ignores the training state. */
static void old_versions_load(void **state)
{
    const clmlp_backend backend = backend_of(state);
    const char *dir = fresh_dir(backend == CLMLP_BACKEND_HOST ? "old_host" : "old_opencl");
    const char *path = path_in(dir, "old.clmlp");
    clmlp_config cfg = config_for(backend);
    for (uint32_t version = 1; version <= 2; version++) {
        spec s = small_spec();
        s.version = version;
        s.epochs_done = 5;
        write_spec(path, &s);
        size_t len;
        free(read_bytes(path, &len));
        assert_int_equal(len, version == 1 ? 224 : 368);
        for (int checkpoint = 0; checkpoint < 2; checkpoint++) {
            clmlp_net *net = NULL;
            clmlp_preprocess pp;
            size_t done = 99;
            if (checkpoint)
                TEST_OK(clmlp_load_checkpoint(path, &cfg, &net, &pp, &done));
            else
                TEST_OK(clmlp_load(path, &cfg, &net, &pp));
            assert_int_equal(clmlp_dtype_of(net), CLMLP_F64);
            assert_int_equal(clmlp_loss_type(net), CLMLP_LOSS_MSE);
            assert_int_equal(pp.normalize, CLMLP_NORMALIZE_GIVEN);
            assert_true(pp.mean == s.mean && pp.std == s.std);
            assert_int_equal(pp.target, CLMLP_TARGET_ONEHOT_PM1);
            assert_int_equal(pp.n_inputs, 2);
            assert_values(net, 0, s.weights, 17);
            int restored = checkpoint && version == 2;
            if (checkpoint)
                assert_int_equal(done, version == 2 ? 5 : 0);
            else
                assert_int_equal(done, 99);
            assert_values(net, 1, restored ? s.moment1 : NULL, 17);
            assert_values(net, 2, NULL, 17);
            assert_int_equal(net->state_of, CLMLP_OPT_SGD);
            assert_int_equal(net->adam_steps, 0);
            assert_standardization(net, NULL, NULL);
            clmlp_destroy(net);
        }
    }
}

/* The standardization comes back bit for bit with clmlp_load and clmlp_load_checkpoint,
 * from models and checkpoints; a net without one loads without one. */
static void standardization_round_trip(void **state)
{
    const clmlp_backend backend = backend_of(state);
    const char *dir = fresh_dir(backend == CLMLP_BACKEND_HOST ? "standardize_host" : "standardize_opencl");
    const char *path = path_in(dir, "net.clmlp");
    const size_t sizes[] = {9, 7, 4};
    clmlp_config cfg = config_for(backend);
    double mean[9], std[9], x[2 * 9], x_back[2 * 9];
    for (size_t j = 0; j < 9; j++) {
        mean[j] = 0.1 * (double)j - 0.3 + 1e-17 * (double)j; /* odd bit patterns survive */
        std[j] = 1.0 / (3.0 + (double)j);
    }
    for (int dt = CLMLP_F64; dt <= CLMLP_F32; dt++) {
        clmlp_net *net = test_net(sizes, 3, backend, (clmlp_dtype)dt, CLMLP_LOSS_SOFTMAX_CE, 3);
        TEST_OK(clmlp_set_standardization(net, mean, std));
        for (int ck = 0; ck < 2; ck++) {
            if (ck)
                TEST_OK(clmlp_save_checkpoint(net, NULL, 2, path));
            else
                TEST_OK(clmlp_save(net, NULL, path));
            for (int as_checkpoint = 0; as_checkpoint < 2; as_checkpoint++) {
                clmlp_net *back = NULL;
                if (as_checkpoint)
                    TEST_OK(clmlp_load_checkpoint(path, &cfg, &back, NULL, NULL));
                else
                    TEST_OK(clmlp_load(path, &cfg, &back, NULL));
                assert_same_weights(net, back);
                assert_standardization(back, mean, std);
                for (size_t i = 0; i < 18; i++)
                    x[i] = x_back[i] = (double)i / 7.0;
                TEST_OK(clmlp_standardize(net, x, 2));
                TEST_OK(clmlp_standardize(back, x_back, 2));
                assert_memory_equal(x, x_back, sizeof x);
                clmlp_destroy(back);
            }
        }
        /* removed, it is not saved */
        TEST_OK(clmlp_set_standardization(net, NULL, NULL));
        TEST_OK(clmlp_save(net, NULL, path));
        clmlp_net *back = NULL;
        TEST_OK(clmlp_load(path, &cfg, &back, NULL));
        assert_standardization(back, NULL, NULL);
        clmlp_destroy(back);
        clmlp_destroy(net);
    }
}

/* x: count × n_0 inputs, labels < n_L, the same for every run. */
static void small_data(size_t count, size_t n_in, size_t n_out, double *x, uint32_t *labels)
{
    test_rng rng = {1234};
    test_fill(&rng, x, count * n_in, -1, 1);
    for (size_t i = 0; i < count; i++)
        labels[i] = (uint32_t)(i * 7 % n_out);
}

/* A checkpoint carries the optimizer state exactly: SGD with momentum and Adam, trained
 * 1 epoch, saved, loaded (state_of, Adam's t and both moments come back bit for bit)
 * and trained 1 more epoch, give bit for bit the net of 2 epochs straight. */
static void optimizer_state_round_trip(void **state)
{
    enum { N = 22, N_IN = 6, N_OUT = 3 };
    const clmlp_backend backend = backend_of(state);
    const char *dir = fresh_dir(backend == CLMLP_BACKEND_HOST ? "optimizer_host" : "optimizer_opencl");
    const char *path = path_in(dir, "net.ck");
    const size_t sizes[] = {N_IN, 5, N_OUT};
    double x[N * N_IN];
    uint32_t labels[N];
    small_data(N, N_IN, N_OUT, x, labels);
    clmlp_config cfg = config_for(test_backend(backend));
    for (int dt = CLMLP_F64; dt <= CLMLP_F32; dt++)
        for (int adam = 0; adam < 2; adam++) {
            clmlp_train_options opt;
            clmlp_train_options_init(&opt);
            opt.batch = 4;
            opt.optimizer = adam ? CLMLP_OPT_ADAM : CLMLP_OPT_SGD;
            opt.lr = adam ? 0.01 : 0.1;
            opt.momentum = adam ? 0 : 0.9;
            opt.weight_decay = 1e-3;
            clmlp_net *nets[2];
            for (int run = 0; run < 2; run++) {
                clmlp_net *net = test_net(sizes, 3, backend, (clmlp_dtype)dt, CLMLP_LOSS_SOFTMAX_CE, 21);
                clmlp_dataset *data;
                TEST_OK(clmlp_dataset_from_labels(net, x, labels, N, CLMLP_TARGET_ONEHOT_01, &data));
                TEST_OK(clmlp_train_epoch(net, data, &opt, 0, NULL));
                size_t done = 1;
                if (run == 1) { /* through the file */
                    assert_int_equal(net->state_of, opt.optimizer);
                    assert_int_equal(net->adam_steps, adam ? (N + 3) / 4 : 0);
                    TEST_OK(clmlp_save_checkpoint(net, NULL, 1, path));
                    clmlp_net *back = NULL;
                    done = 0;
                    TEST_OK(clmlp_load_checkpoint(path, &cfg, &back, NULL, &done));
                    assert_int_equal(done, 1);
                    clmlp_optimizer kind = CLMLP_OPT_SGD;
                    uint64_t t = 99;
                    TEST_OK(clmlp_optimizer_state(back, &kind, &t)); /* what the public query says */
                    assert_int_equal(kind, opt.optimizer);
                    assert_int_equal(t, adam ? (N + 3) / 4 : 0);
                    assert_int_equal(clmlp_optimizer_state(back, &kind, NULL), CLMLP_EINVAL);
                    assert_same_weights(net, back);
                    assert_same_state(net, back);
                    clmlp_dataset_destroy(data);
                    clmlp_destroy(net);
                    net = back;
                    TEST_OK(clmlp_dataset_from_labels(net, x, labels, N, CLMLP_TARGET_ONEHOT_01, &data));

                    /* clmlp_load takes the weights and leaves the state */
                    TEST_OK(clmlp_load(path, &cfg, &back, NULL));
                    assert_same_weights(net, back);
                    assert_int_equal(back->state_of, CLMLP_OPT_SGD);
                    assert_int_equal(back->adam_steps, 0);
                    for (size_t l = 1; l <= 2; l++)
                        assert_true(!back->layers[l].vW && !back->layers[l].sW);
                    clmlp_destroy(back);
                }
                TEST_OK(clmlp_train_epoch(net, data, &opt, done, NULL));
                clmlp_dataset_destroy(data);
                nets[run] = net;
            }
            assert_same_weights(nets[0], nets[1]);
            assert_same_state(nets[0], nets[1]);
            clmlp_destroy(nets[0]);
            clmlp_destroy(nets[1]);
        }
}

/* Saving reads the net and changes nothing: not the weights, not the optimizer state
 * (no moment is allocated for a net that has none), not the standardization. */
static void saving_leaves_the_net(void **state)
{
    (void)state;
    const char *dir = fresh_dir("unchanged");
    const char *path = path_in(dir, "net.ck");
    const size_t sizes[] = {2, 3, 2};
    clmlp_net *net = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 4);
    TEST_OK(clmlp_save_checkpoint(net, NULL, 1, path));
    TEST_OK(clmlp_save(net, NULL, path));
    for (size_t l = 1; l <= 2; l++)
        assert_true(!net->layers[l].vW && !net->layers[l].vb && !net->layers[l].sW && !net->layers[l].sb);
    assert_int_equal(net->state_of, CLMLP_OPT_SGD);
    assert_int_equal(net->adam_steps, 0);
    assert_standardization(net, NULL, NULL);

    spec s = small_spec();
    TEST_OK(clmlp_set_standardization(net, s.std_mean, s.std_std));
    set_state(net, s.moment1, s.moment2, 9);
    size_t n;
    double *weights = flat_values(net, 0, &n);
    TEST_OK(clmlp_save_checkpoint(net, NULL, 1, path));
    TEST_OK(clmlp_save(net, NULL, path));
    assert_values(net, 0, weights, n);
    assert_values(net, 1, s.moment1, n);
    assert_values(net, 2, s.moment2, n);
    assert_int_equal(net->state_of, CLMLP_OPT_ADAM);
    assert_int_equal(net->adam_steps, 9);
    assert_standardization(net, s.std_mean, s.std_std);
    free(weights);

    /* a second moment that could not be loaded back (negative) is refused, and the
     * file on disk stays the last good one */
    s.moment2[16] = -1e-3;
    set_state(net, s.moment1, s.moment2, 9);
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_save_checkpoint(net, NULL, 1, path));
    assert_non_null(strstr(clmlp_last_error(), "second moment of b[2] element 1"));
    assert_non_null(strstr(clmlp_last_error(), path));
    TEST_OK(clmlp_save(net, NULL, path)); /* a model holds no moments */
    size_t tmp_files;
    assert_int_equal(list_dir(dir, &tmp_files), 1);
    assert_int_equal(tmp_files, 0);
    clmlp_destroy(net);
}

/* A checkpoint written by tests/fuzz/make_corpus.py, independently of clmlp, from
 * docs/model-file.md: version 3 with the standardization and Adam's state. */
static void independent_v3_file_loads(void **state)
{
    (void)state;
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    clmlp_net *net = NULL;
    clmlp_preprocess pp;
    size_t done = 0;
    TEST_OK(
        clmlp_load_checkpoint(CLMLP_TEST_SOURCE_DIR "/fuzz/corpus/model/v3_adam_std.clmlp", &cfg, &net, &pp, &done));
    assert_int_equal(clmlp_num_layers(net), 2);
    assert_int_equal(clmlp_layer_size(net, 1), 3);
    assert_int_equal(done, 3);
    assert_int_equal(net->state_of, CLMLP_OPT_ADAM);
    assert_int_equal(net->adam_steps, 15);
    const double mean[] = {0.5, -0.25}, std[] = {2.0, 0.125};
    assert_standardization(net, mean, std);
    double w[17], m1[17], m2[17];
    for (size_t i = 0; i < 17; i++) {
        w[i] = ((double)i - 8) / 16;
        m1[i] = ((double)i - 8) / 64;
        m2[i] = (double)(i + 1) / 1024;
    }
    assert_values(net, 0, w, 17);
    assert_values(net, 1, m1, 17);
    assert_values(net, 2, m2, 17);
    clmlp_destroy(net);
    TEST_OK(
        clmlp_load_checkpoint(CLMLP_TEST_SOURCE_DIR "/fuzz/corpus/model/v2_checkpoint.clmlp", &cfg, &net, &pp, &done));
    assert_int_equal(done, 2);
    assert_values(net, 1, m1, 17);
    clmlp_destroy(net);
}

/* ---- replacing, failing, leaving nothing behind ---------------------------------------- */

static void replace_and_no_leftovers(void **state)
{
    (void)state;
    const char *dir = fresh_dir("replace");
    const char *path = path_in(dir, "net.clmlp");
    const size_t sizes[] = {3, 4, 2};
    clmlp_net *first = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 1);
    clmlp_net *second = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F32, CLMLP_LOSS_SOFTMAX_CE, 2);
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    clmlp_net *back = NULL;

    TEST_OK(clmlp_save(first, NULL, path));
    TEST_OK(clmlp_save(second, NULL, path)); /* over an existing file */
    TEST_OK(clmlp_load(path, &cfg, &back, NULL));
    assert_int_equal(clmlp_dtype_of(back), CLMLP_F32);
    assert_same_weights(second, back);
    clmlp_destroy(back);
    size_t tmp_files;
    assert_int_equal(list_dir(dir, &tmp_files), 1);
    assert_int_equal(tmp_files, 0);

    /* the mode of the replaced file is kept */
    assert_int_equal(chmod(path, 0640), 0);
    TEST_OK(clmlp_save(first, NULL, path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    /* a failing save leaves the old file and no temporary: a directory in the way… */
    const char *sub = path_in(dir, "sub");
    assert_int_equal(mkdir(sub, 0700), 0);
    TEST_FAILS(CLMLP_EIO, clmlp_save(second, NULL, sub));
    assert_non_null(strstr(clmlp_last_error(), sub));
    assert_int_equal(list_dir(dir, &tmp_files), 2);
    assert_int_equal(tmp_files, 0);
    assert_int_equal(list_dir(sub, NULL), 0);

    /* …a net whose weights left float range (clmlp_get_layer refuses them)… */
    const size_t one[] = {1, 1};
    clmlp_net *diverged = test_net(one, 2, CLMLP_BACKEND_HOST, CLMLP_F32, CLMLP_LOSS_MSE, 0);
    double W = 0.5, b = 0, x = 2, y = 1, out, dW, db;
    TEST_OK(clmlp_set_layer(diverged, 1, &W, &b));
    TEST_OK(clmlp_forward(diverged, &x, 1, &out));
    TEST_OK(clmlp_backward(diverged, &y, NULL));
    TEST_OK(clmlp_get_grad(diverged, 1, &dW, &db));
    TEST_OK(clmlp_sgd_step(diverged, 3e38 / fabs(dW) * 4));
    TEST_FAILS(CLMLP_ENUMERIC, clmlp_save(diverged, NULL, path));
    assert_non_null(strstr(clmlp_last_error(), path));
    assert_int_equal(list_dir(dir, &tmp_files), 2);
    assert_int_equal(tmp_files, 0);
    TEST_OK(clmlp_load(path, &cfg, &back, NULL));
    assert_same_weights(first, back); /* the old file, intact */
    clmlp_destroy(back);
    clmlp_destroy(diverged);

    /* …invalid preprocessing (refused before anything is written) */
    clmlp_preprocess pp;
    clmlp_preprocess_init(&pp);
    pp.normalize = (clmlp_normalize)9;
    TEST_FAILS(CLMLP_EINVAL, clmlp_save(second, &pp, path));
    clmlp_preprocess_init(&pp);
    pp.normalize = CLMLP_NORMALIZE_GIVEN;
    pp.std = 0;
    TEST_FAILS(CLMLP_EINVAL, clmlp_save(second, &pp, path));
    clmlp_preprocess_init(&pp);
    pp.target = (clmlp_target)-1;
    TEST_FAILS(CLMLP_EINVAL, clmlp_save(second, &pp, path));
    clmlp_preprocess_init(&pp);
    pp.normalize = CLMLP_NORMALIZE_NONE;
    pp.mean = NAN;
    TEST_FAILS(CLMLP_EINVAL, clmlp_save(second, &pp, path));
    assert_int_equal(list_dir(dir, &tmp_files), 2);
    assert_int_equal(tmp_files, 0);
    TEST_OK(clmlp_load(path, &cfg, &back, NULL));
    assert_same_weights(first, back);
    clmlp_destroy(back);

    /* a path without a directory part lands in the working directory */
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    clmlp_status s = clmlp_save(first, NULL, "relative.clmlp");
    assert_int_equal(chdir(cwd), 0);
    TEST_OK(s);
    assert_int_equal(list_dir(dir, &tmp_files), 3);
    assert_int_equal(tmp_files, 0);

    clmlp_destroy(first);
    clmlp_destroy(second);
}

/* A save never replaces what is not a regular file: a FIFO, a device node (a copy of
 * /dev/null, made when mknod is allowed) stay what they are, and nothing is left beside. */
static void refuses_special_files(void **state)
{
    (void)state;
    const char *dir = fresh_dir("special");
    const size_t sizes[] = {3, 4, 2};
    clmlp_net *net = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 1);
    const char *fifo = path_in(dir, "fifo"), *node = path_in(dir, "null");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    struct stat null_st;
    int have_node = stat("/dev/null", &null_st) == 0 && mknod(node, S_IFCHR | 0666, null_st.st_rdev) == 0;
    if (!have_node)
        printf("# mknod refused (%s): the device node case is skipped\n", strerror(errno));
    const char *targets[] = {fifo, node};
    for (int t = 0; t < 1 + have_node; t++) {
        const char *path = targets[t];
        TEST_FAILS(CLMLP_EIO, clmlp_save(net, NULL, path));
        assert_non_null(strstr(clmlp_last_error(), path));
        assert_non_null(strstr(clmlp_last_error(), "not a regular file"));
        TEST_FAILS(CLMLP_EIO, clmlp_save_checkpoint(net, NULL, 3, path));
        assert_non_null(strstr(clmlp_last_error(), "not a regular file"));
        struct stat st;
        assert_int_equal(lstat(path, &st), 0);
        if (t == 0)
            assert_true(S_ISFIFO(st.st_mode));
        else {
            assert_true(S_ISCHR(st.st_mode));
            assert_true(st.st_rdev == null_st.st_rdev);
        }
    }
    size_t tmp_files;
    assert_int_equal(list_dir(dir, &tmp_files), (size_t)(1 + have_node));
    assert_int_equal(tmp_files, 0);
    clmlp_destroy(net);
}

static void save_into_missing_directory(void **state)
{
    (void)state;
    const char *dir = fresh_dir("missing");
    const char *missing = path_in(dir, "no/such/dir/net.clmlp");
    const size_t sizes[] = {2, 2};
    clmlp_net *net = test_net(sizes, 2, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 0);
    TEST_FAILS(CLMLP_EIO, clmlp_save(net, NULL, missing));
    assert_non_null(strstr(clmlp_last_error(), missing));
    assert_int_equal(list_dir(dir, NULL), 0);
    clmlp_destroy(net);
}

/* ---- corrupt, truncated and foreign files --------------------------------------------- */

/* Every truncation and every flipped byte of data (len bytes) is EFORMAT for both
 * loaders, and a trailing byte too; the undamaged bytes load. */
static void damage_everywhere(const uint8_t *data, size_t len, const char *bad)
{
    uint8_t *copy = malloc(len + 1);
    assert_non_null(copy);
    /* every truncation, the empty file included, is EFORMAT */
    for (size_t cut = 0; cut < len; cut++) {
        write_bytes(bad, data, cut);
        expect_load_fails(bad, CLMLP_EFORMAT, NULL);
    }
    write_bytes(bad, data, 0);
    expect_load_fails(bad, CLMLP_EFORMAT, "empty");

    /* every single byte flipped, in two ways */
    for (size_t i = 0; i < len; i++)
        for (int m = 0; m < 2; m++) {
            memcpy(copy, data, len);
            copy[i] ^= m == 0 ? 0xff : 0x01;
            write_bytes(bad, copy, len);
            expect_load_fails(bad, CLMLP_EFORMAT, NULL);
        }
    memcpy(copy, data, len);
    copy[len - 20] ^= 0x10; /* a weight or a moment */
    write_bytes(bad, copy, len);
    expect_load_fails(bad, CLMLP_EFORMAT, "checksum mismatch");

    /* one trailing byte */
    memcpy(copy, data, len);
    copy[len] = 0;
    write_bytes(bad, copy, len + 1);
    expect_load_fails(bad, CLMLP_EFORMAT, "trailing");

    /* the original still loads */
    write_bytes(bad, data, len);
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    clmlp_net *net = NULL;
    TEST_OK(clmlp_load_checkpoint(bad, &cfg, &net, NULL, NULL));
    clmlp_destroy(net);
    free(copy);
}

/* Files of every version and every section: a saved model, a saved checkpoint with
 * the standardization and Adam's state, and hand-built versions 1 and 2. */
static void truncated_and_flipped(void **state)
{
    (void)state;
    const char *dir = fresh_dir("corrupt");
    const char *good = path_in(dir, "good.clmlp"), *bad = path_in(dir, "bad.clmlp");
    const size_t sizes[] = {2, 3, 2};
    clmlp_net *net = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 3);
    spec s = small_spec();
    for (int file = 0; file < 4; file++) {
        if (file == 0)
            TEST_OK(clmlp_save(net, NULL, good));
        else if (file == 1) {
            TEST_OK(clmlp_set_standardization(net, s.std_mean, s.std_std));
            set_state(net, s.moment1, s.moment2, 3);
            TEST_OK(clmlp_save_checkpoint(net, NULL, 4, good));
        } else {
            s.version = (uint32_t)file - 1;
            write_spec(good, &s);
        }
        size_t len;
        uint8_t *data = read_bytes(good, &len);
        const size_t lengths[] = {228, 228 + 32 + 20 + 272, 224, 368};
        assert_int_equal(len, lengths[file]);
        damage_everywhere(data, len, bad);
        free(data);
    }
    clmlp_destroy(net);
}

static void foreign_files(void **state)
{
    (void)state;
    const char *dir = fresh_dir("foreign");
    const char *path = path_in(dir, "foreign");
    const uint8_t idx[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9}; /* an IDX label file */
    write_bytes(path, idx, sizeof idx);
    expect_load_fails(path, CLMLP_EFORMAT, "not a clmlp model file");
    const char text[] = "W1 = [[0.1, 0.2], [0.3, 0.4]]\nb1 = [0, 0]\n";
    write_bytes(path, (const uint8_t *)text, sizeof text - 1);
    expect_load_fails(path, CLMLP_EFORMAT, "not a clmlp model file");
    write_bytes(path, (const uint8_t *)"CLM", 3); /* a prefix of the magic: truncated */
    expect_load_fails(path, CLMLP_EFORMAT, "truncated");
    test_rng rng = {77};
    uint8_t noise[4096];
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (uint8_t)test_uniform(&rng, 0, 256);
    write_bytes(path, noise, sizeof noise);
    expect_load_fails(path, CLMLP_EFORMAT, NULL);
    /* a gzip-compressed model is not a model file either */
    const uint8_t gz[] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    write_bytes(path, gz, sizeof gz);
    expect_load_fails(path, CLMLP_EFORMAT, "not a clmlp model file");
}

/* Valid checksums around hostile or impossible contents. */
static void hostile_headers(void **state)
{
    (void)state;
    const char *dir = fresh_dir("hostile");
    const char *path = path_in(dir, "hostile.clmlp");
    spec s;

    s = small_spec();
    s.version = 4; /* 1 is a model, 2 a checkpoint, 3 either */
    write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "version 4");
    s.version = 0;
    write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "version 0");

    s = small_spec();
    s.magic[7] = 'X';
    write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "not a clmlp model file");

    /* the number of sizes */
    const uint32_t n_fields[] = {0, 1, 2, 4, 1000, 65537, UINT32_MAX};
    for (size_t i = 0; i < sizeof n_fields / sizeof *n_fields; i++) {
        s = small_spec();
        s.n_sizes_field = n_fields[i];
        write_spec(path, &s);
        expect_load_fails(path, CLMLP_EFORMAT, NULL);
    }

    /* sizes: zero, overflowing products, more weights than the file holds */
    const uint64_t bad_sizes[][3] = {
        {0, 3, 2},
        {2, 0, 2},
        {2, 3, 0},
        {(uint64_t)1 << 32, (uint64_t)1 << 32, 2},
        {UINT64_MAX, 2, 2},
        {2, UINT64_MAX, UINT64_MAX},
        {(uint64_t)1 << 31, 3, 2},
        {(uint64_t)1 << 20, (uint64_t)1 << 20, 1},
        {2, 3, 3},
        {2, 2, 2},
    };
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        s = small_spec();
        memcpy(s.sizes, bad_sizes[i], sizeof bad_sizes[i]);
        write_spec(path, &s);
        expect_load_fails(path, CLMLP_EFORMAT, NULL);
    }
    s = small_spec();
    s.sizes[1] = 0;
    write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "n_1 is 0");

    /* weights that are not finite, or not floats in an F32 file */
    const double bad_values[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++)
        for (size_t at = 0; at < 17; at += 8) {
            s = small_spec();
            s.weights[at] = bad_values[i];
            write_spec(path, &s);
            expect_load_fails(path, CLMLP_EFORMAT, at == 16 ? "b[2] element 1" : NULL);
        }
    s = small_spec();
    s.dtype = CLMLP_F32;
    s.weights[3] = 1e300;
    write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "W[1] element 3");

    /* enums and preprocessing */
    s = small_spec(), s.loss = 2, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "loss");
    s = small_spec(), s.dtype = 7, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "dtype");
    s = small_spec(), s.normalize = 3, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "normalization");
    s = small_spec(), s.target = 2, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "target");
    s = small_spec(), s.scale_255 = 2, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "scale_255");
    s = small_spec(), s.std = 0, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "std");
    s = small_spec(), s.std = -1, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "std");
    s = small_spec(), s.std = NAN, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "std");
    s = small_spec(), s.mean = INFINITY, s.normalize = CLMLP_NORMALIZE_NONE, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "mean");

    /* the same file without damage loads; std 0 is fine without normalization */
    s = small_spec();
    s.normalize = CLMLP_NORMALIZE_NONE;
    s.std = 0;
    write_spec(path, &s);
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    clmlp_net *net = NULL;
    TEST_OK(clmlp_load(path, &cfg, &net, NULL));
    clmlp_destroy(net);
}

/* Valid checksums around hostile version-3 sections: flags that are unknown or lie
 * about what follows, sizes whose new sections exceed the limit, an optimizer that
 * does not match the sections, values no net could hold. */
static void hostile_v3_sections(void **state)
{
    (void)state;
    const char *dir = fresh_dir("hostile_v3");
    const char *path = path_in(dir, "hostile.clmlp");
    spec s;

    /* flags */
    const uint32_t unknown[] = {8, 0x100, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof unknown / sizeof *unknown; i++) {
        s = v3_spec(FLAG_STATE);
        s.flags |= unknown[i];
        write_spec(path, &s);
        expect_load_fails(path, CLMLP_EFORMAT, "unknown flags");
    }
    s = v3_spec(FLAG_MOMENT2);
    s.optimizer = CLMLP_OPT_SGD;
    write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "second moments without a training state");

    /* flags that claim a section the file lacks, or lack one it holds: the length
     * shows it before anything else is read */
    const uint32_t written[] = {0, FLAG_STD, FLAG_STATE, FLAG_STATE | FLAG_MOMENT2, 7, 7, FLAG_STATE};
    const uint32_t claimed[] = {FLAG_STD, 0, FLAG_STATE | FLAG_MOMENT2, FLAG_STATE, FLAG_STATE | FLAG_MOMENT2, 0, 0};
    const char *const found[] = {"truncated", "trailing", "truncated", "trailing", "trailing", "trailing", "trailing"};
    for (size_t i = 0; i < sizeof written / sizeof *written; i++) {
        s = v3_spec(written[i]);
        size_t len;
        uint8_t *data = build(&s, &len);
        put_le(data + 16 + 24 + 44, claimed[i], 4);
        fix_crc(data, len);
        write_bytes(path, data, len);
        expect_load_fails(path, CLMLP_EFORMAT, found[i]);
        free(data);
    }

    /* too short for the flags after the settings */
    s = v3_spec(0);
    size_t len;
    uint8_t *data = build(&s, &len);
    write_bytes(path, data, 16 + 24 + 44 + 3);
    expect_load_fails(path, CLMLP_EFORMAT, "settings and flags");
    free(data);

    /* sizes whose sections pass the 4 GiB limit only with the new sections: n_0 = 2^28
     * gives 2 GiB of weights, and as many bytes again of each moment and 4 GiB of
     * standardization */
    const uint32_t huge_flags[] = {0, FLAG_STD, FLAG_STATE, FLAG_STATE | FLAG_MOMENT2};
    for (size_t i = 0; i < 4; i++) {
        s = v3_spec(huge_flags[i]);
        s.sizes[0] = (uint64_t)1 << 28, s.sizes[1] = 1, s.sizes[2] = 1;
        write_spec(path, &s);
        expect_load_fails(path, CLMLP_EFORMAT, i == 0 ? "truncated" : "more weights than a model file can hold");
    }

    /* the optimizer and Adam's step count */
    s = v3_spec(FLAG_STATE), s.optimizer = 2, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "unknown optimizer 2");
    s = v3_spec(FLAG_STATE | FLAG_MOMENT2), s.optimizer = 7, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "unknown optimizer 7");
    s = v3_spec(FLAG_STATE), s.optimizer = CLMLP_OPT_ADAM, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "optimizer is Adam");
    s = v3_spec(FLAG_STATE | FLAG_MOMENT2), s.optimizer = CLMLP_OPT_SGD, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "optimizer is SGD");
    s = v3_spec(FLAG_STATE), s.adam_steps = 5, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "step count");

    /* the standardization */
    const double bad_means[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        s = v3_spec(FLAG_STD), s.std_mean[1] = bad_means[i], write_spec(path, &s);
        expect_load_fails(path, CLMLP_EFORMAT, "standardization mean[1]");
    }
    const double bad_stds[] = {0, -0.0, -1, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 6; i++) {
        s = v3_spec(FLAG_STD | FLAG_STATE), s.std_std[0] = bad_stds[i], write_spec(path, &s);
        expect_load_fails(path, CLMLP_EFORMAT, "standardization std[0]");
    }

    /* moments that are not finite, not floats in an F32 file, or negative second moments */
    s = v3_spec(FLAG_STATE), s.moment1[16] = NAN, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "velocity of b[2] element 1");
    s = v3_spec(7), s.moment1[0] = INFINITY, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "first moment of W[1] element 0");
    s = v3_spec(7), s.moment2[9] = NAN, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "second moment of W[2] element 0");
    s = v3_spec(7), s.moment2[16] = -1e-300, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "second moment of b[2] element 1");
    s = v3_spec(7), s.dtype = CLMLP_F32, s.moment2[3] = 1e300, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "second moment of W[1] element 3");
    s = v3_spec(FLAG_STATE), s.dtype = CLMLP_F32, s.moment1[3] = -1e39, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "velocity of W[1] element 3");
    s = small_spec(), s.version = 2, s.moment1[8] = NAN, write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "velocity of b[1] element 2");

    /* the same files without damage load; a second moment of −0 and Adam at step 0 are fine */
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    clmlp_net *net = NULL;
    s = v3_spec(7), s.moment2[4] = -0.0, s.adam_steps = 0, write_spec(path, &s);
    TEST_OK(clmlp_load_checkpoint(path, &cfg, &net, NULL, NULL));
    assert_int_equal(net->adam_steps, 0);
    clmlp_destroy(net);
    s = v3_spec(7), s.adam_steps = UINT64_MAX, s.epochs_done = 0, write_spec(path, &s);
    size_t done = 9;
    TEST_OK(clmlp_load_checkpoint(path, &cfg, &net, NULL, &done));
    assert_int_equal(net->adam_steps, UINT64_MAX);
    assert_int_equal(done, 0);
    clmlp_destroy(net);
}

/* A file above the 4 GiB limit is refused from its size alone (a sparse file). */
static void oversized_file(void **state)
{
    (void)state;
    const char *dir = fresh_dir("oversized");
    const char *path = path_in(dir, "huge.clmlp");
    spec s = small_spec();
    write_spec(path, &s);
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    if (ftruncate(fd, ((off_t)1 << 32) + 1) != 0) {
        close(fd);
        skip(); /* the file system cannot make the file */
    }
    close(fd);
    expect_load_fails(path, CLMLP_EFORMAT, "too large");
    unlink(path);
}

/* ---- arguments ---------------------------------------------------------------------------- */

static void argument_errors(void **state)
{
    const clmlp_backend backend = backend_of(state);
    const char *dir = fresh_dir(backend == CLMLP_BACKEND_HOST ? "args_host" : "args_opencl");
    const char *path = path_in(dir, "net.clmlp");
    const size_t sizes[] = {2, 2};
    clmlp_net *net = test_net(sizes, 2, backend, CLMLP_F64, CLMLP_LOSS_MSE, 0);
    clmlp_config cfg = config_for(backend);
    clmlp_net *sentinel = (clmlp_net *)(uintptr_t)0x1234, *out = sentinel;
    clmlp_preprocess pp;

    TEST_FAILS(CLMLP_EINVAL, clmlp_save(NULL, NULL, path));
    TEST_FAILS(CLMLP_EINVAL, clmlp_save(net, NULL, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_save(net, NULL, ""));
    assert_int_equal(list_dir(dir, NULL), 0);
    TEST_OK(clmlp_save(net, NULL, path));
    TEST_FAILS(CLMLP_EINVAL, clmlp_load(NULL, &cfg, &out, &pp));
    TEST_FAILS(CLMLP_EINVAL, clmlp_load(path, &cfg, NULL, &pp));
    assert_ptr_equal(out, sentinel);

    /* missing files and directories are EIO */
    expect_load_fails(path_in(dir, "missing.clmlp"), CLMLP_EIO, "No such file");
    expect_load_fails(dir, CLMLP_EIO, "directory");
    expect_load_fails(path_in(dir, "net.clmlp/inside"), CLMLP_EIO, NULL);

    /* a bad configuration is refused by clmlp_create, passed through */
    clmlp_config bad = cfg;
    bad.backend = (clmlp_backend)3;
    TEST_FAILS(CLMLP_EINVAL, clmlp_load(path, &bad, &out, &pp));
    assert_ptr_equal(out, sentinel);
    bad = cfg;
    bad.dtype = (clmlp_dtype)9; /* ignored: the file's dtype is used */
    TEST_OK(clmlp_load(path, &bad, &out, NULL));
    assert_int_equal(clmlp_dtype_of(out), CLMLP_F64);
    clmlp_destroy(out);
    if (backend == CLMLP_BACKEND_OPENCL) { /* NULL config: the defaults, AUTO (OpenCL, kept out of the host run) */
        out = NULL;
        TEST_OK(clmlp_load(path, NULL, &out, NULL));
        assert_int_equal(clmlp_dtype_of(out), CLMLP_F64);
        clmlp_destroy(out);
    }
    clmlp_destroy(net);
}

/* ---- the suite ------------------------------------------------------------------------------ */

static int make_root(void **state)
{
    (void)state;
    strcpy(tmp_root, "/tmp/clmlp-model-file-XXXXXX");
    return mkdtemp(tmp_root) ? 0 : -1;
}

static int remove_root(void **state)
{
    (void)state;
    remove_tree(tmp_root);
    return 0;
}

/* CLMLP_TEST_SKIP=PATTERN skips the matching tests: "*opencl*" leaves the host path
 * alone (for valgrind, which POCL's own threads and JIT make slow and noisy). */
int main(void)
{
    static clmlp_backend host = CLMLP_BACKEND_HOST, opencl = CLMLP_BACKEND_OPENCL;
#define BOTH(fn)                                                                                                       \
    {#fn "_host", fn, NULL, NULL, &host}, { #fn "_opencl", fn, NULL, NULL, &opencl }
    const struct CMUnitTest tests[] = {
        BOTH(round_trip),
        cmocka_unit_test(host_file_on_opencl),
        cmocka_unit_test(matches_documented_layout),
        BOTH(old_versions_load),
        BOTH(standardization_round_trip),
        BOTH(optimizer_state_round_trip),
        cmocka_unit_test(saving_leaves_the_net),
        cmocka_unit_test(independent_v3_file_loads),
        cmocka_unit_test(replace_and_no_leftovers),
        cmocka_unit_test(refuses_special_files),
        cmocka_unit_test(save_into_missing_directory),
        cmocka_unit_test(truncated_and_flipped),
        cmocka_unit_test(foreign_files),
        cmocka_unit_test(hostile_headers),
        cmocka_unit_test(hostile_v3_sections),
        cmocka_unit_test(oversized_file),
        BOTH(argument_errors),
    };
    const char *skip_pattern = getenv("CLMLP_TEST_SKIP");
    if (skip_pattern && *skip_pattern)
        cmocka_set_skip_filter(skip_pattern);
    return cmocka_run_group_tests(tests, make_root, remove_root);
}
