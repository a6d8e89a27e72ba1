/*
 * The CPU kernels' tile shapes, from what the device reports: the vector width is one
 * native vector register of the dtype (CL_DEVICE_NATIVE_VECTOR_WIDTH_*), and the
 * register budget follows from the register's size — 64-byte registers are AVX-512's
 * (32 of them), narrower ones AVX/AVX2's or SSE's (16). Each k-step of a product must
 * fit its accumulators, its loaded vectors and a broadcast in that budget, or every FMA
 * spills (as 16 AVX-512-sized accumulators did on an AVX2 Zen 3). The GPU family's
 * shapes are cl_tiles_gpu.c's; parsing, formatting and options dispatch on the family.
 */
#include <stdio.h>
#include <string.h>

#include "../error.h"
#include "cl_common.h"

static int is_power_of_two_vector(unsigned w) { return w == 1 || w == 2 || w == 4 || w == 8 || w == 16; }

/* Registers a k-step of each product needs: gemm_nn / gemm_tn hold rows · vecs
 * accumulators, vecs B vectors and a broadcast; gemm_nt rows · cols accumulators and
 * rows + cols loaded vectors. */
static unsigned nn_registers(const clmlp_cl_tiles *t) { return t->nn_rows * t->nn_vecs + t->nn_vecs + 1; }
static unsigned nt_registers(const clmlp_cl_tiles *t) { return t->nt_rows * t->nt_cols + t->nt_rows + t->nt_cols; }

clmlp_status clmlp_cl_tiles_check(const clmlp_cl_tiles *t)
{
    if (t->family == CLMLP_CL_GPU)
        return clmlp_cl_gpu_shape_check(&t->gpu);
    if (t->family != CLMLP_CL_CPU)
        return clmlp_fail(CLMLP_EINVAL, "tiles: unknown kernel family %d", (int)t->family);
    if (!is_power_of_two_vector(t->vw))
        return clmlp_fail(CLMLP_EINVAL, "tiles: vector width %u is not 1, 2, 4, 8 or 16", t->vw);
    if (t->nn_rows < 1 || t->nn_rows > 16 || t->nn_vecs < 1 || t->nn_vecs > 4 || t->nt_rows < 1 || t->nt_rows > 8 ||
        t->nt_cols < 1 || t->nt_cols > 8)
        return clmlp_fail(CLMLP_EINVAL, "tiles: %u×%u vectors / %u×%u out of range (1–16 × 1–4, 1–8 × 1–8)", t->nn_rows,
                          t->nn_vecs, t->nt_rows, t->nt_cols);
    return CLMLP_OK;
}

clmlp_cl_tiles clmlp_cl_tiles_for(unsigned native_width, unsigned registers)
{
    clmlp_cl_tiles t = {.vw = is_power_of_two_vector(native_width) ? native_width : 4};
    /* the largest of these shapes that fits the budget; the first rows are the shapes
     * measured best on AVX-512 (8 × 2, 4 × 4) and AVX2 (4 × 3, 2 × 4) */
    static const unsigned nn[][2] = {{8, 2}, {4, 3}, {4, 2}, {2, 2}, {1, 1}};
    static const unsigned nt[][2] = {{4, 4}, {2, 4}, {2, 2}, {1, 1}};
    for (size_t i = 0; i < sizeof nn / sizeof nn[0]; i++) {
        t.nn_rows = nn[i][0], t.nn_vecs = nn[i][1];
        if (nn_registers(&t) <= registers)
            break;
    }
    for (size_t i = 0; i < sizeof nt / sizeof nt[0]; i++) {
        t.nt_rows = nt[i][0], t.nt_cols = nt[i][1];
        if (nt_registers(&t) <= registers)
            break;
    }
    return t;
}

