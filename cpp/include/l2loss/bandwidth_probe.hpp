// A plain fused-read bandwidth probe (benchmarks only; see bandwidth_probe.cpp).
#pragma once

#include <cstdint>

namespace l2loss {

double bandwidth_probe(const double* a, const double* b, int64_t n, int threads);
double bandwidth_probe(const float* a, const float* b, int64_t n, int threads);

}  // namespace l2loss
