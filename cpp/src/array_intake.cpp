#include "array_intake.hpp"

#include <string>

namespace l2loss {

bool native_float(const pybind11::dtype& dt, DType& out) {
  constexpr char kNativeOrder = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? '<' : '>';
  const char kind = dt.kind();
  if (kind == 'f') {
    const char order = dt.byteorder();
    if (order != '=' && order != '|' && order != kNativeOrder) return false;
    switch (dt.itemsize()) {
      case 8: out = DType::kFloat64; return true;
      case 4: out = DType::kFloat32; return true;
      case 2: out = DType::kFloat16; return true;
      default: return false;
    }
  }
  if (kind == 'V' && dt.itemsize() == 2 && !dt.has_fields() &&
      pybind11::str(dt.attr("name")).cast<std::string>() == "bfloat16") {  // ml_dtypes.bfloat16
    out = DType::kBFloat16;
    return true;
  }
  return false;
}

}  // namespace l2loss
