#include "sluice.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sluice::InitTap(env, exports);
  sluice::InitWaiter(env, exports);
#ifdef SLUICE_HAVE_DPDK
  sluice::InitDpdk(env, exports);
  constexpr bool kDpdk = true;
#else
  constexpr bool kDpdk = false;
#endif
  // What this build contains, for `sluice doctor` (src/io/doctor.ts).
  Napi::Object features = Napi::Object::New(env);
  features.Set("tap", Napi::Boolean::New(env, true));
  features.Set("fdWaiter", Napi::Boolean::New(env, true));
  features.Set("dpdk", Napi::Boolean::New(env, kDpdk));
  features.Set("libdpdkAtBuild", Napi::Boolean::New(env, SLUICE_HAVE_LIBDPDK == 1));
  exports.Set("features", features);
  return exports;
}

}  // namespace

NODE_API_MODULE(sluice_native, Init)
