/*
 * The operations of the backend interface on the device. What decides which kernel
 * computes a product is here, in `products_for`: batch 1 always runs the simple
 * kernels of layers.cl (one work-item per output); a larger batch runs what
 * clmlp_config.products resolved to on this device — the family's tiled kernels
 * (gemm.cl or gemm_gpu.cl) with their fused epilogues (OWN), CLBlast's GEMM plus
 * separate epilogue kernels (CLBLAST), or the simple kernels (SIMPLE) — except that
 * with OWN a product the tuner found CLBlast faster for (tiles.clblast) runs on CLBlast.
 */
#include <limits.h>
#include <math.h>

#include "../error.h"
#include "cl_common.h"

#define BE(be) ((clmlp_cl_be *)(be))

static clmlp_products products_for(const clmlp_cl_be *be, size_t batch, clmlp_cl_product which)
{
    if (batch <= 1)
        return CLMLP_PRODUCTS_SIMPLE;
    return be->gemm == CLMLP_PRODUCTS_OWN && (be->tiles.clblast & which) ? CLMLP_PRODUCTS_CLBLAST : be->gemm;
}

/* gemm.cl's tiles: rows and columns of a gemm_nn / gemm_tn tile. */
static size_t tile_rows(const clmlp_cl_be *be) { return be->tiles.nn_rows; }
static size_t tile_cols(const clmlp_cl_be *be) { return (size_t)be->tiles.nn_vecs * be->tiles.vw; }

/* C (m × n) = op(A) · B with op(A) = A (m × k) or, when trans_a, A^T (A stored k × m);
 * B is k × n. Row strides lda, ldb, ldc. Own tiled kernels or CLBlast. */
static clmlp_status product(clmlp_cl_be *be, clmlp_products how, int trans_a, size_t m, size_t n, size_t k,
                            const clmlp_buf *A, size_t lda, const clmlp_buf *B, size_t ldb, clmlp_buf *C, size_t ldc)
{
    if (how == CLMLP_PRODUCTS_CLBLAST)
        return clmlp_cl_gemm(be, trans_a, 0, m, n, k, A, lda, B, ldb, C, ldc);
    if (trans_a)
        return clmlp_cl_launch_product(be, be->k.gemm_tn, "gemm_tn", 0, tile_rows(be), tile_cols(be), m, n, k, A, lda,
                                       B, ldb, C, ldc, 0, NULL);
    return clmlp_cl_launch_product(be, be->k.gemm_nn, "gemm_nn", 0, tile_rows(be), tile_cols(be), m, n, k, A, lda, B,
                                   ldb, C, ldc, 1, (clmlp_karg[]){NO_BUFFER});
}

/* The work-group size of the 1-D kernels (batch_stats, confusion_update, the GPU family's
 * train_per_sample): GROUP of the program, 1 in the CPU family. */
static size_t group_of(const clmlp_cl_be *be) { return be->family == CLMLP_CL_GPU ? be->tiles.gpu.group : 1; }

/* The GPU family's per-sample kernel keeps in local memory at most this much (of what the
 * device has): with the scratch and W of 576-16-10 in f32, an occupancy-friendly share. */
enum { PER_SAMPLE_LOCAL_LIMIT = 48 * 1024 };

/* The local memory the GPU family's train_per_sample takes for net (per_sample_gpu.cl),
 * in bytes: *scratch for x, z, a and delta of every layer and GROUP reals for the
 * reductions, *weights for W and b of every layer, which the kernel keeps in local memory
 * when both fit in *budget = min(CL_DEVICE_LOCAL_MEM_SIZE, PER_SAMPLE_LOCAL_LIMIT). 0 when
 * the device cannot say or a layer's weights overflow the kernel's uint indices; sets no
 * error message (cl_can asks). */
