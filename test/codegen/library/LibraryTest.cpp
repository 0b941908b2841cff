//===- LibraryTest.cpp - libtmix's C API, from one thread and from sixteen ------===//
//
// The test links libtmix.so alone, as a user's program does, and checks the kernels'
// outputs against a float64 attention written here. CI runs it under ThreadSanitizer
// too (tools/test.sh, build-tsan/).
//
//===----------------------------------------------------------------------===//

#include "tmix/tmix.h"
#include "tmix/tmix.hpp"

#include "runtime/cuda/tmix_cuda.h"
#include "test/runtime/FakeCudaDriver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr char kSource[] = R"(
attention windowed(q: f32[B, H, N, D], k: f32[B, HK, N, D], v: f32[B, HK, N, D],
                   window: i32 = 5) -> (o: f32[B, H, N, D], lse: f32[B, H, N]) {
  mask = j <= i && i - j < window
})";

/// A [B, H, N, D] f32 tensor, stored as [B, N, H, D] when `transposed` (the view then
/// has strides that are not row-major: FlashAttention's layout read in place).
struct Tensor {
  std::vector<float> data;
  std::vector<int64_t> shape, strides;
  tmix_tensor view;

  Tensor(int64_t b, int64_t h, int64_t n, int64_t d, bool transposed, std::mt19937 &random)
      : data(b * h * n * d), shape{b, h, n, d} {
    std::uniform_real_distribution<float> uniform(-1, 1);
    for (float &x : data)
      x = uniform(random);
    strides = transposed ? std::vector<int64_t>{n * h * d, d, h * d, 1}
                         : std::vector<int64_t>{h * n * d, n * d, d, 1};
    view = {data.data(), TMIX_F32, 4, shape.data(), strides.data(), TMIX_DEVICE_CPU, 0};
  }

  double at(int64_t b, int64_t h, int64_t n, int64_t d) const {
    return data[b * strides[0] + h * strides[1] + n * strides[2] + d * strides[3]];
  }
};

/// The largest |o - ref| / (1 + |ref|) of windowed causal GQA attention, in float64.
double worstError(const Tensor &q, const Tensor &k, const Tensor &v, int window,
                  const std::vector<float> &o) {
  int64_t b = q.shape[0], h = q.shape[1], n = q.shape[2], d = q.shape[3];
  int64_t groups = h / k.shape[1];
  double worst = 0;
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t i = 0; i < n; ++i) {
        std::vector<double> scores;
        double top = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) {
          double s = -INFINITY;
          if (i - j < window) {
            s = 0;
            for (int64_t e = 0; e < d; ++e)
              s += q.at(bi, hi, i, e) * k.at(bi, hi / groups, j, e);
            s /= std::sqrt(double(d));
          }
          scores.push_back(s);
          top = std::max(top, s);
        }
        double sum = 0;
        for (double &s : scores)
          sum += s = std::exp(s - top);
        for (int64_t e = 0; e < d; ++e) {
          double want = 0;
          for (int64_t j = 0; j <= i; ++j)
            want += scores[j] / sum * v.at(bi, hi / groups, j, e);
          double got = o[((bi * h + hi) * n + i) * d + e];
          worst = std::max(worst, std::fabs(got - want) / (1 + std::fabs(want)));
        }
      }
  return worst;
}

/// Runs `kernel` on random inputs of length `n` (strided when `transposed`); returns the
/// error against the reference, or a message.
std::string runOnce(tmix_kernel *kernel, int64_t n, bool transposed, int window,
                    unsigned seed, double &worst) {
  std::mt19937 random(seed);
  const int64_t b = 2, h = 4, hk = 2, d = 12;
  Tensor q(b, h, n, d, transposed, random), k(b, hk, n, d, transposed, random),
      v(b, hk, n, d, transposed, random);
  tmix_arg args[4] = {{&q.view, 0, 0}, {&k.view, 0, 0}, {&v.view, 0, 0},
                      {nullptr, double(window), 1}};
  int64_t shapes[7];
  if (tmix_kernel_output_shapes(kernel, args, 4, shapes) != TMIX_OK)
    return tmix_last_error();
  std::vector<float> o(b * h * n * d), lse(b * h * n);
  tmix_tensor outputs[2] = {{o.data(), TMIX_F32, 4, shapes, nullptr, TMIX_DEVICE_CPU, 0},
                            {lse.data(), TMIX_F32, 3, shapes + 4, nullptr, TMIX_DEVICE_CPU, 0}};
  if (tmix_kernel_launch(kernel, args, 4, outputs, 2, nullptr) != TMIX_OK)
    return tmix_last_error();
  worst = worstError(q, k, v, window, o);
  return "";
}

