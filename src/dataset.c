/* Datasets, uploaded once into buffers on the net's backend: from IDX images and labels
 * the cropped pixels as bytes (the inputs are an affine function of them, applied as a
 * batch is gathered: 4–8 times less memory and traffic than reals), from arrays the
 * inputs as reals; and the targets. A split makes two datasets of the same kind. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "error.h"
#include "net_internal.h"
#include "preprocess.h"
#include "rng.h"

enum { CHUNK = 1024 }; /* images converted per upload */

/* Mean and standard deviation of the (cropped, scaled) inputs over all images. */
static clmlp_status fit_normalization(clmlp_preprocess *pp, const uint8_t *images, size_t count, size_t rows,
                                      size_t cols, size_t n_in)
{
    double scale = pp->scale_255 ? 1.0 / 255.0 : 1.0;
    uint8_t *p = clmlp_alloc_array(n_in, 1);
    if (!p)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu inputs", n_in);
    /* two passes: the mean, then the squared deviations */
    double sum = 0, sum_sq = 0, total = (double)count * (double)n_in;
    uint8_t lo = 255, hi = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < count; i++) {
            clmlp_preprocess_crop(pp, images + i * rows * cols, 1, rows, cols, p);
            for (size_t k = 0; k < n_in; k++)
                if (pass == 0) {
                    sum += p[k] * scale;
                    lo = p[k] < lo ? p[k] : lo;
                    hi = p[k] > hi ? p[k] : hi;
                } else {
                    sum_sq += (p[k] * scale - sum / total) * (p[k] * scale - sum / total);
                }
        }
    free(p);
    double mean = sum / total, var = sum_sq / total;
    if (lo == hi || !(var > 0))
        return clmlp_fail(CLMLP_EINVAL, "all %zu images are constant: cannot normalize by their std", count);
    pp->mean = mean;
    pp->std = sqrt(var);
    pp->normalize = CLMLP_NORMALIZE_GIVEN; /* a test set must reuse the training set's values */
    return CLMLP_OK;
}

static clmlp_status upload_chunks(clmlp_dataset *d, const clmlp_preprocess *pp, const uint8_t *images,
                                  const uint8_t *labels, size_t rows, size_t cols)
{
    clmlp_be *be = d->net->be;
    double on = 1.0, off = pp->target == CLMLP_TARGET_ONEHOT_PM1 ? -1.0 : 0.0;
    uint8_t *x = clmlp_alloc_array(CHUNK, d->n_in); /* the sizes were checked against count */
    double *y = clmlp_alloc_array((size_t)CHUNK * d->n_out, sizeof *y);
    clmlp_status s = x && y ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "cannot allocate a staging chunk");
    for (size_t first = 0; s == CLMLP_OK && first < d->count; first += CHUNK) {
        size_t n = d->count - first < CHUNK ? d->count - first : CHUNK;
        clmlp_preprocess_crop(pp, images + first * rows * cols, n, rows, cols, x);
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < d->n_out; k++)
                y[i * d->n_out + k] = labels[first + i] == k ? on : off;
        s = clmlp_buf_upload_raw(be, d->pixels, first * d->n_in, x, n * d->n_in);
        if (s == CLMLP_OK)
            s = clmlp_buf_upload(be, d->y, first * d->n_out, y, n * d->n_out);
    }
    free(x);
    free(y);
    return s;
}

static clmlp_status upload_identity(clmlp_dataset *d)
{
    uint32_t *order = clmlp_alloc_array(d->count, sizeof *order);
    if (!order)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu indices", d->count);
    for (size_t i = 0; i < d->count; i++)
        order[i] = (uint32_t)i;
    clmlp_status s = clmlp_buf_alloc(d->net->be, CLMLP_BUF_INDEX, d->count, &d->identity);
    if (s == CLMLP_OK)
        s = clmlp_buf_upload_raw(d->net->be, d->identity, 0, order, d->count);
    free(order);
    return s;
}

