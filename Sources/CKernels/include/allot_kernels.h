#ifndef ALLOT_KERNELS_H
#define ALLOT_KERNELS_H
/* Loops that Swift does not vectorise well: Swift's square root blocks LLVM's loop
   vectoriser (clang's __builtin_elementwise_sqrt does not), and Swift code is compiled for
   the baseline x86-64 (no AVX2, no FMA), while these kernels are also compiled for
   x86-64-v3 and picked at load time. Not public API. */

/* One Adam step over n elements: m, v updated in place; w -= step * m / (sqrt(v) * invRoot + eps).
   l2 > 0 adds l2 * w to the gradient first (Adam's coupled weight decay). */
void allot_adam_update(float *w, const float *g, float *m, float *v, long n, float beta1,
                       float beta2, float step, float invRootCorrection2, float eps, float l2);

/* Keeps large freed buffers in the heap instead of returning them to the system
   (glibc's mallopt); a no-op elsewhere. */
void allot_configure_allocator(void);
/* Attention of one new query per batch row over a KV cache (incremental decoding).
   query, out: [batch, width] (heads of width / heads); keys, values: [rows, capacity,
   kv_heads · width / heads], query head h reading key/value head h / (heads / kv_heads),
   of which the first `length` positions are filled; batch row b reads cache row rows[b]
   (rows NULL: b) and masks its first padding[b] keys (padding NULL: none). weights
   receives the attention weights [batch, heads, length]; a row that sees no key gets zero weights and output. */
void allot_decode_attention(const float *query, const float *keys, const float *values,
                            float *out, float *weights, long batch, long heads, long kv_heads,
                            long width, long capacity, long length, const long *rows,
                            const long *padding, float scale);

/* GELU (tanh form) x·σ(2u), u = √(2/π)(x + 0.044715x³), over n floats; gate (may be NULL)
   receives σ(2u) for the backward rule, which allot_gelu_backward applies to g. */
void allot_gelu_forward(const float *x, float *out, float *gate, long n);
void allot_gelu_backward(const float *g, const float *x, const float *gate, float *dx, long n);

/* Layer norm over the last axis (d) of rows × d floats; weight and bias may be NULL.
   Forward writes x̂, y = x̂·w + b and 1/σ per row; backward writes dx and adds into
   dweight and dbias. */
void allot_layer_norm_forward(const float *x, const float *weight, const float *bias,
                              float *normalised, float *out, float *rstd, long rows, long d,
                              float eps);
void allot_layer_norm_backward(const float *g, const float *normalised, const float *weight,
                               const float *rstd, float *dx, float *dweight, float *dbias,
                               long rows, long d);

/* Causal softmax in place over rows of a score matrix (row i at scores + i·stride): row i
   keeps keys pad ≤ j ≤ offset + i among the columns begin ≤ j < end, and the other columns
   in that range become 0 (all of them when no key is kept). Columns outside it are untouched. */
void allot_causal_softmax(float *scores, long rows, long stride, long begin, long end, long pad,
                          long offset);

/* The softmax backward rule in place over the first n entries of each row (row i starts
   i·stride after each pointer): g ← p ⊙ (g − ⟨g, p⟩). */
void allot_softmax_backward_rows(float *gradient, const float *probabilities, long rows,
                                 long stride, long n);

/* sums[j] = Σ_r x[r·cols + j], added row by row in order (a bias gradient). */
void allot_column_sums(const float *x, float *sums, long rows, long cols);

/* out = a + b elementwise (out must not overlap a or b). */
void allot_add(const float *a, const float *b, float *out, long n);

/* total += x elementwise (no overlap). */
void allot_accumulate(float *total, const float *x, long n);

/* lse[r] = log Σ_j exp(x[r·cols + j]) per row (stable: the maximum first; a row whose
   maximum is ±∞ or NaN gets that maximum). */
void allot_log_sum_exp_rows(const float *x, float *lse, long rows, long cols);

/* The backward rule of log softmax(x)[indices[r]] per row: dx[r, j] = −g[r]·exp(x[r, j] −
   lse[r]), plus g[r] at j = indices[r]. */
void allot_log_prob_backward(const float *x, const float *lse, const float *g,
                             const long *indices, float *dx, long rows, long cols);

/* out[i] = exp(x[i]·scale − shift) over n floats; returns their sum (in vector lanes). */
float allot_scaled_exp(const float *x, long n, float scale, float shift, float *out);
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
