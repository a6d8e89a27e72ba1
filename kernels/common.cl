/*
 * What every clmlp kernel file shares, and every formula of the math written once. The
 * kernel files are concatenated in the order CMakeLists.txt lists them (this one first)
 * and built with -D CLMLP_FP64 for double, without it for float, and with the tile
 * parameters the host derives from the device (src/opencl/cl_tiles.c):
 *   VW          reals per vector: one native vector register (1, 2, 4, 8 or 16)
 *   NN_ROWS, NN_VECS   the gemm_nn / gemm_tn tile: rows x vectors of VW columns
 *   NT_ROWS, NT_COLS   the gemm_nt tile: rows of A x rows of B
 * and with -D CLMLP_GPU the GPU family's instead (src/opencl/cl_tiles_gpu.c):
 *   GPU_WG_M, GPU_WG_N  work-group rows x columns of the products
 *   GPU_TM, GPU_TN      outputs per work-item; GPU_KT the K step through local memory
 *   GPU_VW, GPU_LPAD    reals per global load; padding of the local tiles' rows
 *   GROUP               work-items of the 1-D kernels' groups (reductions, per-sample)
 * Buffers are row-major and batch-major; sizes are uint (the host checks that they fit).
 */
/* The helpers below take and return vectors by value. Where a vector is wider than the
 * target's registers (the 16-wide float or 8-wide double tiles, or an 8-row column sum,
 * on an AVX2 device; 4-wide doubles on an SSE-only one) clang warns that such a function
 * is called differently from one built with the wider ISA (-Wpsabi: POCL compiles with
 * inline defined away, so every helper is a function at that point). A program and the
 * builtins it calls are compiled for the device's one target and inlined: there is no
 * such call between differently built code, and nothing to warn about. */
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wpsabi"
#endif
#ifdef CLMLP_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
typedef double4 real4;
#else
typedef float real;
typedef float4 real4;
#endif

/* the defaults when built without the host's parameters (the offline check) */
#if defined(CLMLP_GPU) && !defined(GPU_WG_M)
#define GPU_WG_M 16
#define GPU_WG_N 16
#define GPU_TM 2
#define GPU_TN 2
#define GPU_KT 16
#define GPU_VW 2
#define GPU_LPAD 1
#define GROUP 256
#endif
#ifndef VW /* the GPU family's elementwise kernels use scalars */
#ifdef CLMLP_GPU
#define VW 1
#else
#define VW 4
#endif
#define NN_ROWS 4
#define NN_VECS 2
#define NT_ROWS 2
#define NT_COLS 4
#endif
#ifndef GROUP /* the CPU family's reductions run in one work-item */
#define GROUP 1
#endif

#define CLMLP_CAT2(a, b) a##b
#define CLMLP_CAT(a, b) CLMLP_CAT2(a, b)
#ifdef CLMLP_FP64
#define REAL_NAME double
#else
#define REAL_NAME float
#endif
#if VW == 1
typedef real realv;
#define VLOADV(i, p) ((p)[i])
#define VSTOREV(v, i, p) ((p)[i] = (v))
#define CONVERT_REALV(x) ((real)(x))
#else
typedef CLMLP_CAT(REAL_NAME, VW) realv;
#define VLOADV CLMLP_CAT(vload, VW)
#define VSTOREV CLMLP_CAT(vstore, VW)
#define CONVERT_REALV CLMLP_CAT(convert_, CLMLP_CAT(REAL_NAME, VW))
#endif

/* Sum of the lanes of v: halves added until 4 lanes remain, then (x + y) + (z + w). */
inline real hsum(realv v)
{
#if VW == 16
    CLMLP_CAT(REAL_NAME, 8) h8 = v.lo + v.hi;
#elif VW == 8
    CLMLP_CAT(REAL_NAME, 8) h8 = v;
#endif
#if VW >= 8
    real4 h4 = h8.lo + h8.hi;
#elif VW == 4
    real4 h4 = v;
#endif
#if VW >= 4
    return (h4.x + h4.y) + (h4.z + h4.w);
#elif VW == 2
    return v.x + v.y;
#else
    return v;
#endif
}

/* sech^2(z) = 4t / (1 + t)^2 with t = exp(-2|z|): exact to rounding, no overflow; for a
 * real and for a vector. */
#define DEFINE_SECH2(T, name)                                                                                          \
    inline T name(T z)                                                                                                 \
    {                                                                                                                  \
        T t = exp((T)-2 * fabs(z));                                                                                    \
        return 4 * t / ((1 + t) * (1 + t));                                                                            \
    }
