#!/usr/bin/env bash
# Build l2loss's extension with AddressSanitizer + UndefinedBehaviorSanitizer in a scratch
# directory (never into the source tree) and run a reduced but meaningful test selection
# against it. Exit status 0 means: the build succeeded, every selected test passed (or
# xfailed as recorded), and no sanitizer report appeared. pytest runs with -s: a halting
# sanitizer kills the process, and output captured by pytest would be lost with it.
# Subprocesses (the CLI tests run `python -m l2loss` children) inherit the preload and
# options; a report there fails the test that checks the child's stderr.
#
# Usage:   tests/sanitize.sh [--reduced] [extra pytest args...]
#          --reduced: the CI selection (.ci/run) -- exactness, edges, byte fuzzing, the
#          hardening properties and the target moments, with HYPOTHESIS_PROFILE=small
#          (unless set); ~2 min of tests instead of ~4.
# Env:     PYTHON          interpreter with numpy/pytest/hypothesis/sklearn (default: python3)
#          SANITIZE_DIR    scratch directory (default: /tmp/l2loss-sanitize)
#          SANITIZE_JOBS   ninja -j (default: all cores)
#          SANITIZE_SUPPRESS_KNOWN=1
#                          apply the UBSan suppressions listed in KNOWN_UBSAN below (library
#                          bugs already recorded, to see whether anything *else* is found);
#                          the default run reports them and fails until they are fixed.
# Runtime: ~4 min to build from scratch on 2 cores, 40 s to 2 min for the tests depending
#          on the machine's load (see docs/reliability.md for the recorded figures).
set -euo pipefail

REDUCED=0
if [ "${1:-}" = "--reduced" ]; then
  REDUCED=1
  shift
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
WORK="${SANITIZE_DIR:-/tmp/l2loss-sanitize}"
BUILD="$WORK/build"
PKG="$WORK/pkg"
LOG="$WORK/pytest.log"
START=$SECONDS
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$ROOT/pyproject.toml" | head -1)"  # the one source

# -g1: line tables only -- enough for file:line in every sanitizer stack trace, and it
# cuts the build by about a third (the AVX-512 kernels: 84 s -> 52 s with -g).
echo "== configure + build (ASan+UBSan) in $BUILD"
PYBIND11_DIR="$("$PY" -m pybind11 --cmakedir)"
cmake -S "$ROOT" -B "$BUILD" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" \
  -DSKBUILD_PROJECT_VERSION="$VERSION" \
  -DL2LOSS_SANITIZE=address,undefined \
  -DPython_EXECUTABLE="$(command -v "$PY")" \
  -Dpybind11_DIR="$PYBIND11_DIR" >/dev/null
ninja -C "$BUILD" ${SANITIZE_JOBS:+-j "$SANITIZE_JOBS"}
BUILT=$SECONDS

SO="$(ls "$BUILD"/_core*.so)"
ldd "$SO" | grep libasan >/dev/null || { echo "error: $SO is not linked against libasan" >&2; exit 1; }
nm -D "$SO" | grep __ubsan_handle >/dev/null || { echo "error: $SO has no UBSan instrumentation" >&2; exit 1; }

echo "== package copy with the instrumented extension in $PKG"
rm -rf "$PKG"
mkdir -p "$PKG"
cp -r "$ROOT/python/l2loss" "$PKG/"
rm -f "$PKG"/l2loss/_core*.so
cp "$SO" "$PKG/l2loss/"

# libstdc++ is preloaded too: otherwise ASan's __cxa_throw interceptor cannot find the real
# function when the extension (loaded later by dlopen) throws, and aborts with
# "CHECK failed: asan_interceptors.cpp:320 real___cxa_throw != 0" -- a harness problem,
# not a library one.
LIBASAN="$(gcc -print-file-name=libasan.so)"
LIBSTDCXX="$(gcc -print-file-name=libstdc++.so)"
export LD_PRELOAD="$LIBASAN $LIBSTDCXX"
# detect_leaks=0: CPython itself leaks at exit.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1"
UBSAN_EXTRA=""
# UBSan suppressions for recorded, still-open findings ("check:file", space-separated).
# None at present. The one finding so far -- misaligned loads/stores in the scalar kernel
# for unaligned NumPy views (reproducer: test_out_buffers.py::test_unaligned_buffers_on_every_isa),
# suppressed meanwhile as "alignment:kernels_scalar.cpp" -- was fixed in caa005e + a65e834.
KNOWN_UBSAN=""
if [ "${SANITIZE_SUPPRESS_KNOWN:-0}" = 1 ] && [ -n "$KNOWN_UBSAN" ]; then
  printf '%s\n' $KNOWN_UBSAN >"$WORK/ubsan.supp"
  UBSAN_EXTRA=":suppressions=$WORK/ubsan.supp"
  echo "== suppressing known UBSan findings: $KNOWN_UBSAN"
