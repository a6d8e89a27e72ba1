/**
 * @file
 * clmlp — fully connected tanh networks (multilayer perceptrons) trained with
 * backpropagation on OpenCL devices, with a plain-C host path as the reference.
 *
 * Notation: a network MyNet(n_0 … n_L) has layers l = 1..L,
 *     z[l] = a[l-1] W[l]^T + b[l],   a[l] = tanh(z[l])   (a[0] is the input),
 * W[l] is n_l × n_{l-1} row-major (the layout of torch's nn.Linear.weight).
 * Batches are row-major, one sample per row.
 *
 * Conventions:
 *  - every function that can fail returns a clmlp_status; on failure nothing
 *    changed and clmlp_last_error() tells why (per thread);
 *  - pointers are required unless documented as optional ("may be NULL");
 *  - the library never prints, exits or aborts;
 *  - one net must not be used from two threads at once; separate nets may.
 */
#ifndef CLMLP_H
#define CLMLP_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(CLMLP_BUILDING_SHARED)
#define CLMLP_API __declspec(dllexport)
#elif defined(__GNUC__)
#define CLMLP_API __attribute__((visibility("default")))
#else
#define CLMLP_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* CLMLP_VERSION_MAJOR, _MINOR, _PATCH and CLMLP_VERSION_STRING, generated from
 * the CMake project's version; clmlp_version() returns the library's own string. */
#include "clmlp_version.h"

/* ---- status codes and errors ------------------------------------------- */

/** What every function that can fail returns (clmlp_strerror describes it, clmlp_last_error tells the detail). */
typedef enum clmlp_status {
    CLMLP_OK = 0,        /**< success */
    CLMLP_EINVAL = 1,    /**< bad argument or call out of order */
    CLMLP_ENOMEM = 2,    /**< host or device memory exhausted, or a size too large */
    CLMLP_EIO = 3,       /**< a file could not be read or written */
    CLMLP_EFORMAT = 4,   /**< a file is malformed, truncated or foreign */
    CLMLP_ENODEVICE = 5, /**< no usable OpenCL device (or it lacks cl_khr_fp64) */
    CLMLP_EOPENCL = 6,   /**< an OpenCL or CLBlast call failed */
    CLMLP_ENUMERIC = 7,  /**< NaN or Inf in input, parameters or results */
    CLMLP_ECOMM = 8      /**< a collective between processes failed, timed out, or another rank failed */
} clmlp_status;

/** Short fixed description of a status; never NULL. */
CLMLP_API const char *clmlp_strerror(clmlp_status s);
/** Detail of this thread's last failure ("" if none yet); valid until the next failing call. */
CLMLP_API const char *clmlp_last_error(void);
/** "MAJOR.MINOR.PATCH" */
CLMLP_API const char *clmlp_version(void);

/* ---- configuration ------------------------------------------------------ */

/** Where a net computes: an OpenCL device, the host path, or AUTO (see clmlp_config.backend). */
typedef enum { CLMLP_BACKEND_AUTO = 0, CLMLP_BACKEND_OPENCL = 1, CLMLP_BACKEND_HOST = 2 } clmlp_backend;
/** The precision a net computes in (see clmlp_config.dtype). */
typedef enum { CLMLP_F64 = 0, CLMLP_F32 = 1 } clmlp_dtype;
/** The loss a net is trained on. */
typedef enum {
    CLMLP_LOSS_MSE = 0,       /**< tanh on every layer; L = Σ over batch and outputs of (a[L] − y)² */
    CLMLP_LOSS_SOFTMAX_CE = 1 /**< tanh hidden layers, linear last layer, softmax cross-entropy summed over the batch */
} clmlp_loss;

/** What computes the matrix products of a batch > 1 on an OpenCL device. */
typedef enum {
    CLMLP_PRODUCTS_AUTO = 0,    /**< OWN, except where the tuning database found CLBlast faster */
    CLMLP_PRODUCTS_OWN = 1,     /**< clmlp's tiled kernels (of the kernel family) with fused epilogues */
    CLMLP_PRODUCTS_CLBLAST = 2, /**< CLBlast's GEMM, tuned for GPUs, with separate epilogues */
    CLMLP_PRODUCTS_SIMPLE = 3   /**< one work-item per output, as batch 1 always runs */
} clmlp_products;

