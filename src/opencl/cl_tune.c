/*
 * The tuner: shapes of the device's kernel family (the OWN products) searched on the
 * net's own products. Every candidate is built, checked against the host path at
 * awkward shapes (a wrong candidate is rejected, never timed), then timed on one
 * training step's products at the net's sizes and batch; the fastest, if it beats the
 * device's default shape, is kept. Then each product of the kept shape is timed against
 * CLBlast's GEMM with the separate epilogues it needs, and CLBlast keeps a product
 * where it is faster. The result goes into the tuning database (cl_tuning_db.c).
 * For the CPU family the search keeps one vector width per build and pairs a
 * gemm_nn/gemm_tn shape with a gemm_nt shape in each build (the two kernels are
 * independent): about 2 × 8 builds. For the GPU family it tries work-group shapes,
 * outputs per work-item, K steps and load widths around the vendor defaults.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../clock.h"
#include "../config.h"
#include "../error.h"
#include "cl_common.h"

/* The shapes tried for gemm_nn / gemm_tn (rows × vectors) and gemm_nt (rows × cols). */
static const unsigned nn_shapes[][2] = {{8, 2}, {4, 3}, {4, 2}, {6, 2}, {8, 1}, {2, 4}, {4, 4}, {3, 3}};
static const unsigned nt_shapes[][2] = {{4, 4}, {2, 4}, {4, 2}, {3, 3}, {2, 2}, {4, 3}, {8, 2}, {1, 4}};
enum { N_PAIRS = sizeof nn_shapes / sizeof nn_shapes[0] };
/* The GPU family's candidates (cl_tiles_gpu.c's text form); those the device cannot
 * run are rejected at their build. */
static const char *const gpu_shapes[] = {
    "gpu:16x16:2x2:16:2:1:256", "gpu:16x16:1x1:16:1:1:256", "gpu:16x16:4x4:16:4:1:256", "gpu:16x16:2x2:32:2:1:256",
    "gpu:16x16:2x2:8:2:1:256",  "gpu:8x8:2x2:16:2:1:64",    "gpu:8x8:4x4:16:4:1:64",    "gpu:16x8:2x4:16:4:1:128",
    "gpu:8x16:4x2:16:2:1:128",  "gpu:32x8:2x4:16:4:1:256",  "gpu:8x32:4x2:16:2:1:256",  "gpu:16x16:2x4:16:4:1:256",
    "gpu:16x16:4x2:16:2:1:256", "gpu:16x16:2x2:16:1:0:256", "gpu:16x16:4x4:32:4:1:256", "gpu:32x32:1x1:16:1:1:256",
};
enum { N_GPU_SHAPES = sizeof gpu_shapes / sizeof gpu_shapes[0] };

typedef struct {
    clmlp_be *be;
    clmlp_buf **bufs;
    size_t n_bufs;
} workspace;

static void workspace_free(workspace *w)
{
    for (size_t i = 0; i < w->n_bufs; i++)
        clmlp_buf_release(w->be, w->bufs[i]);
    free(w->bufs);
    w->bufs = NULL;
    w->n_bufs = 0;
}

/* A buffer of n reals in [-1, 1), the same values for the same seed on every backend. */
static clmlp_status random_buf(workspace *w, size_t n, uint64_t seed, clmlp_buf **out)
{
    clmlp_buf **grown = realloc(w->bufs, (w->n_bufs + 1) * sizeof *grown);
    if (!grown)
        return clmlp_fail(CLMLP_ENOMEM, "tuning: out of memory");
    w->bufs = grown;
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return clmlp_fail(CLMLP_ENOMEM, "tuning: out of memory");
    for (size_t i = 0; i < n; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (double)(seed >> 11) * 0x1p-52 - 1.0;
    }
    clmlp_status s = clmlp_buf_alloc(w->be, CLMLP_BUF_REAL, n, out);
    if (s == CLMLP_OK)
        s = clmlp_buf_upload(w->be, *out, 0, v, n);
    free(v);
    if (s != CLMLP_OK)
        return s;
    w->bufs[w->n_bufs++] = *out;
    return CLMLP_OK;
}

/* The three products of one layer at (batch, n_in, n_out) with their epilogues, into
 * buffers of w: forward (z, a), error propagation (delta_prev) and the fused weight
 * gradient and SGD step (W, b, vW, vb). */
