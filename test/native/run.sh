#!/usr/bin/env bash
# Builds the native unit tests with sanitizers into build/native-tests/ and runs them.
#
#   bash test/native/run.sh [asan|tsan|all]     (default: all)
#
# asan: AddressSanitizer + UBSan (every report fatal) for every test (ring buffer, drain signal, address
#       table, sampler, sample budget, aggregator, sample recorder, unwinder, JS code map), plus the symbolizer test
#       (test/native/run-symbolizer-test.sh) when it exists.
# tsan: ThreadSanitizer for the tests with threads (ring buffer, drain signal, address table, aggregator,
#       the unwinder's shared caches, the JS code map, the private heap). The private heap's test runs here
#       only: under AddressSanitizer the private heap is operator new (util/private-heap.cc).
# Prints each test's TAP output; exits nonzero if any build or test fails.
set -u
cd "$(dirname "$0")/../.."

mode="${1:-all}"
case "$mode" in
  asan | tsan | all) ;;
  *)
    echo "usage: $0 [asan|tsan|all]" >&2
    exit 2
    ;;
esac

CXX="${CXX:-g++}"
out=build/native-tests
common=(-std=c++20 -O1 -g -fno-omit-frame-pointer -Inative -pthread)
asan_flags=(-fsanitize=address,undefined -fno-sanitize-recover=all)
tsan_flags=(-fsanitize=thread)
asan_tests=(ring-buffer-test drain-signal-test address-table-test sampler-test sample-budget-test aggregator-test sample-recorder-test unwind-test js-code-map-test)
tsan_tests=(ring-buffer-test drain-signal-test address-table-test aggregator-test unwind-test js-code-map-test private-heap-test)
jobs="$(nproc 2>/dev/null || echo 2)"
# A hung test (a lost wakeup, a livelock) fails after this long instead of stalling the run.
test_timeout="${NATIVE_TEST_TIMEOUT:-300}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"

# The code under test besides the header(s) the test includes.
extra_sources() {
  case "$1" in
    aggregator-test) echo native/aggregate/aggregator.cc native/util/private-heap.cc ;;
    sampler-test) echo native/sampler/sampler.cc ;;
    sample-recorder-test) echo native/aggregate/sample-recorder.cc native/unwind/*.cc native/sampler/sampler.cc ;;
    js-code-map-test) echo native/v8/js-code-map.cc native/util/private-heap.cc ;;
    private-heap-test) echo native/util/private-heap.cc ;;
    unwind-test) echo native/unwind/*.cc -rdynamic "-L$out" -lno-frame-pointers "-Wl,-rpath,$PWD/$out" ;;
  esac
}

runs=()  # "name mode" pairs, in order
case "$mode" in
  asan) for t in "${asan_tests[@]}"; do runs+=("$t asan"); done ;;
  tsan) for t in "${tsan_tests[@]}"; do runs+=("$t tsan"); done ;;
  all)
    for t in "${asan_tests[@]}"; do runs+=("$t asan"); done
    for t in "${tsan_tests[@]}"; do runs+=("$t tsan"); done
    ;;
esac

start_seconds=$SECONDS
mkdir -p "$out"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

# The symbolizer test builds and runs itself; start it first (it is the longest build), in the
# background, and print its output at the end.
symbolizer=0
if [ "$mode" != tsan ] && [ -f test/native/run-symbolizer-test.sh ]; then
  symbolizer=1
  (
    timeout "$test_timeout" sh test/native/run-symbolizer-test.sh >"$logs/symbolizer" 2>&1
    echo $? >"$logs/symbolizer.status"
  ) &
  symbolizer_pid=$!
fi

# The unwind test's stand-in for a distro library: no frame pointers, not instrumented.
mkdir -p "$out"
if ! "${CC:-gcc}" -O2 -fomit-frame-pointer -fPIC -shared test/native/no-frame-pointers.c \
  -o "$out/libno-frame-pointers.so" >"$logs/no-frame-pointers.build" 2>&1; then
  cat "$logs/no-frame-pointers.build"
fi

# Build every binary, $jobs at a time (the symbolizer's build takes one of the slots).
build() {
  local name="$1" flavor="$2" flags
  if [ "$flavor" = asan ]; then flags=("${asan_flags[@]}"); else flags=("${tsan_flags[@]}"); fi
  mkdir -p "$out"
  # shellcheck disable=SC2046 # extra_sources prints space-separated paths without spaces
  "$CXX" "${common[@]}" "${flags[@]}" "test/native/$name.cc" $(extra_sources "$name") \
    -ldl -o "$out/$name-$flavor" >"$logs/$name-$flavor.build" 2>&1
  echo $? >"$logs/$name-$flavor.status"
}
pids=()
for run in "${runs[@]}"; do
  set -- $run
  build "$1" "$2" &
  pids+=("$!")
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n 2>/dev/null || true; done
done
wait "${pids[@]}"

failed=()
total=0
for run in "${runs[@]}"; do
  set -- $run
  name="$1" flavor="$2" binary="$out/$1-$2"
  total=$((total + 1))
  echo "# ---- $name ($flavor)"
  if [ "$(cat "$logs/$name-$flavor.status" 2>/dev/null)" != 0 ]; then
    cat "$logs/$name-$flavor.build"
    echo "# build failed: $name ($flavor)"
    failed+=("$name-$flavor(build)")
    continue
  fi
  timeout "$test_timeout" "$binary" >"$logs/output" 2>&1
  status=$?
  # ThreadSanitizer cannot run with some kernels' larger mmap randomization; run it without ASLR.
  if [ "$flavor" = tsan ] && grep -q "unexpected memory mapping" "$logs/output"; then
    timeout "$test_timeout" setarch "$(uname -m)" -R "$binary" >"$logs/output" 2>&1
    status=$?
  fi
  cat "$logs/output"
  if [ "$status" -ne 0 ]; then
    [ "$status" -eq 124 ] && echo "# timed out after ${test_timeout}s"
    echo "# exit status $status: $name ($flavor)"
    failed+=("$name-$flavor")
  fi
done

if [ "$symbolizer" = 1 ]; then
  total=$((total + 1))
  echo "# ---- symbolizer-test (asan, test/native/run-symbolizer-test.sh)"
  wait "$symbolizer_pid"
  status="$(cat "$logs/symbolizer.status" 2>/dev/null || echo 1)"
  cat "$logs/symbolizer"
  if [ "$status" -ne 0 ]; then
    [ "$status" -eq 124 ] && echo "# timed out after ${test_timeout}s"
    echo "# exit status $status: symbolizer-test"
    failed+=("symbolizer-test")
  fi
fi

elapsed=$((SECONDS - start_seconds))
if [ "${#failed[@]}" -eq 0 ]; then
  echo "# native tests ($mode): all $total runs passed in ${elapsed}s"
  exit 0
fi
echo "# native tests ($mode): ${#failed[@]} of $total runs FAILED in ${elapsed}s: ${failed[*]}"
exit 1
