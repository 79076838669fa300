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

bool ArgBurstSlots(const Napi::CallbackInfo& info, size_t first, BurstOrder order, BurstSlots* out) {
  // 65535: the largest frame a slot can need (a TAP read without a vnet header, one mbuf).
  constexpr int64_t kMaxSlot = 65535;
  constexpr int64_t kMaxCount = 1 << 16;
  const bool rx = order == BurstOrder::kRx;
  const char* countName = rx ? "capacity" : "count";
  uint8_t* data;
  size_t dataLen;
  uint32_t* lengths;
  size_t lengthsLen;
  int64_t slot, count;
  if (!ArgBytes(info, first, "data", &data, &dataLen) || !ArgU32(info, first + 1, "lengths", &lengths, &lengthsLen) ||
      !ArgInt(info, rx ? first + 2 : first + 3, "slotSize", 1, kMaxSlot, &slot) ||
      !ArgInt(info, rx ? first + 3 : first + 2, countName, 0, kMaxCount, &count) ||
      !ArgBurstStats(info, first + 4, &out->stats)) {
    return false;
  }
  uint8_t* flags = nullptr;
  size_t flagsLen = 0;
  if (first + 5 < info.Length() && !info[first + 5].IsUndefined() && !ArgBytes(info, first + 5, "flags", &flags, &flagsLen)) {
    return false;
  }
  size_t n = static_cast<size_t>(count);
  if (n > lengthsLen || n * static_cast<size_t>(slot) > dataLen || (flags != nullptr && n > flagsLen)) {
    ThrowArg(info.Env(), std::string("batch too small: ") + countName + " " + std::to_string(count) + " x slotSize " +
                             std::to_string(slot) + " needs " + std::to_string(count * slot) + " data bytes, " +
                             std::to_string(count) + " lengths" + (flags ? " and flags" : "") + ", got " +
                             std::to_string(dataLen) + ", " + std::to_string(lengthsLen) +
                             (flags ? " and " + std::to_string(flagsLen) : ""));
    return false;
  }
  out->data = data;
  out->lengths = lengths;
  out->flags = flags;
  out->slot = static_cast<uint32_t>(slot);
  out->count = static_cast<uint32_t>(count);
  return true;
}

}  // namespace sluice
