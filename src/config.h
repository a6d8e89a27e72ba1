/* The configuration, checked and with its open choices resolved (config.c). */
#ifndef CLMLP_CONFIG_H
#define CLMLP_CONFIG_H

#include <stddef.h>

#include "clmlp.h"

/* Checks in and fills the choices it leaves open from the environment: CLMLP_DEVICE
 * when platform, device and device_spec are all open ("P:D" becomes the indices),
 * CLMLP_GEMM when products is AUTO, CLMLP_KERNELS when kernels is AUTO, CLMLP_TILES when tiles is empty (checked when
 * an OpenCL backend parses it), CLMLP_PROFILE when profile is 0 (then 1 or -1). A malformed value is CLMLP_EINVAL. */
clmlp_status clmlp_config_resolve(const clmlp_config *in, clmlp_config *out);

/* The program cache's directory: CLMLP_CACHE_DIR, else $XDG_CACHE_HOME/clmlp, else
 * ~/.cache/clmlp; 0 when the cache is off (CLMLP_CACHE_DIR=off) or has no home. */
int clmlp_env_cache_dir(char *dir, size_t size);

#endif
