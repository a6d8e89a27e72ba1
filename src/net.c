/*
 * The network object and the public entry points: argument checks first (a failing
 * call changes nothing), then the layer loop, once, over the backend's operations.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "config.h"
#include "data_parallel.h"
#include "error.h"
#include "net_internal.h"
#include "step.h"
#include "rng.h"

/* ---- configuration ------------------------------------------------------ */

/* ---- argument checks ---------------------------------------------------- */

static clmlp_status check_layer_index(const clmlp_net *net, size_t l, size_t first)
{
    if (l < first || l > net->L)
        return clmlp_fail(CLMLP_EINVAL, "layer %zu is out of range %zu..%zu", l, first, net->L);
    return CLMLP_OK;
}

clmlp_status clmlp_check_finite(const clmlp_net *net, const double *v, size_t rows, size_t cols, const char *what)
{
    double limit = net->cfg.dtype == CLMLP_F32 ? FLT_MAX : DBL_MAX;
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            double x = v[r * cols + c];
            if (!(fabs(x) <= limit))
                return clmlp_fail(CLMLP_ENUMERIC, "%s[%zu][%zu] = %g is not a finite %s", what, r, c, x,
                                  net->cfg.dtype == CLMLP_F32 ? "float" : "double");
        }
    return CLMLP_OK;
}

/* Reads n values and refuses NaN or Inf among them: a blow-up (a huge learning rate,
 * logits beyond float range) surfaces at the first read instead of passing silently. */
static clmlp_status read_finite(const clmlp_net *net, const clmlp_buf *buf, double *dst, size_t n, const char *what,
                                size_t l)
{
    TRY(clmlp_buf_download(net->be, buf, dst, n));
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return clmlp_fail(CLMLP_ENUMERIC, "%s[%zu] element %zu is %g: the net diverged (learning rate too large?)",
                              what, l, i, dst[i]);
    return CLMLP_OK;
}

/* ---- creation ----------------------------------------------------------- */

void clmlp_destroy(clmlp_net *net)
{
    if (!net)
        return;
    if (net->be && net->layers) {
        for (size_t l = 1; l <= net->L; l++) {
            clmlp_layer *ly = &net->layers[l];
            clmlp_buf *owned[] = {ly->W, ly->b, ly->dW, ly->db, ly->vW, ly->vb, ly->sW, ly->sb};
            for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++)
                clmlp_buf_release(net->be, owned[i]);
        }
        clmlp_step_release(net);
    }
    if (net->be)
        net->be->ops->destroy(net->be);
    free(net->layers);
    free(net->n);
    free(net->input_mean);
    free(net->input_std);
    free(net->dp_flat);
    free(net);
}

/* nn.Linear's default: W and b uniform in ±1/√n_{l-1}. */
static clmlp_status init_weights(clmlp_net *net)
{
    uint64_t state = net->cfg.seed;
    for (size_t l = 1; l <= net->L; l++) {
        size_t n_w = net->n[l] * net->n[l - 1], n_b = net->n[l];
        double *values = clmlp_alloc_array(n_w + n_b, sizeof *values);
        if (!values)
            return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu initial weights", n_w + n_b);
        double bound = 1.0 / sqrt((double)net->n[l - 1]);
        for (size_t e = 0; e < n_w + n_b; e++)
            values[e] = bound * (2.0 * clmlp_rng_uniform(&state) - 1.0);
        clmlp_status s = clmlp_buf_upload(net->be, net->layers[l].W, 0, values, n_w);
        if (s == CLMLP_OK)
            s = clmlp_buf_upload(net->be, net->layers[l].b, 0, values + n_w, n_b);
        free(values);
        TRY(s);
    }
    return CLMLP_OK;
}

