/* Setting this thread's error detail; every failing path goes through here. */
#ifndef CLMLP_ERROR_H
#define CLMLP_ERROR_H

#include "clmlp.h"

#if defined(__GNUC__)
#define CLMLP_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLMLP_PRINTF(f, a)
#endif

/* Formats the detail message and returns s, so callers write `return clmlp_fail(...)`. */
clmlp_status clmlp_fail(clmlp_status s, const char *fmt, ...) CLMLP_PRINTF(2, 3);

/* Prefixes the current detail with context ("forward layer 2: ..."), returns s. */
clmlp_status clmlp_fail_context(clmlp_status s, const char *fmt, ...) CLMLP_PRINTF(2, 3);

/* Returns from the calling function when expr fails (the detail is already set). */
#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        clmlp_status s_ = (expr);                                                                                      \
        if (s_ != CLMLP_OK)                                                                                            \
            return s_;                                                                                                 \
    } while (0)

#endif
