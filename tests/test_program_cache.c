/*
 * The on-disk cache of compiled programs: the second backend loads what the first one
 * built and computes the same; corrupt, truncated or foreign entries are ignored and
 * rebuilt; CLMLP_CACHE_DIR=off writes nothing; an unwritable cache only costs time.
 */
#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "opencl/cl_common.h"

static char dir[] = "/tmp/clmlp-cache-test-XXXXXX";

/* Creates an OpenCL backend, runs one forward layer and checks it against the host. */
static int create_and_check(clmlp_dtype dtype)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = dtype;
    clmlp_be *dev, *host;
    TEST_OK(clmlp_opencl_backend_create(&cfg, &dev));
    TEST_OK(clmlp_host_backend_create(dtype, &host));
    int from_cache = ((clmlp_cl_be *)dev)->program_from_cache;
    clmlp_be *bes[2] = {dev, host};
    double x[6] = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6}, W[6] = {1, 2, 3, -1, -2, 0.5}, b[2] = {0.1, -0.1}, out[2][4];
    for (int k = 0; k < 2; k++) {
        clmlp_be *be = bes[k];
        clmlp_buf *bx, *bW, *bb, *bz, *ba;
        TEST_OK(be->ops->alloc(be, 6, &bx));
        TEST_OK(be->ops->alloc(be, 6, &bW));
        TEST_OK(be->ops->alloc(be, 2, &bb));
        TEST_OK(be->ops->alloc(be, 4, &bz));
        TEST_OK(be->ops->alloc(be, 4, &ba));
        TEST_OK(be->ops->upload(be, bx, 0, x, 6));
        TEST_OK(be->ops->upload(be, bW, 0, W, 6));
        TEST_OK(be->ops->upload(be, bb, 0, b, 2));
        TEST_OK(be->ops->forward_layer(be, 2, 3, 2, bx, bW, bb, 1, bz, ba));
        TEST_OK(be->ops->download(be, ba, out[k], 4));
        clmlp_buf *all[] = {bx, bW, bb, bz, ba};
        for (int i = 0; i < 5; i++)
            be->ops->release(be, all[i]);
    }
    assert_true(test_rel_err(out[0], out[1], 4) <= (dtype == CLMLP_F64 ? 1e-15 : 1e-6));
    dev->ops->destroy(dev);
    host->ops->destroy(host);
    return from_cache;
}

/* Names of the files in the cache folder: how many entries, and no temporary ones. */
static int count_entries(char *first, size_t size)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        assert_null(strstr(e->d_name, ".tmp."));
        if (n++ == 0 && first)
            snprintf(first, size, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

static void rewrite(const char *path, long offset, int truncate_to)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    if (truncate_to >= 0) {
        assert_int_equal(ftruncate(fileno(f), truncate_to), 0);
    } else {
        fseek(f, offset, SEEK_SET);
        int c = fgetc(f);
        fseek(f, offset, SEEK_SET);
        fputc(c ^ 0x5a, f);
    }
    fclose(f);
}

static void builds_then_loads(void **state)
{
    (void)state;
    char entry[4096];
    setenv("CLMLP_CACHE_DIR", dir, 1);
    assert_int_equal(create_and_check(CLMLP_F32), 0); /* built, then stored */
    assert_int_equal(count_entries(entry, sizeof entry), 1);
    assert_int_equal(create_and_check(CLMLP_F32), 1); /* loaded */
    assert_int_equal(create_and_check(CLMLP_F64), 0); /* other options: another entry */
    assert_int_equal(count_entries(NULL, 0), 2);
    assert_int_equal(create_and_check(CLMLP_F64), 1);

    rewrite(entry, 100, -1); /* a flipped byte: the CRC catches it; rebuilt and rewritten */
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    assert_int_equal(create_and_check(CLMLP_F32), 1);
    rewrite(entry, 0, 10); /* truncated */
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    assert_int_equal(create_and_check(CLMLP_F32), 1);
    rewrite(entry, 0, 0); /* empty */
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    FILE *f = fopen(entry, "wb"); /* foreign */
    assert_non_null(f);
    fputs("not a cache entry at all, just text of some length to read", f);
    fclose(f);
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    assert_int_equal(create_and_check(CLMLP_F32), 1);
    assert_int_equal(count_entries(NULL, 0), 2);
}

static void off_and_unwritable(void **state)
{
    (void)state;
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", dir);
    assert_int_equal(system(cmd), 0);
    setenv("CLMLP_CACHE_DIR", "off", 1);
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    setenv("CLMLP_CACHE_DIR", "/dev/null/cannot-be-a-directory", 1);
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    setenv("CLMLP_CACHE_DIR", dir, 1);
    assert_int_equal(count_entries(NULL, 0), 0);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(builds_then_loads), cmocka_unit_test(off_and_unwritable)};
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        failed++;
    return failed;
}
