/* Model files: placeholder until written. */
#include "error.h"
clmlp_status clmlp_save(const clmlp_net *net, const clmlp_preprocess *pp, const char *path)
{
    (void)net, (void)pp, (void)path;
    return clmlp_fail(CLMLP_EIO, "not implemented yet");
}
clmlp_status clmlp_load(const char *path, const clmlp_config *cfg, clmlp_net **out, clmlp_preprocess *pp)
{
    (void)path, (void)cfg, (void)out, (void)pp;
    return clmlp_fail(CLMLP_EIO, "not implemented yet");
}
