// Python bindings: the only translation unit that includes pybind11.
//
// Intake takes `const py::array&` and checks ndim, shape, strides, dtype and byte order
// by hand (py::array_t would copy silently and costs ~0.5 us). Everything about metric
// semantics (sklearn's rules, messages, return types) lives in the Python layer; this
// file only moves buffers into the engine and results out.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <stdexcept>
#include <string>

#include "l2loss/bandwidth_probe.hpp"
#include "l2loss/element_types.hpp"
#include "l2loss/engine.hpp"
#include "l2loss/rowwise.hpp"
#include "array_intake.hpp"
#include "l2loss/ridge.hpp"

namespace py = pybind11;
using namespace l2loss;

void bind_fast_losses(py::module_& m);  // fast_losses.cpp: the training losses' small-call paths
void bind_grouped(py::module_& m);  // bindings_grouped.cpp

namespace {

// Releasing the GIL costs ~0.1 us; below this many elements the kernel is faster than that.
constexpr int64_t kReleaseGilElements = 1 << 14;

bool is_narrow(DType d) { return d == DType::kFloat16 || d == DType::kBFloat16; }


Operand take_operand(const py::array& a, const char* name, int64_t& rows, int64_t& cols) {
  if (a.ndim() != 1 && a.ndim() != 2) {
    throw py::value_error(std::string(name) + " must be 1-D or 2-D, got ndim=" + std::to_string(a.ndim()));
  }
  Operand op;
  if (!native_float(a.dtype(), op.dtype)) {
    throw py::type_error(std::string(name) + " must be a native-byte-order float32 or float64 array, got " +
                         py::str(a.dtype()).cast<std::string>());
  }
  rows = a.shape(0);
  cols = a.ndim() == 2 ? a.shape(1) : 1;
  op.data = static_cast<const char*>(a.data());
  op.row_stride = a.strides(0);
  op.col_stride = a.ndim() == 2 ? a.strides(1) : 0;
  return op;
}

ReduceRequest make_request(const py::array& y_true, const py::array& y_pred, const py::object& weight,
                           uint32_t sums, bool log1p, int num_threads, const py::object& grad_out = py::none(),
                           double grad_scale = 0.0) {
  ReduceRequest req;
  int64_t rt, ct, rp, cp;
  req.y_true = take_operand(y_true, "y_true", rt, ct);
  req.y_pred = take_operand(y_pred, "y_pred", rp, cp);
  if (rt != rp || ct != cp) throw py::value_error("y_true and y_pred must have the same shape");
  req.n_rows = rt;
  req.n_cols = ct;
  if (!weight.is_none()) {
    const auto w = py::reinterpret_borrow<py::array>(weight);
    if (!py::isinstance<py::array>(weight) || w.ndim() != 1) throw py::type_error("sample_weight must be a 1-D array");
    if (!native_float(w.dtype(), req.weight_dtype) || req.weight_dtype == DType::kFloat16 ||
        req.weight_dtype == DType::kBFloat16) {
      throw py::type_error("sample_weight must be a native-byte-order float32 or float64 array");
    }
    if (w.shape(0) != rt) throw py::value_error("sample_weight must have one entry per row");
    req.weight = static_cast<const char*>(w.data());
    req.weight_stride = w.strides(0);
  }
  req.sums = sums;
  req.log1p = log1p;
  if (!grad_out.is_none()) {
    // Validated completely before the engine writes a single element.
    if (!py::isinstance<py::array>(grad_out)) throw py::type_error("out must be a NumPy array");
    const auto g = py::reinterpret_borrow<py::array>(grad_out);
    if (!g.writeable()) throw py::value_error("out must be writable");
    int64_t rg, cg;
    req.grad = take_operand(g, "out", rg, cg);
    if (rg != req.n_rows || cg != req.n_cols) throw py::value_error("out must have the shape of y_pred");
    req.grad_scale = grad_scale;
  }
  req.num_threads = num_threads;  // validated by the engine's one rule (threads_for_call)
  return req;
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

py::array_t<double> per_column(const ReduceResult& r, double (*fn)(const ReduceResult&, int, int64_t), int acc) {
  py::array_t<double> out(r.n_cols);
  auto v = out.mutable_unchecked<1>();
  for (int64_t c = 0; c < r.n_cols; ++c) v(c) = fn(r, acc, c);
  return out;
}

py::tuple parts_tuple(const ReduceResult& r, FractionParts (*fn)(const ReduceResult&, int64_t)) {
  py::array_t<double> num(r.n_cols), den(r.n_cols);
  auto n = num.mutable_unchecked<1>();
  auto d = den.mutable_unchecked<1>();
  for (int64_t c = 0; c < r.n_cols; ++c) {
    const FractionParts p = fn(r, c);
    n(c) = p.numerator;
    d(c) = p.denominator;
  }
  return py::make_tuple(num, den);
}

Isa isa_by_name(const std::string& name) {
  Isa isa;
  if (!isa_from_name(name, isa)) throw py::value_error("unknown ISA '" + name + "' (expected scalar, avx2 or avx512)");
  return isa;
}

py::list isa_names(bool compiled_only) {
  py::list out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
    if (compiled_only ? isa_compiled(isa) : isa_supported(isa)) out.append(isa_name(isa));
  }
  return out;
}

// numpy.ndarray itself (set at import): the fast path takes plain arrays only, since
// subclasses (masked arrays, np.matrix) carry meaning the general path must see.
PyObject* ndarray_type = nullptr;

// One clean float pair (float32/float64, or a pair of one narrow dtype), one output, no
// options: the mean of acc (root: its square root), or None for anything else -- an
// empty input, a non-finite value -- which the general path then handles.
py::object fast_mean(const py::object& y_true, const py::object& y_pred, int num_threads, int acc, bool root) {
  if (reinterpret_cast<PyObject*>(Py_TYPE(y_true.ptr())) != ndarray_type ||
      reinterpret_cast<PyObject*>(Py_TYPE(y_pred.ptr())) != ndarray_type || num_threads < 0) {
    return py::none();
  }
  const auto yt = py::reinterpret_borrow<py::array>(y_true);
  const auto yp = py::reinterpret_borrow<py::array>(y_pred);
  DType dt, dp;
  if (yt.ndim() < 1 || yt.ndim() > 2 || yp.ndim() < 1 || yp.ndim() > 2 || !native_float(yt.dtype(), dt) ||
      !native_float(yp.dtype(), dp) || (dt != dp && (is_narrow(dt) || is_narrow(dp)))) {  // narrow: in pairs
    return py::none();
  }
  const int64_t rows = yt.shape(0);
  if (rows == 0 || yp.shape(0) != rows || (yt.ndim() == 2 && yt.shape(1) != 1) ||
      (yp.ndim() == 2 && yp.shape(1) != 1)) {
    return py::none();
  }
  ReduceRequest req;
  req.y_true = Operand{static_cast<const char*>(yt.data()), dt, yt.strides(0), 0};
  req.y_pred = Operand{static_cast<const char*>(yp.data()), dp, yp.strides(0), 0};
  req.n_rows = rows;
  req.sums = acc == kAccAbs ? kSumAbs : kSumSq;
  req.num_threads = num_threads;
  double mean;
  std::optional<py::gil_scoped_release> release;  // safe: only the two buffers are read
  if (rows >= kReleaseGilElements) release.emplace();  // a long call must not hold other Python threads
  const bool done = small_mean(req, acc, mean);
  release.reset();
  if (!done) {
    const ReduceResult r = run(req);
    if (r.careful) return py::none();
    mean = column_mean(r, acc, 0);
  }
  return py::float_(root ? std::sqrt(mean) : mean);
}

}  // namespace

