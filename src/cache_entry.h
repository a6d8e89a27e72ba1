/* The format of an entry of the on-disk program cache, apart from OpenCL (so that it
 * can be fuzzed on its own):
 *   "CLMLPBIN" | u32 version 1 | u64 key | u64 n | n bytes of program binary | u32 CRC-32
 * of everything before it; integers little-endian. */
#ifndef CLMLP_CACHE_ENTRY_H
#define CLMLP_CACHE_ENTRY_H

#include <stddef.h>
#include <stdint.h>

enum { CLMLP_CACHE_HEADER = 8 + 4 + 8 + 8, CLMLP_CACHE_MAX_BINARY = 256 << 20 };

/* A malloc'ed entry for `binary` (n bytes) under `key`; NULL when out of memory or too large. */
unsigned char *clmlp_cache_entry_encode(uint64_t key, const unsigned char *binary, size_t n, size_t *size);

/* 1 when file (size bytes) is a whole, intact entry for `key`; *binary and *n then
 * locate the program binary inside it. */
int clmlp_cache_entry_decode(const unsigned char *file, size_t size, uint64_t key, const unsigned char **binary,
                             size_t *n);

#endif
