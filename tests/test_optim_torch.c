/*
 * The optimizers against PyTorch (tests/data/optim_reference.txt, made by
 * tests/make_optim_reference.py with Debian's python3-torch 1.13): K full-batch steps of
 * torch.optim.SGD(lr, momentum 0.9, weight_decay 0.01), plain SGD and
 * torch.optim.Adam(lr, betas (0.9, 0.999), eps 1e-8 and 1e-3, weight_decay 0.01) on the
 * batch-mean loss (MSE: Σ over outputs of (a − y)²; cross-entropy on integer labels or
 * on soft targets), two nets (5-7-4 and 6-8-5-3), in float64 and float32, on both
 * backends, by three paths:
 *   epoch:  K epochs of clmlp_train_epoch with batch = count on a dataset from
 *           clmlp_dataset_from_labels (one-hot {0,1}) or clmlp_dataset_from_arrays;
 *   update: K rounds of clmlp_forward + clmlp_backward + clmlp_update(1/count);
 *   mixed:  the two alternating, which share one optimizer state.
 * After every step each W[l] and b[l] is compared with torch's by
 *   e = max_i |w_i − w_torch_i| / max_i |w_torch_i|      (per tensor),
 * the error relative to the tensor's scale: Adam moves every weight by about lr whatever
 * its size, so an elementwise relative error would measure weights that happen to pass
 * near 0, not the arithmetic. The loss before each step (the epoch's stats.loss, the
 * backward's loss / count) is compared with torch's too. Every reference step moves each
 * tensor by at least MIN_MOVE of its scale (checked), far above the tolerances: an update
 * that is skipped, lags a step or uses another hyperparameter fails.
 *
 * Tolerances (measured worst over all cases, steps, paths and both backends, f64 and
 * f32, on POCL; the test prints them):
 *   f64: 1e-12; measured below 1e-15 — rounding only.
 *   f32 SGD: 2e-6; measured 2.3e-7. Both sides round every operation to float but not
 *     identically (summation orders, the mean taken before or after the products, scalars
 *     rounded to float): ~1e-7 per operation, which six steps carry into the weights.
 *   f32 Adam: 2e-6; measured 2.8e-7 on the host path, 8.4e-7 on OpenCL (soft-target
 *     CE). Adam need not amplify float rounding here: torch's own float32 Adam stays
 *     within 1.9e-7 of its float64 Adam on these cases. (With 1 − β2 formed in float from
 *     β2 rounded to float, 1 − 0.999f = 0.00099998713, clmlp measured 1.1e-6; it now
 *     rounds 1 − β1 and 1 − β2 once from double, as torch does.)
 * Every tolerance stays at least 100 times below the smallest reference step (MIN_MOVE,
 * measured ≥ 8e-3).
 *
 * Also: changing the optimizer (or SGD's momentum to 0) between epochs starts its state
 * afresh, and clmlp_update's argument errors return CLMLP_EINVAL and change nothing.
 */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SIZES = 6, MAX_STEPS = 8, MAX_CASES = 32, MAX_LINE = 1 << 18 };

static const double TOL_F64 = 1e-12, TOL_F32_SGD = 2e-6, TOL_F32_ADAM = 2e-6, MIN_MOVE = 1e-3;

typedef struct {
    char name[64];
    clmlp_loss loss;
    int labels; /* 1: integer labels (y holds their one-hot {0,1} rows), 0: y as given */
    int soft;   /* CE on target distributions */
    clmlp_optimizer optimizer;
    clmlp_dtype dtype;
    size_t count, steps, n_sizes, sizes[MAX_SIZES];
    double lr, momentum, weight_decay, beta1, beta2, eps;
    double *x, *y;
    uint32_t *label;
    double loss_ref[MAX_STEPS + 1];                                    /* [s]: the batch-mean loss before step s */
    double *W[MAX_STEPS + 1][MAX_SIZES], *b[MAX_STEPS + 1][MAX_SIZES]; /* [0]: initial, [s]: after step s */
} ref_case;