typedef struct {
    clmlp_buf *a_prev, *W, *b, *z, *a, *delta, *z_prev, *delta_prev, *vW, *vb, *dW, *db;
} layer_bufs;

static clmlp_status layer_setup(workspace *w, size_t batch, size_t n_in, size_t n_out, uint64_t seed, layer_bufs *l)
{
    TRY(random_buf(w, batch * n_in, seed + 1, &l->a_prev));
    TRY(random_buf(w, n_out * n_in, seed + 2, &l->W));
    TRY(random_buf(w, n_out, seed + 3, &l->b));
    TRY(random_buf(w, batch * n_out, seed + 4, &l->z));
    TRY(random_buf(w, batch * n_out, seed + 5, &l->a));
    TRY(random_buf(w, batch * n_out, seed + 6, &l->delta));
    TRY(random_buf(w, batch * n_in, seed + 7, &l->z_prev));
    TRY(random_buf(w, batch * n_in, seed + 8, &l->delta_prev));
    TRY(random_buf(w, n_out * n_in, seed + 9, &l->vW));
    TRY(random_buf(w, n_out * n_in, seed + 11, &l->dW));
    TRY(random_buf(w, n_out, seed + 12, &l->db));
    return random_buf(w, n_out, seed + 10, &l->vb);
}

static const clmlp_sgd tune_sgd = {.lr = 1e-3, .grad_scale = 1.0 / 64, .momentum = 0.9, .weight_decay = 1e-4};

/* The products of one layer that `which` names (clmlp_cl_product bits), each with its
 * epilogue, as a training step runs them: the weight gradient fused with the update
 * where the backend can, else the gradient and two updates. */
static clmlp_status layer_run(clmlp_be *be, size_t batch, size_t n_in, size_t n_out, const layer_bufs *l,
                              unsigned which)
{
    const clmlp_backend_ops *ops = be->ops;
    if (which & CLMLP_CL_FORWARD)
        TRY(ops->forward_layer(be, batch, n_in, n_out, l->a_prev, l->W, l->b, 1, l->z, l->a));
    if (which & CLMLP_CL_BACKPROP)
        TRY(ops->backprop_delta(be, batch, n_in, n_out, l->delta, l->W, l->z_prev, l->delta_prev));
    if (!(which & CLMLP_CL_WEIGHT_GRAD))
        return CLMLP_OK;
    if (ops->can(be, CLMLP_CAN_FUSE_WEIGHT_SGD, NULL, batch))
        return ops->weight_grad_sgd(be, batch, n_in, n_out, l->delta, l->a_prev, &tune_sgd, l->W, l->vW, l->b, l->vb);
    TRY(ops->weight_grad(be, batch, n_in, n_out, l->delta, l->a_prev, l->dW, l->db));
    TRY(ops->sgd_momentum(be, n_out * n_in, &tune_sgd, l->dW, l->vW, l->W));
    return ops->sgd_momentum(be, n_out, &tune_sgd, l->db, l->vb, l->b);
}

static clmlp_status download_all(clmlp_be *be, const clmlp_buf *buf, double **out)
{
    *out = malloc((buf->n ? buf->n : 1) * sizeof **out);
    if (!*out)
        return clmlp_fail(CLMLP_ENOMEM, "tuning: out of memory");
    return clmlp_buf_download(be, buf, *out, buf->n);
}

