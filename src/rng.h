/* A small seeded generator (splitmix64): the same numbers on every platform. */
#ifndef CLMLP_RNG_H
#define CLMLP_RNG_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t clmlp_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static inline double clmlp_rng_uniform(uint64_t *state) { return (double)(clmlp_rng_next(state) >> 11) * 0x1.0p-53; }

/* order = 0 … count − 1 in a Fisher-Yates shuffle drawn from state. */
static inline void clmlp_rng_shuffle(uint32_t *order, size_t count, uint64_t state)
{
    for (size_t i = 0; i < count; i++)
        order[i] = (uint32_t)i;
    for (size_t i = count; i > 1; i--) {
        size_t j = (size_t)(clmlp_rng_next(&state) % i);
        uint32_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

#endif
