/*
 * The forward pass, the deltas of backpropagation, the weight and bias gradients and
 * the plain SGD update. The kernels with a loop over a dimension are the simple
 * one-work-item-per-output form; with batch > 1 the backend may use CLBlast for the
 * products instead and call the elementwise epilogues (bias_act, sech2_mul, bias_grad).
 */

/* z = a_prev*W^T + b, a = tanh(z) or z. Global size (n_out, batch). */
__kernel void forward_layer(uint batch, uint n_in, uint n_out, __global const real *a_prev,
                            __global const real *W, __global const real *b, uint apply_tanh,
                            __global real *z, __global real *a)
{
    size_t j = get_global_id(0), i = get_global_id(1);
    if (i >= batch || j >= n_out)
        return;
    __global const real *x = a_prev + i * n_in, *w = W + j * n_in;
    real s = b[j];
    for (uint k = 0; k < n_in; k++)
        s += x[k] * w[k];
    z[i * n_out + j] = s;
    a[i * n_out + j] = apply_tanh ? tanh_exp(s) : s;
}

/* Epilogue of a GEMM that wrote z = a_prev*W^T: z += b, a = tanh(z) or z.
 * Global size (n, batch): no division to find the column. */
__kernel void bias_act(uint batch, uint n, __global const real *b, uint apply_tanh,
                       __global real *z, __global real *a)
{
    size_t j = get_global_id(0), i = get_global_id(1);
    if (i >= batch || j >= n)
        return;
    size_t e = i * n + j;
    real s = z[e] + b[j];
    z[e] = s;
    a[e] = apply_tanh ? tanh_exp(s) : s;
}

/* The output delta and row losses (common.cl's output_delta_*_row), one row per
 * work-item. Global size batch. */
__kernel void output_delta_mse(uint batch, uint n, __global const real *z, __global const real *a,
                               __global const real *y, __global real *delta, __global real *row_loss)
{
    size_t i = get_global_id(0);
    if (i < batch)
        row_loss[i] = output_delta_mse_row(n, z + i * n, a + i * n, y + i * n, delta + i * n);
}

__kernel void output_delta_ce(uint batch, uint n, __global const real *z, __global const real *y,
                              __global real *delta, __global real *row_loss)
{
    size_t i = get_global_id(0);
    if (i < batch)
        row_loss[i] = output_delta_ce_row(n, z + i * n, y + i * n, delta + i * n);
}

/* Transposed-weight error propagation: delta = (delta_next*W_next) .* sech^2(z).
 * Global size (n, batch). */
__kernel void backprop_delta(uint batch, uint n, uint n_next, __global const real *delta_next,
                             __global const real *W_next, __global const real *z,
                             __global real *delta)
{
    size_t j = get_global_id(0), i = get_global_id(1);
    if (i >= batch || j >= n)
        return;
    __global const real *d = delta_next + i * n_next;
    real s = 0;
    for (uint k = 0; k < n_next; k++)
        s += d[k] * W_next[k * n + j];
    delta[i * n + j] = s * sech2(z[i * n + j]);
}

/* out = g .* sech^2(z); out may alias g. Global size count. */
__kernel void sech2_mul(uint count, __global const real *z, __global const real *g,
                        __global real *out)
{
    size_t e = get_global_id(0);
    if (e < count)
        out[e] = g[e] * sech2(z[e]);
}

/* dW = delta^T*a_prev: the outer products delta_i (x) a_prev_i summed over the batch.
 * Global size (n_in, n_out). */
__kernel void weight_grad(uint batch, uint n_in, uint n_out, __global const real *delta,
                          __global const real *a_prev, __global real *dW)
{
    size_t k = get_global_id(0), j = get_global_id(1);
    if (j >= n_out || k >= n_in)
        return;
    real s = 0;
    for (uint i = 0; i < batch; i++)
        s += delta[i * n_out + j] * a_prev[i * n_in + k];
    dW[j * n_in + k] = s;
}

/* db = sum_rows delta. Global size n_out. */
__kernel void bias_grad(uint batch, uint n_out, __global const real *delta, __global real *db)
{
    size_t j = get_global_id(0);
    if (j >= n_out)
        return;
    real s = 0;
    for (uint i = 0; i < batch; i++)
        s += delta[i * n_out + j];
    db[j] = s;
}
