/* `clmlp predict MODEL IDX [INDEX…]`: the class and scores of single images, and the
 * image drawn in the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "cli.h"

static const char help[] = "usage: clmlp predict MODEL IDX [INDEX...] [--backend B] [--device SPEC]\n"
                           "\n"
                           "Classifies images INDEX (default 0) of the IDX image file IDX with a saved model and\n"
                           "prints each image as text, its class and the net's output scores.\n";

/* Ten shades from light to dark, two characters per pixel to keep the aspect. */
static void draw(const uint8_t *img, size_t rows, size_t cols)
{
    static const char shades[] = " .:-=+*#%@";
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            char ch = shades[img[r * cols + c] * 9 / 255];
            putchar(ch);
            putchar(ch);
        }
        putchar('\n');
    }
}

int cmd_predict(int argc, char **argv)
{
    const char *model = NULL, *file = NULL;
    size_t indices[256], n_indices = 0;
    clmlp_config cfg;
    clmlp_config_init(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        unsigned long long n;
        if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0)
            return fputs(help, stdout), CLI_OK;
        if (strcmp(opt, "--backend") == 0 && val && cli_parse_backend(val, &cfg.backend))
            i++;
        else if (strcmp(opt, "--device") == 0 && val) {
            if (cli_use_device(argv[++i], &cfg) != CLI_OK)
                return CLI_RUNTIME;
        } else if (opt[0] == '-')
            return cli_error(CLI_USAGE, "predict: unknown option '%s' (see clmlp predict --help)", opt);
        else if (!model)
            model = opt;
        else if (!file)
            file = opt;
        else if (n_indices < 256 && cli_parse_u64(opt, 0, UINT32_MAX, &n))
            indices[n_indices++] = (size_t)n;
        else
            return cli_error(CLI_USAGE, "predict: '%s' is not an image index (at most 256)", opt);
    }
    if (!model || !file)
        return cli_error(CLI_USAGE, "predict: give MODEL and IDX (see clmlp predict --help)");
    if (n_indices == 0)
        indices[n_indices++] = 0;

    clmlp_net *net = NULL;
    clmlp_idx *images = NULL;
    clmlp_preprocess pp;
    if (clmlp_load(model, &cfg, &net, &pp) != CLMLP_OK)
        return cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
    int rc = CLI_OK;
    size_t n_in = clmlp_layer_size(net, 0), n_out = clmlp_layer_size(net, clmlp_num_layers(net));
    double *x = clmlp_alloc_array(n_in, sizeof *x), *scores = clmlp_alloc_array(n_out, sizeof *scores);
    if (!x || !scores) {
        rc = cli_error(CLI_RUNTIME, "out of memory");
        goto done;
    }
    if (clmlp_idx_load(file, &images) != CLMLP_OK) {
        rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
        goto done;
    }
    if (clmlp_idx_ndims(images) != 3) {
        rc = cli_error(CLI_RUNTIME, "%s: %zu dimensions, images need 3", file, clmlp_idx_ndims(images));
        goto done;
    }
    size_t count = clmlp_idx_dim(images, 0), rows = clmlp_idx_dim(images, 1), cols = clmlp_idx_dim(images, 2);
    size_t n_image;
    if (clmlp_preprocess_inputs(&pp, rows, cols, &n_image) != CLMLP_OK) {
        rc = cli_error(CLI_RUNTIME, "%s: %s", file, clmlp_last_error());
        goto done;
    }
    if (n_image != n_in) {
        rc = cli_error(CLI_RUNTIME, "%s: images of %zu × %zu give %zu inputs, the model %s takes n_0 = %zu", file, rows,
                       cols, n_image, model, n_in);
        goto done;
    }
    for (size_t k = 0; k < n_indices; k++) {
        if (indices[k] >= count) {
            rc = cli_error(CLI_RUNTIME, "image %zu: %s holds %zu images", indices[k], file, count);
            goto done;
        }
        const uint8_t *img = clmlp_idx_data(images) + indices[k] * rows * cols;
        if (clmlp_preprocess_apply(&pp, img, 1, rows, cols, x) != CLMLP_OK ||
            clmlp_forward(net, x, 1, scores) != CLMLP_OK) {
            rc = cli_error(CLI_RUNTIME, "%s", clmlp_last_error());
            goto done;
        }
        draw(img, rows, cols);
        printf("image %zu: class %zu\nscores:", indices[k], cli_argmax(scores, n_out));
        for (size_t c = 0; c < n_out; c++)
            printf(" %zu:%.3f", c, scores[c]);
        printf("\n\n");
    }
done:
    clmlp_idx_free(images);
    clmlp_destroy(net);
    free(x);
    free(scores);
    return rc;
}
