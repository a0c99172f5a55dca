// How many threads a call may start, and the one way a pass runs work on them.
//
// Every multi-threaded pass (the metric passes in engine.cpp, the ridge driver, the
// bandwidth probe) sizes its team with threads_for_call and runs it with
// parallel_for_threads, so the cap and the exception capture are written once.
// Baseline code only: never included by an ISA file.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <exception>
#include <type_traits>
#include <vector>

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

// The skeleton of every reduction pass over rows. Each thread of the team makes its own
// state (make_state(), called by the thread that uses it: its own pages, no shared cache
// lines), claims chunks of [0, n_rows) from a shared counter -- so a thread that shares
// its core with another process cannot hold the pass back, and which thread sums which
// rows cannot change a bit, the sums being exact -- and folds each into its state with
// work(state, first_row, rows); finish(state) runs in the thread after its last chunk.
// Once the team has joined, merge(state) is called for every thread's state, in thread
// order. Exceptions: as parallel_for_threads (nothing is merged then).
// A work(state, first_row, rows, next_first_row) taking a fourth argument makes each
// thread claim its chunks one ahead and tells it where its next chunk starts (-1: none),
// so a kernel can prefetch it (the ridge driver).
template <class MakeState, class Work, class Finish, class Merge>
void parallel_reduce_rows(int threads, int64_t n_rows, int64_t chunk, MakeState&& make_state, Work&& work,
                          Finish&& finish, Merge&& merge) {
  using State = decltype(make_state());
  std::vector<State> per_thread(static_cast<size_t>(threads));
  std::vector<char> ran(static_cast<size_t>(threads), 0);  // a team may be smaller than asked
  std::atomic<int64_t> next{0};
  parallel_for_threads(threads, [&](int t, int) {
    State state = make_state();
    auto claim = [&] { return next.fetch_add(chunk, std::memory_order_relaxed); };
    if constexpr (std::is_invocable_v<Work&, State&, int64_t, int64_t, int64_t>) {
      for (int64_t r0 = claim(), nr; r0 < n_rows; r0 = nr) {
        nr = claim();
        work(state, r0, std::min(chunk, n_rows - r0), nr < n_rows ? nr : int64_t{-1});
      }
    } else {
      for (int64_t r0 = claim(); r0 < n_rows; r0 = claim()) work(state, r0, std::min(chunk, n_rows - r0));
    }
    finish(state);
    per_thread[static_cast<size_t>(t)] = std::move(state);
    ran[static_cast<size_t>(t)] = 1;
  });
  for (size_t t = 0; t < per_thread.size(); ++t) {
    if (ran[t]) merge(per_thread[t]);
  }
}

}  // namespace l2loss
