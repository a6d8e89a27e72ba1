/*
 * The kernels build without a word from the compiler: every program variant the library
 * and its tests build — both kernel families, f32 and f64, the device's default shapes,
 * the shapes of test_kernels.c's grids, the tuner's candidate lists (cl_tune.c), a
 * planted-bug candidate of each family — is built from source (the program cache off,
 * and POCL's kernel cache off: a cache hit has no log) and its build log must be empty
 * or blank. A warning in a kernel file fails here with the log printed. What clang
 * warns about depends on the device's target: POCL_KERNELLIB_NAME=avx2 (or sse2) makes
 * POCL on an AVX-512 machine compile for an AVX2 (SSE) CPU, where vectors wider than the
 * registers once drew -Wpsabi on every helper (CTest runs the avx2 case too).
 * CLMLP_TEST_BUILD_LOG_VERBOSE=1 prints every variant's options.
 */
#include "support.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "opencl/cl_common.h"

enum { MAX_VARIANTS = 256 };

typedef struct {
    clmlp_dtype dtype;
    clmlp_cl_tiles tiles;
} variant;

static variant variants[MAX_VARIANTS];
static size_t n_variants;

static int blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

static void options_of(const variant *v, char *out, size_t size)
{
    char tiles[200];
    assert_true(clmlp_cl_tiles_options(&v->tiles, tiles, sizeof tiles));
    snprintf(out, size, "%s %s", v->dtype == CLMLP_F64 ? "f64" : "f32", tiles);
}

/* Adds a variant unless one with the same build options is there already. */
static void add(clmlp_dtype dtype, const clmlp_cl_tiles *tiles)
{
    variant v = {dtype, *tiles};
    v.tiles.clblast = 0; /* the products' choice does not change the program */
    char mine[256], other[256];
    options_of(&v, mine, sizeof mine);
    for (size_t i = 0; i < n_variants; i++) {
        options_of(&variants[i], other, sizeof other);
        if (strcmp(mine, other) == 0)
            return;
    }
    assert_true(n_variants < MAX_VARIANTS);
    variants[n_variants++] = v;
}

static void add_text(clmlp_dtype dtype, const char *text)
{
    clmlp_cl_tiles t;
    TEST_OK(clmlp_cl_tiles_parse(text, &t));
    add(dtype, &t);
}

/* The device's default shape of a family in a dtype, and the tuner's candidates around it. */
static void add_device_and_tuner(clmlp_dtype dtype, clmlp_kernels family)
{
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = dtype;
    cfg.kernels = family;
    cfg.tiles[0] = '\0';
    clmlp_be *be;
    TEST_OK(clmlp_cl_backend_create_tiled(&cfg, NULL, &be));
    clmlp_cl_tiles device = ((clmlp_cl_be *)be)->tiles, candidates[CLMLP_CL_TUNE_CANDIDATES];
    be->ops->destroy(be);
    size_t n = clmlp_cl_tune_candidates(&device, candidates);
    assert_true(n >= 2);
    for (size_t i = 0; i < n; i++)
        add(dtype, &candidates[i]);
    clmlp_cl_tiles planted = device; /* test_tune.c's wrong candidate */
    planted.planted_bug = 1;
    add(dtype, &planted);
}

/* test_kernels.c's grids (keep in step with its main and gpu_grid). */
static void add_test_kernels_grids(void)
{
    static const clmlp_cl_tiles cpu[] = {CLMLP_CL_CPU_TILES(16, 8, 2, 4, 4), CLMLP_CL_CPU_TILES(8, 8, 2, 4, 4),
                                         CLMLP_CL_CPU_TILES(8, 4, 3, 2, 4),  CLMLP_CL_CPU_TILES(4, 4, 3, 2, 4),
                                         CLMLP_CL_CPU_TILES(2, 3, 1, 1, 3),  CLMLP_CL_CPU_TILES(1, 1, 1, 1, 1),
                                         CLMLP_CL_CPU_TILES(4, 16, 4, 8, 8)};
    static const clmlp_dtype cpu_dtype[] = {CLMLP_F32, CLMLP_F64, CLMLP_F32, CLMLP_F64,
                                            CLMLP_F32, CLMLP_F64, CLMLP_F32};
    for (size_t i = 0; i < sizeof cpu / sizeof cpu[0]; i++)
        add(cpu_dtype[i], &cpu[i]);
    static const struct {
        clmlp_dtype dtype;
        const char *tiles;
    } gpu[] = {
        {CLMLP_F32, "gpu:16x16:2x2:16:2:1:256"}, {CLMLP_F64, "gpu:16x16:2x2:16:2:1:256"},
        {CLMLP_F32, "gpu:8x8:4x4:16:4:1:64"},    {CLMLP_F64, "gpu:8x8:1x1:8:1:0:64"},
        {CLMLP_F32, "gpu:32x8:4x2:32:4:1:256"},  {CLMLP_F64, "gpu:16x16:4x4:32:4:2:128"},
        {CLMLP_F32, "gpu:8x32:2x4:8:2:1:32"},    {CLMLP_F64, "gpu:4x4:3x3:16:1:1:16"},
        {CLMLP_F32, "gpu:8x8:2x2:16:2:1:64"},
    };
    for (size_t i = 0; i < sizeof gpu / sizeof gpu[0]; i++)
        add_text(gpu[i].dtype, gpu[i].tiles);
}

