/* Calls the typed launch function of a header written by `tmixc build` (for sm_80
 * unless TMIX_HEADER names another); without a CUDA driver it must report "no CUDA
 * device" and return 1. */
#ifndef TMIX_HEADER
#define TMIX_HEADER "swa_alibi.sm_80.h"
#endif
#include TMIX_HEADER

#include <stdio.h>

int main(int argc, char **argv) {
  char error[512] = {0};
  int status = tmix_launch_swa_alibi(argc > 1 ? argv[1] : "swa_alibi.sm_80.manifest", 0, 0,
                                     0, 4096, 0, 0, 1, 8, 128, 2, 0, error, sizeof error);
  printf("status=%d error=%s\n", status, error);
  return 0;
}
