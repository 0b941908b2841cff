/*===- tmix.h - The C API of libtmix --------------------------------------===*
 *
 * Compile tmix specs from source text and run their kernels on tensors you own.
 *
 *   tmix_module *module;
 *   if (tmix_compile(source, strlen(source), "swa.tmix", &module) != TMIX_OK)
 *     fprintf(stderr, "%s\n", tmix_last_error());
 *   tmix_kernel *kernel;
 *   tmix_module_kernel(module, "swa_alibi", "cpu", &kernel);
 *   ... tmix_kernel_launch(kernel, args, 4, outputs, 2, NULL);
 *
 * Every call returns a status; on anything but TMIX_OK, tmix_last_error() gives one
 * line that says what was wrong (a spec error as `file:line:col: error: ...`). The
 * message is the calling thread's own and stays valid until its next tmix call. No C++
 * exception crosses this API, and bad input is an error status, never a crash.
 *
 * Thread safety: any number of threads may compile, look up kernels and launch at
 * once, on one module or many. Kernels are compiled once per process (a second request
 * waits for the first), cached in memory, and kept on disk for the next process (see
 * tmix_get_cache_stats).
 *
 * Tensors are views (tmix_tensor): the caller owns the memory. A kernel reads any view
 * whose last dim is contiguous (stride 1) and whose other strides are non-negative, so
 * a [B, N, H, D] buffer passes as a [B, H, N, D] view without a copy.
 *
 *===----------------------------------------------------------------------===*/

#ifndef TMIX_H
#define TMIX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum tmix_status {
  TMIX_OK = 0,
  /** The spec source has an error (the message locates it). */
  TMIX_ERROR_COMPILE = 1,
  /** A bad argument: an unknown kernel or target, a wrong shape or rank, a missing
      scalar, a null pointer. */
  TMIX_ERROR_INVALID_ARGUMENT = 2,
  /** A tensor of the wrong dtype or on the wrong device. */
  TMIX_ERROR_TYPE = 3,
  /** Something tmix does not do yet (a stride it cannot read, a target not built). */
  TMIX_ERROR_UNSUPPORTED = 4,
  /** A failure while running (out of memory, a file that could not be read). */
  TMIX_ERROR_RUNTIME = 5
} tmix_status;

typedef enum tmix_dtype {
  TMIX_F32 = 0,
  TMIX_F16 = 1,
  TMIX_BF16 = 2,
  TMIX_I32 = 3,
  TMIX_I64 = 4,
  TMIX_BOOL = 5
} tmix_dtype;

typedef enum tmix_device {
  TMIX_DEVICE_CPU = 0,
  TMIX_DEVICE_CUDA = 1
} tmix_device;

/** A tensor in memory the caller owns. `strides` count elements, one per dim; NULL
    means row-major (contiguous). */
typedef struct tmix_tensor {
  void *data;
  tmix_dtype dtype;
  int32_t rank;
  const int64_t *shape;
  const int64_t *strides;
  tmix_device device;
  int32_t device_index;
} tmix_tensor;

/** One argument of a call, in the spec's argument order: `tensor` for a tensor
    argument; `scalar` for a scalar one, or has_scalar = 0 for its default. */
typedef struct tmix_arg {
  const tmix_tensor *tensor;
  double scalar;
  int32_t has_scalar;
} tmix_arg;

/** A parameter (argument or output) of a kernel, as declared. */
typedef struct tmix_param_info {
  const char *name;
  int32_t is_tensor;
  tmix_dtype dtype;
  int32_t rank;
  int32_t has_default;
  double default_value;
  /** Per dim, in the stored order: the size symbol ("N"), or NULL for a literal. */
  const char *const *dim_symbols;
  /** Per dim: the literal size, or what is added to the symbol (1 for `N + 1`). */
  const int64_t *dim_values;
} tmix_param_info;

typedef struct tmix_module tmix_module;
typedef struct tmix_kernel tmix_kernel;

/** The calling thread's message for its last call that failed ("" if none). */
const char *tmix_last_error(void);

/** The library's version, "MAJOR.MINOR.PATCH". */
const char *tmix_version(void);

/** What the process's kernel cache has done: kernels compiled (LLVM run), and its disk
    layer's hits, misses, entries stored and damaged entries removed (to be rebuilt).
    The disk cache lives in $TMIX_CACHE_DIR, else $XDG_CACHE_HOME/tmix, else
    ~/.cache/tmix (TMIX_DISK_CACHE=0: none); `disk_directory` is NULL without one. A
    folder that is not the user's own or that others may write is refused: every
    kernel request then fails with the reason, as this call does. */
typedef struct tmix_cache_stats {
  uint64_t compiled;
  uint64_t disk_hits;
  uint64_t disk_misses;
  uint64_t disk_stores;
  uint64_t disk_damaged;
  const char *disk_directory;
} tmix_cache_stats;

tmix_status tmix_get_cache_stats(tmix_cache_stats *stats);

/** Compiles the specs of `source` (`length` bytes; `filename` names it in messages). */
tmix_status tmix_compile(const char *source, size_t length, const char *filename,
                         tmix_module **module);
