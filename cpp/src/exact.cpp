// ExactNumber: arbitrary-precision binary numbers for finalising exact sums.
#include "l2loss/exact.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace l2loss {
namespace {

using Limbs = LimbVector;
using u128 = unsigned __int128;

int64_t bit_length(const Limbs& m) {
  if (m.empty()) return 0;
  return 32 * static_cast<int64_t>(m.size() - 1) + (32 - __builtin_clz(m.back()));
}

Limbs shift_left(const Limbs& m, int64_t bits) {
  if (m.empty()) return m;
  const auto limbs = static_cast<size_t>(bits / 32);
  const int s = static_cast<int>(bits % 32);
  Limbs r(m.size() + limbs + 1, 0);
  for (size_t i = 0; i < m.size(); ++i) {
    const uint64_t v = static_cast<uint64_t>(m[i]) << s;
    r[i + limbs] |= static_cast<uint32_t>(v);
    r[i + limbs + 1] |= static_cast<uint32_t>(v >> 32);
  }
  while (!r.empty() && r.back() == 0) r.pop_back();
  return r;
}

// m >> bits (bits >= 0); `sticky` is set when a dropped bit is nonzero.
Limbs shift_right_sticky(const Limbs& m, int64_t bits, bool& sticky) {
  const auto limbs = static_cast<size_t>(bits / 32);
  const int s = static_cast<int>(bits % 32);
  sticky = false;
  for (size_t i = 0; i < std::min(limbs, m.size()); ++i) sticky = sticky || m[i] != 0;
  if (limbs >= m.size()) return Limbs{};
  if (s != 0 && (m[limbs] & ((1u << s) - 1)) != 0) sticky = true;
  Limbs r(m.size() - limbs, 0);
  for (size_t i = 0; i < r.size(); ++i) {
    const uint64_t lo = m[i + limbs], hi = i + limbs + 1 < m.size() ? m[i + limbs + 1] : 0u;
    r[i] = static_cast<uint32_t>(((hi << 32) | lo) >> s);
  }
  while (!r.empty() && r.back() == 0) r.pop_back();
  return r;
}

void shift_right_one(Limbs& m) {
  for (size_t i = 0; i < m.size(); ++i) {
    m[i] = (m[i] >> 1) | (i + 1 < m.size() ? (m[i + 1] << 31) : 0u);
  }
  while (!m.empty() && m.back() == 0) m.pop_back();
}

int compare(const Limbs& a, const Limbs& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (size_t i = a.size(); i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

Limbs add_mag(const Limbs& a, const Limbs& b) {
  Limbs r(std::max(a.size(), b.size()) + 1, 0);
  uint64_t carry = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    const uint64_t v = carry + (i < a.size() ? a[i] : 0u) + (i < b.size() ? b[i] : 0u);
    r[i] = static_cast<uint32_t>(v);
    carry = v >> 32;
  }
  while (!r.empty() && r.back() == 0) r.pop_back();
  return r;
}

// a - b with a >= b.
void sub_mag_inplace(Limbs& a, const Limbs& b) {
  int64_t borrow = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    int64_t v = static_cast<int64_t>(a[i]) - borrow - (i < b.size() ? b[i] : 0u);
    borrow = v < 0;
    if (borrow) v += int64_t{1} << 32;
    a[i] = static_cast<uint32_t>(v);
  }
  while (!a.empty() && a.back() == 0) a.pop_back();
}

// Rounds (q + sticky) * 2^e to the nearest double, ties to even. q has at most 68 bits;
// when `sticky` is set, q must carry at least two bits below the rounding position.
double round_to_double(bool neg, u128 q, int64_t e, bool sticky) {
  if (q == 0) return 0.0;
  const auto hi = static_cast<uint64_t>(q >> 64), lo = static_cast<uint64_t>(q);
  const int nb = hi != 0 ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll(lo);  // q != 0
  const int64_t lead = e + nb - 1;
  const double inf = std::numeric_limits<double>::infinity();
  if (lead > 1023) return neg ? -inf : inf;
  const int64_t pos = lead >= -1022 ? lead - 52 : -1074;  // weight of the last kept bit
  const int64_t shift = pos - e;
  uint64_t kept;
  if (shift <= 0) {
    kept = static_cast<uint64_t>(q << -shift);
  } else if (shift > nb) {
    return neg ? -0.0 : 0.0;  // below half of the smallest subnormal
  } else {
    kept = static_cast<uint64_t>(q >> shift);
    const u128 rem = q & ((u128{1} << shift) - 1);
    const u128 half = u128{1} << (shift - 1);
    if (rem > half || (rem == half && (sticky || (kept & 1)))) ++kept;
  }
  const double r = std::ldexp(static_cast<double>(kept), static_cast<int>(pos));  // exact
  return neg ? -r : r;
}

// Top 68 bits of m (as q, with the exponent offset of its last bit) and a sticky bit.
void top_bits(const Limbs& m, u128& q, int64_t& offset, bool& sticky) {
  const int64_t nb = bit_length(m);
  offset = std::max<int64_t>(0, nb - 68);
  q = 0;
  sticky = false;
  for (int64_t bit = nb - 1; bit >= 0; --bit) {
    const bool set = (m[static_cast<size_t>(bit / 32)] >> (bit % 32)) & 1u;
    if (bit >= offset) {
      q = (q << 1) | static_cast<u128>(set);
    } else if (set) {
      sticky = true;
      break;
    }
  }
}

}  // namespace

