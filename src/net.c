/*
 * The network object and the public entry points: argument checks first (a failing
 * call changes nothing), then the layer loop, once, over the backend's operations.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "error.h"
#include "net_internal.h"
#include "rng.h"


/* ---- configuration ------------------------------------------------------ */

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
    cfg->seed = 0;
}

static clmlp_status check_config(const clmlp_config *cfg)
{
    if (cfg->backend != CLMLP_BACKEND_AUTO && cfg->backend != CLMLP_BACKEND_OPENCL && cfg->backend != CLMLP_BACKEND_HOST)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown backend %d", (int)cfg->backend);
    if (cfg->dtype != CLMLP_F64 && cfg->dtype != CLMLP_F32)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown dtype %d", (int)cfg->dtype);
    if (cfg->loss != CLMLP_LOSS_MSE && cfg->loss != CLMLP_LOSS_SOFTMAX_CE)
        return clmlp_fail(CLMLP_EINVAL, "config: unknown loss %d", (int)cfg->loss);
    if (cfg->platform < -1 || cfg->device < -1)
        return clmlp_fail(CLMLP_EINVAL, "config: platform %d / device %d: use -1 to choose, else an index ≥ 0",
                          cfg->platform, cfg->device);
    return CLMLP_OK;
}

/* ---- argument checks ---------------------------------------------------- */

static clmlp_status check_layer_index(const clmlp_net *net, size_t l, size_t first)
{
    if (l < first || l > net->L)
        return clmlp_fail(CLMLP_EINVAL, "layer %zu is out of range %zu..%zu", l, first, net->L);
    return CLMLP_OK;
}

/* Refuses NaN and Inf, and values a float net cannot hold, naming the element. */
static clmlp_status check_finite(const clmlp_net *net, const double *v, size_t rows, size_t cols,
                                 const char *what)
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
    TRY(net->be->ops->download(net->be, buf, dst, n));
    for (size_t i = 0; i < n; i++)
        if (!isfinite(dst[i]))
            return clmlp_fail(CLMLP_ENUMERIC, "%s[%zu] element %zu is %g: the net diverged (learning rate too large?)",
                              what, l, i, dst[i]);
    return CLMLP_OK;
}

/* ---- creation ----------------------------------------------------------- */

static void release_batch_state(clmlp_net *net, layer *layers, clmlp_buf *y, clmlp_buf *row_loss)
{
    const clmlp_backend_ops *ops = net->be->ops;
    for (size_t l = 0; l <= net->L; l++) {
        ops->release(net->be, layers[l].z);
        ops->release(net->be, layers[l].a);
        ops->release(net->be, layers[l].delta);
    }
    ops->release(net->be, y);
    ops->release(net->be, row_loss);
}

void clmlp_destroy(clmlp_net *net)
{
    if (!net)
        return;
    if (net->be && net->layers) {
        const clmlp_backend_ops *ops = net->be->ops;
        for (size_t l = 1; l <= net->L; l++) {
            ops->release(net->be, net->layers[l].W);
            ops->release(net->be, net->layers[l].b);
            ops->release(net->be, net->layers[l].dW);
            ops->release(net->be, net->layers[l].db);
            ops->release(net->be, net->layers[l].vW);
            ops->release(net->be, net->layers[l].vb);
        }
        ops->release(net->be, net->stats);
        ops->release(net->be, net->confusion);
        ops->release_indices(net->be, net->order);
        release_batch_state(net, net->layers, net->y, net->row_loss);
    }
    if (net->be)
        net->be->ops->destroy(net->be);
    free(net->layers);
    free(net->n);
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
        clmlp_status s = net->be->ops->upload(net->be, net->layers[l].W, 0, values, n_w);
        if (s == CLMLP_OK)
            s = net->be->ops->upload(net->be, net->layers[l].b, 0, values + n_w, n_b);
        free(values);
        TRY(s);
    }
    return CLMLP_OK;
}

