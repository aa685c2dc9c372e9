#ifndef ALLOT_LLAMA_KERNELS_H
#define ALLOT_LLAMA_KERNELS_H
/* Kernels of the Llama-family decoder: RMSNorm, rotary position embeddings, SwiGLU.
   Compiled for the baseline and for x86-64-v3 like allot_kernels.h. Not public API. */

/* RMS normalisation over the last axis (d) of rows × d floats: y = x · r · w with
   r = 1/√(mean(x²) + eps), written to out, and r per row to rstd. */
void allot_rms_norm_forward(const float *x, const float *weight, float *out, float *rstd,
                            long rows, long d, float eps);
/* Its backward rule: writes dx and adds Σ_rows g · x · r into dweight. */
void allot_rms_norm_backward(const float *g, const float *x, const float *weight,
                             const float *rstd, float *dx, float *dweight, long rows, long d);

/* Rotary position embedding in the rotate-half layout over `tokens` rows of `heads` heads
   of hd floats (row stride heads · hd): for i < hd/2, with c = cos[t, i], s = sin[t, i] ·
   direction, (x[i], x[i + hd/2]) ← (x[i]·c − x[i + hd/2]·s, x[i + hd/2]·c + x[i]·s).
   direction −1 rotates back (the backward rule). x and out may be the same. */
void allot_rotary(const float *x, const float *cos, const float *sin, float *out, long tokens,
                  long heads, long hd, float direction);

/* SwiGLU silu(gate) · up over n floats, and its backward rule for the output gradient g. */
void allot_swiglu_forward(const float *gate, const float *up, float *out, long n);
void allot_swiglu_backward(const float *g, const float *gate, const float *up, float *dgate,
                           float *dup, long n);
#endif
