/* What `clmlp train` writes about its epochs: CSV metrics, an SVG plot, JSON lines and
 * a terminal progress bar. */
#ifndef CLMLP_REPORT_H
#define CLMLP_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "clmlp.h"

typedef struct report_epoch {
    size_t epoch;          /* from 1 */
    double train_loss;     /* mean per sample, during the epoch */
    double train_accuracy; /* fraction, during the epoch */
    double test_loss;      /* mean per sample */
    double test_accuracy;  /* fraction */
    double samples_per_s;  /* training samples / wall time of the training loop */
    double seconds;        /* wall time of the training loop */
    double lr;             /* learning rate of the epoch */
} report_epoch;

/* Writes all rows (a header line, then one line per epoch) to path through a temporary
 * file and a rename. Returns 0, or -1 with errno set. */
int report_write_csv(const char *path, const report_epoch *rows, size_t n);

/* Draws train/test loss and test accuracy per epoch as a self-contained SVG (axes,
 * ticks, legend, title), written through a temporary file and a rename. 0 or -1. */
int report_write_svg(const char *path, const report_epoch *rows, size_t n, const char *title);

/* One JSON object on one line: epoch, train_loss, train_accuracy, test_loss,
 * test_accuracy, samples_per_s, seconds, lr. */
void report_print_json(FILE *out, const report_epoch *row);

/* The kernels' share of an epoch (clmlp_profile's rows): launches and device time per
 * kernel, and their sum against the epoch's wall time. */
void report_print_profile(FILE *out, const clmlp_kernel_profile *k, size_t n, double epoch_seconds);

/* A progress bar on a terminal (samples/s, running loss), redrawn in place on `out`;
 * progress_done clears it. When `out` is not a terminal both do nothing. */
typedef struct report_progress {
    FILE *out;
    int is_tty;
    double start; /* monotonic seconds */
    double last_draw;
} report_progress;

void report_progress_start(report_progress *p, FILE *out);
void report_progress_update(report_progress *p, size_t epoch, size_t done, size_t total, double running_loss);
void report_progress_done(report_progress *p);

/* Monotonic clock in seconds. */
double report_now(void);

#endif