static double rel_err(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return INFINITY;
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* The candidate's products against the host path's at shapes that leave partial tiles
 * in every direction: 1 when every output agrees. */
static clmlp_status candidate_correct(clmlp_be *dev, clmlp_be *host, int *ok)
{
    static const size_t shapes[][3] = {{7, 33, 10}, {17, 257, 17}, {3, 1, 5}, {33, 784, 3}};
    double tol = dev->dtype == CLMLP_F64 ? 1e-11 : 1e-5;
    *ok = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0] && *ok; s++) {
        size_t batch = shapes[s][0], n_in = shapes[s][1], n_out = shapes[s][2];
        workspace wd = {dev, NULL, 0}, wh = {host, NULL, 0};
        layer_bufs ld, lh;
        clmlp_status st = layer_setup(&wd, batch, n_in, n_out, 100 * s, &ld);
        if (st == CLMLP_OK)
            st = layer_setup(&wh, batch, n_in, n_out, 100 * s, &lh);
        if (st == CLMLP_OK)
            st = layer_run(dev, batch, n_in, n_out, &ld, CLMLP_CL_ALL_PRODUCTS);
        if (st == CLMLP_OK) { /* the host path: the fused update composed of its parts */
            const clmlp_backend_ops *h = host->ops;
            clmlp_buf *dW = NULL, *db = NULL;
            st = h->forward_layer(host, batch, n_in, n_out, lh.a_prev, lh.W, lh.b, 1, lh.z, lh.a);
            if (st == CLMLP_OK)
                st = h->backprop_delta(host, batch, n_in, n_out, lh.delta, lh.W, lh.z_prev, lh.delta_prev);
            if (st == CLMLP_OK)
                st = random_buf(&wh, n_out * n_in, 1, &dW);
            if (st == CLMLP_OK)
                st = random_buf(&wh, n_out, 2, &db);
            if (st == CLMLP_OK)
                st = h->weight_grad(host, batch, n_in, n_out, lh.delta, lh.a_prev, dW, db);
            if (st == CLMLP_OK)
                st = h->sgd_momentum(host, n_out * n_in, &tune_sgd, dW, lh.vW, lh.W);
            if (st == CLMLP_OK)
                st = h->sgd_momentum(host, n_out, &tune_sgd, db, lh.vb, lh.b);
        }
        const clmlp_buf *pairs[][2] = {{ld.z, lh.z},  {ld.a, lh.a}, {ld.delta_prev, lh.delta_prev},
                                       {ld.W, lh.W},  {ld.b, lh.b}, {ld.vW, lh.vW},
                                       {ld.vb, lh.vb}};
        for (size_t p = 0; st == CLMLP_OK && p < sizeof pairs / sizeof pairs[0] && *ok; p++) {
            double *d = NULL, *h = NULL;
            st = download_all(dev, pairs[p][0], &d);
            if (st == CLMLP_OK)
                st = download_all(host, pairs[p][1], &h);
            if (st == CLMLP_OK && !(rel_err(d, h, pairs[p][1]->n) <= tol))
                *ok = 0;
            free(d);
            free(h);
        }
        workspace_free(&wd);
        workspace_free(&wh);
        TRY(st);
    }
    return CLMLP_OK;
}

/* Seconds of one training step's products of the net at `batch` that `which` names
 * (the best of 3 runs). */
static clmlp_status step_seconds(clmlp_be *be, const size_t *sizes, size_t n_sizes, size_t batch, unsigned which,
                                 double *out)
{
    workspace w = {be, NULL, 0};
    layer_bufs l[17];
    size_t L = n_sizes - 1;
    if (L > 16)
        return clmlp_fail(CLMLP_EINVAL, "tuning: at most 16 layers");
    clmlp_status s = CLMLP_OK;
    for (size_t i = 1; i <= L && s == CLMLP_OK; i++)
        s = layer_setup(&w, batch, sizes[i - 1], sizes[i], 1000 * i, &l[i]);
    double best = INFINITY, probe;
    for (int run = 0; run < 4 && s == CLMLP_OK; run++) { /* run 0 warms up */
        size_t reps = 0;
        double start = clmlp_seconds(), elapsed;
        do {
            for (size_t i = L; i >= 1 && s == CLMLP_OK; i--)
                s = layer_run(be, batch, sizes[i - 1], sizes[i], &l[i], i > 1 ? which : which & ~CLMLP_CL_BACKPROP);
            if (s == CLMLP_OK)
                s = clmlp_buf_download(be, l[1].W, &probe, 1);
            reps++;
            elapsed = clmlp_seconds() - start;
        } while (s == CLMLP_OK && elapsed < 0.1);
        if (run > 0 && elapsed / (double)reps < best)
            best = elapsed / (double)reps;
    }
    workspace_free(&w);
    *out = best;
    return s;
}

/* One training step's products with the tiles' mix of own and CLBlast products. */
static clmlp_status step_seconds_mixed(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, size_t batch,
                                       const clmlp_cl_tiles *tiles, double *out)
{
    clmlp_be *be;
    TRY(clmlp_cl_backend_create_tiled(cfg, tiles, &be));
    clmlp_status s = step_seconds(be, sizes, n_sizes, batch, CLMLP_CL_ALL_PRODUCTS, out);
    be->ops->destroy(be);
    return s;
}

