/*
 * Writing a file atomically: the content goes to a temporary file beside the target
 * (mkstemp, same directory, so the rename stays on one file system), is flushed and
 * synced, is renamed over the target, and then the directory is synced. A reader sees
 * the old file or the new one, never a part of either; a crash leaves one of them.
 *
 * What is replaced: a regular file, or the regular file a symbolic link leads to (the
 * link stays a link). What exists and is not a regular file — a directory, a device
 * node, a FIFO, a socket, a symbolic link to one of those or a dangling one — is
 * refused and left alone: writing a model to /dev/null must not replace /dev/null.
 *
 * The new file keeps the permission bits of the file it replaces; a new file gets
 * 0644 & ~umask, as fopen would give it if it asked for 0644.
 *
 * Self-contained (libc and fault.h only, no clmlp_fail), so that both the library and
 * the `clmlp` command, which cannot reach the library's hidden symbols, compile it in.
 * Callers format their own messages from the result, errno and *what.
 */
#ifndef CLMLP_ATOMIC_FILE_H
#define CLMLP_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

/* Writes the content to f: 0, or -1 with errno set (EIO is assumed when it is 0). An
 * error stdio records in f fails the write too. */
typedef int (*clmlp_atomic_emit)(FILE *f, void *user);

/* What clmlp_atomic_write did. */
enum {
    /* The target holds the new content, durably. */
    CLMLP_ATOMIC_DONE = 0,
    /* The target holds the new content, but its directory could not be synced (a crash
     * may still undo the rename); *what: "sync its directory" or "open its directory to
     * sync it", errno: why. */
    CLMLP_ATOMIC_NOT_DURABLE = 1,
    /* Nothing changed; *what names the step that failed, to follow "cannot": "create a
     * temporary file beside it", "write it", "sync it", "rename the temporary file over
     * it", …; errno: why. */
    CLMLP_ATOMIC_FAILED = -1,
    /* The target exists and is not a regular file: nothing changed; *what says what it
     * is ("a character device", "a directory", "a dangling symbolic link", "a symbolic
     * link to a FIFO", …); errno is EISDIR for a directory, else EEXIST. */
    CLMLP_ATOMIC_REFUSED = -2
};

/* Replaces (or creates) path with what emit writes. Returns one of the values above;
 * *what (what may be NULL) is set unless the result is CLMLP_ATOMIC_DONE; it is a static
 * string. The temporary file is removed
 * whenever the result is negative. Thread-safe where /proc/self/status tells the umask
 * (Linux); elsewhere creating a new file briefly sets the umask to 0 to read it. */
int clmlp_atomic_write(const char *path, clmlp_atomic_emit emit, void *user, const char **what);

/* clmlp_atomic_write of size bytes at data. */
int clmlp_atomic_write_bytes(const char *path, const void *data, size_t size, const char **what);

#endif
