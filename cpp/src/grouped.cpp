// Grouped evaluation (grouped.hpp): a stable counting sort of the rows by group code,
// then one engine pass per group over its gathered rows, finalised at once into the
// output columns. Only one group's state is alive per thread, so memory is O(n + G)
// whatever the number of groups, and groups are independent: threads take whole groups,
// which keeps every group's bits those of a single-threaded report on its rows.
#include "l2loss/grouped.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <stdexcept>
#include <string>

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

// Rows of group g: order[start[g] .. start[g+1]) (or the range itself when order is
// empty: the codes arrived sorted).
struct GroupPlan {
  std::vector<int64_t> codes;
  std::vector<int64_t> start;
  std::vector<int64_t> order;
  int64_t n_groups() const { return static_cast<int64_t>(codes.size()); }
};

GroupPlan plan_groups(const GroupedRequest& req) {
  const int64_t n = req.base.n_rows;
  if (req.n_codes < 0 || (n > 0 && req.n_codes == 0)) throw std::invalid_argument("groups: empty code range");
  if (req.code_size != 4 && req.code_size != 8) throw std::invalid_argument("groups: codes must be int32 or int64");
  if (n > 0 && req.codes == nullptr) throw std::invalid_argument("groups: no codes");
  auto code_at = [&](int64_t i) -> uint64_t {
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
  };
  std::vector<int64_t> count(static_cast<size_t>(req.n_codes), 0);
  bool sorted = true;
  uint64_t prev = 0;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t c = code_at(i);
    if (c >= static_cast<uint64_t>(req.n_codes)) throw std::invalid_argument("groups: a code lies outside its range");
    ++count[c];
    sorted = sorted && c >= prev;
    prev = c;
  }
  GroupPlan plan;
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
  if (!sorted) {
    plan.order.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) plan.order[static_cast<size_t>(count[code_at(i)]++)] = i;
  }
  return plan;
}

// Copies `m` rows (indices idx) of an (., k) operand into a C-ordered buffer.
template <int kSize>
void gather_rows(char* dst, const Operand& src, const int64_t* idx, int64_t m, int64_t k) {
  char* out = dst;
  for (int64_t r = 0; r < m; ++r) {
    const char* row = src.data + idx[r] * src.row_stride;
    for (int64_t c = 0; c < k; ++c, out += kSize) std::memcpy(out, row + c * src.col_stride, kSize);
  }
}

void gather(std::vector<double>& buf, Operand& op, const int64_t* idx, int64_t m, int64_t k) {
  const int64_t size = element_size(op.dtype);
  buf.resize(static_cast<size_t>((m * k * size + 7) / 8));
  char* dst = reinterpret_cast<char*>(buf.data());
  switch (size) {
    case 8: gather_rows<8>(dst, op, idx, m, k); break;
    case 4: gather_rows<4>(dst, op, idx, m, k); break;
    default: gather_rows<2>(dst, op, idx, m, k); break;
  }
  op.data = dst;
  op.row_stride = k * size;
  op.col_stride = size;
}

struct Scratch {
  std::vector<double> y_true, y_pred, weight;
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
    if (rows_of(g) >= big) fn(g, reduce(group_request(req, plan, g, main_scratch, threads)));
  }
  std::exception_ptr error;
#pragma omp parallel num_threads(threads) if (threads > 1 && groups > 1)
  {
    Scratch s;
#pragma omp for schedule(dynamic, 32)
    for (int64_t g = 0; g < groups; ++g) {
      if (rows_of(g) >= big) continue;
      try {
        fn(g, reduce(group_request(req, plan, g, s, 1)));
      } catch (...) {
#pragma omp critical(l2loss_grouped_error)
        if (!error) error = std::current_exception();
      }
    }
  }
  if (error) std::rethrow_exception(error);
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
    out.mse[i] = column_mean(r, kAccSq, c);
    out.mae[i] = column_mean(r, kAccAbs, c);
    out.mean_error[i] = column_mean(r, kAccDiff, c);
    const FractionParts r2 = r2_parts(r, c);
    out.r2_num[i] = r2.numerator;
    out.r2_den[i] = r2.denominator;
    const FractionParts ev = explained_variance_parts(r, c);
    out.ev_num[i] = ev.numerator;
    out.ev_den[i] = ev.denominator;
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
  const GroupPlan plan = plan_groups(req);
  GroupedColumns out;
  out.resize(plan.n_groups(), req.base.n_cols);
  out.codes = plan.codes;
  std::vector<uint32_t> flags(static_cast<size_t>(plan.n_groups()), 0);
  for_each_group(req, plan, [&](int64_t g, ReduceResult&& r) {
    flags[static_cast<size_t>(g)] = r.input_flags;
    finalize_group(r, out, g);
  });
  for (uint32_t f : flags) out.input_flags |= f;
  return out;
}

std::vector<ReduceResult> grouped_states(const GroupedRequest& req, std::vector<int64_t>& codes) {
  check_request(req);
  const GroupPlan plan = plan_groups(req);
  std::vector<ReduceResult> states(static_cast<size_t>(plan.n_groups()));
  for_each_group(req, plan, [&](int64_t g, ReduceResult&& r) { states[static_cast<size_t>(g)] = std::move(r); });
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
