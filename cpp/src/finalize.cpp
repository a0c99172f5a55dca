// Finalisers: exact sums -> correctly rounded metric values (means, R^2 and explained
// variance pieces, exact weighted averages across outputs).
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <stdexcept>
#include <utility>

#include "l2loss/engine.hpp"
#include "l2loss/target_moments.hpp"

namespace l2loss {
namespace {

double apply_term_flags(uint8_t flags, double finite_value) {
  const double inf = std::numeric_limits<double>::infinity();
  if ((flags & kTermNaN) || ((flags & kTermPosInf) && (flags & kTermNegInf))) {
    return std::numeric_limits<double>::quiet_NaN();
  }
  if (flags & kTermPosInf) return inf;
  if (flags & kTermNegInf) return -inf;
  return finite_value;
}

ExactNumber column_exact(const ReduceResult& r, int acc, int64_t col) {
  return r.columns.at(static_cast<size_t>(col)).exact(acc);
}

// Exact totals of the quantities whose terms are split by order of magnitude.
ExactNumber exact_sq(const ReduceResult& r, int64_t col) {
  return column_exact(r, kAccSq, col) + column_exact(r, kAccSqLo, col) + column_exact(r, kAccSqLo2, col);
}
ExactNumber exact_diff(const ReduceResult& r, int64_t col) {
  return column_exact(r, kAccDiff, col) + column_exact(r, kAccDiffLo, col);
}
// sum over (accumulator, power of two): the accumulators' exact values scaled.
ExactNumber scaled_sum(const ReduceResult& r, int64_t col, std::initializer_list<std::pair<int, int>> parts) {
  const ColumnSums& c = r.columns.at(static_cast<size_t>(col));
  ExactNumber total;
  for (const auto& [acc, exp2] : parts) {
    // An accumulator the pass never touched is skipped without building an ExactNumber.
    if (c.has(acc)) total = total + c.exact(acc).scaled(exp2);
  }
  return total;
}
// Passes that sum y keep the parts of exact target terms beyond the superaccumulator's
// range in scaled accumulators (target_moments.hpp); in exact=True passes those
// accumulators belong to the squares.
bool has_scaled_target_parts(const ReduceResult& r) { return (r.sums & kSumSqExact) == 0; }
ExactNumber exact_y(const ReduceResult& r, int64_t col) {
  const ExactNumber total = column_exact(r, kAccY, col) + column_exact(r, kAccYLo, col);
  if (!has_scaled_target_parts(r)) return total;
  return total + scaled_sum(r, col, {{kAccYScaledM1, -kTargetScaleStep}, {kAccYScaledP1, kTargetScaleStep}});
}
ExactNumber exact_y2(const ReduceResult& r, int64_t col) {
  const ExactNumber total =
      column_exact(r, kAccY2, col) + column_exact(r, kAccY2Lo, col) + column_exact(r, kAccY2Lo2, col);
  if (!has_scaled_target_parts(r)) return total;
  return total + scaled_sum(r, col,
                            {{kAccY2ScaledM2, -2 * kTargetScaleStep},
                             {kAccY2ScaledM1, -kTargetScaleStep},
                             {kAccY2ScaledP1, kTargetScaleStep}});
}
uint8_t flags_of(const ColumnSums& c, std::initializer_list<int> accs) {
  uint8_t f = 0;
  for (int k : accs) f |= c.term_flags[k];
  return f;
}

// A "quantity" is what an accumulator index stands for in the public API: the exact
// sum for diff, y and y^2 (hi + remainders); for squares and absolute values it is the
// sum of the rounded terms (the MSE/MAE contract), so the index alone.
// exact=True: every order and every scaled accumulator of the exact squares.
ExactNumber exact_squares(const ReduceResult& r, int64_t col) {
  ExactNumber total;
  for (int k : {kAccSq, kAccSqLo, kAccSqLo2, kAccSqLo3}) total = total + column_exact(r, k, col);
  const struct {
    int acc;
    int m;
  } scaled[] = {{kAccScaledM2, -2}, {kAccScaledM1, -1}, {kAccScaledP1, 1}, {kAccScaledP2, 2}};
  for (const auto& sc : scaled) {
    total = total + column_exact(r, sc.acc, col).scaled(kScaleStep * sc.m);
  }
  return total;
}

ExactNumber quantity_exact(const ReduceResult& r, int acc, int64_t col) {
  if (acc == kAccSq && (r.sums & kSumSqExact)) return exact_squares(r, col);
  switch (acc) {
    case kAccDiff: return exact_diff(r, col);
    case kAccY: return exact_y(r, col);
    case kAccY2: return exact_y2(r, col);
    default: return column_exact(r, acc, col);
  }
}
uint8_t quantity_flags(const ReduceResult& r, int acc, int64_t col) {
  const ColumnSums& c = r.columns.at(static_cast<size_t>(col));
  if (acc == kAccSq && (r.sums & kSumSqExact)) {
    return flags_of(c, {kAccSq, kAccSqLo, kAccSqLo2, kAccSqLo3, kAccScaledM2, kAccScaledM1, kAccScaledP1,
                        kAccScaledP2});
  }
  switch (acc) {
    case kAccDiff: return flags_of(c, {kAccDiff, kAccDiffLo});
    case kAccY: return flags_of(c, {kAccY, kAccYLo});
    case kAccY2: return flags_of(c, {kAccY2, kAccY2Lo, kAccY2Lo2});
    default: return c.term_flags[acc];
  }
}

}  // namespace

ExactNumber weight_total(const ReduceResult& r) {
  if (!r.weighted) return ExactNumber::from_uint(static_cast<uint64_t>(r.n_rows));
  return ExactNumber::from_accumulator(r.weight_sum);
}

bool weight_total_is_zero(const ReduceResult& r) {
  return r.weight_term_flags == 0 && weight_total(r).is_zero();
}

double column_total(const ReduceResult& r, int acc, int64_t col) {
  const uint8_t flags = quantity_flags(r, acc, col);
  return apply_term_flags(flags, flags ? 0.0 : quantity_exact(r, acc, col).to_double());
}

namespace {

ExactNumber grand_exact(const ReduceResult& r, int acc, uint8_t& flags) {
  ExactNumber total;
  flags = 0;
  for (int64_t c = 0; c < r.n_cols; ++c) {
    flags |= quantity_flags(r, acc, c);
    total = total + quantity_exact(r, acc, c);
  }
  return total;
}

}  // namespace

double grand_total(const ReduceResult& r, int acc) {
  uint8_t flags;
  const ExactNumber total = grand_exact(r, acc, flags);
  return apply_term_flags(flags, flags ? 0.0 : total.to_double());
}

double grand_mean(const ReduceResult& r, int acc) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  uint8_t flags;
  const ExactNumber total = grand_exact(r, acc, flags);
  if (r.weight_term_flags) return nan;
  const ExactNumber denom = weight_total(r) * ExactNumber::from_uint(static_cast<uint64_t>(r.n_cols));
  if (denom.is_zero()) {
    // sum/0 like IEEE (torch has no guard): nan for 0/0, +-inf otherwise.
    if (flags || total.is_zero()) return nan;
    return total.is_negative() ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (flags) {
    const double v = apply_term_flags(flags, 0.0);
    return denom.is_negative() ? -v : v;
  }
  return divide(total, denom);
}

double column_root_mean(const ReduceResult& r, int acc, int64_t col) {
  const double mean = column_mean(r, acc, col);
  if (quantity_flags(r, acc, col) || std::isnan(mean) || mean < 0.0) return std::sqrt(mean);
  const ExactNumber s0 = quantity_exact(r, acc, col);
  if (s0.is_zero()) return 0.0;
  const ExactNumber w = weight_total(r);
  // Work with Q * 4^k in the normal range (the exact mean may overflow a double, or be
  // subnormal with too few bits), then scale the root back by 2^-k exactly.
  int64_t k = 0;
  ExactNumber s = s0;
  double m = mean;
  for (int guard = 0; guard < 32 && !std::isnormal(m); ++guard) {
    k += std::isinf(m) ? -256 : 256;
    s = s0.scaled(2 * k);
    m = divide(s, w);
  }
  // sqrt(fl(Q')) can be one ulp away from the correctly rounded sqrt(Q'): compare Q' with
  // the squared rounding midpoints exactly and step until x is the nearest double (ties
  // to even).
  // sign of Q' - m^2 for the midpoint m = (a + b) / 2 of two adjacent doubles. m needs 54
  // bits, so it is formed exactly, never as a double.
  auto compare = [&](double a, double b) {
    const ExactNumber mm = (ExactNumber::from_double(a) + ExactNumber::from_double(b)).scaled(-1);
    const ExactNumber diff = s - mm * mm * w;
    if (diff.is_zero()) return 0;
    return diff.is_negative() != w.is_negative() ? -1 : 1;
  };
  auto odd = [](double v) {
    uint64_t b;
    std::memcpy(&b, &v, sizeof b);
    return (b & 1) != 0;
  };
  double x = std::sqrt(m);
  for (int guard = 0; guard < 4; ++guard) {
    const double lo = std::nextafter(x, 0.0), hi = std::nextafter(x, std::numeric_limits<double>::infinity());
    const int c_lo = compare(lo, x);
    const int c_hi = compare(x, hi);
    if (c_lo < 0 || (c_lo == 0 && odd(x))) {
      x = lo;
    } else if (c_hi > 0 || (c_hi == 0 && odd(x))) {
      x = hi;
    } else {
      break;
    }
  }
  return std::ldexp(x, static_cast<int>(-k));  // exact: the root of a normal-range Q is normal
}

namespace {

// The exact quantities of one column, each built from its accumulators at most once (a
// report needs y and y^2 for both R^2 and explained variance, the difference for the
// bias and explained variance: building them twice was most of a small report's cost).
class ColumnValues {
 public:
  ColumnValues(const ReduceResult& r, int64_t col) : r_(r), col_(col), c_(r.columns.at(static_cast<size_t>(col))) {}
  const ColumnSums& sums() const { return c_; }
  const ExactNumber& w() { return get(w_, [&] { return weight_total(r_); }); }
  const ExactNumber& quantity(int acc) {
    switch (acc) {
      case kAccSq: return get(sq_, [&] { return quantity_exact(r_, kAccSq, col_); });
      case kAccAbs: return get(abs_, [&] { return quantity_exact(r_, kAccAbs, col_); });
      case kAccDiff: return diff();
      case kAccY: return y();
      case kAccY2: return y2();
      default:  // any other accumulator: cached under its index (one at a time)
        if (other_acc_ != acc) {
          other_.ready = false;
          other_acc_ = acc;
        }
        return get(other_, [&] { return quantity_exact(r_, acc, col_); });
    }
  }
  const ExactNumber& diff() { return get(diff_, [&] { return exact_diff(r_, col_); }); }
  const ExactNumber& y() { return get(y_, [&] { return exact_y(r_, col_); }); }
  const ExactNumber& y2() { return get(y2_, [&] { return exact_y2(r_, col_); }); }
  const ExactNumber& exact_sq_sum() { return get(esq_, [&] { return exact_sq(r_, col_); }); }
  // W * sum(w y^2) - (sum w y)^2 = W^2 * (weighted variance of y), exact.
  const ExactNumber& tss_times_w() { return get(tss_, [&] { return w() * y2() - y() * y(); }); }

