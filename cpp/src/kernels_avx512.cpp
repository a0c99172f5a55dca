// AVX-512F kernels (8 doubles per vector). Compiled with -mavx512f -mf16c only; selected at run
// time when the CPU and the OS (XCR0 opmask + ZMM state) support it.
#include <immintrin.h>

#include <cstdint>

#include "l2loss/element_types.hpp"
#include "l2loss/kernel_abi.hpp"

namespace l2loss::avx512 {
namespace {

struct V {
  using reg = __m512d;
  static constexpr int kLanes = 8;
  static reg zero() { return _mm512_setzero_pd(); }
  static reg set1(double x) { return _mm512_set1_pd(x); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static reg max(reg a, reg b) { return _mm512_max_pd(a, b); }
  static reg min(reg a, reg b) { return _mm512_min_pd(a, b); }
  static reg abs(reg a) { return _mm512_abs_pd(a); }
  static reg fmsub(reg a, reg b, reg c) { return _mm512_fmsub_pd(a, b, c); }
  static reg load(const double* p) { return _mm512_loadu_pd(p); }
  static reg load(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
  static reg load(const Half* p) {  // F16C: 8 halves -> 8 floats -> 8 doubles, exact
    return _mm512_cvtps_pd(_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static reg gather(const Half* p, int64_t s) {
    const char* c = reinterpret_cast<const char*>(p);
    uint16_t h[8];
    for (int l = 0; l < 8; ++l) __builtin_memcpy(&h[l], c + l * s, 2);
    return load(reinterpret_cast<const Half*>(h));
  }
  static reg load(const BFloat16* p) {  // 8 x 16 bits -> the top halves of 8 floats -> 8 doubles
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm512_cvtps_pd(_mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  static reg gather(const BFloat16* p, int64_t s) {
    const char* c = reinterpret_cast<const char*>(p);
    uint16_t h[8];
    for (int l = 0; l < 8; ++l) __builtin_memcpy(&h[l], c + l * s, 2);
    return load(reinterpret_cast<const BFloat16*>(h));
  }
  static __m512i offsets(int64_t s) { return _mm512_setr_epi64(0, s, 2 * s, 3 * s, 4 * s, 5 * s, 6 * s, 7 * s); }
  static reg gather(const double* p, int64_t s) { return _mm512_i64gather_pd(offsets(s), p, 1); }
  static reg gather(const float* p, int64_t s) { return _mm512_cvtps_pd(_mm512_i64gather_ps(offsets(s), p, 1)); }
  static void store(double* p, reg a) { _mm512_storeu_pd(p, a); }
  static void store_as(double* p, reg a) { _mm512_storeu_pd(p, a); }
  static void store_as(float* p, reg a) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(a)); }
  // Non-temporal stores; p must be aligned to the store width (64 / 32 bytes).
  static void stream_as(double* p, reg a) { _mm512_stream_pd(p, a); }
  static void stream_as(float* p, reg a) { _mm256_stream_ps(p, _mm512_cvtpd_ps(a)); }
  static void stream_fence() { _mm_sfence(); }
  static unsigned exceeds_mask(reg a, reg b) {  // !(a <= b): a > b, or a is NaN
    return static_cast<unsigned>(_mm512_cmp_pd_mask(a, b, _CMP_NLE_UQ));
  }
  static unsigned gt_mask(reg a, reg b) { return static_cast<unsigned>(_mm512_cmp_pd_mask(a, b, _CMP_GT_OQ)); }
  // Lanes whose square sq = fl(s*s) leaves the exact vector path's range: sq > 2^1022 or
  // NaN (|s| > 2^511, overflow or non-finite input), or s != 0 with sq < 2^-800 (|s| below
  // ~2^-400: the FMA remainder could underflow).
  static unsigned square_out_of_range(reg s, reg sq) {
    const __mmask8 nz = _mm512_cmp_pd_mask(s, _mm512_setzero_pd(), _CMP_NEQ_UQ);
    const __mmask8 tiny = _mm512_mask_cmp_pd_mask(nz, sq, _mm512_set1_pd(0x1p-800), _CMP_LT_OQ);
    return static_cast<unsigned>(tiny | _mm512_cmp_pd_mask(sq, _mm512_set1_pd(0x1p1022), _CMP_NLE_UQ));
  }
  static reg merge_nonzero(reg a, reg b) {  // a lane is nonzero iff it is in a or in b
    return _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(a), _mm512_castpd_si512(b)));
  }
  static bool any_nonzero(reg a, reg b) {  // -0.0 counts as nonzero: harmless (spill skips it)
    const __m512i x = _mm512_or_si512(_mm512_castpd_si512(a), _mm512_castpd_si512(b));
    return _mm512_test_epi64_mask(x, x) != 0;
  }
  static unsigned nonzero_mask(reg a) {
    return static_cast<unsigned>(_mm512_cmp_pd_mask(a, _mm512_setzero_pd(), _CMP_NEQ_UQ));
  }
};

#include "kernel_body.inc"

}  // namespace

void column_kernel(const ColumnTask& t, const KernelConfig& cfg, ColumnState& st) {
  pick_kernel(cfg)(t, cfg, st);
}

void packed_kernel(const PackedTask& t, const KernelConfig& cfg, PackedState& st) { pick_packed(cfg)(t, cfg, st); }

extern const int kPackedLanes = V::kLanes;  // data, not code: read by baseline code before any ISA check

}  // namespace l2loss::avx512
