// Row-wise outputs: one correctly rounded figure per row (Keras' per-sample MSE, the mean
// of the squared errors over the last axis). No Python anywhere below this header.
#pragma once

#include <cstdint>

#include "l2loss/engine.hpp"

namespace l2loss {

// out[i] = the mean over j of fl(d_ij * d_ij), d_ij = y_pred(i, j) - y_true(i, j) computed
// in double (as every l2loss sum), rounded once, to nearest-even, straight to the output
// format: float64 (out_float32 == false) or float32 -- a float32 row is not averaged in
// float32 arithmetic, nor rounded twice. NaN and inf terms give what IEEE arithmetic would.
// out has one element per row, out_stride bytes apart. The same bits for any thread count.
void row_mean_squares(const Operand& y_true, const Operand& y_pred, int64_t n_rows, int64_t n_cols, char* out,
                      int64_t out_stride, bool out_float32, int num_threads);

// The one rounding routine: value = (N / k) * 2^scale for the non-negative integer N given
// as little-endian 64-bit limbs (n_limbs <= 40), rounded to nearest-even with `precision`
// bits and no bit below 2^lsb_min (subnormals), +inf past 2^(max_exp + 1). Exposed for the
// tests of the rounding itself.
double round_quotient(const uint64_t* limbs, int n_limbs, int64_t scale, uint64_t k, int precision, int lsb_min,
                      int max_exp);

}  // namespace l2loss
