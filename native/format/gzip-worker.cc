// GzipWorker: deflate with a gzip header on a threadpool thread, resolving a promise on the loop.
#include "format/gzip-worker.h"

#include <zlib.h>

#include <string>
#include <vector>

namespace allocscope::format {

namespace {

// zlib's window bits for the gzip wrapper: 15 (a 32 KiB window) + 16.
constexpr int kGzipWindowBits = 15 + 16;
constexpr int kMemLevel = 8;

class GzipWorker : public Napi::AsyncWorker {
 public:
  GzipWorker(Napi::Env env, Napi::Uint8Array bytes, int level)
      : Napi::AsyncWorker(env, "allocscope:gzip"),
        d_deferred(Napi::Promise::Deferred::New(env)),
        // The input is read on another thread: the reference keeps it from being collected.
        d_input(Napi::Persistent(bytes)),
        d_data(bytes.Data()),
        d_length(bytes.ByteLength()),
        d_level(level) {}

  Napi::Promise promise() const { return d_deferred.Promise(); }

 protected:
  void Execute() override {
    z_stream stream{};
    int status = deflateInit2(&stream, d_level, Z_DEFLATED, kGzipWindowBits, kMemLevel, Z_DEFAULT_STRATEGY);
    if (status != Z_OK) return fail("deflateInit2", status, stream);
    // deflateBound is large enough for one Z_FINISH call (plus the gzip header and trailer).
    d_output.resize(deflateBound(&stream, d_length));
    stream.next_in = const_cast<Bytef*>(d_data);
    stream.avail_in = static_cast<uInt>(d_length);
    stream.next_out = d_output.data();
    stream.avail_out = static_cast<uInt>(d_output.size());
    status = deflate(&stream, Z_FINISH);
    if (status != Z_STREAM_END) {
      fail("deflate", status, stream);
      deflateEnd(&stream);
      return;
    }
    d_output.resize(stream.total_out);
    deflateEnd(&stream);
  }

  void OnOK() override {
    Napi::Env env = Env();
    d_deferred.Resolve(Napi::Buffer<uint8_t>::Copy(env, d_output.data(), d_output.size()));
  }

  void OnError(const Napi::Error& error) override { d_deferred.Reject(error.Value()); }

 private:
  void fail(const char* call, int status, const z_stream& stream) {
    SetError(std::string("allocscope gzip: ") + call + " failed (" + (stream.msg != nullptr ? stream.msg : zError(status)) + ")");
  }

  Napi::Promise::Deferred d_deferred;
  Napi::Reference<Napi::Uint8Array> d_input;
  const uint8_t* d_data;
  size_t d_length;
  int d_level;
  std::vector<Bytef> d_output;
};

}  // namespace

Napi::Promise gzipAsync(Napi::Env env, Napi::Uint8Array bytes, int level) {
  auto* worker = new GzipWorker(env, bytes, level);  // deletes itself after OnOK/OnError
  Napi::Promise promise = worker->promise();
  worker->Queue();
  return promise;
}

}  // namespace allocscope::format
