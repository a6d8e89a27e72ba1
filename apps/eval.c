/* `clmlp eval`: being written. */
#include "cli.h"