static char line[MAX_LINE];
static ref_case cases[MAX_CASES];
static size_t n_cases;

static void next_line(FILE *f, const char *what)
{
    if (!fgets(line, sizeof line, f))
        fail_msg("optim_reference.txt: end of file, expected %s", what);
}

/* The label line (must equal `label`) and the number line after it: n values. */
static double *read_block(FILE *f, const char *label, size_t n)
{
    next_line(f, label);
    if (strncmp(line, label, strlen(label)) != 0 || (line[strlen(label)] != '\n' && line[strlen(label)] != '\0'))
        fail_msg("optim_reference.txt: expected '%s', got '%.40s'", label, line);
    next_line(f, label);
    double *v = test_alloc(n);
    char *p = line, *end;
    for (size_t i = 0; i < n; i++, p = end) {
        v[i] = strtod(p, &end);
        if (end == p)
            fail_msg("optim_reference.txt: '%s' has fewer than %zu numbers", label, n);
    }
    (void)strtod(p, &end);
    if (end != p)
        fail_msg("optim_reference.txt: '%s' has more than %zu numbers", label, n);
    return v;
}

static void read_layers(FILE *f, ref_case *c, size_t s)
{
    char label[32];
    for (size_t l = 1; l < c->n_sizes; l++) {
        snprintf(label, sizeof label, "W %zu", l);
        c->W[s][l] = read_block(f, label, c->sizes[l] * c->sizes[l - 1]);
        snprintf(label, sizeof label, "b %zu", l);
        c->b[s][l] = read_block(f, label, c->sizes[l]);
    }
}

static int read_case(FILE *f, ref_case *c)
{
    do {
        if (!fgets(line, sizeof line, f))
            return 0;
    } while (line[0] == '#');
    memset(c, 0, sizeof *c);
    char loss[8], target[8], opt[8], dtype[8];
    int used = 0;
    if (sscanf(line, "case %63s %7s %7s %7s %7s %zu %zu%n", c->name, loss, target, opt, dtype, &c->count, &c->steps,
               &used) != 7)
        fail_msg("optim_reference.txt: bad case line '%.60s'", line);
    c->loss = strcmp(loss, "ce") == 0 ? CLMLP_LOSS_SOFTMAX_CE : CLMLP_LOSS_MSE;
    c->labels = strcmp(target, "labels") == 0;
    c->soft = c->loss == CLMLP_LOSS_SOFTMAX_CE && !c->labels;
    c->optimizer = strcmp(opt, "adam") == 0 ? CLMLP_OPT_ADAM : CLMLP_OPT_SGD;
    c->dtype = strcmp(dtype, "f32") == 0 ? CLMLP_F32 : CLMLP_F64;
    for (char *p = line + used, *end;; p = end) {
        unsigned long v = strtoul(p, &end, 10);
        if (end == p)
            break;
        if (c->n_sizes == MAX_SIZES)
            fail_msg("%s: more than %d sizes", c->name, MAX_SIZES);
        c->sizes[c->n_sizes++] = v;
    }
    if (c->n_sizes < 2 || c->steps < 1 || c->steps > MAX_STEPS || c->count < 1)
        fail_msg("%s: bad sizes, steps or count", c->name);
    next_line(f, "hyper");
    if (sscanf(line, "hyper %lf %lf %lf %lf %lf %lf", &c->lr, &c->momentum, &c->weight_decay, &c->beta1, &c->beta2,
               &c->eps) != 6)
        fail_msg("%s: bad hyper line '%.60s'", c->name, line);
    read_layers(f, c, 0);
    size_t n_out = c->sizes[c->n_sizes - 1];
    c->x = read_block(f, "x", c->count * c->sizes[0]);
    if (c->labels) {
        double *v = read_block(f, "labels", c->count);
        c->label = calloc(c->count, sizeof *c->label);
        assert_non_null(c->label);
        c->y = test_alloc(c->count * n_out);
        for (size_t i = 0; i < c->count; i++) {
            assert_true(v[i] >= 0 && v[i] < (double)n_out && v[i] == floor(v[i]));
            c->label[i] = (uint32_t)v[i];
            c->y[i * n_out + c->label[i]] = 1.0;
        }
        free(v);
    } else {
        c->y = read_block(f, "y", c->count * n_out);
    }
    for (size_t s = 1; s <= c->steps; s++) {
        char label[16];
        snprintf(label, sizeof label, "step %zu", s);
        next_line(f, label);
        if (strncmp(line, label, strlen(label)) != 0 || line[strlen(label)] != '\n')
            fail_msg("%s: expected '%s', got '%.40s'", c->name, label, line);
        double *v = read_block(f, "loss", 1);
        c->loss_ref[s] = v[0];
        free(v);
        read_layers(f, c, s);
    }
    return 1;
}

