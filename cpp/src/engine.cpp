// The threading driver and the finalisers.
//
// Rows are split into one contiguous range per thread; each thread owns its column
// states (no shared cache lines) and walks its range in row blocks, calling the column
// kernel for every column of the block so that C-ordered 2-D inputs are read once from
// memory. States are merged by exact integer addition, so the result does not depend on
// the number of threads or where the ranges start.
#include "l2loss/engine.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace l2loss {
namespace {

// Below this much work per thread, waking a second thread costs more than it saves.
// Measured on the 2-core dev machine (AVX-512, f32 and f64 alike): the single-sum
// kernel breaks even at 4096 elements per thread and gains 27% at 8192 (n = 16384:
// 9.3 us -> 6.8 us); the all-sums kernel (4x the work per element) gains from ~2048.
constexpr int64_t kMinWorkPerThread = 1 << 13;

// Relative cost per element of a pass: the all-sums profile does ~4x the arithmetic.
int64_t work_per_element(uint32_t sums) {
  const uint32_t light = kSumSq | kSumAbs | kMaxAbs;
  return (sums & ~light) || __builtin_popcount(sums) > 1 ? 4 : 1;
}
// Rows per block when there are several columns: keeps a block of a C-ordered (n, k)
// pair in L2 so every column after the first reads from cache.
constexpr int64_t kBlockElements = 1 << 15;

std::atomic<int> g_default_threads{0};

int effective_threads(const ReduceRequest& req) {
  int t = req.num_threads > 0 ? req.num_threads : default_num_threads();
#ifndef _OPENMP
  t = 1;
#endif
  const int64_t elements = req.n_rows * std::max<int64_t>(req.n_cols, 1);
  const int64_t by_size = std::max<int64_t>(1, elements * work_per_element(req.sums) / kMinWorkPerThread);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>({t, by_size, req.n_rows})));
}

