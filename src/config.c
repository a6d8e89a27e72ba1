/* The configuration: defaults, checks, and the environment variables, which are only
 * documented defaults for the choices a config leaves open — read here and nowhere
 * else in the library (CLMLP_DEVICE, CLMLP_GEMM, CLMLP_KERNELS, CLMLP_TILES, CLMLP_PROFILE,
 * CLMLP_CACHE_DIR). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void clmlp_config_init(clmlp_config *cfg)
{
    if (!cfg)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->backend = CLMLP_BACKEND_AUTO;
    cfg->dtype = CLMLP_F64;
    cfg->loss = CLMLP_LOSS_MSE;
    cfg->platform = -1;
    cfg->device = -1;
    cfg->products = CLMLP_PRODUCTS_AUTO;
    cfg->kernels = CLMLP_KERNELS_AUTO;
    cfg->seed = 0;
}

/* "gpu", "cpu" or "P:D" into cfg (P:D sets platform and device); `source` names where
 * the spec came from in messages. */
static clmlp_status apply_device_spec(clmlp_config *cfg, const char *spec, const char *source)
{
    int p, d, used = 0;
    if (strcmp(spec, "gpu") == 0 || strcmp(spec, "cpu") == 0) {
        if (spec != cfg->device_spec) /* (spec may be cfg's own: an overlapping snprintf would empty it) */
            snprintf(cfg->device_spec, sizeof cfg->device_spec, "%s", spec);
        return CLMLP_OK;
    }
    if (sscanf(spec, "%d:%d%n", &p, &d, &used) == 2 && spec[used] == '\0' && p >= 0 && d >= 0) {
        cfg->platform = p;
        cfg->device = d;
        cfg->device_spec[0] = '\0';
        return CLMLP_OK;
    }
    return clmlp_fail(CLMLP_EINVAL, "%s '%s' is not gpu, cpu or PLATFORM:DEVICE (e.g. 0:1)", source, spec);
}

static clmlp_status parse_products(const char *text, clmlp_products *out)
{
    static const char *const names[] = {"auto", "own", "clblast", "simple"};
    for (int i = 0; i < 4; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (clmlp_products)i;
            return CLMLP_OK;
        }
    return clmlp_fail(CLMLP_EINVAL, "CLMLP_GEMM='%s' is not auto, own, clblast or simple", text);
}

static clmlp_status parse_kernels(const char *text, clmlp_kernels *out)
{
    static const char *const names[] = {"auto", "cpu", "gpu"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (clmlp_kernels)i;
            return CLMLP_OK;
        }
    return clmlp_fail(CLMLP_EINVAL, "CLMLP_KERNELS='%s' is not auto, cpu or gpu", text);
}

clmlp_status clmlp_config_resolve(const clmlp_config *in, clmlp_config *out)
{
    clmlp_config c = *in;
    if (c.backend != CLMLP_BACKEND_AUTO && c.backend != CLMLP_BACKEND_OPENCL && c.backend != CLMLP_BACKEND_HOST)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown backend %d", (int)c.backend);
    if (c.dtype != CLMLP_F64 && c.dtype != CLMLP_F32)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown dtype %d", (int)c.dtype);
    if (c.loss != CLMLP_LOSS_MSE && c.loss != CLMLP_LOSS_SOFTMAX_CE)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown loss %d", (int)c.loss);
    if (c.platform < -1 || c.device < -1)
        return clmlp_fail(CLMLP_EINVAL, "config: platform %d / device %d: use -1 to choose, else an index ≥ 0",
                          c.platform, c.device);
    if (memchr(c.device_spec, '\0', sizeof c.device_spec) == NULL)
        return clmlp_fail(CLMLP_EINVAL, "config: device_spec is not a terminated string");
    if (c.products < CLMLP_PRODUCTS_AUTO || c.products > CLMLP_PRODUCTS_SIMPLE)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown products %d", (int)c.products);

    int device_open = c.platform == -1 && c.device == -1;
    if (device_open && c.device_spec[0])
        TRY(apply_device_spec(&c, c.device_spec, "config: device_spec"));
    else if (device_open) {
        const char *env = getenv("CLMLP_DEVICE");
        if (env && *env)
            TRY(apply_device_spec(&c, env, "CLMLP_DEVICE"));
    } else
        c.device_spec[0] = '\0'; /* indices win */
    if (memchr(c.tiles, '\0', sizeof c.tiles) == NULL)
        return clmlp_fail(CLMLP_EINVAL, "config: tiles is not a terminated string");
    if (!c.tiles[0]) {
        const char *env = getenv("CLMLP_TILES");
        if (env && *env && snprintf(c.tiles, sizeof c.tiles, "%s", env) >= (int)sizeof c.tiles)
            return clmlp_fail(CLMLP_EINVAL, "CLMLP_TILES='%s' is too long", env);
    }
    if (c.kernels < CLMLP_KERNELS_AUTO || c.kernels > CLMLP_KERNELS_GPU)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown kernels %d", (int)c.kernels);
    if (c.kernels == CLMLP_KERNELS_AUTO) {
        const char *env = getenv("CLMLP_KERNELS");
        if (env && *env)
            TRY(parse_kernels(env, &c.kernels));
    }
    if (c.profile < -1 || c.profile > 1)
        return clmlp_fail(CLMLP_EINVAL, "config: profile %d is not -1 (off), 0 (CLMLP_PROFILE decides) or 1 (on)",
                          c.profile);
    if (c.profile == 0) {
        const char *env = getenv("CLMLP_PROFILE");
        c.profile = env && strcmp(env, "1") == 0 ? 1 : -1;
    }
    if (c.products == CLMLP_PRODUCTS_AUTO) {
        const char *env = getenv("CLMLP_GEMM");
        if (env && *env)
            TRY(parse_products(env, &c.products));
    }
    *out = c;
    return CLMLP_OK;
}

int clmlp_env_cache_dir(char *dir, size_t size)
{
    const char *given = getenv("CLMLP_CACHE_DIR"), *home = getenv("HOME"), *xdg = getenv("XDG_CACHE_HOME");
    int n;
    if (given && strcmp(given, "off") == 0)
        return 0;
    if (given && *given)
        n = snprintf(dir, size, "%s", given);
    else if (xdg && *xdg)
        n = snprintf(dir, size, "%s/clmlp", xdg);
    else if (home && *home)
        n = snprintf(dir, size, "%s/.cache/clmlp", home);
    else
        return 0;
    return n > 0 && (size_t)n < size;
}
