#include "allot_kernels.h"
#include "allot_vector.h"

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

/* Softmax of row[from..<to] in place (from < to); the other entries are left as they are. */
static inline void allot_softmax_range(float *restrict row, long from, long to) {
  float m = -__builtin_inff();
  for (long j = from; j < to; j++) m = row[j] > m ? row[j] : m;
  for (long j = from; j < to; j++) row[j] = allot_exp(row[j] - m);
  const float inverse = 1 / allot_sum(row + from, to - from);
  for (long j = from; j < to; j++) row[j] *= inverse;
}

/* Per batch row, keys and values are read once, in order, a whole position (all heads) at a
   time: the cache streams through memory instead of being walked head by head. Query head h
   reads key/value head h / (heads / kv_heads) (grouped-query attention). */
__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_decode_attention(const float *restrict query, const float *restrict keys,
                            const float *restrict values, float *restrict out,
                            float *restrict weights, long batch, long heads, long kv_heads,
                            long width, long capacity, long length, const long *rows,
                            const long *padding, float scale) {
  const long hd = width / heads, group = heads / kv_heads, kv_width = kv_heads * hd;
  for (long b = 0; b < batch; b++) {
    const long row = rows ? rows[b] : b;
    const long pad = padding ? padding[b] : 0;
    const float *q = query + b * width;
    const float *k = keys + row * capacity * kv_width;
    const float *v = values + row * capacity * kv_width;
    float *w = weights + b * heads * length; /* [heads, length] */
    float *o = out + b * width;
    for (long e = 0; e < width; e++) o[e] = 0;
    for (long h = 0; h < heads; h++)
      for (long j = 0; j < (pad < length ? pad : length); j++) w[h * length + j] = 0;
    if (pad >= length) continue;
    long kv[heads]; /* the offset of query head h's key/value head in a cached position */
    for (long h = 0; h < heads; h++) kv[h] = h / group * hd;
    for (long j = pad; j < length; j++)
      for (long h = 0; h < heads; h++)
        w[h * length + j] = allot_dot(q + h * hd, k + j * kv_width + kv[h], hd) * scale;
    for (long h = 0; h < heads; h++) allot_softmax_range(w + h * length, pad, length);
    for (long j = pad; j < length; j++) {
      const float *vj = v + j * kv_width;
      for (long h = 0; h < heads; h++) {
        const float p = w[h * length + j];
        float *oh = o + h * hd;
        const float *vh = vj + kv[h];
        long e = 0;
        for (; e + 8 <= hd; e += 8) *(allot_v8 *)(oh + e) += p * *(const allot_v8 *)(vh + e);
        for (; e < hd; e++) oh[e] += p * vh[e];
      }
    }
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_gelu_forward(const float *restrict x, float *restrict out, float *restrict gate,
                        long n) {
  const float c2 = 2 * 0.79788456f;
  if (gate) {
    for (long i = 0; i < n; i++) {
      const float xi = x[i];
      const float s = 1 / (1 + allot_exp(-c2 * (xi + 0.044715f * xi * xi * xi)));
      gate[i] = s;
      out[i] = xi * s;
    }
  } else {
    for (long i = 0; i < n; i++) {
      const float xi = x[i];
      out[i] = xi / (1 + allot_exp(-c2 * (xi + 0.044715f * xi * xi * xi)));
    }
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_gelu_backward(const float *restrict g, const float *restrict x,
                         const float *restrict gate, float *restrict dx, long n) {
  const float c2 = 2 * 0.79788456f;
  for (long i = 0; i < n; i++) {
    const float xi = x[i], s = gate[i];
    dx[i] = g[i] * (s + xi * s * (1 - s) * c2 * (1 + 3 * 0.044715f * xi * xi));
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_layer_norm_forward(const float *restrict x, const float *restrict weight,
                              const float *restrict bias, float *restrict normalised,
                              float *restrict out, float *restrict rstd, long rows, long d,
                              float eps) {
  for (long r = 0; r < rows; r++) {
    const float *xr = x + r * d;
    float *xh = normalised + r * d, *y = out + r * d;
    const float mean = allot_sum(xr, d) / d;
    for (long j = 0; j < d; j++) xh[j] = xr[j] - mean;
    const float inv = 1 / __builtin_sqrtf(allot_dot(xh, xh, d) / d + eps);
    rstd[r] = inv;
    for (long j = 0; j < d; j++) xh[j] *= inv;
    for (long j = 0; j < d; j++)
      y[j] = xh[j] * (weight ? weight[j] : 1) + (bias ? bias[j] : 0);
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_layer_norm_backward(const float *restrict g, const float *restrict normalised,
                               const float *restrict weight, const float *restrict rstd,
                               float *restrict dx, float *restrict dweight,
                               float *restrict dbias, long rows, long d) {
  for (long r = 0; r < rows; r++) {
    const float *gr = g + r * d, *xh = normalised + r * d;
    float *dxr = dx + r * d;
    /* dx first holds dy = g ⊙ weight. */
    for (long j = 0; j < d; j++) dxr[j] = gr[j] * (weight ? weight[j] : 1);
    const float meanDy = allot_sum(dxr, d) / d;
    const float meanDyXh = allot_dot(dxr, xh, d) / d;
    for (long j = 0; j < d; j++) {
      dweight[j] += gr[j] * xh[j];
      dbias[j] += gr[j];
      dxr[j] = rstd[r] * (dxr[j] - meanDy - xh[j] * meanDyXh);
    }
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_causal_softmax(float *restrict scores, long rows, long stride, long begin, long end,
                          long pad, long offset) {
  for (long i = 0; i < rows; i++) {
    float *row = scores + i * stride;
    const long from = pad > begin ? pad : begin;
    const long to = offset + i + 1 < end ? offset + i + 1 : end;
    if (to <= from) {
      for (long j = begin; j < end; j++) row[j] = 0;
      continue;
    }
    allot_softmax_range(row, from, to);
    for (long j = begin; j < from; j++) row[j] = 0;
    for (long j = to; j < end; j++) row[j] = 0;
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_softmax_backward_rows(float *restrict gradient, const float *restrict probabilities,
                                 long rows, long stride, long n) {
  for (long i = 0; i < rows; i++) {
    float *g = gradient + i * stride;
    const float *p = probabilities + i * stride;
    const float dot = allot_dot(g, p, n);
    for (long j = 0; j < n; j++) g[j] = p[j] * (g[j] - dot);
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_column_sums(const float *restrict x, float *restrict sums, long rows, long cols) {
  for (long j = 0; j < cols; j++) sums[j] = 0;
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * cols;
    for (long j = 0; j < cols; j++) sums[j] += row[j];
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_add(const float *restrict a, const float *restrict b, float *restrict out, long n) {
  for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_accumulate(float *restrict total, const float *restrict x, long n) {
  for (long i = 0; i < n; i++) total[i] += x[i];
}

/* Σ exp(x[j] − m) over n floats, in vector lanes (a fixed order for a given build). */
static inline float allot_sum_exp(const float *restrict x, long n, float m) {
#pragma clang fp reassociate(on)
  float total = 0;
  for (long j = 0; j < n; j++) total += allot_exp(x[j] - m);
  return total;
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_log_sum_exp_rows(const float *restrict x, float *restrict lse, long rows, long cols) {
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * cols;
    float m = -__builtin_inff();
    for (long j = 0; j < cols; j++) m = row[j] > m ? row[j] : m;
    if (!(m > -__builtin_inff() && m < __builtin_inff())) {
      lse[r] = m;
      continue;
    }
    lse[r] = m + __builtin_logf(allot_sum_exp(row, cols, m));
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
void allot_log_prob_backward(const float *restrict x, const float *restrict lse,
                             const float *restrict g, const long *restrict indices,
                             float *restrict dx, long rows, long cols) {
  for (long r = 0; r < rows; r++) {
    const float *row = x + r * cols;
    float *d = dx + r * cols;
    const float gr = g[r], l = lse[r];
    for (long j = 0; j < cols; j++) d[j] = -gr * allot_exp(row[j] - l);
    d[indices[r]] += gr;
  }
}

__attribute__((target_clones("arch=x86-64-v3", "default")))
float allot_scaled_exp(const float *restrict x, long n, float scale, float shift,
                       float *restrict out) {
#pragma clang fp reassociate(on)
  float total = 0;
  for (long i = 0; i < n; i++) {
    const float e = allot_exp(x[i] * scale - shift);
    out[i] = e;
    total += e;
  }
  return total;
}