/* Builds, checks and times one candidate: *seconds is INFINITY when it is rejected. */
static clmlp_status try_candidate(const clmlp_config *cfg, const clmlp_cl_tiles *tiles, clmlp_be *host,
                                  const size_t *sizes, size_t n_sizes, size_t batch, double *seconds,
                                  clmlp_tune_report *report)
{
    clmlp_be *dev;
    *seconds = INFINITY;
    if (clmlp_cl_backend_create_tiled(cfg, tiles, &dev) != CLMLP_OK) { /* e.g. beyond the device's limits */
        report->candidates++;
        report->rejected++;
        return CLMLP_OK;
    }
    int ok = 0;
    clmlp_status s = candidate_correct(dev, host, &ok);
    if (s == CLMLP_OK && ok)
        s = step_seconds(dev, sizes, n_sizes, batch, CLMLP_CL_ALL_PRODUCTS, seconds);
    report->candidates++;
    report->rejected += s == CLMLP_OK && !ok;
    dev->ops->destroy(dev);
    return s;
}

clmlp_status clmlp_cl_tune_search(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, size_t batch,
                                  const clmlp_cl_tiles *candidates, size_t n_candidates, clmlp_cl_tiles *best,
                                  clmlp_tune_report *report)
{
    clmlp_be *host;
    TRY(clmlp_host_backend_create(cfg->dtype, &host));
    clmlp_status s = CLMLP_OK;
    double best_seconds = INFINITY;
    for (size_t i = 0; i < n_candidates && s == CLMLP_OK; i++) {
        double t;
        s = try_candidate(cfg, &candidates[i], host, sizes, n_sizes, batch, &t, report);
        if (s == CLMLP_OK && t < best_seconds) {
            best_seconds = t;
            *best = candidates[i];
        }
    }
    host->ops->destroy(host);
    TRY(s);
    if (!isfinite(best_seconds))
        return clmlp_fail(CLMLP_EOPENCL, "tuning: every candidate failed its check against the host path");
    report->seconds_best = best_seconds;
    return CLMLP_OK;
}

/* Each product of the kept shape timed with the own kernels and with CLBlast (and the
 * epilogue kernels it needs): best->clblast gets the products CLBlast runs faster. */
static clmlp_status prefer_clblast(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, size_t batch,
                                   clmlp_cl_tiles *best, clmlp_tune_report *r)
{
    static const struct {
        clmlp_cl_product which;
        const char *name;
    } products[] = {
        {CLMLP_CL_FORWARD, "forward"}, {CLMLP_CL_BACKPROP, "backprop"}, {CLMLP_CL_WEIGHT_GRAD, "weight-grad"}};
    clmlp_config with_clblast = *cfg;
    with_clblast.products = CLMLP_PRODUCTS_CLBLAST;
    clmlp_be *own = NULL, *clblast = NULL;
    best->clblast = 0;
    clmlp_status s = clmlp_cl_backend_create_tiled(cfg, best, &own);
    if (s == CLMLP_OK)
        s = clmlp_cl_backend_create_tiled(&with_clblast, best, &clblast);
    snprintf(r->clblast, sizeof r->clblast, "none");
    for (size_t i = 0; i < 3 && s == CLMLP_OK; i++) {
        double t_own = INFINITY, t_clblast = INFINITY;
        s = step_seconds(own, sizes, n_sizes, batch, products[i].which, &t_own);
        if (s == CLMLP_OK)
            s = step_seconds(clblast, sizes, n_sizes, batch, products[i].which, &t_clblast);
        if (s == CLMLP_OK && t_clblast < t_own) {
            size_t used = best->clblast ? strlen(r->clblast) : 0;
            snprintf(r->clblast + used, sizeof r->clblast - used, "%s%s", used ? "," : "", products[i].name);
            best->clblast |= products[i].which;
        }
    }
    if (own)
        own->ops->destroy(own);
    if (clblast)
        clblast->ops->destroy(clblast);
    if (s == CLMLP_OK && best->clblast) /* the step with CLBlast's products in it, as training will run it */
        s = step_seconds_mixed(cfg, sizes, n_sizes, batch, best, &r->seconds_best);
    return s;
}

