/* Fault injection for the tests (built only with -DCLMLP_FAULT_INJECTION=ON): the Nth
 * call of a kind fails as if the system had refused it. Counters are process-wide; the
 * tests that arm them run single-threaded. */
#ifndef CLMLP_FAULT_H
#define CLMLP_FAULT_H

typedef enum {
    CLMLP_FAULT_ALLOC,   /* a buffer allocation (device or host backend) */
    CLMLP_FAULT_ENQUEUE, /* a kernel or product enqueued on the device */
    CLMLP_FAULT_BUILD,   /* a program build */
    CLMLP_FAULT_WRITE,   /* a write to a model file */
    CLMLP_FAULT_FSYNC,   /* an fsync of a model file or its directory */
    CLMLP_FAULT_KINDS
} clmlp_fault_kind;

#ifdef CLMLP_FAULT_INJECTION
/* 1 when this call of `kind` is the one armed to fail; counts the call. */
int clmlp_fault_hit(clmlp_fault_kind kind);
/* Arms call number n (from 1) of `kind` to fail, 0 disarms; resets the counts. */
void clmlp_fault_arm(clmlp_fault_kind kind, long n);
/* Calls of `kind` since the last arm. */
long clmlp_fault_calls(clmlp_fault_kind kind);
#else
#define clmlp_fault_hit(kind) 0
#endif

#endif
