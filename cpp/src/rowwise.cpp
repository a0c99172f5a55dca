// Row-wise outputs (rowwise.hpp).
//
// A row's terms t_j = fl(d_j^2) are non-negative doubles: each is m_j * 2^e_j with a
// 53-bit integer m_j. When the row's terms span less than ~2^60 (the usual case) their
// exact sum is a 128-bit integer N times 2^e_min, accumulated with integer adds; the mean
// N / k is then rounded once (round_quotient). Rows with a wider span, or non-finite
// terms, take the superaccumulator (the same exact sum, slower).
#include "l2loss/rowwise.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "l2loss/element_types.hpp"
#include "parallel.hpp"

namespace l2loss {
namespace {

using u128 = unsigned __int128;
constexpr int kMaxLimbs = 40;  // a superaccumulator's 67 x 32 digits, plus the shift room

// (hi:lo) / d with hi < d: quotient and remainder (x86-64 divq; a portable loop otherwise).
inline uint64_t div_128_by_64(uint64_t hi, uint64_t lo, uint64_t d, uint64_t& rem) {
#if defined(__x86_64__)
  uint64_t q, r;
  __asm__("divq %4" : "=a"(q), "=d"(r) : "a"(lo), "d"(hi), "rm"(d));
  rem = r;
  return q;
#else
  const u128 n = (static_cast<u128>(hi) << 64) | lo;
  rem = static_cast<uint64_t>(n % d);
  return static_cast<uint64_t>(n / d);
#endif
}

int bit_length(uint64_t x) { return x ? 64 - __builtin_clzll(x) : 0; }

}  // namespace

double round_quotient(const uint64_t* limbs_in, int n_limbs, int64_t scale, uint64_t k, int precision, int lsb_min,
                      int max_exp) {
  if (k == 0 || n_limbs < 0 || n_limbs > kMaxLimbs - 2) throw std::invalid_argument("round_quotient: bad arguments");
  // Two zero limbs below N: the quotient then has >= 64 bits more than precision needs,
  // and the remainder only decides the sticky bit.
  uint64_t q[kMaxLimbs] = {};
  int n = n_limbs + 2;
  for (int i = 0; i < n_limbs; ++i) q[i + 2] = limbs_in[i];
  scale -= 128;
  while (n > 0 && q[n - 1] == 0) --n;
  if (n == 0) return 0.0;
  uint64_t rem = 0;
  for (int i = n - 1; i >= 0; --i) q[i] = div_128_by_64(rem, q[i], k, rem);
  bool sticky = rem != 0;
  while (n > 0 && q[n - 1] == 0) --n;
  // Top bit of the quotient Q, its exponent, and the exponent of the result's last bit.
  const int64_t top = int64_t{64} * (n - 1) + bit_length(q[n - 1]) - 1;
  const int64_t top_exp = top + scale;
  if (top_exp > max_exp + 1) return std::numeric_limits<double>::infinity();
  const int64_t lsb = std::max<int64_t>(top_exp - (precision - 1), lsb_min);
  const int64_t shift = lsb - scale;  // >= 64 - precision + 1 > 0 (the two spare limbs)
  // mantissa = Q >> shift (at most precision + 1 bits), round bit, sticky bits.
  auto bit = [&](int64_t i) { return i < 0 || i >= 64 * n ? 0u : static_cast<unsigned>((q[i / 64] >> (i % 64)) & 1u); };
  uint64_t mant = 0;
  for (int64_t i = top; i >= shift; --i) mant = (mant << 1) | bit(i);
  const unsigned round = bit(shift - 1);
  const int64_t full_words = std::min<int64_t>((shift - 1) / 64, n);  // words wholly below the round bit
  for (int64_t w = 0; w < full_words && !sticky; ++w) sticky = q[w] != 0;
  for (int64_t i = full_words * 64; i < shift - 1 && i < 64 * n && !sticky; ++i) sticky = bit(i) != 0;
  if (round && (sticky || (mant & 1u))) ++mant;  // nearest, ties to even
  const double v = std::ldexp(static_cast<double>(mant), static_cast<int>(lsb));  // mant <= 2^precision: exact
  if (std::isinf(v) || std::ilogb(v) > max_exp) return std::numeric_limits<double>::infinity();
  return v;
}

namespace {

struct RowFormat {
  int precision, lsb_min, max_exp;
};
constexpr RowFormat kDouble{53, -1074, 1023};
constexpr RowFormat kFloat{24, -149, 127};

// The exact path: superaccumulator digits -> limbs -> round_quotient.
double row_mean_exact(const double* terms, int64_t k, const RowFormat& f) {
  Superaccumulator acc;
  sacc_clear(acc);
  for (int64_t j = 0; j < k; ++j) scalar::sacc_add_double(acc, terms[j]);
  sacc_normalize(acc);  // non-negative terms: chunks 0..66 are the digits of N (2^-1074 units)
  uint64_t limbs[kMaxLimbs] = {};
  int n = 0;
  for (int c = 0; c < Superaccumulator::kChunks; ++c) {
    const auto digit = static_cast<uint64_t>(acc.chunk[c]);  // >= 0 for a non-negative sum
    const int at = c * 32;
    limbs[at / 64] |= digit << (at % 64);
    if (at % 64 != 0 && (digit >> (64 - at % 64)) != 0) limbs[at / 64 + 1] |= digit >> (64 - at % 64);
    n = std::max(n, at / 64 + 2);
  }
  n = std::min(n, kMaxLimbs - 2);
  return round_quotient(limbs, n, -1074, static_cast<uint64_t>(k), f.precision, f.lsb_min, f.max_exp);
}

// One row: terms[0..k) finite or not; the correctly rounded mean.
double row_mean(const double* terms, int64_t k, const RowFormat& f) {
  int emin = std::numeric_limits<int>::max(), emax = std::numeric_limits<int>::min();
  bool nan = false, inf = false;
  for (int64_t j = 0; j < k; ++j) {
    const double t = terms[j];
    if (!(t <= std::numeric_limits<double>::max())) {  // NaN or +inf (terms are >= 0)
      nan = nan || std::isnan(t);
      inf = inf || std::isinf(t);
      continue;
    }
    if (t == 0.0) continue;
    uint64_t bits;
    std::memcpy(&bits, &t, sizeof bits);
    const int biased = static_cast<int>(bits >> 52);  // sign bit clear
    const int e = (biased == 0 ? 1 : biased) - 1075;  // exponent of the mantissa's last bit
    emin = std::min(emin, e);
    emax = std::max(emax, e);
  }
  if (nan) return std::numeric_limits<double>::quiet_NaN();
  if (inf) return std::numeric_limits<double>::infinity();
  if (emax == std::numeric_limits<int>::min()) return 0.0;
  // N < k * 2^(53 + emax - emin) must fit in 128 bits.
  if (emax - emin + 53 + bit_length(static_cast<uint64_t>(k)) > 127) return row_mean_exact(terms, k, f);
  u128 sum = 0;
  for (int64_t j = 0; j < k; ++j) {
    const double t = terms[j];
    if (t == 0.0) continue;
    uint64_t bits;
    std::memcpy(&bits, &t, sizeof bits);
    const int biased = static_cast<int>(bits >> 52);
    const uint64_t mant = (bits & ((uint64_t{1} << 52) - 1)) | (biased ? uint64_t{1} << 52 : 0);
    sum += static_cast<u128>(mant) << ((biased == 0 ? 1 : biased) - 1075 - emin);
  }
  const uint64_t limbs[2] = {static_cast<uint64_t>(sum), static_cast<uint64_t>(sum >> 64)};
  return round_quotient(limbs, 2, emin, static_cast<uint64_t>(k), f.precision, f.lsb_min, f.max_exp);
}

// Rows handed out per grab (rows are independent: any split gives the same bits).
constexpr int64_t kRowChunkElements = 1 << 15;

}  // namespace

void row_mean_squares(const Operand& y_true, const Operand& y_pred, int64_t n_rows, int64_t n_cols, char* out,
                      int64_t out_stride, bool out_float32, int num_threads) {
  if (n_rows < 0 || n_cols < 1) throw std::invalid_argument("l2loss: bad shape");
  if (!operands_supported(y_true.dtype, y_pred.dtype)) {
    throw std::invalid_argument("l2loss: float32/float64 operands, or two float16 (or two bfloat16) operands");
  }
  if (n_rows == 0) return;
  const RowFormat& f = out_float32 ? kFloat : kDouble;
  const int threads = threads_for_call(num_threads, n_rows * n_cols, int64_t{1} << 14);
  const int64_t chunk = std::max<int64_t>(1, kRowChunkElements / n_cols);
  visit_operands(y_true.dtype, y_pred.dtype, [&](auto ty, auto tp) {
    using TY = typename decltype(ty)::type;
    using TP = typename decltype(tp)::type;
    parallel_reduce_rows(
        threads, n_rows, chunk, [&] { return std::vector<double>(static_cast<size_t>(n_cols)); },
        [&](std::vector<double>& terms, int64_t begin, int64_t count) {
          for (int64_t i = begin; i < begin + count; ++i) {
            const char* yr = y_true.data + i * y_true.row_stride;
            const char* pr = y_pred.data + i * y_pred.row_stride;
            for (int64_t j = 0; j < n_cols; ++j) {
              const double d = load_element<TP>(pr + j * y_pred.col_stride) - load_element<TY>(yr + j * y_true.col_stride);
              terms[static_cast<size_t>(j)] = d * d;
            }
            const double m = row_mean(terms.data(), n_cols, f);
            char* o = out + i * out_stride;
            if (out_float32) {
              const auto v = static_cast<float>(m);  // exact: m has float precision and range
              std::memcpy(o, &v, sizeof v);
            } else {
              std::memcpy(o, &m, sizeof m);
            }
          }
        },
        [](std::vector<double>&) {}, [](std::vector<double>&) {});
  });
}

}  // namespace l2loss
