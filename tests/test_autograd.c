/*
 * Losses and gradients against PyTorch autograd (tests/data/torch_reference.txt, made
 * by tests/data/make_torch_reference.py with Debian's python3-torch): MSE summed like
 * nn.MSELoss(reduction='none').sum() and softmax cross-entropy, batch 1 and > 1,
 * two and three layers, on both backends in double and float.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SIZES = 8, MAX_LINE = 1 << 20 };

typedef struct {
    char name[64];
    clmlp_loss loss;
    size_t batch, n_sizes, sizes[MAX_SIZES];
    double *W[MAX_SIZES], *b[MAX_SIZES], *dW[MAX_SIZES], *db[MAX_SIZES], *x, *y, value;
} ref_case;

static char line[MAX_LINE];

/* Reads the label line (must equal `label`) and the number line after it into n values. */
static double *read_block(FILE *f, const char *label, size_t n)
{
    if (!fgets(line, sizeof line, f) || strncmp(line, label, strlen(label)) != 0)
        fail_msg("reference file: expected '%s', got '%.40s'", label, line);
    if (!fgets(line, sizeof line, f))
        fail_msg("reference file: no numbers after '%s'", label);
    double *v = test_alloc(n);
    char *p = line, *end;
    for (size_t i = 0; i < n; i++, p = end) {
        v[i] = strtod(p, &end);
        if (end == p)
            fail_msg("reference file: '%s' has fewer than %zu numbers", label, n);
    }
    return v;
}

static int read_case(FILE *f, ref_case *c)
{
    char loss[8];
    int used = 0;
    do {
        if (!fgets(line, sizeof line, f))
            return 0;
    } while (line[0] == '#');
    memset(c, 0, sizeof *c);
    if (sscanf(line, "case %63s %7s %zu%n", c->name, loss, &c->batch, &used) != 3)
        fail_msg("reference file: bad case line '%.60s'", line);
    c->loss = strcmp(loss, "ce") == 0 ? CLMLP_LOSS_SOFTMAX_CE : CLMLP_LOSS_MSE;
    for (char *p = line + used, *end;; p = end) {
        unsigned long v = strtoul(p, &end, 10);
        if (end == p)
            break;
        c->sizes[c->n_sizes++] = v;
    }
    char label[32];
    for (size_t l = 1; l < c->n_sizes; l++) {
        snprintf(label, sizeof label, "W %zu", l);
        c->W[l] = read_block(f, label, c->sizes[l] * c->sizes[l - 1]);
        snprintf(label, sizeof label, "b %zu", l);
        c->b[l] = read_block(f, label, c->sizes[l]);
    }
    c->x = read_block(f, "x", c->batch * c->sizes[0]);
    c->y = read_block(f, "y", c->batch * c->sizes[c->n_sizes - 1]);
    double *v = read_block(f, "loss", 1);
    c->value = v[0];
    free(v);
    for (size_t l = 1; l < c->n_sizes; l++) {
        snprintf(label, sizeof label, "dW %zu", l);
        c->dW[l] = read_block(f, label, c->sizes[l] * c->sizes[l - 1]);
        snprintf(label, sizeof label, "db %zu", l);
        c->db[l] = read_block(f, label, c->sizes[l]);
    }
    return 1;
}

static void free_case(ref_case *c)
{
    for (size_t l = 1; l < c->n_sizes; l++) {
        free(c->W[l]);
        free(c->b[l]);
        free(c->dW[l]);
        free(c->db[l]);
    }
    free(c->x);
    free(c->y);
}

static void check_backend(clmlp_backend backend, clmlp_dtype dtype, double tol)
{
    const char *path = CLMLP_TEST_SOURCE_DIR "/data/torch_reference.txt";
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s", path);
    ref_case c;
    int cases = 0;
    double worst = 0;
    while (read_case(f, &c)) {
        clmlp_net *net = test_net(c.sizes, c.n_sizes, backend, dtype, c.loss, 0);
        for (size_t l = 1; l < c.n_sizes; l++)
            TEST_OK(clmlp_set_layer(net, l, c.W[l], c.b[l]));
        double value;
        TEST_OK(clmlp_forward(net, c.x, c.batch, NULL));
        TEST_OK(clmlp_backward(net, c.y, &value));
        if (!(fabs(value - c.value) <= tol * fabs(c.value)))
            fail_msg("%s: loss %.17g, autograd %.17g", c.name, value, c.value);
        for (size_t l = 1; l < c.n_sizes; l++) {
            size_t n_w = c.sizes[l] * c.sizes[l - 1];
            double *dW = test_alloc(n_w), *db = test_alloc(c.sizes[l]);
            TEST_OK(clmlp_get_grad(net, l, dW, db));
            double e = fmax(test_rel_err(dW, c.dW[l], n_w), test_rel_err(db, c.db[l], c.sizes[l]));
            if (!(e <= tol))
                fail_msg("%s layer %zu: gradients vs autograd relative error %.3g > %.1g", c.name, l, e, tol);
            worst = fmax(worst, e);
            free(dW);
            free(db);
        }
        clmlp_destroy(net);
        free_case(&c);
        cases++;
    }
    fclose(f);
    assert_true(cases >= 5);
    printf("# %s %s: %d cases, worst relative error vs autograd %.3g\n",
           backend == CLMLP_BACKEND_HOST ? "host" : "opencl", dtype == CLMLP_F64 ? "f64" : "f32", cases, worst);
}

static void host_f64(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_HOST, CLMLP_F64, 1e-12);
}
static void opencl_f64(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_OPENCL, CLMLP_F64, 1e-12);
}
static void host_f32(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_HOST, CLMLP_F32, 1e-4);
}
static void opencl_f32(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_OPENCL, CLMLP_F32, 1e-4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(host_f64), cmocka_unit_test(opencl_f64),
                                       cmocka_unit_test(host_f32), cmocka_unit_test(opencl_f32)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