/** Compiles the specs of the file at `path`. */
tmix_status tmix_compile_file(const char *path, tmix_module **module);
/** Frees a module; kernels taken from it stay valid until freed themselves. */
void tmix_module_free(tmix_module *module);

/** The number of specs in the module, and the name of spec `index`. */
size_t tmix_module_num_kernels(const tmix_module *module);
const char *tmix_module_kernel_name(const tmix_module *module, size_t index);

/** The kernel of spec `name` for `target`: "cpu" (compiled now, or loaded from the disk
    cache), or a GPU: "sm_80", "sm_90a", or "cuda" (device 0's: compute capability 9.x
    gives sm_90a, 8.x sm_80; an error without a device). A GPU kernel compiles on its
    first launch with each set of head dims (they are fixed in its code) and runs
    through libtmix_cuda's loader on CUDA device memory. The backward kernels derived
    from each attention spec X (docs/training.md) are found by their names too, on the
    CPU: X_forward (X with lse, when X has none), X_grad_kv (dk, dv and d_q_partial,
    dq's sums per key split, then the partials of the small params it sums per key
    split too), X_grad_q (which takes d_q_partial last and gives dq: run it after
    X_grad_kv) and, when X's score or sink reads float extra arguments, X_grad_params
    (which takes X_grad_kv's param partials last); for each recurrence X,
    X_grad: X's arguments and the gradients of its outputs in, the gradient of each
    float argument out (named d_<argument>, f32, of the argument's shape; a scalar's as
    [1]). For a GPU target the attention parts are the GPUs' form: X_grad_kv gives dk
    and dv, X_grad_q takes no d_q_partial (it recomputes dq), X_grad_params takes no
    partials; with a learnable rope theta X_grad_kv also gives d_rope_k and X_grad_q
    d_rope_q (each row's term of theta's gradient), which X_grad_params takes last, in
    that order (run it after both); a recurrence's X_grad is the CPU's call, the
    gradients shared by several points summed on the device after it, on the same
    stream. What a GPU kernel does not run yet (part "params" for some reads, a
    recurrence's vector states) is TMIX_ERROR_UNSUPPORTED, with the reason. */
tmix_status tmix_module_kernel(tmix_module *module, const char *name, const char *target,
                               tmix_kernel **kernel);
void tmix_kernel_free(tmix_kernel *kernel);

/** The kernel's spec name, its arguments and its outputs as declared. Strings live as
    long as the kernel. */
const char *tmix_kernel_name(const tmix_kernel *kernel);
size_t tmix_kernel_num_args(const tmix_kernel *kernel);
size_t tmix_kernel_num_outputs(const tmix_kernel *kernel);
tmix_status tmix_kernel_arg_info(const tmix_kernel *kernel, size_t index,
                                 tmix_param_info *info);
tmix_status tmix_kernel_output_info(const tmix_kernel *kernel, size_t index,
                                    tmix_param_info *info);

/** Checks the arguments of a call and writes the shapes of its outputs into `shapes`,
    one after another (each output's rank, from tmix_kernel_output_info, entries): what
    a caller allocates. */
tmix_status tmix_kernel_output_shapes(const tmix_kernel *kernel, const tmix_arg *args,
                                      size_t num_args, int64_t *shapes);

/** Runs the kernel on `args` (one per spec argument) into `outputs` (one per spec
    output, shaped as tmix_kernel_output_shapes says). On the CPU `stream` must be NULL
    and the call returns when the outputs are written. A GPU kernel takes tensors in
    CUDA device memory, contiguous and 16-byte aligned, and is enqueued on `stream` (a
    CUstream; NULL: the default stream); the call returns once it is enqueued (after
    reading packed-sequence offsets back, when the spec has them). */
tmix_status tmix_kernel_launch(const tmix_kernel *kernel, const tmix_arg *args,
                               size_t num_args, const tmix_tensor *outputs,
                               size_t num_outputs, void *stream);

/*===----------------------------------------------------------------------===*
 * Kernels built ahead of time (`tmixc build FILE --target=cpu -o DIR`): DIR holds a
 * shared library whose header declares one typed function per kernel; those functions
 * call tmix_cpu_kernel_launch of libtmix_runtime, which needs neither the compiler nor
 * MLIR. They report errors as the calls above do, through tmix_runtime_last_error().
 *===----------------------------------------------------------------------===*/

/** A kernel compiled ahead of time: its manifest (the text `tmixc build` writes beside
    it) and its program's packed entry point. */
typedef struct tmix_cpu_kernel {
  const char *manifest;
  void (*program)(void **);
} tmix_cpu_kernel;

/** Checks a call of `kernel` (as tmix_kernel_launch does) and runs it on the CPU. */
tmix_status tmix_cpu_kernel_launch(const tmix_cpu_kernel *kernel, const tmix_arg *args,
                                   size_t num_args, const tmix_tensor *outputs,
                                   size_t num_outputs);
/** The calling thread's message for its last failed tmix_cpu_kernel_launch. */
const char *tmix_runtime_last_error(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TMIX_H */
