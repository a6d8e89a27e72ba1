/* Internal side of preprocessing. */
#ifndef CLMLP_PREPROCESS_H
#define CLMLP_PREPROCESS_H

#include "clmlp.h"

/* Validates pp against rows × cols images; *n_inputs = inputs per image. */
clmlp_status clmlp_preprocess_check(const clmlp_preprocess *pp, size_t rows, size_t cols, size_t *n_inputs);

#endif
