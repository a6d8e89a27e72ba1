/*
 * The communicator as the library's training code sees it: two collectives with a
 * deadline, implemented over MPI by src/mpi/comm_mpi.c (the only file that includes
 * mpi.h). Every rank must make the same calls in the same order with the same sizes.
 */
#ifndef CLMLP_COMM_H
#define CLMLP_COMM_H

#include <stddef.h>

#include "clmlp.h"

typedef enum { CLMLP_REDUCE_SUM = 0, CLMLP_REDUCE_MAX = 1 } clmlp_reduce;

typedef struct clmlp_comm_ops {
    /* values[0 … n−1] reduced over the ranks, in place on every rank; `what` names the
     * operation in errors (CLMLP_ECOMM on a failure or a missed deadline). */
    clmlp_status (*allreduce)(const clmlp_comm *c, double *values, size_t n, clmlp_reduce op, const char *what);
    /* n bytes from rank `root` to every rank. */
    clmlp_status (*broadcast)(const clmlp_comm *c, int root, void *bytes, size_t n, const char *what);
} clmlp_comm_ops;

struct clmlp_comm {
    const clmlp_comm_ops *ops;
    int rank, size;
    void *impl; /* the implementation's own state */
};

/* data_parallel.c: clmlp_mpi.h's functions that need no MPI (declared here too, for
 * files that do not include mpi.h). */
CLMLP_API clmlp_status clmlp_comm_broadcast_net(const clmlp_comm *c, clmlp_net *net, size_t *value);

#endif