clmlp_status clmlp_dataset_create(clmlp_net *net, const uint8_t *images, const uint8_t *labels, size_t count,
                                  size_t rows, size_t cols, clmlp_preprocess *pp, clmlp_dataset **out)
{
    if (!net || !images || !labels || !pp || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_create: %s is NULL",
                          !net      ? "net"
                          : !images ? "images"
                          : !labels ? "labels"
                          : !pp     ? "pp"
                                    : "out");
    if (count == 0 || count > UINT32_MAX)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_create: %zu samples (1 to %u supported)", count, UINT32_MAX);
    size_t n_in = net->n[0], n_out = net->n[net->L], total;
    TRY(clmlp_preprocess_fits(pp, rows, cols, n_in));
    if (!clmlp_mul3_ok(count, rows, cols, &total) ||
        !clmlp_mul3_ok(count, n_in > n_out ? n_in : n_out, sizeof(double), &total))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_create: %zu images of %zu × %zu overflow", count, rows, cols);
    for (size_t i = 0; i < count; i++)
        if (labels[i] >= n_out)
            return clmlp_fail(CLMLP_EINVAL, "label %u of sample %zu is not below the net's %zu outputs", labels[i], i,
                              n_out);
    clmlp_preprocess fitted = *pp;
    fitted.n_inputs = n_in;
    if (fitted.normalize == CLMLP_NORMALIZE_DATA)
        TRY(fit_normalization(&fitted, images, count, rows, cols, n_in));

    clmlp_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a dataset");
    *d = (clmlp_dataset){.net = net, .count = count, .n_in = n_in, .n_out = n_out};
    clmlp_preprocess_affine(&fitted, &d->x_scale, &d->x_shift);
    clmlp_status s = clmlp_buf_alloc(net->be, CLMLP_BUF_BYTE, count * n_in, &d->pixels);
    if (s == CLMLP_OK)
        s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, count * n_out, &d->y);
    if (s == CLMLP_OK)
        s = upload_chunks(d, &fitted, images, labels, rows, cols);
    if (s == CLMLP_OK)
        s = upload_identity(d);
    if (s != CLMLP_OK) {
        clmlp_dataset_destroy(d);
        return s;
    }
    *pp = fitted;
    *out = d;
    return CLMLP_OK;
}

clmlp_status clmlp_dataset_load(clmlp_net *net, const char *images_path, const char *labels_path, clmlp_preprocess *pp,
                                clmlp_dataset **out)
{
    if (!net || !images_path || !labels_path || !pp || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_load: an argument is NULL");
    clmlp_idx *images = NULL, *labels = NULL;
    TRY(clmlp_idx_load(images_path, &images));
    clmlp_status s = clmlp_idx_load(labels_path, &labels);
    if (s == CLMLP_OK && clmlp_idx_ndims(images) != 3)
        s = clmlp_fail(CLMLP_EINVAL, "%s: %zu dimensions, images need 3 (count × rows × cols)", images_path,
                       clmlp_idx_ndims(images));
    else if (s == CLMLP_OK && clmlp_idx_ndims(labels) != 1)
        s = clmlp_fail(CLMLP_EINVAL, "%s: %zu dimensions, labels need 1", labels_path, clmlp_idx_ndims(labels));
    else if (s == CLMLP_OK && clmlp_idx_dim(images, 0) != clmlp_idx_dim(labels, 0))
        s = clmlp_fail(CLMLP_EINVAL, "%s holds %zu images but %s holds %zu labels", images_path,
                       clmlp_idx_dim(images, 0), labels_path, clmlp_idx_dim(labels, 0));
    if (s == CLMLP_OK)
        s = clmlp_dataset_create(net, clmlp_idx_data(images), clmlp_idx_data(labels), clmlp_idx_dim(images, 0),
                                 clmlp_idx_dim(images, 1), clmlp_idx_dim(images, 2), pp, out);
    clmlp_idx_free(images);
    clmlp_idx_free(labels);
    return s;
}

/* ---- datasets of reals ------------------------------------------------------ */

/* Where a real dataset's targets come from: an array, or labels made one-hot. */
typedef struct targets {
    const double *y;
    const uint32_t *labels;
    double on, off;
} targets;

static clmlp_status check_count(const clmlp_net *net, size_t count, const char *fn)
{
    size_t bytes, widest = net->n[0] > net->n[net->L] ? net->n[0] : net->n[net->L];
    if (count == 0 || count > UINT32_MAX)
        return clmlp_fail(CLMLP_EINVAL, "%s: %zu samples (1 to %u supported)", fn, count, UINT32_MAX);
    if (!clmlp_mul3_ok(count, widest, sizeof(double), &bytes))
        return clmlp_fail(CLMLP_EINVAL, "%s: %zu samples of %zu values overflow size_t", fn, count, widest);
    return CLMLP_OK;
}

/* Uploads count rows of x and their targets into a new dataset of reals. */
static clmlp_status create_real(clmlp_net *net, const double *x, const targets *t, size_t count, clmlp_dataset **out)
{
    size_t n_in = net->n[0], n_out = net->n[net->L];
    clmlp_dataset *d = calloc(1, sizeof *d);
    double *y = clmlp_alloc_array((size_t)CHUNK * n_out, sizeof *y);
    clmlp_status s = d && y ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "cannot allocate a dataset");
    if (d)
        *d = (clmlp_dataset){.net = net, .count = count, .n_in = n_in, .n_out = n_out};
    if (s == CLMLP_OK)
        s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, count * n_in, &d->x);
    if (s == CLMLP_OK)
        s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, count * n_out, &d->y);
    for (size_t first = 0; s == CLMLP_OK && first < count; first += CHUNK) {
        size_t n = count - first < CHUNK ? count - first : CHUNK;
        const double *rows = t->y ? t->y + first * n_out : y;
        if (!t->y)
            for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < n_out; k++)
                    y[i * n_out + k] = t->labels[first + i] == k ? t->on : t->off;
        s = clmlp_buf_upload(net->be, d->x, first * n_in, x + first * n_in, n * n_in);
        if (s == CLMLP_OK)
            s = clmlp_buf_upload(net->be, d->y, first * n_out, rows, n * n_out);
    }
    free(y);
    if (s == CLMLP_OK)
        s = upload_identity(d);
    if (s != CLMLP_OK) {
        clmlp_dataset_destroy(d);
        return s;
    }
    *out = d;
    return CLMLP_OK;
}