 private:
  struct Slot {
    bool ready = false;
    ExactNumber value;
  };
  template <class Make>
  static const ExactNumber& get(Slot& s, Make&& make) {
    if (!s.ready) {
      s.value = make();
      s.ready = true;
    }
    return s.value;
  }
  const ReduceResult& r_;
  int64_t col_;
  const ColumnSums& c_;
  Slot w_, sq_, abs_, diff_, y_, y2_, esq_, tss_, other_;
  int other_acc_ = -1;
};

double mean_of(const ReduceResult& r, ColumnValues& v, int acc, int64_t col) {
  const uint8_t flags = quantity_flags(r, acc, col);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (r.weight_term_flags) return nan;
  const ExactNumber& w = v.w();
  if (w.is_zero()) return nan;
  if (flags) {
    const double value = apply_term_flags(flags, 0.0);
    return w.is_negative() ? -value : value;
  }
  return divide(v.quantity(acc), w);
}

FractionParts r2_of(const ReduceResult& r, ColumnValues& v, int64_t col) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const uint8_t sq_flags = quantity_flags(r, kAccSq, col);
  FractionParts parts{apply_term_flags(sq_flags, sq_flags ? 0.0 : v.quantity(kAccSq).to_double()), nan};
  const uint8_t yflags = flags_of(v.sums(), {kAccY, kAccYLo, kAccY2, kAccY2Lo, kAccY2Lo2});
  if (yflags || r.weight_term_flags) {
    // A non-finite or overflowing y: report what IEEE arithmetic would.
    parts.denominator = apply_term_flags(yflags, nan);
    return parts;
  }
  const ExactNumber& w = v.w();
  if (w.is_zero()) return parts;
  const ExactNumber& tss_times_w = v.tss_times_w();  // exact: no cancellation
  parts.denominator = tss_times_w.is_zero() ? 0.0 : divide(tss_times_w, w);
  return parts;
}

FractionParts explained_variance_of(const ReduceResult& r, ColumnValues& v) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  FractionParts parts{nan, nan};
  const ExactNumber& w = v.w();
  if (w.is_zero() || r.weight_term_flags) return parts;
  const ExactNumber w2 = w * w;
  const uint8_t dflags = flags_of(v.sums(), {kAccSq, kAccSqLo, kAccSqLo2, kAccDiff, kAccDiffLo});
  if (dflags) {
    parts.numerator = apply_term_flags(dflags, nan);
  } else {
    const ExactNumber& d1 = v.diff();
    const ExactNumber num = w * v.exact_sq_sum() - d1 * d1;
    parts.numerator = num.is_zero() ? 0.0 : divide(num, w2);
  }
  const uint8_t yflags = flags_of(v.sums(), {kAccY, kAccYLo, kAccY2, kAccY2Lo, kAccY2Lo2});
  if (yflags) {
    parts.denominator = apply_term_flags(yflags, nan);
  } else {
    const ExactNumber& den = v.tss_times_w();
    parts.denominator = den.is_zero() ? 0.0 : divide(den, w2);
  }
  return parts;
}

}  // namespace

