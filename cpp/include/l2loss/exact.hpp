// Exact signed binary numbers and correctly rounded conversion/division to double.
//
// Every figure l2loss reports is computed from exact sums: a mean is the correctly
// rounded quotient of two exact numbers (never double(sum) / n), and R^2's denominator
// sum(w*(y - ybar)^2) = (W*sum(w*y^2) - sum(w*y)^2) / W is evaluated exactly before its
// single rounding. Magnitudes are small in practice (a handful of 32-bit limbs), so
// schoolbook arithmetic is plenty.
#pragma once

#include <cstdint>
#include <cstddef>

#include "l2loss/superaccumulator.hpp"

namespace l2loss {

// Little-endian 32-bit limbs with room for kInline of them in place: the exact sums a
// report finalises are a handful of limbs, and allocating each intermediate used to cost
// as much as the arithmetic (a 10-row group's report built ~60 of them).
class LimbVector {
 public:
  static constexpr uint32_t kInline = 12;
  LimbVector() = default;
  LimbVector(size_t n, uint32_t v) { assign(n, v); }
  LimbVector(const LimbVector& o) { copy_from(o); }
  LimbVector(LimbVector&& o) noexcept { take(o); }
  LimbVector& operator=(const LimbVector& o) {
    if (this != &o) {
      size_ = 0;
      copy_from(o);
    }
    return *this;
  }
  LimbVector& operator=(LimbVector&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~LimbVector() { release(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint32_t* data() { return ptr_; }
  const uint32_t* data() const { return ptr_; }
  uint32_t& operator[](size_t i) { return ptr_[i]; }
  uint32_t operator[](size_t i) const { return ptr_[i]; }
  uint32_t back() const { return ptr_[size_ - 1]; }
  void pop_back() { --size_; }
  void push_back(uint32_t v) {
    reserve(size_ + 1);
    ptr_[size_++] = v;
  }
  void assign(size_t n, uint32_t v);  // n copies of v
  void resize(size_t n);              // new limbs are zero
  void erase_front(size_t n);         // drops the n lowest limbs

 private:
  void reserve(size_t n);
  void copy_from(const LimbVector& o);
  void take(LimbVector& o);
  void release();
  uint32_t* ptr_ = inline_;
  uint32_t size_ = 0;
  uint32_t capacity_ = kInline;
  uint32_t inline_[kInline] = {};
};

class ExactNumber {
 public:
  ExactNumber() = default;
  static ExactNumber from_accumulator(const Superaccumulator& acc);
  // The value of canonical superaccumulator digits (sacc_normalize's form: every digit
  // but the last in [0, 2^32), the last signed) d[0..count), d[0] worth 2^(32*lo - 1074).
  static ExactNumber from_canonical_digits(const int64_t* d, int lo, int count);
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
  LimbVector mag_;             // no zero limb at either end
  int64_t exp2_ = 0;           // value = (neg ? -1 : 1) * mag * 2^exp2
};

}  // namespace l2loss
