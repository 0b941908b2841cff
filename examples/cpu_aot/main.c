/* Calls window_gqa (window_gqa.tmix) from a library built ahead of time, on random
 * inputs: once with contiguous [B, H, N, D] tensors, once with the same data stored as
 * [B, N, H, D] (FlashAttention's layout) and passed as strided views; checks both
 * against attention computed here in double precision, and that a wrong call is an
 * error status with a message. Prints PASS (exit 0) or FAIL (exit 1). */
#include "window_gqa.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { B = 2, H = 6, HK = 2, N = 77, D = 40, WINDOW = 19 };

static unsigned long long state = 42;
static float uniform(void) { /* a fixed-seed LCG in [-1, 1) */
  state = state * 6364136223846793005ull + 1442695040888963407ull;
  return (float)((state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}

/* Element (b, h, n, d) of a tensor of `heads` heads, stored [B, heads, N, D] or, when
 * `bnhd`, [B, N, heads, D]. */
static size_t at(int bnhd, int heads, int b, int h, int n, int d) {
  return bnhd ? (((size_t)b * N + n) * heads + h) * D + d
              : (((size_t)b * heads + h) * N + n) * D + d;
}

/* The largest |o - ref| / (1 + |ref|) and |lse - ref| of windowed causal GQA. */
static double worst_error(int bnhd, const float *q, const float *k, const float *v,
                          const float *o, const float *lse) {
  double worst = 0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h)
      for (int i = 0; i < N; ++i) {
        double scores[N], top = -INFINITY, sum = 0;
        int kh = h / (H / HK);
        for (int j = 0; j < N; ++j) {
          scores[j] = -INFINITY;
          if (j <= i && i - j < WINDOW) {
            double s = 0;
            for (int d = 0; d < D; ++d)
              s += (double)q[at(bnhd, H, b, h, i, d)] * k[at(bnhd, HK, b, kh, j, d)];
            scores[j] = s / sqrt((double)D);
          }
          if (scores[j] > top)
            top = scores[j];
        }
        for (int j = 0; j < N; ++j)
          sum += scores[j] = exp(scores[j] - top);
        double e = fabs(lse[((size_t)b * H + h) * N + i] - (top + log(sum)));
        worst = e > worst ? e : worst;
        for (int d = 0; d < D; ++d) {
          double want = 0;
          for (int j = 0; j < N; ++j)
            want += scores[j] / sum * v[at(bnhd, HK, b, kh, j, d)];
          double got = o[at(0, H, b, h, i, d)];
          e = fabs(got - want) / (1 + fabs(want));
          worst = e > worst ? e : worst;
        }
      }
  return worst;
}

int main(void) {
  size_t qn = (size_t)B * H * N * D, kn = (size_t)B * HK * N * D;
  float *q = malloc(qn * sizeof *q), *k = malloc(kn * sizeof *k), *v = malloc(kn * sizeof *v);
  float *o = malloc(qn * sizeof *o), *lse = malloc((size_t)B * H * N * sizeof *lse);
  int failed = 0;
  for (int bnhd = 0; bnhd <= 1; ++bnhd) {
    for (size_t e = 0; e < qn; ++e) q[e] = uniform();
    for (size_t e = 0; e < kn; ++e) k[e] = uniform(), v[e] = uniform();
    int64_t qshape[] = {B, H, N, D}, kshape[] = {B, HK, N, D}, lshape[] = {B, H, N};
    /* Strides in elements; [B, N, heads, D] storage read as a [B, heads, N, D] view. */
    int64_t qstrides[] = {(int64_t)N * H * D, D, (int64_t)H * D, 1};
    int64_t kstrides[] = {(int64_t)N * HK * D, D, (int64_t)HK * D, 1};
    tmix_tensor tq = {q, TMIX_F32, 4, qshape, bnhd ? qstrides : NULL, TMIX_DEVICE_CPU, 0};
    tmix_tensor tk = {k, TMIX_F32, 4, kshape, bnhd ? kstrides : NULL, TMIX_DEVICE_CPU, 0};
    tmix_tensor tv = {v, TMIX_F32, 4, kshape, bnhd ? kstrides : NULL, TMIX_DEVICE_CPU, 0};
    tmix_tensor to = {o, TMIX_F32, 4, qshape, NULL, TMIX_DEVICE_CPU, 0};
    tmix_tensor tl = {lse, TMIX_F32, 3, lshape, NULL, TMIX_DEVICE_CPU, 0};
    if (tmix_run_window_gqa(&tq, &tk, &tv, WINDOW, &to, &tl) != TMIX_OK) {
      printf("error: %s\n", tmix_runtime_last_error());
      return 1;
    }
    double worst = worst_error(bnhd, q, k, v, o, lse);
    printf("%s: max_err=%.3g\n", bnhd ? "strided [B, N, H, D] views" : "contiguous", worst);
    failed |= !(worst < 1e-4);
  }
  /* A call the kernel refuses: v with one position fewer than q and k. */
  int64_t short_shape[] = {B, HK, N - 1, D}, qshape[] = {B, H, N, D}, kshape[] = {B, HK, N, D};
  int64_t lshape[] = {B, H, N};
  tmix_tensor tq = {q, TMIX_F32, 4, qshape, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor tk = {k, TMIX_F32, 4, kshape, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor tv = {v, TMIX_F32, 4, short_shape, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor to = {o, TMIX_F32, 4, qshape, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor tl = {lse, TMIX_F32, 3, lshape, NULL, TMIX_DEVICE_CPU, 0};
  tmix_status status = tmix_run_window_gqa(&tq, &tk, &tv, WINDOW, &to, &tl);
  printf("wrong shape: status %d: %s\n", (int)status, tmix_runtime_last_error());
  failed |= status != TMIX_ERROR_INVALID_ARGUMENT;
  status = tmix_run_window_gqa(&tq, &tk, &tk, WINDOW, &to, NULL);
  printf("no lse: status %d: %s\n", (int)status, tmix_runtime_last_error());
  failed |= status != TMIX_ERROR_INVALID_ARGUMENT;
  printf("%s\n", failed ? "FAIL" : "PASS");
  free(q), free(k), free(v), free(o), free(lse);
  return failed;
}