DEFINE_SECH2(real, sech2)
#if VW > 1
DEFINE_SECH2(realv, sech2v)
#else
#define sech2v sech2
#endif

/* tanh(z) from one exp (Cephes' tanh/tanhf): POCL's builtin tanh costs several times
 * more, in double most of all. |z| < 0.625: a rational (double) or polynomial (float)
 * fit of (tanh(z) - z)/z^3 in z^2, which avoids 1 - t's cancellation near 0; beyond,
 * 1 - 2/(exp(2|z|) + 1), which saturates to 1 without overflow. Defined for real and,
 * in the forward product's epilogue, real4 (the ?: picks per lane on vectors). */
#ifdef CLMLP_FP64
#define TANH_SMALL_FIT(T, z, s)                                                                                        \
    ((z) + (z) * (s) *                                                                                                 \
               (((-9.64399179425052238628e-1 * (s) - 9.92877231001918586564e1) * (s) - 1.61468768441708447952e3) /     \
                ((((s) + 1.12811678491632931402e2) * (s) + 2.23548839060100448583e3) * (s) +                           \
                 4.84406305325125486048e3)))
#else
#define TANH_SMALL_FIT(T, z, s)                                                                                        \
    ((z) + (z) * (s) *                                                                                                 \
               ((((-5.70498872745e-3f * (s) + 2.06390887954e-2f) * (s) - 5.37397155531e-2f) * (s) +                    \
                 1.33314422036e-1f) *                                                                                  \
                    (s) -                                                                                              \
                3.33332819422e-1f))
#endif
#define DEFINE_TANH_EXP(T, name)                                                                                       \
    inline T name(T z)                                                                                                 \
    {                                                                                                                  \
        T x = fabs(z), s = z * z;                                                                                      \
        T small = TANH_SMALL_FIT(T, z, s);                                                                             \
        T large = copysign((T)1 - (T)2 / (exp((T)2 * x) + (T)1), z);                                                   \
        return x < (T)0.625f ? small : large;                                                                          \
    }
DEFINE_TANH_EXP(real, tanh_exp)
DEFINE_TANH_EXP(real4, tanh_exp4)

/* torch's SGD on a parameter w (a real or a vector of them) with gradient
 * grad_scale*grad: g = grad_scale*grad + weight_decay*w; with momentum, *v = momentum*v
 * + g and w - lr*v is returned; without, w - lr*g and *v is neither read nor written
 * (torch keeps no velocity then). */
#define DEFINE_SGD(T, name)                                                                                            \
    inline T name(T w, T grad, T *v, real lr, real grad_scale, real momentum, real weight_decay)                       \
    {                                                                                                                  \
        T g = grad_scale * grad + weight_decay * w;                                                                    \
        if (momentum != 0) {                                                                                           \
            g += momentum * *v;                                                                                        \
            *v = g;                                                                                                    \
        }                                                                                                              \
        return w - lr * g;                                                                                             \
    }
DEFINE_SGD(real, sgd_step)
#if VW > 1
DEFINE_SGD(realv, sgd_stepv)
#else
#define sgd_stepv sgd_step
#endif

/* sgd_step on the parameter at w with its velocity at v (untouched without momentum);
 * w in address space AS (the GPU family's per-sample kernel keeps W in local memory),
 * v always in global memory. */
#define DEFINE_SGD_AT(AS, name)                                                                                        \
    inline void name(AS real *w, __global real *v, real grad, real lr, real grad_scale, real momentum,                 \
                     real weight_decay)                                                                                \
    {                                                                                                                  \
        real vj = momentum != 0 ? *v : 0;                                                                              \
        *w = sgd_step(*w, grad, &vj, lr, grad_scale, momentum, weight_decay);                                          \
        if (momentum != 0)                                                                                             \
            *v = vj;                                                                                                   \
    }
DEFINE_SGD_AT(__global, sgd_at)
#ifdef CLMLP_GPU
DEFINE_SGD_AT(__local, sgd_at_local)
#endif

/* torch's Adam on the parameter at w with moments at m and v (backend.h's clmlp_adam):
 * g = grad_scale*grad + weight_decay*w; m = beta1*m + (1-beta1)*g;
 * v = beta2*v + (1-beta2)*g*g; w -= step_size * m / (sqrt(v) / sqrt_correction2 + eps),
 * with step_size = lr / (1 - beta1^t) and sqrt_correction2 = sqrt(1 - beta2^t). 1-beta1
 * and 1-beta2 come rounded once from double (in float, 1 - 0.999f is 1.3e-5 off). */
