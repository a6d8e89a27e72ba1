/* Little-endian encoding of the file formats (model files, program-cache entries). */
#ifndef CLMLP_LE_H
#define CLMLP_LE_H

#include <stdint.h>
#include <string.h>

/* The low `bytes` bytes of v at p, least significant first. */
static inline void clmlp_le_put(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t clmlp_le_get(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A double as its IEEE 754 bits. */
static inline void clmlp_le_put_f64(uint8_t *p, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    clmlp_le_put(p, bits, 8);
}

static inline double clmlp_le_get_f64(const uint8_t *p)
{
    uint64_t bits = clmlp_le_get(p, 8);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

#endif
