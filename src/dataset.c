/* Datasets: IDX images and labels, uploaded once into buffers on the net's backend:
 * the cropped pixels as bytes (the inputs are an affine function of them, applied as a
 * batch is gathered: 4–8 times less memory and traffic than reals) and the targets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "error.h"
#include "net_internal.h"
#include "preprocess.h"

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

void clmlp_dataset_destroy(clmlp_dataset *d)
{
    if (!d)
        return;
    clmlp_buf_release(d->net->be, d->pixels);
    clmlp_buf_release(d->net->be, d->y);
    clmlp_buf_release(d->net->be, d->identity);
    free(d);
}

size_t clmlp_dataset_count(const clmlp_dataset *d) { return d ? d->count : 0; }
