/* The model file format, bytes ↔ model (model_format.c); the file I/O is model_file.c. */
#ifndef CLMLP_MODEL_FORMAT_H
#define CLMLP_MODEL_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "clmlp.h"

/* The largest model file written or read: 4 GiB (about 537 million weights). */
#define CLMLP_MODEL_MAX_BYTES ((uint64_t)1 << 32)
enum { CLMLP_MODEL_MAX_SIZES = 65536 }; /* n_sizes limit: 65535 layers */

/* What a file holds, once parsed and checked; weights and velocities point into the
 * parsed bytes. */
typedef struct clmlp_model {
    size_t n_sizes;
    uint64_t *sizes; /* malloc'ed: free it */
    clmlp_loss loss;
    clmlp_dtype dtype;
    clmlp_preprocess pp;
    const uint8_t *weights;
    int has_state; /* a checkpoint: */
    uint64_t epochs_done;
    const uint8_t *velocities;
} clmlp_model;

/* Where the encoder's bytes go: 0, or an errno (-1: a short write without one). */
typedef int (*clmlp_model_sink)(void *user, const uint8_t *p, size_t n);

/* The preprocessing rules both directions enforce (status: what a violation returns). */
clmlp_status clmlp_model_check_preprocess(const clmlp_preprocess *pp, clmlp_status status, const char *path);
/* What saving net with pp needs to hold before a byte is written: valid preprocessing
 * for this net's n_0, sizes within the format's limits. */
clmlp_status clmlp_model_check(const clmlp_net *net, const clmlp_preprocess *pp, int with_state, const char *path);
/* The whole file for net (a checkpoint with epochs_done when not NULL) into sink;
 * *err receives the sink's first error. path names the file in messages. */
clmlp_status clmlp_model_encode(const clmlp_net *net, const clmlp_preprocess *pp, const uint64_t *epochs_done,
                                const char *path, clmlp_model_sink sink, void *user, int *err);
/* Magic, version, layout against the length, CRC, then every field. */
clmlp_status clmlp_model_parse(const uint8_t *d, size_t len, const char *path, clmlp_model *m);
/* Layer l's W and b (state 0) or their velocities (state 1) from a parsed model. */
clmlp_status clmlp_model_layer(const clmlp_model *m, int state, size_t l, double *W, double *b);

#endif