TEST(Library, CompilesDescribesAndRuns) {
  tmix_module *module = nullptr;
  ASSERT_EQ(tmix_compile(kSource, std::strlen(kSource), "windowed.tmix", &module), TMIX_OK)
      << tmix_last_error();
  ASSERT_EQ(tmix_module_num_kernels(module), 1u);
  EXPECT_STREQ(tmix_module_kernel_name(module, 0), "windowed");
  tmix_kernel *kernel = nullptr;
  ASSERT_EQ(tmix_module_kernel(module, "windowed", "cpu", &kernel), TMIX_OK)
      << tmix_last_error();
  tmix_module_free(module); // the kernel outlives its module

  ASSERT_EQ(tmix_kernel_num_args(kernel), 4u);
  tmix_param_info info;
  ASSERT_EQ(tmix_kernel_arg_info(kernel, 3, &info), TMIX_OK);
  EXPECT_STREQ(info.name, "window");
  EXPECT_FALSE(info.is_tensor);
  EXPECT_TRUE(info.has_default);
  EXPECT_EQ(info.default_value, 5);
  ASSERT_EQ(tmix_kernel_output_info(kernel, 1, &info), TMIX_OK);
  EXPECT_STREQ(info.name, "lse");
  ASSERT_EQ(info.rank, 3);
  EXPECT_STREQ(info.dim_symbols[2], "N");

  for (bool transposed : {false, true}) {
    double worst = INFINITY;
    EXPECT_EQ(runOnce(kernel, 37, transposed, 6, 7, worst), "");
    EXPECT_LT(worst, 1e-5) << (transposed ? "strided" : "contiguous");
  }
  tmix_kernel_free(kernel);
}

