/*
 * The on-disk cache of compiled programs: the second backend loads what the first one
 * built and computes the same; corrupt, truncated or foreign entries are ignored and
 * rebuilt; CLMLP_CACHE_DIR=off writes nothing; an unwritable cache only costs time.
 */
#include "support.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "backend.h"
#include "cache_entry.h"
#include "opencl/cl_common.h"

static char dir[] = "/tmp/clmlp-cache-test-XXXXXX";

/* Creates an OpenCL backend, runs one forward layer and checks it against the host. */
static int create_and_check(clmlp_dtype dtype)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = dtype;
    clmlp_be *dev, *host;
    TEST_OK(clmlp_opencl_backend_create(&cfg, NULL, 0, &dev));
    TEST_OK(clmlp_host_backend_create(dtype, &host));
    int from_cache = ((clmlp_cl_be *)dev)->program_from_cache;
    clmlp_be *bes[2] = {dev, host};
    double x[6] = {0.1, -0.2, 0.3, 0.4, 0.5, -0.6}, W[6] = {1, 2, 3, -1, -2, 0.5}, b[2] = {0.1, -0.1}, out[2][4];
    for (int k = 0; k < 2; k++) {
        clmlp_be *be = bes[k];
        clmlp_buf *bx, *bW, *bb, *bz, *ba;
        TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 6, &bx));
        TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 6, &bW));
        TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 2, &bb));
        TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 4, &bz));
        TEST_OK(clmlp_buf_alloc(be, CLMLP_BUF_REAL, 4, &ba));
        TEST_OK(clmlp_buf_upload(be, bx, 0, x, 6));
        TEST_OK(clmlp_buf_upload(be, bW, 0, W, 6));
        TEST_OK(clmlp_buf_upload(be, bb, 0, b, 2));
        TEST_OK(be->ops->forward_layer(be, 2, 3, 2, bx, bW, bb, 1, bz, ba));
        TEST_OK(clmlp_buf_download(be, ba, out[k], 4));
        clmlp_buf *all[] = {bx, bW, bb, bz, ba};
        for (int i = 0; i < 5; i++)
            clmlp_buf_release(be, all[i]);
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

/* ---- things that are not entries, named like one ------------------------ */

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "timed out: the program cache reader blocked on a non-regular entry\n";
    if (write(2, msg, sizeof msg - 1) < 0)
        _exit(2);
    _exit(1);
}

/* create_and_check(CLMLP_F32) failing the test instead of hanging the suite when the
 * cache reader blocks (a build, even from source, takes seconds). */
static int bounded_create(void)
{
    signal(SIGALRM, on_alarm);
    alarm(120);
    int from_cache = create_and_check(CLMLP_F32);
    alarm(0);
    return from_cache;
}

/* An empty cache, then the F32 entry built once so that its path is known. */
static void fresh_entry(char *entry, size_t size)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'/*", dir);
    assert_int_equal(system(cmd), 0);
    setenv("CLMLP_CACHE_DIR", dir, 1);
    assert_int_equal(create_and_check(CLMLP_F32), 0);
    assert_int_equal(count_entries(entry, size), 1);
}

/* Whatever is at path now (the rebuild may have renamed an entry over it). */
static void remove_any(const char *path)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        assert_int_equal(S_ISDIR(st.st_mode) ? rmdir(path) : unlink(path), 0);
}

/* A FIFO at the entry's path, or a symlink to one: opening it for reading would wait
 * for a writer forever; the reader must skip it and the program be rebuilt. */
static void fifo_entry_rebuilds(void **state)
{
    (void)state;
    char entry[4096], fifo[4200];
    fresh_entry(entry, sizeof entry);
    assert_int_equal(unlink(entry), 0);
    assert_int_equal(mkfifo(entry, 0600), 0);
    assert_int_equal(bounded_create(), 0);

    remove_any(entry);
    snprintf(fifo, sizeof fifo, "%s/elsewhere.fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_int_equal(symlink(fifo, entry), 0);
    assert_int_equal(bounded_create(), 0);
    remove_any(entry);
    assert_int_equal(unlink(fifo), 0);
}

/* A directory, a socket, a device node (through a symlink) and a file larger than any
 * entry, each named like the entry: ignored and rebuilt, never waited on or fatal. A
 * symlink to a valid entry is still an entry. */
static void non_regular_entries_rebuild(void **state)
{
    (void)state;
    char entry[4096], real[4200];
    fresh_entry(entry, sizeof entry);
    snprintf(real, sizeof real, "%s/real-entry", dir);
    assert_int_equal(rename(entry, real), 0);
    assert_int_equal(symlink(real, entry), 0);
    assert_int_equal(bounded_create(), 1); /* followed: a symlinked entry loads */
    remove_any(entry);
    assert_int_equal(unlink(real), 0);

    assert_int_equal(mkdir(entry, 0700), 0);
    assert_int_equal(bounded_create(), 0);
    remove_any(entry);

    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(entry) < sizeof addr.sun_path) {
        memcpy(addr.sun_path, entry, strlen(entry) + 1);
        int sock = socket(AF_UNIX, SOCK_STREAM, 0);
        assert_true(sock >= 0);
        assert_int_equal(bind(sock, (struct sockaddr *)&addr, sizeof addr), 0);
        assert_int_equal(bounded_create(), 0);
        close(sock);
        remove_any(entry);
    }

    assert_int_equal(symlink("/dev/zero", entry), 0);
    assert_int_equal(bounded_create(), 0);
    remove_any(entry);

    FILE *f = fopen(entry, "wb"); /* sparse: costs no disk space */
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)CLMLP_CACHE_HEADER + CLMLP_CACHE_MAX_BINARY + 5), 0);
    fclose(f);
    assert_int_equal(bounded_create(), 0);
    remove_any(entry);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    const struct CMUnitTest tests[] = {cmocka_unit_test(builds_then_loads), cmocka_unit_test(off_and_unwritable),
                                       cmocka_unit_test(fifo_entry_rebuilds),
                                       cmocka_unit_test(non_regular_entries_rebuild)};
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        failed++;
    return failed;
}
