/* `clmlp train`: being written. */
#include "cli.h"
