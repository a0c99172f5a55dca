// Grouped evaluation: the report's sums for every group of rows, in one pass over the
// data. Rows are bucketed by integer group code with a stable counting sort (O(n + G)),
// each group's rows are gathered into a small contiguous buffer (or read in place when
// they are already contiguous) and reduced by the very same engine pass that
// regression_report runs, so every group's numbers are those of a report on that
// group's rows alone, whatever the row order, the thread count or the batching.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "l2loss/engine.hpp"

namespace l2loss {

struct GroupedRequest {
  // y_true, y_pred, weight, n_rows, n_cols and sums as for reduce(); base.num_threads is
  // the thread count of the whole call (0: the default).
  ReduceRequest base;
  const char* codes = nullptr;  // one signed integer code per row
  int code_size = 8;            // 4 (int32) or 8 (int64)
  int64_t code_stride = 8;      // bytes
  int64_t code_lo = 0;          // codes - code_lo must lie in [0, n_codes)
  int64_t n_codes = 0;
};

// Per group g (ascending code) and column c, at [g * n_cols + c]: the finalised values the
// report is built from. Groups without rows are absent.
struct GroupedColumns {
  int64_t n_groups = 0;
  int64_t n_cols = 0;
  std::vector<int64_t> codes;  // the group's code - code_lo
  std::vector<int64_t> n_rows;
  std::vector<double> weight_sum;
  std::vector<uint8_t> weight_zero;  // the weights sum to exactly zero (values are NaN)
  std::vector<double> mse, mae, mean_error, max_abs, r2_num, r2_den, ev_num, ev_den;
  uint32_t input_flags = 0;  // InputFlags OR-ed over all groups (non-finite inputs)

  void resize(int64_t groups, int64_t cols);
};

// One report's worth of finalised values per group, in one pass.
GroupedColumns grouped_report(const GroupedRequest& req);

// The exact state of every group (for streaming); `codes` receives each state's
// code - code_lo, ascending.
std::vector<ReduceResult> grouped_states(const GroupedRequest& req, std::vector<int64_t>& codes);

// The values of grouped_report for states built elsewhere (streamed, merged): the same
// finalisers, so the same bits. All states must have equal n_cols.
GroupedColumns finalize_states(const std::vector<const ReduceResult*>& states);

}  // namespace l2loss
