// Ridge loss and gradient: one pass over X, deterministic for any thread count/layout.
#include "l2loss/ridge.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <type_traits>

#include "l2loss/engine.hpp"
#include "l2loss/exact.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace l2loss {
namespace {

// Fixed global row blocks: partials depend only on the rows of a block, never on threads.
constexpr int64_t kBlockRows = 256;
constexpr int kWays = 4;  // interleaving of every reduction inside a block (ILP)

struct NoW {};

template <class T>
inline double ld(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<double>(v);
}

// Scalar two-level floating-point expansion spilling into a superaccumulator: an exact
// running sum at a few flops per term.
struct ExactScalarSum {
  double a0 = 0.0, a1 = 0.0;
  Superaccumulator acc{};
  bool nonfinite = false;
  void add(double x) {
    const double s = a0 + x, bb = s - a0, e = (a0 - (s - bb)) + (x - bb);
    a0 = s;
    const double t = a1 + e, cc = t - a1, r = (a1 - (t - cc)) + (e - cc);
    a1 = t;
    if (r != 0.0) put(r);
  }
  void put(double v) {
    if (std::isfinite(v)) {
      scalar::sacc_add_double(acc, v);
    } else {
      nonfinite = true;
    }
  }
  void flush() {
    put(a0);
    put(a1);
    a0 = a1 = 0.0;
  }
};

struct ThreadSums {
  ExactScalarSum loss, weight;
  std::vector<Superaccumulator> grad;  // n_features + 1 (last: intercept)
  bool nonfinite = false;
};

template <class TX, class TY, class TW>
void ridge_block(const RidgeRequest& q, int64_t r0, int64_t rows, ThreadSums& ts, double* r, double* wr,
                 double* part) {
  constexpr bool kW = !std::is_same_v<TW, NoW>;
  const int64_t d = q.n_features;
  const bool c_order = q.x_col_stride == static_cast<int64_t>(sizeof(TX));
  const char* xb = q.x + r0 * q.x_row_stride;
  // Residuals: s_k = sum over j = k (mod 4) of x_ij * c_j in increasing j, then
  // ((s0 + s1) + (s2 + s3)) + b - y. Same operations, same order, for either layout.
  if (c_order) {
    for (int64_t i = 0; i < rows; ++i) {
      const char* xi = xb + i * q.x_row_stride;
      double s[kWays] = {0.0, 0.0, 0.0, 0.0};
      for (int64_t j = 0; j < d; ++j) s[j % kWays] += ld<TX>(xi + j * sizeof(TX)) * q.coef[j];
      r[i] = ((s[0] + s[1]) + (s[2] + s[3])) + q.intercept;
    }
  } else {
    double* s = part;  // rows x 4 scratch
    std::fill(s, s + rows * kWays, 0.0);
    for (int64_t j = 0; j < d; ++j) {
      const char* xj = xb + j * q.x_col_stride;
      const double c = q.coef[j];
      double* sj = s + (j % kWays);
      for (int64_t i = 0; i < rows; ++i) sj[i * kWays] += ld<TX>(xj + i * q.x_row_stride) * c;
    }
    for (int64_t i = 0; i < rows; ++i) {
      const double* si = s + i * kWays;
      r[i] = ((si[0] + si[1]) + (si[2] + si[3])) + q.intercept;
    }
  }
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t row = r0 + i;
    r[i] -= ld<TY>(q.y + row * q.y_stride);
    double w = 1.0;
    if constexpr (kW) {
      w = ld<TW>(q.weight + row * q.weight_stride);
      ts.weight.add(w);
    }
    ts.loss.add(kW ? w * (r[i] * r[i]) : r[i] * r[i]);
    wr[i] = kW ? w * r[i] : r[i];
  }
  // Gradient partials: q_k[j] = sum over i = k (mod 4) of wr_i * x_ij in increasing i,
  // then ((q0 + q1) + (q2 + q3)). part holds 4 x (d + 1) accumulators.
  std::fill(part, part + kWays * (d + 1), 0.0);
  if (c_order) {
    for (int64_t i = 0; i < rows; ++i) {
      const char* xi = xb + i * q.x_row_stride;
      double* qk = part + (i % kWays) * (d + 1);
      const double a = wr[i];
      for (int64_t j = 0; j < d; ++j) qk[j] += a * ld<TX>(xi + j * sizeof(TX));
      qk[d] += a;
    }
  } else {
    for (int64_t j = 0; j < d; ++j) {
      const char* xj = xb + j * q.x_col_stride;
      double acc[kWays] = {0.0, 0.0, 0.0, 0.0};
      for (int64_t i = 0; i < rows; ++i) acc[i % kWays] += wr[i] * ld<TX>(xj + i * q.x_row_stride);
      for (int k = 0; k < kWays; ++k) part[k * (d + 1) + j] = acc[k];
    }
    for (int64_t i = 0; i < rows; ++i) part[(i % kWays) * (d + 1) + d] += wr[i];
  }
  for (int64_t j = 0; j <= d; ++j) {
    const double g = ((part[j] + part[(d + 1) + j]) + (part[2 * (d + 1) + j] + part[3 * (d + 1) + j]));
    if (std::isfinite(g)) {
      scalar::sacc_add_double(ts.grad[static_cast<size_t>(j)], g);
    } else {
      ts.nonfinite = true;
    }
  }
}

