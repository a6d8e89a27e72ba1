/* One training run of `clmlp train` as a function: its options parsed from argv, and
 * the run itself, alone, data-parallel over MPI ranks (train --mpi) or quiet (a point of
 * `clmlp sweep`). */
#ifndef CLMLP_CLI_TRAIN_H
#define CLMLP_CLI_TRAIN_H

#include <stddef.h>

#include "clmlp.h"
#include "data.h"
#include "mpi_ranks.h"

enum { TRAIN_MAX_LAYERS = 64, TRAIN_MAX_EPOCHS = 100000 };

typedef struct train_args {
    const char *cmd; /* "train" or "sweep": the --help its messages point to */
    const char *who; /* what the messages start with ("train", "sweep: point 3 (--lr 0.1)") */
    cli_data_args data;
    const char *device, *save, *resume, *metrics, *plot;
    size_t sizes[TRAIN_MAX_LAYERS + 1], n_sizes;
    int layers_given, loss_given, dtype_given, crop_given, targets_given, mean_given, std_given;
    int momentum_given, adam_given, json;
    int mpi;            /* --mpi */
    double mpi_timeout; /* --mpi-timeout (default 300 s) */
    clmlp_config cfg;
    clmlp_preprocess pp;
    clmlp_train_options train;
    unsigned long long epochs, seed, patience;
    double validation; /* 0: none */
} train_args;

/* The options of `clmlp train` that take no value (cli_has_flag). */
extern const char *const train_flags[];

/* Parses argv[1 …] (train's options; --help is the caller's) into o, messages naming who
 * and pointing to `clmlp cmd --help`: CLI_OK or CLI_USAGE (printed). o keeps pointers into argv. */
int train_parse(int argc, char **argv, const char *cmd, const char *who, train_args *o);

typedef struct train_context {
    int quiet;              /* no human output, no progress bar, no --json (a sweep's point, ranks but 0) */
    int writes;             /* writes --save, --metrics and --plot (not on ranks but 0) */
    const cli_ranks *ranks; /* data-parallel over ranks->comm, or NULL: alone */
    int abort_job;          /* out: the run failed where the other ranks may not know it (MPI_Abort) */
    int signals_caught;     /* the caller ran train_catch_signals: the run leaves the handlers as they are
                             * (a sweep's jobs: the main thread installs them once, before the threads) */
} train_context;

typedef struct train_result {
    size_t sizes[TRAIN_MAX_LAYERS + 1], n_sizes; /* the net's (n_sizes 0: none was made) */
    clmlp_loss loss;
    clmlp_dtype dtype;
    size_t epochs_run, last_epoch, kept_epoch; /* kept: the model left (with --patience the best epoch's) */
    int stopped_early, classes;                /* classes: accuracies mean something (not regression) */
    double train_loss, train_accuracy;         /* the kept epoch's, during its training */
    double val_loss, val_accuracy;             /* the kept epoch's (NaN without --validation) */
    double test_loss, test_accuracy;           /* the kept model's (NaN without a test set) */
    size_t train_n, val_n, test_n;             /* rows in each set */
} train_result;

/* SIGINT and SIGTERM then set a process-wide flag, whichever thread receives them: every
 * run in progress stops at its next progress report (every 20 or 50 steps) or at the end
 * of its epoch, and returns 128 + the signal. train_run installs the handlers itself
 * unless its context says they are caught already. */
void train_catch_signals(void);
/* The signal received since (SIGINT or SIGTERM), or 0. */
int train_stop_signal(void);

/* Runs the training o describes (as `clmlp train` does: data, net, epochs, evaluation,
 * files) and fills *res. Returns CLI_OK, CLI_RUNTIME/CLI_USAGE (printed through cli_error),
 * or 128 + the signal after SIGINT/SIGTERM. o is changed (the resumed preprocessing).
 * Quiet runs (x->quiet, no --save/--metrics/--plot file shared with another run) on
 * separate threads may run at once, each on its own net: what they touch besides is
 * their own, read-only, or per thread (cli_error's message). */
int train_run(train_args *o, train_context *x, train_result *res);

#endif