void LimbVector::reserve(size_t n) {
  if (n <= capacity_) return;
  const size_t cap = std::max<size_t>(n, 2 * size_t{capacity_});
  auto* p = new uint32_t[cap];
  std::memcpy(p, ptr_, size_ * sizeof(uint32_t));
  release();
  ptr_ = p;
  capacity_ = static_cast<uint32_t>(cap);
}

void LimbVector::release() {
  if (ptr_ != inline_) delete[] ptr_;
  ptr_ = inline_;
  capacity_ = kInline;
}

void LimbVector::copy_from(const LimbVector& o) {
  reserve(o.size_);
  std::memcpy(ptr_, o.ptr_, o.size_ * sizeof(uint32_t));
  size_ = o.size_;
}

void LimbVector::take(LimbVector& o) {
  if (o.ptr_ == o.inline_) {
    ptr_ = inline_;
    capacity_ = kInline;
    std::memcpy(inline_, o.inline_, o.size_ * sizeof(uint32_t));
  } else {
    ptr_ = o.ptr_;
    capacity_ = o.capacity_;
    o.ptr_ = o.inline_;
    o.capacity_ = kInline;
  }
  size_ = o.size_;
  o.size_ = 0;
}

void LimbVector::assign(size_t n, uint32_t v) {
  size_ = 0;
  reserve(n);
  std::fill(ptr_, ptr_ + n, v);
  size_ = static_cast<uint32_t>(n);
}

void LimbVector::resize(size_t n) {
  reserve(n);
  if (n > size_) std::fill(ptr_ + size_, ptr_ + n, 0u);
  size_ = static_cast<uint32_t>(n);
}

void LimbVector::erase_front(size_t n) {
  std::memmove(ptr_, ptr_ + n, (size_ - n) * sizeof(uint32_t));
  size_ -= static_cast<uint32_t>(n);
}

void ExactNumber::trim() {
  while (!mag_.empty() && mag_.back() == 0) mag_.pop_back();
  size_t low = 0;
  while (low < mag_.size() && mag_[low] == 0) ++low;
  if (low > 0) {
    mag_.erase_front(low);
    exp2_ += 32 * static_cast<int64_t>(low);
  }
  if (mag_.empty()) {
    neg_ = false;
    exp2_ = 0;
  }
}

ExactNumber ExactNumber::from_accumulator(const Superaccumulator& acc) {
  Superaccumulator a = acc;
  sacc_normalize(a);
  ExactNumber r;
  constexpr int kTop = Superaccumulator::kChunks - 1;
  if (a.chunk[kTop] < 0) {
    r.neg_ = true;
    for (int64_t& c : a.chunk) c = -c;
    sacc_normalize(a);
  }
  r.mag_.resize(Superaccumulator::kChunks + 1);
  for (int j = 0; j < kTop; ++j) r.mag_[j] = static_cast<uint32_t>(a.chunk[j]);
  const auto top = static_cast<uint64_t>(a.chunk[kTop]);
  r.mag_[kTop] = static_cast<uint32_t>(top);
  r.mag_[kTop + 1] = static_cast<uint32_t>(top >> 32);
  r.exp2_ = Superaccumulator::kLowestExponent;
  r.trim();
  return r;
}

ExactNumber ExactNumber::from_canonical_digits(const int64_t* d, int lo, int count) {
  ExactNumber r;
  if (count == 0) return r;
  r.neg_ = d[count - 1] < 0;
  r.mag_.resize(static_cast<size_t>(count) + 1);
  // Negative values are negated digit by digit with a borrow (two's complement over the
  // digit sequence); the last digit may hold up to 62 bits, hence the extra limb.
  int64_t carry = 0;
  for (int j = 0; j < count; ++j) {
    const int64_t v = (r.neg_ ? -d[j] : d[j]) + carry;
    if (j + 1 < count) {
      r.mag_[static_cast<size_t>(j)] = static_cast<uint32_t>(v);
      carry = v >> 32;  // arithmetic: floor division by 2^32
    } else {
      const auto top = static_cast<uint64_t>(v);  // >= 0: the magnitude's top digit
      r.mag_[static_cast<size_t>(j)] = static_cast<uint32_t>(top);
      r.mag_[static_cast<size_t>(j) + 1] = static_cast<uint32_t>(top >> 32);
    }
  }
  r.exp2_ = Superaccumulator::kLowestExponent + 32 * static_cast<int64_t>(lo);
  r.trim();
  return r;
}

ExactNumber ExactNumber::from_uint(uint64_t v) {
  ExactNumber r;
  r.mag_.resize(2);
  r.mag_[0] = static_cast<uint32_t>(v);
  r.mag_[1] = static_cast<uint32_t>(v >> 32);
  r.trim();
  return r;
}