static int per_sample_local_size(const clmlp_cl_be *be, const clmlp_layers *net, size_t *scratch, size_t *weights,
                                 size_t *budget)
{
    size_t real_size = be->base.dtype == CLMLP_F64 ? sizeof(double) : sizeof(float);
    size_t s = net->n[0] + group_of(be), w = 0;
    for (size_t l = 1; l <= net->L; l++) {
        size_t n_w = net->n[l] * net->n[l - 1];
        if (n_w > UINT_MAX || n_w / net->n[l - 1] != net->n[l])
            return 0;
        s += 3 * net->n[l];
        w += n_w + net->n[l];
    }
    cl_ulong device_local = 0;
    if (clGetDeviceInfo(be->device, CL_DEVICE_LOCAL_MEM_SIZE, sizeof device_local, &device_local, NULL) != CL_SUCCESS)
        return 0;
    *budget = device_local < PER_SAMPLE_LOCAL_LIMIT ? (size_t)device_local : PER_SAMPLE_LOCAL_LIMIT;
    *scratch = s * real_size;
    *weights = w * real_size;
    return 1;
}

/* The GPU family's train_per_sample runs net: its scratch fits the local memory. */
static int per_sample_fits(const clmlp_cl_be *be, const clmlp_layers *net)
{
    size_t scratch, weights, budget;
    return per_sample_local_size(be, net, &scratch, &weights, &budget) && scratch <= budget;
}

static int cl_can(const clmlp_be *base, clmlp_capability what, const clmlp_layers *net, size_t batch)
{
    const clmlp_cl_be *be = (const clmlp_cl_be *)base;
    switch (what) {
    case CLMLP_CAN_FUSE_WEIGHT_SGD: return products_for(be, batch, CLMLP_CL_WEIGHT_GRAD) == CLMLP_PRODUCTS_OWN;
    case CLMLP_CAN_TRAIN_PER_SAMPLE:
        return batch == 1 && net->L >= 1 && net->L <= CLMLP_CL_PER_SAMPLE_MAX_LAYERS &&
               (be->family != CLMLP_CL_GPU || per_sample_fits(be, net));
    }
    return 0;
}

static clmlp_status cl_forward_layer(clmlp_be *base, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *a_prev,
                                     const clmlp_buf *W, const clmlp_buf *b, int apply_tanh, clmlp_buf *z, clmlp_buf *a)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, ui, uo, ucount, act = apply_tanh ? 1 : 0;
    TRY(clmlp_cl_uint(batch, "batch", &ub));
    TRY(clmlp_cl_uint(n_in, "layer input size", &ui));
    TRY(clmlp_cl_uint(n_out, "layer size", &uo));
    TRY(clmlp_cl_uint(batch * n_out, "batch × layer size", &ucount));
    switch (products_for(be, batch, CLMLP_CL_FORWARD)) {
    case CLMLP_PRODUCTS_OWN: /* W as stored, in dot-product form, with the epilogue: 4 × 4 per work-item */
        return clmlp_cl_launch_product(be, be->k.gemm_nt, "gemm_nt", 1, be->tiles.nt_rows, be->tiles.nt_cols, batch,
                                       n_out, n_in, a_prev, n_in, W, n_in, z, n_out, 3,
                                       (clmlp_karg[]){MEM(b), ARG(act), MEM(a)});
    case CLMLP_PRODUCTS_CLBLAST:
        TRY(clmlp_cl_gemm(be, 0, 1, batch, n_out, n_in, a_prev, n_in, W, n_in, z, n_out));
        return clmlp_cl_launch(be, be->k.bias_act, "bias_act", 2, (size_t[]){n_out, batch}, NULL, 6,
                               (clmlp_karg[]){ARG(ub), ARG(uo), MEM(b), ARG(act), MEM(z), MEM(a)});
    default:
        return clmlp_cl_launch(
            be, be->k.forward_layer, "forward_layer", 2, (size_t[]){n_out, batch}, NULL, 9,
            (clmlp_karg[]){ARG(ub), ARG(ui), ARG(uo), MEM(a_prev), MEM(W), MEM(b), ARG(act), MEM(z), MEM(a)});
    }
}

static clmlp_status cl_output_delta(clmlp_be *base, clmlp_loss loss, size_t batch, size_t n, const clmlp_buf *z,
                                    const clmlp_buf *a, const clmlp_buf *y, clmlp_buf *delta, clmlp_buf *row_loss)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, un;
    TRY(clmlp_cl_uint(batch, "batch", &ub));
    TRY(clmlp_cl_uint(n, "output size", &un));
    if (loss == CLMLP_LOSS_MSE)
        return clmlp_cl_launch(be, be->k.output_delta_mse, "output_delta_mse", 1, (size_t[]){batch}, NULL, 7,
                               (clmlp_karg[]){ARG(ub), ARG(un), MEM(z), MEM(a), MEM(y), MEM(delta), MEM(row_loss)});
    return clmlp_cl_launch(be, be->k.output_delta_ce, "output_delta_ce", 1, (size_t[]){batch}, NULL, 6,
                           (clmlp_karg[]){ARG(ub), ARG(un), MEM(z), MEM(y), MEM(delta), MEM(row_loss)});
}

