/**
 * @file
 * clmlp over MPI: a communicator handle for data-parallel training (one model across
 * ranks, as PyTorch DDP does) and for the command's sweeps. Only in a build with MPI
 * (CMake option CLMLP_MPI, on when MPI is found); clmlp.h itself never includes mpi.h.
 *
 * Data-parallel training: set clmlp_train_options.comm and call clmlp_train_epoch on
 * every rank with the same net sizes, loss, dtype, options, epoch and data (the whole
 * training set on every rank). `batch` is the global batch: every rank computes the
 * same (seed, epoch) shuffle and trains its contiguous share of each step's rows (a rank
 * with 0 rows still joins); the weight gradients are summed by one allreduce per step and
 * every rank applies the same update. The first epoch a net trains with a communicator,
 * rank 0's weights and optimizer state are broadcast to the others (after clmlp_create,
 * clmlp_load or clmlp_load_checkpoint on each rank). The loss and accuracy counters are
 * reduced at each report, and a progress callback's stop on any rank stops every rank.
 *
 * Every collective has a deadline (timeout_s): a rank that does not answer in time makes
 * the call fail with CLMLP_ECOMM naming the operation, epoch and step, and the
 * communicator is then unusable (abort the job: MPI_Abort). A rank whose own step fails
 * still joins that step's reduction with an error flag, so every rank returns at the same
 * step: the failing rank its own status, the others CLMLP_ECOMM with its rank and message.
 */
#ifndef CLMLP_MPI_H
#define CLMLP_MPI_H

#include <mpi.h>

#include "clmlp.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Duplicates comm (MPI must be initialized; errors return instead of aborting on the
 * duplicate), with a deadline of timeout_s seconds for every collective (0: 300 s;
 * finite and ≥ 0). Collective over comm: the ranks agree that they run the same clmlp
 * version, and refuse (CLMLP_EINVAL, naming the first rank that differs) otherwise. */
CLMLP_API clmlp_status clmlp_comm_create(MPI_Comm comm, double timeout_s, clmlp_comm **out);
/** Frees the duplicate (not after a failed collective: its requests may be pending).
 * NULL is a no-op. */
CLMLP_API void clmlp_comm_destroy(clmlp_comm *c);
/** This process's rank and the number of ranks (0 and 1 for NULL). */
CLMLP_API int clmlp_comm_rank(const clmlp_comm *c);
/** The number of ranks (1 for NULL). */
CLMLP_API int clmlp_comm_size(const clmlp_comm *c);

/** Makes every rank's net rank 0's: weights, biases, the optimizer state (clmlp_optimizer_state)
 * and *value when not NULL (e.g.\ the epochs done of a checkpoint rank 0 loaded).
 * Collective; the nets must have the same sizes and dtype (CLMLP_EINVAL naming the rank
 * that differs). clmlp_train_epoch does this by itself the first time a net trains with c. */
CLMLP_API clmlp_status clmlp_comm_broadcast_net(const clmlp_comm *c, clmlp_net *net, size_t *value);

/** The sum over ranks of values[0 … n−1], in place on every rank, within the deadline: for
 * applications' own statistics (clmlp_update with opt->comm sums the gradients itself). */
CLMLP_API clmlp_status clmlp_comm_sum(const clmlp_comm *c, double *values, size_t n);

#ifdef __cplusplus
}
#endif

#endif
