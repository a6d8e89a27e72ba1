#ifndef CLMLP_GPU /* the CPU family's (the GPU family's: per_sample_gpu.cl) */
/*
 * Per-sample SGD (batch 1, the exercise's mode) for nets of up to 4 layers, as one
 * kernel that runs `count` consecutive steps of the epoch: a launch per step costs more
 * than a small net's arithmetic, so the whole loop stays on the device. One work-item:
 * the steps are sequential by nature. Per step: forward, output delta, counters, and
 * for l = L..1 the delta of layer l-1 (from the old W[l]) then the update of W[l], b[l].
 * `work` holds the sample's inputs (n_0, from its pixels: fma(p, x_scale, x_shift)),
 * then z, a and delta of every layer (n_0 + 3 * sum of n_l for l >= 1).
 */

#define LAYER(l, x1, x2, x3, x4) ((l) == 1 ? (x1) : (l) == 2 ? (x2) : (l) == 3 ? (x3) : (x4))

/* The inner loops in explicit vectors: one work-item is not vectorized for us. */

/* b + sum_k a[k] w[k] */
inline real dot_plus(real b, __global const real *a, __global const real *w, uint n)
{
    realv acc = 0;
    uint k = 0;
    for (; k + VW <= n; k += VW)
        acc = fma(VLOADV(0, a + k), VLOADV(0, w + k), acc);
    real sum = b + hsum(acc);
    for (; k < n; k++)
        sum += a[k] * w[k];
    return sum;
}

/* y += alpha x */
inline void axpy(real alpha, __global const real *x, __global real *y, uint n)
{
    uint k = 0;
    for (; k + VW <= n; k += VW)
        VSTOREV(fma((realv)alpha, VLOADV(0, x + k), VLOADV(0, y + k)), 0, y + k);
    for (; k < n; k++)
        y[k] += alpha * x[k];
}

/* sgd_step on one row of W: its gradient is d*a (batch 1) */
inline void sgd_outer_row(real lr, real momentum, real weight_decay, real d, __global const real *a,
                          __global real *v, __global real *w, uint n)
{
    uint k = 0;
    for (; k + VW <= n; k += VW) {
        realv vk = momentum != 0 ? VLOADV(0, v + k) : 0;
        VSTOREV(sgd_stepv(VLOADV(0, w + k), d * VLOADV(0, a + k), &vk, lr, 1, momentum, weight_decay), 0, w + k);
        if (momentum != 0)
            VSTOREV(vk, 0, v + k);
    }
    for (; k < n; k++)
        sgd_at(w + k, v + k, d * a[k], lr, 1, momentum, weight_decay);
}

__kernel void train_per_sample(uint L, uint n0, uint n1, uint n2, uint n3, uint n4, uint softmax_ce, real lr,
                               real momentum, real weight_decay, uint first, uint count,
                               __global const uchar *X, real x_scale, real x_shift, __global const real *Y,
                               __global const uint *order,
                               __global real *work, __global real *stats,
                               __global real *W1, __global real *b1, __global real *vW1, __global real *vb1,
                               __global real *W2, __global real *b2, __global real *vW2, __global real *vb2,
                               __global real *W3, __global real *b3, __global real *vW3, __global real *vb3,
                               __global real *W4, __global real *b4, __global real *vW4, __global real *vb4)
{
    if (get_global_id(0) != 0)
        return;
    uint n[5] = {n0, n1, n2, n3, n4};
    /* work: x, then z[l], a[l], delta[l] for l = 1..L, one after another */
    size_t offset[5] = {0, n0, 0, 0, 0};
    for (uint l = 2; l <= L; l++)
        offset[l] = offset[l - 1] + 3 * (size_t)n[l - 1];
    __global real *x = work;
    real loss_sum = 0, correct = 0;
    for (uint s = 0; s < count; s++) {
        uint sample = order[first + s];
        __global const real *y = Y + (size_t)sample * n[L];
        for (uint k = 0; k < n0; k++)
            x[k] = fma((real)X[(size_t)sample * n0 + k], x_scale, x_shift);

        /* forward */
        for (uint l = 1; l <= L; l++) {
            __global const real *W = LAYER(l, W1, W2, W3, W4), *b = LAYER(l, b1, b2, b3, b4);
            __global const real *a_prev = l == 1 ? x : work + offset[l - 1] + n[l - 1];
            __global real *z = work + offset[l], *a = z + n[l];
            int linear = softmax_ce && l == L;
            for (uint j = 0; j < n[l]; j++) {
                real sum = dot_plus(b[j], a_prev, W + (size_t)j * n[l - 1], n[l - 1]);
                z[j] = sum;
                a[j] = linear ? sum : tanh_exp(sum);
            }
        }

        /* output delta, loss, correct */
        __global real *zL = work + offset[L], *aL = zL + n[L], *dL = aL + n[L];
        correct += argmax_row(aL, n[L]) == argmax_row(y, n[L]);
        loss_sum += softmax_ce ? output_delta_ce_row(n[L], zL, y, dL) : output_delta_mse_row(n[L], zL, aL, y, dL);
        if (!isfinite(loss_sum) && stats[2] == 0)
            stats[2] = first + s + 1;

        /* backward: delta of layer l-1 from the old W[l], then W[l] and b[l] move */
        for (uint l = L; l >= 1; l--) {
            __global real *W = LAYER(l, W1, W2, W3, W4), *b = LAYER(l, b1, b2, b3, b4);
            __global real *vW = LAYER(l, vW1, vW2, vW3, vW4), *vb = LAYER(l, vb1, vb2, vb3, vb4);
            __global const real *delta = work + offset[l] + 2 * n[l];
            __global const real *a_prev = l == 1 ? x : work + offset[l - 1] + n[l - 1];
            if (l > 1) {
                __global const real *z_prev = work + offset[l - 1];
                __global real *d_prev = work + offset[l - 1] + 2 * n[l - 1];
                for (uint k = 0; k < n[l - 1]; k++)
                    d_prev[k] = 0;
                for (uint j = 0; j < n[l]; j++)
                    axpy(delta[j], W + (size_t)j * n[l - 1], d_prev, n[l - 1]);
                for (uint k = 0; k < n[l - 1]; k++)
                    d_prev[k] *= sech2(z_prev[k]);
            }
            for (uint j = 0; j < n[l]; j++) {
                sgd_outer_row(lr, momentum, weight_decay, delta[j], a_prev, vW + (size_t)j * n[l - 1],
                              W + (size_t)j * n[l - 1], n[l - 1]);
                sgd_at(b + j, vb + j, delta[j], lr, 1, momentum, weight_decay);
            }
        }
    }
    stats[0] += loss_sum;
    stats[1] += correct;
}
#endif
