/*
 * The IDX (MNIST format) reader: valid raw and gzip files of 1 to 4 dimensions checked
 * byte for byte, the real Fashion-MNIST test set, and every way a file can be wrong —
 * missing, a directory, empty, short or foreign headers, unsupported types and ranks,
 * truncation and trailing bytes (raw and gzip), cut or corrupted gzip streams, headers
 * claiming sizes that overflow or that the file does not hold. A failed load must return
 * the right status with a message and leave the output pointer untouched. Files are
 * written into a fresh temporary directory that is removed at the end.
 */
#include "support.h"
#include "tmp_dir.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the temporary directory and file writers --------------------------- */

static int make_tmp_dir(void **state)
{
    (void)state;
    return test_tmp_dir_create("clmlp_test_idx");
}

static int remove_tmp_dir(void **state)
{
    (void)state;
    return test_tmp_dir_remove();
}

static const char *write_raw(const char *name, const uint8_t *bytes, size_t n)
{
    const char *p = test_tmp_path(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
    return p;
}

static const char *write_gz(const char *name, const uint8_t *bytes, size_t n)
{
    const char *p = test_tmp_path(name);
    gzFile f = gzopen(p, "wb");
    assert_non_null(f);
    if (n)
        assert_int_equal(gzwrite(f, bytes, (unsigned)n), (int)n);
    assert_int_equal(gzclose(f), Z_OK);
    return p;
}

/* The whole file; *n receives its size. */
static uint8_t *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_true(size > 0);
    rewind(f);
    uint8_t *buf = malloc((size_t)size);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
    fclose(f);
    *n = (size_t)size;
    return buf;
}

/* ---- building IDX contents ---------------------------------------------- */

enum { MAX_FILE = 1 << 16 };
static uint8_t file_buf[MAX_FILE];

/* Header (type, ndims, big-endian dims) followed by n data bytes into file_buf; returns the length. */
static size_t build(uint8_t type, uint8_t ndims, const uint32_t *dims, const uint8_t *data, size_t n)
{
    size_t len = 0;
    file_buf[len++] = 0;
    file_buf[len++] = 0;
    file_buf[len++] = type;
    file_buf[len++] = ndims;
    for (size_t d = 0; d < ndims; d++) {
        file_buf[len++] = (uint8_t)(dims[d] >> 24);
        file_buf[len++] = (uint8_t)(dims[d] >> 16);
        file_buf[len++] = (uint8_t)(dims[d] >> 8);
        file_buf[len++] = (uint8_t)dims[d];
    }
    assert_true(len + n <= MAX_FILE);
    if (n)
        memcpy(file_buf + len, data, n);
    return len + n;
}

/* Element i of the test tensors: every value differs from its neighbours. */
static uint8_t value(size_t i) { return (uint8_t)(i * 37u + 11u); }

static void fill(uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = value(i);
}

/* ---- checks ------------------------------------------------------------- */

static char sentinel_obj;
#define SENTINEL ((clmlp_idx *)(void *)&sentinel_obj)

/* The load fails with `status`, leaves a message, and does not touch *out. */
static void expect_fail(clmlp_status status, const char *path)
{
    clmlp_idx *idx = SENTINEL;
    TEST_FAILS(status, clmlp_idx_load(path, &idx));
    assert_ptr_equal(idx, SENTINEL);
}

/* Loads path and checks shape and every element against value(i). */
static void expect_tensor(const char *path, size_t ndims, const size_t *dims)
{
    clmlp_idx *idx = SENTINEL;
    TEST_OK(clmlp_idx_load(path, &idx));
    assert_non_null(idx);
    assert_ptr_not_equal(idx, SENTINEL);
    assert_int_equal(clmlp_idx_ndims(idx), ndims);
    size_t count = 1;
    for (size_t d = 0; d < ndims; d++) {
        assert_int_equal(clmlp_idx_dim(idx, d), dims[d]);
        count *= dims[d];
    }
    assert_int_equal(clmlp_idx_dim(idx, ndims), 0);
    assert_int_equal(clmlp_idx_dim(idx, 1000), 0);
    assert_int_equal(clmlp_idx_count(idx), count);
    const uint8_t *data = clmlp_idx_data(idx);
    assert_non_null(data);
    for (size_t i = 0; i < count; i++)
        if (data[i] != value(i))
            fail_msg("%s: element %zu is %u, expected %u", path, i, data[i], value(i));
    clmlp_idx_free(idx);
}

