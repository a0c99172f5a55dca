// AVX-512F ridge kernel: 8 doubles per register, so one register holds a row's 8 ways.
// Compiled with -mavx512f only; selected at run time when the CPU and the OS (XCR0
// opmask + ZMM state) support it.
#include <immintrin.h>

#include <cstdint>

#include "l2loss/ridge_kernel.hpp"

namespace l2loss::avx512 {
namespace {

struct V {
  using reg = __m512d;
  static constexpr int kLanes = 8;
  static constexpr int kGradTile = 4;  // 4 x 8 columns: 8 expansion registers of 32
  static constexpr int kColTile = 2;   // column-major: 2 x 8 ways of row vectors in registers
  static reg zero() { return _mm512_setzero_pd(); }
  static reg set1(double x) { return _mm512_set1_pd(x); }
  static reg add(reg a, reg b) { return _mm512_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm512_sub_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm512_mul_pd(a, b); }
  static __mmask8 first(int n) { return static_cast<__mmask8>((1u << n) - 1u); }
  static reg load(const double* p) { return _mm512_loadu_pd(p); }
  static reg load(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
  // Masked loads never touch (nor fault on) the lanes left out.
  static reg load_first(const double* p, int n) { return _mm512_maskz_loadu_pd(first(n), p); }
  static reg load_first(const float* p, int n) {
    return _mm512_cvtps_pd(_mm512_castps512_ps256(_mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << n) - 1u), p)));
  }
  static reg keep_first(reg a, int n) { return _mm512_maskz_mov_pd(first(n), a); }
  static void store(double* p, reg a) { _mm512_storeu_pd(p, a); }
  static reg bit_or(reg a, reg b) {
    return _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(a), _mm512_castpd_si512(b)));
  }
  static bool any(reg a) {  // any bit set (so -0.0 and NaN count: both go to the cold path)
    const __m512i i = _mm512_castpd_si512(a);
    return _mm512_test_epi64_mask(i, i) != 0;
  }
  // acc[i] holds the 8 ways of row i; returns lane i = ((w0+w1)+(w2+w3))+((w4+w5)+(w6+w7)).
  static reg row_trees(const reg* acc) {
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    const __m512i odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    auto pair = [&](reg a, reg b) {  // [a01 a23 a45 a67 b01 b23 b45 b67] etc.
      return _mm512_add_pd(_mm512_permutex2var_pd(a, even, b), _mm512_permutex2var_pd(a, odd, b));
    };
    const reg p01 = pair(acc[0], acc[1]), p23 = pair(acc[2], acc[3]);
    const reg p45 = pair(acc[4], acc[5]), p67 = pair(acc[6], acc[7]);
    const reg q0 = pair(p01, p23), q1 = pair(p45, p67);  // [r0:0123 r0:4567 r1:0123 ...]
    return pair(q0, q1);
  }
};

#include "ridge_body.inc"

}  // namespace

void ridge_block(const RidgeBlock& blk, RidgeSums& s) {
  blk.x_dtype == DType::kFloat32 ? ridge_block_for<float>(blk, s) : ridge_block_for<double>(blk, s);
}

}  // namespace l2loss::avx512
