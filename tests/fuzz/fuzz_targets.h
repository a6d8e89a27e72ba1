/* The inputs clmlp reads from files, each behind one entry point shared by the
 * libFuzzer targets (fuzz_*.c) and the regression test that replays the corpora
 * (tests/test_fuzz_corpus.c) in the normal suite. */
#ifndef CLMLP_FUZZ_TARGETS_H
#define CLMLP_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* Each returns 0; anything wrong shows as a crash or a sanitizer report. */
int clmlp_fuzz_idx(const uint8_t *data, size_t size);
int clmlp_fuzz_model(const uint8_t *data, size_t size);
int clmlp_fuzz_cache_entry(const uint8_t *data, size_t size);

#endif