clmlp_status clmlp_dataset_from_arrays(clmlp_net *net, const double *x, const double *y, size_t count,
                                       clmlp_dataset **out)
{
    if (!net || !x || !y || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_from_arrays: %s is NULL",
                          !net ? "net"
                          : !x ? "x"
                          : !y ? "y"
                               : "out");
    TRY(check_count(net, count, "clmlp_dataset_from_arrays"));
    TRY(clmlp_check_finite(net, x, count, net->n[0], "x"));
    TRY(clmlp_check_finite(net, y, count, net->n[net->L], "y"));
    return create_real(net, x, &(targets){.y = y}, count, out);
}

clmlp_status clmlp_dataset_from_labels(clmlp_net *net, const double *x, const uint32_t *labels, size_t count,
                                       clmlp_target target, clmlp_dataset **out)
{
    if (!net || !x || !labels || !out)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_from_labels: %s is NULL",
                          !net      ? "net"
                          : !x      ? "x"
                          : !labels ? "labels"
                                    : "out");
    if (target != CLMLP_TARGET_ONEHOT_01 && target != CLMLP_TARGET_ONEHOT_PM1)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_from_labels: target %d is not ONEHOT_01 or ONEHOT_PM1",
                          (int)target);
    TRY(check_count(net, count, "clmlp_dataset_from_labels"));
    size_t n_out = net->n[net->L];
    for (size_t i = 0; i < count; i++)
        if (labels[i] >= n_out)
            return clmlp_fail(CLMLP_EINVAL, "label %u of sample %zu is not below the net's %zu outputs", labels[i], i,
                              n_out);
    TRY(clmlp_check_finite(net, x, count, net->n[0], "x"));
    targets t = {.labels = labels, .on = 1.0, .off = target == CLMLP_TARGET_ONEHOT_PM1 ? -1.0 : 0.0};
    return create_real(net, x, &t, count, out);
}

/* ---- splitting ------------------------------------------------------------------ */

/* A dataset of pixels (bytes, count × n_in) and targets, with data's preprocessing. */
static clmlp_status create_pixels(const clmlp_dataset *like, const uint8_t *pixels, const double *y, size_t count,
                                  clmlp_dataset **out)
{
    clmlp_net *net = like->net;
    clmlp_dataset *d = calloc(1, sizeof *d);
    if (!d)
        return clmlp_fail(CLMLP_ENOMEM, "cannot allocate a dataset");
    *d = (clmlp_dataset){.net = net,
                         .count = count,
                         .n_in = like->n_in,
                         .n_out = like->n_out,
                         .x_scale = like->x_scale,
                         .x_shift = like->x_shift};
    clmlp_status s = clmlp_buf_alloc(net->be, CLMLP_BUF_BYTE, count * d->n_in, &d->pixels);
    if (s == CLMLP_OK)
        s = clmlp_buf_alloc(net->be, CLMLP_BUF_REAL, count * d->n_out, &d->y);
    if (s == CLMLP_OK)
        s = clmlp_buf_upload_raw(net->be, d->pixels, 0, pixels, count * d->n_in);
    if (s == CLMLP_OK)
        s = clmlp_buf_upload(net->be, d->y, 0, y, count * d->n_out);
    if (s == CLMLP_OK)
        s = upload_identity(d);
    if (s != CLMLP_OK) {
        clmlp_dataset_destroy(d);
        return s;
    }
    *out = d;
    return CLMLP_OK;
}

