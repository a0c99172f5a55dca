// The bandwidth probe compiled with -mavx2 (see bandwidth_probe.cpp).
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace l2loss::probe_avx2 {
namespace {
#include "bandwidth_probe.inc"
}  // namespace
double run(const double* a, const double* b, int64_t n, int threads) { return bandwidth_probe_t(a, b, n, threads); }
double run(const float* a, const float* b, int64_t n, int threads) { return bandwidth_probe_t(a, b, n, threads); }
}  // namespace l2loss::probe_avx2
