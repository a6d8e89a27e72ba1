/*
 * Register-tiled matrix products for CPU devices (POCL). In gemm_nn and gemm_tn each
 * work-item computes TR = 8 rows x 2 VW columns of C in 16 explicit vector accumulators
 * (two per row: 8 alone leave the FMA units waiting on each other, most of all in
 * double), with two vector loads of a B row and 16 broadcast FMAs per k. POCL does not
 * vectorize across work-items of a kernel with a loop, so the vectors are written out;
 * local size 1. Edge tiles stay vectorized: A rows are clamped, B rows are over-read
 * (every device buffer is padded by CLMLP_PAD >= 2 VW elements), only stores are masked.
 */
#define TR 8
#define TILE_COLS (2 * VW)

/* X(r) for the 8 rows of a tile. */
#define FOR_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

#define DECLARE_ACC(r) realv acc##r##_0 = 0, acc##r##_1 = 0;
/* Row r += x * (bk0, bk1): two broadcast FMAs. */
#define FMA_ROW(r, x)                                                                        \
    acc##r##_0 = fma((realv)(x), bk0, acc##r##_0);                                           \
    acc##r##_1 = fma((realv)(x), bk1, acc##r##_1);

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

/* The first `cols` (<= 2 VW) columns of row r of the tile into C. */
#define STORE_ROW(r)                                                                         \
    if (row0 + r < M) {                                                                      \
        __global real *c = C + (size_t)(row0 + r) * ldc + col0;                              \
        store_masked(c, acc##r##_0, cols);                                                   \
        if (cols > VW)                                                                       \
            store_masked(c + VW, acc##r##_1, cols - VW);                                     \
    }

/* C (M x N) = A (M x K, row stride lda) . B (K x N, row stride ldb), times sech^2(Z)
 * elementwise when Z (M x N, row stride ldc) is not NULL: the error propagation
 * delta = (delta_next . W_next) .* sech^2(z) in one pass.
 * Global size (ceil(N / TILE_COLS), ceil(M / TR)). */
__kernel void gemm_nn(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B,
                      uint ldb, __global real *C, uint ldc, __global const real *Z)
{
    uint col0 = get_global_id(0) * TILE_COLS, row0 = get_global_id(1) * TR;
    if (col0 >= N || row0 >= M)
        return;
#define A_ROW(r) __global const real *a##r = A + (size_t)min(row0 + r, M - 1) * lda;
    FOR_ROWS(A_ROW)
    FOR_ROWS(DECLARE_ACC)
    __global const real *b = B + col0;
    for (uint k = 0; k < K; k++, b += ldb) {
        realv bk0 = VLOADV(0, b), bk1 = VLOADV(1, b);
#define NN_ROW(r) FMA_ROW(r, a##r[k])
        FOR_ROWS(NN_ROW)
    }
    if (Z) { /* rows past M read row M - 1 (never stored); columns past N, the padding */
#define SECH2_ROW(r)                                                                         \
    {                                                                                        \
        __global const real *z = Z + (size_t)min(row0 + r, M - 1) * ldc + col0;              \
        acc##r##_0 *= sech2v(VLOADV(0, z));                                                  \
        acc##r##_1 *= sech2v(VLOADV(1, z));                                                  \
    }
        FOR_ROWS(SECH2_ROW)
    }
    uint cols = min(N - col0, (uint)TILE_COLS);
    FOR_ROWS(STORE_ROW)
}

/* The loop of A^T . B shared by gemm_tn and gemm_tn_sgd: the tile's accumulators for
 * rows row0.. and columns col0.., and the column sums of A's 8 columns in asum. */
#define TN_ACCUMULATE()                                                                      \
    FOR_ROWS(DECLARE_ACC)                                                                    \
    real8 asum = 0;                                                                          \
    __global const real *a = A + row0, *b = B + col0;                                        \
    for (uint k = 0; k < K; k++, a += lda, b += ldb) {                                       \
        realv bk0 = VLOADV(0, b), bk1 = VLOADV(1, b);                                        \
        real8 ak = vload8(0, a); /* over-reads past M into the padding: never stored */      \
        asum += ak;                                                                          \
        FMA_ROW(0, ak.s0) FMA_ROW(1, ak.s1) FMA_ROW(2, ak.s2) FMA_ROW(3, ak.s3)              \
        FMA_ROW(4, ak.s4) FMA_ROW(5, ak.s5) FMA_ROW(6, ak.s6) FMA_ROW(7, ak.s7)              \
    }

/* C (M x N) = A^T . B with A stored K x M (row stride lda) and B K x N (row stride ldb):
 * the sum over k of outer products, e.g. dW = delta^T . a_prev over a batch.
 * Global size (ceil(N / TILE_COLS), ceil(M / TR)). */
__kernel void gemm_tn(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B,
                      uint ldb, __global real *C, uint ldc)
{
    uint col0 = get_global_id(0) * TILE_COLS, row0 = get_global_id(1) * TR;
    if (col0 >= N || row0 >= M)
        return;
    TN_ACCUMULATE()
    (void)asum;
    uint cols = min(N - col0, (uint)TILE_COLS);
    FOR_ROWS(STORE_ROW)
}

/* torch's SGD step on n elements of a parameter row w with velocity v and gradient
 * grad_scale * grad: g = grad_scale*grad + weight_decay*w; v = momentum*v + g (no
 * velocity at all when momentum is 0, as torch keeps no buffer then); w -= lr*v. */
inline void sgd_row_tile(__global real *w, __global real *v, realv grad, uint n, real lr, real grad_scale,
                         real momentum, real weight_decay)
{
    if (n >= VW) {
        realv wk = VLOADV(0, w), g = grad_scale * grad + weight_decay * wk;
        if (momentum != 0) {
            g += momentum * VLOADV(0, v);
            VSTOREV(g, 0, v);
        }
        VSTOREV(wk - lr * g, 0, w);
        return;
    }
    real gk[VW];
    VSTOREV(grad, 0, gk);
    for (uint j = 0; j < n; j++) {
        real g = grad_scale * gk[j] + weight_decay * w[j];
        if (momentum != 0) {
            g += momentum * v[j];
            v[j] = g;
        }
        w[j] -= lr * g;
    }
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
    TN_ACCUMULATE()
    uint cols = min(N - col0, (uint)TILE_COLS);
#define SGD_ROW(r)                                                                           \
    if (row0 + r < M) {                                                                      \
        size_t e = (size_t)(row0 + r) * ldw + col0;                                          \
        sgd_row_tile(W + e, vW + e, acc##r##_0, min(cols, (uint)VW), lr, grad_scale, momentum, weight_decay); \
        if (cols > VW)                                                                       \
            sgd_row_tile(W + e + VW, vW + e + VW, acc##r##_1, cols - VW, lr, grad_scale, momentum, weight_decay); \
    }
    FOR_ROWS(SGD_ROW)
    if (col0 == 0) {
        real db[8];
        vstore8(asum, 0, db);
        for (uint r = 0; r < 8 && row0 + r < M; r++) {
            real g = grad_scale * db[r] + weight_decay * bias[row0 + r];
            if (momentum != 0) {
                g += momentum * vbias[row0 + r];
                vbias[row0 + r] = g;
            }
            bias[row0 + r] -= lr * g;
        }
    }
}

/* C (M x N) = A . B^T with A stored M x K and B stored N x K (row strides lda, ldb): the
 * forward product z = a_prev . W^T with W as stored. Dot-product form: each work-item
 * takes 4 rows of A and 4 rows of B, multiplies them VW elements of k at a time into 16
 * vector accumulators, and sums each accumulator's lanes at the end. With bias not NULL,
 * the layer's epilogue as well: C = z + bias and act = tanh(C) (C when !apply_tanh).
 * Global size (ceil(M / 4), ceil(N / 4)): neighbouring work-items share the rows of B
 * (W), which ran 12 % faster in double than sharing those of A. */
__kernel void gemm_nt(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B,
                      uint ldb, __global real *C, uint ldc, __global const real *bias, uint apply_tanh,
                      __global real *act)
{
    uint row0 = get_global_id(0) * 4, col0 = get_global_id(1) * 4;
    if (col0 >= N || row0 >= M)
        return;
    __global const real *a0 = A + (size_t)min(row0 + 0, M - 1) * lda, *a1 = A + (size_t)min(row0 + 1, M - 1) * lda,
                        *a2 = A + (size_t)min(row0 + 2, M - 1) * lda, *a3 = A + (size_t)min(row0 + 3, M - 1) * lda;
    __global const real *b0 = B + (size_t)min(col0 + 0, N - 1) * ldb, *b1 = B + (size_t)min(col0 + 1, N - 1) * ldb,
                        *b2 = B + (size_t)min(col0 + 2, N - 1) * ldb, *b3 = B + (size_t)min(col0 + 3, N - 1) * ldb;
    realv c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
    realv c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
    uint k = 0;
    for (; k + VW <= K; k += VW) {
        realv x0 = VLOADV(0, a0 + k), x1 = VLOADV(0, a1 + k), x2 = VLOADV(0, a2 + k), x3 = VLOADV(0, a3 + k);
        realv y0 = VLOADV(0, b0 + k), y1 = VLOADV(0, b1 + k), y2 = VLOADV(0, b2 + k), y3 = VLOADV(0, b3 + k);
        c00 = fma(x0, y0, c00), c01 = fma(x0, y1, c01), c02 = fma(x0, y2, c02), c03 = fma(x0, y3, c03);
        c10 = fma(x1, y0, c10), c11 = fma(x1, y1, c11), c12 = fma(x1, y2, c12), c13 = fma(x1, y3, c13);
        c20 = fma(x2, y0, c20), c21 = fma(x2, y1, c21), c22 = fma(x2, y2, c22), c23 = fma(x2, y3, c23);
        c30 = fma(x3, y0, c30), c31 = fma(x3, y1, c31), c32 = fma(x3, y2, c32), c33 = fma(x3, y3, c33);
    }
    real s[4][4] = {{hsum(c00), hsum(c01), hsum(c02), hsum(c03)},
                    {hsum(c10), hsum(c11), hsum(c12), hsum(c13)},
                    {hsum(c20), hsum(c21), hsum(c22), hsum(c23)},
                    {hsum(c30), hsum(c31), hsum(c32), hsum(c33)}};
    for (; k < K; k++) { /* the tail of k, when K is not a multiple of VW */
        real x[4] = {a0[k], a1[k], a2[k], a3[k]}, y[4] = {b0[k], b1[k], b2[k], b3[k]};
        for (uint r = 0; r < 4; r++)
            for (uint c = 0; c < 4; c++)
                s[r][c] += x[r] * y[c];
    }
    uint cols = min(N - col0, 4u);
    for (uint r = 0; r < 4 && row0 + r < M; r++) {
        real4 z = (real4)(s[r][0], s[r][1], s[r][2], s[r][3]), a;
        if (bias) { /* the layer's epilogue, in vectors of 4: z += b, a = tanh(z) or z */
            z += vload4(0, bias + col0); /* past N: the padding, never stored */
            a = apply_tanh ? tanh_exp4(z) : z;
        }
        size_t e = (size_t)(row0 + r) * ldc + col0;
        if (cols == 4) {
            vstore4(z, 0, C + e);
            if (bias)
                vstore4(a, 0, act + e);
            continue;
        }
        real zs[4], as[4];
        vstore4(z, 0, zs);
        vstore4(a, 0, as);
        for (uint c = 0; c < cols; c++) {
            C[e + c] = zs[c];
            if (bias)
                act[e + c] = as[c];
        }
    }
}
