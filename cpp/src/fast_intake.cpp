// The fast intake (issue #16, item 1): one C++ entry per function family that takes the
// common call -- plain NumPy float arrays, clean keywords, finite values -- from the
// public wrapper's (*args, **kwargs) straight to a finished result, in one call.
//
// Every entry returns None to decline, and then the Python path (sklearn's validation
// order, messages, warnings, the general kernels) runs as if this file did not exist. So
// each entry answers only calls whose general-path result is a plain value with no error
// and no warning, and computes it with the same finalisers (engine.hpp) in the same
// order, so that the bits are the same. It declines on anything else: another array
// type or subclass, another dtype or byte order, an empty or mismatched shape, a keyword
// it does not know or a value not spelled plainly (np.bool_, NumPy integers, lists of
// ints), a non-finite input or result (the careful pass flagged it, or NumPy would warn),
// weights summing to zero, R^2 below two samples (its warning), and so on.
//
// sklearn's config needs no look-up here: assume_finite changes only what happens to
// non-finite values (declined), and array_api_dispatch only the results for non-NumPy
// inputs (declined).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "l2loss/element_types.hpp"
#include "l2loss/engine.hpp"
#include "array_intake.hpp"

namespace py = pybind11;
using namespace l2loss;

namespace {

// Releasing the GIL costs ~0.1 us; below this many elements the kernel is faster than that.
constexpr int64_t kReleaseGilElements = 1 << 14;
constexpr long kMaxThreads = 2147483647L;

PyTypeObject* ndarray_type = nullptr;  // numpy.ndarray itself: subclasses carry meaning
PyObject* float32_dtype = nullptr;     // numpy.dtype("float32"), kept for good
PyObject* float64_dtype = nullptr;

// ---- arrays -----------------------------------------------------------------------------

bool is_plain_ndarray(PyObject* o) { return Py_TYPE(o) == ndarray_type; }


struct Target {
  Operand op;
  int64_t rows = 0;
  int64_t cols = 0;
};

bool take_target(PyObject* o, Target& t) {
  if (!is_plain_ndarray(o)) return false;
  const auto a = py::reinterpret_borrow<py::array>(o);
  const auto nd = a.ndim();
  if (nd != 1 && nd != 2) return false;
  if (!native_float(a.dtype(), t.op.dtype)) return false;
  t.rows = a.shape(0);
  t.cols = nd == 2 ? a.shape(1) : 1;
  t.op.data = static_cast<const char*>(a.data());
  t.op.row_stride = a.strides(0);
  t.op.col_stride = nd == 2 ? a.strides(1) : 0;
  return t.rows > 0 && t.cols > 0;
}

// A 1-D float32/float64 array (sample weights, output weights).
bool take_vector(PyObject* o, Operand& op, int64_t& n) {
  if (!is_plain_ndarray(o)) return false;
  const auto a = py::reinterpret_borrow<py::array>(o);
  if (a.ndim() != 1 || !native_float(a.dtype(), op.dtype) || !is_wide_float(op.dtype)) return false;
  n = a.shape(0);
  op.data = static_cast<const char*>(a.data());
  op.row_stride = a.strides(0);
  return true;
}

double element(const Operand& op, int64_t i) {
  const char* p = op.data + i * op.row_stride;
  if (op.dtype == DType::kFloat64) {
    double v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  float v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---- keywords -----------------------------------------------------------------------------

enum Keyword : unsigned {
  kKwSampleWeight = 1u << 0,
  kKwMultioutput = 1u << 1,
  kKwNumThreads = 1u << 2,
  kKwExact = 1u << 3,  // accepted only as False
  kKwForceFinite = 1u << 4,
};

enum class Averaging { kUniform, kRaw, kVarianceWeighted, kWeights };

struct Options {
  PyObject* sample_weight = nullptr;  // nullptr: none
  Averaging averaging = Averaging::kUniform;
  std::vector<double> output_weights;  // Averaging::kWeights
  int num_threads = 0;                 // 0: the engine's default
  bool force_finite = true;
};

bool is_key(PyObject* key, const char* name) {
  return PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, name) == 0;
}

// num_threads as the general path accepts it plainly: None or a Python int in [1, 2^31 - 1].
bool parse_threads(PyObject* v, int& out) {
  if (v == Py_None) {
    out = 0;
    return true;
  }
  if (!PyLong_CheckExact(v)) return false;
  int overflow = 0;
  const long n = PyLong_AsLongAndOverflow(v, &overflow);
  if (overflow != 0 || n < 1 || n > kMaxThreads) return false;
  out = static_cast<int>(n);
  return true;
}

// Output weights: a 1-D float array or a list/tuple of Python floats (what the general
// path turns into the same float64 values), all finite.
bool parse_output_weights(PyObject* v, std::vector<double>& out) {
  if (PyList_CheckExact(v) || PyTuple_CheckExact(v)) {
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    PyObject** items = PySequence_Fast_ITEMS(v);
    out.resize(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      if (!PyFloat_CheckExact(items[i])) return false;
      out[static_cast<size_t>(i)] = PyFloat_AS_DOUBLE(items[i]);
    }
  } else {
    Operand op;
    int64_t n;
    if (!take_vector(v, op, n)) return false;
    out.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = element(op, i);
  }
  for (double w : out) {
    if (!std::isfinite(w)) return false;
  }
  return !out.empty();
}

// `allowed`: the Keyword bits of this family; `variance_weighted` / `none_multioutput`:
// the R^2 family's extra multioutput spellings.
bool parse_options(PyObject* kwargs, unsigned allowed, bool variance_weighted, bool none_multioutput,
                   Options& o) {
  if (kwargs == nullptr || kwargs == Py_None) return true;
  if (!PyDict_CheckExact(kwargs)) return false;
  Py_ssize_t pos = 0;
  PyObject *key, *value;
  while (PyDict_Next(kwargs, &pos, &key, &value)) {
    if ((allowed & kKwSampleWeight) && is_key(key, "sample_weight")) {
      o.sample_weight = value == Py_None ? nullptr : value;
    } else if ((allowed & kKwMultioutput) && is_key(key, "multioutput")) {
      if (PyUnicode_CheckExact(value)) {
        if (PyUnicode_CompareWithASCIIString(value, "uniform_average") == 0) {
          o.averaging = Averaging::kUniform;
        } else if (PyUnicode_CompareWithASCIIString(value, "raw_values") == 0) {
          o.averaging = Averaging::kRaw;
        } else if (variance_weighted && PyUnicode_CompareWithASCIIString(value, "variance_weighted") == 0) {
          o.averaging = Averaging::kVarianceWeighted;
        } else {
          return false;
        }
      } else if (value == Py_None) {
        if (!none_multioutput) return false;
        o.averaging = Averaging::kUniform;
      } else {
        if (!parse_output_weights(value, o.output_weights)) return false;
        o.averaging = Averaging::kWeights;
      }
    } else if ((allowed & kKwNumThreads) && is_key(key, "num_threads")) {
      if (!parse_threads(value, o.num_threads)) return false;
    } else if ((allowed & kKwExact) && is_key(key, "exact")) {
      if (value != Py_False) return false;
    } else if ((allowed & kKwForceFinite) && is_key(key, "force_finite")) {
      if (value != Py_True && value != Py_False) return false;
      o.force_finite = value == Py_True;
    } else {
      return false;
    }
  }
  return true;
}

// ---- the pass -----------------------------------------------------------------------------

struct Call {
  ReduceRequest req;
  bool float64_result = false;  // sklearn's working dtype: float64, else float32
};

// The request of a clean call, or false. `narrow_ok`: float16/bfloat16 pairs accepted
// (only unweighted, and only where the result is a plain float, not float16 values).
bool prepare(PyObject* y_true, PyObject* y_pred, const Options& o, uint32_t sums, bool narrow_ok, Call& c) {
  Target t, p;
  if (!take_target(y_true, t) || !take_target(y_pred, p)) return false;
  if (t.rows != p.rows || t.cols != p.cols) return false;
  if (!operands_supported(t.op.dtype, p.op.dtype)) return false;  // narrow floats go in like pairs
  const bool narrow = is_narrow_float(t.op.dtype);
  if (narrow && !narrow_ok) return false;
  ReduceRequest& req = c.req;
  req.y_true = t.op;
  req.y_pred = p.op;
  req.n_rows = t.rows;
  req.n_cols = t.cols;
  req.sums = sums;
  req.num_threads = o.num_threads;
  c.float64_result = t.op.dtype == DType::kFloat64 || p.op.dtype == DType::kFloat64;
  if (o.sample_weight != nullptr) {
    if (narrow) return false;  // the general path widens the weights' working dtype
    Operand w;
    int64_t n;
    if (!take_vector(o.sample_weight, w, n) || n != t.rows) return false;
    req.weight = w.data;
    req.weight_dtype = w.dtype;
    req.weight_stride = w.row_stride;
    c.float64_result = c.float64_result || w.dtype == DType::kFloat64;
  }
  if (o.averaging == Averaging::kWeights &&
      (t.cols == 1 || static_cast<int64_t>(o.output_weights.size()) != t.cols)) {
    return false;  // sklearn's errors (and RMSE's unvalidated one-output case) are the general path's
  }
  if (narrow && o.averaging == Averaging::kRaw) return false;  // float16 raw values: NumPy's rounding
  return true;
}

// The fused pass; nullopt when a non-finite value met an accumulator or the weights sum
// to zero (the general path raises or computes what sklearn does).
std::optional<ReduceResult> run_pass(const ReduceRequest& req) {
  std::optional<ReduceResult> r;
  {
    std::optional<py::gil_scoped_release> release;  // safe: only the caller's buffers are read,
    if (req.n_rows * req.n_cols >= kReleaseGilElements) release.emplace();  // kept alive by them
    r.emplace(reduce(req));
  }
  if (r->careful || (r->weighted && weight_total_is_zero(*r))) r.reset();
  return r;
}

// max |d| of a column (ColumnSums' own field, not an accumulator): read in one place.
double column_max_abs(const ReduceResult& r, int64_t col) { return r.columns[static_cast<size_t>(col)].max_abs; }

bool all_finite(const std::vector<double>& v) {
  for (double x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

// sklearn's _average, correctly rounded (the general path's average_outputs / aggregate).
// nullopt: the weights sum to zero (numpy.average's ZeroDivisionError, the general path's).
std::optional<double> average(const std::vector<double>& values, const double* weights) {
  if (weights == nullptr && values.size() == 1) return values[0];  // v / 1: exact, and ~0.2 us saved
  try {
    return exact_weighted_average(values.data(), weights, static_cast<int64_t>(values.size()));
  } catch (const std::domain_error&) {
    return std::nullopt;
  }
}

py::object raw_array(const std::vector<double>& values, bool float64) {
  const auto n = static_cast<py::ssize_t>(values.size());
  if (float64) {
    py::array_t<double> out(n);
    std::memcpy(out.mutable_data(), values.data(), values.size() * sizeof(double));
    return std::move(out);
  }
  py::array_t<float> out(n);  // values.astype(float32): round to nearest, overflow to inf
  float* dst = out.mutable_data();
  for (size_t i = 0; i < values.size(); ++i) dst[i] = static_cast<float>(values[i]);
  return std::move(out);
}

// aggregate(values, multioutput, dtype) of _metrics.py for validated options.
py::object aggregate(const std::vector<double>& values, const Call& c, const Options& o) {
  if (o.averaging == Averaging::kRaw) return raw_array(values, c.float64_result);
  const std::optional<double> v =
      average(values, o.averaging == Averaging::kWeights ? o.output_weights.data() : nullptr);
  if (!v) return py::none();
  return py::float_(*v);
}

// ---- the plain metrics ----------------------------------------------------------------------

enum class Metric { kMse, kRmse, kMae, kMsle, kRmsle };

py::object mean_metric(Metric metric, PyObject* y_true, PyObject* y_pred, PyObject* kwargs) {
  Options o;
  const bool has_exact = metric == Metric::kMse || metric == Metric::kRmse;
  const unsigned allowed = kKwSampleWeight | kKwMultioutput | kKwNumThreads | (has_exact ? kKwExact : 0u);
  if (!parse_options(kwargs, allowed, false, false, o)) return py::none();
  const int acc = metric == Metric::kMae ? kAccAbs : kAccSq;
  const bool log1p = metric == Metric::kMsle || metric == Metric::kRmsle;
  const bool root = metric == Metric::kRmse || metric == Metric::kRmsle;
  Call c;
  if (!prepare(y_true, y_pred, o, acc == kAccAbs ? kSumAbs : kSumSq, !log1p, c)) return py::none();
  c.req.log1p = log1p;
  std::vector<double> values(static_cast<size_t>(c.req.n_cols));
  double mean;
  bool done = false;
  if (!log1p && c.req.n_cols == 1 && c.req.weight == nullptr && c.req.n_rows < kReleaseGilElements) {
    done = small_mean(c.req, acc, mean);  // no ReduceResult at all (engine.hpp)
    values[0] = mean;
  }
  if (!done) {
    const std::optional<ReduceResult> r = run_pass(c.req);
    if (!r) return py::none();
    for (int64_t j = 0; j < c.req.n_cols; ++j) values[static_cast<size_t>(j)] = column_mean(*r, acc, j);
  }
  if (root) {
    for (double& v : values) {
      if (!(v >= 0.0)) return py::none();  // NumPy would warn "invalid value in sqrt"
      v = std::sqrt(v);
    }
  }
  if (!all_finite(values)) return py::none();
  return aggregate(values, c, o);
}

py::object max_error_fast(PyObject* y_true, PyObject* y_pred, PyObject* kwargs) {
  Options o;
  if (!parse_options(kwargs, kKwNumThreads, false, false, o)) return py::none();
  Call c;
  if (!prepare(y_true, y_pred, o, kMaxAbs, false, c) || c.req.n_cols != 1) return py::none();
  const std::optional<ReduceResult> r = run_pass(c.req);
  if (!r) return py::none();
  const double v = column_max_abs(*r, 0);
  // round_max_error: float32 inputs give the float32 difference, as sklearn's.
  return py::float_(c.float64_result ? v : static_cast<double>(static_cast<float>(v)));
}

// ---- R^2 and explained variance ----------------------------------------------------------------

// assemble_fraction of _metrics.py (sklearn's _assemble_fraction_of_explained_deviance);
// false where NumPy would warn or the result is not finite.
bool fraction_scores(const std::vector<FractionParts>& parts, bool force_finite, std::vector<double>& scores) {
  scores.resize(parts.size());
  for (size_t j = 0; j < parts.size(); ++j) {
    const double num = parts[j].numerator, den = parts[j].denominator;
    if (!std::isfinite(num) || !std::isfinite(den)) return false;
    if (!force_finite) {
      if (den == 0.0) return false;  // NumPy's divide-by-zero / invalid warning
      scores[j] = 1.0 - num / den;
    } else if (num == 0.0) {
      scores[j] = 1.0;
    } else if (den == 0.0) {
      scores[j] = 0.0;
    } else {
      scores[j] = 1.0 - num / den;
    }
  }
  return all_finite(scores);
}

py::object combine_scores(const std::vector<double>& scores, const std::vector<FractionParts>& parts, const Call& c,
                          const Options& o) {
  if (o.averaging != Averaging::kVarianceWeighted) return aggregate(scores, c, o);
  std::vector<double> den(parts.size());
  bool any = false;
  for (size_t j = 0; j < parts.size(); ++j) {
    den[j] = parts[j].denominator;
    any = any || den[j] != 0.0;
  }
  const std::optional<double> v = average(scores, any ? den.data() : nullptr);
  if (!v) return py::none();
  return py::float_(*v);
}

py::object fraction_metric(bool r2, PyObject* y_true, PyObject* y_pred, PyObject* kwargs) {
  Options o;
  if (!parse_options(kwargs, kKwSampleWeight | kKwMultioutput | kKwNumThreads | kKwForceFinite, true, r2, o)) {
    return py::none();
  }
  Call c;
  if (!prepare(y_true, y_pred, o, r2 ? kProfR2 : kProfAll, true, c)) return py::none();
  if (r2 && c.req.n_rows < 2) return py::none();  // UndefinedMetricWarning: the general path's
  const std::optional<ReduceResult> r = run_pass(c.req);
  if (!r) return py::none();
  std::vector<FractionParts> parts(static_cast<size_t>(c.req.n_cols));
  for (int64_t j = 0; j < c.req.n_cols; ++j) {
    parts[static_cast<size_t>(j)] = r2 ? r2_parts(*r, j) : explained_variance_parts(*r, j);
  }
  std::vector<double> scores;
  if (!fraction_scores(parts, o.force_finite, scores)) return py::none();
  return combine_scores(scores, parts, c, o);
}

// ---- regression_report ------------------------------------------------------------------------

// The fields of a RegressionReport (report_from_state in _report.py) as a tuple, in field
// order; the Python wrapper builds the report.
py::object report_fast(PyObject* y_true, PyObject* y_pred, PyObject* kwargs) {
  Options o;
  if (!parse_options(kwargs, kKwSampleWeight | kKwMultioutput | kKwNumThreads | kKwExact, false, false, o)) {
    return py::none();
  }
  Call c;
  // (no narrow floats: their max_error field is rounded to float16)
  if (!prepare(y_true, y_pred, o, kProfAll, false, c) || c.req.n_rows < 2) return py::none();
  const std::optional<ReduceResult> r = run_pass(c.req);
  if (!r) return py::none();
  const auto k = static_cast<size_t>(c.req.n_cols);
  std::vector<double> mse(k), rmse(k), mae(k), bias(k), max_abs(k), r2_scores, ev_scores;
  std::vector<FractionParts> r2p(k), evp(k);
  for (size_t j = 0; j < k; ++j) {
    const auto col = static_cast<int64_t>(j);
    const ReportParts p = report_parts(*r, col);
    mse[j] = p.mse;
    if (!(mse[j] >= 0.0)) return py::none();
    rmse[j] = std::sqrt(mse[j]);
    mae[j] = p.mae;
    bias[j] = p.mean_error;
    const double m = column_max_abs(*r, col);
    max_abs[j] = c.float64_result ? m : static_cast<double>(static_cast<float>(m));  // round_max_error
    r2p[j] = p.r2;
    evp[j] = p.explained_variance;
  }
  if (!all_finite(mse) || !all_finite(mae) || !all_finite(bias) || !all_finite(max_abs) ||
      !fraction_scores(r2p, true, r2_scores) || !fraction_scores(evp, true, ev_scores)) {
    return py::none();
  }
  py::object fields[5] = {aggregate(mse, c, o), aggregate(rmse, c, o), aggregate(mae, c, o),
                          aggregate(r2_scores, c, o), aggregate(ev_scores, c, o)};
  py::object bias_value = aggregate(bias, c, o);
  for (const auto& f : fields) {
    if (f.is_none()) return py::none();
  }
  if (bias_value.is_none()) return py::none();
  py::object max_value;
  if (o.averaging == Averaging::kRaw) {
    max_value = raw_array(max_abs, c.float64_result);
  } else {
    double m = max_abs[0];
    for (double v : max_abs) m = v > m ? v : m;
    max_value = py::float_(m);
  }
  return py::make_tuple(fields[0], fields[1], fields[2], fields[3], fields[4], max_value, bias_value,
                        py::int_(c.req.n_rows), py::float_(weight_total(*r).to_double()));
}

// ---- RegressionAccumulator.update ------------------------------------------------------------

// One batch's state (every sum of the report), its working dtype and its number of
// outputs: (ReduceResult, numpy.dtype, int), or None. Batches whose weights sum to zero
// are declined (the accumulator's bookkeeping of "some weight was non-zero").
py::object accumulate_fast(PyObject* y_true, PyObject* y_pred, PyObject* sample_weight, PyObject* num_threads) {
  Options o;
  o.sample_weight = sample_weight == Py_None ? nullptr : sample_weight;
  if (!parse_threads(num_threads, o.num_threads)) return py::none();
  Call c;
  if (!prepare(y_true, y_pred, o, kProfAll, false, c)) return py::none();
  std::optional<ReduceResult> r = run_pass(c.req);
  if (!r) return py::none();
  const int64_t cols = c.req.n_cols;
  return py::make_tuple(py::cast(std::move(*r)),
                        py::reinterpret_borrow<py::object>(c.float64_result ? float64_dtype : float32_dtype),
                        py::int_(cols));
}

}  // namespace

void bind_fast_intake(py::module_& m) {
  py::module_ numpy = py::module_::import("numpy");
  ndarray_type = reinterpret_cast<PyTypeObject*>(py::object(numpy.attr("ndarray")).release().ptr());  // kept
  float32_dtype = numpy.attr("dtype")("float32").release().ptr();
  float64_dtype = numpy.attr("dtype")("float64").release().ptr();

  // Each takes the public function's positional pair and its keyword dict (never
  // modified) and returns the result, or None to let the general path run.
  const auto metric = [&m](const char* name, Metric kind) {
    m.def(
        name,
        [kind](py::handle y_true, py::handle y_pred, py::handle kwargs) {
          return mean_metric(kind, y_true.ptr(), y_pred.ptr(), kwargs.ptr());
        },
        py::arg("y_true"), py::arg("y_pred"), py::arg("kwargs"));
  };
  metric("mse_intake", Metric::kMse);
  metric("rmse_intake", Metric::kRmse);
  metric("mae_intake", Metric::kMae);
  metric("msle_intake", Metric::kMsle);
  metric("rmsle_intake", Metric::kRmsle);
  m.def(
      "max_error_intake",
      [](py::handle t, py::handle p, py::handle kw) { return max_error_fast(t.ptr(), p.ptr(), kw.ptr()); },
      py::arg("y_true"), py::arg("y_pred"), py::arg("kwargs"));
  m.def(
      "r2_intake",
      [](py::handle t, py::handle p, py::handle kw) { return fraction_metric(true, t.ptr(), p.ptr(), kw.ptr()); },
      py::arg("y_true"), py::arg("y_pred"), py::arg("kwargs"));
  m.def(
      "explained_variance_intake",
      [](py::handle t, py::handle p, py::handle kw) { return fraction_metric(false, t.ptr(), p.ptr(), kw.ptr()); },
      py::arg("y_true"), py::arg("y_pred"), py::arg("kwargs"));
  m.def(
      "report_intake",
      [](py::handle t, py::handle p, py::handle kw) { return report_fast(t.ptr(), p.ptr(), kw.ptr()); },
      py::arg("y_true"), py::arg("y_pred"), py::arg("kwargs"),
      "The fields of regression_report's RegressionReport as a tuple, or None.");
  m.def(
      "accumulate_intake",
      [](py::handle t, py::handle p, py::handle w, py::handle threads) {
        return accumulate_fast(t.ptr(), p.ptr(), w.ptr(), threads.ptr());
      },
      py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight"), py::arg("num_threads"),
      "One update's batch: (ReduceResult, working dtype, n_outputs), or None.");
}
