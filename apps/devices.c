/* `clmlp devices`: being written. */
#include "cli.h"
