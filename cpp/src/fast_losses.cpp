// Small-call fast paths of the training losses (issue #15 item 4, issue #16 item 1).
//
// Each entry takes the common call of one public function -- plain float32/float64
// arrays, default options -- and returns its result, or None to decline; the caller then
// runs its general Python path, which keeps every other case, error and message. An entry
// runs exactly the engine request the general path would build, and finalises it with the
// same finaliser, so its results have the general path's bits by construction (the tests
// check it with == on bits).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <vector>

#include "l2loss/engine.hpp"
#include "array_intake.hpp"
#include "l2loss/element_types.hpp"

namespace py = pybind11;
using namespace l2loss;

namespace {

// Releasing the GIL costs ~0.1 us; these paths are for small calls, so the engine runs
// with the GIL held below this many elements (as in bindings.cpp).
constexpr int64_t kReleaseGilElements = 1 << 14;
// mse_value_and_grad: below this many rows two light passes beat one fused pass (measured
// on the project machine: equal at ~3000 rows of float64).
constexpr int64_t kSeparateLossRows = 2048;

// Kept for good (set once at import): numpy.ndarray and the float32/float64 scalar types.
PyObject* ndarray_type = nullptr;
PyObject* float32_type = nullptr;
PyObject* float64_type = nullptr;

bool plain_array(const py::handle& h) { return reinterpret_cast<PyObject*>(Py_TYPE(h.ptr())) == ndarray_type; }

// float32 / float64 in native byte order: what the kernels read in place without a copy
// (kernel_operand's rule for wide floats). Anything else declines.
bool wide_float(const py::array& a, DType& out) { return native_float(a.dtype(), out) && is_wide_float(out); }

// A 1-D or 2-D operand (element (i, j) at data + i*row_stride + j*col_stride).
Operand operand(const py::array& a, DType dt) {
  return Operand{static_cast<const char*>(a.data()), dt, a.strides(0), a.ndim() == 2 ? a.strides(1) : 0};
}

ReduceResult run(const ReduceRequest& req) {
  if (req.n_rows * req.n_cols >= kReleaseGilElements) {
    // Safe: the engine touches only the buffers, which the caller's array objects keep
    // alive (and un-resizable) for the whole call; no Python object is used inside.
    py::gil_scoped_release release;
    return reduce(req);
  }
  return reduce(req);
}

// Two plain arrays of one shape, 1-D or 2-D, non-empty, wide floats: the request for the
// sum of squares of (y_pred - y_true), or false to decline.
bool pair_request(const py::object& y_true, const py::object& y_pred, ReduceRequest& req) {
  if (!plain_array(y_true) || !plain_array(y_pred)) return false;
  const auto yt = py::reinterpret_borrow<py::array>(y_true);
  const auto yp = py::reinterpret_borrow<py::array>(y_pred);
  const auto nd = yt.ndim();
  if ((nd != 1 && nd != 2) || yp.ndim() != nd) return false;
  if (yt.shape(0) != yp.shape(0) || (nd == 2 && yt.shape(1) != yp.shape(1))) return false;
  DType dt, dp;
  if (!wide_float(yt, dt) || !wide_float(yp, dp)) return false;
  req.y_true = operand(yt, dt);
  req.y_pred = operand(yp, dp);
  req.n_rows = yt.shape(0);
  req.n_cols = nd == 2 ? yt.shape(1) : 1;
  if (req.n_rows * req.n_cols == 0) return false;  // empty: the general path's nan / 0
  req.sums = kSumSq;
  req.num_threads = 0;  // the engine's default, as threads_arg(None) gives
  return true;
}

bool is_reduction(const py::handle& h, const char* name) {
  return PyUnicode_Check(h.ptr()) && PyUnicode_CompareWithASCIIString(h.ptr(), name) == 0;
}

// l2loss.mse_loss(input, target) with reduction "mean" or "sum" and no weight: the loss as
// the NumPy scalar of the pair's result dtype (float32 only for two float32 arrays).
py::object mse_loss_fast(const py::object& input, const py::object& target, const py::object& reduction) {
  const bool sum = is_reduction(reduction, "sum");
  if (!sum && !is_reduction(reduction, "mean")) return py::none();
  ReduceRequest req;
  if (!pair_request(target, input, req)) return py::none();
  double value;
  if (sum || req.n_cols != 1 || !small_mean(req, kAccSq, value)) {
    const ReduceResult r = run(req);
    value = sum ? grand_total(r, kAccSq) : grand_mean(r, kAccSq);
  }
  const bool f32 = req.y_true.dtype == DType::kFloat32 && req.y_pred.dtype == DType::kFloat32;
  py::object v = py::float_(value);
  return py::reinterpret_steal<py::object>(PyObject_CallOneArg(f32 ? float32_type : float64_type, v.ptr()));
}

// The engine's unweighted gradient, grad_i = fl(scale * d_i) with d_i = (double)y_pred_i -
// (double)y_true_i, rounded once to Out (ReduceRequest::grad with w = 1), for one column at
// any row strides: for the small calls that small_mean() serves without a ReduceResult.
template <class True, class Pred, class Out>
void write_grad(const ReduceRequest& req) {
  const char* t = req.y_true.data;
  const char* p = req.y_pred.data;
  char* g = const_cast<char*>(req.grad.data);
  const double scale = req.grad_scale;
  if (req.y_true.row_stride == sizeof(True) && req.y_pred.row_stride == sizeof(Pred) &&
      req.grad.row_stride == sizeof(Out)) {  // contiguous: a loop the compiler vectorises
    const True* tc = reinterpret_cast<const True*>(t);
    const Pred* pc = reinterpret_cast<const Pred*>(p);
    Out* gc = reinterpret_cast<Out*>(g);
    for (int64_t i = 0; i < req.n_rows; ++i) {
      gc[i] = static_cast<Out>(scale * (static_cast<double>(pc[i]) - static_cast<double>(tc[i])));
    }
    return;
  }
  for (int64_t i = 0; i < req.n_rows; ++i) {
    const double d = static_cast<double>(*reinterpret_cast<const Pred*>(p + i * req.y_pred.row_stride)) -
                     static_cast<double>(*reinterpret_cast<const True*>(t + i * req.y_true.row_stride));
    *reinterpret_cast<Out*>(g + i * req.grad.row_stride) = static_cast<Out>(scale * d);
  }
}

void write_grad(const ReduceRequest& req) {
  const bool t64 = req.y_true.dtype == DType::kFloat64, p64 = req.y_pred.dtype == DType::kFloat64;
  if (t64 && p64) return write_grad<double, double, double>(req);
  if (t64) return write_grad<double, float, double>(req);
  if (p64) return write_grad<float, double, double>(req);
  write_grad<float, float, float>(req);
}

// Do the byte ranges touched by arrays a and b intersect? (numpy.may_share_memory's
// bounds test: a "yes" only makes the fast path decline.)
bool bounds_overlap(const py::array& a, const py::array& b) {
  auto bounds = [](const py::array& x, const char*& lo, const char*& hi) {
    lo = hi = static_cast<const char*>(x.data());
    for (py::ssize_t k = 0; k < x.ndim(); ++k) {
      const py::ssize_t extent = (x.shape(k) - 1) * x.strides(k);
      if (extent < 0) lo += extent; else hi += extent;
    }
    hi += x.itemsize();
  };
  const char *alo, *ahi, *blo, *bhi;
  bounds(a, alo, ahi);
  bounds(b, blo, bhi);
  return alo < bhi && blo < ahi;
}

// l2loss.mse_grad / mse_value_and_grad(y_true, y_pred) without sample_weight or
// num_threads: the gradient w.r.t. y_pred written by the loss pass into `out` (a new
// array when None), returned alone or as (loss, out). Declines every `out` the general
// path would reject, so its errors stay the general path's.
py::object mse_grad_fast(const py::object& y_true, const py::object& y_pred, const py::object& reduction,
                         const py::object& out, bool with_value) {
  const bool sum = is_reduction(reduction, "sum");
  if (!sum && !is_reduction(reduction, "mean")) return py::none();
  ReduceRequest req;
  if (!pair_request(y_true, y_pred, req)) return py::none();
  const auto yp = py::reinterpret_borrow<py::array>(y_pred);
  const bool f32 = req.y_true.dtype == DType::kFloat32 && req.y_pred.dtype == DType::kFloat32;
  const DType gdt = f32 ? DType::kFloat32 : DType::kFloat64;
  py::array g;
  if (out.is_none()) {
    std::vector<py::ssize_t> shape(yp.shape(), yp.shape() + yp.ndim());
    g = f32 ? py::array(py::dtype::of<float>(), shape) : py::array(py::dtype::of<double>(), shape);
  } else {
    if (!plain_array(out)) return py::none();
    g = py::reinterpret_borrow<py::array>(out);
    DType odt;
    if (g.ndim() != yp.ndim() || g.shape(0) != yp.shape(0) || (g.ndim() == 2 && g.shape(1) != yp.shape(1)) ||
        !wide_float(g, odt) || odt != gdt || !g.writeable() ||
        bounds_overlap(g, py::reinterpret_borrow<py::array>(y_true)) || bounds_overlap(g, yp)) {
      return py::none();
    }
  }
  req.grad = Operand{static_cast<const char*>(g.data()), gdt, g.strides(0), g.ndim() == 2 ? g.strides(1) : 0};
  // The general path's scale: 2 / (n_rows * n_cols) in float64 ("mean"), or 2.
  req.grad_scale = sum ? 2.0 : 2.0 / (static_cast<double>(req.n_rows) * static_cast<double>(req.n_cols));
  // One column: the gradient alone is a loop; with the mean, small_mean + the loop skip the
  // ReduceResult's setup, which pays below ~3000 rows (above, the fused pass reads once).
  if (req.n_cols == 1 && (!with_value || (!sum && req.n_rows < kSeparateLossRows))) {
    ReduceRequest loss = req;
    loss.grad = Operand{nullptr, DType::kNone, 0, 0};
    double value = 0.0;
    if (!with_value || small_mean(loss, kAccSq, value)) {
      write_grad(req);
      if (!with_value) return std::move(g);
      return py::make_tuple(value, g);
    }
  }
  const ReduceResult r = run(req);
  if (!with_value) return std::move(g);
  const double value = sum ? grand_total(r, kAccSq) : grand_mean(r, kAccSq);
  return py::make_tuple(value, g);
}

// l2loss.torch's small training call: two contiguous CPU tensors of n (>= 1) elements of
// one dtype (float64 if f64, else float32) at the addresses x and t, which the caller
// (l2loss.torch, which has checked all of this) keeps alive. Returns the exact loss of
// input x against target t ("sum", or else "mean"), or None when a term is not finite
// (the caller's general path then runs). When grad != 0 it also writes, at that address,
// n elements of torch's own gradient of the loss w.r.t. x for grad_output == 1 --
// mse_loss_backward's formula and rounding, norm * (x - t) in the tensors' dtype with
// norm = (dtype)(2 / n) or 2 -- so the backward can hand it over instead of computing it.
py::object torch_mse(uintptr_t x, uintptr_t t, uintptr_t grad, int64_t n, bool f64, bool sum) {
  if (n <= 0 || x == 0 || t == 0) return py::none();
  const DType dt = f64 ? DType::kFloat64 : DType::kFloat32;
  const int64_t item = f64 ? 8 : 4;
  ReduceRequest req;
  req.y_true = Operand{reinterpret_cast<const char*>(t), dt, item, 0};
  req.y_pred = Operand{reinterpret_cast<const char*>(x), dt, item, 0};
  req.n_rows = n;
  req.sums = kSumSq;
  req.num_threads = 0;
  double value;
  if (sum || !small_mean(req, kAccSq, value)) {
    const ReduceResult r = run(req);
    if (r.careful) return py::none();
    value = sum ? grand_total(r, kAccSq) : grand_mean(r, kAccSq);
  }
  if (grad != 0) {
    const double norm = sum ? 2.0 : 2.0 / static_cast<double>(n);  // torch: 2. / input.numel()
    if (f64) {
      const double* xp = reinterpret_cast<const double*>(x);
      const double* tp = reinterpret_cast<const double*>(t);
      double* gp = reinterpret_cast<double*>(grad);
      for (int64_t i = 0; i < n; ++i) gp[i] = norm * (xp[i] - tp[i]);
    } else {
      const float normf = static_cast<float>(norm);  // torch: value.to<scalar_t>()
      const float* xp = reinterpret_cast<const float*>(x);
      const float* tp = reinterpret_cast<const float*>(t);
      float* gp = reinterpret_cast<float*>(grad);
      for (int64_t i = 0; i < n; ++i) gp[i] = normf * (xp[i] - tp[i]);
    }
  }
  return py::float_(value);
}

}  // namespace

void bind_fast_losses(py::module_& m) {
  const py::module_ np = py::module_::import("numpy");
  ndarray_type = py::object(np.attr("ndarray")).release().ptr();
  float32_type = py::object(np.attr("float32")).release().ptr();
  float64_type = py::object(np.attr("float64")).release().ptr();
  m.def("mse_loss_fast", &mse_loss_fast, py::arg("input"), py::arg("target"), py::arg("reduction"),
        "l2loss.mse_loss's plain call (two float arrays, 'mean'/'sum'), or None to decline.");
  m.def("mse_grad_fast", &mse_grad_fast, py::arg("y_true"), py::arg("y_pred"), py::arg("reduction"),
        py::arg("out"), py::arg("with_value"),
        "mse_grad / mse_value_and_grad's plain call, or None to decline.");
  m.def("torch_mse", &torch_mse, py::arg("x"), py::arg("t"), py::arg("grad"), py::arg("n"),
        py::arg("f64"), py::arg("sum"),
        "Private to l2loss.torch: the exact loss of two contiguous tensors by address (and torch's "
        "gradient at grad), or None.");
}
