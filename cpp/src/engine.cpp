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
#include <numeric>
#include <unordered_map>
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

// ---- exact target moments (target_moments.hpp) ------------------------------------------

// Passes whose sum w*y / w*y^2 the fast terms may get wrong for extreme targets or weights.
bool has_target_moments(const ReduceRequest& req) {
  return (req.sums & kSumY2) || ((req.sums & kSumY) && req.weight != nullptr);
}

// Rows per kernel call while scanning for tiny targets: the scan then reads a block the
// kernel has just brought into the L1/L2 cache (4096 float64 rows of y, y_pred and w:
// 96 KiB).
constexpr int64_t kScanBlockRows = 4096;

// Whether rows [r0, r0 + rows) of columns [c0, c1) hold a tiny float64 target or weight.
bool block_has_tiny(const ReduceRequest& req, TinyScan scan, bool scan_y, bool scan_w, int64_t r0, int64_t rows,
                    int64_t c0, int64_t c1) {
  if (scan_w && scan(req.weight + r0 * req.weight_stride, req.weight_stride, rows)) return true;
  if (!scan_y) return false;
  const Operand& y = req.y_true;
  const char* base = y.data + r0 * y.row_stride;
  if (c0 == 0 && c1 == req.n_cols && req.n_cols > 1 && y.col_stride == 8 && y.row_stride == 8 * req.n_cols) {
    return scan(base, 8, rows * req.n_cols);  // C-ordered rows: one contiguous range
  }
  for (int64_t c = c0; c < c1; ++c) {
    if (scan(base + c * y.col_stride, y.row_stride, rows)) return true;
  }
  return false;
}

// ---- shapes: row blocks, column tiles, packed rows ---------------------------------------
//
// A pass walks its input in blocks of rows x a range of columns, and calls the column
// kernel once per column of the block. Two things decide how fast a 2-D input goes:
//
// * Packed rows (a C-ordered (n, k) operand: consecutive columns adjacent in memory). The
//   kernel reads one column at a time, which on a packed operand is a strided walk (one
//   element per cache line or per row). The block is first copied column by column into
//   a per-thread buffer (a transpose of a few hundred KB, in L2), so the kernel reads
//   contiguous columns at its 1-D speed; every row segment is read from memory once.
// * Wide inputs (many columns, few rows). Row chunks split among threads made every
//   thread keep a state for every column (13.6 KB each: 1.4 GB for 10^5 columns) and
//   call the kernel on chunks of ~32 rows. Past kWideCols columns the threads split the
//   columns instead: each claims tiles of kTileCols columns and sums them over all rows,
//   keeping states for one tile only; a tile's sums go straight into its columns of the
//   result (no merge: no other thread touches them).
// Either way each column's sums are exact, so neither choice can change a bit.
constexpr int64_t kTileCols = 32;
constexpr int64_t kWideCols = 256;
// Elements per operand in one block (kBlockElements): 256 KB of float64 per operand.

// Wide: many columns and comparatively few rows (a (10^5, 1000) input measured faster with
// row chunks: its tiles walk 10^5 rows 8 KB apart, where the prefetcher cannot follow).
bool is_wide(const ReduceRequest& req) { return req.n_cols > kWideCols && req.n_rows <= 8 * req.n_cols; }
// Packing pays while a block of the columns a pass walks together stays in L2.
constexpr int64_t kMaxPackedCols = 64;

bool packed_rows(const Operand& o) { return o.col_stride == element_size(o.dtype); }

// Per-thread scratch for packed operands: one block of each, column by column.
struct BlockBuffers {
  std::vector<char> y_true, y_pred;
};

// Column c of a packed block starts at (c - c0) * pitch elements: the pitch is the row
// count rounded up to 8 elements plus 8, so that the columns being written together do not
// all map to the same L1 set (a pitch of 2048 float64 put 16 of them 16 KB apart: the copy
// ran at half speed).
int64_t block_pitch(int64_t rows) { return (rows + 7) / 8 * 8 + 8; }

constexpr int64_t kPrefetchRows = 16;

