// The threading driver of the metric passes (the finalisers are in finalize.cpp).
//
// Threads claim row chunks dynamically; each thread owns its column states (no shared
// cache lines) and walks a chunk in row blocks, calling the column kernel for every
// column of the block so that C-ordered 2-D inputs are read once from memory. States
// are merged by exact integer addition, so the result does not depend on the number
// of threads or on which thread summed which rows.
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

#include "l2loss/element_types.hpp"
#include "l2loss/target_moments.hpp"
#include "parallel.hpp"

namespace l2loss {
namespace {

// Below this much work per thread, waking a second thread costs more than it saves.
// Measured on the 2-core dev machine (AVX-512, f32 and f64 alike): the single-sum
// kernel breaks even at 4096 elements per thread and gains 27% at 8192 (n = 16384:
// 9.3 us -> 6.8 us); the all-sums kernel (4x the work per element) gains from ~2048.
constexpr int64_t kMinWorkPerThread = 1 << 13;
constexpr int64_t kStreamGradElements = int64_t{1} << 22;  // 32 MB of float64 gradient

// Relative cost per element of a pass: the all-sums profile does ~4x the arithmetic.
int64_t work_per_element(uint32_t sums) {
  if (sums & kSumSqExact) return 2;
  const uint32_t light = kSumSq | kSumAbs | kMaxAbs;
  return (sums & ~light) || __builtin_popcount(sums) > 1 ? 4 : 1;
}
// Rows per block when there are several columns: keeps a block of a C-ordered (n, k)
// pair in L2 so every column after the first reads from cache.
constexpr int64_t kBlockElements = 1 << 15;

std::atomic<int> g_default_threads{0};

int effective_threads(const ReduceRequest& req) {
  const int64_t elements = req.n_rows * std::max<int64_t>(req.n_cols, 1);
  const int t = threads_for_call(req.num_threads, elements * work_per_element(req.sums), kMinWorkPerThread);
  return static_cast<int>(std::min<int64_t>(t, std::max<int64_t>(req.n_rows, 1)));
}

KernelConfig make_config(const ReduceRequest& req, bool first_column) {
  KernelConfig cfg{};
  cfg.sums = req.sums;
  cfg.y_true_dtype = req.y_true.dtype;
  cfg.y_pred_dtype = req.y_pred.dtype;
  cfg.weight_dtype = req.weight ? req.weight_dtype : DType::kNone;
  cfg.sum_weights = req.weight != nullptr && first_column;
  cfg.log1p = req.log1p;
  cfg.grad_dtype = req.grad.data ? req.grad.dtype : DType::kNone;
  cfg.grad_scale = req.grad_scale;
  // A gradient far larger than the caches is written around them: non-temporal stores
  // skip the read-for-ownership of every output line (32 -> 24 bytes of traffic per
  // float64 element). Smaller outputs stay cached for the caller's next step.
  cfg.stream_grad = req.grad.data && req.n_rows * req.n_cols >= kStreamGradElements;
  cfg.exact = (req.sums & kSumSqExact) != 0;
  return cfg;
}

ColumnTask make_task(const ReduceRequest& req, int64_t row0, int64_t rows, int64_t col) {
  ColumnTask t{};
  t.y_true = req.y_true.data + row0 * req.y_true.row_stride + col * req.y_true.col_stride;
  t.y_pred = req.y_pred.data + row0 * req.y_pred.row_stride + col * req.y_pred.col_stride;
  t.weight = req.weight ? req.weight + row0 * req.weight_stride : nullptr;
  if (req.grad.data) {
    // const_cast: the gradient buffer is the one operand the engine writes.
    t.grad = const_cast<char*>(req.grad.data) + row0 * req.grad.row_stride + col * req.grad.col_stride;
    t.grad_stride = req.grad.row_stride;
  }
  t.y_true_stride = req.y_true.row_stride;
  t.y_pred_stride = req.y_pred.row_stride;
  t.weight_stride = req.weight_stride;
  t.count = rows;
  return t;
}

void validate(const ReduceRequest& req) {
  if (req.n_rows < 0 || req.n_cols < 1) throw std::invalid_argument("l2loss: bad shape");
  // The element-type table (element_types.hpp): every kernel family reads exactly these.
  if (!operands_supported(req.y_true.dtype, req.y_pred.dtype)) {
    throw std::invalid_argument(
        "l2loss: kernels take float32/float64 operands, or two float16 (or two bfloat16) operands");
  }
  if (req.weight && (req.weight_dtype == DType::kNone || !weight_supported(req.weight_dtype))) {
    throw std::invalid_argument("l2loss: weights must be float32/float64");
  }
  if (req.n_rows > 0 && (!req.y_true.data || !req.y_pred.data)) {
    throw std::invalid_argument("l2loss: null operand");
  }
  if ((req.sums & kSumSqExact) && (req.sums != kSumSqExact || req.log1p)) {
    throw std::invalid_argument("l2loss: an exact pass computes the exact squared-error sum only");
  }
  if (req.grad.data && (!is_wide_float(req.grad.dtype) || req.sums != kSumSq || req.log1p)) {
    throw std::invalid_argument("l2loss: a gradient pass computes the squared-error sum only");
  }
}


// Rows handed out per grab. Threads take chunks from a shared counter instead of one
// fixed range each, so a thread that shares its core with another process (a busy CI
// runner, a Dask worker) cannot hold the whole call back: the others take over its
// remaining chunks. Exactness makes this free -- which thread adds which rows cannot
// change a single bit. ~16 chunks per thread; at least 32k elements so a grab costs
// nothing next to the work.
int64_t chunk_rows(const ReduceRequest& req, int threads) {
  const int64_t cols = std::max<int64_t>(req.n_cols, 1);
  const int64_t min_rows = std::max<int64_t>(1, (int64_t{1} << 15) / cols);
  const int64_t per_thread = (req.n_rows + int64_t{16} * threads - 1) / (int64_t{16} * threads);
  return std::max(min_rows, per_thread);
}

// Calls fn(row0, rows) for consecutive chunks of [0, n_rows), claimed dynamically.
template <class Fn>
void for_each_chunk(std::atomic<int64_t>& next, int64_t n_rows, int64_t chunk, Fn&& fn) {
  for (;;) {
    const int64_t r0 = next.fetch_add(chunk, std::memory_order_relaxed);
    if (r0 >= n_rows) return;
    fn(r0, std::min(chunk, n_rows - r0));
  }
}

// ---- exact target moments (target_moments.hpp) ------------------------------------------

// Passes whose sum w*y / w*y^2 the fast terms may get wrong for extreme targets or weights.
bool has_target_moments(const ReduceRequest& req) {
  return (req.sums & kSumY2) || ((req.sums & kSumY) && req.weight != nullptr);
}

// Rows per kernel call while scanning for tiny targets: the scan then reads a block the
// kernel has just brought into the L1/L2 cache (4096 float64 rows of y, y_pred and w:
// 96 KiB).
constexpr int64_t kScanBlockRows = 4096;

// Whether rows [r0, r0 + rows) hold a tiny float64 target or weight.
bool block_has_tiny(const ReduceRequest& req, TinyScan scan, bool scan_y, bool scan_w, int64_t r0, int64_t rows) {
  if (scan_w && scan(req.weight + r0 * req.weight_stride, req.weight_stride, rows)) return true;
  if (!scan_y) return false;
  const Operand& y = req.y_true;
  const char* base = y.data + r0 * y.row_stride;
  if (req.n_cols > 1 && y.col_stride == 8 && y.row_stride == 8 * req.n_cols) {
    return scan(base, 8, rows * req.n_cols);  // C-ordered rows: one contiguous range
  }
  for (int64_t c = 0; c < req.n_cols; ++c) {
    if (scan(base + c * y.col_stride, y.row_stride, rows)) return true;
  }
  return false;
}

void fast_pass(const ReduceRequest& req, int threads, ReduceResult& out, bool& nonfinite, bool& tiny) {
  const ColumnKernel kernel = column_kernel_for(active_isa());
  const TinyScan scan = tiny_scan_for(active_isa());
  const bool moments = has_target_moments(req);
  const bool scan_y = moments && req.y_true.dtype == DType::kFloat64;  // narrower floats are never tiny
  const bool scan_w = moments && req.weight && req.weight_dtype == DType::kFloat64;
  const int64_t n_cols = req.n_cols;
  int64_t block_rows = n_cols == 1 ? std::numeric_limits<int64_t>::max()
                                   : std::max<int64_t>(256, kBlockElements / n_cols);
  if (scan_y || scan_w) block_rows = std::min(block_rows, kScanBlockRows);
  const int64_t chunk = chunk_rows(req, threads);
  std::atomic<int64_t> next{0};
  std::vector<std::unique_ptr<ColumnState[]>> per_thread(static_cast<size_t>(threads));
  std::vector<char> tiny_seen(static_cast<size_t>(threads), 0);
  parallel_for_threads(threads, [&](int t, int) {
    // Default-initialised: the kernels clear only the accumulators they claim (kernel_abi.hpp).
    std::unique_ptr<ColumnState[]> states(new ColumnState[static_cast<size_t>(n_cols)]);
    for (int64_t c = 0; c < n_cols; ++c) reset_state(states[c]);
    const KernelConfig cfg_first = make_config(req, true);
    const KernelConfig cfg_rest = make_config(req, false);
    bool found = false;
    for_each_chunk(next, req.n_rows, chunk, [&](int64_t begin, int64_t count) {
      const int64_t end = begin + count;
      for (int64_t r0 = begin; r0 < end;) {
        const int64_t rows = std::min(block_rows, end - r0);
        for (int64_t c = 0; c < n_cols; ++c) {
          kernel(make_task(req, r0, rows, c), c == 0 ? cfg_first : cfg_rest, states[c]);
        }
        if ((scan_y || scan_w) && !found) found = block_has_tiny(req, scan, scan_y, scan_w, r0, rows);
        r0 += rows;
      }
    });
    for (int64_t c = 0; c < n_cols; ++c) scalar::flush_column(states[c]);
    per_thread[static_cast<size_t>(t)] = std::move(states);
    tiny_seen[static_cast<size_t>(t)] = found;
  });
  tiny = std::find(tiny_seen.begin(), tiny_seen.end(), 1) != tiny_seen.end();
  nonfinite = false;
  bool first = true;
  for (int t = 0; t < threads; ++t) {
    const ColumnState* states = per_thread[static_cast<size_t>(t)].get();
    if (!states) continue;  // a team smaller than requested
    for (int64_t c = 0; c < n_cols; ++c) {
      ColumnSums& dst = out.columns[static_cast<size_t>(c)];
      for (int k = 0; k < kNumAccs; ++k) {
        if (!((states[c].used >> k) & 1u)) continue;  // untouched: still exactly zero
        if (first) {
          dst.acc[k] = states[c].acc[k];
        } else {
          sacc_merge(dst.acc[k], states[c].acc[k]);
        }
      }
      dst.max_abs = std::max(dst.max_abs, states[c].max_abs);
      nonfinite = nonfinite || states[c].nonfinite != 0;
    }
    first = false;
  }
}

void careful_pass(const ReduceRequest& req, int threads, ReduceResult& out) {
  const int64_t n_cols = req.n_cols;
  const int64_t chunk = chunk_rows(req, threads);
  std::atomic<int64_t> next{0};
  std::vector<std::unique_ptr<CarefulState[]>> per_thread(static_cast<size_t>(threads));
  parallel_for_threads(threads, [&](int t, int) {
    auto states = std::make_unique<CarefulState[]>(static_cast<size_t>(n_cols));  // zero-filled
    for_each_chunk(next, req.n_rows, chunk, [&](int64_t begin, int64_t count) {
      for (int64_t c = 0; c < n_cols; ++c) {
        scalar::careful_kernel(make_task(req, begin, count, c), make_config(req, c == 0), states[c]);
      }
    });
    per_thread[static_cast<size_t>(t)] = std::move(states);
  });
  for (auto& col : out.columns) col = ColumnSums{};
  out.input_flags = 0;
  for (int t = 0; t < threads; ++t) {
    const CarefulState* states = per_thread[static_cast<size_t>(t)].get();
    if (!states) continue;
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

// Reruns sum w*y / sum w*y^2 of every column with exact terms where a row needs them
// (target_moments.hpp), replacing what the fast or careful pass summed.
void target_moments_pass(const ReduceRequest& req, int threads, ReduceResult& out) {
  const int64_t n_cols = req.n_cols;
  const int64_t chunk = chunk_rows(req, threads);
  std::atomic<int64_t> next{0};
  std::vector<std::unique_ptr<CarefulState[]>> per_thread(static_cast<size_t>(threads));
  KernelConfig cfg = make_config(req, false);
  cfg.sums = req.sums & (kSumY | kSumY2);
  parallel_for_threads(threads, [&](int t, int) {
    auto states = std::make_unique<CarefulState[]>(static_cast<size_t>(n_cols));  // zero-filled
    for_each_chunk(next, req.n_rows, chunk, [&](int64_t begin, int64_t count) {
      for (int64_t c = 0; c < n_cols; ++c) target_moments_rows(make_task(req, begin, count, c), cfg, states[c]);
    });
    per_thread[static_cast<size_t>(t)] = std::move(states);
  });
  const int accs[] = {kAccY,          kAccYLo,        kAccY2,         kAccY2Lo,      kAccY2Lo2,
                      kAccYScaledM1,  kAccYScaledP1,  kAccY2ScaledM2, kAccY2ScaledM1, kAccY2ScaledP1};
  for (int64_t c = 0; c < n_cols; ++c) {
    ColumnSums& dst = out.columns[static_cast<size_t>(c)];
    for (int k : accs) {
      dst.acc[k] = Superaccumulator{};
      dst.term_flags[k] = 0;
    }
    for (int t = 0; t < threads; ++t) {
      const CarefulState* states = per_thread[static_cast<size_t>(t)].get();
      if (!states) continue;  // a team smaller than requested
      for (int k : accs) {
        sacc_merge(dst.acc[k], states[c].acc[k]);
        dst.term_flags[k] |= states[c].term_flags[k];
      }
    }
  }
}

bool target_flags_set(const ReduceResult& r) {
  for (const ColumnSums& c : r.columns) {
    for (int k : {kAccY, kAccYLo, kAccY2, kAccY2Lo, kAccY2Lo2}) {
      if (c.term_flags[k]) return true;
    }
  }
  return false;
}

}  // namespace

ReduceResult reduce(const ReduceRequest& req) {
  validate(req);
  ReduceResult out;
  out.n_rows = req.n_rows;
  out.n_cols = req.n_cols;
  out.sums = req.sums;
  out.weighted = req.weight != nullptr;
  out.columns.resize(static_cast<size_t>(req.n_cols));  // value-initialised: empty sums
  if (req.n_rows == 0) return out;
  const int threads = effective_threads(req);
  out.threads_used = threads;
  bool nonfinite = false, tiny = false;
  fast_pass(req, threads, out, nonfinite, tiny);
  if (nonfinite) careful_pass(req, threads, out);
  // Rare: a tiny target or weight, or a term that overflowed (flagged by the careful pass).
  if (has_target_moments(req) && (tiny || target_flags_set(out))) target_moments_pass(req, threads, out);
  if (out.weighted) {
    out.weight_sum = out.columns[0].acc[kAccW];
    out.weight_term_flags = out.columns[0].term_flags[kAccW];
  }
  return out;
}

bool small_mean(const ReduceRequest& req, int acc, double& mean) {
  if (req.n_cols != 1 || req.weight || req.log1p || req.grad.data || req.n_rows <= 0 ||
      req.sums != (acc == kAccAbs ? kSumAbs : kSumSq) || effective_threads(req) != 1) {
    return false;
  }
  validate(req);
  ColumnState st;  // ~10 KB on the stack; the kernel clears only what it claims
  reset_state(st);
  column_kernel_for(active_isa())(make_task(req, 0, req.n_rows, 0), make_config(req, true), st);
  scalar::flush_column(st);
  if (st.nonfinite) return false;
  mean = divide(ExactNumber::from_accumulator(st.acc[acc]), ExactNumber::from_uint(static_cast<uint64_t>(req.n_rows)));
  return true;
}

int max_hardware_threads() {
#ifdef _OPENMP
  return omp_get_num_procs();
#else
  return 1;
#endif
}

int max_threads_per_call() { return kMaxThreadsPerHardwareThread * max_hardware_threads(); }

int threads_for_call(int requested, int64_t work, int64_t min_work_per_thread) {
  if (requested < 0) throw std::invalid_argument("num_threads must be >= 1 (or 0 for the default)");
  int64_t t = requested > 0 ? requested : default_num_threads();
#ifndef _OPENMP
  t = 1;
#endif
  t = std::min<int64_t>(t, max_threads_per_call());
  t = std::min<int64_t>(t, work / std::max<int64_t>(min_work_per_thread, 1));
  return static_cast<int>(std::max<int64_t>(t, 1));
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
