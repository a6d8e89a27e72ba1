/* Status strings and the thread-local detail message. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *clmlp_strerror(clmlp_status s)
{
    switch (s) {
    case CLMLP_OK: return "success";
    case CLMLP_EINVAL: return "invalid argument";
    case CLMLP_ENOMEM: return "out of memory";
    case CLMLP_EIO: return "input/output error";
    case CLMLP_EFORMAT: return "malformed file";
    case CLMLP_ENODEVICE: return "no usable OpenCL device";
    case CLMLP_EOPENCL: return "OpenCL error";
    case CLMLP_ENUMERIC: return "non-finite number";
    case CLMLP_ECOMM: return "communication failure";
    }
    return "unknown status";
}

const char *clmlp_last_error(void) { return last_error; }

const char *clmlp_version(void) { return CLMLP_VERSION_STRING; }

clmlp_status clmlp_fail(clmlp_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return s;
}

clmlp_status clmlp_fail_context(clmlp_status s, const char *fmt, ...)
{
    char prefix[256], detail[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(detail, last_error, sizeof detail);
    /* prefix, ": ", then as much of the old detail as fits (truncation is fine) */
    size_t used = strlen(prefix) < sizeof last_error - 3 ? strlen(prefix) : sizeof last_error - 3;
    memcpy(last_error, prefix, used);
    memcpy(last_error + used, ": ", 2);
    used += 2;
    size_t rest = strlen(detail) < sizeof last_error - 1 - used ? strlen(detail) : sizeof last_error - 1 - used;
    memcpy(last_error + used, detail, rest);
    last_error[used + rest] = '\0';
    return s;
}
