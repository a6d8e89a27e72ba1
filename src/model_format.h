/* The model file format, bytes ↔ model (model_format.c); the file I/O is model_file.c. */
#ifndef CLMLP_MODEL_FORMAT_H
#define CLMLP_MODEL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "clmlp.h"

/* The largest model file written or read: 4 GiB (about 537 million weights). */
#define CLMLP_MODEL_MAX_BYTES ((uint64_t)1 << 32)
enum { CLMLP_MODEL_MAX_SIZES = 65536 }; /* n_sizes limit: 65535 layers */

/* What a file holds, once parsed and checked; the values point into the parsed bytes. */
typedef struct clmlp_model {
    uint32_t version; /* 1, 2 or 3 */
    size_t n_sizes;
    uint64_t *sizes; /* malloc'ed: free it */
    clmlp_loss loss;
    clmlp_dtype dtype;
    clmlp_preprocess pp;
    const uint8_t *weights;
    /* version 3: the per-input standardization, n_0 means then n_0 stds (NULL: none) */
    const uint8_t *standardization;
    int has_state; /* a checkpoint (version 2, or 3 with its training state): */
    uint64_t epochs_done;
    clmlp_optimizer optimizer; /* version 2: SGD */
    uint64_t adam_steps;       /* Adam's t; 0 for SGD */
    /* moments[0]: SGD's velocities or Adam's first moments; moments[1]: Adam's second
     * moments (NULL for SGD) */
    const uint8_t *moments[2];
} clmlp_model;

/* Where the encoder's bytes go: 0, or an errno (-1: a short write without one). */
typedef int (*clmlp_model_sink)(void *user, const uint8_t *p, size_t n);

/* The preprocessing rules both directions enforce (status: what a violation returns). */
clmlp_status clmlp_model_check_preprocess(const clmlp_preprocess *pp, clmlp_status status, const char *path);
/* What saving net with pp needs to hold before a byte is written: valid preprocessing
 * for this net's n_0, sizes within the format's limits (with the training state when
 * with_state, and the net's standardization). */
clmlp_status clmlp_model_check(const clmlp_net *net, const clmlp_preprocess *pp, int with_state, const char *path);
/* The whole file for net (format version 3; a checkpoint with epochs_done and the
 * net's optimizer state when epochs_done is not NULL) into sink; *err receives the
 * sink's first error. path names the file in messages. The net is only read. */
clmlp_status clmlp_model_encode(const clmlp_net *net, const clmlp_preprocess *pp, const uint64_t *epochs_done,
                                const char *path, clmlp_model_sink sink, void *user, int *err);
/* Magic, version, layout against the length, CRC, then every field. */
clmlp_status clmlp_model_parse(const uint8_t *d, size_t len, const char *path, clmlp_model *m);
/* Layer l's W and b (state 0), their first moments / velocities (state 1) or their
 * second moments (state 2) from a parsed model; CLMLP_EINVAL when the file has none. */
clmlp_status clmlp_model_layer(const clmlp_model *m, int state, size_t l, double *W, double *b);
/* The standardization's n_0 means and stds; CLMLP_EINVAL when the file has none. */
clmlp_status clmlp_model_standardization(const clmlp_model *m, double *mean, double *std);

#endif
