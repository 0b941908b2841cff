// FMA peak probe for bench/cpu/compare.sh: independent AVX-512 FMA chains (16
// accumulators of _mm512_fmadd_ps, 2 FLOPs x 16 lanes each) for about 1 s, first on one
// thread, then on every core (one pthread each). Prints GFLOP/s of f32 FMA.
// Build: clang-22 -O3 -march=native -pthread bench/cpu/fma_peak.c -o build/fma_peak
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { kInner = 1 << 20 };

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct {
  double seconds; // how long to run
  double flops;   // result
  double elapsed; // result
  float sink;
} Job;

#define ACC(n) __m512 a##n = _mm512_set1_ps((float)(n) * 1e-3f);
#define FMA(n) a##n = _mm512_fmadd_ps(a##n, x, y);
#define ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)

static void *run(void *arg) {
  Job *job = arg;
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  ALL(ACC)
  double start = now(), end = start;
  long rounds = 0;
  do {
    for (int i = 0; i < kInner; ++i) {
      ALL(FMA)
      __asm__ volatile("" ::: "memory"); // keep the loop a loop
    }
    ++rounds;
    end = now();
  } while (end - start < job->seconds);
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)),
                                     _mm512_add_ps(_mm512_add_ps(a12, a13), _mm512_add_ps(a14, a15))));
  job->sink = _mm512_reduce_add_ps(s);
  job->flops = (double)rounds * kInner * 16 /*chains*/ * 16 /*lanes*/ * 2;
  job->elapsed = end - start;
  return NULL;
}

static double measure(int threads, double seconds) {
  pthread_t ids[256];
  Job jobs[256];
  for (int t = 0; t < threads; ++t) {
    jobs[t] = (Job){.seconds = seconds};
    pthread_create(&ids[t], NULL, run, &jobs[t]);
  }
  double gflops = 0;
  for (int t = 0; t < threads; ++t) {
    pthread_join(ids[t], NULL);
    gflops += jobs[t].flops / jobs[t].elapsed * 1e-9;
  }
  return gflops;
}

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 1.0;
  int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (cores > 256) cores = 256;
  measure(1, 0.1); // warm up the clock
  double one = measure(1, seconds), all = measure(cores, seconds);
  printf("fma_peak threads=1 gflops=%.1f\n", one);
  printf("fma_peak threads=%d gflops=%.1f\n", cores, all);
  return 0;
}
