/*
 * Minibatch training and evaluation on the device: filling buffers, gathering a
 * shuffled batch from the resident dataset, SGD with momentum and weight decay, and the
 * loss / accuracy / confusion counters read once per report.
 */

/* dst[e] = value. Global size count. */
__kernel void fill(uint count, real value, __global real *dst)
{
    size_t e = get_global_id(0);
    if (e < count)
        dst[e] = value;
}

/* dst row r = src row idx[first + r], one row per work-item in explicit vectors (a copy
 * per element left POCL gathering scalars). Global size rows. */
__kernel void gather_rows(uint cols, uint first, uint rows, __global const real *src,
                          __global const uint *idx, __global real *dst)
{
    size_t r = get_global_id(0);
    if (r >= rows)
        return;
    __global const real *from = src + (size_t)idx[first + r] * cols;
    __global real *to = dst + r * cols;
    uint c = 0;
    for (; c + VW <= cols; c += VW)
        VSTOREV(VLOADV(0, from + c), 0, to + c);
    for (; c < cols; c++) /* the tail: the next row belongs to another work-item */
        to[c] = from[c];
}

/* dst row r = fma(pixel, scale, shift) over src row idx[first + r] (bytes): a batch's
 * inputs from a dataset's pixels, one row per work-item in explicit vectors. Global
 * size rows. */
__kernel void gather_pixels(uint cols, uint first, uint rows, __global const uchar *src,
                            __global const uint *idx, real scale, real shift, __global real *dst)
{
    size_t r = get_global_id(0);
    if (r >= rows)
        return;
    __global const uchar *from = src + (size_t)idx[first + r] * cols;
    __global real *to = dst + r * cols;
    uint c = 0;
    for (; c + VW <= cols; c += VW)
        VSTOREV(fma(CONVERT_REALV(VLOADV(0, from + c)), (realv)scale, (realv)shift), 0, to + c);
    for (; c < cols; c++)
        to[c] = fma((real)from[c], scale, shift);
}

/* torch's SGD (common.cl's sgd_step) on count elements. Global size count. */
__kernel void sgd_momentum(uint count, real lr, real grad_scale, real momentum, real weight_decay,
                           __global const real *grad, __global real *velocity, __global real *param)
{
    size_t e = get_global_id(0);
    if (e < count)
        sgd_at(param + e, velocity + e, grad[e], lr, grad_scale, momentum, weight_decay);
}

/* torch's Adam (common.cl's adam_at) on count elements. Global size count. */
__kernel void adam_update(uint count, real step_size, real grad_scale, real beta1, real one_minus_beta1, real beta2,
                          real one_minus_beta2, real eps, real sqrt_correction2, real weight_decay,
                          __global const real *grad, __global real *m, __global real *v, __global real *param)
{
    size_t e = get_global_id(0);
    if (e < count)
        adam_at(param + e, m + e, v + e, grad[e], step_size, grad_scale, beta1, one_minus_beta1, beta2,
                one_minus_beta2, eps, sqrt_correction2, weight_decay);
}

/* stats[0] += sum of row_loss, stats[1] += rows classified right, stats[2] = step if
 * still 0 and the loss is not finite. One work-group of GROUP work-items (one work-item
 * in the CPU family): work-item lid takes rows lid, lid + GROUP, ... in order, and the
 * partial sums are added by a fixed tree in local memory, so results repeat run after
 * run. Global size = local size = GROUP. */
__kernel void batch_stats(uint batch, uint n, __global const real *out, __global const real *y,
                          __global const real *row_loss, uint step, __global real *stats)
{
    __local real loss_part[GROUP], correct_part[GROUP];
    uint lid = get_local_id(0);
    real loss = 0, correct = 0;
    for (uint i = lid; i < batch; i += GROUP) {
        loss += row_loss[i];
        correct += argmax_row(out + (size_t)i * n, n) == argmax_row(y + (size_t)i * n, n);
    }
    loss_part[lid] = loss;
    correct_part[lid] = correct;
    for (uint s = GROUP / 2; s > 0; s /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < s) {
            loss_part[lid] += loss_part[lid + s];
            correct_part[lid] += correct_part[lid + s];
        }
    }
    if (lid == 0) { /* the last step's sums are work-item 0's own */
        stats[0] += loss_part[0];
        stats[1] += correct_part[0];
        if (!isfinite(loss_part[0]) && stats[2] == 0)
            stats[2] = step;
    }
}

/* confusion[true label * n + predicted] += 1 per row, without atomics: one work-group of
 * GROUP work-items (one work-item in the CPU family) takes the rows GROUP at a time, each
 * work-item finding one row's cell; then the work-item lid owns the cells c with
 * c % GROUP == lid and counts, in row order, the rows that fell in them. Global size =
 * local size = GROUP. */
__kernel void confusion_update(uint batch, uint n, __global const real *out, __global const real *y,
                               __global real *confusion)
{
    __local uint cell[GROUP];
    uint lid = get_local_id(0);
    for (uint i0 = 0; i0 < batch; i0 += GROUP) {
        uint i = i0 + lid, rows = batch - i0 < GROUP ? batch - i0 : GROUP;
        if (i < batch)
            cell[lid] = argmax_row(y + (size_t)i * n, n) * n + argmax_row(out + (size_t)i * n, n);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint t = 0; t < rows; t++)
            if (cell[t] % GROUP == lid)
                confusion[cell[t]] += 1;
        barrier(CLK_LOCAL_MEM_FENCE); /* before the next rows overwrite cell */
    }
}
