/* Atomic file writes (see atomic_file.h). */
#define _XOPEN_SOURCE 700 /* realpath */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"

/* What a file that is not a regular one is, for the refusal. */
static const char *kind_of(mode_t mode, int through_link)
{
    if (S_ISDIR(mode))
        return through_link ? "a symbolic link to a directory" : "a directory";
    if (S_ISCHR(mode))
        return through_link ? "a symbolic link to a character device" : "a character device";
    if (S_ISBLK(mode))
        return through_link ? "a symbolic link to a block device" : "a block device";
    if (S_ISFIFO(mode))
        return through_link ? "a symbolic link to a FIFO" : "a FIFO";
    if (S_ISSOCK(mode))
        return through_link ? "a symbolic link to a socket" : "a socket";
    return through_link ? "a symbolic link to a special file" : "a special file";
}

static int refuse(mode_t mode, int through_link, const char **what)
{
    *what = kind_of(mode, through_link);
    errno = S_ISDIR(mode) ? EISDIR : EEXIST;
    return CLMLP_ATOMIC_REFUSED;
}

/* The process's umask, read without changing it where Linux (4.7+) tells it in
 * /proc/self/status. Elsewhere umask(0) and back: a file another thread creates in
 * between would get umask 0, which is why /proc comes first. */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "Umask:", 6) == 0) {
                char *end;
                unsigned long mask = strtoul(line + 6, &end, 8);
                if (end != line + 6) {
                    fclose(f);
                    return (mode_t)(mask & 0777);
                }
            }
        fclose(f);
    }
    mode_t mask = umask(0);
    umask(mask);
    return mask;
}

/* The file to write (malloc'd in *target: path itself, or where its symbolic link leads)
 * and the mode the new file gets; CLMLP_ATOMIC_DONE, or the refusal or failure. */
static int find_target(const char *path, char **target, mode_t *mode, const char **what)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno != ENOENT) {
            *what = "examine it";
            return CLMLP_ATOMIC_FAILED;
        }
        *mode = 0644 & ~current_umask();
        *target = strdup(path);
    } else if (S_ISLNK(st.st_mode)) {
        if (stat(path, &st) != 0) {
            if (errno != ENOENT) {
                *what = "follow its symbolic link";
                return CLMLP_ATOMIC_FAILED;
            }
            /* where it leads may be anywhere, even a directory that does not exist yet */
            *what = "a dangling symbolic link";
            errno = EEXIST;
            return CLMLP_ATOMIC_REFUSED;
        }
        if (!S_ISREG(st.st_mode))
            return refuse(st.st_mode, 1, what);
        /* replace the file, not the link: the temporary file goes beside the file */
        *mode = st.st_mode & 0777;
        if (!(*target = realpath(path, NULL))) {
            *what = "resolve its symbolic link";
            return CLMLP_ATOMIC_FAILED;
        }
    } else if (!S_ISREG(st.st_mode))
        return refuse(st.st_mode, 0, what);
    else {
        *mode = st.st_mode & 0777;
        *target = strdup(path);
    }
    if (!*target) {
        *what = "allocate its name";
        return CLMLP_ATOMIC_FAILED;
    }
    return CLMLP_ATOMIC_DONE;
}

/* The directory holding path: "." without a slash, "/" for files at the root. */
static char *directory_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (!dir)
        return NULL;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    return dir;
}

/* Makes the rename durable. File systems that cannot sync a directory say EINVAL. */
static int sync_directory(const char *path, const char **what)
{
    char *dir = directory_of(path);
    int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;
    int err = errno;
    free(dir);
    if (fd < 0) {
        *what = "open its directory to sync it";
        errno = err;
        return CLMLP_ATOMIC_NOT_DURABLE;
    }
    int synced = (clmlp_fault_hit(CLMLP_FAULT_FSYNC) ? (errno = EIO, -1) : fsync(fd)) == 0 || errno == EINVAL;
    err = errno;
    close(fd);
    if (synced)
        return CLMLP_ATOMIC_DONE;
    *what = "sync its directory";
    errno = err;
    return CLMLP_ATOMIC_NOT_DURABLE;
}

