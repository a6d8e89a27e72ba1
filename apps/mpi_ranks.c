/* The command's processes under mpirun: see mpi_ranks.h. All MPI code of the command is
 * here, under CLMLP_WITH_MPI, so that the command builds without MPI. */
#include "mpi_ranks.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef CLMLP_WITH_MPI
#include <mpi.h>

#include "clmlp_mpi.h"

enum { POINT_TAG = 14 }; /* sweep results to rank 0 */

static int mpi_failed(const char *what, int err)
{
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(err, text, &len) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", err);
    return cli_error(CLI_RUNTIME, "%s: %s", what, text);
}

int ranks_start(cli_ranks *r, const char *cmd)
{
    memset(r, 0, sizeof *r);
    int provided = 0, err = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    if (err != MPI_SUCCESS)
        return cli_error(CLI_RUNTIME, "%s --mpi: MPI_Init_thread failed (error %d)", cmd, err);
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN); /* our messages, then MPI_Abort */
    MPI_Comm_rank(MPI_COMM_WORLD, &r->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &r->size);
    MPI_Comm local;
    if ((err = MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, r->rank, MPI_INFO_NULL, &local)) !=
        MPI_SUCCESS)
        return mpi_failed("--mpi: the ranks on this machine (MPI_Comm_split_type)", err);
    MPI_Comm_rank(local, &r->local_rank);
    MPI_Comm_free(&local);
    if (r->rank != 0) {
        snprintf(r->prefix, sizeof r->prefix, "rank %d: ", r->rank);
        cli_error_prefix(r->prefix);
        cli_error_silence(1);
    }
    return CLI_OK;
}

int ranks_open_comm(cli_ranks *r, double timeout_s)
{
    if (clmlp_comm_create(MPI_COMM_WORLD, timeout_s, &r->comm) != CLMLP_OK) {
        cli_error_silence(0); /* the other ranks may not know what failed here */
        return cli_error(CLI_RUNTIME, "--mpi: %s", clmlp_last_error());
    }
    return CLI_OK;
}

void ranks_finish(cli_ranks *r, int abort_job)
{
    fflush(stdout);
    fflush(stderr);
    if (abort_job)
        MPI_Abort(MPI_COMM_WORLD, 1); /* does not return */
    clmlp_comm_destroy(r->comm);
    r->comm = NULL;
    MPI_Finalize();
}

clmlp_status ranks_sum(const cli_ranks *r, double *values, size_t n) { return clmlp_comm_sum(r->comm, values, n); }

clmlp_status ranks_broadcast_net(const cli_ranks *r, clmlp_net *net, size_t *value)
{
    return clmlp_comm_broadcast_net(r->comm, net, value);
}

int ranks_agree(const cli_ranks *r, int rc, int *abort_job)
{
    double failed = rc != CLI_OK; /* summed: how many ranks failed */
    if (ranks_sum(r, &failed, 1) != CLMLP_OK) {
        *abort_job = 1;
        return r->rank == 0 ? cli_error(CLI_RUNTIME, "--mpi: %s", clmlp_last_error()) : CLI_RUNTIME;
    }
    if (failed == 0)
        return CLI_OK;
    /* the lowest failing rank speaks; every rank got here, so a plain reduction is safe */
    int mine = rc != CLI_OK ? r->rank : r->size, lowest = mine;
    int err = MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (err != MPI_SUCCESS) {
        *abort_job = 1;
        return mpi_failed("--mpi: which rank failed", err);
    }
    if (rc != CLI_OK && lowest == r->rank && r->rank != 0)
        fprintf(stderr, "clmlp: %s%s\n", r->prefix, cli_error_last());
    return rc != CLI_OK ? rc : CLI_RUNTIME;
}

int ranks_send_to_0(const cli_ranks *r, const void *data, size_t size)
{
    (void)r;
    if (size > INT_MAX)
        return cli_error(CLI_RUNTIME, "sweep --mpi: a result of %zu bytes is too large to send", size);
    int err = MPI_Send(data, (int)size, MPI_BYTE, 0, POINT_TAG, MPI_COMM_WORLD);
    return err == MPI_SUCCESS ? CLI_OK : mpi_failed("sweep --mpi: sending a result to rank 0", err);
}