clmlp_status clmlp_cl_sech2_mul(clmlp_cl_be *be, size_t count, const clmlp_buf *z, const clmlp_buf *g, clmlp_buf *out)
{
    cl_uint uc;
    TRY(clmlp_cl_uint(count, "element count", &uc));
    return clmlp_cl_launch(be, be->k.sech2_mul, "sech2_mul", 1, (size_t[]){count}, NULL, 4,
                           (clmlp_karg[]){ARG(uc), MEM(z), MEM(g), MEM(out)});
}

static clmlp_status cl_backprop_delta(clmlp_be *base, size_t batch, size_t n, size_t n_next,
                                      const clmlp_buf *delta_next, const clmlp_buf *W_next, const clmlp_buf *z,
                                      clmlp_buf *delta)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, un, unext, ucount;
    TRY(clmlp_cl_uint(batch, "batch", &ub));
    TRY(clmlp_cl_uint(n, "layer size", &un));
    TRY(clmlp_cl_uint(n_next, "next layer size", &unext));
    TRY(clmlp_cl_uint(batch * n, "batch × layer size", &ucount));
    switch (products_for(be, batch, CLMLP_CL_BACKPROP)) {
    case CLMLP_PRODUCTS_OWN: /* sech² in the product's epilogue */
        return clmlp_cl_launch_product(be, be->k.gemm_nn, "gemm_nn", 0, tile_rows(be), tile_cols(be), batch, n, n_next,
                                       delta_next, n_next, W_next, n, delta, n, 1, (clmlp_karg[]){MEM(z)});
    case CLMLP_PRODUCTS_CLBLAST:
        TRY(product(be, CLMLP_PRODUCTS_CLBLAST, 0, batch, n, n_next, delta_next, n_next, W_next, n, delta, n));
        return clmlp_cl_sech2_mul(be, batch * n, z, delta, delta);
    default:
        return clmlp_cl_launch(
            be, be->k.backprop_delta, "backprop_delta", 2, (size_t[]){n, batch}, NULL, 7,
            (clmlp_karg[]){ARG(ub), ARG(un), ARG(unext), MEM(delta_next), MEM(W_next), MEM(z), MEM(delta)});
    }
}

static clmlp_status cl_weight_grad(clmlp_be *base, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *delta,
                                   const clmlp_buf *a_prev, clmlp_buf *dW, clmlp_buf *db)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, ui, uo;
    TRY(clmlp_cl_uint(batch, "batch", &ub));
    TRY(clmlp_cl_uint(n_in, "layer input size", &ui));
    TRY(clmlp_cl_uint(n_out, "layer size", &uo));
    clmlp_products how = products_for(be, batch, CLMLP_CL_WEIGHT_GRAD);
    if (how != CLMLP_PRODUCTS_SIMPLE)
        TRY(product(be, how, 1, n_out, n_in, batch, delta, n_out, a_prev, n_in, dW, n_in));
    else
        TRY(clmlp_cl_launch(be, be->k.weight_grad, "weight_grad", 2, (size_t[]){n_in, n_out}, NULL, 6,
                            (clmlp_karg[]){ARG(ub), ARG(ui), ARG(uo), MEM(delta), MEM(a_prev), MEM(dW)}));
    return clmlp_cl_launch(be, be->k.bias_grad, "bias_grad", 1, (size_t[]){n_out}, NULL, 4,
                           (clmlp_karg[]){ARG(ub), ARG(uo), MEM(delta), MEM(db)});
}