static void free_cases(void)
{
    for (size_t k = 0; k < n_cases; k++) {
        ref_case *c = &cases[k];
        for (size_t s = 0; s <= c->steps; s++)
            for (size_t l = 1; l < c->n_sizes; l++) {
                free(c->W[s][l]);
                free(c->b[s][l]);
            }
        free(c->x);
        free(c->y);
        free(c->label);
    }
    n_cases = 0;
}

static int load_cases(void **state)
{
    (void)state;
    const char *path = CLMLP_TEST_SOURCE_DIR "/data/optim_reference.txt";
    FILE *f = fopen(path, "r");
    if (!f) {
        print_error("cannot open %s\n", path);
        return -1;
    }
    while (n_cases < MAX_CASES && read_case(f, &cases[n_cases]))
        n_cases++;
    fclose(f);
    return 0;
}

static int unload_cases(void **state)
{
    (void)state;
    free_cases();
    return 0;
}

/* max |a − b| / max |b|: the error relative to the tensor's scale. */
static double scaled_err(const double *a, const double *b, size_t n)
{
    double diff = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(a[i] - b[i]));
        scale = fmax(scale, fabs(b[i]));
    }
    if (isnan(diff))
        return INFINITY;
    return scale == 0 ? (diff == 0 ? 0 : INFINITY) : diff / scale;
}

/* The worst scaled error of the net's tensors against step s of c. */
static double weights_err(const clmlp_net *net, const ref_case *c, size_t s)
{
    double worst = 0;
    for (size_t l = 1; l < c->n_sizes; l++) {
        size_t n_w = c->sizes[l] * c->sizes[l - 1];
        double *W = test_alloc(n_w), *b = test_alloc(c->sizes[l]);
        TEST_OK(clmlp_get_layer(net, l, W, b));
        worst = fmax(worst, fmax(scaled_err(W, c->W[s][l], n_w), scaled_err(b, c->b[s][l], c->sizes[l])));
        free(W);
        free(b);
    }
    return worst;
}

static void check_reference_moves(const ref_case *c)
{
    for (size_t s = 1; s <= c->steps; s++)
        for (size_t l = 1; l < c->n_sizes; l++) {
            size_t n_w = c->sizes[l] * c->sizes[l - 1];
            double move =
                fmin(scaled_err(c->W[s - 1][l], c->W[s][l], n_w), scaled_err(c->b[s - 1][l], c->b[s][l], c->sizes[l]));
            if (!(move >= MIN_MOVE))
                fail_msg("%s step %zu layer %zu: the reference moves by only %.3g", c->name, s, l, move);
        }
}

static clmlp_net *case_net(const ref_case *c, clmlp_backend backend)
{
    clmlp_net *net = test_net(c->sizes, c->n_sizes, backend, c->dtype, c->loss, 0);
    for (size_t l = 1; l < c->n_sizes; l++)
        TEST_OK(clmlp_set_layer(net, l, c->W[0][l], c->b[0][l]));
    return net;
}

