#!/bin/sh
# Builds the native symbolizer test with AddressSanitizer and UBSan, then runs it.
set -eu
cd "$(dirname "$0")/../.."
mkdir -p build/native-tests
g++ -std=c++20 -O1 -g -fsanitize=address,undefined -Inative native/symbolize/*.cc native/util/private-heap.cc \
  test/native/symbolizer-test.cc -ldl -o build/native-tests/symbolizer-test
# halt_on_error: a UBSan report must fail the run, not only print.
UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
  exec build/native-tests/symbolizer-test