/* ---- valid files -------------------------------------------------------- */

static void valid_3d_raw_and_gz(void **state)
{
    (void)state;
    uint8_t v[30];
    fill(v, 30);
    const uint32_t dims[] = {3, 2, 5};
    const size_t want[] = {3, 2, 5};
    size_t n = build(0x08, 3, dims, v, 30);
    assert_int_equal(n, 4 + 12 + 30);
    expect_tensor(write_raw("t3.idx", file_buf, n), 3, want);
    expect_tensor(write_gz("t3.idx.gz", file_buf, n), 3, want);
}

static void valid_1d_labels(void **state)
{
    (void)state;
    uint8_t v[7];
    fill(v, 7);
    const uint32_t dims[] = {7};
    const size_t want[] = {7};
    size_t n = build(0x08, 1, dims, v, 7);
    expect_tensor(write_raw("labels.idx", file_buf, n), 1, want);
    expect_tensor(write_gz("labels.idx.gz", file_buf, n), 1, want);
}

static void valid_4d(void **state)
{
    (void)state;
    uint8_t v[2 * 3 * 1 * 4];
    fill(v, sizeof v);
    const uint32_t dims[] = {2, 3, 1, 4};
    const size_t want[] = {2, 3, 1, 4};
    size_t n = build(0x08, 4, dims, v, sizeof v);
    expect_tensor(write_raw("t4.idx", file_buf, n), 4, want);
}

/* Larger than the reader's first buffer (1 MiB), so the buffer has to grow. */
static void valid_large_gz(void **state)
{
    (void)state;
    const size_t count = 3u << 20;
    uint8_t *v = malloc(count);
    assert_non_null(v);
    fill(v, count);
    const char *p = test_tmp_path("large.idx.gz");
    gzFile f = gzopen(p, "wb");
    assert_non_null(f);
    const uint32_t dims[] = {3, 1024, 1024};
    size_t n = build(0x08, 3, dims, NULL, 0);
    assert_int_equal(gzwrite(f, file_buf, (unsigned)n), (int)n);
    assert_int_equal(gzwrite(f, v, (unsigned)count), (int)count);
    assert_int_equal(gzclose(f), Z_OK);
    free(v);
    const size_t want[] = {3, 1024, 1024};
    expect_tensor(p, 3, want);
}

/* A dimension of size 0 holds no elements; anything after the header is then trailing. */
static void zero_elements(void **state)
{
    (void)state;
    const uint32_t dims[] = {0, 28, 28};
    size_t n = build(0x08, 3, dims, NULL, 0);
    clmlp_idx *idx = NULL;
    TEST_OK(clmlp_idx_load(write_raw("empty_tensor.idx", file_buf, n), &idx));
    assert_int_equal(clmlp_idx_ndims(idx), 3);
    assert_int_equal(clmlp_idx_dim(idx, 0), 0);
    assert_int_equal(clmlp_idx_dim(idx, 1), 28);
    assert_int_equal(clmlp_idx_count(idx), 0);
    clmlp_idx_free(idx);
    const uint8_t one = 1;
    n = build(0x08, 3, dims, &one, 1);
    expect_fail(CLMLP_EFORMAT, write_raw("empty_tensor_trailing.idx", file_buf, n));
}

/* ---- the real Fashion-MNIST test set ------------------------------------ */

