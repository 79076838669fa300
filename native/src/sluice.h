// Shared helpers of the sluice_native addon. Every function exported to JavaScript moves a whole
// burst or does one control operation; none calls back into JavaScript per packet.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace sluice {

// Stable error codes. They must match src/errors.ts (ERROR_TABLE) and src/io/native.ts.
constexpr const char* kErrTapOpen = "SLUICE_TAP_OPEN";
constexpr const char* kErrTapIo = "SLUICE_TAP_IO";
constexpr const char* kErrPortConfig = "SLUICE_PORT_CONFIG";
constexpr const char* kErrXdp = "SLUICE_XDP";

// Sets a pending JS Error { code, errno, errnoName, syscall } whose message reads
// "<syscall>: <strerror> (<ERRNAME>)", e.g. "TUNSETIFF: Operation not permitted (EPERM)".
void ThrowErrno(Napi::Env env, const char* code, const char* syscall, int err);
// Same shape for a libuv error (negative uv status).
void ThrowUv(Napi::Env env, const char* code, const char* call, int status);
// A pending JS Error { code } with a message naming the argument at fault.
void ThrowArg(Napi::Env env, const std::string& message);

// Argument readers: on failure they set a pending error naming the argument and return false.
bool ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min, int64_t max,
            int64_t* out);
bool ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name, uint8_t** data,
              size_t* length);
bool ArgU32(const Napi::CallbackInfo& info, size_t i, const char* name, uint32_t** data,
            size_t* length);
// The optional burst stats out-parameter (argument i): a Uint32Array of at least 2 elements,
// [0] = frames dropped by the call, [1] = bytes moved; *stats is null when it is absent.
bool ArgBurstStats(const Napi::CallbackInfo& info, size_t i, uint32_t** stats);

void InitTap(Napi::Env env, Napi::Object exports);
void InitWaiter(Napi::Env env, Napi::Object exports);
#if SLUICE_HAVE_LIBBPF
void InitXdp(Napi::Env env, Napi::Object exports);
#endif
#ifdef SLUICE_HAVE_DPDK
void InitDpdk(Napi::Env env, Napi::Object exports);
void InitFlow(Napi::Env env, Napi::Object exports);
// dpdk.cc: whether dpdkPortOpen opened `port` and it has not been closed since.
bool DpdkPortIsOpen(uint16_t port);
// flow.cc: destroys the port's rte_flow rules and forgets their handles; dpdk.cc calls it before
// a port stops, so no flow handle outlives its port.
void FlowRelease(uint16_t port);
#endif

}  // namespace sluice
