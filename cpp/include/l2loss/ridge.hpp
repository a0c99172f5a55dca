// Ridge regression loss and gradient in one pass over X (engine API, no Python).
//
//   r_i  = x_i . coef + b - y_i          (a fixed 8-way order per row: ridge_kernel.hpp)
//   loss = sum_i w_i r_i^2 / W           (exact sum of the rounded terms, correctly rounded mean)
//   G_j  = sum_i w_i r_i x_ij,  G_b = sum_i w_i r_i
//
// Every sum is the exact sum of per-element terms, each an IEEE-defined function of one
// row, and is correctly rounded once at the end. The residual is computed in the same
// order on every path, so the bits depend neither on the thread count, the ISA (scalar,
// AVX2, AVX-512), nor the memory layout of X (C, F, any strides), nor on how the rows
// are cut into blocks.
#pragma once

#include <cstdint>
#include <vector>

#include "l2loss/kernel_abi.hpp"

namespace l2loss {

struct RidgeRequest {
  const char* x = nullptr;
  DType x_dtype = DType::kFloat64;
  int64_t n_rows = 0;
  int64_t n_features = 0;
  int64_t x_row_stride = 0;  // bytes
  int64_t x_col_stride = 0;  // bytes
  const char* y = nullptr;
  DType y_dtype = DType::kFloat64;
  int64_t y_stride = 0;
  const char* weight = nullptr;
  DType weight_dtype = DType::kNone;
  int64_t weight_stride = 0;
  const double* coef = nullptr;  // n_features values
  double intercept = 0.0;
  int num_threads = 1;
};

struct RidgeResult {
  double loss_mean = 0.0;         // correctly rounded sum(w r^2) / W
  double weight_sum = 0.0;        // W, correctly rounded
  std::vector<double> grad;       // G_j, correctly rounded exact sums of fl(fl(w_i r_i) x_ij)
  double grad_intercept = 0.0;    // G_b, correctly rounded exact sum of fl(w_i r_i)
  bool nonfinite = false;         // a NaN/inf input or overflow: values are NaN
};

RidgeResult ridge_loss_and_grad(const RidgeRequest& req);

}  // namespace l2loss