int ranks_receive_on_0(const cli_ranks *r, void *data, size_t size, int wait)
{
    (void)r;
    MPI_Status st;
    int waiting = 1, err = MPI_SUCCESS, count = 0;
    if (!wait && (err = MPI_Iprobe(MPI_ANY_SOURCE, POINT_TAG, MPI_COMM_WORLD, &waiting, &st)) != MPI_SUCCESS)
        return mpi_failed("sweep --mpi: waiting for results", err), -1;
    if (!waiting)
        return 0;
    if (size > INT_MAX ||
        (err = MPI_Recv(data, (int)size, MPI_BYTE, MPI_ANY_SOURCE, POINT_TAG, MPI_COMM_WORLD, &st)) != MPI_SUCCESS)
        return mpi_failed("sweep --mpi: receiving a result", err), -1;
    if (MPI_Get_count(&st, MPI_BYTE, &count) != MPI_SUCCESS || (size_t)count != size)
        return cli_error(CLI_RUNTIME, "sweep --mpi: rank %d sent %d bytes, not a result of %zu", st.MPI_SOURCE, count,
                         size),
               -1;
    return 1;
}

#else /* no MPI in this build: --mpi is a usage error, and nothing else is reached */

int ranks_start(cli_ranks *r, const char *cmd)
{
    memset(r, 0, sizeof *r);
    r->size = 1;
    return cli_error(CLI_USAGE, "%s: --mpi: this clmlp was built without MPI (CMake option CLMLP_MPI)", cmd);
}

int ranks_open_comm(cli_ranks *r, double timeout_s)
{
    (void)r;
    (void)timeout_s;
    return cli_error(CLI_USAGE, "--mpi: this clmlp was built without MPI");
}

void ranks_finish(cli_ranks *r, int abort_job)
{
    (void)r;
    (void)abort_job;
}

clmlp_status ranks_sum(const cli_ranks *r, double *values, size_t n)
{
    (void)r;
    (void)values;
    (void)n;
    return CLMLP_EINVAL;
}

clmlp_status ranks_broadcast_net(const cli_ranks *r, clmlp_net *net, size_t *value)
{
    (void)r;
    (void)net;
    (void)value;
    return CLMLP_EINVAL;
}

int ranks_agree(const cli_ranks *r, int rc, int *abort_job)
{
    (void)r;
    (void)abort_job;
    return rc;
}

int ranks_send_to_0(const cli_ranks *r, const void *data, size_t size)
{
    (void)r;
    (void)data;
    (void)size;
    return cli_error(CLI_USAGE, "--mpi: this clmlp was built without MPI");
}

int ranks_receive_on_0(const cli_ranks *r, void *data, size_t size, int wait)
{
    (void)r;
    (void)data;
    (void)size;
    (void)wait;
    return cli_error(CLI_USAGE, "--mpi: this clmlp was built without MPI"), -1;
}

#endif

enum { MAX_DEVICES = 64 };

int ranks_pick_device(const cli_ranks *r, clmlp_config *cfg)
{
    const char *env = getenv("CLMLP_DEVICE");
    if (cfg->device_spec[0] || (env && *env) || cfg->backend == CLMLP_BACKEND_HOST)
        return CLI_OK; /* the user's choice, or no device at all */
    clmlp_device_info infos[MAX_DEVICES];
    size_t count = 0;
    if (clmlp_list_devices(infos, MAX_DEVICES, &count) != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "--mpi: the OpenCL devices: %s", clmlp_last_error());
    if (count > MAX_DEVICES)
        count = MAX_DEVICES;
    const char *type = NULL; /* the default's type: a GPU machine's ranks go to its GPUs */
    for (size_t i = 0; i < count && !type; i++)
        if (infos[i].chosen)
            type = infos[i].type;
    size_t same = 0;
    for (size_t i = 0; i < count; i++)
        same += !type || strcmp(infos[i].type, type) == 0;
    size_t want = same ? (size_t)r->local_rank % same : 0;
    for (size_t i = 0; i < count; i++) {
        if ((type && strcmp(infos[i].type, type) != 0) || want-- != 0)
            continue;
        char spec[32];
        snprintf(spec, sizeof spec, "%d:%d", infos[i].platform, infos[i].device);
        return cli_use_device(spec, cfg);
    }
    return CLI_OK; /* no OpenCL device: the default (AUTO's host path) decides */
}
