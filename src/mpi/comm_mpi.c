/* The communicator over MPI (clmlp_mpi.h): a duplicate of the caller's communicator
 * whose errors return, and collectives that never wait past the deadline — MPI has no
 * timeout of its own, so each is a nonblocking call tested until done or late. */
#include "clmlp_mpi.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../checked.h"
#include "../comm.h"
#include "../error.h"

enum { DEFAULT_TIMEOUT_S = 300, SPIN_TESTS = 2000 };

typedef struct mpi_comm {
    MPI_Comm comm;
    double timeout_s;
    int broken; /* a collective failed or timed out: its request may still be pending */
} mpi_comm;

static clmlp_status mpi_fail(int err, const char *what)
{
    char text[MPI_MAX_ERROR_STRING] = "";
    int length = 0;
    if (MPI_Error_string(err, text, &length) != MPI_SUCCESS)
        snprintf(text, sizeof text, "MPI error %d", err);
    return clmlp_fail(CLMLP_ECOMM, "%s: %s", what, text);
}

/* Tests the request until it completes or the deadline passes: a few thousand tests at
 * full speed (a collective between ready ranks takes microseconds), then 50 µs naps. */
static clmlp_status wait_for(const clmlp_comm *c, MPI_Request *request, const char *what)
{
    mpi_comm *m = c->impl;
    double deadline = MPI_Wtime() + m->timeout_s;
    for (long tests = 0;; tests++) {
        int done = 0;
        int err = MPI_Test(request, &done, MPI_STATUS_IGNORE);
        if (err != MPI_SUCCESS) {
            m->broken = 1;
            return mpi_fail(err, what);
        }
        if (done)
            return CLMLP_OK;
        if (MPI_Wtime() > deadline) {
            m->broken = 1;
            return clmlp_fail(CLMLP_ECOMM, "%s: not every one of the %d ranks answered within %g s", what, c->size,
                              m->timeout_s);
        }
        if (tests > SPIN_TESTS) {
            struct timespec nap = {0, 50000};
            nanosleep(&nap, NULL);
        }
    }
}

static clmlp_status usable(const clmlp_comm *c, const char *what)
{
    const mpi_comm *m = c->impl;
    if (m->broken)
        return clmlp_fail(CLMLP_ECOMM, "%s: an earlier collective of this communicator failed", what);
    return CLMLP_OK;
}

static clmlp_status mpi_allreduce(const clmlp_comm *c, double *values, size_t n, clmlp_reduce op, const char *what)
{
    TRY(usable(c, what));
    if (n > INT32_MAX)
        return clmlp_fail(CLMLP_EINVAL, "%s: %zu values are more than one MPI call takes", what, n);
    mpi_comm *m = c->impl;
    MPI_Request request;
    int err = MPI_Iallreduce(MPI_IN_PLACE, values, (int)n, MPI_DOUBLE, op == CLMLP_REDUCE_MAX ? MPI_MAX : MPI_SUM,
                             m->comm, &request);
    if (err != MPI_SUCCESS) {
        m->broken = 1;
        return mpi_fail(err, what);
    }
    return wait_for(c, &request, what);
}

static clmlp_status mpi_broadcast(const clmlp_comm *c, int root, void *bytes, size_t n, const char *what)
{
    TRY(usable(c, what));
    if (n > INT32_MAX)
        return clmlp_fail(CLMLP_EINVAL, "%s: %zu bytes are more than one MPI call takes", what, n);
    mpi_comm *m = c->impl;
    MPI_Request request;
    int err = MPI_Ibcast(bytes, (int)n, MPI_BYTE, root, m->comm, &request);
    if (err != MPI_SUCCESS) {
        m->broken = 1;
        return mpi_fail(err, what);
    }
    return wait_for(c, &request, what);
}

static const clmlp_comm_ops mpi_ops = {.allreduce = mpi_allreduce, .broadcast = mpi_broadcast};

/* The same library on every rank: rank 0's version string and sizes of the types the
 * collectives carry, compared on each rank; the first rank that differs is named. */
static clmlp_status agree_on_version(const clmlp_comm *c)
{
    char mine[64] = "", root[64];
    snprintf(mine, sizeof mine, "clmlp %s, double %zu, size_t %zu", clmlp_version(), sizeof(double), sizeof(size_t));
    memcpy(root, mine, sizeof root);
    TRY(mpi_broadcast(c, 0, root, sizeof root, "clmlp_comm_create: rank 0's version"));
    double first_differing = strcmp(mine, root) != 0 ? -(double)c->rank : -INFINITY;
    TRY(mpi_allreduce(c, &first_differing, 1, CLMLP_REDUCE_MAX, "clmlp_comm_create: the versions"));
    if (isfinite(first_differing))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_comm_create: rank %.0f runs another clmlp than rank 0's (%s)%s%s",
                          -first_differing, root, c->rank == (int)-first_differing ? ": this rank has " : "",
                          c->rank == (int)-first_differing ? mine : "");
    return CLMLP_OK;
}

clmlp_status clmlp_comm_create(MPI_Comm comm, double timeout_s, clmlp_comm **out)
{
    if (!out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_comm_create: out is NULL");
    *out = NULL;
    if (!(isfinite(timeout_s) && timeout_s >= 0))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_comm_create: timeout %g s is not finite and >= 0", timeout_s);
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (!initialized || finalized)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_comm_create: MPI is %s", finalized ? "finalized" : "not initialized");
    if (comm == MPI_COMM_NULL)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_comm_create: comm is MPI_COMM_NULL");
    clmlp_comm *c = calloc(1, sizeof *c);
    mpi_comm *m = calloc(1, sizeof *m);
    if (!c || !m) {
        free(c);
        free(m);
        return clmlp_fail(CLMLP_ENOMEM, "clmlp_comm_create: cannot allocate the communicator");
    }
    c->ops = &mpi_ops;
    c->impl = m;
    m->timeout_s = timeout_s > 0 ? timeout_s : DEFAULT_TIMEOUT_S;
    int err = MPI_Comm_dup(comm, &m->comm);
    if (err != MPI_SUCCESS) {
        free(c);
        free(m);
        return mpi_fail(err, "clmlp_comm_create: MPI_Comm_dup");
    }
    MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(m->comm, &c->rank);
    MPI_Comm_size(m->comm, &c->size);
    clmlp_status s = agree_on_version(c);
    if (s != CLMLP_OK) {
        clmlp_comm_destroy(c);
        return s;
    }
    *out = c;
    return CLMLP_OK;
}

void clmlp_comm_destroy(clmlp_comm *c)
{
    if (!c)
        return;
    mpi_comm *m = c->impl;
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!m->broken && !finalized)
        MPI_Comm_free(&m->comm);
    free(m);
    free(c);
}

int clmlp_comm_rank(const clmlp_comm *c) { return c ? c->rank : 0; }

int clmlp_comm_size(const clmlp_comm *c) { return c ? c->size : 1; }

clmlp_status clmlp_comm_sum(const clmlp_comm *c, double *values, size_t n)
{
    if (!c || (!values && n))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_comm_sum: %s is NULL", !c ? "c" : "values");
    return c->ops->allreduce(c, values, n, CLMLP_REDUCE_SUM, "clmlp_comm_sum");
}
