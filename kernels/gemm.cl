#ifndef CLMLP_GPU /* the CPU family's (the GPU family's: gemm_gpu.cl) */
/*
 * Register-tiled matrix products for CPU devices (POCL), shaped by the build options
 * (common.cl): in gemm_nn and gemm_tn each work-item computes NN_ROWS rows x NN_VECS
 * vectors of VW columns of C in private accumulators, with NN_VECS vector loads of a B
 * row and NN_ROWS * NN_VECS broadcast FMAs per k; the host picks the shape so that the
 * accumulators, the B vectors and the broadcast fit the ISA's vector registers (no
 * spills). POCL does not vectorize across the work-items of a kernel with a loop, so the
 * vectors are explicit; local size 1. Edge tiles stay vectorized: A rows are clamped, B
 * rows are over-read (every device buffer is padded by at least one tile's columns),
 * only stores are masked.
 */
#define TR NN_ROWS
#define TV NN_VECS
#define TILE_COLS (NN_VECS * VW)

/* Stores the first n (<= VW) columns of v at c. */
inline void store_masked(__global real *c, realv v, uint n)
{
    if (n >= VW) {
        VSTOREV(v, 0, c);
        return;
    }
    real tmp[VW];
    VSTOREV(v, 0, tmp);
    for (uint j = 0; j < n; j++)
        c[j] = tmp[j];
}

/* The tile's rows below M and first `cols` columns into C. */
inline void store_tile(__global real *C, uint ldc, uint row0, uint col0, uint M, uint cols, realv acc[TR][TV])
{
#pragma unroll
    for (uint r = 0; r < TR; r++)
        if (row0 + r < M)
#pragma unroll
            for (uint v = 0; v < TV; v++)
                if (v * VW < cols)
                    store_masked(C + (size_t)(row0 + r) * ldc + col0 + v * VW, acc[r][v], cols - v * VW);
}

/* C (M x N) = A (M x K, row stride lda) . B (K x N, row stride ldb), times sech^2(Z)
 * elementwise when Z (M x N, row stride ldc) is not NULL: the error propagation
 * delta = (delta_next . W_next) .* sech^2(z) in one pass.
 * Global size (ceil(N / TILE_COLS), ceil(M / TR)). */
__kernel void gemm_nn(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B, uint ldb,
                      __global real *C, uint ldc, __global const real *Z)
{
    uint col0 = get_global_id(0) * TILE_COLS, row0 = get_global_id(1) * TR;
    if (col0 >= N || row0 >= M)
        return;
    __global const real *a[TR];
    realv acc[TR][TV];
#pragma unroll
    for (uint r = 0; r < TR; r++) {
        a[r] = A + (size_t)min(row0 + r, M - 1) * lda;
#pragma unroll
        for (uint v = 0; v < TV; v++)
            acc[r][v] = 0;
    }
    __global const real *b = B + col0;
    for (uint k = 0; k < K; k++, b += ldb) {
        realv bk[TV];
#pragma unroll
        for (uint v = 0; v < TV; v++)
            bk[v] = VLOADV(v, b);
#pragma unroll
        for (uint r = 0; r < TR; r++) {
            realv x = (realv)(a[r][k]);
#pragma unroll
            for (uint v = 0; v < TV; v++)
                acc[r][v] = fma(x, bk[v], acc[r][v]);
        }
    }
    if (Z) /* rows past M read row M - 1 (never stored); columns past N, the padding */
#pragma unroll
        for (uint r = 0; r < TR; r++) {
            __global const real *z = Z + (size_t)min(row0 + r, M - 1) * ldc + col0;
#pragma unroll
            for (uint v = 0; v < TV; v++)
                acc[r][v] *= sech2v(VLOADV(v, z));
        }
    store_tile(C, ldc, row0, col0, M, min(N - col0, (uint)TILE_COLS), acc);
}

/* The column sums of A's TR columns are kept in one vector register where TR is a
 * vector size (a scalar per row would cost TR more registers in the k-loop). */
#if TR == 2 || TR == 4 || TR == 8 || TR == 16
typedef CLMLP_CAT(REAL_NAME, TR) real_rows;
#define VLOAD_ROWS CLMLP_CAT(vload, TR)
#define VSTORE_ROWS CLMLP_CAT(vstore, TR)
#endif

/* The loop of A^T . B shared by gemm_tn and gemm_tn_sgd: the tile's accumulators for
 * rows row0.. and columns col0.., and when with_sums (a constant at every call, so each
 * caller gets its own loop) the column sums of A's TR columns in asum. A's columns past
 * M read the next row or the padding: never stored. */