TEST(Library, ErrorsAreStatusesWithMessages) {
  tmix_module *module = nullptr;
  const char bad[] = "attention a(q: f32[B, H, N, 8]) -> o: f32[B, H, N, 8] {\n}\n";
  EXPECT_EQ(tmix_compile(bad, std::strlen(bad), "bad.tmix", &module), TMIX_ERROR_COMPILE);
  EXPECT_EQ(module, nullptr);
  EXPECT_EQ(std::string(tmix_last_error()).rfind("bad.tmix:1:", 0), 0u) << tmix_last_error();
  EXPECT_EQ(tmix_compile(nullptr, 3, "x", &module), TMIX_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(tmix_compile_file("/nonexistent/spec.tmix", &module), TMIX_ERROR_RUNTIME);

  ASSERT_EQ(tmix_compile(kSource, std::strlen(kSource), nullptr, &module), TMIX_OK);
  tmix_kernel *kernel = nullptr;
  EXPECT_EQ(tmix_module_kernel(module, "nope", "cpu", &kernel), TMIX_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tmix_last_error()).find("windowed"), std::string::npos);
  EXPECT_EQ(tmix_module_kernel(module, "windowed", "tpu", &kernel),
            TMIX_ERROR_INVALID_ARGUMENT);
  ASSERT_EQ(tmix_module_kernel(module, "windowed", "cpu", &kernel), TMIX_OK);

  std::mt19937 random(1);
  Tensor q(1, 4, 9, 12, false, random), k(1, 2, 9, 12, false, random),
      v(1, 2, 9, 12, false, random);
  tmix_arg args[4] = {{&q.view, 0, 0}, {&k.view, 0, 0}, {&v.view, 0, 0}, {nullptr, 0, 0}};
  int64_t shapes[7];
  EXPECT_EQ(tmix_kernel_output_shapes(kernel, args, 3, shapes), TMIX_ERROR_INVALID_ARGUMENT);
  k.view.dtype = TMIX_BF16;
  EXPECT_EQ(tmix_kernel_output_shapes(kernel, args, 4, shapes), TMIX_ERROR_TYPE);
  EXPECT_STREQ(tmix_last_error(), "argument 'k' is bf16 but is declared f32");
  k.view.dtype = TMIX_F32;
  k.strides[3] = 2; // the last dim must be contiguous
  EXPECT_EQ(tmix_kernel_output_shapes(kernel, args, 4, shapes), TMIX_ERROR_UNSUPPORTED);
  k.strides[3] = 1;
  k.strides[0] = -1;
  EXPECT_EQ(tmix_kernel_output_shapes(kernel, args, 4, shapes), TMIX_ERROR_UNSUPPORTED);
  k.strides[0] = 2 * 9 * 12;
  args[3] = {nullptr, 1e300, 1};
  EXPECT_EQ(tmix_kernel_output_shapes(kernel, args, 4, shapes), TMIX_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tmix_last_error()).find("out of range for i32"), std::string::npos);
  args[3] = {nullptr, 0, 0};
  ASSERT_EQ(tmix_kernel_output_shapes(kernel, args, 4, shapes), TMIX_OK);
  std::vector<float> o(4 * 9 * 12), lse(4 * 9);
  int64_t wrong[3] = {1, 4, 8};
  tmix_tensor outputs[2] = {{o.data(), TMIX_F32, 4, shapes, nullptr, TMIX_DEVICE_CPU, 0},
                            {lse.data(), TMIX_F32, 3, wrong, nullptr, TMIX_DEVICE_CPU, 0}};
  EXPECT_EQ(tmix_kernel_launch(kernel, args, 4, outputs, 2, nullptr),
            TMIX_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tmix_last_error()).find("output 'lse' has shape [1, 4, 8]"),
            std::string::npos);
  outputs[1].device = TMIX_DEVICE_CUDA;
  EXPECT_EQ(tmix_kernel_launch(kernel, args, 4, outputs, 2, nullptr), TMIX_ERROR_TYPE);
  tmix_kernel_free(kernel);
  tmix_module_free(module);
}