/** The family of OpenCL kernels: CPU (register tiles, one work-item each, explicit
 * vectors) or GPU (work-groups with local-memory tiles and reductions). */
typedef enum {
    CLMLP_KERNELS_AUTO = 0, /**< by the device's type: CPU devices CPU, GPUs and accelerators GPU */
    CLMLP_KERNELS_CPU = 1,  /**< the CPU family */
    CLMLP_KERNELS_GPU = 2   /**< the GPU family */
} clmlp_kernels;

/** How clmlp_create makes a net (clmlp_config_init gives the defaults). */
typedef struct clmlp_config {
    /** AUTO: the OpenCL device if one is usable, else the host path (clmlp_fallback_reason
     * says why); a device asked for (platform/device, device_spec or CLMLP_DEVICE) that
     * cannot be used is CLMLP_ENODEVICE under AUTO too, never a silent fallback. */
    clmlp_backend backend;
    /** F32 computes in float on the device and on the host; the API still speaks double. */
    clmlp_dtype dtype;
    clmlp_loss loss; /**< the loss the net is trained on */
    /** The OpenCL device: platform and device indices (-1: choose), or with both -1 the
     * spec "gpu" (the first GPU), "cpu" (the first CPU device) or "P:D"; an empty spec
     * leaves the choice open: then the environment variable CLMLP_DEVICE, the same
     * spec, decides, and without it the first GPU, else the first device. */
    int platform, device; /**< the device index on the platform (see platform) */
    char device_spec[32]; /**< the spec (see platform) */
    /** AUTO leaves the choice to CLMLP_GEMM (auto, own, clblast, simple), else the rule
     * of CLMLP_PRODUCTS_AUTO. */
    clmlp_products products;
    /** AUTO leaves the choice to CLMLP_KERNELS (auto, cpu, gpu), else the device's type. */
    clmlp_kernels kernels;
    /** The CPU kernels' tile shape "VW:RxV:RxC" (vector width; gemm_nn/gemm_tn rows x
     * vectors; gemm_nt rows x columns), e.g.\ "8:4x3:2x4"; empty: the environment
     * variable CLMLP_TILES, else the tuning database's entry (clmlp_tune), else the
     * shape the device's vector registers allow. The GPU kernels' shape is
     * "gpu:WMxWN:TMxTN:KT:VW:PAD:G" (work-group, outputs per work-item, K step, load
     * width, local padding, 1-D work-group size), e.g. "gpu:16x16:2x2:16:2:1:256". */
    char tiles[32];
    /** 1: time every kernel on the device (a profiling queue; read with clmlp_profile);
     * 0: the environment variable CLMLP_PROFILE decides (1 on, else off); -1: off. */
    int profile;
    uint64_t seed; /**< weight init like nn.Linear: W, b ~ U(−1/√n_{l-1}, 1/√n_{l-1}) */
} clmlp_config;

/** AUTO, F64, MSE, platform -1, device -1, device_spec "", products AUTO, kernels AUTO,
 * tiles "", profile 0, seed 0. */
CLMLP_API void clmlp_config_init(clmlp_config *cfg);

/* ---- the network -------------------------------------------------------- */

/** A network MyNet(n_0 … n_L) on its backend (opaque: clmlp_create, clmlp_destroy). */
typedef struct clmlp_net clmlp_net;

/** sizes = {n_0 … n_L}, n_sizes = L + 1 ≥ 2, every n_l ≥ 1; cfg may be NULL (defaults).
 * CLMLP_ENODEVICE when backend OPENCL, or a particular device, is asked for and no
 * such device is usable. */
CLMLP_API clmlp_status clmlp_create(const size_t *sizes, size_t n_sizes, const clmlp_config *cfg, clmlp_net **out);
/** NULL is a no-op. */
CLMLP_API void clmlp_destroy(clmlp_net *net);
/** L (0 for NULL). */
CLMLP_API size_t clmlp_num_layers(const clmlp_net *net);
/** n_l for l in 0..L (0 when out of range or net is NULL). */
CLMLP_API size_t clmlp_layer_size(const clmlp_net *net, size_t l);
/** The loss the net was created with (CLMLP_LOSS_MSE for NULL). */
CLMLP_API clmlp_loss clmlp_loss_type(const clmlp_net *net);
/** The dtype the net computes in (CLMLP_F64 for NULL). */
CLMLP_API clmlp_dtype clmlp_dtype_of(const clmlp_net *net);
/** "opencl: <device name>" or "host" ("" for NULL). */
CLMLP_API const char *clmlp_backend_name(const clmlp_net *net);
/** "" unless backend AUTO fell back to the host path, then why, e.g.\ "no OpenCL platform
 * is installed (clGetPlatformIDs)" ("" for NULL). */
