/*
 * Model files (docs/model-file.md): save and load round trips on both backends and
 * dtypes, atomic replacement, and every way a file can be wrong — truncated, a byte
 * flipped, trailing bytes, foreign, or a hostile header with a valid checksum — is
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
} spec;

/* MyNet(2, 3, 2), F64, MSE, GIVEN normalization: 2·3 + 3 + 3·2 + 2 = 17 weights. */
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
    for (size_t i = 0; i < s.n_weights; i++)
        s.weights[i] = 0.0625 * (double)i - 0.5 + 1e-3 / 3.0;
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

/* The file's bytes with a correct CRC-32 at the end; *len receives the length. */
static uint8_t *build(const spec *s, size_t *len)
{
    size_t n = 16 + 8 * s->n_sizes + 44 + 8 * s->n_weights + 4;
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
    for (size_t i = 0; i < s->n_weights; i++)
        p = put_le(p, bits_of(s->weights[i]), 8);
    uLong crc = crc32(crc32(0L, Z_NULL, 0), data, (uInt)(n - 4));
    p = put_le(p, (uint32_t)crc, 4);
    assert_int_equal((size_t)(p - data), n);
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

/* Loads path expecting `status`; checks nothing was returned and the message names the
 * file (and holds `needle` when given). */
static void expect_load_fails(const char *path, clmlp_status status, const char *needle)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_HOST;
    clmlp_net *sentinel = (clmlp_net *)(uintptr_t)0x1234, *net = sentinel;
    clmlp_preprocess pp, untouched;
    memset(&pp, 0x5a, sizeof pp);
    memcpy(&untouched, &pp, sizeof pp);
    clmlp_status s = clmlp_load(path, &cfg, &net, &pp);
    if (s != status)
        fail_msg("load %s -> %s, expected %s (%s)", path, clmlp_strerror(s), clmlp_strerror(status),
                 clmlp_last_error());
    assert_ptr_equal(net, sentinel);
    assert_memory_equal(&pp, &untouched, sizeof pp);
    assert_non_null(strstr(clmlp_last_error(), path));
    if (needle && !strstr(clmlp_last_error(), needle))
        fail_msg("load %s: message \"%s\" lacks \"%s\"", path, clmlp_last_error(), needle);
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

/* clmlp_save writes exactly the documented bytes, and the hand-built file loads. */
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
    TEST_OK(clmlp_save(net, &pp, saved));
    size_t len_saved, len_built;
    uint8_t *a = read_bytes(saved, &len_saved), *b = build(&s, &len_built);
    assert_int_equal(len_saved, len_built);
    assert_int_equal(len_saved, 16 + 3 * 8 + 44 + 17 * 8 + 4);
    assert_memory_equal(a, b, len_saved);
    free(a);
    free(b);

    write_spec(built, &s);
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    clmlp_net *back = NULL;
    clmlp_preprocess got;
    TEST_OK(clmlp_load(built, &cfg, &back, &got));
    assert_same_weights(net, back);
    assert_int_equal(got.scale_255, 1);
    clmlp_destroy(back);

    /* an F32 file's weights that are floats load exactly */
    s.dtype = CLMLP_F32;
    for (size_t i = 0; i < s.n_weights; i++)
        s.weights[i] = (double)(float)s.weights[i];
    write_spec(built, &s);
    TEST_OK(clmlp_load(built, &cfg, &back, NULL));
    assert_int_equal(clmlp_dtype_of(back), CLMLP_F32);
    double W[6], bias[3];
    TEST_OK(clmlp_get_layer(back, 1, W, bias));
    assert_memory_equal(W, s.weights, sizeof W);
    clmlp_destroy(back);
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

static void truncated_and_flipped(void **state)
{
    (void)state;
    const char *dir = fresh_dir("corrupt");
    const char *good = path_in(dir, "good.clmlp"), *bad = path_in(dir, "bad.clmlp");
    const size_t sizes[] = {2, 3, 2};
    clmlp_net *net = test_net(sizes, 3, CLMLP_BACKEND_HOST, CLMLP_F64, CLMLP_LOSS_MSE, 3);
    TEST_OK(clmlp_save(net, NULL, good));
    clmlp_destroy(net);
    size_t len;
    uint8_t *data = read_bytes(good, &len);
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
    copy[len - 20] ^= 0x10; /* a weight */
    write_bytes(bad, copy, len);
    expect_load_fails(bad, CLMLP_EFORMAT, "checksum mismatch");

    /* one trailing byte */
    memcpy(copy, data, len);
    copy[len] = 0;
    write_bytes(bad, copy, len + 1);
    expect_load_fails(bad, CLMLP_EFORMAT, "trailing");

    /* the original still loads */
    clmlp_config cfg = config_for(CLMLP_BACKEND_HOST);
    TEST_OK(clmlp_load(good, &cfg, &net, NULL));
    clmlp_destroy(net);
    free(copy);
    free(data);
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
    s.version = 3; /* 1 is a model, 2 a checkpoint */
    write_spec(path, &s);
    expect_load_fails(path, CLMLP_EFORMAT, "version 3");
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
        cmocka_unit_test(replace_and_no_leftovers),
        cmocka_unit_test(refuses_special_files),
        cmocka_unit_test(save_into_missing_directory),
        cmocka_unit_test(truncated_and_flipped),
        cmocka_unit_test(foreign_files),
        cmocka_unit_test(hostile_headers),
        cmocka_unit_test(oversized_file),
        BOTH(argument_errors),
    };
    const char *skip_pattern = getenv("CLMLP_TEST_SKIP");
    if (skip_pattern && *skip_pattern)
        cmocka_set_skip_filter(skip_pattern);
    return cmocka_run_group_tests(tests, make_root, remove_root);
}
