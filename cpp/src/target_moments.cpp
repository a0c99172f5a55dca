// Exact target moments (see target_moments.hpp): the baseline tiny-value scan, and the
// rerun of sum w*y and sum w*y^2 with exact integer terms for the rows that need them.
#include "l2loss/target_moments.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "l2loss/element_types.hpp"

namespace l2loss {

namespace scalar {
namespace {

constexpr int64_t kScanStep = 1;

bool tiny_contiguous(const char* p, int64_t n) {
  for (int64_t i = 0; i < n; i += 256) {
    // Blocks without an early exit inside, so that the compiler may vectorise them.
    const int64_t end = n - i < 256 ? n : i + 256;
    bool hit = false;
    for (int64_t k = i; k < end; ++k) {
      double v;
      std::memcpy(&v, p + 8 * k, sizeof v);
      const double a = std::fabs(v);
      hit |= (a < kTinyTarget) & (a != 0.0);
    }
    if (hit) return true;
  }
  return false;
}

#include "target_scan.inc"

}  // namespace

bool has_tiny_float64(const char* p, int64_t stride, int64_t n) { return has_tiny(p, stride, n); }

}  // namespace scalar

namespace {

using u128 = unsigned __int128;

// |x| = mant * 2^exp exactly, mant < 2^53 (x finite).
struct Parts {
  uint64_t mant;
  int exp;
  bool neg;
};

Parts split(double x) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  const int biased = static_cast<int>((bits >> 52) & 0x7FF);
  Parts r{bits & ((uint64_t{1} << 52) - 1), -1074, (bits >> 63) != 0};
  if (biased != 0) {
    r.mant |= uint64_t{1} << 52;
    r.exp = biased - 1075;
  }
  return r;
}

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Accumulators of one sum by scale: slot[m - m_lo] holds the parts scaled by
// 2^(-kTargetScaleStep * m).
struct ScaledSum {
  int m_lo;
  int count;
  int slot[4];
};
constexpr ScaledSum kSumYSlots{-1, 3, {kAccYScaledM1, kAccY, kAccYScaledP1, -1}};
constexpr ScaledSum kSumY2Slots{-2, 4, {kAccY2ScaledM2, kAccY2ScaledM1, kAccY2, kAccY2ScaledP1}};

// Adds (-1)^neg * N * 2^e exactly, N given as 64-bit limbs (little-endian). Each non-zero
// 32-bit digit of N goes whole into the accumulator whose scale holds it: a digit spans
// at most 32 bits, the scales overlap by 50, so one always fits. Accumulator chunk j of
// scale m weighs 2^(32 j - 1074 + 2048 m); a digit adds < 2^32 to two adjacent chunks.
void add_exact(CarefulState& st, const ScaledSum& sum, const uint64_t* limbs, int n_limbs, int e, bool neg) {
  for (int k = 0; k < 2 * n_limbs; ++k) {
    auto d = static_cast<uint32_t>(limbs[k / 2] >> (32 * (k % 2)));
    if (d == 0) continue;
    const int tz = __builtin_ctz(d);
    d >>= tz;
    const int low = e + 32 * k + tz;                // weight of the digit's lowest bit
    const int top = low + 31 - __builtin_clz(d);   // ... and of its highest
    // The smallest scale whose range (2^(2048 m - 1074) .. 2^(2048 m + 1023)) reaches
    // `top`; its range then also reaches down to `low` (top - low < 32 < 50).
    const int m = floor_div(top - 1023 + kTargetScaleStep - 1, kTargetScaleStep);
    Superaccumulator& acc = st.acc[sum.slot[m - sum.m_lo]];  // in range: see the header's term bounds
    const int offset = low - (kTargetScaleStep * m + Superaccumulator::kLowestExponent);  // in [19, 2097]
    const int j = offset >> 5;
    const uint64_t v = static_cast<uint64_t>(d) << (offset & 31);
    const auto lo = static_cast<int64_t>(v & 0xFFFFFFFFu), hi = static_cast<int64_t>(v >> 32);
    if (neg) {
      acc.chunk[j] -= lo;
      acc.chunk[j + 1] -= hi;
    } else {
      acc.chunk[j] += lo;
      acc.chunk[j + 1] += hi;
    }
    if (--acc.adds_until_carry <= 0) sacc_normalize(acc);
  }
}

// One row's exact w*y (sum_y) and w*y^2 (sum_y2); y and w finite.
void add_exact_row(CarefulState& st, bool sum_y, bool sum_y2, bool weighted, double y, double w) {
  const Parts py = split(y), pw = split(weighted ? w : 1.0);
  if (py.mant == 0 || pw.mant == 0) return;
  if (sum_y) {
    const u128 prod = static_cast<u128>(py.mant) * pw.mant;  // < 2^106
    const uint64_t limbs[2] = {static_cast<uint64_t>(prod), static_cast<uint64_t>(prod >> 64)};
    add_exact(st, kSumYSlots, limbs, 2, py.exp + pw.exp, py.neg != pw.neg);
  }
  if (sum_y2) {
    const u128 sq = static_cast<u128>(py.mant) * py.mant;  // < 2^106
    const u128 lo = static_cast<u128>(static_cast<uint64_t>(sq)) * pw.mant;
    const u128 hi = static_cast<u128>(static_cast<uint64_t>(sq >> 64)) * pw.mant + (lo >> 64);
    const uint64_t limbs[3] = {static_cast<uint64_t>(lo), static_cast<uint64_t>(hi), static_cast<uint64_t>(hi >> 64)};
    add_exact(st, kSumY2Slots, limbs, 3, 2 * py.exp + pw.exp, pw.neg);
  }
}

bool is_tiny(double v) {
  const double a = std::fabs(v);
  return a < kTinyTarget && a != 0.0;
}

// Whether a row's target terms are computed exactly here rather than as the fast kernels
// compute them. A function of the row alone (see the header). Non-finite inputs keep the
// fast terms, so the careful pass's flags stay as they are.
bool row_needs_exact_target_terms(const KernelConfig& cfg, double y_raw, double y, double w) {
  const bool weighted = cfg.weight_dtype != DType::kNone;
  if (!std::isfinite(y_raw) || !std::isfinite(y) || !std::isfinite(w)) return false;
  if (is_tiny(y_raw) || (weighted && is_tiny(w))) return true;
  if (cfg.sums & kSumY2) {
    const double s = y * y;
    if (!std::isfinite(weighted ? w * s : s)) return true;  // overflow (or 0 * inf)
  }
  return (cfg.sums & kSumY) && weighted && !std::isfinite(w * y);
}

template <class TY, class TW>
void rows_t(const ColumnTask& t, const KernelConfig& cfg, CarefulState& st) {
  constexpr bool kWeighted = !std::is_same_v<TW, NoWeight>;
  const bool sum_y = (cfg.sums & kSumY) != 0, sum_y2 = (cfg.sums & kSumY2) != 0;
  int64_t run = 0;  // first row not yet summed
  auto flush = [&](int64_t end) {
    if (end <= run) return;
    ColumnTask part = t;
    part.y_true += run * t.y_true_stride;
    part.y_pred += run * t.y_pred_stride;
    if constexpr (kWeighted) part.weight += run * t.weight_stride;
    part.count = end - run;
    scalar::careful_kernel(part, cfg, st);  // the fast kernels' terms, row for row
  };
  for (int64_t i = 0; i < t.count; ++i) {
    const double y_raw = load_element<TY>(t.y_true + i * t.y_true_stride);
    double w = 1.0;
    if constexpr (kWeighted) w = load_element<TW>(t.weight + i * t.weight_stride);
    const double y = cfg.log1p ? std::log1p(y_raw) : y_raw;
    if (!row_needs_exact_target_terms(cfg, y_raw, y, w)) continue;
    flush(i);
    add_exact_row(st, sum_y, sum_y2, kWeighted, y, w);
    run = i + 1;
  }
  flush(t.count);
}

}  // namespace

// The element-type table (element_types.hpp) picks the instantiation: every type the
// fast kernels read is read here the same way.
void target_moments_rows(const ColumnTask& t, const KernelConfig& cfg, CarefulState& st) {
  visit_element(cfg.y_true_dtype, [&](auto ty) {
    visit_weight(cfg.weight_dtype, [&](auto tw) {
      rows_t<typename decltype(ty)::type, typename decltype(tw)::type>(t, cfg, st);
    });
  });
}

}  // namespace l2loss
