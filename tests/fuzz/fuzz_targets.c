/* Entry points for fuzzing the IDX reader, the model loader and the program-cache entry
 * decoder: the bytes go to a temporary file (the readers take paths) or straight in. */
#include "fuzz_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "../../src/cache_entry.h"
#include "../../src/model_format.h"
#include "clmlp.h"

/* A private temporary file holding the bytes; "" when it cannot be written. */
static const char *as_file(const uint8_t *data, size_t size)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/clmlp-fuzz-%ld", (long)getpid());
    FILE *f = fopen(path, "wb");
    if (!f)
        return "";
    size_t written = size ? fwrite(data, 1, size, f) : 0;
    fclose(f);
    return written == size ? path : "";
}

int clmlp_fuzz_idx(const uint8_t *data, size_t size)
{
    clmlp_idx *idx = NULL;
    const char *path = as_file(data, size);
    if (clmlp_idx_load(path, &idx) == CLMLP_OK) {
        size_t count = clmlp_idx_count(idx), product = 1;
        for (size_t d = 0; d < clmlp_idx_ndims(idx); d++)
            product *= clmlp_idx_dim(idx, d);
        if (product != count || (count && !clmlp_idx_data(idx)))
            abort(); /* a loaded file must describe itself consistently */
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < count; i++) /* every element must be readable */
            sum += clmlp_idx_data(idx)[i];
        (void)sum;
        clmlp_idx_free(idx);
    }
    unlink(path);
    return 0;
}

/* The format on the bytes themselves; what parses must decode every section it claims
 * and load as a net (with its training state too) that runs. */
static void fuzz_model_bytes(const uint8_t *data, size_t size)
{
    clmlp_model m = {0};
    clmlp_status parsed = clmlp_model_parse(data, size, "fuzz", &m);
    for (size_t l = 1; parsed == CLMLP_OK && l < m.n_sizes; l++)
        if (m.sizes[l] * m.sizes[l - 1] + m.sizes[l] <= 4096) /* every layer's values decode */
            for (int state = 0; state <= 2; state++) {
                int present = state == 0 || (m.has_state && m.moments[state - 1]);
                if (!present)
                    continue;
                double *W = malloc(8 * m.sizes[l] * m.sizes[l - 1] + 8), *b = malloc(8 * m.sizes[l] + 8);
                if (!W || !b || clmlp_model_layer(&m, state, l, W, b) != CLMLP_OK)
                    abort();
                free(W);
                free(b);
            }
    if (parsed == CLMLP_OK && m.standardization && m.sizes[0] <= 4096) {
        double *mean = malloc(8 * m.sizes[0]), *std = malloc(8 * m.sizes[0]);
        if (!mean || !std || clmlp_model_standardization(&m, mean, std) != CLMLP_OK)
            abort();
        for (size_t j = 0; j < m.sizes[0]; j++)
            if (!(std[j] > 0)) /* the parser let a standardization through that no net takes */
                abort();
        free(mean);
        free(std);
    }
    free(m.sizes);
    if (parsed != CLMLP_OK)
        return;
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    cfg.backend = CLMLP_BACKEND_HOST;
    const char *path = as_file(data, size);
    for (int checkpoint = 0; checkpoint < 2; checkpoint++) {
        clmlp_net *net = NULL;
        clmlp_preprocess pp;
        size_t done;
        clmlp_status s =
            checkpoint ? clmlp_load_checkpoint(path, &cfg, &net, &pp, &done) : clmlp_load(path, &cfg, &net, &pp);
        if (s != CLMLP_OK)
            continue;
        size_t n0 = clmlp_layer_size(net, 0), nL = clmlp_layer_size(net, clmlp_num_layers(net));
        double *x = calloc(n0, sizeof *x), *y = malloc(nL * sizeof *y);
        if (x && y && clmlp_forward(net, x, 1, y) != CLMLP_OK && clmlp_last_error()[0] == '\0')
            abort(); /* a loaded net runs, or says why not */
        free(x);
        free(y);
        clmlp_destroy(net);
    }
    unlink(path);
}

/* The bytes as they are, and again with their last 4 bytes the CRC-32 of the rest, so
 * that mutations reach the checks behind the checksum. */
int clmlp_fuzz_model(const uint8_t *data, size_t size)
{
    fuzz_model_bytes(data, size);
    uint8_t *fixed = size >= 4 ? malloc(size) : NULL;
    if (fixed) {
        memcpy(fixed, data, size);
        uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), fixed, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        if (memcmp(fixed, data, size) != 0)
            fuzz_model_bytes(fixed, size);
        free(fixed);
    }
    return 0;
}

int clmlp_fuzz_cache_entry(const uint8_t *data, size_t size)
{
    uint64_t key = 0;
    for (int i = 0; i < 8 && 12 + i < (int)size; i++) /* the key the entry claims, to get past it */
        key |= (uint64_t)data[12 + i] << (8 * i);
    const unsigned char *binary;
    size_t n;
    if (clmlp_cache_entry_decode(data, size, key, &binary, &n)) {
        if (binary < data || binary + n > data + size)
            abort();
        volatile unsigned char sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += binary[i];
        (void)sum;
    }
    return 0;
}