// Elements are moved with memcpy: NumPy arrays need not be aligned to their element size
// (a view at an odd byte offset is legal), and a misaligned T* load is undefined behaviour.
template <class T>
void copy_columns(const char* base, int64_t row_stride, int64_t rows, int64_t cols, int64_t pitch, char* out) {
  constexpr int64_t kSize = static_cast<int64_t>(sizeof(T));
  const int64_t seg = cols * kSize;
  for (int64_t i = 0; i < rows; ++i) {
    const char* src = base + i * row_stride;
    if (i + kPrefetchRows < rows) {  // far-apart rows defeat the hardware prefetcher
      const char* ahead = base + (i + kPrefetchRows) * row_stride;
      for (int64_t b = 0; b < seg; b += 64) __builtin_prefetch(ahead + b);
    }
    for (int64_t c = 0; c < cols; ++c) std::memcpy(out + (c * pitch + i) * kSize, src + c * kSize, kSize);
  }
}

// Copies rows [r0, r0 + rows) of columns [c0, c1) of a packed operand into `buf`, column
// after column (column c starts at element (c - c0) * block_pitch(rows)).
void pack_block(const Operand& o, int64_t r0, int64_t rows, int64_t c0, int64_t c1, std::vector<char>& buf) {
  const int64_t size = element_size(o.dtype), pitch = block_pitch(rows);
  const size_t need = static_cast<size_t>(pitch * (c1 - c0) * size);
  if (buf.size() < need) buf.resize(need);
  const char* base = o.data + r0 * o.row_stride + c0 * o.col_stride;
  switch (size) {
    case 8: copy_columns<uint64_t>(base, o.row_stride, rows, c1 - c0, pitch, buf.data()); break;
    case 4: copy_columns<uint32_t>(base, o.row_stride, rows, c1 - c0, pitch, buf.data()); break;
    default: copy_columns<uint16_t>(base, o.row_stride, rows, c1 - c0, pitch, buf.data()); break;
  }
}

// Rows per block for a pass over `cols` columns at a time.
int64_t block_rows_for(int64_t cols) {
  return cols == 1 ? std::numeric_limits<int64_t>::max() : std::max<int64_t>(256, kBlockElements / cols);
}

// Calls kernel(task, column) for rows [r0, r0 + rows) of every column in [c0, c1), reading
// packed operands through `buf` (above).
template <class Kernel>
void for_block_columns(const ReduceRequest& req, int64_t r0, int64_t rows, int64_t c0, int64_t c1,
                       BlockBuffers& buf, Kernel&& kernel) {
  const bool pack = c1 - c0 > 1 && c1 - c0 <= kMaxPackedCols;
  const bool pack_t = pack && packed_rows(req.y_true);
  const bool pack_p = pack && packed_rows(req.y_pred);
  if (pack_t) pack_block(req.y_true, r0, rows, c0, c1, buf.y_true);
  if (pack_p) pack_block(req.y_pred, r0, rows, c0, c1, buf.y_pred);
  const int64_t st = element_size(req.y_true.dtype), sp = element_size(req.y_pred.dtype);
  for (int64_t c = c0; c < c1; ++c) {
    ColumnTask t = make_task(req, r0, rows, c);
    if (pack_t) {
      t.y_true = buf.y_true.data() + (c - c0) * block_pitch(rows) * st;
      t.y_true_stride = st;
    }
    if (pack_p) {
      t.y_pred = buf.y_pred.data() + (c - c0) * block_pitch(rows) * sp;
      t.y_pred_stride = sp;
    }
    kernel(t, c);
  }
}

// Runs tile(scratch, c0, c1) for every tile of kTileCols columns, tiles claimed
// dynamically by the threads; merge(scratch) per thread afterwards (parallel_reduce_rows).
template <class MakeScratch, class Tile, class Merge>
void for_column_tiles(int threads, int64_t n_cols, MakeScratch&& make, Tile&& tile, Merge&& merge) {
  const int64_t n_tiles = (n_cols + kTileCols - 1) / kTileCols;
  parallel_reduce_rows(
      static_cast<int>(std::min<int64_t>(threads, n_tiles)), n_tiles, 1, make,
      [&](auto& scratch, int64_t t, int64_t) {
        tile(scratch, t * kTileCols, std::min(n_cols, (t + 1) * kTileCols));
      },
      [](auto&) {}, merge);
}

