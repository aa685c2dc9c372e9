#include "allot_llama_kernels.h"
#include "allot_vector.h"

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_rms_norm_forward(const float *restrict x, const float *restrict weight,
                            float *restrict out, float *restrict rstd, long rows, long d,
                            float eps) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    float *y = out + r * d;
    const float inv = 1 / __builtin_sqrtf(allot_dot(xr, xr, d) / d + eps);
    rstd[r] = inv;
    for (long j = 0; j < d; j++) y[j] = weight[j] * (xr[j] * inv);
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_rms_norm_backward(const float *restrict g, const float *restrict x,
                             const float *restrict weight, const float *restrict rstd,
                             float *restrict dx, float *restrict dweight, long rows, long d) {
  for (long r = 0; r < rows; r++) {
    const float *gr = g + r * d, *xr = x + r * d;
    float *dxr = dx + r * d;
    const float inv = rstd[r];
    /* dx first holds dŷ = g ⊙ w; then dx = r · (dŷ − x̂ · mean(dŷ ⊙ x̂)) with x̂ = x · r. */
    for (long j = 0; j < d; j++) dxr[j] = gr[j] * weight[j];
    const float c = allot_dot(dxr, xr, d) * inv * inv / d;
    for (long j = 0; j < d; j++) {
      dweight[j] += gr[j] * xr[j] * inv;
      dxr[j] = inv * (dxr[j] - xr[j] * c);
    }
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_rotary(const float *x, const float *restrict cos, const float *restrict sin,
                  float *out, long tokens, long heads, long hd, float direction) {
  const long half = hd / 2;
  for (long t = 0; t < tokens; t++) {
    const float *c = cos + t * half, *s = sin + t * half;
    for (long h = 0; h < heads; h++) {
      const float *a = x + (t * heads + h) * hd, *b = a + half;
      float *oa = out + (t * heads + h) * hd, *ob = oa + half;
      for (long i = 0; i < half; i++) {
        const float ai = a[i], bi = b[i], si = s[i] * direction;
        oa[i] = ai * c[i] - bi * si;
        ob[i] = bi * c[i] + ai * si;
      }
    }
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_swiglu_forward(const float *restrict gate, const float *restrict up,
                          float *restrict out, long n) {
  for (long i = 0; i < n; i++) {
    const float a = gate[i];
    out[i] = a / (1 + allot_exp(-a)) * up[i];
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_swiglu_backward(const float *restrict g, const float *restrict gate,
                           const float *restrict up, float *restrict dgate, float *restrict dup,
                           long n) {
  for (long i = 0; i < n; i++) {
    const float a = gate[i], s = 1 / (1 + allot_exp(-a));
    dgate[i] = g[i] * up[i] * s * (1 + a * (1 - s));
    dup[i] = g[i] * a * s;
  }
}
