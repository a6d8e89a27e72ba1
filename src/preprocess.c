/* Turning raw images into inputs: center crop, pixels/255, standardization. Shared by
 * datasets, predictions and the command's `predict`. */
#include <math.h>
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

clmlp_status clmlp_preprocess_apply(const clmlp_preprocess *pp, const uint8_t *images, size_t count, size_t rows,
                                    size_t cols, double *x)
{
    if (!pp || !images || !x)
        return clmlp_fail(CLMLP_EINVAL, "clmlp_preprocess_apply: %s is NULL", !pp ? "pp" : !images ? "images" : "x");
    size_t n;
    clmlp_status s = clmlp_preprocess_check(pp, rows, cols, &n);
    if (s != CLMLP_OK)
        return s;
    size_t pixels, total;
    if (!clmlp_mul_ok(rows, cols, &pixels) || !clmlp_mul_ok(count, pixels, &total))
        return clmlp_fail(CLMLP_EINVAL, "clmlp_preprocess_apply: %zu images of %zu × %zu overflow", count, rows, cols);
    size_t side_r = pp->crop ? pp->crop : rows, side_c = pp->crop ? pp->crop : cols;
    size_t top = (rows - side_r) / 2, left = (cols - side_c) / 2;
    double scale = pp->scale_255 ? 1.0 / 255.0 : 1.0;
    double mean = pp->normalize == CLMLP_NORMALIZE_NONE ? 0.0 : pp->mean;
    double inv_std = pp->normalize == CLMLP_NORMALIZE_NONE ? 1.0 : 1.0 / pp->std;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *img = images + i * pixels;
        double *out = x + i * n;
        for (size_t r = 0; r < side_r; r++)
            for (size_t c = 0; c < side_c; c++)
                out[r * side_c + c] = (img[(top + r) * cols + left + c] * scale - mean) * inv_std;
    }
    return CLMLP_OK;
}
