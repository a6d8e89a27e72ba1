/* Gradients by central finite differences, for checking backpropagation. Uses only the
 * public entry points and computes the loss here, on the host, from the outputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "error.h"

/* The loss of outputs `out` against y (batch × n): the definitions in clmlp.h. */
static double loss_of(clmlp_loss loss, const double *out, const double *y, size_t batch, size_t n)
{
    double total = 0;
    for (size_t i = 0; i < batch; i++) {
        const double *o = out + i * n, *t = y + i * n;
        if (loss == CLMLP_LOSS_MSE) {
            for (size_t k = 0; k < n; k++)
                total += (o[k] - t[k]) * (o[k] - t[k]);
            continue;
        }
        double m = o[0], s = 0;
        for (size_t k = 1; k < n; k++)
            m = o[k] > m ? o[k] : m;
        for (size_t k = 0; k < n; k++)
            s += exp(o[k] - m);
        for (size_t k = 0; k < n; k++)
            total -= t[k] * (o[k] - m - log(s));
    }
    return total;
}

clmlp_status clmlp_numeric_grad(clmlp_net *net, const double *x, const double *y_true, size_t batch, size_t l,
                                double eps, double *dW, double *db)
{
    if (!net || !x || !y_true || !dW || !db)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_numeric_grad: a pointer argument is NULL");
    size_t L = clmlp_num_layers(net);
    if (l < 1 || l > L)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_numeric_grad: layer %zu is out of range 1..%zu", l, L);
    if (!(eps > 0 && isfinite(eps)))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_numeric_grad: eps %g is not finite and > 0", eps);
    if (batch == 0)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_numeric_grad: batch is 0");
    size_t rows = clmlp_layer_size(net, l), cols = clmlp_layer_size(net, l - 1), n_out = clmlp_layer_size(net, L);
    size_t n_w = rows * cols, n_y, bytes; /* n_w: clmlp_create checked it */
    if (!clmlp_mul_ok(batch, n_out, &n_y) || !clmlp_mul_ok(n_y, sizeof(double), &bytes))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_numeric_grad: batch %zu × %zu outputs overflows size_t", batch, n_out);
    clmlp_loss loss = clmlp_loss_type(net);

    double *W = clmlp_alloc_array(n_w, sizeof *W), *b = clmlp_alloc_array(rows, sizeof *b);
    double *out = clmlp_alloc_array(n_y, sizeof *out);
    clmlp_status s =
        W && b && out ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "clmlp_numeric_grad: cannot allocate %zu outputs", n_y);
    if (s == CLMLP_OK)
        s = clmlp_get_layer(net, l, W, b);
    for (size_t e = 0; s == CLMLP_OK && e < n_w + rows; e++) {
        double *p = e < n_w ? &W[e] : &b[e - n_w], saved = *p, value[2];
        for (int side = 0; side < 2 && s == CLMLP_OK; side++) {
            *p = saved + (side ? -eps : eps);
            s = clmlp_set_layer(net, l, W, b);
            if (s == CLMLP_OK)
                s = clmlp_forward(net, x, batch, out);
            if (s == CLMLP_OK) /* out is only defined after a forward that succeeded */
                value[side] = loss_of(loss, out, y_true, batch, n_out);
        }
        *p = saved;
        if (s == CLMLP_OK)
            *(e < n_w ? &dW[e] : &db[e - n_w]) = (value[0] - value[1]) / (2 * eps);
    }
    if (W && b) { /* put the layer back whatever happened */
        clmlp_status restore = clmlp_set_layer(net, l, W, b);
        s = s == CLMLP_OK ? restore : s;
    }
    free(W);
    free(b);
    free(out);
    return s;
}
