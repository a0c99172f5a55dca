// Exact target moments: sum w*y and sum w*y^2 (R^2's and explained variance's denominator)
// for rows whose fast-kernel terms cannot be exact.
//
// The fast kernels split w*y and w*y^2 into rounded products and their FMA remainders.
// That is exact unless a product overflows (y*y beyond DBL_MAX: |y| > ~1.3e154) or a
// remainder underflows (bits below 2^-1074: |y| below ~1e-146, or tiny weights), and
// both can only happen when y or w is tiny (nonzero, below 2^-300) or a term is not
// finite. The engine therefore checks, while the data of each row block is still in
// cache, whether a float64 target or weight is tiny (<isa>::has_tiny_float64); non-finite
// terms are reported by the fast pass anyway. Only then does it rerun the two sums
// (target_moments_rows): rows that need it get terms computed exactly as integers
// (53 x 53 x 53-bit products), every other row gets exactly the fast kernels' terms.
//
// Bitwise reproducibility: which terms a row gets depends on that row alone
// (row_needs_exact_target_terms), so a state is the same integers whatever the chunking,
// the thread count, the ISA, and whether or not the rerun ran for a given chunk (a chunk
// without such rows has the same terms in both passes).
//
// Plain declarations only: included by the ISA scan files (STYLE.md rule 2).
#pragma once

#include <cstdint>

#include "l2loss/kernel_abi.hpp"

namespace l2loss {

// Where the exact terms go. An exact product may lie outside the superaccumulator's
// range (2^-1074 .. 2^1024 per added piece), so its parts are stored scaled by
// 2^(kTargetScaleStep * m) in their own accumulators. Passes that sum y are never
// exact=True passes (that one is alone in its pass), so they reuse the five accumulators
// exact=True keeps for its squares:
//   sum w*y    (|terms| in 2^-2148 .. 2^2048): m = -1, 0 (kAccY, kAccYLo), +1
//   sum w*y^2  (|terms| in 2^-3222 .. 2^3072): m = -2, -1, 0 (kAccY2, kAccY2Lo, kAccY2Lo2), +1
constexpr int kTargetScaleStep = 2048;
constexpr int kAccYScaledM1 = kAccScaledM1;
constexpr int kAccYScaledP1 = kAccScaledP1;
constexpr int kAccY2ScaledM2 = kAccScaledM2;
constexpr int kAccY2ScaledM1 = kAccSqLo3;
constexpr int kAccY2ScaledP1 = kAccScaledP2;

// Targets and weights whose magnitude is zero or in [2^-300, 2^300] make every fast term
// exact unless the term overflows. float32 / float16 values always are.
constexpr double kTinyTarget = 0x1p-300;

// True when some value of the float64 sequence p[0], p[stride], ... (n values, any
// stride, unaligned) is nonzero with |v| < kTinyTarget. NaN counts as not tiny.
namespace scalar {
bool has_tiny_float64(const char* p, int64_t stride, int64_t n);
}
namespace avx2 {
bool has_tiny_float64(const char* p, int64_t stride, int64_t n);
}
namespace avx512 {
bool has_tiny_float64(const char* p, int64_t stride, int64_t n);
}

// The rerun for rows [0, t.count) of one column: adds sum w*y (cfg.sums & kSumY) and
// sum w*y^2 (cfg.sums & kSumY2) into st.acc / st.term_flags. cfg.sums must hold nothing
// else, cfg.sum_weights must be false.
void target_moments_rows(const ColumnTask& t, const KernelConfig& cfg, CarefulState& st);

}  // namespace l2loss