static clmlp_status allocate_parameters(clmlp_net *net)
{
    const clmlp_backend_ops *ops = net->be->ops;
    for (size_t l = 1; l <= net->L; l++) {
        layer *ly = &net->layers[l];
        size_t n_w = net->n[l] * net->n[l - 1];
        TRY(ops->alloc(net->be, n_w, &ly->W));
        TRY(ops->alloc(net->be, net->n[l], &ly->b));
        TRY(ops->alloc(net->be, n_w, &ly->dW));
        TRY(ops->alloc(net->be, net->n[l], &ly->db));
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
    clmlp_config defaults;
    clmlp_config_init(&defaults);
    if (!cfg)
        cfg = &defaults;
    TRY(check_config(cfg));

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
        s = clmlp_backend_open(cfg, &net->be);
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

const char *clmlp_backend_name(const clmlp_net *net) { return net ? net->be->name : ""; }

/* ---- parameters --------------------------------------------------------- */

clmlp_status clmlp_set_layer(clmlp_net *net, size_t l, const double *W, const double *b)
{
    if (!net || !W || !b)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_set_layer: %s is NULL", !net ? "net" : !W ? "W" : "b");
    TRY(check_layer_index(net, l, 1));
    TRY(check_finite(net, W, net->n[l], net->n[l - 1], "W"));
    TRY(check_finite(net, b, 1, net->n[l], "b"));
    net->weights_moved = 1;
    TRY(net->be->ops->upload(net->be, net->layers[l].W, 0, W, net->n[l] * net->n[l - 1]));
    return net->be->ops->upload(net->be, net->layers[l].b, 0, b, net->n[l]);
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

/* Batch buffers hold `rows` rows; growing allocates the new set before freeing the
 * old, so a failure leaves the net as it was. */
clmlp_status clmlp_net_reserve(clmlp_net *net, size_t rows)
{
    if (rows <= net->capacity)
        return CLMLP_OK;
    for (size_t l = 0; l <= net->L; l++) {
        size_t bytes;
        if (!clmlp_mul3_ok(rows, net->n[l], sizeof(double), &bytes))
            return clmlp_fail(CLMLP_ENOMEM, "a batch of %zu rows × n_%zu = %zu overflows size_t", rows, l, net->n[l]);
    }
    const clmlp_backend_ops *ops = net->be->ops;
    layer *fresh = calloc(net->L + 1, sizeof *fresh);
    clmlp_buf *y = NULL, *row_loss = NULL;
    if (!fresh)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate batch state");
    clmlp_status s = CLMLP_OK;
    for (size_t l = 0; l <= net->L && s == CLMLP_OK; l++) {
        size_t count = rows * net->n[l];
        s = ops->alloc(net->be, count, &fresh[l].a);
        if (s == CLMLP_OK && l > 0)
            s = ops->alloc(net->be, count, &fresh[l].z);
        if (s == CLMLP_OK && l > 0)
            s = ops->alloc(net->be, count, &fresh[l].delta);
    }
    if (s == CLMLP_OK)
        s = ops->alloc(net->be, rows * net->n[net->L], &y);
    if (s == CLMLP_OK)
        s = ops->alloc(net->be, rows, &row_loss);
    if (s != CLMLP_OK) {
        release_batch_state(net, fresh, y, row_loss);
        free(fresh);
        return s;
    }
    release_batch_state(net, net->layers, net->y, net->row_loss);
    for (size_t l = 0; l <= net->L; l++) {
        net->layers[l].z = fresh[l].z;
        net->layers[l].a = fresh[l].a;
        net->layers[l].delta = fresh[l].delta;
    }
    free(fresh);
    net->y = y;
    net->row_loss = row_loss;
    net->capacity = rows;
    return CLMLP_OK;
}


static int apply_tanh(const clmlp_net *net, size_t l)
{
    return !(net->cfg.loss == CLMLP_LOSS_SOFTMAX_CE && l == net->L);
}

clmlp_status clmlp_net_forward_pass(clmlp_net *net, size_t batch)
{
    for (size_t l = 1; l <= net->L; l++) {
        layer *ly = &net->layers[l];
        clmlp_status s = net->be->ops->forward_layer(net->be, batch, net->n[l - 1], net->n[l], net->layers[l - 1].a,
                                                     ly->W, ly->b, apply_tanh(net, l), ly->z, ly->a);
        if (s != CLMLP_OK)
            return clmlp_fail_context(s, "forward layer %zu", l);
    }
    return CLMLP_OK;
}

clmlp_status clmlp_net_output_delta(clmlp_net *net, size_t batch)
{
    layer *out = &net->layers[net->L];
    return net->be->ops->output_delta(net->be, net->cfg.loss, batch, net->n[net->L], out->z, out->a, net->y,
                                      out->delta, net->row_loss);
}

/* Layer l's gradient and SGD step, fused where the backend can. */
static clmlp_status weight_step(clmlp_net *net, size_t batch, size_t l, const clmlp_sgd *sgd)
{
    const clmlp_backend_ops *ops = net->be->ops;
    layer *ly = &net->layers[l];
    size_t n_in = net->n[l - 1], n_out = net->n[l];
    if (ops->weight_grad_sgd)
        return ops->weight_grad_sgd(net->be, batch, n_in, n_out, ly->delta, net->layers[l - 1].a, sgd, ly->dW, ly->db,
                                    ly->W, ly->vW, ly->b, ly->vb);
    TRY(ops->weight_grad(net->be, batch, n_in, n_out, ly->delta, net->layers[l - 1].a, ly->dW, ly->db));
    TRY(ops->sgd_momentum(net->be, n_out * n_in, sgd->lr, sgd->grad_scale, sgd->momentum, sgd->weight_decay, ly->dW,
                          ly->vW, ly->W));
    return ops->sgd_momentum(net->be, n_out, sgd->lr, sgd->grad_scale, sgd->momentum, sgd->weight_decay, ly->db,
                             ly->vb, ly->b);
}

clmlp_status clmlp_net_backward_pass(clmlp_net *net, size_t batch, const clmlp_sgd *sgd)
{
    const clmlp_backend_ops *ops = net->be->ops;
    for (size_t l = net->L; l >= 1; l--) {
        layer *ly = &net->layers[l];
        clmlp_status s = CLMLP_OK;
        if (l > 1) /* before W[l] moves */
            s = ops->backprop_delta(net->be, batch, net->n[l - 1], net->n[l], ly->delta, ly->W,
                                    net->layers[l - 1].z, net->layers[l - 1].delta);
        if (s == CLMLP_OK)
            s = sgd ? weight_step(net, batch, l, sgd)
                    : ops->weight_grad(net->be, batch, net->n[l - 1], net->n[l], ly->delta, net->layers[l - 1].a,
                                       ly->dW, ly->db);
        if (s != CLMLP_OK)
            return clmlp_fail_context(s, "backward layer %zu", l);
    }
    return CLMLP_OK;
}

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
    TRY(check_finite(net, x, batch, net->n[0], "x"));
    TRY(clmlp_net_reserve(net, batch));

    net->batch = 0; /* no usable state until the pass completes */
    TRY(net->be->ops->upload(net->be, net->layers[0].a, 0, x, batch * net->n[0]));
    TRY(clmlp_net_forward_pass(net, batch));
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
        return clmlp_fail(CLMLP_EINVAL, "clmlp_backward: the weights changed since the last clmlp_forward; run it again");
    size_t batch = net->batch, L = net->L;
    TRY(check_finite(net, y_true, batch, net->n[L], "y_true"));

    const clmlp_backend_ops *ops = net->be->ops;
    net->have_grad = 0;
    TRY(ops->upload(net->be, net->y, 0, y_true, batch * net->n[L]));
    TRY(clmlp_net_output_delta(net, batch));
    TRY(clmlp_net_backward_pass(net, batch, NULL));

    net->have_grad = 1;
    if (!loss)
        return CLMLP_OK; /* nothing to wait for: the caller reads nothing */
    double *rows = clmlp_alloc_array(batch, sizeof *rows);
    if (!rows)
        return clmlp_fail(CLMLP_ENOMEM, "clmlp_backward: cannot allocate %zu losses", batch);
    clmlp_status s = ops->download(net->be, net->row_loss, rows, batch);
    double total = 0;
    for (size_t i = 0; s == CLMLP_OK && i < batch; i++)
        total += rows[i];
    free(rows);
    TRY(s);
    if (!isfinite(total))
        return clmlp_fail(CLMLP_ENUMERIC, "clmlp_backward: the loss is %g; inputs, targets or weights are too large", total);
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
    const clmlp_backend_ops *ops = net->be->ops;
    net->weights_moved = 1;
    for (size_t l = 1; l <= net->L; l++) {
        layer *ly = &net->layers[l];
        TRY(ops->sgd_update(net->be, net->n[l] * net->n[l - 1], lr, ly->dW, ly->W));
        TRY(ops->sgd_update(net->be, net->n[l], lr, ly->db, ly->b));
    }
    return CLMLP_OK;
}

/* ---- counters for training and evaluation -------------------------------- */

/* *buf, if missing, becomes a buffer of n zeros; a failure leaves it missing (never
 * allocated but unset, which a later call would use as is). */
static clmlp_status zeroed_buffer(clmlp_net *net, size_t n, clmlp_buf **buf)
{
    if (*buf)
        return CLMLP_OK;
    clmlp_buf *fresh;
    TRY(net->be->ops->alloc(net->be, n, &fresh));
    clmlp_status s = net->be->ops->fill(net->be, fresh, n, 0.0);
    if (s != CLMLP_OK) {
        net->be->ops->release(net->be, fresh);
        return s;
    }
    *buf = fresh;
    return CLMLP_OK;
}

clmlp_status clmlp_net_reserve_counters(clmlp_net *net, int confusion)
{
    size_t classes = net->n[net->L], cells;
    if (confusion && !clmlp_mul_ok(classes, classes, &cells))
        return clmlp_fail(CLMLP_ENOMEM, "a %zu × %zu confusion matrix overflows size_t", classes, classes);
    TRY(zeroed_buffer(net, 3, &net->stats));
    return confusion ? zeroed_buffer(net, cells, &net->confusion) : CLMLP_OK;
}

clmlp_status clmlp_net_flush_counters(clmlp_net *net, double *sums, double *confusion)
{
    const clmlp_backend_ops *ops = net->be->ops;
    double counters[3];
    TRY(ops->download(net->be, net->stats, counters, 3));
    sums[0] += counters[0];
    sums[1] += counters[1];
    if (sums[2] == 0)
        sums[2] = counters[2];
    TRY(ops->fill(net->be, net->stats, 3, 0.0));
    if (confusion) {
        size_t cells = net->n[net->L] * net->n[net->L]; /* checked by clmlp_net_reserve_counters */
        double *counts = clmlp_alloc_array(cells, sizeof *counts);
        if (!counts)
            return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a %zu-cell confusion matrix", cells);
        clmlp_status s = ops->download(net->be, net->confusion, counts, cells);
        for (size_t c = 0; s == CLMLP_OK && c < cells; c++)
            confusion[c] += counts[c];
        free(counts);
        TRY(s);
        TRY(ops->fill(net->be, net->confusion, cells, 0.0));
    }
    return CLMLP_OK;
}

/* ---- momentum velocities ------------------------------------------------- */

/* Velocities start at zero and persist across epochs (and checkpoints). */
clmlp_status clmlp_net_reserve_velocities(clmlp_net *net)
{
    for (size_t l = 1; l <= net->L; l++) {
        layer *ly = &net->layers[l];
        TRY(zeroed_buffer(net, net->n[l] * net->n[l - 1], &ly->vW));
        TRY(zeroed_buffer(net, net->n[l], &ly->vb));
    }
    return CLMLP_OK;
}

clmlp_status clmlp_net_read_velocity(const clmlp_net *net, size_t l, double *vW, double *vb)
{
    const layer *ly = &net->layers[l];
    size_t n_w = net->n[l] * net->n[l - 1];
    if (!ly->vW || !ly->vb) { /* never trained */
        memset(vW, 0, n_w * sizeof *vW);
        memset(vb, 0, net->n[l] * sizeof *vb);
        return CLMLP_OK;
    }
    TRY(read_finite(net, ly->vW, vW, n_w, "velocity of W", l));
    return read_finite(net, ly->vb, vb, net->n[l], "velocity of b", l);
}

clmlp_status clmlp_net_write_velocity(clmlp_net *net, size_t l, const double *vW, const double *vb)
{
    TRY(clmlp_net_reserve_velocities(net));
    TRY(net->be->ops->upload(net->be, net->layers[l].vW, 0, vW, net->n[l] * net->n[l - 1]));
    return net->be->ops->upload(net->be, net->layers[l].vb, 0, vb, net->n[l]);
}
