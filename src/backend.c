/* Opening the backend a config asks for. */
#include "backend.h"

#include "error.h"

clmlp_status clmlp_backend_open(const clmlp_config *cfg, clmlp_be **out)
{
    switch (cfg->backend) {
    case CLMLP_BACKEND_HOST:
        return clmlp_host_backend_create(cfg->dtype, out);
    case CLMLP_BACKEND_OPENCL:
        return clmlp_opencl_backend_create(cfg, out);
    case CLMLP_BACKEND_AUTO: {
        /* No usable device (none installed, none matching, no fp64, a failed build):
         * the host path computes the same thing. A malformed request is still an error. */
        clmlp_status s = clmlp_opencl_backend_create(cfg, out);
        if (s == CLMLP_OK || s == CLMLP_EINVAL || s == CLMLP_ENOMEM)
            return s;
        return clmlp_host_backend_create(cfg->dtype, out);
    }
    }
    return clmlp_fail(CLMLP_EINVAL, "unknown backend %d", (int)cfg->backend);
}
