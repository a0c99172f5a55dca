// Exact signed binary numbers and correctly rounded conversion/division to double.
//
// Every figure l2loss reports is computed from exact sums: a mean is the correctly
// rounded quotient of two exact numbers (never double(sum) / n), and R^2's denominator
// sum(w*(y - ybar)^2) = (W*sum(w*y^2) - sum(w*y)^2) / W is evaluated exactly before its
// single rounding. Magnitudes are small in practice (a handful of 32-bit limbs), so
// schoolbook arithmetic is plenty.
#pragma once

#include <cstdint>
#include <vector>

#include "l2loss/superaccumulator.hpp"

namespace l2loss {

class ExactNumber {
 public:
  ExactNumber() = default;
  static ExactNumber from_accumulator(const Superaccumulator& acc);
  static ExactNumber from_uint(uint64_t v);
  static ExactNumber from_double(double v);  // v must be finite

  bool is_zero() const { return mag_.empty(); }
  // this * 2^e, exactly.
  ExactNumber scaled(int64_t e) const {
    ExactNumber r = *this;
    if (!r.is_zero()) r.exp2_ += e;
    return r;
  }
  bool is_negative() const { return neg_; }
  double to_double() const;  // correctly rounded (ties to even); overflow gives +-inf

  friend ExactNumber operator+(const ExactNumber& a, const ExactNumber& b);
  friend ExactNumber operator-(const ExactNumber& a, const ExactNumber& b);
  friend ExactNumber operator*(const ExactNumber& a, const ExactNumber& b);
  // Correctly rounded a / b. b must not be zero.
  friend double divide(const ExactNumber& a, const ExactNumber& b);

 private:
  void trim();
  bool neg_ = false;
  std::vector<uint32_t> mag_;  // little-endian 32-bit limbs, no zero limb at either end
  int64_t exp2_ = 0;           // value = (neg ? -1 : 1) * mag * 2^exp2
};

}  // namespace l2loss
