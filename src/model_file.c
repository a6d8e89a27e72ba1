/*
 * Model files on disk: saving through atomic_file.h (a temporary file beside the target,
 * synced, renamed over it, the directory synced: a crash leaves the old file or the new
 * one, and what is not a regular file is never replaced), loading the whole file (at
 * most CLMLP_MODEL_MAX_BYTES) and building the net it describes. The bytes themselves
 * are model_format.c's. The net is reached only through the API, its optimizer moments
 * and the optimizer fields (state_of, adam_steps) of net_internal.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "checked.h"
#include "clmlp.h"
#include "error.h"
#include "fault.h"
#include "model_format.h"
#include "net_internal.h"

/* ---- saving ---------------------------------------------------------------- */

/* What emit_model writes, and the status of its writing. */
typedef struct model_job {
    const clmlp_net *net;
    const clmlp_preprocess *pp;
    const uint64_t *epochs_done;
    const char *path;
    clmlp_status status; /* when not CLMLP_OK, the detail message is already set */
} model_job;

/* The encoder's sink: the temporary file (and the tests' write faults). */
static int write_to_file(void *user, const uint8_t *p, size_t n)
{
    errno = 0;
    if (clmlp_fault_hit(CLMLP_FAULT_WRITE) ? (errno = ENOSPC, 1) : fwrite(p, 1, n, (FILE *)user) != n)
        return errno ? errno : -1;
    return 0;
}

/* The encoded model, for clmlp_atomic_write. */
static int emit_model(FILE *f, void *user)
{
    model_job *job = user;
    int err = 0;
    job->status = clmlp_model_encode(job->net, job->pp, job->epochs_done, job->path, write_to_file, f, &err);
    if (job->status == CLMLP_OK)
        return 0;
    errno = err > 0 ? err : EIO;
    return -1;
}

static clmlp_status save(const clmlp_net *net, const clmlp_preprocess *pp, const uint64_t *epochs_done,
                         const char *path)
{
    if (!net || !path)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_save: %s is NULL", !net ? "net" : "path");
    if (!*path)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_save: path is empty");
    clmlp_preprocess defaults;
    if (!pp) {
        clmlp_preprocess_init(&defaults);
        pp = &defaults;
    }
    TRY(clmlp_model_check(net, pp, epochs_done != NULL, path));

    /* beside the target, synced, renamed over it, the directory synced (atomic_file.h) */
    model_job job = {net, pp, epochs_done, path, CLMLP_OK};
    const char *what = NULL;
    int result = clmlp_atomic_write(path, emit_model, &job, &what), err = errno;
    if (result == CLMLP_ATOMIC_DONE)
        return CLMLP_OK;
    if (job.status != CLMLP_OK)
        return job.status;
    if (result == CLMLP_ATOMIC_REFUSED)
        return clmlp_fail(CLMLP_EIO, "%s: exists and is not a regular file (%s): refusing to replace it", path, what);
    if (result == CLMLP_ATOMIC_NOT_DURABLE)
        return clmlp_fail(CLMLP_EIO, "%s: written, but cannot %s: %s", path, what, strerror(err));
    return clmlp_fail(err == ENOMEM ? CLMLP_ENOMEM : CLMLP_EIO, "%s: cannot %s: %s", path, what, strerror(err));
}

clmlp_status clmlp_save(const clmlp_net *net, const clmlp_preprocess *pp, const char *path)
{
    return save(net, pp, NULL, path);
}

clmlp_status clmlp_save_checkpoint(const clmlp_net *net, const clmlp_preprocess *pp, size_t epochs_done,
                                   const char *path)
{
    uint64_t done = epochs_done;
    return save(net, pp, &done, path);
}

/* ---- loading ----------------------------------------------------------------- */

