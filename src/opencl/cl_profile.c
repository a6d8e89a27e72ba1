/* Kernel timings on a profiling queue: each launch's event is kept, and its start and
 * end times are added to its kernel's row in batches, so that profiling waits for the
 * queue only when a batch fills up or the table is read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "cl_common.h"

cl_event *clmlp_cl_profile_event(clmlp_cl_be *be, cl_event *slot) { return be->profile ? slot : NULL; }

static clmlp_kernel_profile *row_of(clmlp_cl_profile *p, const char *name)
{
    for (size_t i = 0; i < p->n_kernels; i++)
        if (strcmp(p->kernels[i].kernel, name) == 0)
            return &p->kernels[i];
    if (p->n_kernels == CLMLP_CL_PROFILE_KERNELS)
        return NULL;
    clmlp_kernel_profile *row = &p->kernels[p->n_kernels++];
    memset(row, 0, sizeof *row);
    snprintf(row->kernel, sizeof row->kernel, "%s", name);
    return row;
}

/* Waits for the pending events and adds their times to their kernels' rows. */
static clmlp_status settle(clmlp_cl_profile *p)
{
    clmlp_status s = CLMLP_OK;
    cl_int err = p->n_pending ? clWaitForEvents((cl_uint)p->n_pending, p->pending) : CL_SUCCESS;
    if (err != CL_SUCCESS)
        s = clmlp_cl_fail("clWaitForEvents (profiling)", err);
    for (size_t i = 0; i < p->n_pending; i++) {
        cl_ulong start = 0, end = 0;
        if (s == CLMLP_OK) {
            err = clGetEventProfilingInfo(p->pending[i], CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
            if (err == CL_SUCCESS)
                err = clGetEventProfilingInfo(p->pending[i], CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
            if (err != CL_SUCCESS)
                s = clmlp_cl_fail("clGetEventProfilingInfo", err);
        }
        clmlp_kernel_profile *row = s == CLMLP_OK ? row_of(p, p->pending_name[i]) : NULL;
        if (row) {
            row->launches++;
            row->seconds += end > start ? (double)(end - start) * 1e-9 : 0.0;
        }
        clReleaseEvent(p->pending[i]);
    }
    p->n_pending = 0;
    return s;
}

clmlp_status clmlp_cl_profile_record(clmlp_cl_be *be, const char *name, cl_event event)
{
    clmlp_cl_profile *p = be->profile;
    if (!p || !event)
        return CLMLP_OK;
    p->pending[p->n_pending] = event;
    p->pending_name[p->n_pending++] = name;
    return p->n_pending == CLMLP_CL_PROFILE_PENDING ? settle(p) : CLMLP_OK;
}

clmlp_status clmlp_cl_profile_read(clmlp_be *base, clmlp_kernel_profile *out, size_t capacity, size_t *count, int reset)
{
    clmlp_cl_be *be = (clmlp_cl_be *)base;
    if (!be->profile)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_profile: the net was created without profiling (clmlp_config.profile "
                                        "or CLMLP_PROFILE=1)");
    pthread_mutex_lock(&be->lock);
    clmlp_status s = settle(be->profile);
    if (s == CLMLP_OK) {
        for (size_t i = 0; i < be->profile->n_kernels && i < capacity; i++)
            out[i] = be->profile->kernels[i];
        *count = be->profile->n_kernels;
        if (reset)
            be->profile->n_kernels = 0;
    }
    pthread_mutex_unlock(&be->lock);
    return s;
}

void clmlp_cl_profile_release(clmlp_cl_be *be)
{
    if (!be->profile)
        return;
    for (size_t i = 0; i < be->profile->n_pending; i++)
        clReleaseEvent(be->profile->pending[i]);
    free(be->profile);
    be->profile = NULL;
}
