// The tiny-target scan (see target_moments.hpp) with AVX-512F: 8 doubles per compare.
// Compiled with -mavx512f only; used when the active kernel ISA is AVX-512.
#include <immintrin.h>

#include <cstdint>

#include "l2loss/target_moments.hpp"

namespace l2loss::avx512 {
namespace {

constexpr int64_t kScanStep = 32;

bool tiny_contiguous(const char* p, int64_t n) {
  const __m512d tiny = _mm512_set1_pd(kTinyTarget), zero = _mm512_setzero_pd();
  for (int64_t i = 0; i + kScanStep <= n;) {
    // Checked a few vectors at a time so that a tiny value ends the scan early.
    __mmask8 hit = 0;
    const int64_t end = n - i >= 64 * kScanStep ? i + 64 * kScanStep : n - n % kScanStep;
    for (; i < end; i += kScanStep) {
      for (int u = 0; u < 4; ++u) {
        const __m512d a = _mm512_abs_pd(_mm512_loadu_pd(reinterpret_cast<const double*>(p) + i + 8 * u));
        hit |= _mm512_mask_cmp_pd_mask(_mm512_cmp_pd_mask(a, tiny, _CMP_LT_OQ), a, zero, _CMP_NEQ_OQ);
      }
    }
    if (hit != 0) return true;
  }
  return false;
}

#include "target_scan.inc"

}  // namespace

bool has_tiny_float64(const char* p, int64_t stride, int64_t n) { return has_tiny(p, stride, n); }

}  // namespace l2loss::avx512
