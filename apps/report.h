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

/* An epoch with what a run with a validation set adds. The functions on report_epoch
 * below write rows without validation, the format of runs without --validation. */
typedef struct report_row {
    report_epoch e;
    double val_loss;     /* mean per sample on the validation rows (with has_val) */
    double val_accuracy; /* fraction (with has_val) */
    int has_val;         /* 1: a validation set was evaluated after this epoch */
    int no_test;         /* 1: the test set was not evaluated after this epoch (e.test_* are NaN) */
} report_row;

/* Writes all rows (a header line, then one line per epoch) to path through a temporary
 * file and a rename. Returns 0, or -1 with errno set. The columns: epoch, train_loss,
 * train_accuracy, test_loss, test_accuracy, samples_per_s, seconds, lr, and val_loss,
 * val_accuracy after them when any row has_val; values that were not measured (a test
 * set evaluated only at the end) and non-finite ones are written as nan/inf. */
int report_write_csv(const char *path, const report_epoch *rows, size_t n);
int report_write_metrics(const char *path, const report_row *rows, size_t n);

/* Reads a file report_write_metrics (or report_write_csv) wrote (columns found by the header's names, in any
 * order; unknown columns are ignored, missing or empty ones read as NaN) into a new
 * array of *n rows (*rows is NULL when n is 0; free() it). Returns 0, or -1 with errno
 * set: ENOENT when the file does not exist, EINVAL when it is not such a CSV (then
 * *line receives the 1-based line at fault; line may be NULL). */
int report_read_metrics(const char *path, report_row **rows, size_t *n, size_t *line);

/* Draws train/test loss and test accuracy per epoch as a self-contained SVG (axes,
 * ticks, legend, title), written through a temporary file and a rename. 0 or -1. */
int report_write_svg(const char *path, const report_epoch *rows, size_t n, const char *title);
/* The same with validation curves for rows that have them (then the test series shows
 * only the epochs whose test values are finite). */
int report_write_plot(const char *path, const report_row *rows, size_t n, const char *title);

/* One JSON object on one line: epoch, train_loss, train_accuracy, test_loss,
 * test_accuracy, samples_per_s, seconds, lr; for a report_row with has_val, val_loss and val_accuracy
 * come after train_accuracy; with no_test, test_loss and test_accuracy are left out.
 * Non-finite values are null. */
void report_print_json(FILE *out, const report_epoch *row);
void report_print_row_json(FILE *out, const report_row *row);

/* Pieces for writing other JSON objects: a string with JSON's escapes (NULL: null), and
 * a number (null when not finite). */
void report_json_string(FILE *out, const char *s);
void report_json_number(FILE *out, double v);

/* The kernels' share of an epoch (clmlp_profile's rows): launches and device time per
 * kernel, and their sum against the epoch's wall time. */
void report_print_profile(FILE *out, const clmlp_kernel_profile *k, size_t n, double epoch_seconds);

/* A progress bar on a terminal (samples done, samples/s, running loss, elapsed time and
 * ETA), redrawn in place on `out` at most ten times a second and never wider than the
 * terminal (its width is asked again at every redraw, so a resized window is followed);
 * progress_done clears it. When `out` is not a terminal both do nothing. */
typedef struct report_progress {
    FILE *out;
    int is_tty;
    double start; /* monotonic seconds */
    double last_draw;
} report_progress;

/* The width of the terminal `out` is on (ioctl TIOCGWINSZ), else $COLUMNS when it is a
 * number, else 80. */
int report_terminal_columns(FILE *out);

/* The bar's text for a terminal of `columns` columns: at most columns − 1 characters
 * (the last column is left free, so that no terminal wraps the line), parts left out
 * as the width shrinks (samples/s, counts, loss, ETA, elapsed time, then the bar).
 * Writes a terminated string into buf (size ≥ 1) and returns its length. */
size_t report_progress_format(char *buf, size_t size, int columns, size_t epoch, size_t done, size_t total,
                              double running_loss, double elapsed);

void report_progress_start(report_progress *p, FILE *out);
void report_progress_update(report_progress *p, size_t epoch, size_t done, size_t total, double running_loss);
void report_progress_done(report_progress *p);

/* Monotonic clock in seconds. */
double report_now(void);

#endif
