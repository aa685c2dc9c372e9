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
   query, out: [batch, width]; keys, values: [rows, capacity, width] of which the first
   `length` positions are filled; batch row b reads cache row rows[b] (rows NULL: b) and
   masks its first padding[b] keys (padding NULL: none). weights receives the attention
   weights [batch, heads, length]; a row that sees no key gets zero weights and output. */
void allot_decode_attention(const float *query, const float *keys, const float *values,
                            float *out, float *weights, long batch, long heads, long width,
                            long capacity, long length, const long *rows, const long *padding,
                            float scale);
#endif