static void fashion_mnist_t10k(void **state)
{
    (void)state;
    char path[512];
    clmlp_idx *images = NULL, *labels = NULL;
    snprintf(path, sizeof path, "%s/t10k-images-idx3-ubyte.gz", CLMLP_TEST_DATA_DIR);
    if (clmlp_idx_load(path, &images) != CLMLP_OK)
        fail_msg("cannot load %s: %s (install dataset-fashion-mnist)", path, clmlp_last_error());
    assert_int_equal(clmlp_idx_ndims(images), 3);
    assert_int_equal(clmlp_idx_dim(images, 0), 10000);
    assert_int_equal(clmlp_idx_dim(images, 1), 28);
    assert_int_equal(clmlp_idx_dim(images, 2), 28);
    assert_int_equal(clmlp_idx_count(images), 10000 * 28 * 28);
    /* The first image (an ankle boot): pixel sum as computed independently with Python's gzip. */
    const uint8_t *px = clmlp_idx_data(images);
    unsigned long sum = 0;
    for (size_t i = 0; i < 28 * 28; i++)
        sum += px[i];
    assert_int_equal(sum, 33456);
    clmlp_idx_free(images);

    snprintf(path, sizeof path, "%s/t10k-labels-idx1-ubyte.gz", CLMLP_TEST_DATA_DIR);
    TEST_OK(clmlp_idx_load(path, &labels));
    assert_int_equal(clmlp_idx_ndims(labels), 1);
    assert_int_equal(clmlp_idx_dim(labels, 0), 10000);
    assert_int_equal(clmlp_idx_count(labels), 10000);
    const uint8_t *lab = clmlp_idx_data(labels);
    size_t per_class[10] = {0};
    for (size_t i = 0; i < 10000; i++) {
        assert_true(lab[i] <= 9);
        per_class[lab[i]]++;
    }
    for (size_t c = 0; c < 10; c++)
        assert_int_equal(per_class[c], 1000); /* the test set is balanced */
    assert_int_equal(lab[0], 9);              /* Ankle boot */
    clmlp_idx_free(labels);
}

/* ---- errors ------------------------------------------------------------- */

