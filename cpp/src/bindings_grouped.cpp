// Python bindings of grouped evaluation (grouped.hpp): buffer intake and the result
// columns as NumPy arrays. The Python layer (_grouped.py) validates the inputs and owns
// every semantic rule; this file only checks what it needs to read the buffers safely.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "l2loss/grouped.hpp"

namespace py = pybind11;
using namespace l2loss;

namespace {

constexpr char kNativeOrder = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? '<' : '>';

bool native_order(const py::dtype& dt) {
  const char order = dt.byteorder();
  return order == '=' || order == '|' || order == kNativeOrder;
}

DType float_dtype(const py::dtype& dt, const char* name) {
  if (dt.kind() == 'V' && dt.itemsize() == 2 && !dt.has_fields() &&
      py::str(dt.attr("name")).cast<std::string>() == "bfloat16") {
    return DType::kBFloat16;
  }
  if (dt.kind() == 'f' && native_order(dt)) {
    if (dt.itemsize() == 8) return DType::kFloat64;
    if (dt.itemsize() == 4) return DType::kFloat32;
    if (dt.itemsize() == 2) return DType::kFloat16;
  }
  throw py::type_error(std::string(name) + " must be a native-byte-order float array");
}

Operand operand(const py::array& a, const char* name) {
  if (a.ndim() != 2) throw py::value_error(std::string(name) + " must be 2-D (n_samples, n_outputs)");
  return Operand{static_cast<const char*>(a.data()), float_dtype(a.dtype(), name), a.strides(0), a.strides(1)};
}

GroupedRequest make_request(const py::array& y_true, const py::array& y_pred, const py::object& weight,
                            const py::array& codes, int64_t code_lo, int64_t n_codes, int num_threads) {
  GroupedRequest q;
  q.base.y_true = operand(y_true, "y_true");
  q.base.y_pred = operand(y_pred, "y_pred");
  if (y_true.shape(0) != y_pred.shape(0) || y_true.shape(1) != y_pred.shape(1)) {
    throw py::value_error("y_true and y_pred must have the same shape");
  }
  q.base.n_rows = y_true.shape(0);
  q.base.n_cols = y_true.shape(1);
  q.base.sums = kProfAll;
  q.base.num_threads = num_threads;
  if (!weight.is_none()) {
    if (!py::isinstance<py::array>(weight)) throw py::type_error("sample_weight must be a NumPy array");
    const auto w = py::reinterpret_borrow<py::array>(weight);
    q.base.weight_dtype = float_dtype(w.dtype(), "sample_weight");
    if (w.ndim() != 1 || w.shape(0) != q.base.n_rows) throw py::value_error("sample_weight must have one entry per row");
    if (q.base.weight_dtype != DType::kFloat32 && q.base.weight_dtype != DType::kFloat64) {
      throw py::type_error("sample_weight must be float32 or float64");
    }
    q.base.weight = static_cast<const char*>(w.data());
    q.base.weight_stride = w.strides(0);
  }
  const py::dtype cd = codes.dtype();
  if (codes.ndim() != 1 || cd.kind() != 'i' || (cd.itemsize() != 4 && cd.itemsize() != 8) || !native_order(cd)) {
    throw py::type_error("group codes must be a 1-D native int32 or int64 array");
  }
  if (codes.shape(0) != q.base.n_rows) throw py::value_error("groups must have one entry per row");
  q.codes = static_cast<const char*>(codes.data());
  q.code_size = static_cast<int>(cd.itemsize());
  q.code_stride = codes.strides(0);
  q.code_lo = code_lo;
  q.n_codes = n_codes;
  return q;
}

template <class T>
py::array_t<T> to_numpy(const std::vector<T>& v, int64_t rows, int64_t cols = 0) {
  py::array_t<T> out = cols > 0 ? py::array_t<T>({rows, cols}) : py::array_t<T>(rows);
  if (!v.empty()) std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

py::dict columns_dict(const GroupedColumns& c) {
  py::dict d;
  const int64_t g = c.n_groups, k = c.n_cols;
  d["codes"] = to_numpy(c.codes, g);
  d["n_rows"] = to_numpy(c.n_rows, g);
  d["weight_sum"] = to_numpy(c.weight_sum, g);
  d["weight_zero"] = to_numpy(c.weight_zero, g);
  d["mse"] = to_numpy(c.mse, g, k);
  d["mae"] = to_numpy(c.mae, g, k);
  d["mean_error"] = to_numpy(c.mean_error, g, k);
  d["max_abs"] = to_numpy(c.max_abs, g, k);
  d["r2_num"] = to_numpy(c.r2_num, g, k);
  d["r2_den"] = to_numpy(c.r2_den, g, k);
  d["ev_num"] = to_numpy(c.ev_num, g, k);
  d["ev_den"] = to_numpy(c.ev_den, g, k);
  d["input_flags"] = c.input_flags;
  return d;
}

}  // namespace

void bind_grouped(py::module_& m) {
  m.def(
      "grouped_report",
      [](const py::array& y_true, const py::array& y_pred, const py::object& sample_weight, const py::array& codes,
         int64_t code_lo, int64_t n_codes, int num_threads) {
        const GroupedRequest q = make_request(y_true, y_pred, sample_weight, codes, code_lo, n_codes, num_threads);
        GroupedColumns c;
        {
          // Safe: only the buffers of the arrays above are read, which the caller keeps
          // alive; no Python object is touched until the GIL is back.
          py::gil_scoped_release release;
          c = grouped_report(q);
        }
        return columns_dict(c);
      },
      py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight"), py::arg("codes"), py::arg("code_lo"),
      py::arg("n_codes"), py::kw_only(), py::arg("num_threads") = 0,
      "Per group (codes - code_lo in [0, n_codes)): the report's finalised values as columns.");
  m.def(
      "grouped_states",
      [](const py::array& y_true, const py::array& y_pred, const py::object& sample_weight, const py::array& codes,
         int64_t code_lo, int64_t n_codes, int num_threads) {
        const GroupedRequest q = make_request(y_true, y_pred, sample_weight, codes, code_lo, n_codes, num_threads);
        std::vector<int64_t> present;
        std::vector<ReduceResult> states;
        {
          py::gil_scoped_release release;  // safe: as in grouped_report
          states = grouped_states(q, present);
        }
        py::list out;
        for (auto& s : states) out.append(py::cast(std::move(s)));
        return py::make_tuple(to_numpy(present, static_cast<int64_t>(present.size())), out);
      },
      py::arg("y_true"), py::arg("y_pred"), py::arg("sample_weight"), py::arg("codes"), py::arg("code_lo"),
      py::arg("n_codes"), py::kw_only(), py::arg("num_threads") = 0,
      "(present codes - code_lo, one exact ReduceResult per present group).");
  m.def(
      "finalize_states",
      [](const std::vector<const ReduceResult*>& states) { return columns_dict(finalize_states(states)); },
      py::arg("states"), "grouped_report's columns for a list of ReduceResult states (same finalisers).");
  m.def(
      "average_rows",
      [](const py::array_t<double, py::array::c_style | py::array::forcecast>& values, const py::object& weights) {
        if (values.ndim() != 2) throw py::value_error("values must be 2-D");
        const int64_t g = values.shape(0), k = values.shape(1);
        py::array_t<double, py::array::c_style | py::array::forcecast> w;
        int64_t w_row_step = 0;
        if (!weights.is_none()) {
          w = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(weights);
          if (!w || !((w.ndim() == 1 && w.shape(0) == k) || (w.ndim() == 2 && w.shape(0) == g && w.shape(1) == k))) {
            throw py::value_error("weights must have shape (k,) or (g, k)");
          }
          w_row_step = w.ndim() == 2 ? k : 0;
        }
        py::array_t<double> out(g);
        double* o = out.mutable_data();
        const double* v = values.data();
        const double* wp = weights.is_none() ? nullptr : w.data();
        for (int64_t i = 0; i < g; ++i) {
          o[i] = exact_weighted_average(v + i * k, wp ? wp + i * w_row_step : nullptr, k);
        }
        return out;
      },
      py::arg("values"), py::arg("weights") = py::none(),
      "Correctly rounded weighted mean of each row (exact_weighted_average per row).");
}