CLMLP_API const char *clmlp_fallback_reason(const clmlp_net *net);
/** What the net's kernels run with on an OpenCL device, e.g.\ "products own, tiles
 * 16:8x2:4x4 (device default)" or "(tuned)"; "" on the host path and for NULL. */
CLMLP_API const char *clmlp_kernel_info(const clmlp_net *net);

/** One kernel's share of the device time of a net created with profiling on. */
typedef struct clmlp_kernel_profile {
    char kernel[32];   /**< the kernel's name, e.g.\ "gemm_nt"; "clblast_gemm" for CLBlast */
    uint64_t launches; /**< enqueues since creation or the last reset */
    double seconds;    /**< their total time on the device (start to end of each) */
} clmlp_kernel_profile;

/** Waits for the net's queued work, then writes one entry per kernel launched (in order
 * of first launch) to out[0 … capacity−1] and their number to *count (capacity may be
 * 0 to ask only the number); with reset, the counts start again from zero afterwards.
 * CLMLP_EINVAL on the host path or when the net was created without profiling. */
CLMLP_API clmlp_status clmlp_profile(clmlp_net *net, clmlp_kernel_profile *out, size_t capacity, size_t *count,
                                     int reset);

/** l in 1..L; W n_l × n_{l-1} row-major; b n_l. Values must be finite (CLMLP_ENUMERIC). */
CLMLP_API clmlp_status clmlp_set_layer(clmlp_net *net, size_t l, const double *W, const double *b);
/** Reads W[l] and b[l] into W and b (l in 1..L, the shapes of clmlp_set_layer). */
CLMLP_API clmlp_status clmlp_get_layer(const clmlp_net *net, size_t l, double *W, double *b);

/** x batch × n_0 row-major (finite); y batch × n_L, may be NULL.
 * Keeps z[l], a[l] for clmlp_backward and clmlp_get_state. */
CLMLP_API clmlp_status clmlp_forward(clmlp_net *net, const double *x, size_t batch, double *y);
/** After clmlp_forward (and no weight change since): y_true batch × n_L; computes
 * dL/dW[l], dL/db[l] summed over the batch; loss (may be NULL) receives L. */
CLMLP_API clmlp_status clmlp_backward(clmlp_net *net, const double *y_true, double *loss);
/** Gradients of the last clmlp_backward: dW n_l × n_{l-1}, db n_l. */
CLMLP_API clmlp_status clmlp_get_grad(const clmlp_net *net, size_t l, double *dW, double *db);
/** z[l] (l 1..L) and a[l] (l 0..L) of the last forward, batch × n_l;
 * z may be NULL (and must be for l = 0). */
CLMLP_API clmlp_status clmlp_get_state(const clmlp_net *net, size_t l, double *z, double *a);
/** W[l] −= lr·dW[l], b[l] −= lr·db[l] on every layer; lr finite and ≥ 0; needs a backward. */
CLMLP_API clmlp_status clmlp_sgd_step(clmlp_net *net, double lr);

/** Inference that leaves the net untouched: x batch × n_0 (finite), y batch × n_L
 * receives a[L] (MSE) or the softmax probabilities (softmax-CE). Safe to call from
 * several threads at once on one net, as long as nothing modifies the net meanwhile
 * (on OpenCL the threads share the device's queue: their launches are serialized,
 * their buffers are their own); it neither uses nor changes the forward state of
 * clmlp_forward. */
CLMLP_API clmlp_status clmlp_predict(const clmlp_net *net, const double *x, size_t batch, double *y);

/** Per-input standardization kept with the model (like FANN's scaling parameters):
 * input j becomes (x_j − mean[j]) / std[j]. The net does not apply it by itself:
 * clmlp_standardize does, on rows of inputs, before they reach a dataset or a forward.
 * mean and std hold n_0 values each, finite, std > 0; both NULL removes it. It is
 * saved by clmlp_save and restored by clmlp_load. */
