/* Shared by the `clmlp` command's subcommands: option parsing and exit codes. */
#ifndef CLMLP_CLI_H
#define CLMLP_CLI_H

#include <stddef.h>

#include "clmlp.h"

enum { CLI_OK = 0, CLI_RUNTIME = 1, CLI_USAGE = 2 };

/* Prints "clmlp: <message>" to stderr as one line; returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* cli_error's messages are kept (cli_error_last) and, unless silenced, printed: a sweep
 * reports a point's failure itself, and under --mpi the ranks other than 0 speak only
 * when they alone know what failed. The message, the silence and the prefix are the
 * calling thread's own (a new thread starts with none, unsilenced): a sweep's jobs
 * train on threads of their own. */
void cli_error_silence(int on);
/* The last message, printed or not, without "clmlp: " and the prefix ("" before any). */
const char *cli_error_last(void);
/* Put between "clmlp: " and every message (e.g. "rank 1: "); NULL or "" for none. */
void cli_error_prefix(const char *prefix);

/* Whether argv[1 …] holds flag, reading every other "--option" as taking a value (skipped)
 * except those in flags (a NULL-terminated list): what a command must know before it
 * parses, e.g. --mpi before MPI_Init. */
int cli_has_flag(int argc, char **argv, const char *flag, const char *const *flags);

/* "784,256,10" into sizes (at most max); 0 on a malformed list. */
size_t cli_parse_sizes(const char *text, size_t *sizes, size_t max);
int cli_parse_backend(const char *text, clmlp_backend *out);
int cli_parse_dtype(const char *text, clmlp_dtype *out);
int cli_parse_loss(const char *text, clmlp_loss *out);
/* Whole-string numbers in [lo, hi]; 0 on failure. */
int cli_parse_u64(const char *text, unsigned long long lo, unsigned long long hi, unsigned long long *out);
int cli_parse_double(const char *text, double lo, double hi, double *out);
int cli_parse_size(const char *text, size_t lo, size_t hi, size_t *out);
/* "01" or "pm1" */
int cli_parse_target(const char *text, clmlp_target *out);

/* Puts the --device spec ("gpu", "cpu", "P:D"; NULL: leaves the choice open) into cfg. */
int cli_use_device(const char *spec, clmlp_config *cfg);

/* The data directory: `given` if not NULL, else $CLMLP_DATA, ./data/mnist, then Debian's
 * Fashion-MNIST; `why` says which rule picked it. 0 when none exists. */
int cli_find_data_dir(const char *given, char *dir, size_t size, const char **why);
/* dir/<stem>.gz or dir/<stem> (also with '.' for the second '-', as some mirrors name
 * them): the first that exists. 0 when none does. */
int cli_data_file(const char *dir, const char *stem, char *path, size_t size);
/* "s" for any count but 1, "" for 1: "%zu epoch%s", n, cli_plural(n). */
const char *cli_plural(unsigned long long n);
/* The net's sizes as "784-256-10" into buf (truncated to size). */
void cli_format_net(const clmlp_net *net, char *buf, size_t size);
/* The same for a list of sizes. */
void cli_format_sizes(const size_t *sizes, size_t n, char *buf, size_t size);
/* Index of the largest of n scores. */
size_t cli_argmax(const double *v, size_t n);

int cmd_gradcheck(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_sweep(int argc, char **argv);

#endif