static clmlp_train_options case_options(const ref_case *c)
{
    clmlp_train_options o;
    clmlp_train_options_init(&o);
    o.batch = c->count;
    o.lr = c->lr;
    o.lr_decay = 1;
    o.optimizer = c->optimizer;
    o.momentum = c->momentum;
    o.weight_decay = c->weight_decay;
    o.beta1 = c->beta1;
    o.beta2 = c->beta2;
    o.eps = c->eps;
    o.seed = 11;
    return o;
}

static clmlp_dataset *case_dataset(clmlp_net *net, const ref_case *c)
{
    clmlp_dataset *data = NULL;
    if (c->labels)
        TEST_OK(clmlp_dataset_from_labels(net, c->x, c->label, c->count, CLMLP_TARGET_ONEHOT_01, &data));
    else
        TEST_OK(clmlp_dataset_from_arrays(net, c->x, c->y, c->count, &data));
    assert_int_equal(clmlp_dataset_count(data), c->count);
    return data;
}

typedef enum { PATH_EPOCH, PATH_UPDATE, PATH_MIXED, N_PATHS } path_kind;
static const char *const path_names[N_PATHS] = {"epoch", "update", "mixed"};

typedef struct {
    double weights, loss;
} errs;

/* Runs c by `path` and returns the worst errors over its steps; fails beyond tol. */
static errs run_case(const ref_case *c, clmlp_backend backend, path_kind path, double tol)
{
    clmlp_net *net = case_net(c, backend);
    clmlp_dataset *data = path == PATH_UPDATE ? NULL : case_dataset(net, c);
    clmlp_train_options o = case_options(c);
    errs worst = {0, 0};
    for (size_t s = 1; s <= c->steps; s++) {
        double loss;
        if (path == PATH_EPOCH || (path == PATH_MIXED && s % 2 == 1)) {
            clmlp_epoch_stats st;
            TEST_OK(clmlp_train_epoch(net, data, &o, s - 1, &st));
            assert_int_equal(st.samples, c->count);
            loss = st.loss;
        } else {
            TEST_OK(clmlp_forward(net, c->x, c->count, NULL));
            TEST_OK(clmlp_backward(net, c->y, &loss));
            TEST_OK(clmlp_update(net, &o, 1.0 / (double)c->count));
            loss /= (double)c->count;
        }
        double el = fabs(loss - c->loss_ref[s]) / fabs(c->loss_ref[s]);
        double ew = weights_err(net, c, s);
        if (!(el <= tol))
            fail_msg("%s %s step %zu: loss %.17g, torch %.17g (relative error %.3g > %.1g)", c->name, path_names[path],
                     s, loss, c->loss_ref[s], el, tol);
        if (!(ew <= tol))
            fail_msg("%s %s step %zu: weights vs torch error %.3g > %.1g", c->name, path_names[path], s, ew, tol);
        worst.weights = fmax(worst.weights, ew);
        worst.loss = fmax(worst.loss, el);
    }
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
    return worst;
}

static const char *opt_label(const ref_case *c)
{
    if (c->optimizer == CLMLP_OPT_ADAM)
        return c->eps == 1e-8 ? "adam" : "adam-eps";
    return c->momentum == 0 && c->weight_decay == 0 ? "sgd-plain" : "sgd";
}

static const char *loss_label(const ref_case *c)
{
    return c->loss == CLMLP_LOSS_MSE ? "mse" : c->soft ? "ce-soft" : "ce";
}

static double case_tol(const ref_case *c)
{
    if (c->dtype == CLMLP_F64)
        return TOL_F64;
    return c->optimizer == CLMLP_OPT_ADAM ? TOL_F32_ADAM : TOL_F32_SGD;
}