// Per-thread state of the fast pass: one ColumnState per column (per tile column, for
// wide inputs), whether a tiny target or weight was seen (target_moments.hpp), and the
// block buffers.
struct FastThreadState {
  FastThreadState() = default;
  explicit FastThreadState(int64_t n_states)
      : owned(new ColumnState[static_cast<size_t>(n_states)]), columns(owned.get()) {}
  explicit FastThreadState(ColumnState* borrowed) : columns(borrowed) {}  // a ReduceScratch's
  std::unique_ptr<ColumnState[]> owned;
  ColumnState* columns = nullptr;
  bool tiny_seen = false;
  bool nonfinite = false;
  BlockBuffers buf;
};

// Stores a flushed state's sums as column `dst` of the result (first: replace, else merge).
void store_state(const ColumnState& src, ColumnSums& dst, bool first) {
  for (int k = 0; k < kNumAccs; ++k) {
    if (!((src.used >> k) & 1u)) continue;  // untouched: still exactly zero
    if (first) {
      dst.set(k, src.acc[k]);
    } else {
      dst.add(k, src.acc[k]);
    }
  }
  dst.max_abs = std::max(dst.max_abs, src.max_abs);
}

// ---- packed rows (kernel_packed.inc) ------------------------------------------------------
//
// MSE and MAE of a C-ordered (n, k) pair read front to back with vector lanes across
// columns: every byte once, in memory order, at the 1-D kernel's rate whatever k is. Each
// thread keeps the expansion levels of every (slot, lane) -- lcm(k, L) doubles per level --
// and a sparse map of the few superaccumulators its residuals and tails reach; the levels
// go into the columns' superaccumulators once, when the threads' states are merged.

bool packed_eligible(const ReduceRequest& req) {
  if (req.n_cols < 2 || req.log1p || req.grad.data || (req.sums != kProfSq && req.sums != kProfAbs)) return false;
  if (!is_wide_float(req.y_true.dtype) || !is_wide_float(req.y_pred.dtype)) return false;
  auto flat = [&](const Operand& o) {
    const int64_t size = element_size(o.dtype);
    return o.col_stride == size && (req.n_rows == 1 || o.row_stride == size * req.n_cols);
  };
  return flat(req.y_true) && flat(req.y_pred);
}

constexpr int64_t kPackedBlockElements = 1 << 15;  // elements per kernel call (the log's size)

struct PackedThreadState {
  std::vector<double> fpe0, fpe1;
  std::vector<int64_t> log_column;
  std::vector<double> log_term;
  PackedState st{};
  std::unordered_map<int64_t, Superaccumulator> spills;  // column (-1: the weight sum) -> residuals
  bool nonfinite = false;
};