/// A recurrence's derived backward through the C API: X_grad takes X's arguments and the
/// output's gradient and returns each float argument's gradient in the argument's shape:
/// the rate a [C], shared by the batch, summed over it by the library. Checked against
/// the adjoint written out here, into a strided output; on a GPU target it is refused
/// (a scalar state).
TEST(Library, RecurrenceBackwardReturnsArgumentShapedGradients) {
  constexpr char source[] = R"(
recurrence leaky(x: f32[B, C, T], a: f32[C]) -> y: f32[B, C, T] {
  state h: f32
  h = a * h + x[t]
  y[t] = h
})";
  constexpr int64_t B = 3, C = 2, T = 75; // T past one 64-step checkpoint span
  tmix_module *module = nullptr;
  ASSERT_EQ(tmix_compile(source, std::strlen(source), "leaky.tmix", &module), TMIX_OK);
  tmix_kernel *kernel = nullptr;
  EXPECT_EQ(tmix_module_kernel(module, "leaky_grad", "sm_80", &kernel), TMIX_ERROR_UNSUPPORTED);
  // A scalar state has no chunk form: its backward is the CPU's alone.
  EXPECT_NE(std::string(tmix_last_error()).find("it runs on the CPU only so far"),
            std::string::npos)
      << tmix_last_error();
  ASSERT_EQ(tmix_module_kernel(module, "leaky_grad", "cpu", &kernel), TMIX_OK) << tmix_last_error();
  ASSERT_EQ(tmix_kernel_num_outputs(kernel), 2u);
  tmix_param_info info;
  ASSERT_EQ(tmix_kernel_output_info(kernel, 1, &info), TMIX_OK);
  EXPECT_STREQ(info.name, "d_a");
  ASSERT_EQ(info.rank, 1);
  EXPECT_STREQ(info.dim_symbols[0], "C");

  std::mt19937 random(3);
  std::uniform_real_distribution<float> uniform(-1, 1);
  std::vector<float> x(B * C * T), dy(B * C * T), a = {0.8f, -0.6f};
  for (float &value : x)
    value = uniform(random);
  for (float &value : dy)
    value = uniform(random);
  int64_t xShape[] = {B, C, T}, aShape[] = {C};
  tmix_tensor xView = {x.data(), TMIX_F32, 3, xShape, nullptr, TMIX_DEVICE_CPU, 0};
  tmix_tensor aView = {a.data(), TMIX_F32, 1, aShape, nullptr, TMIX_DEVICE_CPU, 0};
  tmix_tensor dyView = {dy.data(), TMIX_F32, 3, xShape, nullptr, TMIX_DEVICE_CPU, 0};
  tmix_arg args[] = {{&xView, 0, 0}, {&aView, 0, 0}, {&dyView, 0, 0}};
  // d_x into every other float of a buffer twice its size: a strided output.
  std::vector<float> dx(2 * B * C * T, NAN), da(C, NAN);
  int64_t dxStrides[] = {2 * C * T, 2 * T, 1};
  int64_t daStrides[] = {1};
  tmix_tensor outputs[] = {{dx.data(), TMIX_F32, 3, xShape, dxStrides, TMIX_DEVICE_CPU, 0},
                           {da.data(), TMIX_F32, 1, aShape, daStrides, TMIX_DEVICE_CPU, 0}};
  ASSERT_EQ(tmix_kernel_launch(kernel, args, 3, outputs, 2, nullptr), TMIX_OK)
      << tmix_last_error();
  double worst = 0;
  std::vector<double> wantDa(C, 0.0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t c = 0; c < C; ++c) {
      std::vector<double> h(T + 1, 0.0);
      for (int64_t t = 0; t < T; ++t)
        h[t + 1] = a[c] * h[t] + x[(b * C + c) * T + t];
      double g = 0;
      for (int64_t t = T - 1; t >= 0; --t) {
        g += dy[(b * C + c) * T + t];
        worst = std::max(worst, std::fabs(dx[b * 2 * C * T + c * 2 * T + t] - g));
        wantDa[c] += g * h[t];
        g *= a[c];
      }
    }
  for (int64_t c = 0; c < C; ++c)
    worst = std::max(worst, std::fabs(da[c] - wantDa[c]) / (1 + std::fabs(wantDa[c])));
  EXPECT_LT(worst, 1e-4);
  // The output declared as the argument: d_a of the per-point shape [B, C] is refused.
  int64_t perPoint[] = {B, C};
  outputs[1] = {da.data(), TMIX_F32, 2, perPoint, nullptr, TMIX_DEVICE_CPU, 0};
  EXPECT_EQ(tmix_kernel_launch(kernel, args, 3, outputs, 2, nullptr),
            TMIX_ERROR_INVALID_ARGUMENT);
  tmix_kernel_free(kernel);
  tmix_module_free(module);
}

/// The C++ API (tmix.hpp): owners, output shapes, and errors as exceptions.
TEST(Library, CppApiOwnsHandlesAndThrows) {
  tmix::Module module = tmix::Module::compile(kSource, "windowed.tmix");
  EXPECT_EQ(module.names(), std::vector<std::string>{"windowed"});
  tmix::Kernel kernel = module.kernel("windowed");
  std::mt19937 random(3);
  Tensor q(1, 4, 21, 12, true, random), k(1, 2, 21, 12, false, random),
      v(1, 2, 21, 12, true, random);
  std::vector<tmix_arg> args = {tmix::arg(q.view), tmix::arg(k.view), tmix::arg(v.view),
                                tmix::scalar(4)};
  std::vector<std::vector<int64_t>> shapes = kernel.outputShapes(args);
  ASSERT_EQ(shapes.size(), 2u);
  EXPECT_EQ(shapes[1], (std::vector<int64_t>{1, 4, 21}));
  std::vector<float> o(4 * 21 * 12), lse(4 * 21);
  kernel.launch(args, {{o.data(), TMIX_F32, 4, shapes[0].data(), nullptr, TMIX_DEVICE_CPU, 0},
                       {lse.data(), TMIX_F32, 3, shapes[1].data(), nullptr, TMIX_DEVICE_CPU, 0}});
  EXPECT_LT(worstError(q, k, v, 4, o), 1e-5);
  try {
    module.kernel("missing");
    ADD_FAILURE() << "no exception";
  } catch (const tmix::Error &error) {
    EXPECT_EQ(error.status(), TMIX_ERROR_INVALID_ARGUMENT);
    EXPECT_NE(std::string(error.what()).find("no spec named 'missing'"), std::string::npos);
  }
  EXPECT_THROW(tmix::Module::compile("attention"), tmix::Error);
}

