/* Internal side of preprocessing. */
#ifndef CLMLP_PREPROCESS_H
#define CLMLP_PREPROCESS_H

#include "clmlp.h"

/* Validates pp against rows × cols images; *n_inputs = inputs per image. */
clmlp_status clmlp_preprocess_check(const clmlp_preprocess *pp, size_t rows, size_t cols, size_t *n_inputs);

/* The same, and that the images give exactly n_0 inputs (CLMLP_EINVAL naming both). */
clmlp_status clmlp_preprocess_fits(const clmlp_preprocess *pp, size_t rows, size_t cols, size_t n_0);

/* An input is an affine function of its (cropped) pixel p: x = fma(p, scale, shift). */
void clmlp_preprocess_affine(const clmlp_preprocess *pp, double *scale, double *shift);
/* The centered crop of count images (pp checked) into out, count × n_inputs pixels. */
void clmlp_preprocess_crop(const clmlp_preprocess *pp, const uint8_t *images, size_t count, size_t rows, size_t cols,
                           uint8_t *out);

#endif
