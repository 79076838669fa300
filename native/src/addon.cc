#include "sluice.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  sluice::InitChecksum(env, exports);
  sluice::InitTap(env, exports);
  sluice::InitWaiter(env, exports);
#if SLUICE_HAVE_LIBBPF
  sluice::InitXdp(env, exports);
#endif
#ifdef SLUICE_HAVE_DPDK
  sluice::InitDpdk(env, exports);
  sluice::InitFlow(env, exports);
  constexpr bool kDpdk = true;
#else
  constexpr bool kDpdk = false;
#endif
  // What this build contains, for `sluice doctor` (src/io/doctor.ts).
  Napi::Object features = Napi::Object::New(env);
  features.Set("tap", Napi::Boolean::New(env, true));
  features.Set("fdWaiter", Napi::Boolean::New(env, true));
  // The TAP and DPDK bursts verify and fill IPv4/TCP checksums when given batch flags (checksum.cc).
  features.Set("checksumOffload", Napi::Boolean::New(env, true));
  features.Set("dpdk", Napi::Boolean::New(env, kDpdk));
  features.Set("libdpdkAtBuild", Napi::Boolean::New(env, SLUICE_HAVE_LIBDPDK == 1));
  // The XDP loader (src/xdp.cc) is compiled in when libbpf was found by pkg-config at build time.
  features.Set("xdp", Napi::Boolean::New(env, SLUICE_HAVE_LIBBPF == 1));
  exports.Set("features", features);
  return exports;
}

}  // namespace

NODE_API_MODULE(sluice_native, Init)
