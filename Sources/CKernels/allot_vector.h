/* Vector helpers shared by the kernel files (not part of the module's public header). */
#ifndef ALLOT_VECTOR_H
#define ALLOT_VECTOR_H
#include "allot_kernels.h" /* allot_exp */

typedef float allot_v8 __attribute__((vector_size(32), aligned(4)));

/* Σ a[i]·b[i] over n floats, eight lanes at a time, summed in a fixed order. */
static inline float allot_dot(const float *restrict a, const float *restrict b, long n) {
  allot_v8 acc = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8) acc += *(const allot_v8 *)(a + i) * *(const allot_v8 *)(b + i);
  float total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) total += a[i] * b[i];
  return total;
}

/* Σ a[i] over n floats, eight lanes at a time, summed in a fixed order. */
static inline float allot_sum(const float *restrict a, long n) {
  allot_v8 acc = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8) acc += *(const allot_v8 *)(a + i);
  float total = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < n; i++) total += a[i];
  return total;
}

#endif