ExactNumber ExactNumber::from_double(double v) {
  if (!std::isfinite(v)) throw std::domain_error("ExactNumber::from_double: non-finite value");
  ExactNumber r;
  if (v == 0.0) return r;
  int e = 0;
  const double m = std::frexp(std::fabs(v), &e);  // |v| = m * 2^e, m in [0.5, 1)
  const auto mant = static_cast<uint64_t>(std::ldexp(m, 53));
  r = from_uint(mant);
  r.exp2_ += e - 53;
  r.neg_ = v < 0;
  r.trim();
  return r;
}

double ExactNumber::to_double() const {
  if (mag_.empty()) return 0.0;
  u128 q;
  int64_t offset;
  bool sticky;
  top_bits(mag_, q, offset, sticky);
  return round_to_double(neg_, q, exp2_ + offset, sticky);
}

ExactNumber operator+(const ExactNumber& a, const ExactNumber& b) {
  if (a.is_zero()) return b;
  if (b.is_zero()) return a;
  const int64_t e = std::min(a.exp2_, b.exp2_);
  const Limbs am = shift_left(a.mag_, a.exp2_ - e);
  const Limbs bm = shift_left(b.mag_, b.exp2_ - e);
  ExactNumber r;
  r.exp2_ = e;
  if (a.neg_ == b.neg_) {
    r.mag_ = add_mag(am, bm);
    r.neg_ = a.neg_;
  } else if (compare(am, bm) >= 0) {
    r.mag_ = am;
    sub_mag_inplace(r.mag_, bm);
    r.neg_ = a.neg_;
  } else {
    r.mag_ = bm;
    sub_mag_inplace(r.mag_, am);
    r.neg_ = b.neg_;
  }
  r.trim();
  return r;
}

ExactNumber operator-(const ExactNumber& a, const ExactNumber& b) {
  ExactNumber nb = b;
  if (!nb.is_zero()) nb.neg_ = !nb.neg_;
  return a + nb;
}

ExactNumber operator*(const ExactNumber& a, const ExactNumber& b) {
  ExactNumber r;
  if (a.is_zero() || b.is_zero()) return r;
  r.mag_.assign(a.mag_.size() + b.mag_.size(), 0);
  for (size_t i = 0; i < a.mag_.size(); ++i) {
    uint64_t carry = 0;
    for (size_t j = 0; j < b.mag_.size(); ++j) {
      const uint64_t v = static_cast<uint64_t>(a.mag_[i]) * b.mag_[j] + r.mag_[i + j] + carry;
      r.mag_[i + j] = static_cast<uint32_t>(v);
      carry = v >> 32;
    }
    size_t k = i + b.mag_.size();
    while (carry != 0) {
      const uint64_t v = static_cast<uint64_t>(r.mag_[k]) + carry;
      r.mag_[k++] = static_cast<uint32_t>(v);
      carry = v >> 32;
    }
  }
  r.neg_ = a.neg_ != b.neg_;
  r.exp2_ = a.exp2_ + b.exp2_;
  r.trim();
  return r;
}

double divide(const ExactNumber& a, const ExactNumber& b) {
  if (b.is_zero()) throw std::domain_error("l2loss: division by an exact zero");
  if (a.is_zero()) return 0.0;
  // Scale so that the integer quotient N / D has 66 or 67 bits: enough for a correct
  // rounding with a sticky bit, in the normal and the subnormal range alike.
  const int64_t k = bit_length(b.mag_) - bit_length(a.mag_) + 66;
  u128 q = 0;
  if (b.mag_.size() <= 2) {
    // Short division by a 64-bit divisor (the common unweighted case: a row count). A
    // numerator longer than needed (an exact sum of squares spans 100+ bits) is cut to
    // its top bits first: floor(floor(N / 2^s) / D) = floor(N / (D 2^s)), and the
    // quotient is inexact iff a dropped bit or the remainder is nonzero.
    bool sticky = false;
    const Limbs num = k >= 0 ? shift_left(a.mag_, k) : shift_right_sticky(a.mag_, -k, sticky);
    const uint64_t d = b.mag_.size() == 1 ? b.mag_[0] : (static_cast<uint64_t>(b.mag_[1]) << 32 | b.mag_[0]);
    u128 rem = 0;
    for (size_t i = num.size(); i-- > 0;) {
      const u128 cur = (rem << 32) | num[i];
      q = (q << 32) | (cur / d);
      rem = cur % d;
    }
    return round_to_double(a.neg_ != b.neg_, q, a.exp2_ - b.exp2_ - k, sticky || rem != 0);
  }
  Limbs num = k >= 0 ? shift_left(a.mag_, k) : a.mag_;
  const Limbs den = k < 0 ? shift_left(b.mag_, -k) : b.mag_;
  Limbs shifted = shift_left(den, 67);
  for (int bit = 67; bit >= 0; --bit) {
    if (compare(num, shifted) >= 0) {
      sub_mag_inplace(num, shifted);
      q |= u128{1} << bit;
    }
    shift_right_one(shifted);
  }
  return round_to_double(a.neg_ != b.neg_, q, a.exp2_ - b.exp2_ - k, !num.empty());
}

}  // namespace l2loss