template <class Fn>
void parallel_for_threads(int threads, Fn&& fn) {
#ifdef _OPENMP
  if (threads > 1) {
    // Exceptions must not escape an OpenMP region: capture the first and rethrow.
    std::exception_ptr error;
#pragma omp parallel num_threads(threads)
    {
      try {
        fn(omp_get_thread_num(), omp_get_num_threads());
      } catch (...) {
#pragma omp critical(l2loss_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  fn(0, 1);
}

KernelConfig make_config(const ReduceRequest& req, bool first_column) {
  KernelConfig cfg{};
  cfg.sums = req.sums;
  cfg.y_true_dtype = req.y_true.dtype;
  cfg.y_pred_dtype = req.y_pred.dtype;
  cfg.weight_dtype = req.weight ? req.weight_dtype : DType::kNone;
  cfg.sum_weights = req.weight != nullptr && first_column;
  cfg.log1p = req.log1p;
  return cfg;
}

ColumnTask make_task(const ReduceRequest& req, int64_t row0, int64_t rows, int64_t col) {
  ColumnTask t{};
  t.y_true = req.y_true.data + row0 * req.y_true.row_stride + col * req.y_true.col_stride;
  t.y_pred = req.y_pred.data + row0 * req.y_pred.row_stride + col * req.y_pred.col_stride;
  t.weight = req.weight ? req.weight + row0 * req.weight_stride : nullptr;
  t.y_true_stride = req.y_true.row_stride;
  t.y_pred_stride = req.y_pred.row_stride;
  t.weight_stride = req.weight_stride;
  t.count = rows;
  return t;
}

void validate(const ReduceRequest& req) {
  auto is_float = [](DType d) { return d == DType::kFloat32 || d == DType::kFloat64; };
  if (req.n_rows < 0 || req.n_cols < 1) throw std::invalid_argument("l2loss: bad shape");
  if (!is_float(req.y_true.dtype) || !is_float(req.y_pred.dtype)) {
    throw std::invalid_argument("l2loss: kernels take float32/float64 operands");
  }
  if (req.weight && !is_float(req.weight_dtype)) {
    throw std::invalid_argument("l2loss: weights must be float32/float64");
  }
  if (req.n_rows > 0 && (!req.y_true.data || !req.y_pred.data)) {
    throw std::invalid_argument("l2loss: null operand");
  }
}

// Rows [begin, end) of thread `t` out of `T`: a pure function of n and T.
void thread_range(int64_t n, int t, int T, int64_t& begin, int64_t& end) {
  begin = n * t / T;
  end = n * (t + 1) / T;
}

void fast_pass(const ReduceRequest& req, int threads, ReduceResult& out, bool& nonfinite) {
  const ColumnKernel kernel = column_kernel_for(active_isa());
  const int64_t n_cols = req.n_cols;
  const int64_t block_rows = n_cols == 1 ? std::numeric_limits<int64_t>::max()
                                         : std::max<int64_t>(256, kBlockElements / n_cols);
  std::vector<std::unique_ptr<ColumnState[]>> per_thread(static_cast<size_t>(threads));
  parallel_for_threads(threads, [&](int t, int T) {
    // Value-initialised, i.e. zero-filled: empty accumulators (see superaccumulator.hpp).
    auto states = std::make_unique<ColumnState[]>(static_cast<size_t>(n_cols));
    int64_t begin, end;
    thread_range(req.n_rows, t, T, begin, end);
    const KernelConfig cfg_first = make_config(req, true);
    const KernelConfig cfg_rest = make_config(req, false);
    for (int64_t r0 = begin; r0 < end;) {
      const int64_t rows = std::min(block_rows, end - r0);
      for (int64_t c = 0; c < n_cols; ++c) {
        kernel(make_task(req, r0, rows, c), c == 0 ? cfg_first : cfg_rest, states[c]);
      }
      r0 += rows;
    }
    for (int64_t c = 0; c < n_cols; ++c) scalar::flush_column(states[c]);
    per_thread[static_cast<size_t>(t)] = std::move(states);
  });
  nonfinite = false;
  for (int t = 0; t < threads; ++t) {
    const ColumnState* states = per_thread[static_cast<size_t>(t)].get();
    for (int64_t c = 0; c < n_cols; ++c) {
      ColumnSums& dst = out.columns[static_cast<size_t>(c)];
      for (int k = 0; k < kNumAccs; ++k) {
        if (!((states[c].used >> k) & 1u)) continue;  // untouched: still exactly zero
        if (t == 0) {
          dst.acc[k] = states[c].acc[k];
        } else {
          sacc_merge(dst.acc[k], states[c].acc[k]);
        }
      }
      dst.max_abs = std::max(dst.max_abs, states[c].max_abs);
      nonfinite = nonfinite || states[c].nonfinite != 0;
    }
  }
}

void careful_pass(const ReduceRequest& req, int threads, ReduceResult& out) {
  const int64_t n_cols = req.n_cols;
  std::vector<std::unique_ptr<CarefulState[]>> per_thread(static_cast<size_t>(threads));
  parallel_for_threads(threads, [&](int t, int T) {
    auto states = std::make_unique<CarefulState[]>(static_cast<size_t>(n_cols));  // zero-filled
    int64_t begin, end;
    thread_range(req.n_rows, t, T, begin, end);
    for (int64_t c = 0; c < n_cols; ++c) {
      scalar::careful_kernel(make_task(req, begin, end - begin, c), make_config(req, c == 0), states[c]);
    }
    per_thread[static_cast<size_t>(t)] = std::move(states);
  });
  for (auto& col : out.columns) col = ColumnSums{};
  out.input_flags = 0;
  for (int t = 0; t < threads; ++t) {
    const CarefulState* states = per_thread[static_cast<size_t>(t)].get();
    for (int64_t c = 0; c < n_cols; ++c) {
      ColumnSums& dst = out.columns[static_cast<size_t>(c)];
      for (int k = 0; k < kNumAccs; ++k) {
        sacc_merge(dst.acc[k], states[c].acc[k]);
        dst.term_flags[k] |= states[c].term_flags[k];
      }
      const double m = states[c].max_abs;
      if (std::isnan(m) || std::isnan(dst.max_abs)) {
        dst.max_abs = std::numeric_limits<double>::quiet_NaN();
      } else {
        dst.max_abs = std::max(dst.max_abs, m);
      }
      out.input_flags |= states[c].input_flags;
    }
  }
  out.careful = true;
}

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
  return ExactNumber::from_accumulator(r.columns.at(static_cast<size_t>(col)).acc[acc]);
}

// Exact totals of the quantities whose terms are split by order of magnitude.
ExactNumber exact_sq(const ReduceResult& r, int64_t col) {
  return column_exact(r, kAccSq, col) + column_exact(r, kAccSqLo, col) + column_exact(r, kAccSqLo2, col);
}
ExactNumber exact_diff(const ReduceResult& r, int64_t col) {
  return column_exact(r, kAccDiff, col) + column_exact(r, kAccDiffLo, col);
}
ExactNumber exact_y(const ReduceResult& r, int64_t col) {
  return column_exact(r, kAccY, col) + column_exact(r, kAccYLo, col);
}
ExactNumber exact_y2(const ReduceResult& r, int64_t col) {
  return column_exact(r, kAccY2, col) + column_exact(r, kAccY2Lo, col) + column_exact(r, kAccY2Lo2, col);
}
uint8_t flags_of(const ColumnSums& c, std::initializer_list<int> accs) {
  uint8_t f = 0;
  for (int k : accs) f |= c.term_flags[k];
  return f;
}

// A "quantity" is what an accumulator index stands for in the public API: the exact
// sum for diff, y and y^2 (hi + remainders); for squares and absolute values it is the
// sum of the rounded terms (the MSE/MAE contract), so the index alone.
ExactNumber quantity_exact(const ReduceResult& r, int acc, int64_t col) {
  switch (acc) {
    case kAccDiff: return exact_diff(r, col);
    case kAccY: return exact_y(r, col);
    case kAccY2: return exact_y2(r, col);
    default: return column_exact(r, acc, col);
  }
}
uint8_t quantity_flags(const ReduceResult& r, int acc, int64_t col) {
  const ColumnSums& c = r.columns.at(static_cast<size_t>(col));
  switch (acc) {
    case kAccDiff: return flags_of(c, {kAccDiff, kAccDiffLo});
    case kAccY: return flags_of(c, {kAccY, kAccYLo});
    case kAccY2: return flags_of(c, {kAccY2, kAccY2Lo, kAccY2Lo2});
    default: return c.term_flags[acc];
  }
}

}  // namespace

ReduceResult reduce(const ReduceRequest& req) {
  validate(req);
  ReduceResult out;
  out.n_rows = req.n_rows;
  out.n_cols = req.n_cols;
  out.weighted = req.weight != nullptr;
  out.columns.resize(static_cast<size_t>(req.n_cols));  // value-initialised: empty sums
  if (req.n_rows == 0) return out;
  const int threads = effective_threads(req);
  out.threads_used = threads;
  bool nonfinite = false;
  fast_pass(req, threads, out, nonfinite);
  if (nonfinite) careful_pass(req, threads, out);
  if (out.weighted) {
    out.weight_sum = out.columns[0].acc[kAccW];
    out.weight_term_flags = out.columns[0].term_flags[kAccW];
  }
  return out;
}

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

double column_mean(const ReduceResult& r, int acc, int64_t col) {
  const uint8_t flags = quantity_flags(r, acc, col);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  if (r.weight_term_flags) return nan;
  const ExactNumber w = weight_total(r);
  if (w.is_zero()) return nan;
  if (flags) {
    const double v = apply_term_flags(flags, 0.0);
    return w.is_negative() ? -v : v;
  }
  return divide(quantity_exact(r, acc, col), w);
}

FractionParts r2_parts(const ReduceResult& r, int64_t col) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const ColumnSums& c = r.columns.at(static_cast<size_t>(col));
  FractionParts parts{column_total(r, kAccSq, col), nan};
  const uint8_t yflags = flags_of(c, {kAccY, kAccYLo, kAccY2, kAccY2Lo, kAccY2Lo2});
  if (yflags || r.weight_term_flags) {
    // A non-finite or overflowing y: report what IEEE arithmetic would.
    parts.denominator = apply_term_flags(yflags, nan);
    return parts;
  }
  const ExactNumber w = weight_total(r);
  if (w.is_zero()) return parts;
  const ExactNumber s1 = exact_y(r, col);
  const ExactNumber tss_times_w = w * exact_y2(r, col) - s1 * s1;  // exact: no cancellation
  parts.denominator = tss_times_w.is_zero() ? 0.0 : divide(tss_times_w, w);
  return parts;
}