template <class TX, class TY, class TW>
RidgeResult run(const RidgeRequest& q) {
  const int64_t n = q.n_rows, d = q.n_features;
  const int64_t n_blocks = (n + kBlockRows - 1) / kBlockRows;
  int threads = std::max(1, q.num_threads > 0 ? q.num_threads : default_num_threads());
#ifndef _OPENMP
  threads = 1;
#endif
  // ~2^15 elements of X per thread at least, as for the metric kernels.
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, n * std::max<int64_t>(d, 1) >> 15)));
  std::vector<std::unique_ptr<ThreadSums>> sums(static_cast<size_t>(threads));
  std::atomic<int64_t> next{0};
  auto body = [&](int t) {
    auto ts = std::make_unique<ThreadSums>();
    ts->grad.resize(static_cast<size_t>(d + 1));
    std::vector<double> r(kBlockRows), wr(kBlockRows), part(std::max<int64_t>(kWays * (d + 1), kBlockRows * kWays));
    for (int64_t b; (b = next.fetch_add(1, std::memory_order_relaxed)) < n_blocks;) {
      const int64_t r0 = b * kBlockRows;
      ridge_block<TX, TY, TW>(q, r0, std::min(kBlockRows, n - r0), *ts, r.data(), wr.data(), part.data());
    }
    ts->loss.flush();
    ts->weight.flush();
    sums[static_cast<size_t>(t)] = std::move(ts);
  };
#ifdef _OPENMP
  if (threads > 1) {
#pragma omp parallel num_threads(threads)
    body(omp_get_thread_num());
  } else {
    body(0);
  }
#else
  body(0);
#endif
  Superaccumulator loss{}, weight{};
  std::vector<Superaccumulator> grad(static_cast<size_t>(d + 1));
  bool nonfinite = false;
  for (const auto& ts : sums) {
    if (!ts) continue;
    sacc_merge(loss, ts->loss.acc);
    sacc_merge(weight, ts->weight.acc);
    for (int64_t j = 0; j <= d; ++j) sacc_merge(grad[static_cast<size_t>(j)], ts->grad[static_cast<size_t>(j)]);
    nonfinite = nonfinite || ts->nonfinite || ts->loss.nonfinite || ts->weight.nonfinite;
  }
  RidgeResult out;
  out.grad.resize(static_cast<size_t>(d));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const ExactNumber w = std::is_same_v<TW, NoW> ? ExactNumber::from_uint(static_cast<uint64_t>(n))
                                                 : ExactNumber::from_accumulator(weight);
  out.weight_sum = w.to_double();
  if (nonfinite) {
    out.nonfinite = true;
    out.loss_mean = out.grad_intercept = nan;
    std::fill(out.grad.begin(), out.grad.end(), nan);
    return out;
  }
  out.loss_mean = w.is_zero() ? nan : divide(ExactNumber::from_accumulator(loss), w);
  for (int64_t j = 0; j < d; ++j) {
    out.grad[static_cast<size_t>(j)] = ExactNumber::from_accumulator(grad[static_cast<size_t>(j)]).to_double();
  }
  out.grad_intercept = ExactNumber::from_accumulator(grad[static_cast<size_t>(d)]).to_double();
  return out;
}

template <class TX, class TY>
RidgeResult pick_w(const RidgeRequest& q) {
  switch (q.weight ? q.weight_dtype : DType::kNone) {
    case DType::kFloat32: return run<TX, TY, float>(q);
    case DType::kFloat64: return run<TX, TY, double>(q);
    default: return run<TX, TY, NoW>(q);
  }
}

template <class TX>
RidgeResult pick_y(const RidgeRequest& q) {
  return q.y_dtype == DType::kFloat32 ? pick_w<TX, float>(q) : pick_w<TX, double>(q);
}

}  // namespace

RidgeResult ridge_loss_and_grad(const RidgeRequest& q) {
  if (q.n_rows < 0 || q.n_features < 0 || (q.n_rows > 0 && (!q.x || !q.y)) || (q.n_features > 0 && !q.coef)) {
    throw std::invalid_argument("l2loss: bad ridge request");
  }
  return q.x_dtype == DType::kFloat32 ? pick_y<float>(q) : pick_y<double>(q);
}

}  // namespace l2loss
