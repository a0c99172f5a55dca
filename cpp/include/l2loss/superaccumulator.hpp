// The exact, order-independent accumulator at the heart of every l2loss sum.
//
// A Neal-style "small superaccumulator" (arXiv 1505.05571): 67 signed 64-bit chunks,
// chunk j holding a digit worth 2^(32*j - 1074). Every finite double is an integer
// multiple of 2^-1074, so adding one is exact: its 53-bit significand lands in two
// adjacent chunks. A chunk receives at most 2^52 per add, so 2047 adds fit in an int64
// before carries must be propagated (kCarryInterval leaves a margin).
//
// The state is plain integers: merging two accumulators is integer addition, so the
// value never depends on the order of the adds, the number of threads or the chunking
// of a stream. After sacc_normalize() the representation is canonical (chunks 0..65 in
// [0, 2^32), the top chunk signed), so equal values give identical bytes.
//
// An all-zero object (value-initialised) is a valid empty accumulator: its zero carry
// budget makes the first add run sacc_normalize(), which sets the budget. So arrays of
// states obtained from value-initialisation need no explicit clearing.
//
// This header is included by the ISA kernel files, so it holds no inline functions and
// no STL (see STYLE.md, rule 2): the add itself lives in each ISA namespace, the rest in
// superaccumulator.cpp, compiled for the baseline target only.
#pragma once

#include <cstdint>

namespace l2loss {

struct Superaccumulator {
  static constexpr int kChunks = 67;
  static constexpr int kDigitBits = 32;
  static constexpr int kLowestExponent = -1074;  // chunk 0 digit weight is 2^-1074
  static constexpr int kCarryInterval = 2000;    // < 2^(63-52) adds between carries

  int64_t chunk[kChunks];
  int32_t adds_until_carry;
  int32_t reserved;  // keeps the struct size a multiple of 8 bytes
};

// Empties `acc`.
void sacc_clear(Superaccumulator& acc);
// Whether every digit is zero (true for an empty accumulator; a sum that cancelled to zero
// without normalisation may still have nonzero digits).
bool sacc_all_digits_zero(const Superaccumulator& acc);
// Propagates carries; afterwards chunks 0..65 lie in [0, 2^32) (canonical form).
void sacc_normalize(Superaccumulator& acc);
// into += from, exactly. Throws std::invalid_argument when the top digit of the sum would
// reach 2^62 in magnitude (only crafted states get there), leaving `into` unspecified.
void sacc_merge(Superaccumulator& into, const Superaccumulator& from);

}  // namespace l2loss
