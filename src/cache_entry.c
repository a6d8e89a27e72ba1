/* Encoding and checking entries of the program cache (format in cache_entry.h). */
#include "cache_entry.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "le.h"

enum { VERSION = 1 };

unsigned char *clmlp_cache_entry_encode(uint64_t key, const unsigned char *binary, size_t n, size_t *size)
{
    if (n == 0 || n > CLMLP_CACHE_MAX_BINARY)
        return NULL;
    unsigned char *file = malloc(CLMLP_CACHE_HEADER + n + 4);
    if (!file)
        return NULL;
    memcpy(file, "CLMLPBIN", 8);
    clmlp_le_put(file + 8, VERSION, 4);
    clmlp_le_put(file + 12, key, 8);
    clmlp_le_put(file + 20, n, 8);
    memcpy(file + CLMLP_CACHE_HEADER, binary, n);
    clmlp_le_put(file + CLMLP_CACHE_HEADER + n, crc32(0L, file, (uInt)(CLMLP_CACHE_HEADER + n)), 4);
    *size = CLMLP_CACHE_HEADER + n + 4;
    return file;
}

int clmlp_cache_entry_decode(const unsigned char *file, size_t size, uint64_t key, const unsigned char **binary,
                             size_t *n)
{
    if (size < CLMLP_CACHE_HEADER + 4 || memcmp(file, "CLMLPBIN", 8) != 0 || clmlp_le_get(file + 8, 4) != VERSION ||
        clmlp_le_get(file + 12, 8) != key)
        return 0;
    uint64_t length = clmlp_le_get(file + 20, 8);
    if (length == 0 || length > CLMLP_CACHE_MAX_BINARY || length != size - CLMLP_CACHE_HEADER - 4)
        return 0;
    if (crc32(0L, file, (uInt)(CLMLP_CACHE_HEADER + length)) != clmlp_le_get(file + CLMLP_CACHE_HEADER + length, 4))
        return 0;
    *binary = file + CLMLP_CACHE_HEADER;
    *n = (size_t)length;
    return 1;
}
