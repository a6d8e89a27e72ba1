/*
 * Reporting for `clmlp train`: a CSV of the epochs, the SVG plot (svg_plot.c), JSON
 * lines and a progress bar for terminals. Files are written through a
 * temporary file in the same directory, fsync and rename, so a reader never sees half a
 * file and an interrupted run leaves the previous one in place; what is not a regular
 * file (a device node, a FIFO) is never replaced.
 */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "clock.h"
#include "svg_plot.h"

/* ---- atomic file writes ---- */

typedef struct {
    const report_epoch *rows;
    size_t n;
    const char *title;
} doc;

/* Through a temporary file and a rename (src/atomic_file.h): never over what is not a
 * regular file. Syncing the directory is best effort here: the file is complete, and a
 * crash that undoes the rename loses nothing a rerun would not rewrite. */
static int write_atomic(const char *path, clmlp_atomic_emit emit, doc *d)
{
    return clmlp_atomic_write(path, emit, d, NULL) >= 0 ? 0 : -1;
}

/* ---- CSV ---- */

static int emit_csv(FILE *f, void *user)
{
    const doc *d = user;
    fputs("epoch,train_loss,train_accuracy,test_loss,test_accuracy,samples_per_s,seconds,lr\n", f);
    for (size_t i = 0; i < d->n; i++) {
        const report_epoch *r = &d->rows[i];
        fprintf(f, "%zu,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n", r->epoch, r->train_loss, r->train_accuracy, r->test_loss,
                r->test_accuracy, r->samples_per_s, r->seconds, r->lr);
    }
    return 0; /* stdio's errors are found after the flush */
}

int report_write_csv(const char *path, const report_epoch *rows, size_t n)
{
    if (!path || (n && !rows)) {
        errno = EINVAL;
        return -1;
    }
    doc d = {rows, n, NULL};
    return write_atomic(path, emit_csv, &d);
}

/* ---- SVG (svg_plot.c) ---- */

static int emit_svg(FILE *f, void *user)
{
    const doc *d = user;
    return svg_plot_write(f, d->rows, d->n, d->title);
}

int report_write_svg(const char *path, const report_epoch *rows, size_t n, const char *title)
{
    if (!path || (n && !rows)) {
        errno = EINVAL;
        return -1;
    }
    doc d = {rows, n, title};
    return write_atomic(path, emit_svg, &d);
}

/* ---- JSON lines ---- */

static void json_number(FILE *out, const char *key, double v)
{
    if (isfinite(v))
        fprintf(out, ",\"%s\":%.9g", key, v);
    else
        fprintf(out, ",\"%s\":null", key);
}

void report_print_json(FILE *out, const report_epoch *row)
{
    fprintf(out, "{\"epoch\":%zu", row->epoch);
    json_number(out, "train_loss", row->train_loss);
    json_number(out, "train_accuracy", row->train_accuracy);
    json_number(out, "test_loss", row->test_loss);
    json_number(out, "test_accuracy", row->test_accuracy);
    json_number(out, "samples_per_s", row->samples_per_s);
    json_number(out, "seconds", row->seconds);
    json_number(out, "lr", row->lr);
    fputs("}\n", out);
    fflush(out); /* a reader of the pipe sees each epoch when it ends */
}

/* ---- progress bar ---- */

enum { BAR_WIDTH = 20 };
#define REDRAW_INTERVAL 0.1 /* seconds: at most ~10 redraws a second */

void report_progress_start(report_progress *p, FILE *out)
{
    p->out = out;
    p->is_tty = out && isatty(fileno(out));
    p->start = report_now();
    p->last_draw = -1; /* nothing drawn yet */
}

void report_progress_update(report_progress *p, size_t epoch, size_t done, size_t total, double running_loss)
{
    if (!p->is_tty)
        return;
    double now = report_now();
    /* The last step is always drawn so the bar ends at 100%. */
    if (p->last_draw >= 0 && now - p->last_draw < REDRAW_INTERVAL && done < total)
        return;
    p->last_draw = now;
    if (done > total)
        done = total;
    double frac = total ? (double)done / (double)total : 1;
    int fill = (int)(frac * BAR_WIDTH);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    /* \033[K erases what a longer previous line left to the right. */
    fprintf(p->out, "\repoch %zu [%s] %3d%% %zu/%zu  %.0f samples/s  loss %.4f\033[K", epoch, bar, (int)(frac * 100),
            done, total, rate, running_loss);
    fflush(p->out);
}

void report_progress_done(report_progress *p)
{
    if (p->is_tty && p->last_draw >= 0) {
        fputs("\r\033[K", p->out);
        fflush(p->out);
    }
    /* Restarting the clock lets one start serve several epochs as well as one per epoch. */
    p->start = report_now();
    p->last_draw = -1;
}

double report_now(void) { return clmlp_seconds(); }

void report_print_profile(FILE *out, const clmlp_kernel_profile *k, size_t n, double epoch_seconds)
{
    double total = 0;
    for (size_t i = 0; i < n; i++)
        total += k[i].seconds;
    fprintf(out, "  kernel profile: %.3f s on the device in %.3f s (%.0f %%)\n", total, epoch_seconds,
            epoch_seconds > 0 ? 100 * total / epoch_seconds : 0.0);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-20s %10llu launches %10.3f s %6.1f %%\n", k[i].kernel, (unsigned long long)k[i].launches,
                k[i].seconds, total > 0 ? 100 * k[i].seconds / total : 0.0);
}
