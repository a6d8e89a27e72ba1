/*
 * The tuner and its database: a candidate built wrong (-D CLMLP_PLANT_TILE_BUG) is
 * rejected by the check against the host path and never chosen; a corrupt, foreign or
 * truncated database entry is ignored (the device's default shape is used) and the next
 * store rebuilds the file, keeping the other valid records; a stored shape is what a
 * new net of the same width class runs with.
 */
#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "opencl/cl_common.h"
#include "tmp_dir.h"

static const size_t sizes[] = {40, 24, 10};

/* Shapes of the family CLMLP_KERNELS asks for (the suite runs for both). */
static int gpu_family(void)
{
    const char *family = getenv("CLMLP_KERNELS");
    return family && strcmp(family, "gpu") == 0;
}

static clmlp_cl_tiles tiles_of(const char *cpu, const char *gpu)
{
    clmlp_cl_tiles t;
    TEST_OK(clmlp_cl_tiles_parse(gpu_family() ? gpu : cpu, &t));
    return t;
}

static void planted_candidate_is_rejected(void **state)
{
    (void)state;
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        skip();
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = CLMLP_F32;
    cfg.products = CLMLP_PRODUCTS_OWN;
    TEST_OK(clmlp_config_resolve(&cfg, &cfg));
    /* the planted one first: were it not rejected, it could win */
    clmlp_cl_tiles candidates[2], best = {0};
    candidates[0] = candidates[1] = tiles_of("4:4x2:2x4", "gpu:4x4:2x2:8:2:1:16");
    candidates[0].planted_bug = 1;
    clmlp_tune_report report;
    memset(&report, 0, sizeof report);
    TEST_OK(clmlp_cl_tune_search(&cfg, sizes, 3, 16, candidates, 2, &best, &report));
    assert_int_equal(report.candidates, 2);
    assert_int_equal(report.rejected, 1);
    assert_int_equal(best.planted_bug, 0);
    /* with only the planted candidate there is nothing to choose */
    TEST_FAILS(CLMLP_EOPENCL, clmlp_cl_tune_search(&cfg, sizes, 3, 16, candidates, 1, &best, &report));
}

static const char *kernel_info_of_new_net(void)
{
    static char info[128];
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_OPENCL;
    cfg.dtype = CLMLP_F32;
    clmlp_net *net = NULL;
    TEST_OK(clmlp_create(sizes, 3, &cfg, &net));
    snprintf(info, sizeof info, "%s", clmlp_kernel_info(net));
    clmlp_destroy(net);
    return info;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void corrupt_database_is_ignored_and_rebuilt(void **state)
{
    (void)state;
    if (getenv("CLMLP_TEST_HOST_ONLY"))
        skip();
    assert_int_equal(test_tmp_dir_create("clmlp_tune"), 0);
    setenv("CLMLP_CACHE_DIR", test_tmp_dir(), 1);
    const char *db = test_tmp_path("tuning.txt");

    /* garbage, a record with a wrong CRC and a well-formed record of another device */
    write_text(db, "not a record\n"
                   "clmlp-tuning-1 0123456789abcdef 2:1x1:1x1 00000000\n"
                   "clmlp-tuning-1 ffffffffffffffff 2:1x1:1x1 \n");
    assert_non_null(strstr(kernel_info_of_new_net(), "(device default)"));

    /* a corrupt record for this very net: ignored too */
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.dtype = CLMLP_F32;
    TEST_OK(clmlp_config_resolve(&cfg, &cfg));
    clmlp_cl_tiles tuned = tiles_of("2:3x1:1x3", "gpu:8x8:1x2:8:2:1:32");
    const char *tuned_text = gpu_family() ? " gpu:8x8:1x2:8:2:1:32 " : " 2:3x1:1x3 ";
    clmlp_be *be;
    TEST_OK(clmlp_cl_backend_create_tiled(&cfg, &tuned, &be));
    TEST_OK(clmlp_cl_tuning_store((clmlp_cl_be *)be, sizes, 3, &tuned));
    FILE *f = fopen(db, "r");
    char line[256] = "";
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    char flipped[256];
    snprintf(flipped, sizeof flipped, "%s", line);
    char *tiles = strstr(flipped, tuned_text);
    assert_non_null(tiles);
    tiles[gpu_family() ? 5 : 1] = '4'; /* 4:3x1:1x3 or gpu:4x8:…: a valid shape, but the CRC no longer matches */
    write_text(db, flipped);
    assert_non_null(strstr(kernel_info_of_new_net(), "(device default)"));

    /* a store rebuilds the file: the record is found, the net runs with it */
    write_text(db, "garbage\n");
    TEST_OK(clmlp_cl_tuning_store((clmlp_cl_be *)be, sizes, 3, &tuned));
    const char *info = kernel_info_of_new_net();
    char expected[64];
    snprintf(expected, sizeof expected, "tiles %.*s (tuned)", (int)strlen(tuned_text) - 2, tuned_text + 1);
    assert_non_null(strstr(info, expected));
    assert_null(strstr(info, "CLBlast"));
    f = fopen(db, "r");
    assert_non_null(f);
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++, assert_null(strstr(line, "garbage"));
    fclose(f);
    assert_int_equal(lines, 1);

    /* the tuner's finding that CLBlast computes a product faster is kept and used */
    tuned.clblast = CLMLP_CL_FORWARD | CLMLP_CL_WEIGHT_GRAD;
    TEST_OK(clmlp_cl_tuning_store((clmlp_cl_be *)be, sizes, 3, &tuned));
    assert_non_null(strstr(kernel_info_of_new_net(), "products own but CLBlast for forward weight-grad"));
    be->ops->destroy(be);
    test_tmp_dir_remove();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(planted_candidate_is_rejected),
        cmocka_unit_test(corrupt_database_is_ignored_and_rebuilt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
