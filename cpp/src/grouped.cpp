// Grouped evaluation (grouped.hpp). Rows reach each group's engine pass in one of three
// ways, chosen by the layout of the codes:
//  - sorted codes: every group's rows are a contiguous range, reduced in place;
//  - unsorted codes, few groups (<= kMaxChunkRows / kChunkRowsPerGroup): chunk by chunk,
//    each chunk counting-sorted and scattered in cache, each group's part merged into its
//    state (for_each_group_chunked);
//  - unsorted codes, many groups: one stable counting sort of all rows, then each group's
//    rows gathered into a small buffer (for_each_group).
// Groups are independent and exact states merge exactly, so every group's numbers are
// those of a single-threaded report on its rows alone, whatever the strategy, the thread
// count or the chunking.
#include "l2loss/grouped.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace l2loss {

void GroupedColumns::resize(int64_t groups, int64_t cols) {
  n_groups = groups;
  n_cols = cols;
  const size_t g = static_cast<size_t>(groups), gc = static_cast<size_t>(groups * cols);
  codes.assign(g, 0);
  n_rows.assign(g, 0);
  weight_sum.assign(g, 0.0);
  weight_zero.assign(g, 0);
  for (auto* v : {&mse, &mae, &mean_error, &max_abs, &r2_num, &r2_den, &ev_num, &ev_den}) v->assign(gc, 0.0);
}

namespace {

// A group this large, and too large to balance the threads when shared out whole (more
// than 1/4 of a thread's share of the rows), is reduced on its own with all the call's
// threads (the engine splits its rows). Every other group goes to one thread, all in one
// parallel region: a region per group costs a wake-up each, milliseconds on a busy machine.
constexpr int64_t kBigGroupRows = int64_t{1} << 16;
int64_t big_group_rows(int64_t n_rows, int threads) {
  return std::max<int64_t>(kBigGroupRows, n_rows / (4 * int64_t{threads}));
}

int64_t element_size(DType d) {
  switch (d) {
    case DType::kFloat64: return 8;
    case DType::kFloat32: return 4;
    case DType::kFloat16:
    case DType::kBFloat16: return 2;
    default: return 0;
  }
}

int call_threads(int requested) {
  const int t = requested > 0 ? requested : default_num_threads();
  return std::max(1, std::min(t, max_threads_per_call()));
}

// The group codes of the request, shifted to [0, n_codes) (checked: a code outside the
// range throws).
struct CodeReader {
  const GroupedRequest& req;
  uint64_t operator()(int64_t i) const {
    const char* p = req.codes + i * req.code_stride;
    int64_t v;
    if (req.code_size == 8) {
      std::memcpy(&v, p, 8);
    } else {
      int32_t v32;
      std::memcpy(&v32, p, 4);
      v = v32;
    }
    // Unsigned wrap-around: one comparison catches both ends of the range.
    return static_cast<uint64_t>(v) - static_cast<uint64_t>(req.code_lo);
  }
};

// Rows of group g: order[start[g] .. start[g+1]) (or the range itself when order is
// empty: the codes arrived sorted). Before build_order(), `count[c]` is the first row
// position of code c in group order.
struct GroupPlan {
  std::vector<int64_t> codes;
  std::vector<int64_t> start;
  std::vector<int64_t> order;
  std::vector<int64_t> count;
  bool sorted = true;
  int64_t n_groups() const { return static_cast<int64_t>(codes.size()); }
};

GroupPlan plan_groups(const GroupedRequest& req) {
  const int64_t n = req.base.n_rows;
  if (req.n_codes < 0 || (n > 0 && req.n_codes == 0)) throw std::invalid_argument("groups: empty code range");
  if (req.code_size != 4 && req.code_size != 8) throw std::invalid_argument("groups: codes must be int32 or int64");
  if (n > 0 && req.codes == nullptr) throw std::invalid_argument("groups: no codes");
  const CodeReader code_at{req};
  GroupPlan plan;
  std::vector<int64_t>& count = plan.count;
  count.assign(static_cast<size_t>(req.n_codes), 0);
  bool sorted = true;
  uint64_t prev = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t c = code_at(i);
    if (c >= static_cast<uint64_t>(req.n_codes)) throw std::invalid_argument("groups: a code lies outside its range");
    ++count[c];
    sorted = sorted && c >= prev;
    prev = c;
  }
  plan.sorted = sorted;
  int64_t pos = 0;
  for (int64_t c = 0; c < req.n_codes; ++c) {
    const int64_t m = count[static_cast<size_t>(c)];
    if (m == 0) continue;
    plan.codes.push_back(c);
    plan.start.push_back(pos);
    count[static_cast<size_t>(c)] = pos;  // from here on: the next free slot of code c
    pos += m;
  }
  plan.start.push_back(pos);
  return plan;
}

