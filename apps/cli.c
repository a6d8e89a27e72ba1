/* Option parsing shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Per thread: a sweep's jobs train their points on threads of their own, each keeping
 * its point's message and silencing itself without touching the main thread's. */
static _Thread_local int errors_silenced;   /* cli_error_silence */
static _Thread_local char error_prefix[64]; /* cli_error_prefix */
static _Thread_local char last_error[8192]; /* cli_error_last */

int cli_error(int code, const char *fmt, ...)
{
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    vsnprintf(last_error, sizeof last_error, fmt, again);
    va_end(again);
    if (!errors_silenced) {
        fprintf(stderr, "clmlp: %s", error_prefix);
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
    }
    va_end(ap);
    return code;
}

void cli_error_silence(int on) { errors_silenced = on; }

const char *cli_error_last(void) { return last_error; }

void cli_error_prefix(const char *prefix) { snprintf(error_prefix, sizeof error_prefix, "%s", prefix ? prefix : ""); }

int cli_has_flag(int argc, char **argv, const char *flag, const char *const *flags)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], flag) == 0)
            return 1;
        int no_value = strncmp(argv[i], "--", 2) != 0; /* an operand, or -h */
        for (const char *const *f = flags; !no_value && *f; f++)
            no_value = strcmp(argv[i], *f) == 0;
        if (!no_value)
            i++; /* the option's value, whatever it looks like */
    }
    return 0;
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

int cli_parse_size(const char *text, size_t lo, size_t hi, size_t *out)
{
    unsigned long long v;
    if (!cli_parse_u64(text, lo, hi, &v))
        return 0;
    *out = (size_t)v;
    return 1;
}

int cli_parse_target(const char *text, clmlp_target *out)
{
    if (strcmp(text, "01") == 0)
        *out = CLMLP_TARGET_ONEHOT_01;
    else if (strcmp(text, "pm1") == 0)
        *out = CLMLP_TARGET_ONEHOT_PM1;
    else
        return 0;
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

int cli_use_device(const char *spec, clmlp_config *cfg)
{
    if (!spec)
        return CLI_OK;
    if (strlen(spec) >= sizeof cfg->device_spec)
        return cli_error(CLI_USAGE, "--device '%s' is not gpu, cpu or PLATFORM:DEVICE", spec);
    strcpy(cfg->device_spec, spec); /* checked when the net is created */
    return CLI_OK;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int cli_find_data_dir(const char *given, char *dir, size_t size, const char **why)
{
    const char *env = getenv("CLMLP_DATA");
    const char *candidates[][2] = {{given, "--data"},
                                   {env && *env ? env : NULL, "$CLMLP_DATA"},
                                   {"data/mnist", "./data/mnist"},
                                   {"/usr/share/datasets/fashion-mnist", "Debian's Fashion-MNIST"}};
    for (size_t i = 0; i < sizeof candidates / sizeof candidates[0]; i++) {
        if (!candidates[i][0])
            continue;
        if (i == 0 || i == 1 || is_dir(candidates[i][0])) { /* an explicit choice is taken as is */
            snprintf(dir, size, "%s", candidates[i][0]);
            *why = candidates[i][1];
            return 1;
        }
    }
    return 0;
}

int cli_data_file(const char *dir, const char *stem, char *path, size_t size)
{
    char dotted[128];
    snprintf(dotted, sizeof dotted, "%s", stem);
    char *dash = strchr(dotted, '-');
    dash = dash ? strchr(dash + 1, '-') : NULL;
    if (dash)
        *dash = '.';
    const char *names[] = {stem, dotted};
    for (size_t n = 0; n < 2; n++)
        for (int gz = 1; gz >= 0; gz--) {
            snprintf(path, size, "%s/%s%s", dir, names[n], gz ? ".gz" : "");
            if (is_file(path))
                return 1;
        }
    snprintf(path, size, "%s/%s[.gz]", dir, stem);
    return 0;
}

size_t cli_argmax(const double *v, size_t n)
{
    size_t best = 0;
    for (size_t k = 1; k < n; k++)
        if (v[k] > v[best])
            best = k;
    return best;
}

const char *cli_plural(unsigned long long n) { return n == 1 ? "" : "s"; }

void cli_format_sizes(const size_t *sizes, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    if (size)
        buf[0] = '\0';
    for (size_t l = 0; l < n && used < size; l++) {
        int w = snprintf(buf + used, size - used, "%s%zu", l ? "-" : "", sizes[l]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

void cli_format_net(const clmlp_net *net, char *buf, size_t size)
{
    size_t sizes[65];
    size_t n = clmlp_num_layers(net) + 1;
    if (n > 65) {
        snprintf(buf, size, "%zu layers", n - 1);
        return;
    }
    for (size_t l = 0; l < n; l++)
        sizes[l] = clmlp_layer_size(net, l);
    cli_format_sizes(sizes, n, buf, size);
}
