/*
 * Atomic file writes (src/atomic_file.c): a regular file is replaced keeping its mode, a
 * new one gets 0644 & ~umask, a symbolic link to a regular file is written through and
 * stays a link; what is not a regular file (FIFO, device node, directory, dangling link,
 * link to a FIFO) is refused and left as it was; a failure leaves the old file and no
 * temporary one. Last, the program cache does not replace a device node at an entry's
 * path. Files go into a scratch directory under /tmp.
 */
#define _XOPEN_SOURCE 700 /* mknod */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "backend.h"
#include "tmp_dir.h"

/* ---- helpers ---- */

/* A private copy of a path from test_tmp_path, which reuses one buffer. */
static const char *scratch(const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ % 8];
    snprintf(p, sizeof buf[0], "%s", test_tmp_path(name));
    return p;
}

static void put_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_true(fputs(text, f) >= 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void assert_holds(const char *path, const char *text)
{
    char got[256] = "";
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    got[n] = '\0';
    fclose(f);
    assert_string_equal(got, text);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 0777;
}

/* Names holding ".tmp." in dir: what a temporary file left behind is called. */
static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static int write_text(const char *path, const char *text, const char **what)
{
    return clmlp_atomic_write_bytes(path, text, strlen(text), what);
}

/* A copy of /dev/null (same major:minor) at path; 0 when mknod is refused. */
static int make_null_node(const char *path, dev_t *rdev)
{
    struct stat null_st;
    if (stat("/dev/null", &null_st) != 0 || mknod(path, S_IFCHR | 0666, null_st.st_rdev) != 0)
        return 0;
    *rdev = null_st.st_rdev;
    return 1;
}

/* ---- replacing and creating ---- */

static void replaces_keeping_mode(void **state)
{
    (void)state;
    const char *path = scratch("kept.txt"), *what = NULL;
    put_file(path, "old", 0600);
    assert_int_equal(write_text(path, "new", &what), CLMLP_ATOMIC_DONE);
    assert_holds(path, "new");
    assert_int_equal(mode_of(path), 0600);
    assert_int_equal(chmod(path, 0751), 0);
    assert_int_equal(write_text(path, "newer", &what), CLMLP_ATOMIC_DONE);
    assert_int_equal(mode_of(path), 0751);
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
    assert_int_equal(unlink(path), 0);
}

static void new_file_gets_0644_under_umask(void **state)
{
    (void)state;
    const mode_t masks[] = {022, 077, 0};
    mode_t saved = umask(022);
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        const char *path = scratch("new.txt"), *what = NULL;
        umask(masks[i]);
        int result = write_text(path, "fresh", &what);
        umask(saved);
        assert_int_equal(result, CLMLP_ATOMIC_DONE);
        assert_holds(path, "fresh");
        assert_int_equal(mode_of(path), 0644 & ~masks[i]);
        assert_int_equal(unlink(path), 0);
    }
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
}

/* Through a link to a regular file (here in a subdirectory): the file is replaced, its
 * mode kept, the link stays the same link, and no temporary is left on either side. */
static void writes_through_symlink(void **state)
{
    (void)state;
    const char *sub = scratch("sub"), *real = scratch("sub/real.txt"), *link = scratch("link.txt"), *what = NULL;
    assert_int_equal(mkdir(sub, 0700), 0);
    put_file(real, "old", 0640);
    assert_int_equal(symlink("sub/real.txt", link), 0);
    assert_int_equal(write_text(link, "through", &what), CLMLP_ATOMIC_DONE);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    char target[64] = "";
    assert_int_equal(readlink(link, target, sizeof target - 1), (ssize_t)strlen("sub/real.txt"));
    assert_string_equal(target, "sub/real.txt");
    assert_holds(real, "through");
    assert_int_equal(mode_of(real), 0640);
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
    assert_int_equal(temp_files_in(sub), 0);
    assert_int_equal(unlink(link), 0);
    assert_int_equal(unlink(real), 0);
    assert_int_equal(rmdir(sub), 0);
}

/* ---- refusing what is not a regular file ---- */

/* path is refused with a description holding `kind`, and nothing is left beside it. */
static void assert_refused(const char *path, const char *kind)
{
    const char *what = NULL;
    errno = 0;
    assert_int_equal(write_text(path, "must not land", &what), CLMLP_ATOMIC_REFUSED);
    assert_non_null(what);
    if (!strstr(what, kind))
        fail_msg("%s: refused as \"%s\", expected it to name %s", path, what, kind);
    assert_true(errno != 0);
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
}

static void refuses_fifo(void **state)
{
    (void)state;
    const char *fifo = scratch("fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    assert_refused(fifo, "a FIFO");
    struct stat st;
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));

    /* a link to it is refused as well, and both stay what they were */
    const char *link = scratch("fifo-link");
    assert_int_equal(symlink("fifo", link), 0);
    assert_refused(link, "a symbolic link to a FIFO");
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(fifo, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(unlink(link), 0);
    assert_int_equal(unlink(fifo), 0);
}

