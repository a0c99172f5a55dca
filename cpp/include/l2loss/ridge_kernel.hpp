// The contract between the ridge driver (ridge.cpp) and its per-ISA kernels
// (ridge_body.inc, compiled by ridge_scalar.cpp / ridge_avx2.cpp / ridge_avx512.cpp).
//
// Plain structs and declarations only: this header is included by files compiled with
// -mavx2 / -mavx512f, which must not pull in inline code shared with the baseline build
// (STYLE.md rule 2, numpy#25274).
//
// What a kernel computes for each row i of its block, identically on every ISA and for
// either layout (so the bits never depend on the path):
//   dot_i = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)),
//           s_k = sum over j = k (mod 8) of fl(x_ij * c_j), added in increasing j from +0.0
//   r_i   = (dot_i + b) - y_i                (separate roundings; never a fused multiply-add)
//   terms: fl(w_i * fl(r_i * r_i)) -> loss,  wr_i = fl(w_i * r_i) -> intercept gradient,
//          fl(wr_i * x_ij) -> gradient of column j,  w_i -> weight sum
//   (unweighted: w_i = 1, and multiplying by 1 is exact).
// Every term is added to a per-lane 2-level floating-point expansion whose level-1
// rounding error (almost always zero) is spilled into a superaccumulator. Nothing is
// ever rounded away, so each sum is the exact sum of its terms, whatever the lane width,
// block size, thread count or memory layout.
#pragma once

#include <cstdint>

#include "l2loss/kernel_abi.hpp"

namespace l2loss {

constexpr int kRidgeWays = 8;  // the dot product's interleaving; fixed for every ISA

enum class RidgeLayout : uint8_t {
  kRowMajor = 0,  // x_col_stride == itemsize (or at most one column)
  kColMajor = 1,  // x_row_stride == itemsize
};

// One kernel call: rows [0, rows) of a block.
struct RidgeBlock {
  const char* x;  // row 0 of the block
  DType x_dtype;  // kFloat32 or kFloat64
  RidgeLayout layout;
  int64_t rows;
  int64_t n_features;
  int64_t x_row_stride;  // bytes
  int64_t x_col_stride;  // bytes
  const double* coef;    // n_features values, then zeros up to a multiple of 8
  double intercept;
  const double* y;  // `rows` values widened to double
  const double* w;  // `rows` values widened to double, or nullptr when unweighted
  // The block this thread processes next (same layout and strides; nullptr when there is
  // none): row-major kernels prefetch its first rows while finishing this one.
  const char* next_x;
  int64_t next_rows;
};

// Everything one thread accumulates. The expansion levels live here between kernel
// calls; the driver adds them to the superaccumulators at the end (exactly).
struct RidgeSums {
  // Gradient expansions, 64-byte aligned, each max(round_up(d, 8), 8 * d) doubles.
  // kRowMajor: entry j belongs to column j. kColMajor: entry 8 * j + lane to column j.
  double* grad_fpe0;
  double* grad_fpe1;
  Superaccumulator* grad_acc;  // n_features + 1 accumulators; the last: intercept
  alignas(64) double loss_fpe0[8];
  double loss_fpe1[8];
  double icpt_fpe0[8];
  double icpt_fpe1[8];
  double weight_fpe0[8];
  double weight_fpe1[8];
  Superaccumulator loss_acc;
  Superaccumulator weight_acc;
  uint32_t nonfinite;  // a NaN or infinity reached a sum
};

using RidgeKernel = void (*)(const RidgeBlock&, RidgeSums&);

// Adds finite x to acc exactly; a non-finite x sets nonfinite instead. Out of line in
// the baseline build (ridge_scalar.cpp): the kernels call it only on their cold path.
void ridge_sacc_add(Superaccumulator& acc, double x, uint32_t& nonfinite);

namespace scalar {
void ridge_block(const RidgeBlock&, RidgeSums&);
}
namespace avx2 {
void ridge_block(const RidgeBlock&, RidgeSums&);
}
namespace avx512 {
void ridge_block(const RidgeBlock&, RidgeSums&);
}

}  // namespace l2loss