/// A spec the GPU kernels run (a literal head dim of 64).
constexpr char kGpuSource[] = R"(
attention causal64(q: f32[B, H, N, 64], k: f32[B, H, N, 64], v: f32[B, H, N, 64])
    -> o: f32[B, H, N, 64] {
  mask = j <= i
})";

/// GPU kernels through the same calls. Without a GPU (CI) the call is checked and the
/// kernel compiled to PTX up to the CUDA driver, which is missing; the launch on a real
/// device is test/python/cuda.test's.
TEST(Library, GpuKernelsCheckTheirCallsUpToTheDriver) {
  tmix_module *module = nullptr;
  ASSERT_EQ(tmix_compile(kGpuSource, std::strlen(kGpuSource), "gpu.tmix", &module), TMIX_OK);
  char device[256];
  int major = 0, minor = 0;
  bool hasDevice = tmix_cuda_device(device, sizeof device, &major, &minor) == 0;
  tmix_kernel *kernel = nullptr;
  if (!hasDevice) {
    EXPECT_EQ(tmix_module_kernel(module, "causal64", "cuda", &kernel), TMIX_ERROR_RUNTIME);
    EXPECT_NE(std::string(tmix_last_error()).find("target 'cuda': no CUDA device"),
              std::string::npos)
        << tmix_last_error();
  }
  ASSERT_EQ(tmix_module_kernel(module, "causal64", "sm_80", &kernel), TMIX_OK)
      << tmix_last_error();

  int64_t shape[] = {1, 2, 40, 64}, strided[] = {2 * 40 * 64, 64, 128, 1};
  alignas(16) static float host[2 * 40 * 64];
  tmix_tensor onHost = {host, TMIX_F32, 4, shape, nullptr, TMIX_DEVICE_CPU, 0};
  tmix_arg args[3] = {{&onHost, 0, 0}, {&onHost, 0, 0}, {&onHost, 0, 0}};
  EXPECT_EQ(tmix_kernel_launch(kernel, args, 3, &onHost, 1, nullptr), TMIX_ERROR_TYPE);
  EXPECT_STREQ(tmix_last_error(), "argument 'q' is on the CPU but the kernel was compiled "
                                  "for a CUDA device");
  // Device addresses are never dereferenced on the host: these are made up.
  tmix_tensor onDevice = {reinterpret_cast<void *>(uintptr_t(1) << 40), TMIX_F32, 4, shape,
                          nullptr, TMIX_DEVICE_CUDA, 0};
  tmix_tensor stridedView = onDevice;
  stridedView.strides = strided;
  tmix_arg deviceArgs[3] = {{&onDevice, 0, 0}, {&stridedView, 0, 0}, {&onDevice, 0, 0}};
  EXPECT_EQ(tmix_kernel_launch(kernel, deviceArgs, 3, &onDevice, 1, nullptr),
            TMIX_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(tmix_last_error()).find("'k' is not contiguous"), std::string::npos);
  tmix_tensor misaligned = onDevice;
  misaligned.data = reinterpret_cast<void *>((uintptr_t(1) << 40) + 4);
  deviceArgs[1].tensor = &misaligned;
  EXPECT_EQ(tmix_kernel_launch(kernel, deviceArgs, 3, &onDevice, 1, nullptr),
            TMIX_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(tmix_last_error()).find("16-byte aligned"), std::string::npos);
  deviceArgs[1].tensor = &onDevice;
  if (!hasDevice) {
    // Checked, compiled for sm_80, then refused by the missing driver.
    EXPECT_EQ(tmix_kernel_launch(kernel, deviceArgs, 3, &onDevice, 1, nullptr),
              TMIX_ERROR_RUNTIME);
    EXPECT_NE(std::string(tmix_last_error()).find("no CUDA device"), std::string::npos)
        << tmix_last_error();
  }
  tmix_kernel_free(kernel);
  tmix_module_free(module);
}

