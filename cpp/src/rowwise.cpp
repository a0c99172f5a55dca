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

namespace {

// Bits [from, from + 64) of the little-endian limbs q[0..n) (zero beyond them).
uint64_t bits_at(const uint64_t* q, int n, int64_t from) {
  const int64_t w = from >> 6, b = from & 63;
  const uint64_t lo = w < n ? q[w] : 0, hi = w + 1 < n ? q[w + 1] : 0;
  return b == 0 ? lo : (lo >> b) | (hi << (64 - b));
}

// Whether any of bits [0, below) of q is set.
bool any_below(const uint64_t* q, int n, int64_t below) {
  const int64_t w = below >> 6, b = below & 63;
  for (int64_t i = 0; i < std::min<int64_t>(w, n); ++i) {
    if (q[i] != 0) return true;
  }
  return b != 0 && w < n && (q[w] & ((uint64_t{1} << b) - 1)) != 0;
}

// Q * 2^scale (Q: the limbs q[0..n), not zero), plus a nonzero fraction below Q's last bit
// when `sticky`, rounded to nearest-even with `precision` bits, no bit below 2^lsb_min.
double round_bits(const uint64_t* q, int n, bool sticky, int64_t scale, int precision, int lsb_min, int max_exp) {
  while (q[n - 1] == 0) --n;
  // Top bit of the quotient Q, its exponent, and the exponent of the result's last bit.
  const int64_t top = int64_t{64} * (n - 1) + bit_length(q[n - 1]) - 1;
  const int64_t top_exp = top + scale;
  if (top_exp > max_exp + 1) return std::numeric_limits<double>::infinity();
  const int64_t lsb = std::max<int64_t>(top_exp - (precision - 1), lsb_min);
  const int64_t shift = lsb - scale;  // > 0: at least 64 - precision + 1 (the two spare limbs)
  uint64_t mant = 0;
  unsigned round = 0;
  if (shift <= top + 1) {
    mant = bits_at(q, n, shift) & ((uint64_t{1} << (top - shift + 1)) - 1);  // <= precision bits
    round = static_cast<unsigned>(bits_at(q, n, shift - 1) & 1u);
  } else if (shift - 1 == top + 1) {
    round = 0;  // the round bit is above the quotient's top: zero
  }
  if (shift - 1 <= top + 1) {
    sticky = sticky || any_below(q, n, shift - 1);
  } else {
    sticky = true;  // Q itself lies wholly below the round bit (and is not zero)
  }
  if (round && (sticky || (mant & 1u))) ++mant;  // nearest, ties to even
  const double v = std::ldexp(static_cast<double>(mant), static_cast<int>(lsb));  // mant <= 2^precision: exact
  if (std::isinf(v) || (v != 0.0 && std::ilogb(v) > max_exp)) return std::numeric_limits<double>::infinity();
  return v;
}

}  // namespace