static void null_arguments(void **state)
{
    (void)state;
    uint8_t v[30];
    fill(v, 30);
    const uint32_t dims[] = {3, 2, 5};
    const char *p = write_raw("null_args.idx", file_buf, build(0x08, 3, dims, v, 30));
    clmlp_idx *idx = SENTINEL;
    TEST_FAILS(CLMLP_EINVAL, clmlp_idx_load(NULL, &idx));
    assert_ptr_equal(idx, SENTINEL);
    TEST_FAILS(CLMLP_EINVAL, clmlp_idx_load(p, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_idx_load(NULL, NULL));
}

static void missing_file(void **state)
{
    (void)state;
    expect_fail(CLMLP_EIO, test_tmp_path("does-not-exist.idx"));
    expect_fail(CLMLP_EIO, "/nonexistent-dir-clmlp/t10k-images-idx3-ubyte.gz");
}

static void directory_path(void **state)
{
    (void)state;
    const char *p = test_tmp_path("subdir");
    assert_int_equal(mkdir(p, 0700), 0);
    expect_fail(CLMLP_EIO, p); /* a clear "cannot read", not a format complaint */
}

static void empty_and_short_headers(void **state)
{
    (void)state;
    const uint8_t hdr[] = {0x00, 0x00, 0x08, 0x01};
    expect_fail(CLMLP_EFORMAT, write_raw("empty.idx", hdr, 0));
    expect_fail(CLMLP_EFORMAT, write_gz("empty.idx.gz", hdr, 0));
    expect_fail(CLMLP_EFORMAT, write_raw("hdr1.idx", hdr, 1));
    expect_fail(CLMLP_EFORMAT, write_raw("hdr3.idx", hdr, 3));
    expect_fail(CLMLP_EFORMAT, write_gz("hdr3.idx.gz", hdr, 3));
    /* a complete magic but no dimensions at all */
    expect_fail(CLMLP_EFORMAT, write_raw("hdr4.idx", hdr, 4));
}

static void bad_magic(void **state)
{
    (void)state;
    uint8_t v[7];
    fill(v, 7);
    const uint32_t dims[] = {7};
    size_t n = build(0x08, 1, dims, v, 7);
    file_buf[0] = 0x01;
    expect_fail(CLMLP_EFORMAT, write_raw("magic0.idx", file_buf, n));
    file_buf[0] = 0x00;
    file_buf[1] = 0x08;
    expect_fail(CLMLP_EFORMAT, write_raw("magic1.idx", file_buf, n));
    expect_fail(CLMLP_EFORMAT, write_gz("magic1.idx.gz", file_buf, n));
    /* a text file */
    const char text[] = "hello, world\n";
    expect_fail(CLMLP_EFORMAT, write_raw("text.txt", (const uint8_t *)text, sizeof text - 1));
}

static void unsupported_type(void **state)
{
    (void)state;
    uint8_t v[16];
    fill(v, 16);
    const uint32_t dims[] = {4};
    /* 0x0D: float, four bytes per element, so 4 elements are 16 bytes */
    expect_fail(CLMLP_EFORMAT, write_raw("float.idx", file_buf, build(0x0D, 1, dims, v, 16)));
    expect_fail(CLMLP_EFORMAT, write_gz("float.idx.gz", file_buf, build(0x0D, 1, dims, v, 16)));
    /* 0x09: signed byte */
    expect_fail(CLMLP_EFORMAT, write_raw("sbyte.idx", file_buf, build(0x09, 1, dims, v, 4)));
}

static void bad_ndims(void **state)
{
    (void)state;
    uint8_t v[32];
    fill(v, 32);
    const uint32_t dims[] = {2, 2, 2, 2, 2};
    expect_fail(CLMLP_EFORMAT, write_raw("ndims0.idx", file_buf, build(0x08, 0, dims, v, 1)));
    expect_fail(CLMLP_EFORMAT, write_raw("ndims5.idx", file_buf, build(0x08, 5, dims, v, 32)));
    expect_fail(CLMLP_EFORMAT, write_gz("ndims5.idx.gz", file_buf, build(0x08, 5, dims, v, 32)));
    size_t n = build(0x08, 4, dims, v, 16);
    file_buf[3] = 0xFF;
    expect_fail(CLMLP_EFORMAT, write_raw("ndims255.idx", file_buf, n));
}

static void truncated_dims(void **state)
{
    (void)state;
    const uint32_t dims[] = {3, 2, 5};
    size_t n = build(0x08, 3, dims, NULL, 0);
    /* header of 16 bytes; cut inside the second and third size */
    expect_fail(CLMLP_EFORMAT, write_raw("dims10.idx", file_buf, 10));
    expect_fail(CLMLP_EFORMAT, write_raw("dims15.idx", file_buf, n - 1));
    expect_fail(CLMLP_EFORMAT, write_gz("dims15.idx.gz", file_buf, n - 1));
}

static void truncated_data(void **state)
{
    (void)state;
    uint8_t v[30];
    fill(v, 30);
    const uint32_t dims[] = {3, 2, 5};
    size_t n = build(0x08, 3, dims, v, 30);
    expect_fail(CLMLP_EFORMAT, write_raw("short.idx", file_buf, n - 1));
    expect_fail(CLMLP_EFORMAT, write_gz("short.idx.gz", file_buf, n - 1));
    /* the header alone */
    expect_fail(CLMLP_EFORMAT, write_raw("nodata.idx", file_buf, n - 30));
    expect_fail(CLMLP_EFORMAT, write_gz("nodata.idx.gz", file_buf, n - 30));
}

static void trailing_bytes(void **state)
{
    (void)state;
    uint8_t v[31];
    fill(v, 31);
    const uint32_t dims[] = {3, 2, 5};
    size_t n = build(0x08, 3, dims, v, 31);
    expect_fail(CLMLP_EFORMAT, write_raw("long.idx", file_buf, n));
    expect_fail(CLMLP_EFORMAT, write_gz("long.idx.gz", file_buf, n));
    /* and many trailing bytes */
    uint8_t w[300];
    fill(w, 300);
    n = build(0x08, 3, dims, w, 300);
    expect_fail(CLMLP_EFORMAT, write_raw("longer.idx", file_buf, n));
}

/* A valid gzip IDX file of 3 × 64 × 64 bytes with little redundancy, so its compressed
 * stream is long; returns its contents and size. */
static uint8_t *compressed_file(const char *name, size_t *size)
{
    enum { COUNT = 3 * 64 * 64 };
    static uint8_t v[COUNT];
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < COUNT; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = (uint8_t)(x >> 56) & 0x3F; /* 6 bits: compressible, but not much */
    }
    const uint32_t dims[] = {3, 64, 64};
    size_t n = build(0x08, 3, dims, v, COUNT);
    /* sanity: the intact file loads */
    const char *p = write_gz(name, file_buf, n);
    clmlp_idx *idx = NULL;
    TEST_OK(clmlp_idx_load(p, &idx));
    assert_int_equal(clmlp_idx_count(idx), COUNT);
    assert_memory_equal(clmlp_idx_data(idx), v, COUNT);
    clmlp_idx_free(idx);
    uint8_t *bytes = read_file(p, size);
    assert_true(*size > 1000);
    return bytes;
}