/// The GPU path end to end against the fake CUDA driver (device memory is host memory,
/// launches are recorded, not run): the target `cuda` follows the device's compute
/// capability, and a launch reaches cuLaunchKernel with the caller's tensors, sizes and
/// stream; a second length reuses the loaded kernel.
TEST(Library, GpuKernelsLaunchThroughTheCudaLoader) {
  tmix::rt::cuda::FakeCuda fake; // compute capability 9.0
  tmix_module *module = nullptr;
  ASSERT_EQ(tmix_compile(kGpuSource, std::strlen(kGpuSource), "gpu.tmix", &module), TMIX_OK);
  tmix_kernel *kernel = nullptr;
  ASSERT_EQ(tmix_module_kernel(module, "causal64", "cuda", &kernel), TMIX_OK)
      << tmix_last_error();
  tmix_kernel_free(kernel);
  fake.attributes[tmix::rt::cuda::kDeviceAttrComputeMajor] = 7;
  EXPECT_EQ(tmix_module_kernel(module, "causal64", "cuda", &kernel), TMIX_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(tmix_last_error()).find("compute capability 7.0"), std::string::npos)
      << tmix_last_error();
  ASSERT_EQ(tmix_module_kernel(module, "causal64", "sm_80", &kernel), TMIX_OK);

  // Four rank-4 descriptors (q, k, v, o) and the sizes descriptor.
  fake.paramWords = 4 * 11 + 5;
  const size_t sizesPointer = fake.paramWords - 4;
  alignas(16) static float q[2 * 50 * 64], k[2 * 50 * 64], v[2 * 50 * 64], o[2 * 50 * 64];
  void *stream = reinterpret_cast<void *>(uintptr_t(0x77));
  for (int64_t length : {40, 50}) {
    int64_t shape[] = {1, 2, length, 64};
    tmix_tensor tq = {q, TMIX_F32, 4, shape, nullptr, TMIX_DEVICE_CUDA, 0},
                tk = {k, TMIX_F32, 4, shape, nullptr, TMIX_DEVICE_CUDA, 0},
                tv = {v, TMIX_F32, 4, shape, nullptr, TMIX_DEVICE_CUDA, 0},
                to = {o, TMIX_F32, 4, shape, nullptr, TMIX_DEVICE_CUDA, 0};
    tmix_arg args[3] = {{&tq, 0, 0}, {&tk, 0, 0}, {&tv, 0, 0}};
    ASSERT_EQ(tmix_kernel_launch(kernel, args, 3, &to, 1, stream), TMIX_OK)
        << tmix_last_error();
    const tmix::rt::cuda::FakeCuda::Launch &launch = fake.launches.back();
    EXPECT_EQ(launch.stream, stream);
    EXPECT_EQ(launch.words[0], reinterpret_cast<uintptr_t>(q));
    EXPECT_EQ(launch.words[11], reinterpret_cast<uintptr_t>(k));
    EXPECT_EQ(launch.words[22], reinterpret_cast<uintptr_t>(v));
    EXPECT_EQ(launch.words[33], reinterpret_cast<uintptr_t>(o));
    EXPECT_EQ(launch.words[33 + 5], length); // o's size along N
    std::vector<int64_t> sizes =
        tmix::rt::cuda::FakeCuda::deviceWords(launch.words[sizesPointer], 3);
    std::sort(sizes.begin(), sizes.end());
    EXPECT_EQ(sizes, (std::vector<int64_t>{1, 2, length})) << "B, H, N in some order";
    fake.finishAll();
  }
  EXPECT_EQ(fake.launches.size(), 2u);
  EXPECT_EQ(fake.moduleLoads.size(), 1u); // one set of head dims: one kernel
  tmix_kernel_free(kernel);
  tmix_module_free(module);
}

