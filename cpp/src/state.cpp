// Streaming: merging and (de)serialising reduce() results, which are exact states.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "l2loss/engine.hpp"

namespace l2loss {

// ---- ColumnSums: compact per-column accumulators ----------------------------------------

namespace {

// Offset of accumulator k's header word in the digit store (k must be present or be the
// insertion point: the words of the present accumulators below k).
size_t offset_of(const std::vector<int64_t>& digits, uint32_t present, int k) {
  size_t at = 0;
  for (uint32_t below = present & ((1u << k) - 1u); below != 0; below &= below - 1) {
    at += 1 + static_cast<size_t>(digits[at] >> 8);
  }
  return at;
}

// The canonical digits of `a`: [lo, lo + count) holds every nonzero digit.
void nonzero_range(Superaccumulator& a, int& lo, int& count) {
  sacc_normalize(a);
  int l = 0, h = Superaccumulator::kChunks;
  while (l < h && a.chunk[l] == 0) ++l;
  while (h > l && a.chunk[h - 1] == 0) --h;
  lo = l;
  count = h - l;
}

}  // namespace

Superaccumulator ColumnSums::get(int k) const {
  Superaccumulator a{};
  if (!has(k)) return a;
  const size_t at = offset_of(digits_, present_, k);
  const int lo = static_cast<int>(digits_[at] & 0xFF), count = static_cast<int>(digits_[at] >> 8);
  for (int j = 0; j < count; ++j) a.chunk[lo + j] = digits_[at + 1 + static_cast<size_t>(j)];
  a.adds_until_carry = Superaccumulator::kCarryInterval;  // canonical digits: a full carry budget
  return a;
}

ExactNumber ColumnSums::exact(int k) const {
  if (!has(k)) return ExactNumber{};
  const size_t at = offset_of(digits_, present_, k);
  const int lo = static_cast<int>(digits_[at] & 0xFF), count = static_cast<int>(digits_[at] >> 8);
  return ExactNumber::from_canonical_digits(digits_.data() + at + 1, lo, count);
}

void ColumnSums::set(int k, const Superaccumulator& value) {
  Superaccumulator a = value;
  int lo = 0, count = 0;
  nonzero_range(a, lo, count);
  clear(k);
  const size_t at = offset_of(digits_, present_, k);
  digits_.insert(digits_.begin() + static_cast<std::ptrdiff_t>(at), 1 + static_cast<size_t>(count), 0);
  digits_[at] = lo | (static_cast<int64_t>(count) << 8);
  for (int j = 0; j < count; ++j) digits_[at + 1 + static_cast<size_t>(j)] = a.chunk[lo + j];
  present_ |= 1u << k;
}

void ColumnSums::add(int k, const Superaccumulator& a) {
  if (!has(k)) {
    set(k, a);
    return;
  }
  Superaccumulator sum = get(k);
  sacc_merge(sum, a);  // may throw: the column is untouched until set()
  set(k, sum);
}

void ColumnSums::clear(int k) {
  if (!has(k)) return;
  const size_t at = offset_of(digits_, present_, k);
  const auto end = at + 1 + static_cast<size_t>(digits_[at] >> 8);
  digits_.erase(digits_.begin() + static_cast<std::ptrdiff_t>(at), digits_.begin() + static_cast<std::ptrdiff_t>(end));
  present_ &= ~(1u << k);
}

ReduceResult empty_state(int64_t n_cols, uint32_t sums) {
  if (n_cols < 1) throw std::invalid_argument("l2loss: a state needs at least one column");
  ReduceResult r;
  r.n_cols = n_cols;
  r.sums = sums;
  r.columns.resize(static_cast<size_t>(n_cols));
  return r;
}

namespace {

// Row counts a state may hold: what deserialize() accepts, and what merge_into() allows.
constexpr int64_t kMaxStateRows = int64_t{1} << 62;

// Adds a row count to a weight superaccumulator exactly (counts may exceed 2^53).
void add_count(Superaccumulator& acc, int64_t n) {
  const auto hi = static_cast<double>(n >> 32) * 4294967296.0;  // exact: < 2^63
  const auto lo = static_cast<double>(n & 0xFFFFFFFF);
  scalar::sacc_add_double(acc, hi);
  scalar::sacc_add_double(acc, lo);
}

double merge_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  return std::max(a, b);
}

}  // namespace