FractionParts r2_parts(const ReduceResult& r, int64_t col) {
  ColumnValues v(r, col);
  return r2_of(r, v, col);
}

FractionParts explained_variance_parts(const ReduceResult& r, int64_t col) {
  ColumnValues v(r, col);
  return explained_variance_of(r, v);
}

double column_mean(const ReduceResult& r, int acc, int64_t col) {
  ColumnValues v(r, col);
  return mean_of(r, v, acc, col);
}

ReportParts report_parts(const ReduceResult& r, int64_t col) {
  ColumnValues v(r, col);
  ReportParts p;
  p.mse = mean_of(r, v, kAccSq, col);
  p.mae = mean_of(r, v, kAccAbs, col);
  p.mean_error = mean_of(r, v, kAccDiff, col);
  p.r2 = r2_of(r, v, col);
  p.explained_variance = explained_variance_of(r, v);
  return p;
}

double exact_weighted_average(const double* values, const double* weights, int64_t n) {
  // Exact rational arithmetic: a product v * w may exceed the double range even when the
  // average does not (and the number of outputs is small).
  if (n == 1 && std::isfinite(values[0]) && (!weights || (std::isfinite(weights[0]) && weights[0] != 0.0))) {
    return values[0];  // v * w / w, exactly
  }
  ExactNumber num, den;
  for (int64_t i = 0; i < n; ++i) {
    const double v = values[i];
    const double w = weights ? weights[i] : 1.0;
    if (!std::isfinite(v) || !std::isfinite(w)) {
      // IEEE semantics for non-finite entries (e.g. -inf R^2 scores with force_finite=False).
      double s = 0.0, ws = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        const double wj = weights ? weights[j] : 1.0;
        s += values[j] * wj;
        ws += wj;
      }
      if (ws == 0.0) throw std::domain_error("Weights sum to zero, can't be normalized");
      return s / ws;
    }
    const ExactNumber ew = ExactNumber::from_double(w);
    num = num + ExactNumber::from_double(v) * ew;
    den = den + ew;
  }
  if (den.is_zero()) throw std::domain_error("Weights sum to zero, can't be normalized");
  return divide(num, den);
}

}  // namespace l2loss
