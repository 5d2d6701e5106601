// Gzip on the libuv threadpool without Node's zlib streams: periodic profiles compress off the event loop.
#pragma once

#include <napi.h>

namespace allocscope::format {

// gzipAsync(env, bytes, level) returns a promise of a Buffer holding `bytes` gzipped at zlib
// level `level` (RFC 1952 framing, as zlib.gzip writes it).
//
// Why not zlib.gzip: it runs a Gzip Transform stream through Node's shared stream code
// (Readable.read, flow, endReadable, the Duplex and EventEmitter constructors) once a
// collection. Those functions are the host's too (its sockets, its own zlib streams); a stream
// of a new shape makes V8 deoptimize them ("wrong map") and optimize them again, polymorphic,
// on the host's compiler threads. Measured on a buffers service over 80 s: 62 deoptimizations
// with zlib.gzip, 27 with this worker, 16-22 without allocscope. This worker runs no JS: the
// host's code never sees it.
Napi::Promise gzipAsync(Napi::Env env, Napi::Uint8Array bytes, int level);

}  // namespace allocscope::format
