// Checksum offload in software, the way a NIC does it: the TAP and DPDK bursts verify the IPv4
// header and TCP checksums of each received frame while it is in cache (verdicts in batch.flags)
// and fill the ones the stack left for them in each frame they send (requested in batch.flags).
// The stack (src/net/stack.ts) then sums no payload byte in JavaScript on those ports. Layout
// and rules: docs/netstack.md "Checksum offload".

#include "sluice.h"

#include <algorithm>
#include <cstring>

namespace sluice {

namespace {

constexpr uint32_t kEthHeader = 14;
constexpr uint32_t kIpMinHeader = 20;
constexpr uint32_t kTcpMinHeader = 20;
constexpr uint8_t kProtoTcp = 6;

// End-around carry down to 16 bits (RFC 1071 4.1), without complementing.
inline uint32_t Fold(uint64_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<uint32_t>(s);
}

// The ones' complement sum of p[0, n) as big-endian 16-bit words, folded to 16 bits; an odd last
// byte is padded with a zero byte. Words are read 4 bytes at a time in host order (unaligned
// loads through memcpy) into a 64-bit sum that cannot overflow below 2^32 words; RFC 1071 2(B):
// the sum of byte-swapped words is the byte-swapped sum, so one swap at the end gives the
// big-endian value.
uint32_t Sum16(const uint8_t* p, uint32_t n) {
  uint64_t a = 0;
  uint64_t b = 0;
  for (; n >= 16; p += 16, n -= 16) {
    uint32_t w[4];
    std::memcpy(w, p, 16);
    a += w[0];
    b += w[1];
    a += w[2];
    b += w[3];
  }
  for (; n >= 4; p += 4, n -= 4) {
    uint32_t w;
    std::memcpy(&w, p, 4);
    a += w;
  }
  if (n >= 2) {
    uint16_t w;
    std::memcpy(&w, p, 2);
    b += w;
    p += 2;
    n -= 2;
  }
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  if (n != 0) a += p[0];  // the byte at the lower address is the low byte of a host-order word
  uint32_t s = Fold(a + b);
  return ((s & 0xff) << 8) | (s >> 8);
#else
  if (n != 0) a += static_cast<uint32_t>(p[0]) << 8;
  return Fold(a + b);
#endif
}

// What an IPv4/TCP frame's headers say, once they have been found sound enough to sum over
// without reading past the frame. `tcp` is null when the datagram carries no TCP checksum to
// handle here: another protocol, a fragment (TCP is verified after reassembly, in JavaScript), a
// total length that does not fit the frame or a segment shorter than a TCP header.
struct Ipv4Frame {
  uint8_t* ip;
  uint32_t headerLength;
  uint8_t* tcp;
  uint32_t tcpLength;
};

// False when the frame is not Ethernet + IPv4 with a sound header (version 4, IHL >= 5, header
// inside the frame); 802.1Q-tagged frames are not IPv4 here (the stack drops them).
bool FindIpv4(uint8_t* f, uint32_t len, Ipv4Frame* out) {
  if (len < kEthHeader + kIpMinHeader || f[12] != 0x08 || f[13] != 0x00) return false;
  uint8_t* ip = f + kEthHeader;
  uint32_t avail = len - kEthHeader;
  uint32_t hl = static_cast<uint32_t>(ip[0] & 0x0f) << 2;
  if ((ip[0] >> 4) != 4 || hl < kIpMinHeader || hl > avail) return false;
  out->ip = ip;
  out->headerLength = hl;
  out->tcp = nullptr;
  out->tcpLength = 0;
  uint32_t total = (static_cast<uint32_t>(ip[2]) << 8) | ip[3];
  bool fragment = (ip[6] & 0x3f) != 0 || ip[7] != 0;  // MF, or a fragment offset
  if (total < hl || total > avail || fragment || ip[9] != kProtoTcp || total - hl < kTcpMinHeader) return true;
  out->tcp = ip + hl;
  out->tcpLength = total - hl;
  return true;
}

// The TCP checksum sum: pseudo-header (addresses, protocol, TCP length; RFC 9293 3.1) plus the
// segment with its checksum field as it is, folded.
uint32_t TcpSum(const Ipv4Frame& v) {
  return Fold(static_cast<uint64_t>(Sum16(v.ip + 12, 8)) + kProtoTcp + v.tcpLength + Sum16(v.tcp, v.tcpLength));
}

inline void PutChecksum(uint8_t* field, uint32_t folded) {
  uint32_t c = ~folded & 0xffff;
  field[0] = static_cast<uint8_t>(c >> 8);
  field[1] = static_cast<uint8_t>(c);
}

// A verdict from a folded sum over data that includes its checksum field: valid data sums to
// 0xffff (so a field of 0x0000 or 0xffff for a zero checksum both verify, RFC 1624 3).
inline uint8_t Verdict(uint32_t folded) { return folded == 0xffff ? kCsumGood : kCsumBad; }

// csumVerifyBurst(data, lengths, flags, slotSize, count) / csumFillBurst(...): the rx verdicts
// and the tx fill of the bursts over a batch in memory, for tests and benchmarks (no device).
Napi::Value CsumVerifyBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BurstSlots b;
  if (!ArgBurstSlots(info, 0, BurstOrder::kRx, &b)) return env.Undefined();
  if (b.flags == nullptr) {
    ThrowArg(env, "argument 'flags' must be a Uint8Array");
    return env.Undefined();
  }
  for (uint32_t i = 0; i < b.count; i++) b.flags[i] = RxChecksumFlags(b.At(i), std::min(b.lengths[i], b.slot));
  return Napi::Number::New(env, b.count);
}

Napi::Value CsumFillBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BurstSlots b;
  if (!ArgBurstSlots(info, 0, BurstOrder::kTx, &b)) return env.Undefined();
  if (b.flags == nullptr) {
    ThrowArg(env, "argument 'flags' must be a Uint8Array");
    return env.Undefined();
  }
  uint32_t ready = 0;
  for (uint32_t i = 0; i < b.count; i++) {
    if (b.Outgoing(i) != nullptr) ready++;
  }
  return Napi::Number::New(env, ready);
}

}  // namespace