/* Builds one variant from source; 0 when its log is blank, else prints it. */
static int build_clean(const variant *v, int verbose)
{
    char options[256];
    options_of(v, options, sizeof options);
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = v->dtype;
    cfg.kernels = v->tiles.family == CLMLP_CL_GPU ? CLMLP_KERNELS_GPU : CLMLP_KERNELS_CPU;
    cfg.tiles[0] = '\0';
    clmlp_be *be = NULL;
    clmlp_status s = clmlp_cl_backend_create_tiled(&cfg, &v->tiles, &be);
    if (s != CLMLP_OK) {
        /* a shape beyond this device's limits is refused after its build (the tuner
         * rejects it the same way); its log was still the compiler's, but is gone */
        if (verbose)
            printf("  %-100s refused: %s\n", options, clmlp_last_error());
        return 0;
    }
    int from_cache = ((clmlp_cl_be *)be)->program_from_cache;
    const char *log = clmlp_cl_build_log(be);
    int bad = from_cache || !blank(log);
    if (from_cache)
        printf("  %s: came from the program cache (CLMLP_CACHE_DIR must be off)\n", options);
    else if (bad)
        printf("  %s: build log not empty:\n%s\n", options, log);
    else if (verbose)
        printf("  %-100s clean\n", options);
    be->ops->destroy(be);
    return bad;
}

static void every_variant_builds_clean(void **state)
{
    (void)state;
    const char *verbose_env = getenv("CLMLP_TEST_BUILD_LOG_VERBOSE");
    int verbose = verbose_env && strcmp(verbose_env, "1") == 0;
    for (int f = 0; f < 2; f++)
        for (int d = 0; d < 2; d++)
            add_device_and_tuner(d ? CLMLP_F32 : CLMLP_F64, f ? CLMLP_KERNELS_GPU : CLMLP_KERNELS_CPU);
    add_test_kernels_grids();
    size_t bad = 0;
    for (size_t i = 0; i < n_variants; i++)
        bad += (size_t)build_clean(&variants[i], verbose);
    printf("  %zu program variants built, %zu with a non-empty build log\n", n_variants, bad);
    assert_int_equal(bad, 0);
}

/* The log is what the compiler said: a kernel with a warning in it (one clang gives
 * without options: POCL takes no -W options but -w and -Werror) leaves one. */
static void a_warning_shows_in_the_log(void **state)
{
    (void)state;
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = CLMLP_F32;
    clmlp_be *be;
    TEST_OK(clmlp_cl_backend_create_tiled(&cfg, NULL, &be));
    clmlp_cl_be *cl = (clmlp_cl_be *)be;
    const char *src = "__kernel void k(__global int *x) { x[0] = 1.5f; }";
    cl_int err;
    cl_program program = clCreateProgramWithSource(cl->context, 1, &src, NULL, &err);
    assert_int_equal(err, CL_SUCCESS);
    assert_int_equal(clBuildProgram(program, 1, &cl->device, "-cl-std=CL1.2", NULL, NULL), CL_SUCCESS);
    size_t len = 0;
    assert_int_equal(clGetProgramBuildInfo(program, cl->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len), CL_SUCCESS);
    char *log = calloc(len + 1, 1);
    assert_non_null(log);
    assert_int_equal(clGetProgramBuildInfo(program, cl->device, CL_PROGRAM_BUILD_LOG, len, log, NULL), CL_SUCCESS);
    int seen = !blank(log);
    free(log);
    clReleaseProgram(program);
    be->ops->destroy(be);
    if (!seen)
        skip(); /* this OpenCL compiler keeps warnings out of the log: the test below proves nothing */
}

int main(void)
{
    setenv("CLMLP_CACHE_DIR", "off", 1); /* every create builds its program from source */
    setenv("POCL_KERNEL_CACHE", "0", 1); /* and POCL compiles it, leaving its log */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_warning_shows_in_the_log),
        cmocka_unit_test(every_variant_builds_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