static clmlp_status allocate_parameters(clmlp_net *net)
{
    for (size_t l = 1; l <= net->L; l++) {
        clmlp_layer *ly = &net->layers[l];
        size_t n_w = net->n[l] * net->n[l - 1];
        TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, n_w, &ly->W));
        TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, net->n[l], &ly->b));
        TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, n_w, &ly->dW));
        TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, net->n[l], &ly->db));
    }
    return CLMLP_OK;
}

clmlp_status clmlp_create(const size_t *sizes, size_t n_sizes, const clmlp_config *cfg, clmlp_net **out)
{
    if (!out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_create: out is NULL");
    if (!sizes)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_create: sizes is NULL");
    if (n_sizes < 2)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_create: %zu sizes given, a net needs at least 2 (n_0 and n_L)", n_sizes);
    for (size_t l = 0; l < n_sizes; l++)
        if (sizes[l] == 0)
            return clmlp_fail(CLMLP_EINVAL, "clmlp_create: n_%zu is 0; every layer needs at least one unit", l);
    for (size_t l = 1; l < n_sizes; l++) {
        size_t n_w;
        if (!clmlp_mul_ok(sizes[l], sizes[l - 1], &n_w) || !clmlp_mul_ok(n_w, sizeof(double), &n_w))
            return clmlp_fail(CLMLP_EINVAL, "clmlp_create: layer %zu of %zu × %zu weights overflows size_t", l,
                              sizes[l], sizes[l - 1]);
    }
    clmlp_config resolved;
    clmlp_config_init(&resolved);
    TRY(clmlp_config_resolve(cfg ? cfg : &resolved, &resolved));
    cfg = &resolved;

    clmlp_net *net = calloc(1, sizeof *net);
    if (!net)
        return clmlp_fail(CLMLP_ENOMEM, "clmlp_create: cannot allocate the net");
    net->cfg = *cfg;
    net->L = n_sizes - 1;
    net->n = clmlp_alloc_array(n_sizes, sizeof *net->n);
    net->layers = calloc(n_sizes, sizeof *net->layers);
    clmlp_status s = CLMLP_OK;
    if (!net->n || !net->layers)
        s = clmlp_fail(CLMLP_ENOMEM, "clmlp_create: cannot allocate %zu layers", n_sizes);
    else
        memcpy(net->n, sizes, n_sizes * sizeof *net->n);
    if (s == CLMLP_OK)
        s = clmlp_backend_open(cfg, net->n, n_sizes, &net->be);
    if (s == CLMLP_OK)
        s = allocate_parameters(net);
    if (s == CLMLP_OK)
        s = init_weights(net);
    if (s != CLMLP_OK) {
        clmlp_destroy(net);
        return s;
    }
    *out = net;
    return CLMLP_OK;
}

size_t clmlp_num_layers(const clmlp_net *net) { return net ? net->L : 0; }

size_t clmlp_layer_size(const clmlp_net *net, size_t l) { return net && l <= net->L ? net->n[l] : 0; }

clmlp_loss clmlp_loss_type(const clmlp_net *net) { return net ? net->cfg.loss : CLMLP_LOSS_MSE; }

clmlp_dtype clmlp_dtype_of(const clmlp_net *net) { return net ? net->cfg.dtype : CLMLP_F64; }

clmlp_status clmlp_optimizer_state(const clmlp_net *net, clmlp_optimizer *optimizer, uint64_t *adam_steps)
{
    if (!net || !optimizer || !adam_steps)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_optimizer_state: %s is NULL",
                          !net         ? "net"
                          : !optimizer ? "optimizer"
                                       : "adam_steps");
    *optimizer = net->state_of;
    *adam_steps = net->state_of == CLMLP_OPT_ADAM ? net->adam_steps : 0;
    return CLMLP_OK;
}

const char *clmlp_backend_name(const clmlp_net *net) { return net ? net->be->name : ""; }

const char *clmlp_kernel_info(const clmlp_net *net) { return net ? net->be->kernels : ""; }