fi
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1$UBSAN_EXTRA"
export PYTHONPATH="$PKG"
export L2LOSS_SANITIZER_RUN=1  # tests that would knowingly execute a recorded UB bug fail early instead

LOADED="$("$PY" -c 'import l2loss._core as c; print(c.__file__)')"
case "$LOADED" in
  "$PKG"/*) ;;
  *) echo "error: imported $LOADED instead of the instrumented copy" >&2; exit 1 ;;
esac
echo "== tests against $LOADED"

cd "$ROOT"
if [ "$REDUCED" = 1 ]; then
  export HYPOTHESIS_PROFILE="${HYPOTHESIS_PROFILE:-small}"
  # The memory-safety regressions (issue 14) are all in: every element type through the
  # target-moments rerun (bfloat16 over-read), the state bytes, the ridge driver.
  TESTS=(tests/test_exactness.py tests/test_edges.py tests/test_fuzz_bytes.py tests/test_properties.py
         tests/test_bad_input.py tests/test_out_buffers.py tests/test_cli_bad_files.py tests/test_leaks.py
         tests/test_target_moments.py tests/test_bfloat16.py tests/test_element_types.py tests/test_stream.py
         tests/test_optimizers.py tests/test_thread_cap.py
         # the packed-rows kernel and column tiles, the row-wise engine, the C++ intakes, groups
         tests/test_shapes.py tests/test_rowwise.py tests/test_fast_intake.py tests/test_fast_losses.py
         tests/test_grouped.py tests/test_exact_number.py)
  for f in tests/test_state_*.py tests/test_stream_*.py; do [ -e "$f" ] && TESTS+=("$f"); done
else
  TESTS=(tests/test_exactness.py tests/test_edges.py tests/test_stream.py tests/test_losses.py
         tests/test_properties.py tests/test_bad_input.py tests/test_out_buffers.py tests/test_cli_bad_files.py
         tests/test_leaks.py tests/test_fuzz_bytes.py tests/test_concurrency.py tests/test_target_moments.py
         tests/test_bfloat16.py tests/test_float16.py tests/test_element_types.py tests/test_optimizers.py
         tests/test_thread_cap.py tests/test_exact_mode.py tests/test_small_calls.py tests/test_shapes.py
         tests/test_rowwise.py tests/test_fast_intake.py tests/test_fast_losses.py tests/test_grouped.py tests/test_exact_number.py)
  for f in tests/test_state_*.py tests/test_stream_*.py; do [ -e "$f" ] && TESTS+=("$f"); done
fi
# A -k given on the command line narrows the selection (it is ANDed with ours, never
# replaces it), and a selection that runs no test is a failure, not "clean".
KEXPR="not torch and not rss_flat and not gil and not crafted_blob"
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -k) KEXPR="($KEXPR) and ($2)"; shift 2 ;;
    -k*) KEXPR="($KEXPR) and (${1#-k})"; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
echo "== selection: ${TESTS[*]} -k '$KEXPR'${HYPOTHESIS_PROFILE:+ (HYPOTHESIS_PROFILE=$HYPOTHESIS_PROFILE)}"
set +e
"$PY" -m pytest -p no:cacheprovider -q -s -m "not slow" "${TESTS[@]}" -k "$KEXPR" ${ARGS[@]+"${ARGS[@]}"} 2>&1 | tee "$LOG"
STATUS=${PIPESTATUS[0]}
set -e
if [ "$STATUS" -eq 5 ]; then
  echo "error: the selection ran no test (pytest exit 5): nothing was checked" >&2
fi
TESTED=$SECONDS

PATTERN="runtime error:|ERROR: AddressSanitizer|AddressSanitizer: CHECK failed"
REPORTS=$(grep -cE "$PATTERN" "$LOG" || true)
if [ "$REPORTS" -gt 0 ]; then
  # (a report may follow pytest's progress dots on the same line)
  echo "== sanitizer report (full log: $LOG):" >&2
  grep -E "$PATTERN" "$LOG" | sed -E 's/^[.sxXFE]+//' | head -5 >&2
  grep -E "^    #[0-9]+ " "$LOG" | head -12 >&2
fi
echo "== build $((BUILT - START)) s, tests $((TESTED - BUILT)) s, pytest exit $STATUS, sanitizer reports $REPORTS"
if [ "$STATUS" -ne 0 ] || [ "$REPORTS" -ne 0 ]; then
  exit 1
fi
echo "== sanitizers clean"
