/* Size arithmetic that refuses to overflow. */
#ifndef CLMLP_CHECKED_H
#define CLMLP_CHECKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
