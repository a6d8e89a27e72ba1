/* Size arithmetic that refuses to overflow. */
#ifndef CLMLP_CHECKED_H
#define CLMLP_CHECKED_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* *out = a * b; false on overflow. */
static inline bool clmlp_mul_ok(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return false;
    *out = a * b;
    return true;
}

/* *out = a * b * c; false on overflow. */
static inline bool clmlp_mul3_ok(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    return clmlp_mul_ok(a, b, &ab) && clmlp_mul_ok(ab, c, out);
}

/* malloc of n elements of `size` bytes, refusing to overflow (NULL with errno ENOMEM,
 * as reallocarray does); never malloc(0), whose result may be NULL. Every allocation
 * whose size is a count times an element size goes through here. */
static inline void *clmlp_alloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (!clmlp_mul_ok(n, size, &bytes)) {
        errno = ENOMEM;
        return NULL;
    }
    return malloc(bytes ? bytes : 1);
}

#endif
