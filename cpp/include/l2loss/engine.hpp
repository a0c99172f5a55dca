// The l2loss engine API: one fused, exact, thread-parallel pass over (y_true, y_pred,
// weight) producing per-column exact sums, and the finalisers that turn them into
// correctly rounded metric values. No Python anywhere below this header.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "l2loss/dispatch.hpp"
#include "l2loss/exact.hpp"
#include "l2loss/kernel_abi.hpp"

namespace l2loss {

// A 2-D operand: element (i, j) lives at data + i*row_stride + j*col_stride (bytes).
struct Operand {
  const char* data = nullptr;
  DType dtype = DType::kFloat64;
  int64_t row_stride = 0;
  int64_t col_stride = 0;
};

struct ReduceRequest {
  Operand y_true;
  Operand y_pred;
  const char* weight = nullptr;  // one weight per row, or nullptr
  DType weight_dtype = DType::kNone;
  int64_t weight_stride = 0;
  int64_t n_rows = 0;
  int64_t n_cols = 1;
  uint32_t sums = kSumSq;  // SumBits
  bool log1p = false;
  int num_threads = 1;
  // Value-and-gradient passes: grad(i, j) = grad_scale * fl(w_i * d_ij), written in
  // grad.dtype (sums must be kSumSq). grad.data == nullptr: no gradient.
  Operand grad{nullptr, DType::kNone, 0, 0};
  double grad_scale = 0.0;
};

// One output column's exact sums, stored compactly: only the accumulators a pass wrote,
// each as the nonzero digits of its canonical (normalised) form -- typically 3-4 of the
// 67, so ~40 bytes instead of 544. A wide input's result used to cost 9.3 KB per column
// (a (1000, 10^5) raw_values MSE spent more time faulting in those pages than summing:
// issue #16). An accumulator never written reads as exactly zero.
class ColumnSums {
 public:
  double max_abs = 0.0;
  uint8_t term_flags[kNumAccs] = {};  // TermFlags, set only by the careful pass

  // The sum of accumulator k (an empty accumulator when it never received terms).
  Superaccumulator get(int k) const;
  // Its exact value (zero when never written), straight from the stored digits.
  ExactNumber exact(int k) const;
  // Whether accumulator k is stored (it may still hold zero).
  bool has(int k) const { return ((present_ >> k) & 1u) != 0; }
  // Accumulator k := a (stored even when zero).
  void set(int k, const Superaccumulator& a);
  // Accumulator k += a, exactly. Throws std::invalid_argument like sacc_merge (the top
  // digit would reach 2^62), leaving the column unchanged.
  void add(int k, const Superaccumulator& a);
  // Forgets accumulator k (it reads as zero again).
  void clear(int k);