uint8_t RxChecksumFlags(uint8_t* frame, uint32_t len) { return RxChecksumFlagsHinted(frame, len, 0, 0); }

void TxFillChecksums(uint8_t* frame, uint32_t len, uint8_t want) {
  Ipv4Frame v;
  if (!FindIpv4(frame, len, &v)) return;
  if (want & kTxIpCsum) {
    v.ip[10] = 0;
    v.ip[11] = 0;
    PutChecksum(v.ip + 10, Sum16(v.ip, v.headerLength));
  }
  if ((want & kTxTcpCsum) && v.tcp != nullptr) {
    v.tcp[16] = 0;
    v.tcp[17] = 0;
    PutChecksum(v.tcp + 16, TcpSum(v));
  }
}

uint8_t RxChecksumFlagsHinted(uint8_t* frame, uint32_t len, uint8_t nicIp, uint8_t nicL4) {
  Ipv4Frame v;
  if (!FindIpv4(frame, len, &v)) return 0;
  uint8_t ip = nicIp != 0 ? nicIp : Verdict(Sum16(v.ip, v.headerLength));
  // A bad header is dropped for that reason before its payload matters.
  if (ip == kCsumBad || v.tcp == nullptr) return ip;
  uint8_t l4 = nicL4 != 0 ? nicL4 : Verdict(TcpSum(v));
  return static_cast<uint8_t>(ip | (l4 << kRxL4Shift));
}

uint8_t TxPrepareNicChecksums(uint8_t* frame, uint32_t len, uint8_t want, uint32_t* l3len) {
  Ipv4Frame v;
  if (want == 0 || !FindIpv4(frame, len, &v)) return 0;
  *l3len = v.headerLength;
  uint8_t asked = 0;
  if (want & kTxIpCsum) {
    v.ip[10] = 0;
    v.ip[11] = 0;
    asked |= kTxIpCsum;
  }
  if ((want & kTxTcpCsum) && v.tcp != nullptr) {
    // The pseudo-header sum, not complemented (what rte_ipv4_phdr_cksum gives); the NIC adds the
    // segment's own sum to it and complements.
    uint32_t ph = Fold(static_cast<uint64_t>(Sum16(v.ip + 12, 8)) + kProtoTcp + v.tcpLength);
    v.tcp[16] = static_cast<uint8_t>(ph >> 8);
    v.tcp[17] = static_cast<uint8_t>(ph);
    asked |= kTxTcpCsum;
  }
  return asked;
}

void InitChecksum(Napi::Env env, Napi::Object exports) {
  exports.Set("csumVerifyBurst", Napi::Function::New(env, CsumVerifyBurst, "csumVerifyBurst"));
  exports.Set("csumFillBurst", Napi::Function::New(env, CsumFillBurst, "csumFillBurst"));
}

}  // namespace sluice