FractionParts explained_variance_parts(const ReduceResult& r, int64_t col) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const ColumnSums& c = r.columns.at(static_cast<size_t>(col));
  FractionParts parts{nan, nan};
  const ExactNumber w = weight_total(r);
  if (w.is_zero() || r.weight_term_flags) return parts;
  const ExactNumber w2 = w * w;
  const uint8_t dflags = flags_of(c, {kAccSq, kAccSqLo, kAccSqLo2, kAccDiff, kAccDiffLo});
  if (dflags) {
    parts.numerator = apply_term_flags(dflags, nan);
  } else {
    const ExactNumber d1 = exact_diff(r, col);
    const ExactNumber num = w * exact_sq(r, col) - d1 * d1;
    parts.numerator = num.is_zero() ? 0.0 : divide(num, w2);
  }
  const uint8_t yflags = flags_of(c, {kAccY, kAccYLo, kAccY2, kAccY2Lo, kAccY2Lo2});
  if (yflags) {
    parts.denominator = apply_term_flags(yflags, nan);
  } else {
    const ExactNumber s1 = exact_y(r, col);
    const ExactNumber den = w * exact_y2(r, col) - s1 * s1;
    parts.denominator = den.is_zero() ? 0.0 : divide(den, w2);
  }
  return parts;
}