static void check_backend(clmlp_backend backend, clmlp_dtype dtype)
{
    const char *bname = test_backend(backend) == CLMLP_BACKEND_HOST ? "host" : "opencl";
    const char *dname = dtype == CLMLP_F64 ? "f64" : "f32";
    double worst_sgd = 0, worst_adam = 0;
    size_t ran = 0;
    for (size_t k = 0; k < n_cases; k++) {
        const ref_case *c = &cases[k];
        if (c->dtype != dtype)
            continue;
        check_reference_moves(c);
        errs e[N_PATHS];
        for (int p = 0; p < N_PATHS; p++) {
            e[p] = run_case(c, backend, (path_kind)p, case_tol(c));
            if (c->optimizer == CLMLP_OPT_ADAM)
                worst_adam = fmax(worst_adam, e[p].weights);
            else
                worst_sgd = fmax(worst_sgd, e[p].weights);
        }
        print_message("# %-6s %s %-9s %-7s %-28s weights: epoch %8.2e update %8.2e mixed %8.2e | loss: %8.2e %8.2e "
                      "%8.2e\n",
                      bname, dname, opt_label(c), loss_label(c), c->name, e[0].weights, e[1].weights, e[2].weights,
                      e[0].loss, e[1].loss, e[2].loss);
        ran++;
    }
    assert_true(ran >= 12);
    print_message("# %s %s: %zu cases x %d paths, worst weight error vs torch: sgd %.3g (tolerance %.0e), adam %.3g "
                  "(tolerance %.0e)\n",
                  bname, dname, ran, (int)N_PATHS, worst_sgd, dtype == CLMLP_F64 ? TOL_F64 : TOL_F32_SGD, worst_adam,
                  dtype == CLMLP_F64 ? TOL_F64 : TOL_F32_ADAM);
}

static void host_f64(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_HOST, CLMLP_F64);
}
static void opencl_f64(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_OPENCL, CLMLP_F64);
}
static void host_f32(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_HOST, CLMLP_F32);
}
static void opencl_f32(void **state)
{
    (void)state;
    check_backend(CLMLP_BACKEND_OPENCL, CLMLP_F32);
}

static const ref_case *find_case(const char *name)
{
    for (size_t k = 0; k < n_cases; k++)
        if (strcmp(cases[k].name, name) == 0)
            return &cases[k];
    fail_msg("optim_reference.txt has no case %s", name);
    return NULL;
}

/* The worst scaled error between the tensors of two nets of the same sizes. */
static double nets_err(const clmlp_net *a, const clmlp_net *b)
{
    double worst = 0;
    for (size_t l = 1; l <= clmlp_num_layers(a); l++) {
        size_t rows = clmlp_layer_size(a, l), n_w = rows * clmlp_layer_size(a, l - 1);
        double *Wa = test_alloc(n_w), *ba = test_alloc(rows), *Wb = test_alloc(n_w), *bb = test_alloc(rows);
        TEST_OK(clmlp_get_layer(a, l, Wa, ba));
        TEST_OK(clmlp_get_layer(b, l, Wb, bb));
        worst = fmax(worst, fmax(scaled_err(Wa, Wb, n_w), scaled_err(ba, bb, rows)));
        free(Wa);
        free(ba);
        free(Wb);
        free(bb);
    }
    return worst;
}

/* Changing the optimizer between epochs starts its state afresh, as a new torch
 * optimizer would: one net runs segments of two epochs each with SGD (momentum),
 * Adam, SGD with momentum 0, SGD (momentum), Adam; at the start of each segment a fresh
 * net gets its weights and runs the segment with the same epoch numbers (the same
 * shuffles): both must agree. The first segment is also torch's SGD case. */
