// AVX2 + FMA kernels (4 doubles per vector). Compiled with -mavx2 -mfma -mf16c only; selected
// at run time when the CPU and the OS (XCR0) support it.
#include <immintrin.h>

#include <cstdint>

#include "l2loss/element_types.hpp"
#include "l2loss/kernel_abi.hpp"

namespace l2loss::avx2 {
namespace {

struct V {
  using reg = __m256d;
  static constexpr int kLanes = 4;
  static reg zero() { return _mm256_setzero_pd(); }
  static reg set1(double x) { return _mm256_set1_pd(x); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_pd(a, b); }
  static reg min(reg a, reg b) { return _mm256_min_pd(a, b); }
  static reg abs(reg a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
  static reg fmsub(reg a, reg b, reg c) { return _mm256_fmsub_pd(a, b, c); }
  static reg load(const double* p) { return _mm256_loadu_pd(p); }
  static reg load(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
  static reg load(const Half* p) {  // F16C: 4 halves -> 4 floats -> 4 doubles, exact
    return _mm256_cvtps_pd(_mm_cvtph_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static reg gather(const Half* p, int64_t s) {
    const char* c = reinterpret_cast<const char*>(p);
    uint16_t h[4];
    for (int l = 0; l < 4; ++l) __builtin_memcpy(&h[l], c + l * s, 2);
    return load(reinterpret_cast<const Half*>(h));
  }
  static reg load(const BFloat16* p) {  // 4 x 16 bits -> the top halves of 4 floats -> 4 doubles
    const __m128i w = _mm_cvtepu16_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    return _mm256_cvtps_pd(_mm_castsi128_ps(_mm_slli_epi32(w, 16)));
  }
  static reg gather(const BFloat16* p, int64_t s) {
    const char* c = reinterpret_cast<const char*>(p);
    uint16_t h[4];
    for (int l = 0; l < 4; ++l) __builtin_memcpy(&h[l], c + l * s, 2);
    return load(reinterpret_cast<const BFloat16*>(h));
  }
  static __m256i offsets(int64_t s) { return _mm256_setr_epi64x(0, s, 2 * s, 3 * s); }
  static reg gather(const double* p, int64_t s) { return _mm256_i64gather_pd(p, offsets(s), 1); }
  static reg gather(const float* p, int64_t s) { return _mm256_cvtps_pd(_mm256_i64gather_ps(p, offsets(s), 1)); }
  static void store(double* p, reg a) { _mm256_storeu_pd(p, a); }
  static void store_as(double* p, reg a) { _mm256_storeu_pd(p, a); }
  static void store_as(float* p, reg a) { _mm_storeu_ps(p, _mm256_cvtpd_ps(a)); }
  // Non-temporal stores; p must be aligned to the store width (32 / 16 bytes).
  static void stream_as(double* p, reg a) { _mm256_stream_pd(p, a); }
  static void stream_as(float* p, reg a) { _mm_stream_ps(p, _mm256_cvtpd_ps(a)); }
  static void stream_fence() { _mm_sfence(); }
  static unsigned exceeds_mask(reg a, reg b) {  // !(a <= b): a > b, or a is NaN
    return static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_NLE_UQ)));
  }
  static unsigned gt_mask(reg a, reg b) { return static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(a, b, _CMP_GT_OQ))); }
  // See the AVX-512 version: lanes whose square leaves the exact vector path's range.
  static unsigned square_out_of_range(reg s, reg sq) {
    const reg nz = _mm256_cmp_pd(s, _mm256_setzero_pd(), _CMP_NEQ_UQ);
    const reg tiny = _mm256_and_pd(nz, _mm256_cmp_pd(sq, _mm256_set1_pd(0x1p-800), _CMP_LT_OQ));
    return static_cast<unsigned>(_mm256_movemask_pd(_mm256_or_pd(tiny, _mm256_cmp_pd(sq, _mm256_set1_pd(0x1p1022), _CMP_NLE_UQ))));
  }
  static reg merge_nonzero(reg a, reg b) { return _mm256_or_pd(a, b); }  // nonzero iff in a or b
  static bool any_nonzero(reg a, reg b) {  // -0.0 counts as nonzero: harmless (spill skips it)
    const __m256i x = _mm256_castpd_si256(_mm256_or_pd(a, b));
    return !_mm256_testz_si256(x, x);
  }
  static unsigned nonzero_mask(reg a) {
    return static_cast<unsigned>(_mm256_movemask_pd(_mm256_cmp_pd(a, _mm256_setzero_pd(), _CMP_NEQ_UQ)));
  }
};

#include "kernel_body.inc"

}  // namespace

void column_kernel(const ColumnTask& t, const KernelConfig& cfg, ColumnState& st) {
  pick_kernel(cfg)(t, cfg, st);
}

void packed_kernel(const PackedTask& t, const KernelConfig& cfg, PackedState& st) { pick_packed(cfg)(t, cfg, st); }

extern const int kPackedLanes = V::kLanes;  // data, not code: read by baseline code before any ISA check

}  // namespace l2loss::avx2
