#ifndef ALLOT_KERNELS_H
#define ALLOT_KERNELS_H
/* Loops that Swift does not vectorise: Swift's square root blocks LLVM's loop vectoriser,
   while clang's __builtin_elementwise_sqrt does not. Not public API. */

/* One Adam step over n elements: m, v updated in place; w -= step * m / (sqrt(v) * invRoot + eps).
   l2 > 0 adds l2 * w to the gradient first (Adam's coupled weight decay). */
void allot_adam_update(float *w, const float *g, float *m, float *v, long n, float beta1,
                       float beta2, float step, float invRootCorrection2, float eps, float l2);

/* Keeps large freed buffers in the heap instead of returning them to the system
   (glibc's mallopt); a no-op elsewhere. */
void allot_configure_allocator(void);
#endif
