/*===- tmix_cuda.h - C API of the tmix CUDA runtime ------------------------===*
 *
 * What the headers written by `tmixc build` call. Tensors are device addresses (one
 * per argument, 0 for scalar arguments, then one per result: for a manifest with
 * `gradients summed`, a recurrence's adjoint, f32 of its argument's shape), scalars are
 * doubles (one per argument, unused for tensors), sizes follow the manifest's `sizes`
 * line. Returns
 * 0 on success, else 1 with a message in `error` (which names the CUDA error, or says
 * "no CUDA device").
 *
 *===----------------------------------------------------------------------===*/

#ifndef TMIX_RUNTIME_CUDA_TMIX_CUDA_H
#define TMIX_RUNTIME_CUDA_TMIX_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int tmix_cuda_launch(const char *manifest_path, const uint64_t *tensors,
                     const double *scalars, const int64_t *sizes, void *stream,
                     char *error, size_t error_size);

/* Device 0: 0 with its name and compute capability, else 1 with the error (for example
 * "no CUDA device (cannot open the CUDA driver library ...)") in `name`. */
int tmix_cuda_device(char *name, size_t name_size, int *major, int *minor);

#ifdef __cplusplus
}
#endif

#endif /* TMIX_RUNTIME_CUDA_TMIX_CUDA_H */