CLMLP_API clmlp_status clmlp_set_standardization(clmlp_net *net, const double *mean, const double *std);
/** *present receives 1 and mean, std (n_0 each, may be NULL) the values when the net has
 * a standardization, else 0 and nothing is written. */
CLMLP_API clmlp_status clmlp_get_standardization(const clmlp_net *net, double *mean, double *std, int *present);
/** x rows × n_0 in place: x_j = (x_j − mean[j]) / std[j]; unchanged without a
 * standardization. */
CLMLP_API clmlp_status clmlp_standardize(const clmlp_net *net, double *x, size_t rows);

/** Central finite differences of the loss on (x, y_true) with respect to W[l] and b[l]
 * (dW n_l × n_{l-1}, db n_l), from forward passes only: an independent check of
 * clmlp_backward. Costs two forwards per parameter; restores the layer and leaves no
 * forward state (run clmlp_forward again before clmlp_backward). eps > 0. */
CLMLP_API clmlp_status clmlp_numeric_grad(clmlp_net *net, const double *x, const double *y_true, size_t batch, size_t l,
                                          double eps, double *dW, double *db);

/* ---- datasets: MNIST-format data on the net's device --------------------- */

/** The targets made of class labels. */
typedef enum {
    CLMLP_TARGET_ONEHOT_01 = 0, /**< y_k = 1 for the label's class, 0 elsewhere */
    CLMLP_TARGET_ONEHOT_PM1 = 1 /**< y_k = +1 for the label's class, −1 elsewhere */
} clmlp_target;

/** The standardization of clmlp_preprocess. */
typedef enum {
    CLMLP_NORMALIZE_NONE = 0,  /**< none: mean and std are not applied */
    CLMLP_NORMALIZE_GIVEN = 1, /**< (x − mean) / std with the values given */
    CLMLP_NORMALIZE_DATA = 2   /**< mean and std of the images loaded (the training set) */
} clmlp_normalize;

/** How raw images become inputs: x = ((crop(pixels) / 255 if scale_255) − mean) / std. */
typedef struct clmlp_preprocess {
    int scale_255;             /**< 1: pixels / 255 */
    clmlp_normalize normalize; /**< none, the values given, or the data's */
    /** The mean of (x − mean) / std (see std). */
    double mean, std;    /**< used by GIVEN; filled in by DATA when loading */
    size_t crop;         /**< 0: whole image; else the centered crop × crop window */
    clmlp_target target; /**< the one-hot targets' values */
    /** n_0 of the net these inputs feed, set by clmlp_load and the dataset functions
     * (0: unknown). When set, clmlp_preprocess_apply refuses images that give another
     * number of inputs, and clmlp_save refuses a net of another n_0. */
    size_t n_inputs;
} clmlp_preprocess;

/** scale_255 1, NORMALIZE_DATA, mean 0, std 1, crop 0, one-hot {0,1}, n_inputs 0. */
CLMLP_API void clmlp_preprocess_init(clmlp_preprocess *pp);

/** Samples on a net's device (opaque: the clmlp_dataset_ functions make it, clmlp_dataset_destroy frees it). */
typedef struct clmlp_dataset clmlp_dataset;

/** Loads an IDX image file (count × rows × cols) and label file (count, values <
 * n_L) into a dataset on the net's device, uploaded once (the cropped pixels as bytes;
 * the preprocessing, an affine function of a pixel, is applied as batches are gathered).
 * pp is updated when it asks for NORMALIZE_DATA (mean and std are filled in: pass the
 * same pp, now GIVEN-like, for the test set). Mismatched counts, sizes that do not match n_0 or n_L, or a crop
 * larger than the image are CLMLP_EINVAL naming both numbers. The dataset belongs to
 * the net: destroy it before the net. */
CLMLP_API clmlp_status clmlp_dataset_load(clmlp_net *net, const char *images_path, const char *labels_path,
                                          clmlp_preprocess *pp, clmlp_dataset **out);
/** The same from memory: count images of rows × cols bytes, count labels. */
CLMLP_API clmlp_status clmlp_dataset_create(clmlp_net *net, const uint8_t *images, const uint8_t *labels, size_t count,
                                            size_t rows, size_t cols, clmlp_preprocess *pp, clmlp_dataset **out);
