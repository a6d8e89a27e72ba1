#ifdef CLMLP_GPU /* the GPU family's (the CPU family's: per_sample.cl) */
/*
 * Per-sample SGD (batch 1) for nets of up to 4 layers on a GPU: one work-group of GROUP
 * work-items runs `count` consecutive steps of the epoch, with the CPU family's
 * semantics (per_sample.cl): per step the forward pass, the output delta, loss, correct
 * count and first non-finite step (one work-item, common.cl's formulas), then for
 * l = L..1 the delta of layer l-1 from the old W[l] and the update of W[l], b[l].
 *   - Dot products (forward): PS_LANES work-items per output, each summing inputs
 *     k = q, q + lanes, ... (neighbouring work-items read neighbouring W[j][k]), the
 *     partial sums added by a fixed tree in local memory: the same order every run.
 *   - Transposed propagation: one work-item per k, summing over j in order (the
 *     work-items of a j read a row of W, coalesced).
 *   - Updates: the work-items stride over the flattened index of W (coalesced).
 * Local memory `lmem` (sized by the host, cl_ops.c: cl_train_per_sample):
 *   x (n0), then z, a, delta of layers 1..L (3 n_l each), then GROUP reals for the
 *   reductions, then, when w_local, W[1], b[1], ..., W[L], b[L]: copied in at the
 *   start of the launch and back at its end (the velocities stay in global memory).
 * Without w_local the steps work on W and b in global memory. Every barrier is
 * reached by all work-items: loop bounds and w_local are uniform across the group.
 * Global size = local size = GROUP; `work` is the CPU family's and unused here.
 */

#define PS_LAYER(l, x1, x2, x3, x4) ((l) == 1 ? (x1) : (l) == 2 ? (x2) : (l) == 3 ? (x3) : (x4))
#define PS_MIN_LANES 16 /* work-items per dot product at least (GROUP if fewer): row reads coalesce */
#define PS_BARRIER() barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE)

/* Work-items per dot product for n_in inputs and n_out outputs (a power of 2): no more
 * than the inputs need, and fewer (down to PS_MIN_LANES) until the group covers the
 * outputs in one pass. */
inline uint ps_lanes(uint n_in, uint n_out)
{
    uint t = GROUP;
    while (t > 1 && t / 2 >= n_in)
        t /= 2;
    while (t > PS_MIN_LANES && t * n_out > GROUP)
        t /= 2;
    return t;
}

/* The three phases of a layer for W and b in address space WAS (__local or __global),
 * SGD_AT the matching common.cl sgd_at. Each ends with a barrier. */
