// Ridge loss and gradient: the threading driver. One pass over X; the bits depend on
// neither the thread count, the ISA, nor the memory layout of X (see ridge_kernel.hpp
// for the per-row arithmetic and ridge_body.inc for the kernels).
#include "l2loss/ridge.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <vector>

#include "l2loss/dispatch.hpp"
#include "l2loss/engine.hpp"
#include "l2loss/exact.hpp"
#include "l2loss/ridge_kernel.hpp"
#include "parallel.hpp"


namespace l2loss {
namespace {

// Rows per kernel call (and per scheduling step): about this many elements of X, so the
// shared atomic counter is touched every ~10 us of work (the kernels cut their blocks
// into L1-sized sub-blocks themselves); packed blocks are copied, so a little smaller.
constexpr int64_t kBlockElems = int64_t{1} << 15;
constexpr int64_t kPackedBlockElems = int64_t{1} << 13;
constexpr int64_t kMaxBlockRows = 4096;

int64_t round_up8(int64_t v) { return (v + 7) / 8 * 8; }

int64_t block_rows_for(int64_t elems, int64_t d, int64_t min_rows) {
  return std::clamp<int64_t>(elems / std::max<int64_t>(d, 1) / 8 * 8, min_rows, kMaxBlockRows);
}

// A zeroed array of doubles aligned to 64 bytes (the kernels' expansion registers are
// loaded and stored whole).
class AlignedDoubles {
 public:
  explicit AlignedDoubles(int64_t n) : raw_(static_cast<size_t>(std::max<int64_t>(n, 0) + 8), 0.0) {
    const auto a = reinterpret_cast<uintptr_t>(raw_.data());
    data_ = raw_.data() + ((64 - a % 64) % 64) / sizeof(double);
  }
  double* data() { return data_; }

 private:
  std::vector<double> raw_;
  double* data_;
};

template <class T>
inline double ld(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return static_cast<double>(v);
}

// rows values at p (byte stride) widened to double: a view when already contiguous
// float64, else a copy into buf.
const double* widen(const char* p, int64_t stride, DType t, int64_t rows, double* buf) {
  if (t == DType::kFloat64 && stride == 8) return reinterpret_cast<const double*>(p);
  if (t == DType::kFloat32) {
    for (int64_t i = 0; i < rows; ++i) buf[i] = ld<float>(p + i * stride);
  } else {
    for (int64_t i = 0; i < rows; ++i) buf[i] = ld<double>(p + i * stride);
  }
  return buf;
}

enum class Plan { kRowMajor, kColMajor, kPacked };

struct ThreadWork {
  explicit ThreadWork(int64_t d, int64_t block_rows, Plan plan)
      : fpe0(std::max(round_up8(d), kRidgeWays * d)),
        fpe1(std::max(round_up8(d), kRidgeWays * d)),
        y(block_rows),
        w(block_rows),
        packed(plan == Plan::kPacked ? block_rows * d : 0),
        grad_acc(static_cast<size_t>(d + 1)) {
    // Cleared rather than value-initialised: an all-zero accumulator would normalise on
    // its first add, and per-call overhead matters for minibatches.
    for (auto& a : grad_acc) sacc_clear(a);
    sacc_clear(sums.loss_acc);
    sacc_clear(sums.weight_acc);
    sums.grad_fpe0 = fpe0.data();
    sums.grad_fpe1 = fpe1.data();
    sums.grad_acc = grad_acc.data();
  }
  AlignedDoubles fpe0, fpe1, y, w, packed;
  std::vector<Superaccumulator> grad_acc;
  RidgeSums sums{};

