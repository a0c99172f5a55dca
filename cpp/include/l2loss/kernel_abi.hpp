// The contract between the threading driver (engine.cpp) and the ISA kernels.
//
// Plain structs, enums and function-pointer types, plus two small helpers on the state
// (reset_state, claim_accumulators). This header is included by files compiled with
// -mavx2 / -mavx512f, which must not share an inline function with the baseline build:
// the linker keeps one copy of an inline function for every caller, and an AVX copy
// would crash the baseline callers on an older CPU (STYLE.md rule 2, numpy#25274). So
// the helpers have internal linkage (an unnamed namespace): every file its own copy.
#pragma once

#include <cstddef>
#include <cstdint>

#include "l2loss/superaccumulator.hpp"

namespace l2loss {

enum class DType : uint8_t { kNone = 0, kFloat32 = 1, kFloat64 = 2, kFloat16 = 3, kBFloat16 = 4 };

// IEEE binary16 storage (converted to double in the kernels: F16C on x86, bit
// manipulation in the portable path; the conversion is exact either way).
struct Half {
  uint16_t bits;
};

// bfloat16 storage (ml_dtypes): the top half of a binary32, so widening is a 16-bit shift
// (exact, NaN and inf included).
struct BFloat16 {
  uint16_t bits;
};

// Which sums a pass computes. d = y_pred - y_true, computed in double; w = 1 when no
// weights are given. Every sum is exact (superaccumulator); the terms are defined below
// so that each one is a deterministic IEEE function of one row.
enum SumBits : uint32_t {
  kSumSq = 1u << 0,    // sum of fl(w * fl(d*d))                     -> MSE, R^2 numerator
  kSumSqLo = 1u << 1,  // sum of (w*d*d exactly) - fl(w * fl(d*d))    -> exact sum of w*d^2
  kSumAbs = 1u << 2,   // sum of fl(w * |d|)                          -> MAE
  kSumDiff = 1u << 3,  // sum of w*d, exactly                          -> bias, explained variance
  kSumY = 1u << 4,     // sum of w*y_true, exactly                     -> R^2 denominator
  kSumY2 = 1u << 5,    // sum of w*y_true^2, exactly                   -> R^2 denominator
  kMaxAbs = 1u << 6,   // max |d|                                      -> max_error
  // exact=True: the exact squares of the exact differences, sum w*(y_pred - y_true)^2
  // with no rounding anywhere (TwoSum + FMA TwoProduct terms). Alone in its pass.
  kSumSqExact = 1u << 7,
};

// Kernel profiles: the sum sets that have a kernel of their own. Any other set runs the
// kProfAll kernel (a superset). Exported to Python by name (bindings.cpp), so a caller
// cannot assemble a set that silently misses its fast kernel.
enum KernelProfile : uint32_t {
  kProfSq = kSumSq,                                                                 // MSE, RMSE, MSLE
  kProfAbs = kSumAbs,                                                               // MAE
  kProfMax = kMaxAbs,                                                               // max_error
  kProfR2 = kSumSq | kSumY | kSumY2,                                                // r2_score
  kProfAll = kSumSq | kSumSqLo | kSumAbs | kSumDiff | kSumY | kSumY2 | kMaxAbs,     // the report, EV
};

// Accumulators. An exact product or square splits into terms of different orders of
// magnitude (hi = the rounded value, lo ~ 2^-53 hi, lo2 ~ 2^-106 hi); each order gets
// its own accumulator so that a floating-point expansion only ever sees terms of one
// scale. Mixing them made the expansion spill on almost every vector (measured 12 ns
// per element instead of ~1).
enum AccIndex : int {
  kAccSq = 0,   // fl(w * fl(d*d))
  kAccSqLo,     // second-order remainders of w*d*d
  kAccSqLo2,    // third-order remainder (weighted only)
  kAccAbs,      // fl(w * |d|)
  kAccDiff,     // fl(w * d)
  kAccDiffLo,   // its remainder (weighted only)
  kAccY,        // fl(w * y)
  kAccYLo,      // its remainder (weighted only)
  kAccY2,       // fl(w * fl(y*y))
  kAccY2Lo,     // second-order remainders of w*y*y
  kAccY2Lo2,    // third-order remainder (weighted only)
  kAccW,        // w
  kAccSqLo3,    // exact mode: fourth-order remainder of d*d
  // exact mode: terms beyond the superaccumulator's range, stored scaled by a power of
  // two (true value = stored * 2^(1200 * m)), so squares of subnormals and of huge
  // differences stay exact.
  kAccScaledM2,  // m = -2 (tiny terms)
  kAccScaledM1,  // m = -1
  kAccScaledP1,  // m = +1 (huge terms)
  kAccScaledP2,  // m = +2
  // (passes that sum y, never exact ones, reuse kAccSqLo3 and the four scaled accumulators
  // for the exact target moments: see target_moments.hpp)
  kNumAccs
};
constexpr int kScaleStep = 1200;

// Per-lane floating-point expansion storage: up to 2 unrolled vectors of 8 lanes.
constexpr int kMaxLanes = 16;

// Everything one thread accumulates for one output column. The FPE levels survive
// between kernel calls on row blocks and are flushed into `acc` at the end.
struct ColumnState {
  double fpe0[kNumAccs][kMaxLanes];
  double fpe1[kNumAccs][kMaxLanes];
  Superaccumulator acc[kNumAccs];
  double max_abs;
  uint32_t nonfinite;  // a non-finite value reached an accumulator: rerun carefully
  uint32_t used;       // bit k set: accumulator k (AccIndex) received terms
};

// A state is initialised lazily: reset() clears the header, and each kernel claims the
// accumulators it adds to, zero-filling those not claimed before. Most passes use 1-3 of
// the 17 accumulators, and clearing all of them (~10 KB) was a fifth of a small call.
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose (see the top)

inline void reset_state(ColumnState& st) {
  st.max_abs = 0.0;
  st.nonfinite = 0;
  st.used = 0;
}

inline void claim_accumulators(ColumnState& st, uint32_t mask) {
  for (uint32_t fresh = mask & ~st.used; fresh != 0; fresh &= fresh - 1) {
    const int k = __builtin_ctz(fresh);
    for (int l = 0; l < kMaxLanes; ++l) {
      st.fpe0[k][l] = 0.0;
      st.fpe1[k][l] = 0.0;
    }
    st.acc[k] = Superaccumulator{};
    st.acc[k].adds_until_carry = Superaccumulator::kCarryInterval;  // all digits zero: a full carry budget
  }
  st.used |= mask;
}

}  // namespace

