// TAP backend: /dev/net/tun in IFF_TAP | IFF_NO_PI mode, non-blocking. One JS call moves a whole
// burst: rx loops read() until EAGAIN or the batch is full, tx loops write() until done or EAGAIN.
// A TAP fd carries exactly one frame per read/write, so there is no vectored batching to use.

#include "sluice.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice {

namespace {

// tapOpen(name, mtu) -> { fd, name, mac }. name may be a template ("sluice%d"); mtu 0 keeps the
// kernel default.
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowArg(env, "argument 'name' must be a string");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.size() >= IFNAMSIZ) {
    ThrowArg(env, "argument 'name' must be at most " + std::to_string(IFNAMSIZ - 1) +
                      " bytes, got '" + name + "'");
    return env.Undefined();
  }
  int64_t mtu = 0;
  if (!ArgInt(info, 1, "mtu", 0, 65521, &mtu)) return env.Undefined();
  if (mtu != 0 && mtu < 68) {
    ThrowArg(env, "argument 'mtu' must be 0 (kernel default) or >= 68 (RFC 791), got " +
                      std::to_string(mtu));
    return env.Undefined();
  }

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    ThrowErrno(env, kErrTapOpen, "open /dev/net/tun", errno);
    return env.Undefined();
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, kErrTapOpen, "TUNSETIFF", err);
    return env.Undefined();
  }
  char actual[IFNAMSIZ + 1];
  std::memset(actual, 0, sizeof actual);
  std::memcpy(actual, ifr.ifr_name, IFNAMSIZ);

  // The tun fd answers SIOCGIFHWADDR itself, so no extra socket is needed for the MAC.
  struct ifreq hw;
  std::memset(&hw, 0, sizeof hw);
  if (ioctl(fd, SIOCGIFHWADDR, &hw) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, kErrTapOpen, "SIOCGIFHWADDR", err);
    return env.Undefined();
  }

  if (mtu != 0) {
    // SIOCSIFMTU is a netdevice ioctl: it needs a socket in the device's namespace.
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) {
      int err = errno;
      close(fd);
      ThrowErrno(env, kErrTapOpen, "socket", err);
      return env.Undefined();
    }
    struct ifreq m;
    std::memset(&m, 0, sizeof m);
    std::memcpy(m.ifr_name, actual, IFNAMSIZ);
    m.ifr_mtu = static_cast<int>(mtu);
    int rc = ioctl(s, SIOCSIFMTU, &m);
    int err = errno;
    close(s);
    if (rc < 0) {
      close(fd);
      ThrowErrno(env, kErrTapOpen, "SIOCSIFMTU", err);
      return env.Undefined();
    }
  }

  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, actual));
  out.Set("mac", Napi::Buffer<uint8_t>::Copy(
                     env, reinterpret_cast<const uint8_t*>(hw.ifr_hwaddr.sa_data), 6));
  return out;
}

// tapRxBurst(fd, data, lengths, slotSize, capacity, stats?, flags?) -> count. With flags, each
// frame's checksum verdicts are written there (checksum offload, sluice.h).
Napi::Value TapRxBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  BurstSlots b;
  if (!ArgInt(info, 0, "fd", 0, INT32_MAX, &fd) || !ArgBurstSlots(info, 1, BurstOrder::kRx, &b)) {
    return env.Undefined();
  }
  uint32_t n = 0;
  uint32_t dropped = 0;
  uint32_t bytes = 0;
  while (n < b.count) {
    // tun copies what fits and returns the copied length (measured on Linux 6.18), so a frame of
    // exactly slot bytes and a truncated longer one look alike. One spare byte tells them apart.
    uint8_t spare;
    struct iovec iov[2] = {{b.At(n), b.slot}, {&spare, 1}};
    ssize_t r = readv(static_cast<int>(fd), iov, 2);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      // Frames already read are delivered; a persistent error shows again on the next call.
      if (n > 0) break;
      ThrowErrno(env, kErrTapIo, "read", errno);
      return env.Undefined();
    }
    if (r == 0) break;
    if (r > b.slot) {  // longer than the slot: dropped whole, never delivered truncated
      dropped++;
      continue;
    }
    b.Received(n++, static_cast<uint32_t>(r));
    bytes += static_cast<uint32_t>(r);
  }
  b.Report(dropped, bytes);
  return Napi::Number::New(env, n);
}

// tapTxBurst(fd, data, lengths, count, slotSize, stats?, flags?) -> consumed. Frames [0, consumed)
// were written or dropped as unsendable (counted in stats[0]); the rest met EAGAIN and are the
// caller's to retry. With flags, the checksums they ask for are filled in first (in the slot).
Napi::Value TapTxBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  BurstSlots b;
  if (!ArgInt(info, 0, "fd", 0, INT32_MAX, &fd) || !ArgBurstSlots(info, 1, BurstOrder::kTx, &b)) {
    return env.Undefined();
  }
  uint32_t i = 0;
  uint32_t dropped = 0;
  uint32_t bytes = 0;
  while (i < b.count) {
    const uint8_t* p = b.Outgoing(i);
    if (p == nullptr) {
      dropped++;
      i++;
      continue;
    }
    uint32_t len = b.lengths[i];
    ssize_t w = write(static_cast<int>(fd), p, len);
    if (w < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      // EINVAL/EMSGSIZE: this frame is malformed for the device; EIO: the interface is down
      // (tun refuses writes then). Either way the frame is dropped, as a NIC without link would.
      if (err == EINVAL || err == EMSGSIZE || err == EIO) {
        dropped++;
        i++;
        continue;
      }
      if (i > 0) break;
      ThrowErrno(env, kErrTapIo, "write", err);
      return env.Undefined();
    }
    bytes += len;
    i++;
  }
  b.Report(dropped, bytes);
  return Napi::Number::New(env, i);
}

// tapClose(fd): closing the last fd of a non-persistent TAP deletes the interface.
Napi::Value TapClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t fd;
  if (!ArgInt(info, 0, "fd", 0, INT32_MAX, &fd)) return env.Undefined();
  // close() may report EINTR after the fd is already released (Linux): never retry it.
  if (close(static_cast<int>(fd)) < 0 && errno != EINTR) {
    ThrowErrno(env, kErrTapIo, "close", errno);
  }
  return env.Undefined();
}

}  // namespace

void InitTap(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen, "tapOpen"));
  exports.Set("tapRxBurst", Napi::Function::New(env, TapRxBurst, "tapRxBurst"));
  exports.Set("tapTxBurst", Napi::Function::New(env, TapTxBurst, "tapTxBurst"));
  exports.Set("tapClose", Napi::Function::New(env, TapClose, "tapClose"));
}

}  // namespace sluice
