/* The packed decoding kernel (Sources/CKernels/allot_packed.c) against OpenBLAS, and its
   AVX-512 and AVX2 paths against each other, outside Swift:

     clang -O2 -I Sources/CKernels/include Benchmarks/kernels/packed_products.c \
       -o /tmp/packed_products -lopenblas -lm
     OPENBLAS_NUM_THREADS=1 /tmp/packed_products [ROWS IN OUT]...

   For each shape (default: SmolLM2-135M's decoding shapes at 64, 16 and 1 rows): whether
   the two kernels give the same bits, the largest difference from cblas_sgemm, and four
   timings of 30 products, each on its own weight (so that weights stream from memory as in
   decoding), in GFLOP/s of thread CPU time: OpenBLAS (cblas_sgemv for one row) against the
   packed kernel. Then the fused q/k/v and gate/up products against the separate ones. */
#include "../../Sources/CKernels/allot_packed.c"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static float *random_floats(long n) {
  float *p = malloc((size_t)n * sizeof(float));
  for (long i = 0; i < n; i++) p[i] = rand() / (float)RAND_MAX - 0.5f;
  return p;
}

static void blas(const float *x, const float *w, float *c, int m, int n, int k) {
  if (m == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1, w, k, x, 1, 0, c, 1);
  else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, x, k, w, k, 0, c, n);
}

enum { LAYERS = 30 };

static void shape(int m, int k, int n) {
  float *x = random_floats((long)m * k), *w[LAYERS], *p[LAYERS];
  const long panels = (n + 15) / 16;
  for (int l = 0; l < LAYERS; l++) {
    w[l] = random_floats((long)n * k);
    p[l] = malloc((size_t)(panels * 16 * k) * sizeof(float));
    allot_pack_panels(w[l], p[l], n, k);
  }
  float *c = random_floats((long)m * n), *c8 = random_floats((long)m * n);
  float *ref = random_floats((long)m * n);
  const int avx512 = allot_packed_kernel() == 2;
  if (avx512) product16(x, p[0], 0, c, m, n, k);
  product8(x, p[0], 0, c8, m, n, k);
  blas(x, w[0], ref, m, n, k);
  double largest = 0;
  for (long i = 0; i < (long)m * n; i++) largest = fmax(largest, fabs(c8[i] - ref[i]));
  printf("%d × %d · %d × %d: AVX-512 and AVX2 %s, largest difference from BLAS %.2g\n", m, k,
         k, n, avx512 ? (memcmp(c, c8, (size_t)m * n * 4) ? "DIFFER" : "same bits") : "(no AVX-512)",
         largest);
  const double gflop = 2.0 * m * k * n * LAYERS / 1e9;
  for (int round = 0; round < 4; round++) {
    double t0 = now();
    for (int l = 0; l < LAYERS; l++) blas(x, w[l], c, m, n, k);
    double t1 = now();
    for (int l = 0; l < LAYERS; l++) allot_packed_product(x, p[l], 0, c, m, n, k);
    double t2 = now();
    printf("  OpenBLAS %5.1f   packed %5.1f GFLOP/s\n", gflop / (t1 - t0), gflop / (t2 - t1));
  }
  for (int l = 0; l < LAYERS; l++) free(w[l]), free(p[l]);
  free(x), free(c), free(c8), free(ref);
}

/* OpenBLAS on separate products against one product of the concatenated weights. */
static void fused(const char *name, int m, int k, const int *outs, int count) {
  int total = 0;
  for (int i = 0; i < count; i++) total += outs[i];
  float *x = random_floats((long)m * k), *w[LAYERS], *c = random_floats((long)m * total);
  for (int l = 0; l < LAYERS; l++) w[l] = random_floats((long)total * k);
  const double gflop = 2.0 * m * k * total * LAYERS / 1e9;
  for (int round = 0; round < 4; round++) {
    double t0 = now();
    for (int l = 0; l < LAYERS; l++) {
      long row = 0;
      for (int i = 0; i < count; i++) blas(x, w[l] + row * k, c, m, outs[i], k), row += outs[i];
    }
    double t1 = now();
    for (int l = 0; l < LAYERS; l++) blas(x, w[l], c, m, total, k);
    double t2 = now();
    printf("  %s: separate %5.1f   fused %5.1f GFLOP/s\n", name, gflop / (t1 - t0),
           gflop / (t2 - t1));
  }
  for (int l = 0; l < LAYERS; l++) free(w[l]);
  free(x), free(c);
}

int main(int argc, char **argv) {
  if (allot_packed_kernel() == 0) {
    printf("this CPU has neither AVX-512 nor AVX2 + FMA: no packed kernel\n");
    return 0;
  }
  if (argc > 3) {
    for (int i = 1; i + 2 < argc; i += 3) shape(atoi(argv[i]), atoi(argv[i + 1]), atoi(argv[i + 2]));
    return 0;
  }
  const int shapes[][3] = {{64, 576, 1536}, {64, 1536, 576}, {64, 576, 192},
                           {16, 576, 1536}, {1, 576, 1536},  {7, 100, 33}};
  for (int i = 0; i < 6; i++) shape(shapes[i][0], shapes[i][1], shapes[i][2]);
  printf("64 rows, OpenBLAS, fused against separate products:\n");
  const int qkv[] = {576, 192, 192}, gate_up[] = {1536, 1536};
  fused("q, k, v (576 → 576 + 192 + 192)", 64, 576, qkv, 3);
  fused("gate, up (576 → 1536 + 1536)", 64, 576, gate_up, 2);
  return 0;
}
