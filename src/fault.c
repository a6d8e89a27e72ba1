/* Fault injection counters (see fault.h). */
#include "fault.h"

#ifdef CLMLP_FAULT_INJECTION
#include <stdatomic.h>

/* atomic: operations may run on several threads at once (clmlp_predict) */
static _Atomic long calls[CLMLP_FAULT_KINDS], armed[CLMLP_FAULT_KINDS];

int clmlp_fault_hit(clmlp_fault_kind kind) { return ++calls[kind] == armed[kind]; }

void clmlp_fault_arm(clmlp_fault_kind kind, long n)
{
    for (int k = 0; k < CLMLP_FAULT_KINDS; k++) {
        calls[k] = 0;
        armed[k] = 0;
    }
    armed[kind] = n;
}

long clmlp_fault_calls(clmlp_fault_kind kind) { return calls[kind]; }
#else
typedef int clmlp_fault_unused; /* an empty file is not ISO C */
#endif