static clmlp_status cl_sgd_momentum(clmlp_be *base, size_t count, const clmlp_sgd *sgd, const clmlp_buf *grad,
                                    clmlp_buf *velocity, clmlp_buf *param)
{
    clmlp_cl_be *be = BE(base);
    cl_uint uc;
    clmlp_real_arg a, b, c, d;
    TRY(clmlp_cl_uint(count, "parameter count", &uc));
    return clmlp_cl_launch(be, be->k.sgd_momentum, "sgd_momentum", 1, (size_t[]){count}, NULL, 8,
                           (clmlp_karg[]){ARG(uc), clmlp_cl_real(be, &a, sgd->lr),
                                          clmlp_cl_real(be, &b, sgd->grad_scale), clmlp_cl_real(be, &c, sgd->momentum),
                                          clmlp_cl_real(be, &d, sgd->weight_decay), MEM(grad),
                                          velocity ? MEM(velocity) : NO_BUFFER, MEM(param)});
}

static clmlp_status cl_adam(clmlp_be *base, size_t count, const clmlp_adam *adam, const clmlp_buf *grad, clmlp_buf *m,
                            clmlp_buf *v, clmlp_buf *param)
{
    clmlp_cl_be *be = BE(base);
    cl_uint uc;
    clmlp_real_arg r[9];
    TRY(clmlp_cl_uint(count, "parameter count", &uc));
    return clmlp_cl_launch(
        be, be->k.adam_update, "adam_update", 1, (size_t[]){count}, NULL, 14,
        (clmlp_karg[]){ARG(uc), clmlp_cl_real(be, &r[0], adam->lr / adam->correction1),
                       clmlp_cl_real(be, &r[1], adam->grad_scale), clmlp_cl_real(be, &r[2], adam->beta1),
                       clmlp_cl_real(be, &r[7], 1 - adam->beta1), clmlp_cl_real(be, &r[3], adam->beta2),
                       clmlp_cl_real(be, &r[8], 1 - adam->beta2), clmlp_cl_real(be, &r[4], adam->eps),
                       clmlp_cl_real(be, &r[5], sqrt(adam->correction2)), clmlp_cl_real(be, &r[6], adam->weight_decay),
                       MEM(grad), MEM(m), MEM(v), MEM(param)});
}

static clmlp_status cl_weight_grad_sgd(clmlp_be *base, size_t batch, size_t n_in, size_t n_out, const clmlp_buf *delta,
                                       const clmlp_buf *a_prev, const clmlp_sgd *sgd, clmlp_buf *W, clmlp_buf *vW,
                                       clmlp_buf *b, clmlp_buf *vb)
{
    clmlp_cl_be *be = BE(base);
    if (products_for(be, batch, CLMLP_CL_WEIGHT_GRAD) != CLMLP_PRODUCTS_OWN)
        return clmlp_fail(CLMLP_EINVAL, "weight_grad_sgd needs the own tiled products and a batch > 1");
    clmlp_real_arg lr, scale, momentum, decay;
    clmlp_karg epilogue[] = {MEM(vW),
                             MEM(b),
                             MEM(vb),
                             clmlp_cl_real(be, &lr, sgd->lr),
                             clmlp_cl_real(be, &scale, sgd->grad_scale),
                             clmlp_cl_real(be, &momentum, sgd->momentum),
                             clmlp_cl_real(be, &decay, sgd->weight_decay)};
    return clmlp_cl_launch_product(be, be->k.gemm_tn_sgd, "gemm_tn_sgd", 0, tile_rows(be), tile_cols(be), n_out, n_in,
                                   batch, delta, n_out, a_prev, n_in, W, n_in, sizeof epilogue / sizeof epilogue[0],
                                   epilogue);
}

static clmlp_status cl_gather_rows(clmlp_be *base, const clmlp_buf *src, size_t cols, const clmlp_buf *idx,
                                   size_t first, size_t rows, clmlp_buf *dst)
{
    cl_uint uc, uf, ur;
    TRY(clmlp_cl_uint(cols, "row length", &uc));
    TRY(clmlp_cl_uint(first, "first index", &uf));
    TRY(clmlp_cl_uint(rows, "rows", &ur));
    return clmlp_cl_launch(BE(base), BE(base)->k.gather_rows, "gather_rows", 1, (size_t[]){rows}, NULL, 6,
                           (clmlp_karg[]){ARG(uc), ARG(uf), ARG(ur), MEM(src), MEM(idx), MEM(dst)});
}

