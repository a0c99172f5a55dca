// AVX2 ridge kernel: 4 doubles per register, so a row's 8 ways take two registers.
// Compiled with -mavx2 -mfma (no FMA is used: contraction is off, see CMakeLists.txt);
// selected at run time when the CPU and the OS (XCR0) support it.
#include <immintrin.h>

#include <cstdint>

#include "l2loss/ridge_kernel.hpp"

namespace l2loss::avx2 {
namespace {

struct V {
  using reg = __m256d;
  static constexpr int kLanes = 4;
  static constexpr int kGradTile = 4;  // 4 x 4 columns: 8 expansion registers of 16 (measured ~3% faster than 2)
  static constexpr int kColTile = 1;   // column-major: 8 ways of a row vector in registers
  static reg zero() { return _mm256_setzero_pd(); }
  static reg set1(double x) { return _mm256_set1_pd(x); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static __m256i first64(int n) { return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3)); }
  static reg load(const double* p) { return _mm256_loadu_pd(p); }
  static reg load(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
  // Masked loads never touch (nor fault on) the lanes left out.
  static reg load_first(const double* p, int n) { return _mm256_maskload_pd(p, first64(n)); }
  static reg load_first(const float* p, int n) {
    const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32(n), _mm_setr_epi32(0, 1, 2, 3));
    return _mm256_cvtps_pd(_mm_maskload_ps(p, m));
  }
  static reg keep_first(reg a, int n) { return _mm256_and_pd(a, _mm256_castsi256_pd(first64(n))); }
  static void store(double* p, reg a) { _mm256_storeu_pd(p, a); }
  static reg bit_or(reg a, reg b) { return _mm256_or_pd(a, b); }
  static bool any(reg a) {  // any bit set (so -0.0 and NaN count: both go to the cold path)
    const __m256i i = _mm256_castpd_si256(a);
    return !_mm256_testz_si256(i, i);
  }
  // acc[2 i] holds ways 0-3 of row i, acc[2 i + 1] ways 4-7; returns lane i =
  // ((w0+w1)+(w2+w3))+((w4+w5)+(w6+w7)) for rows 0..3.
  static reg row_trees(const reg* acc) {
    // hadd(a, b) = [a0+a1, b0+b1, a2+a3, b2+b3]
    const reg lo01 = _mm256_hadd_pd(acc[0], acc[2]), lo23 = _mm256_hadd_pd(acc[4], acc[6]);
    const reg hi01 = _mm256_hadd_pd(acc[1], acc[3]), hi23 = _mm256_hadd_pd(acc[5], acc[7]);
    // [r0:01 r1:01 r2:01 r3:01] + [r0:23 r1:23 r2:23 r3:23], and the same for ways 4-7
    const reg lo = _mm256_add_pd(_mm256_permute2f128_pd(lo01, lo23, 0x20), _mm256_permute2f128_pd(lo01, lo23, 0x31));
    const reg hi = _mm256_add_pd(_mm256_permute2f128_pd(hi01, hi23, 0x20), _mm256_permute2f128_pd(hi01, hi23, 0x31));
    return _mm256_add_pd(lo, hi);
  }
};

#include "ridge_body.inc"

}  // namespace

void ridge_block(const RidgeBlock& blk, RidgeSums& s) {
  blk.x_dtype == DType::kFloat32 ? ridge_block_for<float>(blk, s) : ridge_block_for<double>(blk, s);
}

}  // namespace l2loss::avx2
