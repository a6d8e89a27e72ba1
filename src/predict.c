/* clmlp_predict: inference through the net's parameters into buffers of its own, so
 * that several threads may share one net (the backends make their launches atomic). */
#include <math.h>
#include <stdlib.h>

#include "checked.h"
#include "net_internal.h"
#include "step.h"

enum { PREDICT_ROWS = 256 }; /* rows per pass: bounds the buffers of one call */

/* Buffers of one call: a[0] (the input) and z[l], a[l] for l = 1..L. */
typedef struct pass {
    clmlp_buf **z, **a;
} pass;

static void release_pass(const clmlp_net *net, pass *p)
{
    for (size_t l = 0; p->z && p->a && l <= net->L; l++) {
        clmlp_buf_release(net->be, p->z[l]);
        clmlp_buf_release(net->be, p->a[l]);
    }
    free(p->z);
    free(p->a);
}

static clmlp_status reserve_pass(const clmlp_net *net, size_t rows, pass *p)
{
    p->z = calloc(net->L + 1, sizeof *p->z);
    p->a = calloc(net->L + 1, sizeof *p->a);
    if (!p->z || !p->a)
        return clmlp_fail(CLMLP_ENOMEM, "clmlp_predict: cannot allocate %zu layers", net->L + 1);
    for (size_t l = 0; l <= net->L; l++) {
        TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, rows * net->n[l], &p->a[l]));
        if (l > 0)
            TRY(clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, rows * net->n[l], &p->z[l]));
    }
    return CLMLP_OK;
}

/* Each row of n scores becomes its softmax (in double, shifted by the row's maximum). */
static void softmax_rows(double *y, size_t rows, size_t n)
{
    for (size_t r = 0; r < rows; r++) {
        double *v = y + r * n, top = v[0], total = 0;
        for (size_t k = 1; k < n; k++)
            top = v[k] > top ? v[k] : top;
        for (size_t k = 0; k < n; k++)
            total += v[k] = exp(v[k] - top);
        for (size_t k = 0; k < n; k++)
            v[k] /= total;
    }
}

static clmlp_status predict_rows(const clmlp_net *net, const pass *p, const double *x, size_t rows, double *y)
{
    size_t n_out = net->n[net->L];
    TRY(clmlp_buf_upload(net->be, p->a[0], 0, x, rows * net->n[0]));
    TRY(clmlp_step_forward_into(net, rows, p->a[0], p->z, p->a));
    TRY(clmlp_buf_download(net->be, p->a[net->L], y, rows * n_out));
    for (size_t e = 0; e < rows * n_out; e++)
        if (!isfinite(y[e]))
            return clmlp_fail(CLMLP_ENUMERIC, "clmlp_predict: output %zu of row %zu is %g: the net diverged", e % n_out,
                              e / n_out, y[e]);
    if (net->cfg.loss == CLMLP_LOSS_SOFTMAX_CE)
        softmax_rows(y, rows, n_out);
    return CLMLP_OK;
}

clmlp_status clmlp_predict(const clmlp_net *net, const double *x, size_t batch, double *y)
{
    if (!net || !x || !y)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_predict: %s is NULL", !net ? "net" : !x ? "x" : "y");
    if (batch == 0)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_predict: batch is 0");
    for (size_t l = 0; l <= net->L; l++) {
        size_t bytes;
        if (!clmlp_mul3_ok(batch, net->n[l], sizeof(double), &bytes))
            return clmlp_fail(CLMLP_EINVAL, "clmlp_predict: batch %zu × n_%zu = %zu overflows size_t", batch, l,
                              net->n[l]);
    }
    TRY(clmlp_check_finite(net, x, batch, net->n[0], "x"));
    size_t rows = batch < PREDICT_ROWS ? batch : PREDICT_ROWS, n_in = net->n[0], n_out = net->n[net->L];
    pass p = {NULL, NULL};
    clmlp_status s = reserve_pass(net, rows, &p);
    for (size_t first = 0; s == CLMLP_OK && first < batch; first += rows) {
        size_t n = batch - first < rows ? batch - first : rows;
        s = predict_rows(net, &p, x + first * n_in, n, y + first * n_out);
    }
    release_pass(net, &p);
    return s;
}