  // Adds the expansions' levels to the superaccumulators (exact), as the kernels left them.
  void flush(int64_t d, bool col_major) {
    uint32_t& nf = sums.nonfinite;
    if (col_major) {
      for (int64_t j = 0; j < d; ++j) {
        for (int l = 0; l < kRidgeWays; ++l) {
          ridge_sacc_add(grad_acc[static_cast<size_t>(j)], fpe0.data()[kRidgeWays * j + l], nf);
          ridge_sacc_add(grad_acc[static_cast<size_t>(j)], fpe1.data()[kRidgeWays * j + l], nf);
        }
      }
    } else {
      for (int64_t j = 0; j < round_up8(d); ++j) {
        if (j < d) {
          ridge_sacc_add(grad_acc[static_cast<size_t>(j)], fpe0.data()[j], nf);
          ridge_sacc_add(grad_acc[static_cast<size_t>(j)], fpe1.data()[j], nf);
        } else if (!std::isfinite(fpe0.data()[j]) || !std::isfinite(fpe1.data()[j])) {
          nf = 1;  // padding lanes: zero unless a non-finite weighted residual met them
        }
      }
    }
    for (int l = 0; l < kRidgeWays; ++l) {
      ridge_sacc_add(sums.loss_acc, sums.loss_fpe0[l], nf);
      ridge_sacc_add(sums.loss_acc, sums.loss_fpe1[l], nf);
      ridge_sacc_add(grad_acc[static_cast<size_t>(d)], sums.icpt_fpe0[l], nf);
      ridge_sacc_add(grad_acc[static_cast<size_t>(d)], sums.icpt_fpe1[l], nf);
      ridge_sacc_add(sums.weight_acc, sums.weight_fpe0[l], nf);
      ridge_sacc_add(sums.weight_acc, sums.weight_fpe1[l], nf);
    }
  }
};

}  // namespace

RidgeResult ridge_loss_and_grad(const RidgeRequest& q) {
  if (q.n_rows < 0 || q.n_features < 0 || (q.n_rows > 0 && (!q.x || !q.y)) || (q.n_features > 0 && !q.coef)) {
    throw std::invalid_argument("l2loss: bad ridge request");
  }
  // float32/float64 only (the Python layer widens float16 before calling).
  const auto narrow = [](DType t) { return t != DType::kFloat32 && t != DType::kFloat64; };
  if (narrow(q.x_dtype) || narrow(q.y_dtype) || (q.weight && narrow(q.weight_dtype))) {
    throw std::invalid_argument("l2loss: ridge inputs must be float32 or float64");
  }
  const int64_t n = q.n_rows, d = q.n_features;
  const int64_t isz = q.x_dtype == DType::kFloat32 ? 4 : 8;
  const bool row_ok = d <= 1 || q.x_col_stride == isz;
  const bool col_ok = n <= 1 || q.x_row_stride == isz;
  const Plan plan = col_ok && (!row_ok || d <= 1) ? Plan::kColMajor : row_ok ? Plan::kRowMajor : Plan::kPacked;
  // (At least 64 rows, so column-major X is read in >= 512-byte column segments; packed
  // blocks are copies, so they may be as small as 8 rows when X is very wide.)
  const int64_t block_rows =
      plan == Plan::kPacked ? block_rows_for(kPackedBlockElems, d, 8) : block_rows_for(kBlockElems, d, 64);
  const RidgeKernel kernel = kernels_for(active_isa()).ridge;

  AlignedDoubles coef(round_up8(d) + kRidgeWays);  // zero padding for the last column group
  std::copy(q.coef, q.coef + d, coef.data());

  // ~2^15 elements of X per thread at least, as for the metric kernels.
  const int threads = threads_for_call(q.num_threads, n * std::max<int64_t>(d, 1), int64_t{1} << 15);
  RidgeBlock proto{};
  proto.x_dtype = q.x_dtype;
  proto.layout = plan == Plan::kColMajor ? RidgeLayout::kColMajor : RidgeLayout::kRowMajor;
  proto.n_features = d;
  proto.x_row_stride = q.x_row_stride;
  proto.x_col_stride = q.x_col_stride;
  proto.coef = coef.data();
  proto.intercept = q.intercept;
  // Exact merges into the first thread's sums: the order of the threads does not matter.
  std::unique_ptr<ThreadWork> total;
  bool nonfinite = false;
  parallel_reduce_rows(
      threads, n, block_rows,
      // Allocated by the thread that uses it: its own pages, no shared cache lines.
      [&] { return std::make_unique<ThreadWork>(d, std::min(block_rows, n), plan); },
      // Blocks are claimed one ahead, so the kernel can prefetch the next one.
      [&](std::unique_ptr<ThreadWork>& tw, int64_t r0, int64_t rows, int64_t next_r0) {
        RidgeBlock blk = proto;
        blk.rows = rows;
        blk.x = q.x + r0 * q.x_row_stride;
        blk.next_x = next_r0 >= 0 && plan != Plan::kPacked ? q.x + next_r0 * q.x_row_stride : nullptr;
        blk.next_rows = blk.next_x ? std::min(block_rows, n - next_r0) : 0;
        if (plan == Plan::kPacked) {  // any strides: copy the block to row-major float64
          double* p = tw->packed.data();
          for (int64_t i = 0; i < rows; ++i) {
            const char* xi = blk.x + i * q.x_row_stride;
            for (int64_t j = 0; j < d; ++j) {
              p[i * d + j] = q.x_dtype == DType::kFloat32 ? ld<float>(xi + j * q.x_col_stride)
                                                          : ld<double>(xi + j * q.x_col_stride);
            }
          }
          blk.x = reinterpret_cast<const char*>(p);
          blk.x_dtype = DType::kFloat64;
          blk.x_row_stride = d * 8;
          blk.x_col_stride = 8;
        }
        blk.y = widen(q.y + r0 * q.y_stride, q.y_stride, q.y_dtype, rows, tw->y.data());
        blk.w = q.weight ? widen(q.weight + r0 * q.weight_stride, q.weight_stride, q.weight_dtype, rows, tw->w.data())
                         : nullptr;
        kernel(blk, tw->sums);
      },
      [&](std::unique_ptr<ThreadWork>& tw) { tw->flush(d, plan == Plan::kColMajor); },
      [&](std::unique_ptr<ThreadWork>& tw) {
        nonfinite = nonfinite || tw->sums.nonfinite;
        if (!total) {
          total = std::move(tw);
          return;
        }
        sacc_merge(total->sums.loss_acc, tw->sums.loss_acc);
        sacc_merge(total->sums.weight_acc, tw->sums.weight_acc);
        for (int64_t j = 0; j <= d; ++j) {
          sacc_merge(total->grad_acc[static_cast<size_t>(j)], tw->grad_acc[static_cast<size_t>(j)]);
        }
      });
  const Superaccumulator& loss = total->sums.loss_acc;
  const Superaccumulator& weight = total->sums.weight_acc;
  const std::vector<Superaccumulator>& grad = total->grad_acc;
  RidgeResult out;
  out.grad.resize(static_cast<size_t>(d));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const ExactNumber w = q.weight ? ExactNumber::from_accumulator(weight) : ExactNumber::from_uint(static_cast<uint64_t>(n));
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

}  // namespace l2loss
