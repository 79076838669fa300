#include "sluice.h"

#include <uv.h>

#include <cerrno>
#include <cmath>
#include <cstring>

namespace sluice {

namespace {

Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

}  // namespace

void ThrowErrno(Napi::Env env, const char* code, const char* syscall, int err) {
  // strerrordesc_np/strerrorname_np (glibc >= 2.32) are thread-safe and need no buffer.
  const char* desc = strerrordesc_np(err);
  const char* name = strerrorname_np(err);
  std::string message = std::string(syscall) + ": " + (desc ? desc : "Unknown error") + " (" +
                        (name ? name : std::to_string(err)) + ")";
  Napi::Error e = MakeError(env, code, message);
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("errnoName", Napi::String::New(env, name ? name : ""));
  e.Set("syscall", Napi::String::New(env, syscall));
  e.ThrowAsJavaScriptException();
}

void ThrowUv(Napi::Env env, const char* code, const char* call, int status) {
  std::string message =
      std::string(call) + ": " + uv_strerror(status) + " (" + uv_err_name(status) + ")";
  Napi::Error e = MakeError(env, code, message);
  e.Set("errno", Napi::Number::New(env, -status));
  e.Set("errnoName", Napi::String::New(env, uv_err_name(status)));
  e.Set("syscall", Napi::String::New(env, call));
  e.ThrowAsJavaScriptException();
}

void ThrowArg(Napi::Env env, const std::string& message) {
  MakeError(env, kErrPortConfig, message).ThrowAsJavaScriptException();
}

bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max,
            int64_t* out) {
  if (i >= info.Length() || !info[i].IsNumber()) {
    ThrowArg(info.Env(), std::string("argument '") + name + "' must be a number");
    return false;
  }
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(v) || std::floor(v) != v || v < static_cast<double>(min) ||
      v > static_cast<double>(max)) {
    ThrowArg(info.Env(), std::string("argument '") + name + "' must be an integer in [" +
                             std::to_string(min) + ", " + std::to_string(max) + "], got " +
                             std::to_string(v));
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data,
              size_t* length) {
  if (i < info.Length() && info[i].IsTypedArray()) {
    Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array u8 = ta.As<Napi::Uint8Array>();
      *data = u8.Data();
      *length = u8.ByteLength();
      return true;
    }
  }
  ThrowArg(info.Env(), std::string("argument '") + name + "' must be a Uint8Array");
  return false;
}

bool ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t** data,
            size_t* length) {
  if (i < info.Length() && info[i].IsTypedArray()) {
    Napi::TypedArray ta = info[i].As<Napi::TypedArray>();
    if (ta.TypedArrayType() == napi_uint32_array) {
      Napi::Uint32Array u32 = ta.As<Napi::Uint32Array>();
      *data = u32.Data();
      *length = u32.ElementLength();
      return true;
    }
  }
  ThrowArg(info.Env(), std::string("argument '") + name + "' must be a Uint32Array");
  return false;
}

bool ArgBurstStats(const Napi::CallbackInfo& info, size_t i, uint32_t** stats) {
  *stats = nullptr;
  if (i >= info.Length() || info[i].IsUndefined()) return true;
  size_t n = 0;
  if (!ArgU32(info, i, "stats", stats, &n)) return false;
  if (n < 2) {
    ThrowArg(info.Env(), "argument 'stats' must have at least 2 elements");
    return false;
  }
  return true;
}

}  // namespace sluice
