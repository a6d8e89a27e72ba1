/*
 * The fuzz corpora (tests/fuzz/corpus/, seeds and every input a fuzzer found to fail)
 * replayed through the same entry points as the libFuzzer targets, in the normal
 * suite: none may crash. Two seeds are also checked for what they hold: a model file
 * written by tests/fuzz/make_corpus.py from the format in docs/model-file.md loads, and
 * an IDX file reads back its bytes.
 */
#include "support.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_targets.h"

static int replay(const char *kind, int (*target)(const uint8_t *, size_t))
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", CLMLP_TEST_SOURCE_DIR, kind);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *data = malloc(1 << 20);
        assert_non_null(data);
        size_t size = fread(data, 1, 1 << 20, f);
        fclose(f);
        target(data, size);
        free(data);
        files++;
    }
    closedir(d);
    return files;
}

static void corpora_replay(void **state)
{
    (void)state;
    assert_true(replay("idx", clmlp_fuzz_idx) >= 5);
    assert_true(replay("model", clmlp_fuzz_model) >= 3);
    assert_true(replay("cache_entry", clmlp_fuzz_cache_entry) >= 2);
}

static void independent_model_file_loads(void **state)
{
    (void)state;
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_HOST;
    clmlp_net *net;
    clmlp_preprocess pp;
    TEST_OK(clmlp_load(CLMLP_TEST_SOURCE_DIR "/fuzz/corpus/model/net_2_3_2.clmlp", &cfg, &net, &pp));
    assert_int_equal(clmlp_num_layers(net), 2);
    assert_int_equal(clmlp_layer_size(net, 1), 3);
    assert_true(pp.mean == 0.25 && pp.std == 0.5 && pp.normalize == CLMLP_NORMALIZE_GIVEN);
    double W[6], b[3];
    TEST_OK(clmlp_get_layer(net, 1, W, b));
    assert_true(W[0] == 0.1 * sin(1.0) && b[2] == 0.1 * sin(9.0)); /* make_corpus.py's values, bit for bit */
    clmlp_destroy(net);
    TEST_FAILS(CLMLP_EFORMAT, clmlp_load(CLMLP_TEST_SOURCE_DIR "/fuzz/corpus/model/bad_crc.clmlp", &cfg, &net, &pp));
    clmlp_idx *idx;
    TEST_OK(clmlp_idx_load(CLMLP_TEST_SOURCE_DIR "/fuzz/corpus/idx/images.gz", &idx));
    assert_int_equal(clmlp_idx_count(idx), 18);
    assert_int_equal(clmlp_idx_data(idx)[17], 17);
    clmlp_idx_free(idx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(corpora_replay),
                                       cmocka_unit_test(independent_model_file_loads)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
