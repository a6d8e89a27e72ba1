/*
 * What every clmlp kernel file shares. The kernel files are concatenated in the order
 * CMakeLists.txt lists them (this one first) and built with -D CLMLP_FP64 for double,
 * without it for float. Buffers are row-major and batch-major; sizes are uint (the
 * host checks that they fit).
 */
#ifdef CLMLP_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double real;
typedef double8 real8;
#else
typedef float real;
typedef float8 real8;
#endif

/* sech^2(z) = 4t / (1 + t)^2 with t = exp(-2|z|): exact to rounding, no overflow. */
inline real sech2(real z)
{
    real t = exp((real)-2 * fabs(z));
    return 4 * t / ((1 + t) * (1 + t));
}

/* The widest vector the CPU kernels use: VW reals (64 bytes, one AVX-512 register). */
#ifdef CLMLP_FP64
#define VW 8
typedef double8 realv;
#define VLOADV vload8
#define VSTOREV vstore8
#else
#define VW 16
typedef float16 realv;
#define VLOADV vload16
#define VSTOREV vstore16
#endif

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