#define DEFINE_PS_LAYER(WAS, SGD_AT, suffix)                                                                           \
    /* z = a_prev W^T + b, a = tanh(z) (a = z when linear) */                                                          \
    inline void ps_forward##suffix(uint n_in, uint n_out, WAS const real *W, WAS const real *b,                        \
                                   __local const real *a_prev, __local real *z, __local real *a, int linear,           \
                                   __local real *red, uint lid)                                                        \
    {                                                                                                                  \
        uint lanes = ps_lanes(n_in, n_out), rows = GROUP / lanes, q = lid % lanes, r = lid / lanes;                    \
        for (uint j0 = 0; j0 < n_out; j0 += rows) {                                                                    \
            uint j = j0 + r;                                                                                           \
            real part = 0;                                                                                             \
            if (j < n_out) {                                                                                           \
                WAS const real *w = W + (size_t)j * n_in;                                                              \
                for (uint k = q; k < n_in; k += lanes)                                                                 \
                    part = fma(a_prev[k], w[k], part);                                                                 \
            }                                                                                                          \
            red[lid] = part;                                                                                           \
            for (uint s = lanes / 2; s > 0; s /= 2) {                                                                  \
                barrier(CLK_LOCAL_MEM_FENCE);                                                                          \
                if (q < s)                                                                                             \
                    red[lid] += red[lid + s];                                                                          \
            }                                                                                                          \
            barrier(CLK_LOCAL_MEM_FENCE);                                                                              \
            if (q == 0 && j < n_out) {                                                                                 \
                real sum = b[j] + red[lid];                                                                            \
                z[j] = sum;                                                                                            \
                a[j] = linear ? sum : tanh_exp(sum);                                                                   \
            }                                                                                                          \
        }                                                                                                              \
        barrier(CLK_LOCAL_MEM_FENCE);                                                                                  \
    }                                                                                                                  \
                                                                                                                       \
    /* d_prev = (delta W) .* sech^2(z_prev): one work-item per k, j in order */                                        \
    inline void ps_backprop##suffix(uint n_in, uint n_out, WAS const real *W, __local const real *delta,               \
                                    __local const real *z_prev, __local real *d_prev, uint lid)                        \
    {                                                                                                                  \
        for (uint k = lid; k < n_in; k += GROUP) {                                                                     \
            real sum = 0;                                                                                              \
            for (uint j = 0; j < n_out; j++)                                                                           \
                sum = fma(delta[j], W[(size_t)j * n_in + k], sum);                                                     \
            d_prev[k] = sum * sech2(z_prev[k]);                                                                        \
        }                                                                                                              \
        PS_BARRIER();                                                                                                  \
    }                                                                                                                  \
                                                                                                                       \
    /* W[j][k], b[j] take sgd's step with gradients delta[j] a_prev[k], delta[j] */                                    \
    inline void ps_update##suffix(uint n_in, uint n_out, WAS real *W, WAS real *b, __global real *vW,                  \
                                  __global real *vb, __local const real *delta, __local const real *a_prev, real lr,   \
                                  real momentum, real weight_decay, uint lid)                                          \
    {                                                                                                                  \
        uint count = n_out * n_in, j = lid / n_in, k = lid % n_in, dj = GROUP / n_in, dk = GROUP % n_in;               \
        for (uint e = lid; e < count; e += GROUP) {                                                                    \
            SGD_AT(W + e, vW + e, delta[j] * a_prev[k], lr, 1, momentum, weight_decay);                                \
            j += dj;                                                                                                   \
            k += dk;                                                                                                   \
            if (k >= n_in) {                                                                                           \
                k -= n_in;                                                                                             \
                j++;                                                                                                   \
            }                                                                                                          \
        }                                                                                                              \
        for (uint jb = lid; jb < n_out; jb += GROUP)                                                                   \
            SGD_AT(b + jb, vb + jb, delta[jb], lr, 1, momentum, weight_decay);                                         \
        PS_BARRIER();                                                                                                  \
    }
DEFINE_PS_LAYER(__local, sgd_at_local, _local)
DEFINE_PS_LAYER(__global, sgd_at, _global)

/* dst[e] = src[e] for e < count, across the group */
inline void ps_copy_in(__local real *dst, __global const real *src, uint count, uint lid)
{
    for (uint e = lid; e < count; e += GROUP)
        dst[e] = src[e];
}

inline void ps_copy_out(__global real *dst, __local const real *src, uint count, uint lid)
{
    for (uint e = lid; e < count; e += GROUP)
        dst[e] = src[e];
}

