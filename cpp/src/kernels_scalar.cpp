// Baseline kernels: portable C++ with 4-wide "vectors" of plain doubles (compilers map
// them to SSE2/NEON or scalar code). Also home of the careful per-element pass, which
// reruns a computation after the fast pass met a non-finite value, classifies every
// input and term, and adds finite terms one by one (exactly) to the superaccumulator.
#include <cstdint>

#include "l2loss/element_types.hpp"
#include "l2loss/kernel_abi.hpp"

namespace l2loss::scalar {
namespace {

struct V {
  struct reg {
    double v[4];
  };
  static constexpr int kLanes = 4;
  static reg zero() { return set1(0.0); }
  static reg set1(double x) { return reg{{x, x, x, x}}; }
#define L2LOSS_LANEWISE(name, expr)               \
  static reg name(reg a, reg b) {                 \
    reg r;                                        \
    for (int l = 0; l < 4; ++l) {                 \
      const double x = a.v[l], y = b.v[l];        \
      r.v[l] = (expr);                            \
    }                                             \
    return r;                                     \
  }
  L2LOSS_LANEWISE(add, x + y)
  L2LOSS_LANEWISE(sub, x - y)
  L2LOSS_LANEWISE(mul, x * y)
  L2LOSS_LANEWISE(max, x > y ? x : y)
  L2LOSS_LANEWISE(min, x < y ? x : y)
#undef L2LOSS_LANEWISE
  static reg abs(reg a) {
    for (double& x : a.v) x = __builtin_fabs(x);
    return a;
  }
  // a*b - c with a single rounding (exact error term of a product).
  static reg fmsub(reg a, reg b, reg c) {
    reg r;
    for (int l = 0; l < 4; ++l) r.v[l] = __builtin_fma(a.v[l], b.v[l], -c.v[l]);
    return r;
  }
  template <class T>
  static reg load(const T* p) {  // memcpy: NumPy views may be misaligned (np.frombuffer at odd offsets)
    const char* c = reinterpret_cast<const char*>(p);
    reg r;
    for (int l = 0; l < 4; ++l) {
      T x;
      __builtin_memcpy(&x, c + l * sizeof(T), sizeof x);
      r.v[l] = to_double(x);
    }
    return r;
  }
  template <class T>
  static reg gather(const T* p, int64_t stride_bytes) {
    const char* c = reinterpret_cast<const char*>(p);
    reg r;
    for (int l = 0; l < 4; ++l) {
      T x;
      __builtin_memcpy(&x, c + l * stride_bytes, sizeof x);
      r.v[l] = to_double(x);
    }
    return r;
  }
  static void store(double* p, reg a) {
    for (int l = 0; l < 4; ++l) p[l] = a.v[l];
  }
  template <class T>
  static void store_as(T* p, reg a) {  // memcpy: an out= buffer may be a misaligned view
    char* c = reinterpret_cast<char*>(p);
    for (int l = 0; l < 4; ++l) {
      const T x = static_cast<T>(a.v[l]);
      __builtin_memcpy(c + l * sizeof(T), &x, sizeof x);
    }
  }
  template <class T>
  static void stream_as(T* p, reg a) { store_as(p, a); }  // no streaming in portable code
  static void stream_fence() {}
  static unsigned exceeds_mask(reg a, reg b) {  // !(a <= b): a > b, or a is NaN
    unsigned m = 0;
    for (int l = 0; l < 4; ++l) m |= unsigned(!(a.v[l] <= b.v[l])) << l;
    return m;
  }
  static unsigned gt_mask(reg a, reg b) {
    unsigned m = 0;
    for (int l = 0; l < 4; ++l) m |= unsigned(a.v[l] > b.v[l]) << l;
    return m;
  }
  static unsigned nonzero_mask(reg a) {
    unsigned m = 0;
    for (int l = 0; l < 4; ++l) m |= unsigned(a.v[l] != 0.0) << l;
    return m;
  }
  // See the AVX-512 version: lanes whose square leaves the exact vector path's range.
  static unsigned square_out_of_range(reg s, reg sq) {
    unsigned m = 0;
    for (int l = 0; l < 4; ++l) {
      const double q = sq.v[l];
      m |= unsigned(!(q <= 0x1p1022) || (s.v[l] != 0.0 && q < 0x1p-800)) << l;
    }
    return m;
  }
  static reg merge_nonzero(reg a, reg b) {  // nonzero iff in a or b (NaN counts as nonzero)
    reg r;
    for (int l = 0; l < 4; ++l) r.v[l] = (a.v[l] != 0.0 || b.v[l] != 0.0) ? 1.0 : 0.0;
    return r;
  }
  static bool any_nonzero(reg a, reg b) { return (nonzero_mask(a) | nonzero_mask(b)) != 0; }
};

#include "kernel_body.inc"

// ---- careful pass -------------------------------------------------------------------

inline uint32_t classify(double x, uint32_t nan_flag, uint32_t inf_flag) {
  if (x != x) return nan_flag;
  if (!__builtin_isfinite(x)) return inf_flag;
  return 0;
}

template <class TY, class TP, class TW>
void careful_t(const ColumnTask& t, const KernelConfig& cfg, CarefulState& st) {
  constexpr bool kW = !__is_same(TW, NoWeight);
  const unsigned sums = cfg.sums;
  const bool sum_w = kW && cfg.sum_weights;
  uint32_t flags = st.input_flags;
  for (int64_t i = 0; i < t.count; ++i) {
    double y = load_element<TY>(t.y_true + i * t.y_true_stride);
    double p = load_element<TP>(t.y_pred + i * t.y_pred_stride);
    double w = 1.0;
    if constexpr (kW) {
      w = load_element<TW>(t.weight + i * t.weight_stride);
      flags |= classify(w, kWeightNaN, kWeightInf);
    }
    flags |= classify(y, kYTrueNaN, kYTrueInf) | classify(p, kYPredNaN, kYPredInf);
    if (cfg.log1p) log1p_pair(y, p, (sums & (kSumY | kSumY2)) != 0);  // the fast kernels' terms
    auto add = [&](int k, double x) {
      if (__builtin_isfinite(x)) {
        sacc_add(st.acc[k], x);
      } else {
        st.term_flags[k] |= x != x ? kTermNaN : (x > 0 ? kTermPosInf : kTermNegInf);
      }
    };
    if (cfg.exact) {
      if (sum_w) add(kAccW, w);
      exact_row<kW>(y, p, w, add);
    } else {
      row_terms<kW>(sums, y, p, w, sum_w, add);
    }
    if (sums & kMaxAbs) {
      const double a = __builtin_fabs(p - y);
      if (a != a || a > st.max_abs) st.max_abs = a;  // NaN sticks: later a > NaN is false
    }
  }
  st.input_flags = flags;
}

// The element-type table (element_types.hpp) picks the instantiation.
CarefulKernel pick_careful(const KernelConfig& cfg) {
  return visit_operands(cfg.y_true_dtype, cfg.y_pred_dtype, [&](auto ty, auto tp) {
    return visit_weight(cfg.weight_dtype, [&](auto tw) -> CarefulKernel {
      return &careful_t<typename decltype(ty)::type, typename decltype(tp)::type, typename decltype(tw)::type>;
    });
  });
}

}  // namespace

void column_kernel(const ColumnTask& t, const KernelConfig& cfg, ColumnState& st) {
  pick_kernel(cfg)(t, cfg, st);
}

void packed_kernel(const PackedTask& t, const KernelConfig& cfg, PackedState& st) { pick_packed(cfg)(t, cfg, st); }

extern const int kPackedLanes = V::kLanes;  // data, not code: read by baseline code before any ISA check

void careful_kernel(const ColumnTask& t, const KernelConfig& cfg, CarefulState& st) {
  pick_careful(cfg)(t, cfg, st);
}

void flush_column(ColumnState& st) {
  for (int k = 0; k < kNumAccs; ++k) {
    if (!((st.used >> k) & 1u)) continue;
    for (int l = 0; l < kMaxLanes; ++l) {  // mostly zeros in a small call: skip them (NaN != 0)
      if (st.fpe0[k][l] != 0.0) sacc_add_checked(st.acc[k], st.fpe0[k][l], st.nonfinite);
      if (st.fpe1[k][l] != 0.0) sacc_add_checked(st.acc[k], st.fpe1[k][l], st.nonfinite);
      st.fpe0[k][l] = 0.0;
      st.fpe1[k][l] = 0.0;
    }
  }
}

void sacc_add_double(Superaccumulator& acc, double x) {
  sacc_add(acc, x);
}

}  // namespace l2loss::scalar
