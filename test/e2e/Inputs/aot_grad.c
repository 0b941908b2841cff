/* Calls the ahead-of-time backward of aot_grad.tmix (tmix_run_leaky_grad) and checks its
   gradients against the adjoint written out by hand: going backwards, g = dy[t] + dh,
   d_x[t] = g, d_a += g h[t-1] (over every batch), dh = a g. */
#include "aot_grad.h"

#include <math.h>
#include <stdio.h>

enum { B = 2, C = 3, T = 70 };

int main(void) {
  static float x[B][C][T], dy[B][C][T], dx[B][C][T], h[B][C][T + 1];
  float a[C] = {0.9f, -0.5f, 0.25f}, da[1][C];
  double want_da[C] = {0, 0, 0};
  unsigned state = 12345;
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c)
      for (int t = 0; t < T; ++t) {
        state = state * 1103515245u + 12345u;
        x[b][c][t] = (float)((state >> 8) % 2001) / 1000.0f - 1.0f;
        state = state * 1103515245u + 12345u;
        dy[b][c][t] = (float)((state >> 8) % 2001) / 1000.0f - 1.0f;
      }
  int64_t xs[] = {B, C, T}, as[] = {C};
  tmix_tensor tx = {x, TMIX_F32, 3, xs, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor ta = {a, TMIX_F32, 1, as, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor tdy = {dy, TMIX_F32, 3, xs, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor tdx = {dx, TMIX_F32, 3, xs, NULL, TMIX_DEVICE_CPU, 0};
  tmix_tensor tda = {da, TMIX_F32, 1, as, NULL, TMIX_DEVICE_CPU, 0};
  tmix_status status = tmix_run_leaky_grad(&tx, &ta, &tdy, &tdx, &tda);
  if (status != TMIX_OK) {
    printf("status %d: %s\n", status, tmix_runtime_last_error());
    return 1;
  }
  double err = 0;
  for (int b = 0; b < B; ++b)
    for (int c = 0; c < C; ++c) {
      h[b][c][0] = 0;
      for (int t = 0; t < T; ++t)
        h[b][c][t + 1] = a[c] * h[b][c][t] + x[b][c][t];
      double g = 0;
      for (int t = T - 1; t >= 0; --t) {
        g += dy[b][c][t];
        err = fmax(err, fabs(dx[b][c][t] - g));
        want_da[c] += g * h[b][c][t];
        g *= a[c];
      }
    }
  for (int c = 0; c < C; ++c)
    err = fmax(err, fabs(da[0][c] - want_da[c]) / (1 + fabs(want_da[c])));
  printf("max_err=%g\n%s\n", err, err < 1e-4 ? "PASS" : "FAIL");
  return err < 1e-4 ? 0 : 1;
}