/// A recurrence's backward on a GPU, against the fake CUDA driver: X_grad compiles for
/// sm_80 (the adjoint and the module's sum kernel), its callers give the gradients in
/// the arguments' shapes (A's and Dskip's [H], Bm's and Cm's [B, T, N], shared by the
/// heads), and a launch is the adjoint, then a sum per shared gradient into the
/// caller's tensor, on the caller's stream.
TEST(Library, GpuRecurrenceBackwardSumsSharedGradientsOnTheDevice) {
  constexpr char source[] = R"(
recurrence ssd(x: f32[B, H, T, P], dt: f32[B, H, T], A: f32[H], Bm: f32[B, T, N],
               Cm: f32[B, T, N], Dskip: f32[H]) -> y: f32[B, H, T, P] {
  state S: f32[N, P]
  S = exp(dt[t] * A) * S + outer(Bm[t], dt[t] * x[t])
  y[t] = Cm[t] @ S + Dskip * x[t]
})";
  tmix::rt::cuda::FakeCuda fake;
  fake.paramWordsOf["tmix_gradient_sum"] = 15; // three rank-1 descriptors
  tmix_module *module = nullptr;
  ASSERT_EQ(tmix_compile(source, std::strlen(source), "ssd.tmix", &module), TMIX_OK);
  tmix_kernel *kernel = nullptr;
  ASSERT_EQ(tmix_module_kernel(module, "ssd_grad", "sm_80", &kernel), TMIX_OK)
      << tmix_last_error();
  constexpr int64_t B = 2, H = 3, T = 70, P = 64, N = 64;
  static std::vector<float> memory(1 << 22);
  float *next = memory.data();
  std::vector<std::vector<int64_t>> shapes;
  shapes.reserve(16);
  auto tensor = [&](std::vector<int64_t> shape) {
    int64_t elements = 1;
    for (int64_t size : shape)
      elements *= size;
    shapes.push_back(std::move(shape));
    tmix_tensor view = {next,
                        TMIX_F32,
                        static_cast<int>(shapes.back().size()),
                        shapes.back().data(),
                        nullptr,
                        TMIX_DEVICE_CUDA,
                        0};
    next += (elements + 3) / 4 * 4;
    return view;
  };
  std::vector<tmix_tensor> inputs = {tensor({B, H, T, P}), tensor({B, H, T}), tensor({H}),
                                     tensor({B, T, N}),    tensor({B, T, N}), tensor({H}),
                                     tensor({B, H, T, P})};
  std::vector<tmix_arg> args;
  for (tmix_tensor &input : inputs)
    args.push_back({&input, 0, 0});
  // Each output in its argument's shape, by name.
  std::map<std::string, std::vector<int64_t>> wanted = {
      {"d_x", {B, H, T, P}}, {"d_dt", {B, H, T}}, {"d_A", {H}},
      {"d_Bm", {B, T, N}},   {"d_Cm", {B, T, N}}, {"d_Dskip", {H}}};
  ASSERT_EQ(tmix_kernel_num_outputs(kernel), wanted.size());
  std::vector<tmix_tensor> outputs;
  std::map<std::string, size_t> outputOf;
  for (size_t index = 0; index < wanted.size(); ++index) {
    tmix_param_info info;
    ASSERT_EQ(tmix_kernel_output_info(kernel, index, &info), TMIX_OK);
    ASSERT_EQ(wanted.count(info.name), 1u) << info.name;
    ASSERT_EQ(static_cast<size_t>(info.rank), wanted[info.name].size()) << info.name;
    outputOf[info.name] = index;
    outputs.push_back(tensor(wanted[info.name]));
  }
  void *stream = reinterpret_cast<void *>(uintptr_t(0x78));
  ASSERT_EQ(tmix_kernel_launch(kernel, args.data(), args.size(), outputs.data(),
                               outputs.size(), stream),
            TMIX_OK)
      << tmix_last_error();
  // The adjoint, then a sum for each of A, Bm, Cm and Dskip (x's and dt's gradients
  // are the adjoint's own).
  ASSERT_EQ(fake.launches.size(), 5u);
  EXPECT_EQ(fake.launches[0].function, "ssd_grad");
  struct Sum {
    uint64_t partialElements, count;
  };
  std::map<uintptr_t, Sum> sums = {
      {reinterpret_cast<uintptr_t>(outputs[outputOf["d_A"]].data), {B * H, H}},
      {reinterpret_cast<uintptr_t>(outputs[outputOf["d_Bm"]].data),
       {B * H * T * N, B * T * N}},
      {reinterpret_cast<uintptr_t>(outputs[outputOf["d_Cm"]].data),
       {B * H * T * N, B * T * N}},
      {reinterpret_cast<uintptr_t>(outputs[outputOf["d_Dskip"]].data), {B * H, H}}};
  std::set<uint64_t> partials, gradients;
  for (size_t index = 1; index < fake.launches.size(); ++index) {
    const tmix::rt::cuda::FakeCuda::Launch &launch = fake.launches[index];
    EXPECT_EQ(launch.function, "tmix_gradient_sum");
    EXPECT_EQ(launch.stream, stream);
    ASSERT_EQ(sums.count(launch.words[5]), 1u) << "a sum into no output";
    const Sum &sum = sums[launch.words[5]];
    EXPECT_EQ(launch.grid[0], (sum.count + 127) / 128);
    EXPECT_EQ(launch.words[3], sum.partialElements);
    EXPECT_EQ(launch.words[8], sum.count);
    partials.insert(launch.words[0]);
    gradients.insert(launch.words[5]);
  }
  EXPECT_EQ(partials.size(), 4u); // a buffer each
  EXPECT_EQ(gradients.size(), 4u);
  // A's gradient in its per-point shape is refused.
  int64_t perPoint[] = {B, H};
  outputs[outputOf["d_A"]].rank = 2;
  outputs[outputOf["d_A"]].shape = perPoint;
  EXPECT_EQ(tmix_kernel_launch(kernel, args.data(), args.size(), outputs.data(),
                               outputs.size(), stream),
            TMIX_ERROR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(tmix_last_error()).find("'d_A'"), std::string::npos)
      << tmix_last_error();
  tmix_kernel_free(kernel);
  tmix_module_free(module);
}