static clmlp_status cl_gather_pixels(clmlp_be *base, const clmlp_buf *src, size_t cols, const clmlp_buf *idx,
                                     size_t first, size_t rows, double scale, double shift, clmlp_buf *dst)
{
    clmlp_cl_be *be = BE(base);
    cl_uint uc, uf, ur;
    clmlp_real_arg s, t;
    TRY(clmlp_cl_uint(cols, "row length", &uc));
    TRY(clmlp_cl_uint(first, "first index", &uf));
    TRY(clmlp_cl_uint(rows, "rows", &ur));
    return clmlp_cl_launch(be, be->k.gather_pixels, "gather_pixels", 1, (size_t[]){rows}, NULL, 8,
                           (clmlp_karg[]){ARG(uc), ARG(uf), ARG(ur), MEM(src), MEM(idx), clmlp_cl_real(be, &s, scale),
                                          clmlp_cl_real(be, &t, shift), MEM(dst)});
}

/* batch_stats and confusion_update (training.cl) run as one work-group of GROUP. */
static clmlp_status cl_batch_stats(clmlp_be *base, size_t batch, size_t n, const clmlp_buf *out, const clmlp_buf *y,
                                   const clmlp_buf *row_loss, size_t step, clmlp_buf *stats)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, un, us = step > UINT_MAX ? UINT_MAX : (cl_uint)step;
    size_t group = group_of(be);
    TRY(clmlp_cl_uint(batch, "batch", &ub));
    TRY(clmlp_cl_uint(n, "output size", &un));
    return clmlp_cl_launch(be, be->k.batch_stats, "batch_stats", 1, &group, &group, 7,
                           (clmlp_karg[]){ARG(ub), ARG(un), MEM(out), MEM(y), MEM(row_loss), ARG(us), MEM(stats)});
}

static clmlp_status cl_confusion_update(clmlp_be *base, size_t batch, size_t n, const clmlp_buf *out,
                                        const clmlp_buf *y, clmlp_buf *confusion)
{
    clmlp_cl_be *be = BE(base);
    cl_uint ub, un, cells;
    size_t group = group_of(be);
    TRY(clmlp_cl_uint(batch, "batch", &ub));
    TRY(clmlp_cl_uint(n, "output size", &un));
    TRY(clmlp_cl_uint(n * n, "confusion cells", &cells));
    return clmlp_cl_launch(be, be->k.confusion_update, "confusion_update", 1, &group, &group, 5,
                           (clmlp_karg[]){ARG(ub), ARG(un), MEM(out), MEM(y), MEM(confusion)});
}

/* The GPU family's launches of train_per_sample take at most this many FLOPs (and at
 * least one sample), so that no launch runs long enough for a display GPU's watchdog. */
#define PER_SAMPLE_LAUNCH_FLOPS 2e8

/* Samples per launch of the GPU family's train_per_sample: about 2 FLOPs per weight for
 * the forward product, 2 for the transposed one (layers above the first) and 4 for the
 * update. */
static size_t per_sample_launch_samples(const clmlp_layers *net)
{
    double flops = 0;
    for (size_t l = 1; l <= net->L; l++)
        flops += (double)net->n[l] * (double)net->n[l - 1] * (l > 1 ? 8 : 6);
    double samples = PER_SAMPLE_LAUNCH_FLOPS / flops;
    return samples < 1 ? 1 : samples > UINT_MAX ? UINT_MAX : (size_t)samples;
}