void packed_pass(const ReduceRequest& req, int threads, ReduceResult& out, bool& nonfinite) {
  const IsaKernels& kernels = kernels_for(active_isa());
  const int64_t k = req.n_cols, lanes = kernels.packed_lanes;
  const int64_t period = std::lcm(k, lanes) / lanes;             // slots before the lane->column pattern repeats
  const int64_t slots = period * ((8 + period - 1) / period);    // >= 8 independent chains
  const int64_t row_step = lanes / std::gcd(k, lanes);           // rows whose elements fill whole vectors
  int64_t block_rows = std::max<int64_t>(1, kPackedBlockElements / k);
  if (block_rows > row_step) block_rows -= block_rows % row_step;  // no tail inside a chunk, when possible
  const KernelConfig cfg = make_config(req, true);
  const int acc = req.sums == kProfAbs ? kAccAbs : kAccSq;
  const int64_t log_capacity = block_rows * k + block_rows + 2 * lanes;
  nonfinite = false;
  std::vector<PackedThreadState> states;
  parallel_reduce_rows(
      threads, req.n_rows, std::max(chunk_rows(req, threads), block_rows),
      [&] {
        PackedThreadState s;
        s.fpe0.assign(static_cast<size_t>(slots * lanes), 0.0);
        s.fpe1.assign(static_cast<size_t>(slots * lanes), 0.0);
        s.log_column.resize(static_cast<size_t>(log_capacity));
        s.log_term.resize(static_cast<size_t>(log_capacity));
        s.st.fpe0 = s.fpe0.data();
        s.st.fpe1 = s.fpe1.data();
        s.st.slots = slots;
        s.st.log_column = s.log_column.data();
        s.st.log_term = s.log_term.data();
        return s;
      },
      [&](PackedThreadState& s, int64_t begin, int64_t count) {
        // The state's pointers follow the vectors (a thread's state may have been moved).
        s.st.fpe0 = s.fpe0.data();
        s.st.fpe1 = s.fpe1.data();
        s.st.log_column = s.log_column.data();
        s.st.log_term = s.log_term.data();
        for (int64_t r0 = begin, end = begin + count; r0 < end; r0 += block_rows) {
          const int64_t rows = std::min(block_rows, end - r0);
          PackedTask t{req.y_true.data + r0 * req.y_true.row_stride,
                       req.y_pred.data + r0 * req.y_pred.row_stride,
                       req.weight ? req.weight + r0 * req.weight_stride : nullptr,
                       req.weight_stride,
                       rows,
                       k};
          s.st.log_size = 0;
          kernels.packed(t, cfg, s.st);
          for (int64_t i = 0; i < s.st.log_size; ++i) {
            const double term = s.log_term[static_cast<size_t>(i)];
            if (!std::isfinite(term)) {
              s.nonfinite = true;
            } else {
              scalar::sacc_add_double(s.spills[s.log_column[static_cast<size_t>(i)]], term);
            }
          }
        }
      },
      [](PackedThreadState&) {},
      [&](PackedThreadState& s) { states.push_back(std::move(s)); });
  // Column c's levels are entries c, c + k, c + 2k, ... of every thread's (slot, lane) array
  // (lcm(k, L) * (slots / period) of them): summed into one accumulator per column, stored once.
  const int64_t entries = slots * lanes;
  Superaccumulator sum;
  auto add = [&](double v) {
    if (v == 0.0) return;
    if (!std::isfinite(v)) {
      nonfinite = true;
    } else {
      scalar::sacc_add_double(sum, v);
    }
  };
  for (int64_t c = 0; c < k; ++c) {
    sacc_clear(sum);
    for (PackedThreadState& s : states) {
      for (int64_t i = c; i < entries; i += k) {
        add(s.fpe0[static_cast<size_t>(i)]);
        add(s.fpe1[static_cast<size_t>(i)]);
      }
      if (!s.spills.empty()) {
        const auto it = s.spills.find(c);
        if (it != s.spills.end()) sacc_merge(sum, it->second);
      }
    }
    out.columns[static_cast<size_t>(c)].set(acc, sum);
  }
  if (req.weight) {
    sacc_clear(sum);
    for (PackedThreadState& s : states) {
      for (int64_t l = 0; l < lanes; ++l) {
        add(s.st.wfpe0[l]);
        add(s.st.wfpe1[l]);
      }
      const auto it = s.spills.find(-1);
      if (it != s.spills.end()) sacc_merge(sum, it->second);
    }
    out.columns[0].set(kAccW, sum);
  }
  for (const PackedThreadState& s : states) nonfinite = nonfinite || s.nonfinite;
}

}  // namespace

struct ReduceScratch::Impl {
  std::unique_ptr<ColumnState[]> states;
  int64_t capacity = 0;
  ColumnState* get(int64_t n) {
    if (n > capacity) {
      states.reset(new ColumnState[static_cast<size_t>(n)]);
      capacity = n;
    }
    return states.get();
  }
};

ReduceScratch::ReduceScratch() : impl_(new Impl) {}
ReduceScratch::~ReduceScratch() = default;

