/* Turning raw images into inputs: center crop, pixels/255, standardization. Shared by
 * datasets, predictions and the command's `predict`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "error.h"
#include "preprocess.h"

void clmlp_preprocess_init(clmlp_preprocess *pp)
{
    if (!pp)
        return;
    memset(pp, 0, sizeof *pp);
    pp->scale_255 = 1;
    pp->normalize = CLMLP_NORMALIZE_DATA;
    pp->mean = 0;
    pp->std = 1;
    pp->crop = 0;
    pp->target = CLMLP_TARGET_ONEHOT_01;
    pp->n_inputs = 0;
}

clmlp_status clmlp_preprocess_check(const clmlp_preprocess *pp, size_t rows, size_t cols, size_t *n_inputs)
{
    if (pp->normalize != CLMLP_NORMALIZE_NONE && pp->normalize != CLMLP_NORMALIZE_GIVEN &&
        pp->normalize != CLMLP_NORMALIZE_DATA)
        return clmlp_fail(CLMLP_EINVAL, "preprocess: unknown normalization %d", (int)pp->normalize);
    if (pp->target != CLMLP_TARGET_ONEHOT_01 && pp->target != CLMLP_TARGET_ONEHOT_PM1)
        return clmlp_fail(CLMLP_EINVAL, "preprocess: unknown target encoding %d", (int)pp->target);
    if (pp->normalize != CLMLP_NORMALIZE_NONE && !(isfinite(pp->mean) && isfinite(pp->std) && pp->std > 0))
        return clmlp_fail(CLMLP_EINVAL, "preprocess: mean %g / std %g: need finite values and std > 0", pp->mean,
                          pp->std);
    if (pp->crop > rows || pp->crop > cols)
        return clmlp_fail(CLMLP_EINVAL, "preprocess: crop %zu is larger than the %zu × %zu images", pp->crop, rows,
                          cols);
    size_t side_r = pp->crop ? pp->crop : rows, side_c = pp->crop ? pp->crop : cols;
    if (!clmlp_mul_ok(side_r, side_c, n_inputs))
        return clmlp_fail(CLMLP_EINVAL, "preprocess: %zu × %zu images overflow", rows, cols);
    return CLMLP_OK;
}

clmlp_status clmlp_preprocess_inputs(const clmlp_preprocess *pp, size_t rows, size_t cols, size_t *n_inputs)
{
    if (!pp || !n_inputs)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_preprocess_inputs: %s is NULL", !pp ? "pp" : "n_inputs");
    return clmlp_preprocess_check(pp, rows, cols, n_inputs);
}

clmlp_status clmlp_preprocess_fits(const clmlp_preprocess *pp, size_t rows, size_t cols, size_t n_0)
{
    size_t n = 0;
    TRY(clmlp_preprocess_check(pp, rows, cols, &n));
    if (n == n_0)
        return CLMLP_OK;
    if (pp->crop)
        return clmlp_fail(CLMLP_EINVAL,
                          "images of %zu × %zu cropped to %zu × %zu give %zu inputs, the net takes n_0 = %zu", rows,
                          cols, pp->crop, pp->crop, n, n_0);
    return clmlp_fail(CLMLP_EINVAL, "images of %zu × %zu give %zu inputs, the net takes n_0 = %zu", rows, cols, n, n_0);
}

void clmlp_preprocess_affine(const clmlp_preprocess *pp, double *scale, double *shift)
{
    double inv_std = pp->normalize == CLMLP_NORMALIZE_NONE ? 1.0 : 1.0 / pp->std;
    *scale = (pp->scale_255 ? 1.0 / 255.0 : 1.0) * inv_std;
    *shift = pp->normalize == CLMLP_NORMALIZE_NONE ? 0.0 : -pp->mean * inv_std;
}

void clmlp_preprocess_crop(const clmlp_preprocess *pp, const uint8_t *images, size_t count, size_t rows, size_t cols,
                           uint8_t *out)
{
    size_t side_r = pp->crop ? pp->crop : rows, side_c = pp->crop ? pp->crop : cols;
    size_t top = (rows - side_r) / 2, left = (cols - side_c) / 2;
    for (size_t i = 0; i < count; i++)
        for (size_t r = 0; r < side_r; r++)
            memcpy(out + (i * side_r + r) * side_c, images + (i * rows + top + r) * cols + left, side_c);
}

clmlp_status clmlp_preprocess_apply(const clmlp_preprocess *pp, const uint8_t *images, size_t count, size_t rows,
                                    size_t cols, double *x)
{
    if (!pp || !images || !x)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_preprocess_apply: %s is NULL", !pp ? "pp" : !images ? "images" : "x");
    size_t n = 0;
    TRY(clmlp_preprocess_check(pp, rows, cols, &n));
    if (pp->n_inputs)
        TRY(clmlp_preprocess_fits(pp, rows, cols, pp->n_inputs));
    size_t pixels, total;
    if (!clmlp_mul_ok(rows, cols, &pixels) || !clmlp_mul_ok(count, pixels, &total) ||
        !clmlp_mul3_ok(count, n, sizeof *x, &total))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_preprocess_apply: %zu images of %zu × %zu overflow", count, rows, cols);
    double scale, shift;
    clmlp_preprocess_affine(pp, &scale, &shift);
    uint8_t *cropped = malloc(n ? n : 1);
    if (!cropped)
        return clmlp_fail(CLMLP_ENOMEM, "clmlp_preprocess_apply: cannot allocate %zu bytes", n);
    for (size_t i = 0; i < count; i++) { /* an image at a time: the caller's x may be all the memory there is */
        clmlp_preprocess_crop(pp, images + i * pixels, 1, rows, cols, cropped);
        for (size_t k = 0; k < n; k++)
            x[i * n + k] = fma(cropped[k], scale, shift);
    }
    free(cropped);
    return CLMLP_OK;
}