static void check_switch(clmlp_backend backend)
{
    const ref_case *sgd = find_case("b_mse_values_sgd_f64"), *adam = find_case("b_mse_values_adam_f64");
    clmlp_train_options seg[5];
    seg[0] = case_options(sgd);
    seg[1] = case_options(adam);
    seg[2] = case_options(sgd);
    seg[2].momentum = 0;
    seg[3] = case_options(sgd);
    seg[4] = case_options(adam);
    const char *names[5] = {"sgd", "adam", "sgd momentum 0", "sgd", "adam"};
    clmlp_net *net = case_net(sgd, backend);
    clmlp_dataset *data = case_dataset(net, sgd);
    size_t epoch = 0;
    double worst = 0;
    for (int k = 0; k < 5; k++) {
        clmlp_net *fresh = test_net(sgd->sizes, sgd->n_sizes, backend, CLMLP_F64, sgd->loss, 0);
        test_copy_weights(net, fresh);
        clmlp_dataset *fresh_data = case_dataset(fresh, sgd);
        for (size_t e = epoch; e < epoch + 2; e++) {
            clmlp_epoch_stats st;
            TEST_OK(clmlp_train_epoch(net, data, &seg[k], e, &st));
            TEST_OK(clmlp_train_epoch(fresh, fresh_data, &seg[k], e, &st));
            if (k == 0) {
                double ew = weights_err(net, sgd, e + 1);
                if (!(ew <= TOL_F64))
                    fail_msg("switch: first segment vs torch error %.3g", ew);
            }
        }
        epoch += 2;
        double e = nets_err(net, fresh);
        if (!(e <= 1e-14))
            fail_msg("switch: after the segment %d (%s) the net differs from a fresh one by %.3g: state kept", k,
                     names[k], e);
        worst = fmax(worst, e);
        clmlp_dataset_destroy(fresh_data);
        clmlp_destroy(fresh);
    }
    clmlp_dataset_destroy(data);
    clmlp_destroy(net);
    print_message("# switch %s: 5 segments, worst difference from fresh nets %.3g\n",
                  test_backend(backend) == CLMLP_BACKEND_HOST ? "host" : "opencl", worst);
}

static void switch_host(void **state)
{
    (void)state;
    check_switch(CLMLP_BACKEND_HOST);
}
static void switch_opencl(void **state)
{
    (void)state;
    check_switch(CLMLP_BACKEND_OPENCL);
}

/* W[l], b[l] (l = 1..L) receive copies of the net's layers. */
static void save_weights(const clmlp_net *net, double **W, double **b)
{
    for (size_t l = 1; l <= clmlp_num_layers(net); l++) {
        size_t rows = clmlp_layer_size(net, l);
        W[l] = test_alloc(rows * clmlp_layer_size(net, l - 1));
        b[l] = test_alloc(rows);
        TEST_OK(clmlp_get_layer(net, l, W[l], b[l]));
    }
}

/* Asserts the net's weights equal W, b (saved by save_weights) exactly. */
static void assert_weights(const clmlp_net *net, double **W, double **b, const char *what)
{
    for (size_t l = 1; l <= clmlp_num_layers(net); l++) {
        size_t rows = clmlp_layer_size(net, l), n_w = rows * clmlp_layer_size(net, l - 1);
        double *W2 = test_alloc(n_w), *b2 = test_alloc(rows);
        TEST_OK(clmlp_get_layer(net, l, W2, b2));
        if (memcmp(W2, W[l], n_w * sizeof *W2) != 0 || memcmp(b2, b[l], rows * sizeof *b2) != 0)
            fail_msg("%s changed layer %zu", what, l);
        free(W2);
        free(b2);
    }
}

static void free_weights(const clmlp_net *net, double **W, double **b)
{
    for (size_t l = 1; l <= clmlp_num_layers(net); l++) {
        free(W[l]);
        free(b[l]);
    }
}

/* clmlp_update's refusals: CLMLP_EINVAL, the weights untouched, and the optimizer state
 * too: after them the net continues exactly as a twin that never saw them. */
