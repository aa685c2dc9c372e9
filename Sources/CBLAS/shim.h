#ifndef ALLOT_CBLAS_SHIM_H
#define ALLOT_CBLAS_SHIM_H
#include <cblas.h>

/* OpenBLAS extensions: thread control. Declared in OpenBLAS's cblas.h already;
   re-stated here so the shim documents what Allot uses. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
#endif
