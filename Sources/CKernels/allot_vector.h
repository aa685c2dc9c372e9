/* Vector helpers shared by the kernel files (not part of the module's public header). */
#ifndef ALLOT_VECTOR_H
#define ALLOT_VECTOR_H

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

/* e^x over the whole float range (TensorCore's fastExp), branch-free so loops vectorise. */
static inline float allot_exp(float x) {
  float c = x < -87.3f ? -87.3f : x;
  c = c > 88.72f ? 88.72f : c;
  const float magic = 12582912.0f;
  float shifted = c * 1.44269504f + magic;
  shifted = shifted < magic + 127 ? shifted : magic + 127;
  float n = shifted - magic;
  float r = (c - n * 0.69314575f) - n * 1.4286068e-6f;
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1;
  p = p * r + 1;
  union { float f; int i; } bits = {shifted};
  union { int i; float f; } scale = {(bits.i - 0x4B400000 + 127) << 23};
  float y = p * scale.f;
  y = x < -87.3f ? 0 : y;
  y = x > 88.72f ? __builtin_inff() : y;
  return x != x ? x : y;
}

#endif