void merge_into(ReduceResult& into, const ReduceResult& from) {
  if (into.n_cols != from.n_cols) {
    throw std::invalid_argument("l2loss: cannot merge states with " + std::to_string(into.n_cols) + " and " +
                                std::to_string(from.n_cols) + " outputs");
  }
  if (into.sums != from.sums) throw std::invalid_argument("l2loss: cannot merge states of different sums");
  // The reader's bound, so that a merged state can always be read back (deserialize()).
  if (from.n_rows > kMaxStateRows - into.n_rows) {
    throw std::invalid_argument("l2loss: merged row count exceeds " + std::to_string(kMaxStateRows));
  }
  // A merge either succeeds or leaves `into` untouched: sacc_merge can still throw (a
  // crafted state whose sums would leave the superaccumulator's range), so the work is
  // done on a copy that replaces `into` only at the end. `from` may alias `into`.
  ReduceResult merged = into;
  if (merged.weighted != from.weighted && !merged.weighted) {
    // Promote the unweighted side: its weight total is its row count.
    add_count(merged.weight_sum, merged.n_rows);
    merged.weighted = true;
  }
  if (merged.weighted) {
    if (from.weighted) {
      sacc_merge(merged.weight_sum, from.weight_sum);
    } else {
      add_count(merged.weight_sum, from.n_rows);
    }
  }
  merged.n_rows += from.n_rows;
  for (size_t c = 0; c < merged.columns.size(); ++c) {
    ColumnSums& dst = merged.columns[c];
    const ColumnSums& src = from.columns[c];
    for (int k = 0; k < kNumAccs; ++k) {
      if (src.has(k)) dst.add(k, src.get(k));
      dst.term_flags[k] |= src.term_flags[k];
    }
    dst.max_abs = merge_max(dst.max_abs, src.max_abs);
  }
  merged.input_flags |= from.input_flags;
  merged.careful = merged.careful || from.careful;
  merged.weight_term_flags |= from.weight_term_flags;
  merged.threads_used = std::max(merged.threads_used, from.threads_used);
  into = std::move(merged);
}

namespace {

constexpr uint8_t kMagic[4] = {'L', '2', 'S', 'T'};
constexpr int kTop = Superaccumulator::kChunks - 1;
constexpr uint8_t kFormatVersion = 1;

class Writer {
 public:
  template <class T>
  void put(T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (checked at compile time)
    out.insert(out.end(), b, b + sizeof(T));
  }
  // Sign byte, then the magnitude's non-zero digit range: 32-bit digits (the top chunk,
  // which can exceed 32 bits only for sums beyond 2^1038, as int64).
  void put_acc(const Superaccumulator& acc) {
    Superaccumulator a = acc;
    sacc_normalize(a);
    const bool negative = a.chunk[kTop] < 0;
    if (negative) {
      for (int64_t& c : a.chunk) c = -c;
      sacc_normalize(a);
    }
    int lo = 0, hi = Superaccumulator::kChunks;
    while (lo < hi && a.chunk[lo] == 0) ++lo;
    while (hi > lo && a.chunk[hi - 1] == 0) --hi;
    put<uint8_t>(negative ? 1 : 0);
    put<uint8_t>(static_cast<uint8_t>(lo));
    put<uint8_t>(static_cast<uint8_t>(hi - lo));
    for (int j = lo; j < hi; ++j) {
      if (j == kTop) {
        put<int64_t>(a.chunk[j]);
      } else {
        put<uint32_t>(static_cast<uint32_t>(a.chunk[j]));
      }
    }
  }
  std::vector<uint8_t> out;
};

class Reader {
 public:
  Reader(const uint8_t* d, size_t n) : data(d), size(n) {}
  template <class T>
  T get() {
    if (size - pos < sizeof(T)) throw std::invalid_argument("l2loss state: truncated data");
    T v;
    std::memcpy(&v, data + pos, sizeof(T));
    pos += sizeof(T);
    return v;
  }
  void get_acc(Superaccumulator& acc) {
    const uint8_t negative = get<uint8_t>();
    const int lo = get<uint8_t>();
    const int count = get<uint8_t>();
    if (negative > 1 || lo + count > Superaccumulator::kChunks) {
      throw std::invalid_argument("l2loss state: bad accumulator");
    }
    std::memset(acc.chunk, 0, sizeof acc.chunk);
    for (int j = lo; j < lo + count; ++j) {
      if (j == kTop) {
        acc.chunk[j] = get<int64_t>();
        // Real sums keep the top digit far below 2^50; anything near 2^63 would overflow
        // when states are merged.
        if (acc.chunk[j] < 0 || acc.chunk[j] >= (int64_t{1} << 62)) {
          throw std::invalid_argument("l2loss state: bad accumulator digit");
        }
      } else {
        acc.chunk[j] = get<uint32_t>();
      }
    }
    if (count == 0 && lo != Superaccumulator::kChunks) {
      throw std::invalid_argument("l2loss state: non-canonical accumulator");  // zero is written as (67, 0)
    }
    if (count > 0 && (acc.chunk[lo] == 0 || acc.chunk[lo + count - 1] == 0)) {
      throw std::invalid_argument("l2loss state: non-canonical accumulator");  // serialize() trims
    }
    if (negative) {
      if (count == 0) throw std::invalid_argument("l2loss state: negative zero accumulator");
      for (int64_t& c : acc.chunk) c = -c;
    }
    acc.adds_until_carry = 0;  // next add (or merge) normalises
  }
  bool done() const { return pos == size; }

