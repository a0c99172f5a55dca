// How many threads a call may start, and the one way a pass runs work on them.
//
// Every multi-threaded pass (the metric passes in engine.cpp, the ridge driver, the
// bandwidth probe) sizes its team with threads_for_call and runs it with
// parallel_for_threads, so the cap and the exception capture are written once.
// Baseline code only: never included by an ISA file.
#pragma once

#include <cstdint>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "l2loss/engine.hpp"  // max_threads_per_call, default_num_threads

namespace l2loss {

// A call starts at most this many threads per hardware thread. The kernels are memory-
// or compute-bound, so more threads than that cannot be faster; an unbounded request
// (num_threads=2**31-1) once started 12,208 OS threads on a 2-core machine, and where
// the process may not create that many, libgomp ends the process instead of failing
// the call. Four per hardware thread still lets tests oversubscribe a small machine
// (7 threads on 2 cores) to exercise the merge order.
constexpr int kMaxThreadsPerHardwareThread = 4;

// The team size of one call: `requested` (0: the default; negative: invalid_argument), at most
// max_threads_per_call(), at most one thread per min_work_per_thread units of `work`,
// at least 1.
int threads_for_call(int requested, int64_t work, int64_t min_work_per_thread);

// Runs fn(thread_index, team_size) on `threads` threads (inline when threads <= 1, or
// without OpenMP). An exception must not escape an OpenMP region (the runtime would end
// the process): the first one thrown by any thread is captured and rethrown here, after
// the team has joined.
template <class Fn>
void parallel_for_threads(int threads, Fn&& fn) {
#ifdef _OPENMP
  if (threads > 1) {
    std::exception_ptr error;
#pragma omp parallel num_threads(threads)
    {
      try {
        fn(omp_get_thread_num(), omp_get_num_threads());
      } catch (...) {
#pragma omp critical(l2loss_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#endif
  fn(0, 1);
}

}  // namespace l2loss