clmlp_status clmlp_profile(clmlp_net *net, clmlp_kernel_profile *out, size_t capacity, size_t *count, int reset)
{
    if (!net || !count || (capacity && !out))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_profile: %s is NULL", !net ? "net" : !count ? "count" : "out");
    if (!net->be->ops->profile)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_profile: the %s backend has no kernel profile", net->be->name);
    return net->be->ops->profile(net->be, out, capacity, count, reset);
}

/* ---- parameters --------------------------------------------------------- */

clmlp_status clmlp_set_layer(clmlp_net *net, size_t l, const double *W, const double *b)
{
    if (!net || !W || !b)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_set_layer: %s is NULL", !net ? "net" : !W ? "W" : "b");
    TRY(check_layer_index(net, l, 1));
    TRY(clmlp_check_finite(net, W, net->n[l], net->n[l - 1], "W"));
    TRY(clmlp_check_finite(net, b, 1, net->n[l], "b"));
    net->weights_moved = 1;
    TRY(clmlp_buf_upload(net->be, net->layers[l].W, 0, W, net->n[l] * net->n[l - 1]));
    return clmlp_buf_upload(net->be, net->layers[l].b, 0, b, net->n[l]);
}

clmlp_status clmlp_get_layer(const clmlp_net *net, size_t l, double *W, double *b)
{
    if (!net || !W || !b)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_get_layer: %s is NULL", !net ? "net" : !W ? "W" : "b");
    TRY(check_layer_index(net, l, 1));
    TRY(read_finite(net, net->layers[l].W, W, net->n[l] * net->n[l - 1], "W", l));
    return read_finite(net, net->layers[l].b, b, net->n[l], "b", l);
}

/* ---- forward and backward ----------------------------------------------- */

clmlp_status clmlp_forward(clmlp_net *net, const double *x, size_t batch, double *y)
{
    if (!net || !x)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_forward: %s is NULL", !net ? "net" : "x");
    if (batch == 0)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_forward: batch is 0");
    for (size_t l = 0; l <= net->L; l++) {
        size_t count;
        if (!clmlp_mul3_ok(batch, net->n[l], sizeof(double), &count))
            return clmlp_fail(CLMLP_EINVAL, "clmlp_forward: batch %zu × n_%zu = %zu overflows size_t", batch, l,
                              net->n[l]);
    }
    TRY(clmlp_check_finite(net, x, batch, net->n[0], "x"));
    TRY(clmlp_step_reserve(net, batch));

    net->batch = 0; /* no usable state until the pass completes */
    TRY(clmlp_buf_upload(net->be, net->layers[0].a, 0, x, batch * net->n[0]));
    TRY(clmlp_step_forward(net, batch));
    if (y)
        TRY(read_finite(net, net->layers[net->L].a, y, batch * net->n[net->L], "a", net->L));
    net->batch = batch;
    net->weights_moved = 0;
    return CLMLP_OK;
}

clmlp_status clmlp_backward(clmlp_net *net, const double *y_true, double *loss)
{
    if (!net || !y_true)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_backward: %s is NULL", !net ? "net" : "y_true");
    if (net->batch == 0)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_backward: no forward state; call clmlp_forward first");
    if (net->weights_moved)
        return clmlp_fail(CLMLP_EINVAL,
                          "clmlp_backward: the weights changed since the last clmlp_forward; run it again");
    size_t batch = net->batch, L = net->L;
    TRY(clmlp_check_finite(net, y_true, batch, net->n[L], "y_true"));

    net->have_grad = 0;
    TRY(clmlp_step_set_targets(net, y_true, batch));
    TRY(clmlp_step_backward(net, batch));

    net->have_grad = 1;
    if (!loss)
        return CLMLP_OK; /* nothing to wait for: the caller reads nothing */
    double total;
    TRY(clmlp_step_loss(net, batch, &total));
    if (!isfinite(total))
        return clmlp_fail(CLMLP_ENUMERIC, "clmlp_backward: the loss is %g; inputs, targets or weights are too large",
                          total);
    *loss = total;
    return CLMLP_OK;
}

