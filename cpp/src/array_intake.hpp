// What the Python-facing files (bindings.cpp, fast_intake.cpp, fast_losses.cpp,
// bindings_grouped.cpp) share about NumPy arrays: the one rule for which element types the
// engine reads straight from a buffer. Baseline code only.
#pragma once

#include <pybind11/numpy.h>

#include "l2loss/kernel_abi.hpp"

namespace l2loss {

// The element type of a native-byte-order float64/float32/float16 dtype or ml_dtypes'
// bfloat16; false for anything else (big-endian, other kinds, structured dtypes).
bool native_float(const pybind11::dtype& dt, DType& out);

}  // namespace l2loss
