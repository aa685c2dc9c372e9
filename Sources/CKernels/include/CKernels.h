/* The module's umbrella header: every kernel header (a header added here is picked up by
   existing builds, where an umbrella directory's new files are not). */
#include "allot_kernels.h"
#include "allot_llama_kernels.h"
#include "allot_packed.h"