static void gzip_cut(void **state)
{
    (void)state;
    size_t size;
    uint8_t *gz = compressed_file("cut_src.idx.gz", &size);
    /* in the middle of the compressed stream */
    expect_fail(CLMLP_EFORMAT, write_raw("cut_half.idx.gz", gz, size / 2));
    /* inside the gzip header (10 bytes) */
    expect_fail(CLMLP_EFORMAT, write_raw("cut_head.idx.gz", gz, 6));
    /* just before the end of the deflate data */
    expect_fail(CLMLP_EFORMAT, write_raw("cut_deflate.idx.gz", gz, size - 9));
    /* all data present but the trailer (CRC-32 and length, 8 bytes) missing or cut */
    expect_fail(CLMLP_EFORMAT, write_raw("cut_trailer8.idx.gz", gz, size - 8));
    expect_fail(CLMLP_EFORMAT, write_raw("cut_trailer4.idx.gz", gz, size - 4));
    expect_fail(CLMLP_EFORMAT, write_raw("cut_trailer1.idx.gz", gz, size - 1));
    free(gz);
}

static void gzip_corrupted(void **state)
{
    (void)state;
    size_t size;
    uint8_t *gz = compressed_file("bad_src.idx.gz", &size);
    uint8_t *bad = malloc(size);
    assert_non_null(bad);
    /* bytes flipped in the middle of the compressed data */
    memcpy(bad, gz, size);
    for (size_t i = size / 2; i < size / 2 + 8; i++)
        bad[i] ^= 0xFF;
    expect_fail(CLMLP_EFORMAT, write_raw("flip_mid.idx.gz", bad, size));
    /* a single bit near the start of the data */
    memcpy(bad, gz, size);
    bad[size / 4] ^= 0x10;
    expect_fail(CLMLP_EFORMAT, write_raw("flip_bit.idx.gz", bad, size));
    /* the CRC-32 in the trailer */
    memcpy(bad, gz, size);
    bad[size - 8] ^= 0x01;
    expect_fail(CLMLP_EFORMAT, write_raw("flip_crc.idx.gz", bad, size));
    /* the length in the trailer */
    memcpy(bad, gz, size);
    bad[size - 4] ^= 0x01;
    expect_fail(CLMLP_EFORMAT, write_raw("flip_len.idx.gz", bad, size));
    free(bad);
    free(gz);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Current virtual memory size of the process in bytes (0 if unknown). */
static rlim_t vm_size(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%lu", &pages) != 1)
        pages = 0;
    fclose(f);
    return (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE);
}

/* Loads a file claiming far more than it holds with the address space capped at
 * `headroom` MiB above what the process uses now: a reader that trusted the header and
 * allocated gigabytes would fail with ENOMEM (or be slow) instead of EFORMAT. */
static void expect_fail_capped(const char *path, unsigned headroom)
{
    struct rlimit old, capped;
    int limited = 0;
    rlim_t vm = vm_size();
    if (vm && getrlimit(RLIMIT_AS, &old) == 0) {
        capped = old;
        capped.rlim_cur = vm + ((rlim_t)headroom << 20);
        if (old.rlim_cur == RLIM_INFINITY || capped.rlim_cur < old.rlim_cur)
            limited = setrlimit(RLIMIT_AS, &capped) == 0;
    }
    clmlp_idx *idx = SENTINEL;
    double t0 = now();
    clmlp_status s = clmlp_idx_load(path, &idx);
    double dt = now() - t0;
    if (limited)
        assert_int_equal(setrlimit(RLIMIT_AS, &old), 0);
    if (s != CLMLP_EFORMAT)
        fail_msg("%s -> %s, expected %s (%s)", path, clmlp_strerror(s), clmlp_strerror(CLMLP_EFORMAT),
                 clmlp_last_error());
    assert_true(clmlp_last_error()[0] != '\0');
    assert_ptr_equal(idx, SENTINEL);
    if (dt > 5.0)
        fail_msg("%s: took %.1f s to refuse", path, dt);
}

static void expect_fail_small(const char *path) { expect_fail_capped(path, 512); }

static void huge_dims(void **state)
{
    (void)state;
    uint8_t v[10];
    fill(v, 10);
    /* the product overflows 64 bits */
    const uint32_t max3[] = {0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu};
    expect_fail_small(write_raw("overflow3.idx", file_buf, build(0x08, 3, max3, v, 10)));
    expect_fail_small(write_gz("overflow3.idx.gz", file_buf, build(0x08, 3, max3, v, 10)));
    const uint32_t pow16[] = {0x10000u, 0x10000u, 0x10000u, 0x10000u}; /* exactly 2^64 */
    expect_fail_small(write_raw("overflow4.idx", file_buf, build(0x08, 4, pow16, v, 10)));
    /* does not overflow 64 bits, but claims about 2^64 bytes */
    const uint32_t max2[] = {0xFFFFFFFFu, 0xFFFFFFFFu};
    expect_fail_small(write_raw("huge2.idx", file_buf, build(0x08, 2, max2, v, 10)));
    /* 4 GiB claimed */
    const uint32_t max1[] = {0xFFFFFFFFu};
    expect_fail_small(write_gz("huge1.idx.gz", file_buf, build(0x08, 1, max1, v, 10)));
    /* the MNIST training images' header with only 10 data bytes */
    const uint32_t train[] = {60000, 28, 28};
    expect_fail_small(write_raw("train10.idx", file_buf, build(0x08, 3, train, v, 10)));
    expect_fail_small(write_gz("train10.idx.gz", file_buf, build(0x08, 3, train, v, 10)));
}

/* ---- claims checked against the input before anything is allocated ----- */

/* The message names both numbers (the claim and what the file holds). */
static void expect_message_names(uintmax_t a, uintmax_t b)
{
    char sa[32], sb[32];
    snprintf(sa, sizeof sa, "%ju", a);
    snprintf(sb, sizeof sb, "%ju", b);
    const char *msg = clmlp_last_error();
    if (!strstr(msg, sa) || !strstr(msg, sb))
        fail_msg("the message does not name %s and %s: %s", sa, sb, msg);
}

/* A raw file of `size` bytes: the header for dims, then a hole, so it costs no disk
 * space however large it is. */
static const char *write_sparse(const char *name, const uint32_t *dims, uint8_t ndims, off_t size)
{
    const char *p = write_raw(name, file_buf, build(0x08, ndims, dims, NULL, 0));
    assert_int_equal(truncate(p, size), 0);
    return p;
}

/* The hostile-input case: 0xFFFFFFFF × 28 × 28 images claimed in a 2 GiB sparse file.
 * Reading first and counting afterwards pulls gigabytes of zeros into memory; the
 * file's size refutes the header before anything is allocated. */
static void raw_sparse_huge_claim(void **state)
{
    (void)state;
    const uint32_t dims[] = {0xFFFFFFFFu, 28, 28};
    const off_t size = (off_t)2 << 30;
    expect_fail_capped(write_sparse("sparse_huge.idx", dims, 3, size), 32);
    expect_message_names(16 + (uintmax_t)0xFFFFFFFFu * 28 * 28, (uintmax_t)size);
}

/* The MNIST training images' header over a sparse file one byte short, one byte long,
 * and exact: the first two are refused from the sizes alone (nothing allocated, both
 * numbers named), the last loads. */
static void raw_size_checked_first(void **state)
{
    (void)state;
    const uint32_t dims[] = {60000, 28, 28};
    const size_t count = (size_t)60000 * 28 * 28, claim = 16 + count;
    expect_fail_capped(write_sparse("train_short.idx", dims, 3, (off_t)claim - 1), 32);
    expect_message_names(claim, claim - 1);
    expect_fail_capped(write_sparse("train_long.idx", dims, 3, (off_t)claim + 1), 32);
    expect_message_names(claim, claim + 1);
    clmlp_idx *idx = NULL;
    TEST_OK(clmlp_idx_load(write_sparse("train_exact.idx", dims, 3, (off_t)claim), &idx));
    assert_int_equal(clmlp_idx_count(idx), count);
    assert_int_equal(clmlp_idx_dim(idx, 0), 60000);
    const uint8_t *data = clmlp_idx_data(idx);
    assert_int_equal(data[0], 0);
    assert_int_equal(data[count - 1], 0);
    clmlp_idx_free(idx);
}

/* A gzip file: the IDX header for dims in one member, then `members` members of 1 MiB
 * of zeros each (about 1 KiB apiece: close to deflate's best ratio). zlib reads the
 * members as one stream. Returns the path; *size receives the file's size. */
static const char *write_gz_zeros(const char *name, const uint32_t *dims, uint8_t ndims, size_t members, size_t *size)
{
    static uint8_t zeros[1 << 20];
    size_t head_size, zero_size;
    uint8_t *head = read_file(write_gz("head.gz", file_buf, build(0x08, ndims, dims, NULL, 0)), &head_size);
    uint8_t *zero = read_file(write_gz("zeros.gz", zeros, sizeof zeros), &zero_size);
    const char *p = test_tmp_path(name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(head, 1, head_size, f), head_size);
    for (size_t i = 0; i < members; i++)
        assert_int_equal(fwrite(zero, 1, zero_size, f), zero_size);
    assert_int_equal(fclose(f), 0);
    free(head);
    free(zero);
    *size = head_size + members * zero_size;
    return p;
}

/* A gzip bomb under an absurd header: 0xFFFFFFFF × 28 × 28 claimed over 1 GiB of zeros
 * that do arrive (from 1 MiB of file). Only refusing the claim up front keeps the
 * memory small. */
static void gzip_bomb_huge_claim(void **state)
{
    (void)state;
    const uint32_t dims[] = {0xFFFFFFFFu, 28, 28};
    size_t size;
    expect_fail_capped(write_gz_zeros("bomb.idx.gz", dims, 3, 1024, &size), 32);
}

/* 0xFFFFFFFF labels (under the limit on streamed claims) over 256 MiB of zeros in about
 * 256 KiB of gzip: deflate expands at most 1032:1, so the file cannot hold the claim. */
static void gzip_claim_beyond_deflate_ratio(void **state)
{
    (void)state;
    const uint32_t dims[] = {0xFFFFFFFFu};
    size_t size;
    expect_fail_capped(write_gz_zeros("ratio.idx.gz", dims, 1, 256, &size), 32);
    expect_message_names(8 + (uintmax_t)0xFFFFFFFFu, size);
}

/* A plausible claim (1 GiB, within the ratio of its 2 MiB of incompressible gzip) whose
 * data stops early: the buffer grows only with what arrives. */
static void gzip_short_data_grows_with_input(void **state)
{
    (void)state;
    enum { DATA = 2 << 20 };
    uint8_t *v = malloc(DATA);
    assert_non_null(v);
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (size_t i = 0; i < DATA; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = (uint8_t)(x >> 56);
    }
    const uint32_t dims[] = {1024, 1024, 1024};
    const char *p = test_tmp_path("short_gz_1g.idx.gz");
    gzFile f = gzopen(p, "wb");
    assert_non_null(f);
    size_t n = build(0x08, 3, dims, NULL, 0);
    assert_int_equal(gzwrite(f, file_buf, (unsigned)n), (int)n);
    assert_int_equal(gzwrite(f, v, DATA), DATA);
    assert_int_equal(gzclose(f), Z_OK);
    free(v);
    expect_fail_capped(p, 64);
}

/* An exact file at deflate's best ratio still loads: 64 MiB of zeros in one gzip
 * stream (about 1028:1) and in 64 members. */
static void gzip_high_ratio_loads(void **state)
{
    (void)state;
    static uint8_t zeros[1 << 20];
    const uint32_t dims[] = {64, 1024, 1024};
    const size_t count = (size_t)64 << 20;
    const char *p = test_tmp_path("zeros_one_stream.idx.gz");
    gzFile f = gzopen(p, "wb9");
    assert_non_null(f);
    size_t n = build(0x08, 3, dims, NULL, 0);
    assert_int_equal(gzwrite(f, file_buf, (unsigned)n), (int)n);
    for (int i = 0; i < 64; i++)
        assert_int_equal(gzwrite(f, zeros, sizeof zeros), (int)sizeof zeros);
    assert_int_equal(gzclose(f), Z_OK);
    char paths[2][512];
    snprintf(paths[0], sizeof paths[0], "%s", p);
    size_t size;
    snprintf(paths[1], sizeof paths[1], "%s", write_gz_zeros("zeros_members.idx.gz", dims, 3, 64, &size));
    for (int k = 0; k < 2; k++) {
        clmlp_idx *idx = NULL;
        TEST_OK(clmlp_idx_load(paths[k], &idx));
        assert_int_equal(clmlp_idx_count(idx), count);
        const uint8_t *data = clmlp_idx_data(idx);
        for (size_t i = 0; i < count; i += sizeof zeros)
            assert_memory_equal(data + i, zeros, sizeof zeros);
        clmlp_idx_free(idx);
    }
}

/* Writes n bytes of file_buf into the FIFO at path from a child process, which gives
 * up after 30 s without a reader; returns its pid. */
static pid_t feed_fifo(const char *path, size_t n)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(30);
        int fd = open(path, O_WRONLY);
        size_t done = 0;
        while (fd >= 0 && done < n) {
            ssize_t w = write(fd, file_buf + done, n - done);
            if (w <= 0)
                break;
            done += (size_t)w;
        }
        _exit(done == n ? 0 : 1);
    }
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL); /* harmless when it has exited */
    assert_int_equal(waitpid(pid, NULL, 0), pid);
}