double round_quotient(const uint64_t* limbs_in, int n_limbs, int64_t scale, uint64_t k, int precision, int lsb_min,
                      int max_exp) {
  if (k == 0 || n_limbs < 0 || n_limbs > kMaxLimbs - 2) throw std::invalid_argument("round_quotient: bad arguments");
  if (n_limbs <= 2) {
    // The common case, N < 2^128: shifted up so its top bit is bit 127, the quotient has
    // >= 64 bits (two hardware divisions; none when k is a power of two).
    u128 num = n_limbs == 0 ? 0 : limbs_in[0];
    if (n_limbs == 2) num |= static_cast<u128>(limbs_in[1]) << 64;
    if (num == 0) return 0.0;
    const int len = num >> 64 ? 64 + bit_length(static_cast<uint64_t>(num >> 64)) : bit_length(static_cast<uint64_t>(num));
    num <<= 128 - len;
    scale -= 128 - len;
    uint64_t rem = 0;
    if ((k & (k - 1)) == 0) {
      scale -= bit_length(k) - 1;
    } else {
      const uint64_t hi = div_128_by_64(0, static_cast<uint64_t>(num >> 64), k, rem);
      const uint64_t lo = div_128_by_64(rem, static_cast<uint64_t>(num), k, rem);
      num = (static_cast<u128>(hi) << 64) | lo;
    }
    const uint64_t words[2] = {static_cast<uint64_t>(num), static_cast<uint64_t>(num >> 64)};
    return round_bits(words, 2, rem != 0, scale, precision, lsb_min, max_exp);
  }
  // Two zero limbs below N: the quotient then has >= 64 bits more than precision needs,
  // and the remainder only decides the sticky bit.
  uint64_t q[kMaxLimbs];
  int n = n_limbs;
  while (n > 0 && limbs_in[n - 1] == 0) --n;
  if (n == 0) return 0.0;
  q[0] = q[1] = 0;
  for (int i = 0; i < n; ++i) q[i + 2] = limbs_in[i];
  n += 2;
  scale -= 128;
  uint64_t rem = 0;
  if (k != 1) {
    for (int i = n - 1; i >= 0; --i) q[i] = div_128_by_64(rem, q[i], k, rem);
  }
  return round_bits(q, n, rem != 0, scale, precision, lsb_min, max_exp);
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

// The usual row, in floating point: s + c = S exactly (TwoSum cascade; the condition below
// makes the errors' sum c exact), and the quotient q + z of S / k with its exact rounding
// residuals, from which the correctly rounded result R is taken when the residuals cannot
// move it across a rounding boundary. Returns false (take the exact path) otherwise, and
// for non-finite, subnormal or huge values -- a certification failure happens only
// within ~2^-40 ulp of a boundary (exact midpoints, constructed cases).
// 2^e for a normal-range e, from its bits (ldexp is a library call).
inline double pow2(int e) {
  const uint64_t bits = static_cast<uint64_t>(e + 1023) << 52;
  double v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}
// The exponent of a positive normal x (ilogb, inline), and whether x is a power of two.
inline int exponent_of(double x, bool& power_of_two) {
  uint64_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  power_of_two = (bits & ((uint64_t{1} << 52) - 1)) == 0;
  return static_cast<int>(bits >> 52) - 1023;
}

// TwoSum: a + b == s + err exactly.
inline double two_sum(double a, double b, double& err) {
  const double s = a + b, bb = s - a;
  err = (a - (s - bb)) + (b - bb);
  return s;
}

bool row_mean_fast(const double* terms, int64_t k, const RowFormat& f, double& result) {
  if (k > (int64_t{1} << 20)) return false;
  // Two TwoSum cascades (even and odd terms), so consecutive adds do not wait on each
  // other; their errors are summed in c (exact under the condition below).
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double s0 = 0.0, s1 = 0.0, c0 = 0.0, c1 = 0.0, tmin0 = kInf, tmin1 = kInf;
  int64_t j = 0;
  for (; j + 1 < k; j += 2) {  // branch-free: random terms would mispredict every compare
    const double t0 = terms[j], t1 = terms[j + 1];
    double e0, e1;
    s0 = two_sum(s0, t0, e0);
    s1 = two_sum(s1, t1, e1);
    c0 += e0;
    c1 += e1;
    tmin0 = std::min(tmin0, t0 > 0.0 ? t0 : kInf);
    tmin1 = std::min(tmin1, t1 > 0.0 ? t1 : kInf);
  }
  if (j < k) {
    const double t = terms[j];
    double e0;
    s0 = two_sum(s0, t, e0);
    c0 += e0;
    tmin0 = std::min(tmin0, t > 0.0 ? t : kInf);
  }
  const double tmin = std::min(tmin0, tmin1);
  double c = c0 + c1;  // exact under the condition below, like each part
  double e;
  const double s = two_sum(s0, s1, e);
  c += e;
  if (s == 0.0 && c == 0.0) {  // every term zero (a NaN makes s NaN)
    result = 0.0;
    return true;
  }
  // Finite, normal, far from overflow; then c is exact: every TwoSum error is a multiple of
  // 2^b, the last bit of the smallest nonzero term (2^(b+53) > tmin), and so is every partial
  // sum of c, while |c| <= (k + 1) ulp(S) / 2 <= (k + 1) 2^-53 S stays below 2^(b+53) --
  // guaranteed by (k + 1) S <= tmin 2^52. So s + c = S exactly.
  if (!(s < 0x1p1000) || !(tmin >= 0x1p-960) || s * static_cast<double>(k + 1) > tmin * 0x1p52) return false;
  const auto kd = static_cast<double>(k);
  const double q = s / kd;
  const double r = std::fma(-q, kd, s);  // exact (q = RN(s / k), no underflow)
  double g_err;
  const double g = two_sum(r, c, g_err);
  const double z = g / kd;
  const double r2 = std::fma(-z, kd, g);  // exact
  const double tail = std::fabs(r2 + g_err) / kd * 1.0001;  // bounds |(r2 + g_err) / k|
  // S / k = q + z + (r2 + g_err) / k exactly; q + z = t53 + h exactly.
  double h;
  const double t53 = two_sum(q, z, h);
  bool pow2_t;
  if (!(t53 >= 0x1p-1000)) return false;
  const int et = exponent_of(t53, pow2_t);
  if (f.precision == 53) {
    const double half_ulp = pow2(et - 53);
    // t53 a power of two: the ulp below it is smaller -- rare, left to the exact path.
    if (pow2_t || std::fabs(std::fabs(h) - half_ulp) <= tail + half_ulp * 0x1p-40) return false;
    result = t53;  // |h + tail| < half an ulp: t53 is the correctly rounded S / k
    return std::fabs(h) < half_ulp;
  }
  // float32: the nearest float to t53, and the midpoint on t53's side of it.
  const auto r32 = static_cast<float>(t53);
  const double rd = r32;
  if (!(rd >= 0x1p-120) || !(rd < 0x1p127)) return false;
  bool pow2_r;
  const double half_ulp32 = pow2(exponent_of(rd, pow2_r) - 24);
  if (pow2_r) return false;
  const double mid = t53 >= rd ? rd + half_ulp32 : rd - half_ulp32;
  const double dist = (t53 - mid) + h;  // t53 - mid exact (Sterbenz); + h: a tiny error
  if (std::fabs(dist) <= tail + half_ulp32 * 0x1p-40) return false;
  if ((t53 >= rd) != (dist < 0)) return false;  // S / k beyond the midpoint: the exact path decides
  result = rd;
  return true;
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
    const bool packed = y_true.col_stride == static_cast<int64_t>(sizeof(TY)) &&
                        y_pred.col_stride == static_cast<int64_t>(sizeof(TP)) &&
                        reinterpret_cast<uintptr_t>(y_true.data) % alignof(TY) == 0 &&
                        reinterpret_cast<uintptr_t>(y_pred.data) % alignof(TP) == 0 &&
                        y_true.row_stride % static_cast<int64_t>(alignof(TY)) == 0 &&
                        y_pred.row_stride % static_cast<int64_t>(alignof(TP)) == 0;
    parallel_reduce_rows(
        threads, n_rows, chunk, [&] { return std::vector<double>(static_cast<size_t>(n_cols)); },
        [&](std::vector<double>& terms, int64_t begin, int64_t count) {
          for (int64_t i = begin; i < begin + count; ++i) {
            const char* yr = y_true.data + i * y_true.row_stride;
            const char* pr = y_pred.data + i * y_pred.row_stride;
            if (packed) {  // contiguous rows: plain loads the compiler vectorises
              const TY* yv = reinterpret_cast<const TY*>(yr);
              const TP* pv = reinterpret_cast<const TP*>(pr);
              for (int64_t j = 0; j < n_cols; ++j) {
                const double d = to_double(pv[j]) - to_double(yv[j]);
                terms[static_cast<size_t>(j)] = d * d;
              }
            } else {
              for (int64_t j = 0; j < n_cols; ++j) {
                const double d =
                    load_element<TP>(pr + j * y_pred.col_stride) - load_element<TY>(yr + j * y_true.col_stride);
                terms[static_cast<size_t>(j)] = d * d;
              }
            }
            double m;
            if (!row_mean_fast(terms.data(), n_cols, f, m)) m = row_mean(terms.data(), n_cols, f);
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
