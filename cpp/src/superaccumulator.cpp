// Carry propagation, merge and zero test for the superaccumulator (baseline build only).
#include "l2loss/superaccumulator.hpp"

#include <cstring>
#include <stdexcept>

namespace l2loss {

bool sacc_all_digits_zero(const Superaccumulator& acc) {
  for (int64_t d : acc.chunk) {
    if (d != 0) return false;
  }
  return true;
}

void sacc_clear(Superaccumulator& acc) {
  std::memset(acc.chunk, 0, sizeof acc.chunk);
  acc.adds_until_carry = Superaccumulator::kCarryInterval;
  acc.reserved = 0;
}

void sacc_normalize(Superaccumulator& acc) {
  int64_t carry = 0;
  for (int j = 0; j < Superaccumulator::kChunks - 1; ++j) {
    const int64_t v = acc.chunk[j] + carry;
    carry = v >> Superaccumulator::kDigitBits;  // arithmetic shift: floor division
    acc.chunk[j] = v - carry * (int64_t{1} << Superaccumulator::kDigitBits);
  }
  acc.chunk[Superaccumulator::kChunks - 1] += carry;
  acc.adds_until_carry = Superaccumulator::kCarryInterval;
}

void sacc_merge(Superaccumulator& into, const Superaccumulator& from) {
  Superaccumulator f = from;
  sacc_normalize(f);
  sacc_normalize(into);
  for (int j = 0; j < Superaccumulator::kChunks - 1; ++j) into.chunk[j] += f.chunk[j];  // < 2^33
  // The top digit is signed and unbounded: real sums keep it below 2^50, but states read
  // from bytes could be crafted to overflow it.
  // Bound: |top| < 2^62, what deserialize() accepts. Checked on the sum of the top digits
  // (so the normalisation below cannot overflow) and again after it, because the carry
  // out of the lower digits can still add one. On failure `into` is left normalised but
  // possibly modified: merge_into() works on a copy.
  constexpr int64_t kBound = int64_t{1} << 62;
  constexpr int kTop = Superaccumulator::kChunks - 1;
  int64_t top;
  if (__builtin_add_overflow(into.chunk[kTop], f.chunk[kTop], &top) || top >= kBound || top <= -kBound) {
    throw std::invalid_argument("l2loss: merged sum exceeds the superaccumulator's range");
  }
  into.chunk[kTop] = top;
  sacc_normalize(into);
  if (into.chunk[kTop] >= kBound) {
    throw std::invalid_argument("l2loss: merged sum exceeds the superaccumulator's range");
  }
}

}  // namespace l2loss