/* The whole file, refusing more than CLMLP_MODEL_MAX_BYTES; *data is malloc'd. */
static clmlp_status read_file(const char *path, uint8_t **data, size_t *size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return clmlp_fail(CLMLP_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        clmlp_status s = clmlp_fail(CLMLP_EIO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return s;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return clmlp_fail(CLMLP_EIO, "%s: is a directory, not a model file", path);
    }
    uint64_t limit = CLMLP_MODEL_MAX_BYTES < SIZE_MAX ? CLMLP_MODEL_MAX_BYTES : SIZE_MAX - 1;
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > limit) {
        close(fd);
        return clmlp_fail(CLMLP_EFORMAT, "%s: %lld bytes: too large to be a clmlp model file (limit 4 GiB)", path,
                          (long long)st.st_size);
    }
    /* the size is a hint (the file may change, or not be a regular file): grow as data comes */
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, have = 0;
    uint8_t *buf = malloc(cap);
    clmlp_status s = buf ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu bytes", path, cap);
    while (s == CLMLP_OK) {
        if (have == cap) {
            if ((uint64_t)cap > limit) {
                s = clmlp_fail(CLMLP_EFORMAT, "%s: too large to be a clmlp model file (limit 4 GiB)", path);
                break;
            }
            size_t grown = (uint64_t)cap * 2 > limit + 1 ? (size_t)(limit + 1) : cap * 2;
            uint8_t *bigger = realloc(buf, grown);
            if (!bigger) {
                s = clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu bytes", path, grown);
                break;
            }
            buf = bigger;
            cap = grown;
        }
        size_t want = cap - have < ((size_t)1 << 30) ? cap - have : ((size_t)1 << 30);
        ssize_t r = read(fd, buf + have, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            s = clmlp_fail(CLMLP_EIO, "%s: cannot read: %s", path, strerror(errno));
        else if (r == 0)
            break;
        else
            have += (size_t)r;
    }
    close(fd);
    if (s != CLMLP_OK) {
        free(buf);
        return s;
    }
    *data = buf;
    *size = have;
    return CLMLP_OK;
}

/* The net the model describes, with cfg's backend, device and seed, its weights and its
 * standardization; with with_state, also the optimizer state of a checkpoint. */
static clmlp_status build_net(const clmlp_model *m, const clmlp_config *cfg, int with_state, const char *path,
                              clmlp_net **out)
{
    clmlp_config c;
    clmlp_config_init(&c);
    if (cfg)
        c = *cfg;
    c.dtype = m->dtype;
    c.loss = m->loss;
    size_t *sizes = clmlp_alloc_array(m->n_sizes, sizeof *sizes);
    if (!sizes)
        return clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate %zu sizes", path, m->n_sizes);
    for (size_t l = 0; l < m->n_sizes; l++)
        sizes[l] = (size_t)m->sizes[l];
    clmlp_net *net = NULL;
    clmlp_status s = clmlp_create(sizes, m->n_sizes, &c, &net);
    if (s != CLMLP_OK)
        s = clmlp_fail_context(s, "%s", path);
    /* state 0: the weights; 1 and 2: the first and second moments the file holds */
    int states = with_state && m->has_state ? (m->moments[1] ? 2 : 1) : 0;
    for (int state = 0; state <= states && s == CLMLP_OK; state++) {
        for (size_t l = 1; l < m->n_sizes && s == CLMLP_OK; l++) {
            size_t rows = sizes[l], cols = sizes[l - 1];
            /* clmlp_create checked rows · cols */
            double *W = clmlp_alloc_array(rows * cols, sizeof *W), *b = clmlp_alloc_array(rows, sizeof *b);
            if (!W || !b)
                s = clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate layer %zu (%zu × %zu weights)", path, l, rows, cols);
            else if ((s = clmlp_model_layer(m, state, l, W, b)) == CLMLP_OK) {
                s = state ? clmlp_net_write_moment(net, state, l, W, b) : clmlp_set_layer(net, l, W, b);
                if (s != CLMLP_OK)
                    s = clmlp_fail_context(s, "%s: layer %zu", path, l);
            }
            free(W);
            free(b);
        }
    }
    if (s == CLMLP_OK && states) {
        net->state_of = m->optimizer;
        net->adam_steps = m->adam_steps;
    }
    if (s == CLMLP_OK && m->standardization) {
        double *mean = clmlp_alloc_array(sizes[0], sizeof *mean), *std = clmlp_alloc_array(sizes[0], sizeof *std);
        if (!mean || !std)
            s = clmlp_fail(CLMLP_ENOMEM, "%s: cannot allocate the standardization (%zu inputs)", path, sizes[0]);
        else if ((s = clmlp_model_standardization(m, mean, std)) == CLMLP_OK &&
                 (s = clmlp_set_standardization(net, mean, std)) != CLMLP_OK)
            s = clmlp_fail_context(s, "%s", path);
        free(mean);
        free(std);
    }
    free(sizes);
    if (s != CLMLP_OK) {
        clmlp_destroy(net);
        return s;
    }
    *out = net;
    return CLMLP_OK;
}

/* Reads, checks and builds; clmlp_load ignores the training state (with_state 0). */
static clmlp_status load(const char *path, const clmlp_config *cfg, clmlp_net **out, clmlp_preprocess *pp,
                         int with_state, size_t *epochs_done)
{
    if (!path || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_load: %s is NULL", !path ? "path" : "out");
    uint8_t *data = NULL;
    size_t len = 0;
    clmlp_status s = read_file(path, &data, &len);
    if (s != CLMLP_OK)
        return s;
    clmlp_model m = {0};
    s = clmlp_model_parse(data, len, path, &m);
    if (s == CLMLP_OK && m.epochs_done > SIZE_MAX)
        s = clmlp_fail(CLMLP_EFORMAT, "%s: %llu epochs done does not fit size_t", path,
                       (unsigned long long)m.epochs_done);
    clmlp_net *net = NULL;
    if (s == CLMLP_OK)
        s = build_net(&m, cfg, with_state, path, &net);
    if (s == CLMLP_OK) {
        *out = net;
        if (pp) {
            *pp = m.pp;
            pp->n_inputs = (size_t)m.sizes[0];
        }
        if (epochs_done)
            *epochs_done = (size_t)m.epochs_done;
    }
    free(m.sizes);
    free(data);
    return s;
}

clmlp_status clmlp_load(const char *path, const clmlp_config *cfg, clmlp_net **out, clmlp_preprocess *pp)
{
    return load(path, cfg, out, pp, 0, NULL);
}

clmlp_status clmlp_load_checkpoint(const char *path, const clmlp_config *cfg, clmlp_net **out, clmlp_preprocess *pp,
                                   size_t *epochs_done)
{
    return load(path, cfg, out, pp, 1, epochs_done);
}