clmlp_status clmlp_get_grad(const clmlp_net *net, size_t l, double *dW, double *db)
{
    if (!net || !dW || !db)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_get_grad: %s is NULL", !net ? "net" : !dW ? "dW" : "db");
    TRY(check_layer_index(net, l, 1));
    if (!net->have_grad)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_get_grad: no gradients; call clmlp_backward first");
    TRY(read_finite(net, net->layers[l].dW, dW, net->n[l] * net->n[l - 1], "dW", l));
    return read_finite(net, net->layers[l].db, db, net->n[l], "db", l);
}

clmlp_status clmlp_get_state(const clmlp_net *net, size_t l, double *z, double *a)
{
    if (!net || !a)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_get_state: %s is NULL", !net ? "net" : "a");
    TRY(check_layer_index(net, l, 0));
    if (l == 0 && z)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_get_state: layer 0 is the input and has no z; pass z = NULL");
    if (net->batch == 0)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_get_state: no forward state; call clmlp_forward first");
    size_t count = net->batch * net->n[l];
    if (z)
        TRY(read_finite(net, net->layers[l].z, z, count, "z", l));
    return read_finite(net, net->layers[l].a, a, count, "a", l);
}

clmlp_status clmlp_sgd_step(clmlp_net *net, double lr)
{
    if (!net)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_sgd_step: net is NULL");
    if (!(lr >= 0 && isfinite(lr)))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_sgd_step: learning rate %g is not finite and ≥ 0", lr);
    if (!net->have_grad)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_sgd_step: no gradients; call clmlp_backward first");
    net->weights_moved = 1;
    clmlp_sgd plain = {.lr = lr, .grad_scale = 1}; /* no momentum: the velocities are neither read nor written */
    for (size_t l = 1; l <= net->L; l++) {
        clmlp_layer *ly = &net->layers[l];
        TRY(net->be->ops->sgd_momentum(net->be, net->n[l] * net->n[l - 1], &plain, ly->dW, NULL, ly->W));
        TRY(net->be->ops->sgd_momentum(net->be, net->n[l], &plain, ly->db, NULL, ly->b));
    }
    return CLMLP_OK;
}

/* ---- optimizer state (zeros before any training) -------------------------- */

static clmlp_buf **moment_slot(clmlp_layer *ly, int moment, int bias)
{
    if (moment == 1)
        return bias ? &ly->vb : &ly->vW;
    return bias ? &ly->sb : &ly->sW;
}

clmlp_status clmlp_net_read_moment(const clmlp_net *net, int moment, size_t l, double *W, double *b)
{
    clmlp_layer *ly = &net->layers[l];
    size_t n_w = net->n[l] * net->n[l - 1];
    const clmlp_buf *mW = *moment_slot(ly, moment, 0), *mb = *moment_slot(ly, moment, 1);
    if (!mW || !mb) { /* never trained */
        memset(W, 0, n_w * sizeof *W);
        memset(b, 0, net->n[l] * sizeof *b);
        return CLMLP_OK;
    }
    const char *what = moment == 1 ? "first moment (velocity)" : "second moment";
    TRY(read_finite(net, mW, W, n_w, what, l));
    return read_finite(net, mb, b, net->n[l], what, l);
}

clmlp_status clmlp_net_write_moment(clmlp_net *net, int moment, size_t l, const double *W, const double *b)
{
    clmlp_layer *ly = &net->layers[l];
    size_t counts[2] = {net->n[l] * net->n[l - 1], net->n[l]};
    const double *values[2] = {W, b};
    for (int bias = 0; bias < 2; bias++) {
        clmlp_buf **slot = moment_slot(ly, moment, bias);
        if (!*slot)
            TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, counts[bias], slot));
        TRY(clmlp_buf_upload(net->be, *slot, 0, values[bias], counts[bias]));
    }
    return CLMLP_OK;
}

