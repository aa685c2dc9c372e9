#ifndef ALLOT_EXP_H
#define ALLOT_EXP_H
/* The one exponential of Allot: e^x by Cody–Waite range reduction and a degree-7
   polynomial, over the whole float range (saturating to 0 and +inf, NaN stays NaN), a few
   units in the last place accurate, and branch-free so that loops over it vectorise. The C
   kernels and TensorCore's Swift loops (fastExp) both call it, so both give the same bits
   for the same input on the same instruction set. Not public API. */
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
