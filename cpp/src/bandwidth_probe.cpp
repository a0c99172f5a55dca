// The physical yardstick for benchmarks: a plain fused read of two float arrays with
// OpenMP, summing (a - b)^2 in naive double lanes. No exactness, no reproducibility:
// the fastest a squared-error reduction could possibly stream on this machine.
// Exposed to Python as a private benchmark helper only.
#include "l2loss/bandwidth_probe.hpp"

#include <algorithm>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace l2loss {

template <class T>
double bandwidth_probe_t(const T* a, const T* b, int64_t n, int threads) {
  double total = 0.0;
#ifdef _OPENMP
#pragma omp parallel num_threads(std::max(threads, 1)) reduction(+ : total)
#endif
  {
    int t = 0, nt = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    const int64_t begin = n * t / nt, end = n * (t + 1) / nt;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = begin;
    for (; i + 8 <= end; i += 8) {
      for (int l = 0; l < 8; ++l) {
        const double d = static_cast<double>(a[i + l]) - static_cast<double>(b[i + l]);
        acc[l] += d * d;
      }
    }
    for (; i < end; ++i) {
      const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
      acc[0] += d * d;
    }
    total += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  }
  return total;
}

double bandwidth_probe(const double* a, const double* b, int64_t n, int threads) {
  return bandwidth_probe_t(a, b, n, threads);
}
double bandwidth_probe(const float* a, const float* b, int64_t n, int threads) {
  return bandwidth_probe_t(a, b, n, threads);
}

}  // namespace l2loss
