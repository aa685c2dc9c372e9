#ifndef ALLOT_PACKED_H
#define ALLOT_PACKED_H
/* Products x · Wᵀ with W packed once into panels, for the many small products of decoding
   (BLAS would pack W again in every call). Not public API. */

/* Columns per panel. */
#define ALLOT_PANEL 16

/* Packs W [n, k] (row-major, one output per row) into ⌈n/16⌉ panels of k × 16 floats:
   packed[(j/16)·k·16 + i·16 + j%16] = w[j·k + i], zeros past column n. */
void allot_pack_panels(const float *w, float *packed, long n, long k);

/* 2 when the AVX-512 kernel runs, 1 the AVX2 + FMA one, 0 when the CPU has neither (then
   allot_packed_product must not be called). */
int allot_packed_kernel(void);

/* c [m, n] = x [m, k] · Wᵀ (+ bias [n] when not null), W packed by allot_pack_panels. */
void allot_packed_product(const float *x, const float *packed, const float *bias, float *c,
                          long m, long n, long k);
#endif
