#include "allot_kernels.h"

#include <stdlib.h> /* defines __GLIBC__ on glibc */

#if defined(__GLIBC__)
#include <malloc.h>
#endif

void allot_configure_allocator(void) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024); /* glibc's maximum */
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 * 1024 * 1024);
#endif
}

/* Compiled twice, for AVX2 + FMA and for the baseline; the loader picks one per CPU. */
__attribute__((target_clones("avx2", "default")))
void allot_adam_update(float *restrict w, const float *restrict g, float *restrict m,
                       float *restrict v, long n, float beta1, float beta2, float step,
                       float invRootCorrection2, float eps, float l2) {
  for (long i = 0; i < n; i++) {
    float gi = g[i] + l2 * w[i];
    float mi = beta1 * m[i] + (1 - beta1) * gi;
    float vi = beta2 * v[i] + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] -= step * mi / (__builtin_elementwise_sqrt(vi) * invRootCorrection2 + eps);
  }
}
