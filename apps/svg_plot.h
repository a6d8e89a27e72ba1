/* The SVG plot of `clmlp train --plot` (svg_plot.c). */
#ifndef CLMLP_SVG_PLOT_H
#define CLMLP_SVG_PLOT_H

#include <stdio.h>

#include "report.h"

/* Writes the plot of n epochs to f; the title may be NULL. 0 (errors show in ferror). */
int svg_plot_write(FILE *f, const report_row *rows, size_t n, const char *title);

#endif