double exact_weighted_average(const double* values, const double* weights, int64_t n) {
  Superaccumulator num, den;
  sacc_clear(num);
  sacc_clear(den);
  for (int64_t i = 0; i < n; ++i) {
    const double v = values[i];
    const double w = weights ? weights[i] : 1.0;
    if (!std::isfinite(v) || !std::isfinite(w)) {
      // Fall back to IEEE semantics for non-finite entries (e.g. -inf R^2 scores).
      double s = 0.0, ws = 0.0;
      for (int64_t j = 0; j < n; ++j) {
        const double wj = weights ? weights[j] : 1.0;
        s += values[j] * wj;
        ws += wj;
      }
      if (ws == 0.0) throw std::domain_error("Weights sum to zero, can't be normalized");
      return s / ws;
    }
    const double p = v * w;
    scalar::sacc_add_double(num, p);
    scalar::sacc_add_double(num, std::fma(v, w, -p));
    scalar::sacc_add_double(den, w);
  }
  const ExactNumber d = ExactNumber::from_accumulator(den);
  if (d.is_zero()) throw std::domain_error("Weights sum to zero, can't be normalized");
  return divide(ExactNumber::from_accumulator(num), d);
}

int max_hardware_threads() {
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}

int default_num_threads() {
  const int t = g_default_threads.load(std::memory_order_relaxed);
  if (t > 0) return t;
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

int set_default_num_threads(int n) {
  if (n < 1) throw std::invalid_argument("num_threads must be >= 1");
  const int previous = default_num_threads();
  g_default_threads.store(n, std::memory_order_relaxed);
  return previous;
}

bool have_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace l2loss
