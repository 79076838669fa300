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

// ---- Bursts over a FrameBatch (src/io/port.ts) -------------------------------------------------

// batch.flags, one byte per frame; the values must match src/io/port.ts (RX_*, TX_*).
// Received frames: two checksum verdicts, the IPv4 header's in bits 0-1 and TCP's in bits 2-3,
// each 0 (not checked), kCsumGood or kCsumBad.
constexpr uint8_t kCsumGood = 1;
constexpr uint8_t kCsumBad = 2;
constexpr int kRxL4Shift = 2;
// Frames to send: the checksums the port is to fill in (the stack left them zero).
constexpr uint8_t kTxIpCsum = 1;
constexpr uint8_t kTxTcpCsum = 2;

// checksum.cc: the verdicts for the Ethernet frame at frame[0, len), and the fill of the
// checksums `want` asks for. Both read and write only inside the frame; anything but a sound
// unfragmented IPv4 (and, for TCP, a whole TCP header) is left unchecked, or as it is.
uint8_t RxChecksumFlags(uint8_t* frame, uint32_t len);
void TxFillChecksums(uint8_t* frame, uint32_t len, uint8_t want);
// With a NIC's verdicts (kCsumGood, kCsumBad, or 0 when it did not check): those it gave are
// taken as they are (the TCP one only for a frame this code also sees as TCP), the rest computed.
uint8_t RxChecksumFlagsHinted(uint8_t* frame, uint32_t len, uint8_t nicIp, uint8_t nicL4);
// For a NIC that fills checksums: what of `want` it can be asked for (kTx* bits) on this frame,
// whose fields are readied as DPDK's checksum offload expects (IPv4 checksum zero, TCP checksum
// the pseudo-header sum); *l3len is the IPv4 header length. 0: nothing asked, fill in software.
uint8_t TxPrepareNicChecksums(uint8_t* frame, uint32_t len, uint8_t want, uint32_t* l3len);

// The argument order of a burst's count and slot size: rx takes (slotSize, capacity), tx takes
// (count, slotSize).
enum class BurstOrder { kRx, kTx };

// The frame slots one burst moves: frame i at data[i * slot, i * slot + lengths[i]), its offload
// flags in flags[i] (flags is null when the caller passed none: no checksum work).
struct BurstSlots {
  uint8_t* data;
  uint32_t* lengths;
  uint8_t* flags;
  uint32_t slot;
  uint32_t count;  // rx: capacity; tx: frames offered
  uint32_t* stats;  // optional [frames dropped by this call, bytes moved]

  uint8_t* At(uint32_t i) const { return data + static_cast<size_t>(i) * slot; }

  // rx: frame i is in its slot, len (<= slot) bytes: its length and checksum verdicts.
  void Received(uint32_t i, uint32_t len) {
    lengths[i] = len;
    if (flags != nullptr) flags[i] = RxChecksumFlags(At(i), len);
  }

  // tx: frame i's bytes with the checksums its flags ask for filled in (unless `fill` is false:
  // a NIC fills them), or null when it cannot be sent (length 0 or longer than its slot).
  uint8_t* Outgoing(uint32_t i, bool fill = true) {
    uint32_t len = lengths[i];
    if (len == 0 || len > slot) return nullptr;
    uint8_t* p = At(i);
    if (fill && flags != nullptr && flags[i] != 0) TxFillChecksums(p, len, flags[i]);
    return p;
  }

  // tx: the checksums frame i's flags ask for (0 without flags).
  uint8_t Wanted(uint32_t i) const { return flags != nullptr ? flags[i] : 0; }

  void Report(uint32_t dropped, uint32_t bytes) const {
    if (stats == nullptr) return;
    stats[0] = dropped;
    stats[1] = bytes;
  }
};

// Reads (data, lengths, slotSize, capacity | count, slotSize, stats?, flags?) from argument
// `first` on and checks that `count` slots fit data, lengths and flags, so the burst loops index
// without further checks. Bytes of one burst fit stats[1]: 65536 slots x 65535 bytes < 2^32.
bool ArgBurstSlots(const Napi::CallbackInfo& info, size_t first, BurstOrder order, BurstSlots* out);

void InitChecksum(Napi::Env env, Napi::Object exports);
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
