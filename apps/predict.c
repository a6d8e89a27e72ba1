/* `clmlp predict`: being written. */
#include "cli.h"
