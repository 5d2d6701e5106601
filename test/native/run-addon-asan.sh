#!/usr/bin/env bash
# Builds the whole addon with AddressSanitizer+UBSan and runs integration tests against it in an uninstrumented Node.
#
#   bash test/native/run-addon-asan.sh [TEST_FILE...]   (default: the tests that drive the native code hardest)
#
# The addon goes to build/asan/allocscope.node, built from binding.gyp's own source list and
# defines. Node itself is not instrumented, so the ASan runtime is preloaded (it must come first)
# and every Node the tests start loads the sanitized addon through ALLOCSCOPE_ADDON_PATH. The
# hooks call the allocator the process binds to, which is then ASan's: every block the profiler
# frees, reads or keeps is checked. Leak checking is off because Node frees little at exit by
# design; the tests' impossible requests (realloc to SIZE_MAX) must fail with ENOMEM as in glibc,
# not abort; the quarantine of freed blocks is kept small so that the tests' RSS bounds hold.
# Every other report is fatal. Like Node, the addon has no RTTI (so no UBSan vptr check).
# Exits nonzero if the build or any test fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

CXX="${CXX:-g++}"
out=build/asan
mkdir -p "$out"

# binding.gyp is a Python literal: read its targets' sources and defines instead of repeating them.
gyp() { python3 -c 'import ast, sys; targets = ast.literal_eval(open("binding.gyp").read())["targets"]; print(" ".join(eval(sys.argv[1])))' "$1"; }
read -r -a sources < <(gyp '[s for t in targets for s in t["sources"]]')
read -r -a defines < <(gyp '["-D" + d for t in targets for d in t.get("defines", [])]')
node_include="$(node -p 'require("path").join(process.execPath, "..", "..", "include", "node")')"
[ -f "$node_include/node_api.h" ] || node_include=/usr/include/node
addon_api_include="$(node -p 'require("node-addon-api").include_dir')"

echo "run-addon-asan: building $out/allocscope.node"
"$CXX" -std=c++20 -O1 -g -fPIC -shared -fno-omit-frame-pointer -fvisibility=hidden \
  -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all -fno-rtti \
  "${defines[@]}" -I"$node_include" -I"$addon_api_include" -Inative \
  "${sources[@]}" -ldl -o "$out/allocscope.node"

if [ "$#" -gt 0 ]; then
  tests=("$@")
else
  tests=(test/integration/native-leak.test.js test/integration/native-safety.test.js
    test/integration/mixed-stacks.test.js test/integration/heap-api.test.js
    test/integration/run-robustness.test.js test/integration/out-of-memory.test.js
    test/unit/pprof-format.test.js)
fi

export LD_PRELOAD="$("$CXX" -print-file-name=libasan.so) $("$CXX" -print-file-name=libubsan.so)"
# V8 handles SIGSEGV itself (WebAssembly bounds, stack probes): ASan must leave it to V8.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:quarantine_size_mb=16:halt_on_error=1:abort_on_error=1:allow_user_segv_handler=1:handle_segv=0:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ALLOCSCOPE_ADDON_PATH="$PWD/$out/allocscope.node"
echo "run-addon-asan: running ${#tests[@]} test files with the sanitized addon"
# Run from a test (npm test), the outer runner's context would make this one skip every file.
unset NODE_TEST_CONTEXT
node --test "${tests[@]}"