// The stable counting sort of all rows by code (unsorted codes only).
void build_order(const GroupedRequest& req, GroupPlan& plan) {
  if (plan.sorted) return;
  const CodeReader code_at{req};
  const int64_t n = req.base.n_rows;
  plan.order.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) plan.order[static_cast<size_t>(plan.count[code_at(i)]++)] = i;
}

// Copies m rows of an (., k) operand into `buf`, C-ordered, and points `op` at the copy.
// place(size_tag, dst) does the moving for the element size of `op` (8, 4 or 2 bytes).
template <class Place>
void repack(std::vector<double>& buf, Operand& op, int64_t m, int64_t k, Place&& place) {
  const int64_t size = element_size(op.dtype);
  buf.resize(static_cast<size_t>((m * k * size + 7) / 8));
  char* dst = reinterpret_cast<char*>(buf.data());
  switch (size) {
    case 8: place(std::integral_constant<int, 8>{}, dst); break;
    case 4: place(std::integral_constant<int, 4>{}, dst); break;
    default: place(std::integral_constant<int, 2>{}, dst); break;
  }
  op.data = dst;
  op.row_stride = k * size;
  op.col_stride = size;
}

// Rows idx[0 .. m) of the operand, in that order (random reads, sequential writes).
void gather(std::vector<double>& buf, Operand& op, const int64_t* idx, int64_t m, int64_t k) {
  const Operand src = op;
  repack(buf, op, m, k, [&](auto size_tag, char* dst) {
    constexpr int kSize = decltype(size_tag)::value;
    char* out = dst;
    for (int64_t r = 0; r < m; ++r) {
      const char* row = src.data + idx[r] * src.row_stride;
      for (int64_t c = 0; c < k; ++c, out += kSize) std::memcpy(out, row + c * src.col_stride, kSize);
    }
  });
}

// Rows [r0, r0 + m) of the operand, row r0 + i going to row dest[i]: the source is read
// front to back (the prefetcher's pattern), the writes land in a buffer the size of a
// chunk, which stays in cache.
void scatter(std::vector<double>& buf, Operand& op, int64_t r0, const int32_t* dest, int64_t m, int64_t k) {
  const Operand src = op;
  repack(buf, op, m, k, [&](auto size_tag, char* dst) {
    constexpr int kSize = decltype(size_tag)::value;
    const char* row = src.data + r0 * src.row_stride;
    for (int64_t i = 0; i < m; ++i, row += src.row_stride) {
      char* out = dst + static_cast<int64_t>(dest[i]) * k * kSize;
      for (int64_t c = 0; c < k; ++c) std::memcpy(out + c * kSize, row + c * src.col_stride, kSize);
    }
  });
}

struct Scratch {
  std::vector<double> y_true, y_pred, weight;
  ReduceScratch engine;
};

