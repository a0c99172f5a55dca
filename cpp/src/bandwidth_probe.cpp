// The physical yardstick for benchmarks: a plain fused read of two float arrays with
// OpenMP, summing (a - b)^2 in naive double lanes. No exactness, no reproducibility:
// the fastest a squared-error reduction could possibly stream on this machine.
// Compiled for the baseline and (bandwidth_probe_avx2.cpp) for AVX2, so that its float32
// conversion never makes it compute-bound; exposed to Python as a benchmark helper only.
#include "l2loss/bandwidth_probe.hpp"

#include <algorithm>

#include "l2loss/dispatch.hpp"
#include "parallel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace l2loss {
namespace probe_scalar {
#include "bandwidth_probe.inc"
}  // namespace probe_scalar

#ifdef L2LOSS_HAVE_AVX2_KERNELS
namespace probe_avx2 {
double run(const double* a, const double* b, int64_t n, int threads);
double run(const float* a, const float* b, int64_t n, int threads);
}  // namespace probe_avx2
#endif

template <class T>
double probe(const T* a, const T* b, int64_t n, int requested) {
  const int threads = threads_for_call(requested, n, 1);  // the metrics' cap (parallel.hpp)
#ifdef L2LOSS_HAVE_AVX2_KERNELS
  if (isa_supported(Isa::kAvx2)) return probe_avx2::run(a, b, n, threads);
#endif
  return probe_scalar::bandwidth_probe_t(a, b, n, threads);
}

double bandwidth_probe(const double* a, const double* b, int64_t n, int threads) { return probe(a, b, n, threads); }
double bandwidth_probe(const float* a, const float* b, int64_t n, int threads) { return probe(a, b, n, threads); }

}  // namespace l2loss
