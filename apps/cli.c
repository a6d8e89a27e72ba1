/* Option parsing shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("clmlp: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

size_t cli_parse_sizes(const char *text, size_t *sizes, size_t max)
{
    size_t n = 0;
    const char *p = text;
    while (*p) {
        unsigned long long v;
        char *end;
        if (*p < '0' || *p > '9' || n == max)
            return 0;
        errno = 0;
        v = strtoull(p, &end, 10);
        if (errno || v == 0 || v > 1000000000ull)
            return 0;
        sizes[n++] = (size_t)v;
        if (*end == ',' && end[1] != '\0')
            p = end + 1;
        else if (*end == '\0')
            p = end;
        else
            return 0;
    }
    return n;
}

int cli_parse_backend(const char *text, clmlp_backend *out)
{
    if (strcmp(text, "auto") == 0)
        *out = CLMLP_BACKEND_AUTO;
    else if (strcmp(text, "opencl") == 0)
        *out = CLMLP_BACKEND_OPENCL;
    else if (strcmp(text, "host") == 0)
        *out = CLMLP_BACKEND_HOST;
    else
        return 0;
    return 1;
}

int cli_parse_dtype(const char *text, clmlp_dtype *out)
{
    if (strcmp(text, "f64") == 0)
        *out = CLMLP_F64;
    else if (strcmp(text, "f32") == 0)
        *out = CLMLP_F32;
    else
        return 0;
    return 1;
}

int cli_parse_loss(const char *text, clmlp_loss *out)
{
    if (strcmp(text, "mse") == 0)
        *out = CLMLP_LOSS_MSE;
    else if (strcmp(text, "ce") == 0)
        *out = CLMLP_LOSS_SOFTMAX_CE;
    else
        return 0;
    return 1;
}

int cli_parse_u64(const char *text, unsigned long long lo, unsigned long long hi, unsigned long long *out)
{
    char *end;
    if (*text < '0' || *text > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

int cli_parse_double(const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}
