#include "allot_packed.h"

#include <string.h>

/* Panels of ALLOT_PANEL columns of Wᵀ: panel p holds, for each k, the weights of output
   columns 16p..16p+15 side by side (zeros past the last column), so a tile of rows
   multiplies one panel by reading it front to back. Every output element is the fma chain
   Σ_k x[r, k] · w[j, k] from zero in the order of k, then plus its bias: the AVX-512 and
   the AVX2 kernel give the same bits, and a row's result does not depend on the others. */

void allot_pack_panels(const float *restrict w, float *restrict packed, long n, long k) {
  const long panels = (n + ALLOT_PANEL - 1) / ALLOT_PANEL;
  for (long p = 0; p < panels; p++) {
    float *restrict panel = packed + p * k * ALLOT_PANEL;
    const long first = p * ALLOT_PANEL;
    const long columns = n - first < ALLOT_PANEL ? n - first : ALLOT_PANEL;
    if (columns < ALLOT_PANEL) memset(panel, 0, (size_t)(k * ALLOT_PANEL) * sizeof(float));
    /* 16 rows of W read side by side, each panel row written whole. */
    for (long i = 0; i < k; i++)
      for (long j = 0; j < columns; j++) panel[i * ALLOT_PANEL + j] = w[(first + j) * k + i];
  }
}

/* Writes the first `count` lanes of a tile row, plus their bias when there is one. */
static inline void store_row(float *restrict c, float *restrict lanes, const float *bias,
                             long count) {
  if (bias)
    for (long j = 0; j < count; j++) lanes[j] += bias[j];
  memcpy(c, lanes, (size_t)count * sizeof(float));
}

/* Runs TILE(R) on the rows of x from row i = 0: tiles of 6 rows, then one of the rest, R
   a constant in each call so that a tile's accumulators stay in registers. */
#define ROW_TILES(TILE)                                                                   \
  long i = 0;                                                                             \
  for (; i + 6 <= m; i += 6) TILE(6);                                                     \
  switch (m - i) {                                                                        \
    case 5: TILE(5); break;                                                               \
    case 4: TILE(4); break;                                                               \
    case 3: TILE(3); break;                                                               \
    case 2: TILE(2); break;                                                               \
    case 1: TILE(1); break;                                                               \
  }

/* ---- AVX-512: a tile of R rows × P panels, one 16-lane register per panel row ---- */

typedef float v16 __attribute__((vector_size(64), aligned(4)));

__attribute__((target("avx512f,fma"), always_inline)) static inline void tile16(
    const float *restrict x, long k, const float *restrict panels, const float *bias,
    float *restrict c, long ldc, long columns, const int R, const int P) {
  v16 acc[6][2];
  for (int r = 0; r < R; r++)
    for (int p = 0; p < P; p++) acc[r][p] = (v16){0};
  for (long i = 0; i < k; i++) {
    v16 w[2];
    for (int p = 0; p < P; p++) w[p] = *(const v16 *)(panels + p * k * ALLOT_PANEL + i * 16);
    for (int r = 0; r < R; r++) {
      const v16 xr = (v16){0} + x[r * k + i];
      for (int p = 0; p < P; p++) acc[r][p] = __builtin_elementwise_fma(xr, w[p], acc[r][p]);
    }
  }
  float lanes[32];
  for (int r = 0; r < R; r++) {
    for (int p = 0; p < P; p++) memcpy(lanes + 16 * p, &acc[r][p], sizeof(v16));
    store_row(c + r * ldc, lanes, bias, columns);
  }
}

__attribute__((target("avx512f,fma"))) static void product16(
    const float *x, const float *packed, const float *bias, float *c, long m, long n, long k) {
  const long panels = (n + 15) / 16;
  for (long p0 = 0; p0 < panels; p0 += 2) {
    const int P = panels - p0 >= 2 ? 2 : 1;
    const long col = p0 * 16;
    const long columns = n - col < 16 * P ? n - col : 16 * P;
    const float *panel = packed + p0 * k * 16;
    const float *b = bias ? bias + col : 0;
#define TILE16(R)                                                                  \
  (P == 2 ? tile16(x + i * k, k, panel, b, c + i * n + col, n, columns, R, 2)      \
          : tile16(x + i * k, k, panel, b, c + i * n + col, n, columns, R, 1))
    ROW_TILES(TILE16);
#undef TILE16
  }
}

/* ---- AVX2: a tile of R rows × one panel, two 8-lane registers per panel row ---- */

typedef float v8 __attribute__((vector_size(32), aligned(4)));

__attribute__((target("avx2,fma"), always_inline)) static inline void tile8(
    const float *restrict x, long k, const float *restrict panel, const float *bias,
    float *restrict c, long ldc, long columns, const int R) {
  v8 acc[6][2];
  for (int r = 0; r < R; r++) acc[r][0] = acc[r][1] = (v8){0};
  for (long i = 0; i < k; i++) {
    const v8 w0 = *(const v8 *)(panel + i * 16), w1 = *(const v8 *)(panel + i * 16 + 8);
    for (int r = 0; r < R; r++) {
      const v8 xr = (v8){0} + x[r * k + i];
      acc[r][0] = __builtin_elementwise_fma(xr, w0, acc[r][0]);
      acc[r][1] = __builtin_elementwise_fma(xr, w1, acc[r][1]);
    }
  }
  float lanes[16];
  for (int r = 0; r < R; r++) {
    memcpy(lanes, &acc[r][0], sizeof(v8));
    memcpy(lanes + 8, &acc[r][1], sizeof(v8));
    store_row(c + r * ldc, lanes, bias, columns);
  }
}

__attribute__((target("avx2,fma"))) static void product8(
    const float *x, const float *packed, const float *bias, float *c, long m, long n, long k) {
  const long panels = (n + 15) / 16;
  for (long p = 0; p < panels; p++) {
    const long col = p * 16;
    const long columns = n - col < 16 ? n - col : 16;
    const float *panel = packed + p * k * 16;
    const float *b = bias ? bias + col : 0;
#define TILE8(R) tile8(x + i * k, k, panel, b, c + i * n + col, n, columns, R)
    ROW_TILES(TILE8);
#undef TILE8
  }
}

int allot_packed_kernel(void) {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return 2;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
  return 0;
}

void allot_packed_product(const float *x, const float *packed, const float *bias, float *c,
                          long m, long n, long k) {
  static int kernel = -1;
  if (kernel < 0) kernel = allot_packed_kernel();
  if (kernel == 2) product16(x, packed, bias, c, m, n, k);
  else product8(x, packed, bias, c, m, n, k);
}