/// 16 threads at once: half compile the source themselves, half share one module; each
/// takes the kernel (one compile in all: the cache is the process's), launches it on its
/// own sizes, strided or not, and checks its outputs.
TEST(Library, SixteenThreadsCompileAndLaunch) {
  constexpr int kThreads = 16;
  tmix_module *shared = nullptr;
  ASSERT_EQ(tmix_compile(kSource, std::strlen(kSource), "shared.tmix", &shared), TMIX_OK);
  std::vector<std::string> errors(kThreads);
  std::vector<double> worst(kThreads, INFINITY);
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread)
    threads.emplace_back([&, thread] {
      tmix_module *module = shared;
      if (thread % 2 &&
          tmix_compile(kSource, std::strlen(kSource), "own.tmix", &module) != TMIX_OK) {
        errors[thread] = tmix_last_error();
        return;
      }
      tmix_kernel *kernel = nullptr;
      if (tmix_module_kernel(module, "windowed", "cpu", &kernel) != TMIX_OK)
        errors[thread] = tmix_last_error();
      else
        for (int round = 0; round < 3 && errors[thread].empty(); ++round)
          errors[thread] = runOnce(kernel, 11 + 5 * thread + round, (thread + round) % 2,
                                   2 + thread % 7, 100 * thread + round, worst[thread]);
      tmix_kernel_free(kernel);
      if (module != shared)
        tmix_module_free(module);
    });
  for (std::thread &thread : threads)
    thread.join();
  for (int thread = 0; thread < kThreads; ++thread) {
    EXPECT_EQ(errors[thread], "") << "thread " << thread;
    EXPECT_LT(worst[thread], 1e-5) << "thread " << thread;
  }
  tmix_module_free(shared);
}

} // namespace