static void check_update_errors(clmlp_backend backend)
{
    const ref_case *c = find_case("a_mse_values_adam_f64");
    clmlp_train_options o = case_options(c);
    double *W[MAX_SIZES], *b[MAX_SIZES];

    TEST_FAILS(CLMLP_EINVAL, clmlp_update(NULL, &o, 1.0));

    /* no backward yet: fresh, then after a forward only */
    clmlp_net *net = case_net(c, backend), *twin = case_net(c, backend);
    save_weights(net, W, b);
    TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &o, 1.0));
    TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, NULL, 1.0));
    assert_weights(net, W, b, "clmlp_update without a forward");
    TEST_OK(clmlp_forward(net, c->x, c->count, NULL));
    TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &o, 1.0));
    assert_weights(net, W, b, "clmlp_update without a backward");
    free_weights(net, W, b);

    /* one valid Adam step on both, then a new backward */
    const double scale = 1.0 / (double)c->count;
    clmlp_net *both[2] = {net, twin};
    for (int k = 0; k < 2; k++) {
        TEST_OK(clmlp_forward(both[k], c->x, c->count, NULL));
        TEST_OK(clmlp_backward(both[k], c->y, NULL));
        TEST_OK(clmlp_update(both[k], &o, scale));
        TEST_OK(clmlp_forward(both[k], c->x, c->count, NULL));
        TEST_OK(clmlp_backward(both[k], c->y, NULL));
    }
    save_weights(net, W, b);
    const double bad_scales[] = {0.0, -0.1, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_scales / sizeof *bad_scales; i++) {
        TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &o, bad_scales[i]));
        assert_weights(net, W, b, "clmlp_update with a bad grad_scale");
    }
    const double bad_beta[] = {1.0, -0.1, 1.5, NAN};
    for (size_t i = 0; i < sizeof bad_beta / sizeof *bad_beta; i++) {
        clmlp_train_options bad = o;
        bad.beta1 = bad_beta[i];
        TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &bad, scale));
        bad = o;
        bad.beta2 = bad_beta[i];
        TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &bad, scale));
        assert_weights(net, W, b, "clmlp_update with beta1 or beta2 outside [0, 1)");
    }
    const double bad_eps[] = {0.0, -1e-8, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_eps / sizeof *bad_eps; i++) {
        clmlp_train_options bad = o;
        bad.eps = bad_eps[i];
        TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &bad, scale));
        assert_weights(net, W, b, "clmlp_update with eps <= 0");
    }
    {
        clmlp_train_options bad = o;
        bad.optimizer = (clmlp_optimizer)7;
        TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &bad, scale));
        bad = o;
        bad.weight_decay = -0.01;
        TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &bad, scale));
        bad = o;
        bad.optimizer = CLMLP_OPT_SGD;
        bad.momentum = 1.0;
        TEST_FAILS(CLMLP_EINVAL, clmlp_update(net, &bad, scale));
        assert_weights(net, W, b, "clmlp_update with a bad optimizer, weight decay or momentum");
    }
    free_weights(net, W, b);

    /* the state is untouched: both continue alike (Adam's step count and moments) */
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < 2; k++) {
            if (s > 0) {
                TEST_OK(clmlp_forward(both[k], c->x, c->count, NULL));
                TEST_OK(clmlp_backward(both[k], c->y, NULL));
            }
            TEST_OK(clmlp_update(both[k], &o, scale));
        }
    double e = nets_err(net, twin);
    if (e != 0)
        fail_msg("after refused updates the net differs from its twin by %.3g", e);
    /* and both still follow torch's Adam: steps 1..4 of the reference */
    double ew = weights_err(net, c, 4);
    if (!(ew <= TOL_F64))
        fail_msg("after refused updates: 4 Adam steps vs torch error %.3g", ew);
    clmlp_destroy(net);
    clmlp_destroy(twin);
}

static void update_errors_host(void **state)
{
    (void)state;
    check_update_errors(CLMLP_BACKEND_HOST);
}
static void update_errors_opencl(void **state)
{
    (void)state;
    check_update_errors(CLMLP_BACKEND_OPENCL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_f64),           cmocka_unit_test(opencl_f64),           cmocka_unit_test(host_f32),
        cmocka_unit_test(opencl_f32),         cmocka_unit_test(switch_host),          cmocka_unit_test(switch_opencl),
        cmocka_unit_test(update_errors_host), cmocka_unit_test(update_errors_opencl),
    };
    return cmocka_run_group_tests(tests, load_cases, unload_cases);
}
