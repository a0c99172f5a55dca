// The tiny-target scan (see target_moments.hpp) with AVX2: 4 doubles per compare.
// Compiled with -mavx2 only; used when the active kernel ISA is AVX2.
#include <immintrin.h>

#include <cstdint>

#include "l2loss/target_moments.hpp"

namespace l2loss::avx2 {
namespace {

constexpr int64_t kScanStep = 16;

bool tiny_contiguous(const char* p, int64_t n) {
  const __m256d sign = _mm256_set1_pd(-0.0), tiny = _mm256_set1_pd(kTinyTarget), zero = _mm256_setzero_pd();
  for (int64_t i = 0; i + kScanStep <= n;) {
    // Checked a few vectors at a time so that a tiny value ends the scan early.
    __m256d hit = zero;
    const int64_t end = n - i >= 64 * kScanStep ? i + 64 * kScanStep : n - n % kScanStep;
    for (; i < end; i += kScanStep) {
      for (int u = 0; u < 4; ++u) {
        const __m256d a = _mm256_andnot_pd(sign, _mm256_loadu_pd(reinterpret_cast<const double*>(p) + i + 4 * u));
        hit = _mm256_or_pd(hit, _mm256_and_pd(_mm256_cmp_pd(a, tiny, _CMP_LT_OQ), _mm256_cmp_pd(a, zero, _CMP_NEQ_OQ)));
      }
    }
    if (_mm256_movemask_pd(hit) != 0) return true;
  }
  return false;
}

#include "target_scan.inc"

}  // namespace

bool has_tiny_float64(const char* p, int64_t stride, int64_t n) { return has_tiny(p, stride, n); }

}  // namespace l2loss::avx2