inline void tn_accumulate(uint K, __global const real *A, uint lda, __global const real *B, uint ldb, uint row0,
                          uint col0, realv acc[TR][TV], int with_sums, real asum[TR])
{
#ifdef VLOAD_ROWS
    real_rows sums = 0;
#else
    real sums[TR];
#pragma unroll
    for (uint r = 0; r < TR; r++)
        sums[r] = 0;
#endif
#pragma unroll
    for (uint r = 0; r < TR; r++)
#pragma unroll
        for (uint v = 0; v < TV; v++)
            acc[r][v] = 0;
    __global const real *a = A + row0, *b = B + col0;
    for (uint k = 0; k < K; k++, a += lda, b += ldb) {
        realv bk[TV];
#pragma unroll
        for (uint v = 0; v < TV; v++)
            bk[v] = VLOADV(v, b);
#ifdef VLOAD_ROWS
        if (with_sums)
            sums += VLOAD_ROWS(0, a);
#endif
#pragma unroll
        for (uint r = 0; r < TR; r++) {
            real ak = a[r];
#ifndef VLOAD_ROWS
            if (with_sums)
                sums[r] += ak;
#endif
#pragma unroll
            for (uint v = 0; v < TV; v++)
                acc[r][v] = fma((realv)ak, bk[v], acc[r][v]);
        }
    }
#ifdef VLOAD_ROWS
    VSTORE_ROWS(sums, 0, asum);
#else
#pragma unroll
    for (uint r = 0; r < TR; r++)
        asum[r] = sums[r];
#endif
}

/* C (M x N) = A^T . B with A stored K x M (row stride lda) and B K x N (row stride ldb):
 * the sum over k of outer products, e.g. dW = delta^T . a_prev over a batch.
 * Global size (ceil(N / TILE_COLS), ceil(M / TR)). */
__kernel void gemm_tn(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B, uint ldb,
                      __global real *C, uint ldc)
{
    uint col0 = get_global_id(0) * TILE_COLS, row0 = get_global_id(1) * TR;
    if (col0 >= N || row0 >= M)
        return;
    realv acc[TR][TV];
    real asum[TR];
    tn_accumulate(K, A, lda, B, ldb, row0, col0, acc, 0, asum);
    store_tile(C, ldc, row0, col0, M, min(N - col0, (uint)TILE_COLS), acc);
}

/* sgd_step (common.cl) on the first n (<= VW) elements of a parameter row w with
 * velocity v, from the gradient vector grad. */
inline void sgd_vector(__global real *w, __global real *v, realv grad, uint n, real lr, real grad_scale,
                       real momentum, real weight_decay)
{
    if (n >= VW) {
        realv vk = momentum != 0 ? VLOADV(0, v) : 0;
        VSTOREV(sgd_stepv(VLOADV(0, w), grad, &vk, lr, grad_scale, momentum, weight_decay), 0, w);
        if (momentum != 0)
            VSTOREV(vk, 0, v);
        return;
    }
    real g[VW];
    VSTOREV(grad, 0, g);
    for (uint j = 0; j < n; j++)
        sgd_at(w + j, v + j, g[j], lr, grad_scale, momentum, weight_decay);
}

/* The weight gradient with the SGD step in its epilogue, for training, where dW itself
 * is never needed: dW = A^T . B (A = delta, K x M; B = a_prev, K x N) updates W (M x N)
 * and its velocity vW in place, and the tiles of column 0 update b and vb with the column
 * sums of A (db = sum over the batch of delta). Arguments as gemm_tn's with C = W.
 * Global size (ceil(N / TILE_COLS), ceil(M / TR)). */
__kernel void gemm_tn_sgd(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B,
                          uint ldb, __global real *W, uint ldw, __global real *vW, __global real *bias,
                          __global real *vbias, real lr, real grad_scale, real momentum, real weight_decay)
{
    uint col0 = get_global_id(0) * TILE_COLS, row0 = get_global_id(1) * TR;
    if (col0 >= N || row0 >= M)
        return;
    realv acc[TR][TV];
    real asum[TR];
    if (col0 == 0) /* only the first column of tiles needs db: the other tiles' loop keeps no sums */
        tn_accumulate(K, A, lda, B, ldb, row0, col0, acc, 1, asum);
    else
        tn_accumulate(K, A, lda, B, ldb, row0, col0, acc, 0, asum);
    uint cols = min(N - col0, (uint)TILE_COLS);
#pragma unroll
    for (uint r = 0; r < TR; r++)
        if (row0 + r < M)
#pragma unroll
            for (uint v = 0; v < TV; v++)
                if (v * VW < cols) {
                    size_t e = (size_t)(row0 + r) * ldw + col0 + v * VW;
                    sgd_vector(W + e, vW + e, acc[r][v], min(cols - v * VW, (uint)VW), lr, grad_scale, momentum,
                               weight_decay);
                }
    if (col0 == 0)
        for (uint r = 0; r < TR && row0 + r < M; r++)
            sgd_at(bias + row0 + r, vbias + row0 + r, asum[r], lr, grad_scale, momentum, weight_decay);
}