/** A dataset of real-valued inputs and targets, copied once to the net's device in its
 * dtype: x count × n_0, y count × n_L, row-major, finite (CLMLP_ENUMERIC naming row and
 * column). Any loss: for MSE y is the target of a[L], for softmax-CE the target
 * distribution. */
CLMLP_API clmlp_status clmlp_dataset_from_arrays(clmlp_net *net, const double *x, const double *y, size_t count,
                                                 clmlp_dataset **out);
/** Classification: x count × n_0, labels[i] < n_L, targets one-hot as `target` says. */
CLMLP_API clmlp_status clmlp_dataset_from_labels(clmlp_net *net, const double *x, const uint32_t *labels, size_t count,
                                                 clmlp_target target, clmlp_dataset **out);
/** A seeded shuffle of `data`: its first round(fraction·count) rows into *first, the
 * rest into *second, both on the same device as data and of the same kind (0 < fraction
 * < 1; each part must be non-empty). data is unchanged. */
CLMLP_API clmlp_status clmlp_dataset_split(const clmlp_dataset *data, double fraction, uint64_t seed,
                                           clmlp_dataset **first, clmlp_dataset **second);
/** Frees the dataset; NULL is a no-op. */
CLMLP_API void clmlp_dataset_destroy(clmlp_dataset *data);
/** The number of samples (0 for NULL). */
CLMLP_API size_t clmlp_dataset_count(const clmlp_dataset *data);

/* ---- training and evaluation ---------------------------------------------- */

/** The optimizer of clmlp_train_epoch and clmlp_update. */
typedef enum {
    CLMLP_OPT_SGD = 0, /**< torch.optim.SGD: v = momentum·v + g, W −= lr·v */
    CLMLP_OPT_ADAM = 1 /**< torch.optim.Adam: bias-corrected first and second moments */
} clmlp_optimizer;

/** A communicator between processes (created by clmlp_mpi.h's clmlp_comm_create). */
typedef struct clmlp_comm clmlp_comm;

/** How clmlp_train_epoch and clmlp_update train (clmlp_train_options_init gives the defaults). */
typedef struct clmlp_train_options {
    size_t batch;              /**< samples per step (default 128) */
    double lr;                 /**< learning rate for the loss averaged over the batch (0.1) */
    clmlp_optimizer optimizer; /**< SGD (default) or ADAM */
    double momentum;           /**< SGD: 0 plain SGD, else v = momentum·v + g, W −= lr·v (0) */
    double weight_decay;       /**< g += weight_decay·W, for both optimizers (torch's L2 term) (0) */
    /** ADAM: m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², at step t
     * W −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps); defaults 0.9, 0.999, 1e-8 */
    double beta1, beta2, /**< ADAM's β2 (see beta1) */ eps; /**< ADAM's eps (see beta1) */
    double lr_decay;     /**< lr of epoch e (from 0) is lr·lr_decay^e (1: constant) */
    uint64_t seed;       /**< the shuffle of epoch e is seeded by (seed, e) */
    size_t report_every; /**< steps between progress callbacks (0: only at the end) */
    /** Called every report_every steps with the samples done and the running mean loss;
     * returning nonzero stops the epoch early (CLMLP_OK, stats cover what ran). */
    int (*progress)(void *user, size_t samples_done, size_t samples_total, double running_loss);
    void *user; /**< passed to progress */
    /** Data-parallel training over the ranks of a communicator (clmlp_mpi.h), or NULL:
     * this process alone (the default). */
    const clmlp_comm *comm;
} clmlp_train_options;

/** batch 128, lr 0.1, SGD, momentum 0, weight decay 0, beta1 0.9, beta2 0.999, eps 1e-8,
 * lr_decay 1, seed 0, report_every 0, progress, user and comm NULL. */
CLMLP_API void clmlp_train_options_init(clmlp_train_options *opt);

/** What one clmlp_train_epoch measured. */
typedef struct clmlp_epoch_stats {
    double loss;     /**< mean loss per sample over the epoch (as trained, before each step) */
    double accuracy; /**< fraction of samples classified right during the epoch */
    size_t samples;  /**< samples trained */
    double seconds;  /**< wall time of the training loop */
} clmlp_epoch_stats;