/* Rows order[0 … count−1] of src (rows of `width` elements of `size` bytes) into dst. */
static void pick_rows(const void *src, const uint32_t *order, size_t count, size_t width, size_t size, void *dst)
{
    for (size_t i = 0; i < count; i++)
        memcpy((char *)dst + i * width * size, (const char *)src + (size_t)order[i] * width * size, width * size);
}

/* One part of a split: the rows order[0 … count−1] of the downloaded inputs and targets. */
static clmlp_status make_part(const clmlp_dataset *data, const void *x, const double *y, const uint32_t *order,
                              size_t count, clmlp_dataset **out)
{
    size_t x_size = data->pixels ? 1 : sizeof(double);
    void *px = clmlp_alloc_array(count * data->n_in, x_size); /* sizes bounded by data's */
    double *py = clmlp_alloc_array(count * data->n_out, sizeof *py);
    clmlp_status s = px && py ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu rows to split", count);
    if (s == CLMLP_OK) {
        pick_rows(x, order, count, data->n_in, x_size, px);
        pick_rows(y, order, count, data->n_out, sizeof *py, py);
        s = data->pixels ? create_pixels(data, px, py, count, out)
                         : create_real(data->net, px, &(targets){.y = py}, count, out);
    }
    free(px);
    free(py);
    return s;
}

clmlp_status clmlp_dataset_split(const clmlp_dataset *data, double fraction, uint64_t seed, clmlp_dataset **first,
                                 clmlp_dataset **second)
{
    if (!data || !first || !second)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_split: %s is NULL",
                          !data    ? "data"
                          : !first ? "first"
                                   : "second");
    if (!(fraction > 0 && fraction < 1))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_split: fraction %g is not in (0, 1)", fraction);
    size_t count = data->count, n_first = (size_t)llround(fraction * (double)count);
    if (n_first == 0 || n_first == count)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_dataset_split: %g of %zu rows leaves a part empty", fraction, count);
    clmlp_be *be = data->net->be;
    size_t x_size = data->pixels ? 1 : sizeof(double);
    uint32_t *order = clmlp_alloc_array(count, sizeof *order);
    void *x = clmlp_alloc_array(count * data->n_in, x_size);
    double *y = clmlp_alloc_array(count * data->n_out, sizeof *y);
    clmlp_status s = order && x && y ? CLMLP_OK : clmlp_fail(CLMLP_ENOMEM, "cannot allocate %zu rows to split", count);
    if (s == CLMLP_OK)
        s = data->pixels ? clmlp_buf_download_raw(be, data->pixels, x, count * data->n_in)
                         : clmlp_buf_download(be, data->x, x, count * data->n_in);
    if (s == CLMLP_OK)
        s = clmlp_buf_download(be, data->y, y, count * data->n_out);
    clmlp_dataset *a = NULL, *b = NULL;
    if (s == CLMLP_OK) {
        clmlp_rng_shuffle(order, count, seed ^ 0x8CB92BA72F3D8DD7ull); /* not an epoch's order */
        s = make_part(data, x, y, order, n_first, &a);
    }
    if (s == CLMLP_OK)
        s = make_part(data, x, y, order + n_first, count - n_first, &b);
    free(order);
    free(x);
    free(y);
    if (s != CLMLP_OK) {
        clmlp_dataset_destroy(a);
        return s;
    }
    *first = a;
    *second = b;
    return CLMLP_OK;
}

void clmlp_dataset_destroy(clmlp_dataset *d)
{
    if (!d)
        return;
    clmlp_buf_release(d->net->be, d->pixels);
    clmlp_buf_release(d->net->be, d->x);
    clmlp_buf_release(d->net->be, d->y);
    clmlp_buf_release(d->net->be, d->identity);
    free(d);
}

size_t clmlp_dataset_count(const clmlp_dataset *d) { return d ? d->count : 0; }