static clmlp_status check_tune_args(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, size_t batch)
{
    if (!cfg || !sizes)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_tune: %s is NULL", !cfg ? "cfg" : "sizes");
    if (n_sizes < 2 || n_sizes > 17)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_tune: %zu sizes (2 to 17)", n_sizes);
    for (size_t l = 0; l < n_sizes; l++)
        if (sizes[l] < 1 || sizes[l] > 65536)
            return clmlp_fail(CLMLP_EINVAL, "clmlp_tune: n_%zu = %zu (1 to 65536)", l, sizes[l]);
    if (batch < 2 || batch > 65536)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_tune: batch %zu (2 to 65536: batch 1 runs no tiled product)", batch);
    return CLMLP_OK;
}

_Static_assert(CLMLP_CL_TUNE_CANDIDATES >= 2 * N_PAIRS + 1 && CLMLP_CL_TUNE_CANDIDATES >= N_GPU_SHAPES + 1,
               "cl_common.h's CLMLP_CL_TUNE_CANDIDATES holds every candidate");

size_t clmlp_cl_tune_candidates(const clmlp_cl_tiles *device, clmlp_cl_tiles *out)
{
    size_t n = 0;
    out[n++] = *device;
    if (device->family == CLMLP_CL_GPU)
        for (size_t i = 0; i < N_GPU_SHAPES; i++) {
            clmlp_cl_tiles t;
            if (clmlp_cl_tiles_parse(gpu_shapes[i], &t) == CLMLP_OK && memcmp(&t.gpu, &device->gpu, sizeof t.gpu) != 0)
                out[n++] = t;
        }
    else
        for (unsigned vw = device->vw; vw >= 1 && vw >= device->vw / 2; vw /= 2) {
            for (size_t i = 0; i < N_PAIRS; i++) {
                clmlp_cl_tiles t =
                    CLMLP_CL_CPU_TILES(vw, nn_shapes[i][0], nn_shapes[i][1], nt_shapes[i][0], nt_shapes[i][1]);
                if (memcmp(&t, device, sizeof t) != 0)
                    out[n++] = t;
            }
            if (vw == 1)
                break;
        }
    return n;
}

clmlp_status clmlp_tune(const clmlp_config *cfg_in, const size_t *sizes, size_t n_sizes, size_t batch,
                        clmlp_tune_report *report)
{
    TRY(check_tune_args(cfg_in, sizes, n_sizes, batch));
    clmlp_config cfg;
    TRY(clmlp_config_resolve(cfg_in, &cfg));
    cfg.products = CLMLP_PRODUCTS_OWN;
    cfg.tiles[0] = '\0';
    clmlp_tune_report r;
    memset(&r, 0, sizeof r);
    double start = clmlp_seconds();

    /* the device's default shape: the reference, and the source of the vector width */
    clmlp_be *base;
    TRY(clmlp_opencl_backend_create(&cfg, NULL, 0, &base));
    clmlp_cl_tiles device = ((clmlp_cl_be *)base)->tiles;
    base->ops->destroy(base);
    clmlp_cl_tiles candidates[CLMLP_CL_TUNE_CANDIDATES], best = device;
    size_t n = clmlp_cl_tune_candidates(&device, candidates);
    clmlp_status s = clmlp_cl_tune_search(&cfg, sizes, n_sizes, batch, candidates, 1, &best, &r);
    double default_seconds = r.seconds_best;
    if (s == CLMLP_OK)
        s = clmlp_cl_tune_search(&cfg, sizes, n_sizes, batch, candidates + 1, n - 1, &best, &r);
    if (s == CLMLP_OK && !(r.seconds_best < default_seconds)) { /* never slower than the default */
        best = device;
        r.seconds_best = default_seconds;
    }
    if (s == CLMLP_OK)
        s = prefer_clblast(&cfg, sizes, n_sizes, batch, &best, &r);
    if (s != CLMLP_OK)
        return s;
    clmlp_be *store;
    TRY(clmlp_cl_backend_create_tiled(&cfg, &best, &store));
    s = clmlp_cl_tuning_store((clmlp_cl_be *)store, sizes, n_sizes, &best);
    store->ops->destroy(store);
    TRY(s);
    r.seconds_default = default_seconds;
    clmlp_cl_tiles_format(&best, r.tiles, sizeof r.tiles);
    clmlp_cl_tiles_format(&device, r.default_tiles, sizeof r.default_tiles);
    r.search_seconds = clmlp_seconds() - start;
    if (report)
        *report = r;
    return CLMLP_OK;
}