static clmlp_status cl_train_per_sample(clmlp_be *base, const clmlp_layers *net, const clmlp_buf *pixels, double scale,
                                        double shift, const clmlp_buf *y, const clmlp_buf *order, size_t first,
                                        size_t count, const clmlp_sgd *sgd, clmlp_buf *stats)
{
    clmlp_cl_be *be = BE(base);
    if (net->L < 1 || net->L > CLMLP_CL_PER_SAMPLE_MAX_LAYERS)
        return clmlp_fail(CLMLP_EINVAL, "the fused per-sample kernel takes 1 to %d layers, not %zu",
                          CLMLP_CL_PER_SAMPLE_MAX_LAYERS, net->L);
    cl_uint u[5] = {0, 0, 0, 0, 0}, uL = (cl_uint)net->L, ce = net->loss == CLMLP_LOSS_SOFTMAX_CE, ufirst, ucount,
            ulast;
    size_t work = 0;
    for (size_t l = 0; l <= net->L; l++) {
        TRY(clmlp_cl_uint(net->n[l], "layer size", &u[l]));
        work += l ? 3 * net->n[l] : net->n[0];
    }
    TRY(clmlp_cl_uint(first, "first sample", &ufirst));
    TRY(clmlp_cl_uint(count, "sample count", &ucount));
    TRY(clmlp_cl_uint(first + count, "last sample", &ulast));
    TRY(clmlp_cl_reserve(be, &be->work, work));
    clmlp_real_arg r_lr, r_mom, r_wd, r_scale, r_shift;
    clmlp_karg args[37] = {ARG(uL),
                           ARG(u[0]),
                           ARG(u[1]),
                           ARG(u[2]),
                           ARG(u[3]),
                           ARG(u[4]),
                           ARG(ce),
                           clmlp_cl_real(be, &r_lr, sgd->lr),
                           clmlp_cl_real(be, &r_mom, sgd->momentum),
                           clmlp_cl_real(be, &r_wd, sgd->weight_decay),
                           ARG(ufirst),
                           ARG(ucount),
                           MEM(pixels),
                           clmlp_cl_real(be, &r_scale, scale),
                           clmlp_cl_real(be, &r_shift, shift),
                           MEM(y),
                           MEM(order),
                           MEM(be->work),
                           MEM(stats)};
    for (size_t l = 1; l <= CLMLP_CL_PER_SAMPLE_MAX_LAYERS; l++) { /* unused layers repeat layer 1's buffers */
        const clmlp_layer *ly = &net->layer[l <= net->L ? l : 1];
        args[19 + 4 * (l - 1) + 0] = MEM(ly->W);
        args[19 + 4 * (l - 1) + 1] = MEM(ly->b);
        args[19 + 4 * (l - 1) + 2] = MEM(ly->vW);
        args[19 + 4 * (l - 1) + 3] = MEM(ly->vb);
    }
    if (be->family != CLMLP_CL_GPU) /* per_sample.cl: one work-item, one launch */
        return clmlp_cl_launch(be, be->k.train_per_sample, "train_per_sample", 1, (size_t[]){1}, (size_t[]){1}, 35,
                               args);

    /* per_sample_gpu.cl: one work-group with its local memory, launches of bounded work */
    size_t scratch, weights, budget, group = group_of(be);
    if (!per_sample_local_size(be, net, &scratch, &weights, &budget))
        return clmlp_fail(CLMLP_EINVAL, "the per-sample kernel cannot take this net on this device");
    if (scratch > budget)
        return clmlp_fail(CLMLP_EINVAL,
                          "the per-sample kernel's %zu bytes of activations do not fit the %zu bytes of local memory "
                          "it may use",
                          scratch, budget);
    cl_uint w_local = weights <= budget - scratch;
    args[35] = (clmlp_karg){w_local ? scratch + weights : scratch, NULL}; /* __local real *lmem */
    args[36] = ARG(w_local);
    size_t per_launch = per_sample_launch_samples(net);
    for (size_t done = 0; done < count;) {
        size_t n = count - done < per_launch ? count - done : per_launch;
        ufirst = (cl_uint)(first + done);
        ucount = (cl_uint)n;
        TRY(clmlp_cl_launch(be, be->k.train_per_sample, "train_per_sample", 1, &group, &group, 37, args));
        done += n;
    }
    return CLMLP_OK;
}

const clmlp_backend_ops clmlp_cl_ops = {
    .destroy = clmlp_cl_destroy,
    .mem_alloc = clmlp_cl_mem_alloc,
    .mem_free = clmlp_cl_mem_free,
    .mem_write = clmlp_cl_mem_write,
    .mem_read = clmlp_cl_mem_read,
    .fill = clmlp_cl_fill,
    .can = cl_can,
    .forward_layer = cl_forward_layer,
    .output_delta = cl_output_delta,
    .backprop_delta = cl_backprop_delta,
    .weight_grad = cl_weight_grad,
    .sgd_momentum = cl_sgd_momentum,
    .adam = cl_adam,
    .weight_grad_sgd = cl_weight_grad_sgd,
    .gather_rows = cl_gather_rows,
    .gather_pixels = cl_gather_pixels,
    .batch_stats = cl_batch_stats,
    .confusion_update = cl_confusion_update,
    .train_per_sample = cl_train_per_sample,
    .profile = clmlp_cl_profile_read,
};