/** One epoch of minibatch training over a shuffled `train`, entirely on the net's device:
 * gather, forward, backward and update per batch; the only reads are the loss and
 * correct-count scalars at each report and at the end. `epoch` (from 0) picks the
 * shuffle and the decayed learning rate; the optimizer's state persists across epochs
 * and clmlp_update calls (SGD with momentum 0 keeps none and zeroes it, as torch's SGD
 * has no buffer then; changing the optimizer starts its state afresh). Works on every
 * kind of dataset (for regression data the accuracy is the argmax agreement).
 * CLMLP_ENUMERIC naming the epoch and step when the loss turns NaN or Inf. */
CLMLP_API clmlp_status clmlp_train_epoch(clmlp_net *net, const clmlp_dataset *train, const clmlp_train_options *opt,
                                         size_t epoch, clmlp_epoch_stats *stats);

/** What clmlp_evaluate measures. */
typedef struct clmlp_eval {
    double loss;       /**< mean loss per sample */
    double accuracy;   /**< fraction of samples classified right */
    size_t n;          /**< samples evaluated */
    size_t classes;    /**< n_L */
    size_t *confusion; /**< classes × classes, row = true label, column = predicted; may be NULL */
} clmlp_eval;

/** After clmlp_backward: one step of the optimizer `opt` configures (opt->lr as given,
 * no decay; batch and the report fields are ignored) on the gradients times grad_scale
 * (1/batch for the batch-mean loss), with the same arithmetic and the same persistent
 * state as clmlp_train_epoch. opt may be NULL (defaults). grad_scale finite and > 0. */
CLMLP_API clmlp_status clmlp_update(clmlp_net *net, const clmlp_train_options *opt, double grad_scale);

/** The optimizer whose state the net holds (SGD for a fresh net, or after SGD without
 * momentum) and Adam's step count t (0 unless ADAM): what the next step continues;
 * clmlp_load_checkpoint restores both. */
CLMLP_API clmlp_status clmlp_optimizer_state(const clmlp_net *net, clmlp_optimizer *optimizer, uint64_t *adam_steps);

/** Loss, accuracy and (when confusion is not NULL, classes × classes entries) the
 * confusion matrix of the net on `data`, computed on the device. */
CLMLP_API clmlp_status clmlp_evaluate(clmlp_net *net, const clmlp_dataset *data, clmlp_eval *out);

/** The number of inputs images of rows × cols give under pp: crop² (or rows·cols without
 * crop), after checking pp and that the crop fits the images. */
CLMLP_API clmlp_status clmlp_preprocess_inputs(const clmlp_preprocess *pp, size_t rows, size_t cols, size_t *n_inputs);
/** Inputs from raw images as a dataset would make them: x receives count × n inputs,
 * n = clmlp_preprocess_inputs(…). NORMALIZE_DATA is treated as GIVEN here. When
 * pp->n_inputs is set and differs from n, CLMLP_EINVAL names both numbers and x is
 * untouched. */
CLMLP_API clmlp_status clmlp_preprocess_apply(const clmlp_preprocess *pp, const uint8_t *images, size_t count,
                                              size_t rows, size_t cols, double *x);

/* ---- model files ------------------------------------------------------------- */

/** Writes sizes, loss, dtype, preprocessing and weights (format in docs/model-file.md) to a
 * temporary file beside path, then renames it over path: a crash leaves the old file
 * or the new one, never half of one. */
CLMLP_API clmlp_status clmlp_save(const clmlp_net *net, const clmlp_preprocess *pp, const char *path);
/** Creates the saved net with cfg's backend, device and seed (cfg may be NULL; its dtype
 * and loss are ignored: the file's are used); pp (may be NULL) receives the
 * preprocessing. CLMLP_EFORMAT for a corrupt, truncated or foreign file. */
CLMLP_API clmlp_status clmlp_load(const char *path, const clmlp_config *cfg, clmlp_net **out, clmlp_preprocess *pp);

/** A checkpoint: the model plus what training needs to continue exactly as if it had not
 * stopped — the number of epochs done and the optimizer's state (SGD's velocities, or
 * Adam's moments and step count; docs/model-file.md). clmlp_load reads checkpoints too
 * (ignoring the training state). */
CLMLP_API clmlp_status clmlp_save_checkpoint(const clmlp_net *net, const clmlp_preprocess *pp, size_t epochs_done,
                                             const char *path);
/** Like clmlp_load; epochs_done (may be NULL) receives the checkpoint's count, 0 for a
 * plain model file, and the net's optimizer state is restored. */
