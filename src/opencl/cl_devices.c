/* clmlp_list_devices: being written. */
#include "cl_common.h"