// The request for group g: its rows in place when contiguous, else gathered into `s`.
ReduceRequest group_request(const GroupedRequest& req, const GroupPlan& plan, int64_t g, Scratch& s, int threads) {
  ReduceRequest sub = req.base;
  const int64_t lo = plan.start[static_cast<size_t>(g)], m = plan.start[static_cast<size_t>(g) + 1] - lo;
  sub.n_rows = m;
  sub.num_threads = threads;
  int64_t first = lo;
  const int64_t* idx = nullptr;
  if (!plan.order.empty()) {
    idx = plan.order.data() + lo;
    first = idx[0];
    if (idx[m - 1] - idx[0] == m - 1) idx = nullptr;  // a stable sort: increasing, so contiguous
  }
  if (idx == nullptr) {
    sub.y_true.data += first * sub.y_true.row_stride;
    sub.y_pred.data += first * sub.y_pred.row_stride;
    if (sub.weight) sub.weight += first * sub.weight_stride;
    return sub;
  }
  const int64_t k = sub.n_cols;
  gather(s.y_true, sub.y_true, idx, m, k);
  gather(s.y_pred, sub.y_pred, idx, m, k);
  if (sub.weight) {
    Operand w{sub.weight, sub.weight_dtype, sub.weight_stride, 0};
    gather(s.weight, w, idx, m, 1);
    sub.weight = w.data;
    sub.weight_stride = w.row_stride;
  }
  return sub;
}