/* ---- the optimizer step of clmlp_update ------------------------------------ */

static clmlp_status check_update(const clmlp_net *net, const clmlp_train_options *opt, double grad_scale)
{
    if (!net)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_update: net is NULL");
    TRY(clmlp_train_options_check(opt));
    if (!(isfinite(grad_scale) && grad_scale > 0))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_update: grad_scale %g is not finite and > 0", grad_scale);
    if (!net->have_grad)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_update: no gradients; call clmlp_backward first");
    return CLMLP_OK;
}

clmlp_status clmlp_update(clmlp_net *net, const clmlp_train_options *opt, double grad_scale)
{
    clmlp_train_options defaults;
    clmlp_train_options_init(&defaults);
    opt = opt ? opt : &defaults;
    clmlp_status checked = check_update(net, opt, grad_scale);
    if (opt->comm) { /* the gradients of every rank, summed, then the same update everywhere */
        TRY(clmlp_dp_prepare(opt->comm, net, checked, "clmlp_update"));
        TRY(clmlp_dp_sum_gradients(opt->comm, net, CLMLP_OK, "clmlp_update"));
    }
    TRY(checked);
    clmlp_rule rule = clmlp_train_rule(opt, opt->lr);
    net->weights_moved = 1;
    return clmlp_step_update(net, &rule, grad_scale);
}

/* ---- standardization ----------------------------------------------------------- */

clmlp_status clmlp_set_standardization(clmlp_net *net, const double *mean, const double *std)
{
    if (!net)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_set_standardization: net is NULL");
    if (!mean != !std)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_set_standardization: give both mean and std, or neither");
    if (!mean) {
        free(net->input_mean);
        free(net->input_std);
        net->input_mean = net->input_std = NULL;
        return CLMLP_OK;
    }
    size_t n = net->n[0];
    for (size_t j = 0; j < n; j++) {
        if (!isfinite(mean[j]))
            return clmlp_fail(CLMLP_ENUMERIC, "clmlp_set_standardization: mean[%zu] = %g is not finite", j, mean[j]);
        if (!(isfinite(std[j]) && std[j] > 0))
            return clmlp_fail(CLMLP_EINVAL, "clmlp_set_standardization: std[%zu] = %g is not finite and > 0", j,
                              std[j]);
    }
    double *m = clmlp_alloc_array(n, sizeof *m), *s = clmlp_alloc_array(n, sizeof *s);
    if (!m || !s) {
        free(m);
        free(s);
        return clmlp_fail(CLMLP_ENOMEM, "clmlp_set_standardization: cannot allocate %zu values", n);
    }
    memcpy(m, mean, n * sizeof *m);
    memcpy(s, std, n * sizeof *s);
    free(net->input_mean);
    free(net->input_std);
    net->input_mean = m;
    net->input_std = s;
    return CLMLP_OK;
}

clmlp_status clmlp_get_standardization(const clmlp_net *net, double *mean, double *std, int *present)
{
    if (!net || !present)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_get_standardization: %s is NULL", !net ? "net" : "present");
    *present = net->input_mean != NULL;
    if (*present && mean)
        memcpy(mean, net->input_mean, net->n[0] * sizeof *mean);
    if (*present && std)
        memcpy(std, net->input_std, net->n[0] * sizeof *std);
    return CLMLP_OK;
}

clmlp_status clmlp_standardize(const clmlp_net *net, double *x, size_t rows)
{
    if (!net || (!x && rows))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_standardize: %s is NULL", !net ? "net" : "x");
    size_t n = net->n[0], cells;
    if (!clmlp_mul_ok(rows, n, &cells))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_standardize: %zu rows × %zu inputs overflow", rows, n);
    if (!net->input_mean)
        return CLMLP_OK;
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < n; j++)
            x[r * n + j] = (x[r * n + j] - net->input_mean[j]) / net->input_std[j];
    return CLMLP_OK;
}