inline void adam_at(__global real *w, __global real *m, __global real *v, real grad, real step_size, real grad_scale,
                    real beta1, real one_minus_beta1, real beta2, real one_minus_beta2, real eps,
                    real sqrt_correction2, real weight_decay)
{
    real g = grad_scale * grad + weight_decay * *w;
    real m1 = beta1 * *m + one_minus_beta1 * g;
    real v1 = beta2 * *v + one_minus_beta2 * g * g;
    *m = m1;
    *v = v1;
    *w -= step_size * (m1 / (sqrt(v1) / sqrt_correction2 + eps));
}

/* The output delta and loss of one row of n outputs (the definitions in backend.h):
 *   MSE:        delta = 2(a - y) .* sech^2(z), returns sum  (a - y)^2
 *   softmax-CE: delta = softmax(z)*sum y - y,   returns -sum  y log softmax(z) (z's maximum
 *               subtracted first)
 * with z, a and delta in address space AS and y in YAS: all global (output_delta_*_row),
 * or z, a, delta local and y global in the GPU family (output_delta_*_row_local). */
#ifdef CLMLP_PLANT_MISSING_OUTPUT_SECH2 /* the exercise's first mistake, for the tests */
#define MSE_DELTA(diff, z) (2 * (diff))
#else
#define MSE_DELTA(diff, z) (2 * (diff) * sech2(z))
#endif
#define DEFINE_OUTPUT_DELTA_MSE(AS, YAS, name)                                                                         \
    inline real name(uint n, AS const real *z, AS const real *a, YAS const real *y, AS real *delta)                    \
    {                                                                                                                  \
        real loss = 0;                                                                                                 \
        for (uint k = 0; k < n; k++) {                                                                                 \
            real diff = a[k] - y[k];                                                                                   \
            loss += diff * diff;                                                                                       \
            delta[k] = MSE_DELTA(diff, z[k]);                                                                          \
        }                                                                                                              \
        return loss;                                                                                                   \
    }
#define DEFINE_OUTPUT_DELTA_CE(AS, YAS, name)                                                                          \
    inline real name(uint n, AS const real *z, YAS const real *y, AS real *delta)                                      \
    {                                                                                                                  \
        real zmax = z[0];                                                                                              \
        for (uint k = 1; k < n; k++)                                                                                   \
            zmax = fmax(zmax, z[k]);                                                                                   \
        real sum_exp = 0, sum_y = 0;                                                                                   \
        for (uint k = 0; k < n; k++) {                                                                                 \
            sum_exp += exp(z[k] - zmax);                                                                               \
            sum_y += y[k];                                                                                             \
        }                                                                                                              \
        real log_sum = zmax + log(sum_exp), loss = 0;                                                                  \
        for (uint k = 0; k < n; k++) {                                                                                 \
            loss += y[k] * (log_sum - z[k]);                                                                           \
            delta[k] = exp(z[k] - log_sum) * sum_y - y[k];                                                             \
        }                                                                                                              \
        return loss;                                                                                                   \
    }
DEFINE_OUTPUT_DELTA_MSE(__global, __global, output_delta_mse_row)
DEFINE_OUTPUT_DELTA_CE(__global, __global, output_delta_ce_row)
#ifdef CLMLP_GPU
DEFINE_OUTPUT_DELTA_MSE(__local, __global, output_delta_mse_row_local)
DEFINE_OUTPUT_DELTA_CE(__local, __global, output_delta_ce_row_local)
#endif

/* The index of the largest of n values (the first on ties), in global memory
 * (argmax_row) or, in the GPU family, local memory (argmax_row_local). */
#define DEFINE_ARGMAX(AS, name)                                                                                        \
    inline uint name(AS const real *v, uint n)                                                                         \
    {                                                                                                                  \
        uint best = 0;                                                                                                 \
        for (uint k = 1; k < n; k++)                                                                                   \
            if (v[k] > v[best])                                                                                        \
                best = k;                                                                                              \
        return best;                                                                                                   \
    }
DEFINE_ARGMAX(__global, argmax_row)
#ifdef CLMLP_GPU
DEFINE_ARGMAX(__local, argmax_row_local)
#endif
