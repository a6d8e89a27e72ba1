/*
 * What every clmlp kernel file shares. The kernel files are concatenated in the order
 * CMakeLists.txt lists them (this one first) and built with -D CLMLP_FP64 for double,
 * without it for float. Buffers are row-major and batch-major; sizes are uint (the
 * host checks that they fit).
 */
#ifdef CLMLP_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
typedef double4 real4;
typedef double8 real8;
#else
typedef float real;
typedef float4 real4;
typedef float8 real8;
#endif

/* sech^2(z) = 4t / (1 + t)^2 with t = exp(-2|z|): exact to rounding, no overflow. */
inline real sech2(real z)
{
    real t = exp((real)-2 * fabs(z));
    return 4 * t / ((1 + t) * (1 + t));
}

/* tanh(z) from one exp (Cephes' tanh/tanhf): POCL's builtin tanh costs several times
 * more, in double most of all. |z| < 0.625: a rational (double) or polynomial (float)
 * fit of (tanh(z) - z)/z^3 in z^2, which avoids 1 - t's cancellation near 0; beyond,
 * 1 - 2/(exp(2|z|) + 1), which saturates to 1 without overflow. Defined for real and,
 * in the forward product's epilogue, real4 (the ?: picks per lane on vectors). */
#ifdef CLMLP_FP64
#define TANH_SMALL_FIT(T, z, s)                                                              \
    ((z) + (z) * (s) *                                                                       \
               (((-9.64399179425052238628e-1 * (s) - 9.92877231001918586564e1) * (s) -        \
                 1.61468768441708447952e3) /                                                  \
                ((((s) + 1.12811678491632931402e2) * (s) + 2.23548839060100448583e3) * (s) +  \
                 4.84406305325125486048e3)))
#else
#define TANH_SMALL_FIT(T, z, s)                                                              \
    ((z) + (z) * (s) *                                                                       \
               ((((-5.70498872745e-3f * (s) + 2.06390887954e-2f) * (s) - 5.37397155531e-2f) * (s) + \
                 1.33314422036e-1f) * (s) - 3.33332819422e-1f))
#endif
#define DEFINE_TANH_EXP(T, name)                                                             \
    inline T name(T z)                                                                       \
    {                                                                                        \
        T x = fabs(z), s = z * z;                                                            \
        T small = TANH_SMALL_FIT(T, z, s);                                                   \
        T large = copysign((T)1 - (T)2 / (exp((T)2 * x) + (T)1), z);                         \
        return x < (T)0.625f ? small : large;                                                \
    }
DEFINE_TANH_EXP(real, tanh_exp)
DEFINE_TANH_EXP(real4, tanh_exp4)

/* The widest vector the CPU kernels use: VW reals (64 bytes, one AVX-512 register). */
#ifdef CLMLP_FP64
#define VW 8
typedef double8 realv;
#define VLOADV vload8
#define VSTOREV vstore8
#define CONVERT_REALV convert_double8
#else
#define VW 16
typedef float16 realv;
#define VLOADV vload16
#define VSTOREV vstore16
#define CONVERT_REALV convert_float16
#endif

/* sech2 on a vector (the same formula). */
inline realv sech2v(realv z)
{
    realv t = exp((realv)-2 * fabs(z));
    return 4 * t / ((1 + t) * (1 + t));
}

/* Sum of the lanes of v. */
inline real hsum(realv v)
{
#ifdef CLMLP_FP64
    double4 h4 = v.lo + v.hi;
#else
    float8 h8 = v.lo + v.hi;
    float4 h4 = h8.lo + h8.hi;
#endif
    return (h4.x + h4.y) + (h4.z + h4.w);
}