CLMLP_API clmlp_status clmlp_load_checkpoint(const char *path, const clmlp_config *cfg, clmlp_net **out,
                                             clmlp_preprocess *pp, size_t *epochs_done);

/* ---- tuning the kernels -------------------------------------------------------- */

/** What clmlp_tune found and recorded. */
typedef struct clmlp_tune_report {
    char tiles[32];         /**< the shape recorded (clmlp_config.tiles: "VW:RxV:RxC" or "gpu:…") */
    char default_tiles[32]; /**< the shape the device gives */
    char clblast[48];       /**< the products CLBlast runs faster: "none" or e.g.\ "forward,backprop" */
    double seconds_default; /**< one training step's products with the default shape */
    double seconds_best;    /**< and with the recorded one (never more than the default) */
    size_t candidates;      /**< shapes built and checked */
    size_t rejected;        /**< of which the check against the host path refused */
    double search_seconds;  /**< the whole search's wall time */
} clmlp_tune_report;

/** Searches the shapes of the device's kernel family (CPU tiles or GPU work-groups, as
 * clmlp_create would choose; cfg->kernels may force one) for a net of these sizes
 * trained at `batch` (≥ 2) on cfg's device in cfg's dtype: each candidate is checked
 * against the host path before it is timed on the net's own products; then each of the
 * three products (forward, error propagation, weight gradient with the update) of the
 * fastest shape is timed against CLBlast's GEMM with separate epilogues, and CLBlast is
 * kept for a product where it is faster. The result (never slower than the device's
 * default) is recorded in the tuning database beside the program cache
 * (CLMLP_CACHE_DIR), which clmlp_create consults for nets of the same width class.
 * report may be NULL. Takes a few minutes on a CPU. */
CLMLP_API clmlp_status clmlp_tune(const clmlp_config *cfg, const size_t *sizes, size_t n_sizes, size_t batch,
                                  clmlp_tune_report *report);

/* ---- devices ------------------------------------------------------------------- */

/** An OpenCL device, as clmlp_list_devices lists it. */
typedef struct clmlp_device_info {
    /** The platform's index (clmlp_config.platform). */
    int platform, device; /**< the device's index on the platform (clmlp_config.device) */
    /** The platform's name. */
    char platform_name[128], name[128]; /**< the device's name */
    char type[16];                      /**< "GPU", "CPU", "accelerator", "other" */
    unsigned compute_units;             /**< CL_DEVICE_MAX_COMPUTE_UNITS */
    /** Global memory, in bytes (max_allocation: the largest allocation). */
    uint64_t global_memory, max_allocation; /**< bytes */
    int fp64;                               /**< has cl_khr_fp64 */
    int chosen;                             /**< what platform = device = −1 would pick now */
} clmlp_device_info;

/** Fills up to max entries and sets *count to the number of devices (0 without any
 * OpenCL platform: not an error). */
CLMLP_API clmlp_status clmlp_list_devices(clmlp_device_info *infos, size_t max, size_t *count);

/* ---- IDX files (the MNIST format), raw or gzip-compressed --------------- */

/** An IDX file of unsigned bytes (type 0x08) with 1 to 4 dimensions: MNIST images are
 * count × 28 × 28, labels count. */
typedef struct clmlp_idx clmlp_idx;

/** CLMLP_EIO if the file cannot be read, CLMLP_EFORMAT if it is malformed, truncated,
 * of another element type or has trailing bytes. */
CLMLP_API clmlp_status clmlp_idx_load(const char *path, clmlp_idx **out);
/** NULL is a no-op. */
CLMLP_API void clmlp_idx_free(clmlp_idx *idx);
/** The number of dimensions, 1 to 4 (0 for NULL). */
CLMLP_API size_t clmlp_idx_ndims(const clmlp_idx *idx);
/** Size of dimension i (0 when out of range). */
CLMLP_API size_t clmlp_idx_dim(const clmlp_idx *idx, size_t i);
/** All elements, row-major; clmlp_idx_count(idx) of them. */
CLMLP_API const uint8_t *clmlp_idx_data(const clmlp_idx *idx);
/** The number of elements, the product of the dimensions (0 for NULL). */
CLMLP_API size_t clmlp_idx_count(const clmlp_idx *idx);

#ifdef __cplusplus
}
#endif
#endif /* CLMLP_H */