static void refuses_char_device(void **state)
{
    (void)state;
    const char *node = scratch("null");
    dev_t rdev;
    if (!make_null_node(node, &rdev)) {
        printf("# mknod refused (%s): no device node to test\n", strerror(errno));
        skip();
    }
    assert_refused(node, "a character device");
    struct stat st;
    assert_int_equal(lstat(node, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_true(st.st_rdev == rdev);
    assert_int_equal(unlink(node), 0);
}

static void refuses_directory(void **state)
{
    (void)state;
    const char *dir = scratch("a_dir");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_refused(dir, "a directory");
    assert_int_equal(errno, EISDIR);
    struct stat st;
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(rmdir(dir), 0); /* still empty */
}

static void refuses_dangling_symlink(void **state)
{
    (void)state;
    const char *link = scratch("dangling"), *missing = scratch("nothing-here");
    assert_int_equal(symlink("nothing-here", link), 0);
    assert_refused(link, "a dangling symbolic link");
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(lstat(missing, &st), -1); /* not created through the link */
    assert_int_equal(unlink(link), 0);
}

/* ---- failures leave everything as it was ---- */

static int emit_then_fail(FILE *f, void *user)
{
    (void)user;
    fputs("half of it", f);
    errno = ENOSPC;
    return -1;
}

static void failure_keeps_old_file(void **state)
{
    (void)state;
    const char *path = scratch("survivor.txt"), *fresh = scratch("never.txt"), *what = NULL;
    put_file(path, "old", 0644);
    errno = 0;
    assert_int_equal(clmlp_atomic_write(path, emit_then_fail, NULL, &what), CLMLP_ATOMIC_FAILED);
    assert_int_equal(errno, ENOSPC);
    assert_string_equal(what, "write it");
    assert_holds(path, "old");
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);

    /* a new file is not created by a failed write */
    assert_int_equal(clmlp_atomic_write(fresh, emit_then_fail, NULL, &what), CLMLP_ATOMIC_FAILED);
    struct stat st;
    assert_int_equal(lstat(fresh, &st), -1);
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);

    /* a directory that does not exist: no temporary file can be made */
    errno = 0;
    assert_int_equal(write_text(scratch("no/such/dir/file.txt"), "x", &what), CLMLP_ATOMIC_FAILED);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(what, "create a temporary file beside it");
    assert_int_equal(temp_files_in(test_tmp_dir()), 0);
    assert_int_equal(unlink(path), 0);
}

/* ---- the program cache ---- */

/* Lists the .bin entries in dir into name (the first one); how many there are. */
static int cache_entries(const char *dir, char *name, size_t size)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".bin") == 0 && n++ == 0)
            snprintf(name, size, "%s", e->d_name);
    }
    closedir(d);
    return n;
}

static void create_opencl_backend(void)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    clmlp_be *be = NULL;
    TEST_OK(clmlp_opencl_backend_create(&cfg, NULL, 0, &be));
    be->ops->destroy(be);
}

/* A device node where the cache would store an entry stays a device node: the first
 * backend writes the entry, which is then swapped for a copy of /dev/null; the second
 * backend finds nothing to load there, builds, and must not replace the node. */
static void cache_keeps_device_node(void **state)
{
    (void)state;
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        skip(); /* no OpenCL in the valgrind run */
    const char *dir = scratch("cache");
    assert_int_equal(mkdir(dir, 0700), 0);
    char *saved = getenv("CLMLP_CACHE_DIR") ? strdup(getenv("CLMLP_CACHE_DIR")) : NULL;
    setenv("CLMLP_CACHE_DIR", dir, 1);
    create_opencl_backend();
    char name[256] = "", entry[768];
    assert_int_equal(cache_entries(dir, name, sizeof name), 1);
    snprintf(entry, sizeof entry, "%s/%s", dir, name);
    assert_int_equal(unlink(entry), 0);
    dev_t rdev;
    int have_node = make_null_node(entry, &rdev);
    if (have_node) {
        create_opencl_backend();
        struct stat st;
        assert_int_equal(lstat(entry, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
        assert_true(st.st_rdev == rdev);
        assert_int_equal(temp_files_in(dir), 0);
        assert_int_equal(unlink(entry), 0);
    }
    if (saved)
        setenv("CLMLP_CACHE_DIR", saved, 1);
    else
        unsetenv("CLMLP_CACHE_DIR");
    free(saved);
    assert_int_equal(rmdir(dir), 0);
    if (!have_node) {
        printf("# mknod refused: no device node to test\n");
        skip();
    }
}

int main(void)
{
    if (test_tmp_dir_create("clmlp_atomic_file") != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(replaces_keeping_mode),    cmocka_unit_test(new_file_gets_0644_under_umask),
        cmocka_unit_test(writes_through_symlink),   cmocka_unit_test(refuses_fifo),
        cmocka_unit_test(refuses_char_device),      cmocka_unit_test(refuses_directory),
        cmocka_unit_test(refuses_dangling_symlink), cmocka_unit_test(failure_keeps_old_file),
        cmocka_unit_test(cache_keeps_device_node),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (test_tmp_dir_remove() != 0)
        fprintf(stderr, "cannot remove %s\n", test_tmp_dir());
    return failed;
}
