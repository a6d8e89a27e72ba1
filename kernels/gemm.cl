/*
 * Register-tiled matrix products for CPU devices (POCL): each work-item computes TR
 * rows x VW columns of C with one explicit vector accumulator per row, one vector load
 * of a B row and TR broadcast FMAs per k. POCL does not vectorize across work-items of
 * a kernel with a loop, so the vectors are written out; local size 1.
 * Edge tiles stay vectorized: A rows are clamped, B rows are over-read (every device
 * buffer is padded by CLMLP_PAD elements), and only the stores are masked.
 */
#define TR 8

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

#define STORE_ROW(r, acc)                                                                    \
    if (row0 + r < M)                                                                        \
    store_masked(C + (size_t)(row0 + r) * ldc + col0, acc, cols)

#define STORE_TILE()                                                                         \
    uint cols = N - col0 < VW ? N - col0 : VW;                                               \
    STORE_ROW(0, acc0);                                                                      \
    STORE_ROW(1, acc1);                                                                      \
    STORE_ROW(2, acc2);                                                                      \
    STORE_ROW(3, acc3);                                                                      \
    STORE_ROW(4, acc4);                                                                      \
    STORE_ROW(5, acc5);                                                                      \
    STORE_ROW(6, acc6);                                                                      \
    STORE_ROW(7, acc7)

/* C (M x N) = A (M x K, row stride lda) . B (K x N, row stride ldb).
 * Global size (ceil(N / VW), ceil(M / TR)). */
__kernel void gemm_nn(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B,
                      uint ldb, __global real *C, uint ldc)
{
    uint col0 = get_global_id(0) * VW, row0 = get_global_id(1) * TR;
    if (col0 >= N || row0 >= M)
        return;
    __global const real *a0 = A + (size_t)min(row0 + 0, M - 1) * lda, *a1 = A + (size_t)min(row0 + 1, M - 1) * lda,
                        *a2 = A + (size_t)min(row0 + 2, M - 1) * lda, *a3 = A + (size_t)min(row0 + 3, M - 1) * lda,
                        *a4 = A + (size_t)min(row0 + 4, M - 1) * lda, *a5 = A + (size_t)min(row0 + 5, M - 1) * lda,
                        *a6 = A + (size_t)min(row0 + 6, M - 1) * lda, *a7 = A + (size_t)min(row0 + 7, M - 1) * lda;
    realv acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0, acc4 = 0, acc5 = 0, acc6 = 0, acc7 = 0;
    __global const real *b = B + col0;
    for (uint k = 0; k < K; k++, b += ldb) {
        realv bk = VLOADV(0, b);
        acc0 = fma((realv)(a0[k]), bk, acc0);
        acc1 = fma((realv)(a1[k]), bk, acc1);
        acc2 = fma((realv)(a2[k]), bk, acc2);
        acc3 = fma((realv)(a3[k]), bk, acc3);
        acc4 = fma((realv)(a4[k]), bk, acc4);
        acc5 = fma((realv)(a5[k]), bk, acc5);
        acc6 = fma((realv)(a6[k]), bk, acc6);
        acc7 = fma((realv)(a7[k]), bk, acc7);
    }
    STORE_TILE();
}

/* C (M x N) = A^T . B with A stored K x M (row stride lda) and B K x N (row stride ldb):
 * the sum over k of outer products, e.g. dW = delta^T . a_prev over a batch.
 * Global size (ceil(N / VW), ceil(M / TR)). */
__kernel void gemm_tn(uint M, uint N, uint K, __global const real *A, uint lda, __global const real *B,
                      uint ldb, __global real *C, uint ldc)
{
    uint col0 = get_global_id(0) * VW, row0 = get_global_id(1) * TR;
    if (col0 >= N || row0 >= M)
        return;
    realv acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0, acc4 = 0, acc5 = 0, acc6 = 0, acc7 = 0;
    __global const real *a = A + row0, *b = B + col0;
    for (uint k = 0; k < K; k++, a += lda, b += ldb) {
        realv bk = VLOADV(0, b);
        real8 ak = vload8(0, a); /* over-reads past M into the padding; those rows are not stored */
        acc0 = fma((realv)(ak.s0), bk, acc0);
        acc1 = fma((realv)(ak.s1), bk, acc1);
        acc2 = fma((realv)(ak.s2), bk, acc2);
        acc3 = fma((realv)(ak.s3), bk, acc3);
        acc4 = fma((realv)(ak.s4), bk, acc4);
        acc5 = fma((realv)(ak.s5), bk, acc5);
        acc6 = fma((realv)(ak.s6), bk, acc6);
        acc7 = fma((realv)(ak.s7), bk, acc7);
    }
    STORE_TILE();
}

/* dst (cols x rows) = src^T (src rows x cols). Global size (cols, rows). */
__kernel void transpose(uint rows, uint cols, __global const real *src, __global real *dst)
{
    size_t c = get_global_id(0), r = get_global_id(1);
    if (r < rows && c < cols)
        dst[c * rows + r] = src[r * cols + c];
}