/* C (M x N) = A . B^T with A stored M x K and B stored N x K (row strides lda, ldb): the
 * forward product z = a_prev . W^T with W as stored. Dot-product form: each work-item
 * takes NT_ROWS rows of A and NT_COLS rows of B, multiplies them VW elements of k at a
 * time into NT_ROWS * NT_COLS vector accumulators, and sums each one's lanes at the end.
 * With bias not NULL, the layer's epilogue as well: C = z + bias and act = tanh(C) (C
 * when !apply_tanh). Global size (ceil(M / NT_ROWS), ceil(N / NT_COLS)): neighbouring
 * work-items share the rows of B (W), which ran 12 % faster in double than sharing
 * those of A. */
__kernel void gemm_nt(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B, uint ldb,
                      __global real *C, uint ldc, __global const real *bias, uint apply_tanh, __global real *act)
{
    uint row0 = get_global_id(0) * NT_ROWS, col0 = get_global_id(1) * NT_COLS;
    if (col0 >= N || row0 >= M)
        return;
    __global const real *a[NT_ROWS], *b[NT_COLS];
    realv acc[NT_ROWS][NT_COLS];
#pragma unroll
    for (uint r = 0; r < NT_ROWS; r++) {
        a[r] = A + (size_t)min(row0 + r, M - 1) * lda;
#pragma unroll
        for (uint c = 0; c < NT_COLS; c++)
            acc[r][c] = 0;
    }
#pragma unroll
    for (uint c = 0; c < NT_COLS; c++)
        b[c] = B + (size_t)min(col0 + c, N - 1) * ldb;
    uint k = 0;
    for (; k + VW <= K; k += VW) {
        realv x[NT_ROWS], y[NT_COLS];
#pragma unroll
        for (uint r = 0; r < NT_ROWS; r++)
            x[r] = VLOADV(0, a[r] + k);
#pragma unroll
        for (uint c = 0; c < NT_COLS; c++)
            y[c] = VLOADV(0, b[c] + k);
#pragma unroll
        for (uint r = 0; r < NT_ROWS; r++)
#pragma unroll
            for (uint c = 0; c < NT_COLS; c++)
                acc[r][c] = fma(x[r], y[c], acc[r][c]);
    }
    real s[NT_ROWS][NT_COLS];
#pragma unroll
    for (uint r = 0; r < NT_ROWS; r++)
#pragma unroll
        for (uint c = 0; c < NT_COLS; c++)
            s[r][c] = hsum(acc[r][c]);
#ifdef CLMLP_PLANT_TILE_BUG /* the tuner's tests: a wrong candidate, which its check must reject */
    K -= K % VW != 0;
#endif
    for (; k < K; k++) /* the tail of k, when K is not a multiple of VW */
#pragma unroll
        for (uint r = 0; r < NT_ROWS; r++)
#pragma unroll
            for (uint c = 0; c < NT_COLS; c++)
                s[r][c] += a[r][k] * b[c][k];
    uint cols = min(N - col0, (uint)NT_COLS);
    for (uint r = 0; r < NT_ROWS && row0 + r < M; r++) {
        size_t e = (size_t)(row0 + r) * ldc + col0;
        uint c = 0;
#if NT_COLS % 4 == 0 /* whole groups of 4 columns in vectors (tanh_exp4) */
        for (; c + 4 <= cols; c += 4) {
            real4 z = (real4)(s[r][c], s[r][c + 1], s[r][c + 2], s[r][c + 3]);
            if (bias) { /* the layer's epilogue: z += b, a = tanh(z) or z */
                z += vload4(0, bias + col0 + c);
                vstore4(apply_tanh ? tanh_exp4(z) : z, 0, act + e + c);
            }
            vstore4(z, 0, C + e + c);
        }
#endif
        for (; c < cols; c++) {
            real z = s[r][c];
            if (bias) {
                z += bias[col0 + c];
                act[e + c] = apply_tanh ? tanh_exp(z) : z;
            }
            C[e + c] = z;
        }
    }
}

#endif