/* The content into the open temporary file, flushed, synced and closed (f is closed
 * either way); CLMLP_ATOMIC_DONE or CLMLP_ATOMIC_FAILED. */
static int fill(FILE *f, clmlp_atomic_emit emit, void *user, const char **what)
{
    int failed = 0;
    errno = 0;
    if (emit(f, user) != 0 || fflush(f) != 0 || ferror(f)) {
        *what = "write it";
        failed = 1;
    } else if ((clmlp_fault_hit(CLMLP_FAULT_FSYNC) ? (errno = EIO, -1) : fsync(fileno(f))) != 0) {
        *what = "sync it";
        failed = 1;
    }
    int err = errno ? errno : EIO;
    if (fclose(f) != 0 && !failed) {
        *what = "close it";
        failed = 1;
        err = errno ? errno : EIO;
    }
    errno = err;
    return failed ? CLMLP_ATOMIC_FAILED : CLMLP_ATOMIC_DONE;
}

int clmlp_atomic_write(const char *path, clmlp_atomic_emit emit, void *user, const char **what)
{
    const char *ignored;
    if (!what)
        what = &ignored;
    if (!path || !*path || !emit) {
        *what = !emit ? "write it without content" : "write a file without a name";
        errno = EINVAL;
        return CLMLP_ATOMIC_FAILED;
    }
    char *target = NULL;
    mode_t mode = 0;
    int result = find_target(path, &target, &mode, what);
    if (result != CLMLP_ATOMIC_DONE)
        return result;

    /* target + ".tmp.XXXXXX" */
    static const char suffix[] = ".tmp.XXXXXX";
    size_t len = strlen(target);
    char *tmp = malloc(len + sizeof suffix);
    if (!tmp) {
        free(target);
        *what = "allocate the temporary file's name";
        errno = ENOMEM;
        return CLMLP_ATOMIC_FAILED;
    }
    memcpy(tmp, target, len);
    memcpy(tmp + len, suffix, sizeof suffix);
    int fd = mkstemp(tmp);
    FILE *f = NULL;
    if (fd < 0) {
        int err = errno;
        free(tmp);
        free(target);
        *what = "create a temporary file beside it";
        errno = err;
        return CLMLP_ATOMIC_FAILED;
    }
    /* mkstemp makes 0600 */
    if (fchmod(fd, mode) != 0) {
        *what = "set the mode of its temporary file";
        result = CLMLP_ATOMIC_FAILED;
    } else if (!(f = fdopen(fd, "wb"))) {
        *what = "open its temporary file";
        result = CLMLP_ATOMIC_FAILED;
    }
    if (result != CLMLP_ATOMIC_DONE) {
        int err = errno;
        close(fd);
        errno = err;
    } else
        result = fill(f, emit, user, what);

    /* the target may have changed while the content was written: look again */
    struct stat st;
    if (result == CLMLP_ATOMIC_DONE && lstat(target, &st) == 0 && !S_ISREG(st.st_mode))
        result = refuse(st.st_mode, 0, what);
    if (result == CLMLP_ATOMIC_DONE && rename(tmp, target) != 0) {
        *what = "rename the temporary file over it";
        result = CLMLP_ATOMIC_FAILED;
    }
    if (result != CLMLP_ATOMIC_DONE) {
        int err = errno;
        unlink(tmp);
        errno = err;
    } else
        result = sync_directory(target, what);
    free(tmp);
    free(target);
    return result;
}

typedef struct bytes {
    const void *data;
    size_t size;
} bytes;

static int emit_bytes(FILE *f, void *user)
{
    const bytes *b = user;
    return fwrite(b->data, 1, b->size, f) == b->size ? 0 : -1;
}

int clmlp_atomic_write_bytes(const char *path, const void *data, size_t size, const char **what)
{
    bytes b = {data, size};
    return clmlp_atomic_write(path, emit_bytes, &b, what);
}