 private:
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
};

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "state encoding assumes a little-endian host");

}  // namespace

std::vector<uint8_t> serialize(const ReduceResult& r) {
  Writer w;
  for (uint8_t m : kMagic) w.put<uint8_t>(m);
  w.put<uint8_t>(kFormatVersion);
  w.put<uint8_t>(static_cast<uint8_t>((r.weighted ? 1 : 0) | (r.careful ? 2 : 0)));
  w.put<uint8_t>(r.weight_term_flags);
  w.put<uint8_t>(0);
  w.put<uint32_t>(r.sums);
  w.put<uint32_t>(r.input_flags);
  w.put<int64_t>(r.n_rows);
  w.put<int64_t>(r.n_cols);
  w.put_acc(r.weight_sum);
  for (const ColumnSums& c : r.columns) {
    w.put<double>(c.max_abs);
    for (uint8_t f : c.term_flags) w.put<uint8_t>(f);
    for (int k = 0; k < kNumAccs; ++k) w.put_acc(c.get(k));
  }
  return std::move(w.out);
}

namespace {

// The reader proper. With store == false it validates the whole encoding but reads every
// column into one scratch column, so that nothing it allocates depends on the sizes the
// data declares; with store == true it fills the result's columns.
ReduceResult parse_state(const uint8_t* data, size_t size, bool store) {
  Reader rd(data, size);
  for (uint8_t m : kMagic) {
    if (rd.get<uint8_t>() != m) throw std::invalid_argument("l2loss state: not an l2loss state");
  }
  const uint8_t version = rd.get<uint8_t>();
  if (version != kFormatVersion) {
    throw std::invalid_argument("l2loss state: unsupported format version " + std::to_string(version));
  }
  ReduceResult r;
  const uint8_t flags = rd.get<uint8_t>();
  if (flags & ~3u) throw std::invalid_argument("l2loss state: bad flags");
  r.weighted = flags & 1;
  r.careful = flags & 2;
  r.weight_term_flags = rd.get<uint8_t>();
  if (rd.get<uint8_t>() != 0) throw std::invalid_argument("l2loss state: bad reserved byte");
  r.sums = rd.get<uint32_t>();
  r.input_flags = rd.get<uint32_t>();
  r.n_rows = rd.get<int64_t>();
  r.n_cols = rd.get<int64_t>();
  // Each column takes at least 8 + kNumAccs * 4 bytes: bound n_cols by the data size.
  constexpr int64_t kMinColumnBytes = 8 + kNumAccs * 4;
  if (r.n_rows < 0 || r.n_rows > kMaxStateRows || r.n_cols < 1 ||
      r.n_cols > static_cast<int64_t>(size) / kMinColumnBytes) {
    throw std::invalid_argument("l2loss state: bad shape");
  }
  rd.get_acc(r.weight_sum);
  ColumnSums scratch;
  Superaccumulator acc;
  if (store) r.columns.resize(static_cast<size_t>(r.n_cols));
  for (int64_t j = 0; j < r.n_cols; ++j) {
    ColumnSums& c = store ? r.columns[static_cast<size_t>(j)] : scratch;
    c.max_abs = rd.get<double>();
    for (uint8_t& f : c.term_flags) f = rd.get<uint8_t>();
    for (int k = 0; k < kNumAccs; ++k) {
      rd.get_acc(acc);
      if (store && !sacc_all_digits_zero(acc)) c.set(k, acc);  // zero stays absent: the encoding is canonical
    }
  }
  if (!rd.done()) throw std::invalid_argument("l2loss state: trailing bytes");
  return r;
}

}  // namespace

ReduceResult deserialize(const uint8_t* data, size_t size) {
  // Validate first, allocate after. A column is ~9 KB in memory but can be as short as
  // 8 + 4 * kNumAccs = 76 bytes in the encoding, so allocating the declared columns up
  // front let a crafted blob cost ~120x its size before the error was found (issue #14:
  // a 64 MiB blob took 8 GiB). The validating pass allocates nothing that depends on the
  // data; only a blob known to be valid gets its columns.
  parse_state(data, size, /*store=*/false);
  return parse_state(data, size, /*store=*/true);
}

}  // namespace l2loss
