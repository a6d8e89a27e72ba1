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

/* stats[0] += sum of row_loss, stats[1] += rows classified right, stats[2] = step if
 * still 0 and the loss is not finite. One work-item: the batch is summed in a fixed
 * order, so results repeat run after run. */
__kernel void batch_stats(uint batch, uint n, __global const real *out, __global const real *y,
                          __global const real *row_loss, uint step, __global real *stats)
{
    if (get_global_id(0) != 0)
        return;
    real loss = 0, correct = 0;
    for (uint i = 0; i < batch; i++) {
        loss += row_loss[i];
        correct += argmax_row(out + (size_t)i * n, n) == argmax_row(y + (size_t)i * n, n);
    }
    stats[0] += loss;
    stats[1] += correct;
    if (!isfinite(loss) && stats[2] == 0)
        stats[2] = step;
}

/* confusion[true label * n + predicted] += 1 per row. One work-item (no atomics). */
__kernel void confusion_update(uint batch, uint n, __global const real *out, __global const real *y,
                               __global real *confusion)
{
    if (get_global_id(0) != 0)
        return;
    for (uint i = 0; i < batch; i++)
        confusion[argmax_row(y + (size_t)i * n, n) * n + argmax_row(out + (size_t)i * n, n)] += 1;
}