// One kernel call: rows [0, count) of one column. Strides are in bytes, may be negative.
struct ColumnTask {
  const char* y_true;
  const char* y_pred;
  const char* weight;  // nullptr when unweighted
  char* grad;          // gradient output (value-and-grad passes), else nullptr
  int64_t y_true_stride;
  int64_t y_pred_stride;
  int64_t weight_stride;
  int64_t grad_stride;
  int64_t count;
};

struct KernelConfig {
  uint32_t sums;  // SumBits
  DType y_true_dtype;
  DType y_pred_dtype;
  DType weight_dtype;  // kNone when unweighted
  bool sum_weights;    // also accumulate sum of w into acc[kAccW]
  bool log1p;          // transform y_true and y_pred with log1p first (MSLE)
  DType grad_dtype;    // kNone, or the dtype of ColumnTask::grad
  double grad_scale;   // grad = grad_scale * fl(w * d), rounded to grad_dtype
  bool stream_grad;    // write the gradient with non-temporal stores (outputs far beyond cache)
  bool exact;          // kSumSqExact pass
};

using ColumnKernel = void (*)(const ColumnTask&, const KernelConfig&, ColumnState&);

// Classification flags filled by the careful (scalar, per-element) pass.
enum InputFlags : uint32_t {
  kYTrueNaN = 1u << 0,
  kYTrueInf = 1u << 1,
  kYPredNaN = 1u << 2,
  kYPredInf = 1u << 3,
  kWeightNaN = 1u << 4,
  kWeightInf = 1u << 5,
};
// Per accumulator, which non-finite terms the careful pass met.
enum TermFlags : uint8_t { kTermPosInf = 1, kTermNegInf = 2, kTermNaN = 4 };

struct CarefulState {
  Superaccumulator acc[kNumAccs];
  double max_abs;
  uint32_t input_flags;
  uint8_t term_flags[kNumAccs];
};

using CarefulKernel = void (*)(const ColumnTask&, const KernelConfig&, CarefulState&);

// ---- packed rows: vector lanes across columns ---------------------------------------
//
// A C-ordered (n, k) pair (both operands with consecutive columns and consecutive rows
// adjacent: one flat run of n*k elements) is read the way a 1-D input is, front to back,
// vector after vector. Lane l of the j-th vector holds element j*L + l (L lanes), which
// belongs to column (j*L + l) % k: the pattern repeats every lcm(k, L) elements. So the
// expansion levels are kept per (slot, lane) with slot = j % slots, slots a multiple of
// lcm(k, L) / L (and at least 8, so that consecutive vectors never wait on each other):
// each level only ever receives the terms of one column. A task starts at a row start.
struct PackedTask {
  const char* y_true;  // element (0, 0) of the task's rows
  const char* y_pred;
  const char* weight;  // one weight per row, or nullptr
  int64_t weight_stride;
  int64_t rows;
  int64_t cols;
};

// Per-thread state of the packed kernel. Expansion residuals (rare) and the scalar tail of
// a task are logged as (column, term) for the driver to add to the superaccumulators
// (column -1: the weight sum); the log holds at least rows * cols + lanes entries.
struct PackedState {
  double* fpe0;  // [slots * lanes]: level 0 of lane l of slot s at s * lanes + l
  double* fpe1;
  int64_t slots;
  double wfpe0[kMaxLanes];  // the weight sum's levels (cfg.sum_weights)
  double wfpe1[kMaxLanes];
  int64_t* log_column;
  double* log_term;
  int64_t log_size;
};

using PackedKernel = void (*)(const PackedTask&, const KernelConfig&, PackedState&);

// Per-ISA kernel tables, defined in kernels_<isa>.cpp (avx2/avx512 only when built).
namespace scalar {
void column_kernel(const ColumnTask&, const KernelConfig&, ColumnState&);
void packed_kernel(const PackedTask&, const KernelConfig&, PackedState&);
extern const int kPackedLanes;  // its vector width in doubles
void careful_kernel(const ColumnTask&, const KernelConfig&, CarefulState&);
void flush_column(ColumnState&);
void sacc_add_double(Superaccumulator&, double);
}  // namespace scalar
namespace avx2 {
void column_kernel(const ColumnTask&, const KernelConfig&, ColumnState&);
void packed_kernel(const PackedTask&, const KernelConfig&, PackedState&);
extern const int kPackedLanes;  // its vector width in doubles
}  // namespace avx2
namespace avx512 {
void column_kernel(const ColumnTask&, const KernelConfig&, ColumnState&);
void packed_kernel(const PackedTask&, const KernelConfig&, PackedState&);
extern const int kPackedLanes;  // its vector width in doubles
}  // namespace avx512

}  // namespace l2loss