 private:
  uint32_t present_ = 0;  // bit k: accumulator k is stored
  // For each present k, in increasing k: a header word (lowest nonzero digit | count << 8)
  // and then that many digits of the normalised accumulator.
  std::vector<int64_t> digits_;
};

struct ReduceResult {
  int64_t n_rows = 0;
  int64_t n_cols = 0;
  uint32_t sums = 0;  // SumBits the pass computed: states merge only with equal sums
  bool weighted = false;
  Superaccumulator weight_sum{};
  std::vector<ColumnSums> columns;
  uint32_t input_flags = 0;  // InputFlags (careful pass only)
  bool careful = false;      // the careful pass ran: a non-finite value was met
  uint8_t weight_term_flags = 0;
  int threads_used = 1;
};

// Runs the fused pass. Throws std::invalid_argument on inconsistent requests.
ReduceResult reduce(const ReduceRequest& req);

// Memory that one thread reuses across many small reduce() calls (grouped evaluation makes
// one per group and chunk): the kernel's per-column states, ~10 KB each, are allocated once
// instead of per call. The result is the same as without it.
class ReduceScratch {
 public:
  ReduceScratch();
  ~ReduceScratch();
  ReduceScratch(const ReduceScratch&) = delete;
  ReduceScratch& operator=(const ReduceScratch&) = delete;
  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};
// reduce() with `scratch` (may be nullptr) lending its states when the pass runs on one thread.
ReduceResult reduce(const ReduceRequest& req, ReduceScratch* scratch);

// The plainest call -- one unweighted column, MSE or MAE (acc = kAccSq / kAccAbs), small
// enough for one thread -- without building a ReduceResult: sets `mean` to exactly what
// column_mean(reduce(req), acc, 0) gives and returns true, or returns false (more than one
// thread, or a non-finite term) and leaves the call to reduce(). Saves ~1/4 of a call
// at n = 16 (allocations and ~17 KB of clearing).
bool small_mean(const ReduceRequest& req, int acc, double& mean);

// ---- streaming: the result of reduce() is an exact, mergeable state -------------------
//
// Every sum is an integer superaccumulator, so merging is exact and associative: states
// built over any split of the rows, merged in any order, equal the one-shot state and
// finalise to the same bits. An unweighted state counts as weighted with w = 1 (the
// per-row terms are then identical), so weighted and unweighted batches can mix.

// An empty state for n_cols columns and the given sums.
ReduceResult empty_state(int64_t n_cols, uint32_t sums);
// into += from. Throws std::invalid_argument if columns or sums differ, or if the merged
// state would not be readable by deserialize() (more than 2^62 rows; a sum beyond the
// superaccumulator's range) -- and then leaves `into` unchanged.
void merge_into(ReduceResult& into, const ReduceResult& from);
// Compact little-endian encoding (canonical: equal states give equal bytes).
std::vector<uint8_t> serialize(const ReduceResult& r);
// Inverse of serialize(). Throws std::invalid_argument on malformed input; never reads
// outside [data, data + size).
ReduceResult deserialize(const uint8_t* data, size_t size);

// Finalisers. W is the exact weight sum (n_rows when unweighted).
ExactNumber weight_total(const ReduceResult& r);
bool weight_total_is_zero(const ReduceResult& r);
// Correctly rounded sum of quantity `acc` of column `col` (for kAccDiff, kAccY and kAccY2
// the exact sum including their remainder accumulators -- and, for kAccY and kAccY2, the
// scaled parts of exact target terms, target_moments.hpp).
double column_total(const ReduceResult& r, int acc, int64_t col);
// Correctly rounded (sum of acc) / W. Non-finite terms give +-inf / NaN like IEEE.
double column_mean(const ReduceResult& r, int acc, int64_t col);
// Correctly rounded sqrt of the exact mean (RMSE with exact=True).
double column_root_mean(const ReduceResult& r, int acc, int64_t col);
// Over all columns: correctly rounded total, and total / (W * n_cols) (the mean over
// every element, as torch's reduction="mean" defines it).
double grand_total(const ReduceResult& r, int acc);
double grand_mean(const ReduceResult& r, int acc);
// R^2 pieces as sklearn defines them: numerator = sum w*(y - yhat)^2,
// denominator = sum w*(y - ybar_w)^2, the latter evaluated exactly before rounding.
struct FractionParts {
  double numerator;
  double denominator;
};
FractionParts r2_parts(const ReduceResult& r, int64_t col);
// Explained variance pieces: numerator = avg_w((e - avg_w(e))^2) with e = y - yhat,
// denominator = avg_w((y - ybar_w)^2); both exact before their single rounding.
FractionParts explained_variance_parts(const ReduceResult& r, int64_t col);
// A report's finalised values for one column: column_mean of kAccSq, kAccAbs and kAccDiff,
// r2_parts and explained_variance_parts, bit for bit, with each exact quantity built once.
struct ReportParts {
  double mse;
  double mae;
  double mean_error;
  FractionParts r2;
  FractionParts explained_variance;
};
ReportParts report_parts(const ReduceResult& r, int64_t col);

// Correctly rounded sum(values * weights) / sum(weights) (weights may be nullptr for a
// plain mean). Throws std::domain_error when the weights sum to exactly zero.
double exact_weighted_average(const double* values, const double* weights, int64_t n);

// Threads: the default used when a call does not name a count.
int default_num_threads();
int set_default_num_threads(int n);  // returns the previous value
bool have_openmp();
int max_hardware_threads();
// The most threads one call starts, whatever it asks for: a small multiple of the
// hardware threads (cpp/src/parallel.hpp says why).
int max_threads_per_call();

}  // namespace l2loss
