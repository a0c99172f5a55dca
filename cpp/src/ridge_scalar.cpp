// Baseline ridge kernel: portable C++ with 8-lane "vectors" of plain doubles (one holds
// a row's 8 ways). Also the exact superaccumulator add that every ridge kernel's cold
// path calls.
#include <cstdint>

#include "l2loss/kernel_abi.hpp"
#include "l2loss/ridge_kernel.hpp"
#include "l2loss/superaccumulator.hpp"

namespace l2loss {

void ridge_sacc_add(Superaccumulator& acc, double x, uint32_t& nonfinite) {
  if (!__builtin_isfinite(x)) {
    nonfinite = 1;
    return;
  }
  scalar::sacc_add_double(acc, x);  // the engine's one baseline exact add
}

}  // namespace l2loss

namespace l2loss::scalar {
namespace {

struct V {
  struct reg {
    double v[8];
  };
  static constexpr int kLanes = 8;
  static constexpr int kGradTile = 1;
  static constexpr int kColTile = 1;
  static reg zero() { return set1(0.0); }
  static reg set1(double x) { return reg{{x, x, x, x, x, x, x, x}}; }
#define L2LOSS_LANEWISE(name, op)                          \
  static reg name(reg a, reg b) {                          \
    for (int l = 0; l < 8; ++l) a.v[l] = a.v[l] op b.v[l]; \
    return a;                                              \
  }
  L2LOSS_LANEWISE(add, +)
  L2LOSS_LANEWISE(sub, -)
  L2LOSS_LANEWISE(mul, *)
#undef L2LOSS_LANEWISE
  // memcpy: NumPy views may be misaligned (np.frombuffer at odd offsets).
  template <class T>
  static reg load_first(const T* p, int n) {
    reg r = zero();
    for (int l = 0; l < n; ++l) {
      T x;
      __builtin_memcpy(&x, reinterpret_cast<const char*>(p + l), sizeof x);
      r.v[l] = static_cast<double>(x);
    }
    return r;
  }
  template <class T>
  static reg load(const T* p) {
    return load_first(p, 8);
  }
  static reg keep_first(reg a, int n) {
    for (int l = n; l < 8; ++l) a.v[l] = 0.0;
    return a;
  }
  static void store(double* p, reg a) { __builtin_memcpy(p, a.v, sizeof a.v); }
  static reg bit_or(reg a, reg b) {
    for (int l = 0; l < 8; ++l) {
      uint64_t x, y;
      __builtin_memcpy(&x, &a.v[l], 8);
      __builtin_memcpy(&y, &b.v[l], 8);
      x |= y;
      __builtin_memcpy(&a.v[l], &x, 8);
    }
    return a;
  }
  static bool any(reg a) {  // any bit set (so -0.0 and NaN count)
    uint64_t all = 0;
    for (double x : a.v) {
      uint64_t b;
      __builtin_memcpy(&b, &x, 8);
      all |= b;
    }
    return all != 0;
  }
  static reg row_trees(const reg* acc) {
    reg r;
    for (int i = 0; i < 8; ++i) {
      const double* w = acc[i].v;
      r.v[i] = ((w[0] + w[1]) + (w[2] + w[3])) + ((w[4] + w[5]) + (w[6] + w[7]));
    }
    return r;
  }
};

#include "ridge_body.inc"

}  // namespace

void ridge_block(const RidgeBlock& blk, RidgeSums& s) {
  blk.x_dtype == DType::kFloat32 ? ridge_block_for<float>(blk, s) : ridge_block_for<double>(blk, s);
}

}  // namespace l2loss::scalar