namespace {

void fast_pass(const ReduceRequest& req, int threads, ReduceResult& out, bool& nonfinite, bool& tiny,
               ReduceScratch* scratch) {
  const IsaKernels& kernels = kernels_for(active_isa());
  const ColumnKernel kernel = kernels.column;
  const TinyScan scan = kernels.tiny_scan;
  const bool moments = has_target_moments(req);
  const bool scan_y = moments && req.y_true.dtype == DType::kFloat64;  // narrower floats are never tiny
  const bool scan_w = moments && req.weight && req.weight_dtype == DType::kFloat64;
  const int64_t n_cols = req.n_cols;
  const bool wide = is_wide(req);
  // Columns that are contiguous (F order) gain nothing from row blocks -- no other column
  // shares their cache lines -- and pay the kernel's per-call cost on every block: one
  // call per column per chunk then.
  const bool column_major = element_size(req.y_true.dtype) == req.y_true.row_stride &&
                            element_size(req.y_pred.dtype) == req.y_pred.row_stride;
  int64_t block_rows = column_major ? std::numeric_limits<int64_t>::max()
                                    : block_rows_for(wide ? std::min(n_cols, kTileCols) : n_cols);
  if (scan_y || scan_w) block_rows = std::min(block_rows, kScanBlockRows);
  const KernelConfig cfg_first = make_config(req, true);
  const KernelConfig cfg_rest = make_config(req, false);
  tiny = false;
  nonfinite = false;
  if (packed_eligible(req)) {
    packed_pass(req, threads, out, nonfinite);
    return;
  }
  // Rows [begin, end) of columns [c0, c1) into states[0 .. c1 - c0).
  auto sum_rows = [&](FastThreadState& st, int64_t begin, int64_t end, int64_t c0, int64_t c1) {
    for (int64_t r0 = begin; r0 < end;) {
      const int64_t rows = std::min(block_rows, end - r0);
      for_block_columns(req, r0, rows, c0, c1, st.buf, [&](const ColumnTask& t, int64_t c) {
        kernel(t, c == 0 ? cfg_first : cfg_rest, st.columns[c - c0]);
      });
      if ((scan_y || scan_w) && !st.tiny_seen) st.tiny_seen = block_has_tiny(req, scan, scan_y, scan_w, r0, rows, c0, c1);
      r0 += rows;
    }
  };
  auto fold_flags = [&](const FastThreadState& st) {
    tiny = tiny || st.tiny_seen;
    nonfinite = nonfinite || st.nonfinite;
  };
  if (wide) {
    for_column_tiles(
        threads, n_cols,
        [&] { return FastThreadState(kTileCols); },
        [&](FastThreadState& st, int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) reset_state(st.columns[c - c0]);
          sum_rows(st, 0, req.n_rows, c0, c1);
          for (int64_t c = c0; c < c1; ++c) {
            ColumnState& src = st.columns[c - c0];
            scalar::flush_column(src);
            store_state(src, out.columns[static_cast<size_t>(c)], true);
            st.nonfinite = st.nonfinite || src.nonfinite != 0;
          }
        },
        fold_flags);
    return;
  }
  bool first = true;
  parallel_reduce_rows(
      threads, req.n_rows, chunk_rows(req, threads),
      [&] {
        // Default-initialised: the kernels clear only the accumulators they claim (kernel_abi.hpp).
        // One thread may borrow the caller's scratch states instead of allocating.
        FastThreadState st = scratch != nullptr && threads == 1 ? FastThreadState(scratch->impl()->get(n_cols))
                                                                : FastThreadState(n_cols);
        for (int64_t c = 0; c < n_cols; ++c) reset_state(st.columns[c]);
        return st;
      },
      [&](FastThreadState& st, int64_t begin, int64_t count) { sum_rows(st, begin, begin + count, 0, n_cols); },
      [&](FastThreadState& st) {
        for (int64_t c = 0; c < n_cols; ++c) {
          scalar::flush_column(st.columns[c]);
          st.nonfinite = st.nonfinite || st.columns[c].nonfinite != 0;
        }
      },
      [&](const FastThreadState& st) {
        fold_flags(st);
        for (int64_t c = 0; c < n_cols; ++c) store_state(st.columns[c], out.columns[static_cast<size_t>(c)], first);
        first = false;
      });
}

