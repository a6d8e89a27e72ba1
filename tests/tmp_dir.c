#define _POSIX_C_SOURCE 200809L /* mkdtemp */
#include "tmp_dir.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char dir[256], path[512];

int test_tmp_dir_create(const char *prefix)
{
    snprintf(dir, sizeof dir, "/tmp/%s_XXXXXX", prefix);
    return mkdtemp(dir) ? 0 : -1;
}

const char *test_tmp_dir(void) { return dir; }

const char *test_tmp_path(const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

int test_tmp_dir_remove(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        const char *p = test_tmp_path(e->d_name);
        if (rmdir(p) != 0)
            unlink(p);
    }
    closedir(d);
    return rmdir(dir) == 0 ? 0 : -1;
}
