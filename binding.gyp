# Builds the allocscope addon with node-gyp against the running Node's headers.
{
  "targets": [
    {
      # The hooks' common paths, without frame pointers: each is then a countdown (or a filter
      # byte) and a tail call into libc. See native/hooks/fast-paths.cc.
      "target_name": "allocscope_fast_paths",
      "type": "static_library",
      "sources": ["native/hooks/fast-paths.cc"],
      "include_dirs": ["native"],
      # No exceptions either: a noexcept function that may see one keeps a frame to terminate in.
      "cflags_cc!": ["-fno-omit-frame-pointer"],
      "cflags_cc": ["-std=c++20", "-fPIC", "-fomit-frame-pointer", "-fno-exceptions", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    },
    {
      "target_name": "allocscope",
      "dependencies": ["allocscope_fast_paths"],
      "sources": [
        "native/addon.cc",
        "native/v8/heap-sampler.cc",
        "native/v8/heap-limit-watch.cc",
        "native/v8/translate-heap-profile.cc",
        "native/v8/js-code-map.cc",
        "native/v8/code-event-listener.cc",
        "native/hooks/originals.cc",
        "native/hooks/got-patcher.cc",
        "native/hooks/intercept.cc",
        "native/hooks/sampled-paths.cc",
        "native/sampler/sampler.cc",
        "native/sampler/thread-state.cc",
        "native/unwind/eh-frame.cc",
        "native/unwind/code-kinds.cc",
        "native/unwind/rule-cache.cc",
        "native/unwind/stack-capture.cc",
        "native/unwind/interpreted-frames.cc",
        "native/aggregate/sample-recorder.cc",
        "native/aggregate/aggregator.cc",
        "native/session/native-session.cc",
        "native/session/translate-native-profile.cc",
        "native/symbolize/symbolizer.cc",
        "native/symbolize/elf-image.cc",
        "native/format/gzip-worker.cc",
        "native/util/private-heap.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++20", "-fno-omit-frame-pointer", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-ldl"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++20"
      }
    }
  ]
}