__kernel __attribute__((reqd_work_group_size(GROUP, 1, 1))) void
train_per_sample(uint L, uint n0, uint n1, uint n2, uint n3, uint n4, uint softmax_ce, real lr, real momentum,
                 real weight_decay, uint first, uint count, __global const uchar *X, real x_scale, real x_shift,
                 __global const real *Y, __global const uint *order, __global real *work, __global real *stats,
                 __global real *W1, __global real *b1, __global real *vW1, __global real *vb1, __global real *W2,
                 __global real *b2, __global real *vW2, __global real *vb2, __global real *W3, __global real *b3,
                 __global real *vW3, __global real *vb3, __global real *W4, __global real *b4, __global real *vW4,
                 __global real *vb4, __local real *lmem, uint w_local)
{
    (void)work;
    uint lid = get_local_id(0);
    uint n[5] = {n0, n1, n2, n3, n4};
    /* lmem: x, then z[l], a[l], delta[l] for l = 1..L, the reduction, W and b */
    uint offset[5] = {0, n0, 0, 0, 0};
    for (uint l = 2; l <= L; l++)
        offset[l] = offset[l - 1] + 3 * n[l - 1];
    __local real *x = lmem, *red = lmem + offset[L] + 3 * n[L];
    uint w_offset[5] = {0, offset[L] + 3 * n[L] + GROUP, 0, 0, 0};
    for (uint l = 2; l <= L; l++)
        w_offset[l] = w_offset[l - 1] + n[l - 1] * n[l - 2] + n[l - 1];
    if (w_local) {
        for (uint l = 1; l <= L; l++) {
            ps_copy_in(lmem + w_offset[l], PS_LAYER(l, W1, W2, W3, W4), n[l] * n[l - 1], lid);
            ps_copy_in(lmem + w_offset[l] + n[l] * n[l - 1], PS_LAYER(l, b1, b2, b3, b4), n[l], lid);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    real loss_sum = 0, correct = 0; /* work-item 0's */
    for (uint s = 0; s < count; s++) {
        uint sample = order[first + s];
        __global const real *y = Y + (size_t)sample * n[L];
        for (uint k = lid; k < n0; k += GROUP)
            x[k] = fma((real)X[(size_t)sample * n0 + k], x_scale, x_shift);
        barrier(CLK_LOCAL_MEM_FENCE);

        /* forward */
        for (uint l = 1; l <= L; l++) {
            __local const real *a_prev = l == 1 ? x : lmem + offset[l - 1] + n[l - 1];
            __local real *z = lmem + offset[l], *a = z + n[l];
            int linear = softmax_ce && l == L;
            if (w_local)
                ps_forward_local(n[l - 1], n[l], lmem + w_offset[l], lmem + w_offset[l] + n[l] * n[l - 1], a_prev, z,
                                 a, linear, red, lid);
            else
                ps_forward_global(n[l - 1], n[l], PS_LAYER(l, W1, W2, W3, W4), PS_LAYER(l, b1, b2, b3, b4), a_prev, z,
                                  a, linear, red, lid);
        }

        /* output delta, loss, correct: one work-item */
        if (lid == 0) {
            __local real *zL = lmem + offset[L], *aL = zL + n[L], *dL = aL + n[L];
            correct += argmax_row_local(aL, n[L]) == argmax_row(y, n[L]);
            loss_sum += softmax_ce ? output_delta_ce_row_local(n[L], zL, y, dL)
                                   : output_delta_mse_row_local(n[L], zL, aL, y, dL);
            if (!isfinite(loss_sum) && stats[2] == 0)
                stats[2] = first + s + 1;
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        /* backward: delta of layer l-1 from the old W[l], then W[l] and b[l] move */
        for (uint l = L; l >= 1; l--) {
            __local const real *delta = lmem + offset[l] + 2 * n[l];
            __local const real *a_prev = l == 1 ? x : lmem + offset[l - 1] + n[l - 1];
            __global real *vW = PS_LAYER(l, vW1, vW2, vW3, vW4), *vb = PS_LAYER(l, vb1, vb2, vb3, vb4);
            if (w_local) {
                __local real *W = lmem + w_offset[l], *b = W + n[l] * n[l - 1];
                if (l > 1)
                    ps_backprop_local(n[l - 1], n[l], W, delta, lmem + offset[l - 1],
                                      lmem + offset[l - 1] + 2 * n[l - 1], lid);
                ps_update_local(n[l - 1], n[l], W, b, vW, vb, delta, a_prev, lr, momentum, weight_decay, lid);
            } else {
                __global real *W = PS_LAYER(l, W1, W2, W3, W4), *b = PS_LAYER(l, b1, b2, b3, b4);
                if (l > 1)
                    ps_backprop_global(n[l - 1], n[l], W, delta, lmem + offset[l - 1],
                                       lmem + offset[l - 1] + 2 * n[l - 1], lid);
                ps_update_global(n[l - 1], n[l], W, b, vW, vb, delta, a_prev, lr, momentum, weight_decay, lid);
            }
        }
    }

    if (w_local)
        for (uint l = 1; l <= L; l++) {
            ps_copy_out(PS_LAYER(l, W1, W2, W3, W4), lmem + w_offset[l], n[l] * n[l - 1], lid);
            ps_copy_out(PS_LAYER(l, b1, b2, b3, b4), lmem + w_offset[l] + n[l] * n[l - 1], n[l], lid);
        }
    if (lid == 0) {
        stats[0] += loss_sum;
        stats[1] += correct;
    }
}
#endif
