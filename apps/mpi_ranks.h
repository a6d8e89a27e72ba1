/*
 * The command's processes under mpirun (--mpi): MPI's start and end, each rank's OpenCL
 * device, and the few exchanges `train --mpi` (data-parallel, over a clmlp_comm) and
 * `sweep --mpi` (independent points, results to rank 0) need. Without MPI in the build
 * every function exists, but ranks_start refuses: "this clmlp was built without MPI".
 */
#ifndef CLMLP_MPI_RANKS_H
#define CLMLP_MPI_RANKS_H

#include <stddef.h>

#include "clmlp.h"

typedef struct cli_ranks {
    int rank, size;   /* in MPI_COMM_WORLD */
    int local_rank;   /* among the ranks on this machine (MPI_COMM_TYPE_SHARED) */
    clmlp_comm *comm; /* train --mpi: the data-parallel communicator (ranks_open_comm) */
    char prefix[32];  /* "rank N: " before the messages of ranks other than 0 */
} cli_ranks;

/* MPI_Init_thread (MPI_THREAD_FUNNELED: only the main thread calls MPI), this process's
 * rank and local rank. On ranks other than 0 cli_error's messages are silenced and, once
 * spoken, prefixed with the rank. CLI_OK; CLI_USAGE when the build has no MPI, CLI_RUNTIME
 * when MPI fails (both printed, naming cmd). */
int ranks_start(cli_ranks *r, const char *cmd);

/* The data-parallel communicator on MPI_COMM_WORLD with a deadline of timeout_s seconds
 * per collective (0: the library's 300 s). Collective. CLI_OK, or CLI_RUNTIME printed by
 * the rank that failed (prefixed). */
int ranks_open_comm(cli_ranks *r, double timeout_s);

/* With no device chosen (no --device, no CLMLP_DEVICE) and an OpenCL backend possible:
 * the device of index local_rank mod n among the n devices of the type clmlp picks by
 * default (GPUs on a GPU machine), as "P:D" in cfg->device_spec; with one device every
 * rank shares it, with none the choice stays open (the host path). CLI_OK or CLI_RUNTIME. */
int ranks_pick_device(const cli_ranks *r, clmlp_config *cfg);

/* The end of the job for this rank: MPI_Finalize (the communicator freed first), or with
 * abort_job MPI_Abort(MPI_COMM_WORLD, 1): after a failure the other ranks may not know of,
 * or a failed collective (which leaves the communicator unusable). */
void ranks_finish(cli_ranks *r, int abort_job);

/* clmlp_comm_sum and clmlp_comm_broadcast_net over r->comm (the library's deadline and
 * messages). */
clmlp_status ranks_sum(const cli_ranks *r, double *values, size_t n);
clmlp_status ranks_broadcast_net(const cli_ranks *r, clmlp_net *net, size_t *value);

/* After each rank's own setup: every rank learns whether any failed (rc != CLI_OK). A
 * rank that failed has its message kept (cli_error_last); the first to fail prints it
 * unless it was rank 0 (which speaks anyway). Returns rc, CLI_RUNTIME when another rank
 * failed, or CLI_RUNTIME with *abort_job set when the exchange itself failed (printed). */
int ranks_agree(const cli_ranks *r, int rc, int *abort_job);

/* Point results of a sweep: size bytes from this rank to rank 0 (CLI_OK or CLI_RUNTIME,
 * printed); on rank 0, one such message from any rank into data: 1 when one came, 0 when
 * none is waiting (wait 0 only), -1 on an MPI error (printed). */
int ranks_send_to_0(const cli_ranks *r, const void *data, size_t size);
int ranks_receive_on_0(const cli_ranks *r, void *data, size_t size, int wait);

#endif
