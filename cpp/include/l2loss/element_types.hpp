// The one table of element types the kernels read, and how each widens to double.
//
// Every kernel family (the fused metrics kernels, the careful pass, the exact target
// moments, the gradient and exact=True kernels) turns the DTypes of a request into a
// template instantiation through visit_operands / visit_weight below, and the driver
// accepts exactly the pairs those visitors know (operands_supported / weight_supported).
// A type therefore cannot be known to one family and missing from another: a bfloat16
// target once fell through the target-moments rerun's own switch and was read as
// float64, 8 bytes per 2-byte element, past the end of the caller's buffer.
//
// Internal linkage throughout (an unnamed namespace): files compiled with -mavx2 /
// -mavx512f include this header too, and must not share an inline function with the
// baseline build, whose linker could keep the AVX copy for every caller (STYLE.md
// rule 2, numpy#25274).
#pragma once

#include <cstdint>

#include "l2loss/kernel_abi.hpp"

namespace l2loss {
namespace {  // NOLINT(google-build-namespaces): internal linkage per ISA file, on purpose

template <class T>
struct TypeTag {
  using type = T;
};

// The weight type of an unweighted pass (w = 1).
struct NoWeight {};

// ---- widening: exact for every type ------------------------------------------------

// binary16 -> binary64 (normal, subnormal, zero, inf, NaN).
inline double half_to_double(uint16_t h) {
  const uint32_t sign = h >> 15, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  double v;
  if (exp == 0) {
    v = static_cast<double>(mant) * 0x1p-24;  // subnormal (or zero): mant * 2^-24
  } else if (exp == 31) {
    v = mant ? __builtin_nan("") : __builtin_inf();
  } else {
    v = static_cast<double>(mant | 0x400) * __builtin_ldexp(1.0, static_cast<int>(exp) - 25);
  }
  return sign ? -v : v;
}

inline double to_double(double v) { return v; }
inline double to_double(float v) { return static_cast<double>(v); }
inline double to_double(Half v) { return half_to_double(v.bits); }
inline double to_double(BFloat16 v) {  // the top half of a binary32
  const uint32_t b = static_cast<uint32_t>(v.bits) << 16;
  float f;
  __builtin_memcpy(&f, &b, sizeof f);
  return static_cast<double>(f);
}

// One element at p (any alignment), widened.
template <class T>
inline double load_element(const char* p) {
  T v;
  __builtin_memcpy(&v, p, sizeof v);
  return to_double(v);
}

// ---- the table ---------------------------------------------------------------------

// Operand pairs (y_true, y_pred) the kernels read: float32/float64 in any combination,
// or two float16, or two bfloat16 (a narrow type paired with another is widened before
// it reaches the engine: the widening is exact).
// Bytes per element (0 for kNone).
inline int64_t element_size(DType d) {
  switch (d) {
    case DType::kFloat64: return 8;
    case DType::kFloat32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
    default: return 0;
  }
}
inline bool is_wide_float(DType d) { return d == DType::kFloat32 || d == DType::kFloat64; }
inline bool is_narrow_float(DType d) { return d == DType::kFloat16 || d == DType::kBFloat16; }
inline bool operands_supported(DType y_true, DType y_pred) {
  return (is_wide_float(y_true) && is_wide_float(y_pred)) || (is_narrow_float(y_true) && y_pred == y_true);
}
// Weights: float32 or float64 (kNone: unweighted).
inline bool weight_supported(DType w) { return w == DType::kNone || is_wide_float(w); }

// Calls f(TypeTag<TY>{}, TypeTag<TP>{}) for a supported pair. The driver validates the
// request first (engine.cpp), so the trap is unreachable; it stands where a silent
// misread would otherwise be.
template <class F>
inline decltype(auto) visit_operands(DType y_true, DType y_pred, F&& f) {
  if (y_true == DType::kFloat16 && y_pred == DType::kFloat16) return f(TypeTag<Half>{}, TypeTag<Half>{});
  if (y_true == DType::kBFloat16 && y_pred == DType::kBFloat16) return f(TypeTag<BFloat16>{}, TypeTag<BFloat16>{});
  if (y_true == DType::kFloat64 && y_pred == DType::kFloat64) return f(TypeTag<double>{}, TypeTag<double>{});
  if (y_true == DType::kFloat32 && y_pred == DType::kFloat32) return f(TypeTag<float>{}, TypeTag<float>{});
  if (y_true == DType::kFloat32 && y_pred == DType::kFloat64) return f(TypeTag<float>{}, TypeTag<double>{});
  if (y_true == DType::kFloat64 && y_pred == DType::kFloat32) return f(TypeTag<double>{}, TypeTag<float>{});
  __builtin_trap();
}

// Calls f(TypeTag<TW>{}) with TW = NoWeight, float or double.
template <class F>
inline decltype(auto) visit_weight(DType w, F&& f) {
  if (w == DType::kNone) return f(TypeTag<NoWeight>{});
  if (w == DType::kFloat64) return f(TypeTag<double>{});
  if (w == DType::kFloat32) return f(TypeTag<float>{});
  __builtin_trap();
}

// Calls f(TypeTag<T>{}) for the type of one operand (any supported element type).
template <class F>
inline decltype(auto) visit_element(DType d, F&& f) {
  if (d == DType::kFloat64) return f(TypeTag<double>{});
  if (d == DType::kFloat32) return f(TypeTag<float>{});
  if (d == DType::kFloat16) return f(TypeTag<Half>{});
  if (d == DType::kBFloat16) return f(TypeTag<BFloat16>{});
  __builtin_trap();
}

}  // namespace
}  // namespace l2loss