// fn(g, state) for every group; big groups one after another with all threads, the rest
// spread over the threads. fn must only write slots of its own group.
template <class Fn>
void for_each_group(const GroupedRequest& req, const GroupPlan& plan, Fn&& fn) {
  const int threads = call_threads(req.base.num_threads);
  const int64_t groups = plan.n_groups();
  auto rows_of = [&](int64_t g) { return plan.start[static_cast<size_t>(g) + 1] - plan.start[static_cast<size_t>(g)]; };
  const int64_t big = threads > 1 ? big_group_rows(req.base.n_rows, threads) : std::numeric_limits<int64_t>::max();
  Scratch main_scratch;
  for (int64_t g = 0; g < groups; ++g) {
    if (rows_of(g) >= big) fn(g, reduce(group_request(req, plan, g, main_scratch, threads), &main_scratch.engine));
  }
  std::exception_ptr error;
#pragma omp parallel num_threads(threads) if (threads > 1 && groups > 1)
  {
    Scratch s;
#pragma omp for schedule(dynamic, 32)
    for (int64_t g = 0; g < groups; ++g) {
      if (rows_of(g) >= big) continue;
      try {
        fn(g, reduce(group_request(req, plan, g, s, 1), &s.engine));
      } catch (...) {
#pragma omp critical(l2loss_grouped_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
}

// ---- unsorted codes, few groups: chunk by chunk ----------------------------------------
//
// Gathering a group's rows from all over the input reads every cache line once per group
// in it: with 100 groups of unsorted keys, 8x the bytes of the input. Instead the rows go
// in chunks small enough for the cache: a chunk is counting-sorted by group and scattered
// into a chunk-sized buffer (read in order, written in cache), each group's part reduced
// and merged into that group's state. States merge exactly, so every group's bits are those of one pass over
// its rows alone; threads take whole chunks, each with its own states, merged at the end.
constexpr int64_t kMinChunkRows = int64_t{1} << 18;
constexpr int64_t kMaxChunkRows = int64_t{1} << 22;
constexpr int64_t kChunkRowsPerGroup = 256;  // a group's part of a chunk: ~256 rows on average

// The chunk length for unsorted codes, or 0 when whole groups are gathered at once (many
// groups: each would get too few rows per chunk).
int64_t chunk_rows_for(const GroupedRequest& req, const GroupPlan& plan) {
  if (plan.sorted) return 0;
  const int64_t chunk = std::max(kMinChunkRows, plan.n_groups() * kChunkRowsPerGroup);
  return chunk <= kMaxChunkRows && 2 * chunk <= req.base.n_rows ? chunk : 0;
}

template <class Fn>
void for_each_group_chunked(const GroupedRequest& req, const GroupPlan& plan, int64_t chunk, Fn&& fn) {
  const int64_t n = req.base.n_rows, k = req.base.n_cols, groups = plan.n_groups();
  const CodeReader code_at{req};
  std::vector<int32_t> slot(static_cast<size_t>(req.n_codes), -1);
  for (int64_t g = 0; g < groups; ++g) slot[static_cast<size_t>(plan.codes[static_cast<size_t>(g)])] = static_cast<int32_t>(g);
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  const int team = static_cast<int>(std::min<int64_t>(call_threads(req.base.num_threads), n_chunks));
  // per_thread[t][g]: thread t's state of group g (n_cols == 0 while it has no rows).
  std::vector<std::vector<ReduceResult>> per_thread(static_cast<size_t>(team));
  std::exception_ptr error;
  std::atomic<bool> failed{false};
  auto keep_error = [&] {
    failed = true;
#pragma omp critical(l2loss_grouped_error)
    if (!error) error = std::current_exception();
  };
#pragma omp parallel num_threads(team) if (team > 1)
  {
#ifdef _OPENMP
    const int t = omp_get_thread_num();
#else
    const int t = 0;
#endif
    std::vector<ReduceResult>& mine = per_thread[static_cast<size_t>(t)];
    Scratch s;
    std::vector<int64_t> start, next;
    std::vector<int32_t> dest;
    try {
      mine.resize(static_cast<size_t>(groups));
      start.resize(static_cast<size_t>(groups) + 1);
      dest.resize(static_cast<size_t>(chunk));
    } catch (...) {
      keep_error();
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < n_chunks; ++c) {
      if (failed) continue;
      try {
        const int64_t r0 = c * chunk, m = std::min(chunk, n - r0);
        std::fill(start.begin(), start.end(), 0);
        for (int64_t i = r0; i < r0 + m; ++i) ++start[static_cast<size_t>(slot[code_at(i)]) + 1];
        for (int64_t g = 0; g < groups; ++g) start[static_cast<size_t>(g) + 1] += start[static_cast<size_t>(g)];
        next.assign(start.begin(), start.end() - 1);
        for (int64_t i = 0; i < m; ++i) {  // a stable counting sort: row r0 + i goes to dest[i]
          dest[static_cast<size_t>(i)] = static_cast<int32_t>(next[static_cast<size_t>(slot[code_at(r0 + i)])]++);
        }
        ReduceRequest part = req.base;
        part.num_threads = 1;
        scatter(s.y_true, part.y_true, r0, dest.data(), m, k);
        scatter(s.y_pred, part.y_pred, r0, dest.data(), m, k);
        if (part.weight) {
          Operand w{part.weight, part.weight_dtype, part.weight_stride, 0};
          scatter(s.weight, w, r0, dest.data(), m, 1);
          part.weight = w.data;
          part.weight_stride = w.row_stride;
        }
        for (int64_t g = 0; g < groups; ++g) {
          const int64_t lo = start[static_cast<size_t>(g)], rows = start[static_cast<size_t>(g) + 1] - lo;
          if (rows == 0) continue;
          ReduceRequest sub = part;
          sub.n_rows = rows;
          sub.y_true.data += lo * sub.y_true.row_stride;
          sub.y_pred.data += lo * sub.y_pred.row_stride;
          if (sub.weight) sub.weight += lo * sub.weight_stride;
          ReduceResult r = reduce(sub, &s.engine);
          ReduceResult& state = mine[static_cast<size_t>(g)];
          if (state.n_cols == 0) {
            state = std::move(r);
          } else {
            merge_into(state, r);
          }
        }
      } catch (...) {
        keep_error();
      }
    }
  }
  if (error) std::rethrow_exception(error);
  const int64_t finish_threads = std::min<int64_t>(team, groups);
#pragma omp parallel for num_threads(static_cast<int>(finish_threads)) if (finish_threads > 1) schedule(dynamic, 64)
  for (int64_t g = 0; g < groups; ++g) {
    try {
      ReduceResult total;
      for (auto& states : per_thread) {
        ReduceResult& r = states[static_cast<size_t>(g)];
        if (r.n_cols == 0) continue;
        if (total.n_cols == 0) {
          total = std::move(r);
        } else {
          merge_into(total, r);
        }
      }
      fn(g, std::move(total));
    } catch (...) {
      keep_error();
    }
  }
  if (error) std::rethrow_exception(error);
}

// fn(g, state) for every group, the strategy chosen by the layout of the codes.
template <class Fn>
void reduce_groups(const GroupedRequest& req, GroupPlan& plan, Fn&& fn) {
  const int64_t chunk = chunk_rows_for(req, plan);
  if (chunk > 0) {
    for_each_group_chunked(req, plan, chunk, fn);
    return;
  }
  build_order(req, plan);
  for_each_group(req, plan, fn);
}

void finalize_group(const ReduceResult& r, GroupedColumns& out, int64_t g) {
  const size_t gi = static_cast<size_t>(g);
  out.n_rows[gi] = r.n_rows;
  out.weight_sum[gi] = weight_total(r).to_double();
  const bool zero = weight_total_is_zero(r);
  out.weight_zero[gi] = zero ? 1 : 0;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (int64_t c = 0; c < r.n_cols; ++c) {
    const size_t i = static_cast<size_t>(g * out.n_cols + c);
    out.max_abs[i] = r.columns[static_cast<size_t>(c)].max_abs;
    if (zero) {  // no mean exists: the caller reports the group
      out.mse[i] = out.mae[i] = out.mean_error[i] = nan;
      out.r2_num[i] = out.r2_den[i] = out.ev_num[i] = out.ev_den[i] = nan;
      continue;
    }
    const ReportParts p = report_parts(r, c);
    out.mse[i] = p.mse;
    out.mae[i] = p.mae;
    out.mean_error[i] = p.mean_error;
    out.r2_num[i] = p.r2.numerator;
    out.r2_den[i] = p.r2.denominator;
    out.ev_num[i] = p.explained_variance.numerator;
    out.ev_den[i] = p.explained_variance.denominator;
  }
}

void check_request(const GroupedRequest& req) {
  if (req.base.n_cols < 1) throw std::invalid_argument("grouped: need at least one column");
  if (element_size(req.base.y_true.dtype) == 0 || element_size(req.base.y_pred.dtype) == 0) {
    throw std::invalid_argument("grouped: unsupported dtype");
  }
  if (req.base.weight && element_size(req.base.weight_dtype) == 0) {
    throw std::invalid_argument("grouped: unsupported weight dtype");
  }
}

}  // namespace

GroupedColumns grouped_report(const GroupedRequest& req) {
  check_request(req);
  GroupPlan plan = plan_groups(req);
  GroupedColumns out;
  out.resize(plan.n_groups(), req.base.n_cols);
  out.codes = plan.codes;
  std::vector<uint32_t> flags(static_cast<size_t>(plan.n_groups()), 0);
  reduce_groups(req, plan, [&](int64_t g, ReduceResult&& r) {
    flags[static_cast<size_t>(g)] = r.input_flags;
    finalize_group(r, out, g);
  });
  for (uint32_t f : flags) out.input_flags |= f;
  return out;
}

std::vector<ReduceResult> grouped_states(const GroupedRequest& req, std::vector<int64_t>& codes) {
  check_request(req);
  GroupPlan plan = plan_groups(req);
  std::vector<ReduceResult> states(static_cast<size_t>(plan.n_groups()));
  reduce_groups(req, plan, [&](int64_t g, ReduceResult&& r) { states[static_cast<size_t>(g)] = std::move(r); });
  codes = plan.codes;
  return states;
}

GroupedColumns finalize_states(const std::vector<const ReduceResult*>& states) {
  GroupedColumns out;
  const int64_t cols = states.empty() ? 1 : states.front()->n_cols;
  for (const ReduceResult* r : states) {
    if (r->n_cols != cols) throw std::invalid_argument("grouped: states have different numbers of columns");
  }
  out.resize(static_cast<int64_t>(states.size()), cols);
  for (size_t g = 0; g < states.size(); ++g) {
    out.codes[g] = static_cast<int64_t>(g);
    out.input_flags |= states[g]->input_flags;
    finalize_group(*states[g], out, static_cast<int64_t>(g));
  }
  return out;
}

}  // namespace l2loss