// The skeleton of the careful and target-moments passes: rows(task, cfg, state) sums a
// column's rows into a CarefulState (one per column and thread, or per tile column for
// wide inputs), fold(state, dst) adds it into the result's column. Returns the union of
// the states' input flags.
template <class Rows, class Fold>
uint32_t careful_states_pass(const ReduceRequest& req, int threads, const KernelConfig& cfg_first,
                             const KernelConfig& cfg_rest, ReduceResult& out, Rows&& rows, Fold&& fold) {
  const int64_t n_cols = req.n_cols;
  struct Scratch {
    std::unique_ptr<CarefulState[]> states;
    uint32_t flags = 0;
  };
  uint32_t flags = 0;
  if (is_wide(req)) {
    for_column_tiles(
        threads, n_cols, [&] { return Scratch{std::make_unique<CarefulState[]>(kTileCols)}; },
        [&](Scratch& s, int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            CarefulState& st = s.states[c - c0];
            st = CarefulState{};
            rows(make_task(req, 0, req.n_rows, c), c == 0 ? cfg_first : cfg_rest, st);
            fold(st, out.columns[static_cast<size_t>(c)]);  // this thread's column alone
            s.flags |= st.input_flags;
          }
        },
        [&](const Scratch& s) { flags |= s.flags; });
    return flags;
  }
  parallel_reduce_rows(
      threads, req.n_rows, chunk_rows(req, threads),
      [&] { return Scratch{std::make_unique<CarefulState[]>(static_cast<size_t>(n_cols))}; },  // zero-filled
      [&](Scratch& s, int64_t begin, int64_t count) {
        for (int64_t c = 0; c < n_cols; ++c) rows(make_task(req, begin, count, c), c == 0 ? cfg_first : cfg_rest, s.states[c]);
      },
      [](Scratch&) {},
      [&](const Scratch& s) {
        for (int64_t c = 0; c < n_cols; ++c) {
          fold(s.states[c], out.columns[static_cast<size_t>(c)]);
          flags |= s.states[c].input_flags;
        }
      });
  return flags;
}

void careful_pass(const ReduceRequest& req, int threads, ReduceResult& out) {
  for (auto& col : out.columns) col = ColumnSums{};
  out.input_flags = careful_states_pass(
      req, threads, make_config(req, true), make_config(req, false), out,
      [](const ColumnTask& t, const KernelConfig& cfg, CarefulState& st) { scalar::careful_kernel(t, cfg, st); },
      [](const CarefulState& st, ColumnSums& dst) {
        for (int k = 0; k < kNumAccs; ++k) {
          if (!sacc_all_digits_zero(st.acc[k])) dst.add(k, st.acc[k]);
          dst.term_flags[k] |= st.term_flags[k];
        }
        const double m = st.max_abs;
        if (std::isnan(m) || std::isnan(dst.max_abs)) {
          dst.max_abs = std::numeric_limits<double>::quiet_NaN();
        } else {
          dst.max_abs = std::max(dst.max_abs, m);
        }
      });
  out.careful = true;
}

// Reruns sum w*y / sum w*y^2 of every column with exact terms where a row needs them
// (target_moments.hpp), replacing what the fast or careful pass summed.
void target_moments_pass(const ReduceRequest& req, int threads, ReduceResult& out) {
  KernelConfig cfg = make_config(req, false);
  cfg.sums = req.sums & (kSumY | kSumY2);
  static constexpr int kAccs[] = {kAccY,         kAccYLo,       kAccY2,         kAccY2Lo,       kAccY2Lo2,
                                  kAccYScaledM1, kAccYScaledP1, kAccY2ScaledM2, kAccY2ScaledM1, kAccY2ScaledP1};
  for (ColumnSums& dst : out.columns) {
    for (int k : kAccs) {
      dst.clear(k);
      dst.term_flags[k] = 0;
    }
  }
  careful_states_pass(
      req, threads, cfg, cfg, out,
      [](const ColumnTask& t, const KernelConfig& c, CarefulState& st) { target_moments_rows(t, c, st); },
      [](const CarefulState& st, ColumnSums& dst) {
        for (int k : kAccs) {
          if (!sacc_all_digits_zero(st.acc[k])) dst.add(k, st.acc[k]);
          dst.term_flags[k] |= st.term_flags[k];
        }
      });
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

ReduceResult reduce(const ReduceRequest& req) { return reduce(req, nullptr); }

ReduceResult reduce(const ReduceRequest& req, ReduceScratch* scratch) {
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
  fast_pass(req, threads, out, nonfinite, tiny, scratch);
  if (nonfinite) careful_pass(req, threads, out);
  // Rare: a tiny target or weight, or a term that overflowed (flagged by the careful pass).
  if (has_target_moments(req) && (tiny || target_flags_set(out))) target_moments_pass(req, threads, out);
  if (out.weighted) {
    out.weight_sum = out.columns[0].get(kAccW);
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
  kernels_for(active_isa()).column(make_task(req, 0, req.n_rows, 0), make_config(req, true), st);
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

int max_threads_per_call() {
  // Read once: omp_get_num_procs() asks the OS for the affinity mask on every call
  // (~0.5 us, a third of a small call's budget).
  static const int cap = kMaxThreadsPerHardwareThread * max_hardware_threads();
  return cap;
}

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
