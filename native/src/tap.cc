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

// 65535: the largest frame a TAP read can return without a vnet header (no GSO).
constexpr int64_t kMaxSlot = 65535;
constexpr int64_t kMaxCapacity = 1 << 16;

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

// Reads the common (fd, data, lengths, slotSize/count) arguments and checks the batch bounds
// once per burst, so the loops below index without further checks.
struct Burst {
  int fd;
  uint8_t* data;
  size_t dataLen;
  uint32_t* lengths;
  size_t lengthsLen;
  // optional stats out-parameter: [0] = frames dropped by this call, [1] = bytes moved. Bytes of
  // one burst fit: capacity (<= 65536) x slot (<= 65535) < 2^32.
  uint32_t* stats;
};

// tapRxBurst(fd, data, lengths, slotSize, capacity, stats?) -> count
Napi::Value TapRxBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Burst b;
  int64_t fd, slot, capacity;
  if (!ArgInt(info, 0, "fd", 0, INT32_MAX, &fd) ||
      !ArgBytes(info, 1, "data", &b.data, &b.dataLen) ||
      !ArgU32(info, 2, "lengths", &b.lengths, &b.lengthsLen) ||
      !ArgInt(info, 3, "slotSize", 1, kMaxSlot, &slot) ||
      !ArgInt(info, 4, "capacity", 0, kMaxCapacity, &capacity) || !ArgBurstStats(info, 5, &b.stats)) {
    return env.Undefined();
  }
  if (static_cast<size_t>(capacity) > b.lengthsLen ||
      static_cast<size_t>(capacity) * static_cast<size_t>(slot) > b.dataLen) {
    ThrowArg(env, "batch too small: capacity " + std::to_string(capacity) + " x slotSize " +
                      std::to_string(slot) + " needs " + std::to_string(capacity * slot) +
                      " data bytes and " + std::to_string(capacity) + " lengths, got " +
                      std::to_string(b.dataLen) + " and " + std::to_string(b.lengthsLen));
    return env.Undefined();
  }
  uint32_t n = 0;
  uint32_t dropped = 0;
  uint32_t bytes = 0;
  while (n < capacity) {
    uint8_t* p = b.data + static_cast<size_t>(n) * static_cast<size_t>(slot);
    // tun copies what fits and returns the copied length (measured on Linux 6.18), so a frame of
    // exactly slot bytes and a truncated longer one look alike. One spare byte tells them apart.
    uint8_t spare;
    struct iovec iov[2] = {{p, static_cast<size_t>(slot)}, {&spare, 1}};
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
    if (r > slot) {  // longer than the slot: dropped whole, never delivered truncated
      dropped++;
      continue;
    }
    b.lengths[n++] = static_cast<uint32_t>(r);
    bytes += static_cast<uint32_t>(r);
  }
  if (b.stats) {
    b.stats[0] = dropped;
    b.stats[1] = bytes;
  }
  return Napi::Number::New(env, n);
}

// tapTxBurst(fd, data, lengths, count, slotSize, stats?) -> consumed. Frames [0, consumed) were
// written or dropped as unsendable (counted in stats[0]); the rest met EAGAIN and are the
// caller's to retry.
Napi::Value TapTxBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Burst b;
  int64_t fd, count, slot;
  if (!ArgInt(info, 0, "fd", 0, INT32_MAX, &fd) ||
      !ArgBytes(info, 1, "data", &b.data, &b.dataLen) ||
      !ArgU32(info, 2, "lengths", &b.lengths, &b.lengthsLen) ||
      !ArgInt(info, 3, "count", 0, kMaxCapacity, &count) ||
      !ArgInt(info, 4, "slotSize", 1, kMaxSlot, &slot) || !ArgBurstStats(info, 5, &b.stats)) {
    return env.Undefined();
  }
  if (static_cast<size_t>(count) > b.lengthsLen ||
      static_cast<size_t>(count) * static_cast<size_t>(slot) > b.dataLen) {
    ThrowArg(env, "batch too small for count " + std::to_string(count) + " x slotSize " +
                      std::to_string(slot));
    return env.Undefined();
  }
  uint32_t i = 0;
  uint32_t dropped = 0;
  uint32_t bytes = 0;
  while (i < count) {
    uint32_t len = b.lengths[i];
    if (len == 0 || len > slot) {
      dropped++;
      i++;
      continue;
    }
    const uint8_t* p = b.data + static_cast<size_t>(i) * static_cast<size_t>(slot);
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
  if (b.stats) {
    b.stats[0] = dropped;
    b.stats[1] = bytes;
  }
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