/* A FIFO has no size up front: the data is read as it arrives, and a huge claim is
 * refused without waiting for (or allocating) it. */
static void fifo_input(void **state)
{
    (void)state;
    const char *p = test_tmp_path("in.fifo");
    char path[512];
    snprintf(path, sizeof path, "%s", p);
    assert_int_equal(mkfifo(path, 0600), 0);
    enum { N = 60000 };
    static uint8_t v[N];
    fill(v, N);
    const uint32_t dims[] = {N};
    const size_t want[] = {N};
    pid_t pid = feed_fifo(path, build(0x08, 1, dims, v, N)); /* more than a pipe holds */
    expect_tensor(path, 1, want);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    const uint32_t huge[] = {0xFFFFFFFFu, 28, 28};
    pid = feed_fifo(path, build(0x08, 3, huge, v, 10));
    expect_fail_capped(path, 32);
    reap(pid);
    pid = feed_fifo(path, build(0x08, 1, dims, v, N - 1));
    expect_fail(CLMLP_EFORMAT, path);
    reap(pid);
}

/* Device nodes are read like any stream and refused by content, without a hang. */
static void device_nodes(void **state)
{
    (void)state;
    expect_fail(CLMLP_EFORMAT, "/dev/null");
    expect_fail(CLMLP_EFORMAT, "/dev/zero");
}