clmlp_status clmlp_cl_tiles_of_device(cl_device_id device, clmlp_dtype dtype, clmlp_cl_family family,
                                      clmlp_cl_tiles *out)
{
    if (family == CLMLP_CL_GPU) {
        *out = (clmlp_cl_tiles){.family = CLMLP_CL_GPU};
        return clmlp_cl_gpu_shape_of_device(device, &out->gpu);
    }
    cl_uint width_float = 0, width_real = 0;
    cl_int err = clGetDeviceInfo(device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, sizeof width_float, &width_float, NULL);
    if (err == CL_SUCCESS)
        err = clGetDeviceInfo(
            device, dtype == CLMLP_F64 ? CL_DEVICE_NATIVE_VECTOR_WIDTH_DOUBLE : CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT,
            sizeof width_real, &width_real, NULL);
    if (err != CL_SUCCESS)
        return clmlp_cl_fail("clGetDeviceInfo(CL_DEVICE_NATIVE_VECTOR_WIDTH_*)", err);
    unsigned register_bytes = (unsigned)width_float * 4, registers = register_bytes >= 64 ? 32 : 16;
    *out = clmlp_cl_tiles_for(width_real ? (unsigned)width_real : 1, registers);
    return clmlp_cl_tiles_check(out);
}

size_t clmlp_cl_tiles_pad(const clmlp_cl_tiles *t)
{
    if (t->family == CLMLP_CL_GPU) /* the GPU family's loads are bounds-checked: Oclgrind sees any over-read */
        return 0;
    size_t tile = (size_t)t->nn_vecs * t->vw; /* gemm_nn / gemm_tn over-read a tile's columns */
    return tile > 32 ? tile : 32;
}

int clmlp_cl_tiles_options(const clmlp_cl_tiles *t, char *out, size_t size)
{
    if (t->family == CLMLP_CL_GPU) {
        char gpu[200];
        if (!clmlp_cl_gpu_shape_options(&t->gpu, gpu, sizeof gpu))
            return 0;
        int n = snprintf(out, size, "%s%s", gpu, t->planted_bug ? " -D CLMLP_PLANT_TILE_BUG" : "");
        return n > 0 && (size_t)n < size;
    }
    int n = snprintf(out, size, "-D VW=%u -D NN_ROWS=%u -D NN_VECS=%u -D NT_ROWS=%u -D NT_COLS=%u%s", t->vw, t->nn_rows,
                     t->nn_vecs, t->nt_rows, t->nt_cols, t->planted_bug ? " -D CLMLP_PLANT_TILE_BUG" : "");
    return n > 0 && (size_t)n < size;
}

clmlp_status clmlp_cl_tiles_parse(const char *text, clmlp_cl_tiles *out)
{
    clmlp_cl_tiles t = {0};
    int used = 0;
    if (strncmp(text, "gpu:", 4) == 0) {
        t.family = CLMLP_CL_GPU;
        TRY(clmlp_cl_gpu_shape_parse(text, &t.gpu));
        *out = t;
        return CLMLP_OK;
    }
    if (sscanf(text, "%u:%ux%u:%ux%u%n", &t.vw, &t.nn_rows, &t.nn_vecs, &t.nt_rows, &t.nt_cols, &used) != 5 ||
        text[used] != '\0')
        return clmlp_fail(CLMLP_EINVAL, "tiles '%s' are not VW:RxV:RxC (e.g. 8:4x3:2x4) or gpu:WMxWN:TMxTN:KT:VW:PAD:G",
                          text);
    TRY(clmlp_cl_tiles_check(&t));
    *out = t;
    return CLMLP_OK;
}

int clmlp_cl_tiles_format(const clmlp_cl_tiles *t, char *out, size_t size)
{
    if (t->family == CLMLP_CL_GPU)
        return clmlp_cl_gpu_shape_format(&t->gpu, out, size);
    int n = snprintf(out, size, "%u:%ux%u:%ux%u", t->vw, t->nn_rows, t->nn_vecs, t->nt_rows, t->nt_cols);
    return n > 0 && (size_t)n < size;
}