void bind_fast_intake(py::module_& m);  // fast_intake.cpp

// Free-threaded CPython (3.13t+): this module declares that it needs the GIL
// (Py_MOD_GIL_USED), so such an interpreter re-enables the GIL when it imports it. The
// kernels release the GIL anyway (above a size threshold), so Python threads already run
// them in parallel; what a GIL-free declaration would still need is per-object locking of
// ReduceResult (merge / copy / to_bytes of one state from two threads) and a test run on a
// free-threaded build, which this project cannot install yet (docs/reliability.md, 7).
#if PYBIND11_VERSION_MAJOR > 3 || (PYBIND11_VERSION_MAJOR == 3 && PYBIND11_VERSION_MINOR >= 1)
#define L2LOSS_MODULE_GIL py::mod_gil_used()
#else
#define L2LOSS_MODULE_GIL py::mod_gil_not_used(false)  // pybind11 3.0: the same, spelled out
#endif
PYBIND11_MODULE(_core, m, L2LOSS_MODULE_GIL) {
  m.doc() = "l2loss native engine: exact, reproducible one-pass squared-error sums";

  m.attr("SUM_SQ") = static_cast<uint32_t>(kSumSq);
  m.attr("SUM_SQ_LO") = static_cast<uint32_t>(kSumSqLo);
  m.attr("SUM_ABS") = static_cast<uint32_t>(kSumAbs);
  m.attr("SUM_DIFF") = static_cast<uint32_t>(kSumDiff);
  m.attr("SUM_Y") = static_cast<uint32_t>(kSumY);
  m.attr("SUM_Y2") = static_cast<uint32_t>(kSumY2);
  m.attr("MAX_ABS") = static_cast<uint32_t>(kMaxAbs);
  m.attr("SUM_SQ_EXACT") = static_cast<uint32_t>(kSumSqExact);
  // The profiles with a kernel of their own (kernel_abi.hpp): callers name these.
  m.attr("PROFILE_SQ") = static_cast<uint32_t>(kProfSq);
  m.attr("PROFILE_ABS") = static_cast<uint32_t>(kProfAbs);
  m.attr("PROFILE_MAX") = static_cast<uint32_t>(kProfMax);
  m.attr("PROFILE_R2") = static_cast<uint32_t>(kProfR2);
  m.attr("PROFILE_REPORT") = static_cast<uint32_t>(kProfAll);
  m.attr("ACC_SQ") = static_cast<int>(kAccSq);
  m.attr("ACC_ABS") = static_cast<int>(kAccAbs);
  m.attr("ACC_DIFF") = static_cast<int>(kAccDiff);
  m.attr("Y_TRUE_NAN") = static_cast<uint32_t>(kYTrueNaN);
  m.attr("Y_TRUE_INF") = static_cast<uint32_t>(kYTrueInf);
  m.attr("Y_PRED_NAN") = static_cast<uint32_t>(kYPredNaN);
  m.attr("Y_PRED_INF") = static_cast<uint32_t>(kYPredInf);
  m.attr("WEIGHT_NAN") = static_cast<uint32_t>(kWeightNaN);
  m.attr("WEIGHT_INF") = static_cast<uint32_t>(kWeightInf);

  py::class_<ReduceResult>(m, "ReduceResult", "Exact per-column sums from one fused pass.")
      .def_readonly("n_rows", &ReduceResult::n_rows)
      .def_readonly("n_cols", &ReduceResult::n_cols)
      .def_readonly("careful", &ReduceResult::careful, "True when a non-finite value forced the careful pass")
      .def_readonly("input_flags", &ReduceResult::input_flags)
      .def_readonly("threads_used", &ReduceResult::threads_used)
      .def("weight_sum", [](const ReduceResult& r) { return weight_total(r).to_double(); })
      .def("weight_sum_is_zero", &weight_total_is_zero)
      .def("mean", [](const ReduceResult& r, int acc) { return per_column(r, &column_mean, acc); }, py::arg("acc"))
      .def("total", [](const ReduceResult& r, int acc) { return per_column(r, &column_total, acc); }, py::arg("acc"))
      .def("root_mean", [](const ReduceResult& r, int acc) { return per_column(r, &column_root_mean, acc); },
           py::arg("acc"), "Correctly rounded sqrt of each column's exact mean.")
      .def("grand_total", [](const ReduceResult& r, int acc) { return grand_total(r, acc); }, py::arg("acc"))
      .def("grand_mean", [](const ReduceResult& r, int acc) { return grand_mean(r, acc); }, py::arg("acc"))
      .def("max_abs",
           [](const ReduceResult& r) {
             py::array_t<double> out(r.n_cols);
             auto v = out.mutable_unchecked<1>();
             for (int64_t c = 0; c < r.n_cols; ++c) v(c) = r.columns[static_cast<size_t>(c)].max_abs;
             return out;
           })
      .def("r2_parts", [](const ReduceResult& r) { return parts_tuple(r, &r2_parts); })
      .def("explained_variance_parts", [](const ReduceResult& r) { return parts_tuple(r, &explained_variance_parts); })
      .def_readonly("sums", &ReduceResult::sums)
      .def_readonly("weighted", &ReduceResult::weighted)
      .def("merge", [](ReduceResult& self, const ReduceResult& other) { merge_into(self, other); }, py::arg("other"),
           "self += other, exactly (any order of merges gives the same state).")
      .def("copy", [](const ReduceResult& self) { return ReduceResult(self); })
      .def("to_bytes",
           [](const ReduceResult& self) {
             const std::vector<uint8_t> b = serialize(self);
             return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
           })
      .def_static(
          "from_bytes",
          [](const py::bytes& b) {
            const std::string_view v = b;  // pybind11 >= 2.10: bytes -> string_view, no copy
            return deserialize(reinterpret_cast<const uint8_t*>(v.data()), v.size());
          },
          py::arg("data"))
      .def_static("empty", &empty_state, py::arg("n_cols"), py::arg("sums"));

  m.def(
      "row_mean_squares",
      [](const py::array& y_true, const py::array& y_pred, py::array out, int num_threads) {
        int64_t rt, ct, rp, cp;
        const Operand t = take_operand(y_true, "y_true", rt, ct);
        const Operand p = take_operand(y_pred, "y_pred", rp, cp);
        if (rt != rp || ct != cp) throw py::value_error("y_true and y_pred must have the same shape");
        if (ct < 1) throw py::value_error("rows must have at least one element");
        if (!out.writeable()) throw py::value_error("out must be writable");
        DType od;
        if (out.ndim() != 1 || out.shape(0) != rt || !native_float(out.dtype(), od) ||
            (od != DType::kFloat64 && od != DType::kFloat32)) {
          throw py::value_error("out must be a 1-D float32/float64 array with one element per row");
        }
        char* o = static_cast<char*>(out.mutable_data());
        std::optional<py::gil_scoped_release> release;
        if (rt * ct >= kReleaseGilElements) release.emplace();  // only the buffers are touched
        row_mean_squares(t, p, rt, ct, o, out.strides(0), od == DType::kFloat32, num_threads);
      },
      py::arg("y_true"), py::arg("y_pred"), py::arg("out"), py::kw_only(), py::arg("num_threads") = 0,
      "out[i] = the correctly rounded mean of (y_pred[i, j] - y_true[i, j])**2 over j (differences in "
      "double), rounded once to out's dtype.");
  m.def(
      "_exact_divide",
      [](const std::vector<uint64_t>& a, int64_t a_exp, bool a_neg, const std::vector<uint64_t>& b, int64_t b_exp,
         bool b_neg) {
        auto build = [](const std::vector<uint64_t>& limbs, int64_t e, bool neg) {
          ExactNumber x;
          for (size_t i = 0; i < limbs.size(); ++i) {
            x = x + ExactNumber::from_uint(limbs[i]).scaled(64 * static_cast<int64_t>(i) + e);
          }
          return neg ? ExactNumber{} - x : x;
        };
        const ExactNumber den = build(b, b_exp, b_neg);
        if (den.is_zero()) throw py::value_error("zero divisor");
        return divide(build(a, a_exp, a_neg), den);
      },
      py::arg("a"), py::arg("a_exp"), py::arg("a_neg"), py::arg("b"), py::arg("b_exp"), py::arg("b_neg"),
      "Test hook: the correctly rounded quotient of two exact numbers sum(limbs[i] 2^(64 i)) 2^exp.");
  m.def(
      "_round_quotient",
      [](const std::vector<uint64_t>& limbs, int64_t scale, uint64_t k, bool float32) {
        return float32 ? round_quotient(limbs.data(), static_cast<int>(limbs.size()), scale, k, 24, -149, 127)
                       : round_quotient(limbs.data(), static_cast<int>(limbs.size()), scale, k, 53, -1074, 1023);
      },
      py::arg("limbs"), py::arg("scale"), py::arg("k"), py::arg("float32") = false,
      "Test hook: (N / k) * 2**scale rounded once (N: little-endian 64-bit limbs).");
  m.def(
      "reduce",
      [](const py::array& y_true, const py::array& y_pred, const py::object& sample_weight, uint32_t sums, bool log1p,
         int num_threads, const py::object& grad_out, double grad_scale) {
        return run(make_request(y_true, y_pred, sample_weight, sums, log1p, num_threads, grad_out, grad_scale));
      },
      py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight") = py::none(), py::kw_only(),
      py::arg("sums") = static_cast<uint32_t>(kSumSq), py::arg("log1p") = false, py::arg("num_threads") = 0,
      py::arg("grad_out") = py::none(), py::arg("grad_scale") = 0.0,
      "One fused exact pass; returns a ReduceResult. With grad_out, also writes "
      "grad_out = grad_scale * fl(w * (y_pred - y_true)) in the same pass.");

  // The small-call fast paths, called straight from the public functions' wrappers
  // (_validation.sklearn_binding): mse_fast / rmse_fast / mae_fast(y_true, y_pred,
  // num_threads) give a Python float, or None whenever the general path must take over.
  ndarray_type = py::object(py::module_::import("numpy").attr("ndarray")).release().ptr();  // kept for good
  m.def("mse_fast", [](const py::object& t, const py::object& p, int n) { return fast_mean(t, p, n, kAccSq, false); },
        py::arg("y_true"), py::arg("y_pred"), py::arg("num_threads"));
  m.def("rmse_fast", [](const py::object& t, const py::object& p, int n) { return fast_mean(t, p, n, kAccSq, true); },
        py::arg("y_true"), py::arg("y_pred"), py::arg("num_threads"));
  m.def("mae_fast", [](const py::object& t, const py::object& p, int n) { return fast_mean(t, p, n, kAccAbs, false); },
        py::arg("y_true"), py::arg("y_pred"), py::arg("num_threads"));
  bind_fast_losses(m);

  m.def(
      "exact_weighted_average",
      [](const py::array_t<double, py::array::c_style | py::array::forcecast>& values, const py::object& weights) {
        if (values.ndim() != 1) throw py::value_error("values must be 1-D");
        if (weights.is_none()) return exact_weighted_average(values.data(), nullptr, values.shape(0));
        const auto w = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(weights);
        if (!w || w.ndim() != 1 || w.shape(0) != values.shape(0)) throw py::value_error("weights must match values");
        try {
          return exact_weighted_average(values.data(), w.data(), values.shape(0));
        } catch (const std::domain_error& e) {
          PyErr_SetString(PyExc_ZeroDivisionError, e.what());
          throw py::error_already_set();
        }
      },
      py::arg("values"), py::arg("weights") = py::none());

  m.def(
      "_bandwidth_probe",
      [](const py::array& a, const py::array& b, int num_threads) {
        DType da, db;
        if (a.ndim() != 1 || b.ndim() != 1 || a.shape(0) != b.shape(0) || !native_float(a.dtype(), da) ||
            !native_float(b.dtype(), db) || da != db || !is_wide_float(da) || a.strides(0) != a.itemsize() ||
            b.strides(0) != b.itemsize()) {
          // (float16/bfloat16 have no probe: read as float32 they were an over-read)
          throw py::value_error("_bandwidth_probe takes two contiguous 1-D float32 or float64 arrays");
        }
        const int64_t n = a.shape(0);
        py::gil_scoped_release release;  // safe: only the two buffers are read
        return da == DType::kFloat64
                   ? bandwidth_probe(static_cast<const double*>(a.data()), static_cast<const double*>(b.data()), n, num_threads)
                   : bandwidth_probe(static_cast<const float*>(a.data()), static_cast<const float*>(b.data()), n, num_threads);
      },
      py::arg("a"), py::arg("b"), py::arg("num_threads") = 0,
      "Benchmark yardstick: naive fused read of two arrays (not exact, not reproducible).");

  m.def(
      "ridge_sums",
      [](const py::array& x, const py::array& y, const py::object& weight,
         const py::array_t<double, py::array::c_style | py::array::forcecast>& coef, double intercept,
         int num_threads) {
        RidgeRequest q;
        if (x.ndim() != 2) throw py::value_error("X must be 2-D");
        if (!native_float(x.dtype(), q.x_dtype)) throw py::type_error("X must be a native float32/float64 array");
        q.x = static_cast<const char*>(x.data());
        q.n_rows = x.shape(0);
        q.n_features = x.shape(1);
        q.x_row_stride = x.strides(0);
        q.x_col_stride = x.strides(1);
        int64_t ry, cy;
        const Operand yo = take_operand(y, "y", ry, cy);
        if (y.ndim() != 1 || ry != q.n_rows) throw py::value_error("y must be 1-D with one value per row of X");
        q.y = yo.data;
        q.y_dtype = yo.dtype;
        q.y_stride = yo.row_stride;
        if (!weight.is_none()) {
          int64_t rw, cw;
          const Operand wo = take_operand(py::reinterpret_borrow<py::array>(weight), "sample_weight", rw, cw);
          if (rw != q.n_rows || cw != 1) throw py::value_error("sample_weight must be 1-D with one value per row");
          q.weight = wo.data;
          q.weight_dtype = wo.dtype;
          q.weight_stride = wo.row_stride;
        }
        if (coef.ndim() != 1 || coef.shape(0) != q.n_features) throw py::value_error("coef must have one value per column");
        q.coef = coef.data();
        q.intercept = intercept;
        q.num_threads = num_threads;
        RidgeResult r;
        {
          py::gil_scoped_release release;  // safe: only the buffers above are read
          r = ridge_loss_and_grad(q);
        }
        py::array_t<double> grad(static_cast<py::ssize_t>(r.grad.size()));
        std::copy(r.grad.begin(), r.grad.end(), grad.mutable_data());
        return py::make_tuple(r.loss_mean, r.weight_sum, grad, r.grad_intercept);
      },
      py::arg("X"), py::arg("y"), py::arg("sample_weight"), py::arg("coef"), py::arg("intercept"),
      py::arg("num_threads") = 0,
      "(sum(w r^2)/W, W, X^T (w*r), sum(w*r)) for r = X coef + b - y, in one pass over X.");

  bind_fast_intake(m);  // the one-call intake of every metric, the report and update (#16.1)
  bind_grouped(m);

  m.def("set_isa", [](const std::string& name) { set_isa(isa_by_name(name)); }, py::arg("name"),
        "Test hook: force the kernel ISA (raises ValueError if unsupported here).");
  m.def("get_isa", []() { return std::string(isa_name(active_isa())); });
  m.def("best_isa", []() { return std::string(isa_name(best_isa())); });
  m.def("supported_isas", []() { return isa_names(false); });
  m.def("compiled_isas", []() { return isa_names(true); });
  m.def("get_num_threads", &default_num_threads);
  m.def("set_num_threads", &set_default_num_threads, py::arg("n"));
  m.def("have_openmp", &have_openmp);
  m.def("max_hardware_threads", &max_hardware_threads);
  m.def("max_threads_per_call", &max_threads_per_call);

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const std::domain_error& e) {
      PyErr_SetString(PyExc_ArithmeticError, e.what());
    }
  });
}