/* ---- accessors ---------------------------------------------------------- */

static void null_accessors(void **state)
{
    (void)state;
    assert_int_equal(clmlp_idx_ndims(NULL), 0);
    assert_int_equal(clmlp_idx_dim(NULL, 0), 0);
    assert_int_equal(clmlp_idx_dim(NULL, 3), 0);
    assert_null(clmlp_idx_data(NULL));
    assert_int_equal(clmlp_idx_count(NULL), 0);
    clmlp_idx_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_3d_raw_and_gz),
        cmocka_unit_test(valid_1d_labels),
        cmocka_unit_test(valid_4d),
        cmocka_unit_test(valid_large_gz),
        cmocka_unit_test(zero_elements),
        cmocka_unit_test(fashion_mnist_t10k),
        cmocka_unit_test(null_arguments),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(directory_path),
        cmocka_unit_test(empty_and_short_headers),
        cmocka_unit_test(bad_magic),
        cmocka_unit_test(unsupported_type),
        cmocka_unit_test(bad_ndims),
        cmocka_unit_test(truncated_dims),
        cmocka_unit_test(truncated_data),
        cmocka_unit_test(trailing_bytes),
        cmocka_unit_test(gzip_cut),
        cmocka_unit_test(gzip_corrupted),
        cmocka_unit_test(huge_dims),
        cmocka_unit_test(raw_sparse_huge_claim),
        cmocka_unit_test(raw_size_checked_first),
        cmocka_unit_test(gzip_bomb_huge_claim),
        cmocka_unit_test(gzip_claim_beyond_deflate_ratio),
        cmocka_unit_test(gzip_short_data_grows_with_input),
        cmocka_unit_test(gzip_high_ratio_loads),
        cmocka_unit_test(fifo_input),
        cmocka_unit_test(device_nodes),
        cmocka_unit_test(null_accessors),
    };
    return cmocka_run_group_tests_name("idx", tests, make_tmp_dir, remove_tmp_dir);
}
