// XDP loader for the packet filter program (native/xdp/filter.bpf.c), compiled when libbpf is
// present at build time. Control operations only: attach, replace the rule maps in one call,
// read the counters in one call, detach. Which rule owns which counter slot is decided in
// TypeScript (src/io/xdp.ts); this file moves those numbers into the maps.
//
// The program is attached through a BPF link (bpf_link_create), not the netlink attach: the
// kernel detaches it when the link's last fd closes, so a crashed Sluice never leaves a filter
// behind on the interface. The maps are pinned under <bpffs>/sluice/<ifname>/ for bpftool.

#include "sluice.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace sluice {

namespace {

// Keep in step with native/xdp/filter.bpf.c and src/io/xdp.ts.
constexpr uint32_t kMaxRules = 1024;
constexpr uint32_t kSlots = 3 + kMaxRules;
constexpr const char* kProgName = "sluice_filter";
const char* const kMaps[] = {"deny_v4", "allow_v4", "config", "syn_tat", "counters"};

struct LpmKey {
  uint32_t prefixlen;
  uint32_t addr;  // network byte order
};

struct Config {
  uint32_t dst;
  uint32_t allow_on;
  uint64_t syn_interval_ns;
  uint64_t syn_tolerance_ns;
};

struct Counter {
  uint64_t packets;
  uint64_t bytes;
};

struct Attached {
  bpf_object* obj = nullptr;
  int link_fd = -1;
  // Adopted (xdpAdopt): map fds this file opened by id, closed on release; the program belongs
  // to whoever attached it (DPDK's net_af_xdp), so releasing never detaches it.
  std::vector<int> owned_fds;
  int deny_fd = -1, allow_fd = -1, config_fd = -1, counters_fd = -1;
  std::string pin_dir;
};

std::map<int, std::unique_ptr<Attached>> g_attached;
int g_next_handle = 1;

// libbpf's messages (the verifier log among them) for the operation in progress. Only the main
// thread calls into this file, so one buffer serves.
std::string g_log;

int CaptureLog(enum libbpf_print_level level, const char* fmt, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char buf[1024];
  int n = vsnprintf(buf, sizeof buf, fmt, args);
  if (n > 0) g_log.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
  // Bounded: the verifier log of a rejected program can be megabytes; the tail says why.
  if (g_log.size() > 64 * 1024) g_log.erase(0, g_log.size() - 32 * 1024);
  return 0;
}

std::string Tail(const std::string& s, size_t max) {
  return s.size() <= max ? s : "..." + s.substr(s.size() - max);
}

// A pending JS Error { code: 'SLUICE_XDP', function, errno, errnoName, strerror, log } whose
// message reads "<function>: <strerror> (<ERRNAME>)[: <what>]".
void ThrowXdp(Napi::Env env, const char* fn, int err, const std::string& what = "") {
  if (err < 0) err = -err;
  const char* desc = strerrordesc_np(err);
  const char* name = strerrorname_np(err);
  std::string message = std::string(fn) + ": " + (desc ? desc : "Unknown error") + " (" +
                        (name ? name : std::to_string(err)) + ")";
  if (!what.empty()) message += ": " + what;
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, kErrXdp));
  e.Set("function", Napi::String::New(env, fn));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("errnoName", Napi::String::New(env, name ? name : ""));
  e.Set("strerror", Napi::String::New(env, desc ? desc : ""));
  e.Set("log", Napi::String::New(env, Tail(g_log, 4096)));
  e.ThrowAsJavaScriptException();
}

bool ArgString(const Napi::CallbackInfo& info, size_t i, const char* name, std::string* out) {
  if (i >= info.Length() || !info[i].IsString()) {
    ThrowArg(info.Env(), std::string("argument '") + name + "' must be a string");
    return false;
  }
  *out = info[i].As<Napi::String>().Utf8Value();
  return true;
}

Attached* ArgHandle(const Napi::CallbackInfo& info) {
  int64_t h = 0;
  if (!ArgInt(info, 0, "handle", 1, INT32_MAX, &h)) return nullptr;
  auto it = g_attached.find(static_cast<int>(h));
  if (it == g_attached.end()) {
    ThrowArg(info.Env(), "argument 'handle' " + std::to_string(h) + " is not an attached XDP filter");
    return nullptr;
  }
  return it->second.get();
}

// Mounts bpffs at `root` when something else (or nothing) is mounted there, then creates dir.
bool EnsurePinDir(Napi::Env env, const std::string& root, const std::string& dir) {
  struct statfs st;
  if (statfs(root.c_str(), &st) != 0) {
    ThrowXdp(env, "statfs", errno, root);
    return false;
  }
  if (st.f_type != BPF_FS_MAGIC && mount("bpf", root.c_str(), "bpf", 0, "mode=0700") != 0) {
    ThrowXdp(env, "mount", errno, "mount -t bpf bpf " + root);
    return false;
  }
  // Create each component below root (root/sluice, root/sluice/<ifname>).
  for (size_t pos = root.size() + 1; pos <= dir.size(); pos++) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      ThrowXdp(env, "mkdir", errno, part);
      return false;
    }
  }
  return true;
}

void Release(Attached* a, bool unpin) {
  if (a->link_fd >= 0) close(a->link_fd);  // the kernel detaches the program with the link
  a->link_fd = -1;
  if (unpin && !a->pin_dir.empty()) {
    for (const char* m : kMaps) unlink((a->pin_dir + "/" + m).c_str());
    rmdir(a->pin_dir.c_str());
  }
  if (a->obj) bpf_object__close(a->obj);
  a->obj = nullptr;
  for (int fd : a->owned_fds) close(fd);
  a->owned_fds.clear();
}

// The kernel's view of the XDP program on ifindex: { progId, mode } for the JS result.
bool QueryAttached(Napi::Env env, int ifindex, const std::string& ifname, uint32_t* progId,
                   const char** mode) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int err = bpf_xdp_query(ifindex, 0, &q);
  if (err) {
    ThrowXdp(env, "bpf_xdp_query", err, ifname);
    return false;
  }
  *mode = q.attach_mode == XDP_ATTACHED_DRV   ? "native"
          : q.attach_mode == XDP_ATTACHED_SKB ? "generic"
          : q.attach_mode == XDP_ATTACHED_HW  ? "offload"
          : q.attach_mode == XDP_ATTACHED_NONE ? "none"
                                              : "multi";
  *progId = q.attach_mode == XDP_ATTACHED_SKB ? q.skb_prog_id
            : q.attach_mode == XDP_ATTACHED_HW ? q.hw_prog_id
                                               : q.drv_prog_id;
  return true;
}

// Pins each map fd under dir (replacing a pin a dead Sluice left), for bpftool.
bool PinAll(Napi::Env env, const std::string& dir, const int* fds) {
  for (int i = 0; i < 5; i++) {
    std::string pin = dir + "/" + kMaps[i];
    unlink(pin.c_str());
    if (bpf_obj_pin(fds[i], pin.c_str()) != 0) {
      ThrowXdp(env, "bpf_obj_pin", errno, pin);
      return false;
    }
  }
  return true;
}

// Keeps an attached (or adopted) program's state under a new handle; the JS result of both calls:
// { handle, progId, ifindex, mode, pinDir }.
Napi::Object Register(Napi::Env env, std::unique_ptr<Attached> a, uint32_t progId, unsigned ifindex,
                      const char* mode, const std::string& dir) {
  int handle = g_next_handle++;
  g_attached[handle] = std::move(a);
  Napi::Object out = Napi::Object::New(env);
  out.Set("handle", Napi::Number::New(env, handle));
  out.Set("progId", Napi::Number::New(env, progId));
  out.Set("ifindex", Napi::Number::New(env, ifindex));
  out.Set("mode", Napi::String::New(env, mode));
  out.Set("pinDir", Napi::String::New(env, dir));
  return out;
}

// xdpAttach(ifname, objPath, mode, bpffsRoot) -> { handle, progId, ifindex, mode, pinDir }
// mode: 'native' (driver XDP), 'generic' (skb XDP, any netdev), 'auto' (the kernel picks native
// when the driver has it).
Napi::Value XdpAttach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname, path, mode, root;
  if (!ArgString(info, 0, "ifname", &ifname) || !ArgString(info, 1, "objPath", &path) ||
      !ArgString(info, 2, "mode", &mode) || !ArgString(info, 3, "bpffsRoot", &root)) {
    return env.Undefined();
  }
  uint32_t flags = 0;
  if (mode == "native") {
    flags = XDP_FLAGS_DRV_MODE;
  } else if (mode == "generic") {
    flags = XDP_FLAGS_SKB_MODE;
  } else if (mode != "auto") {
    ThrowArg(env, "argument 'mode' must be 'native', 'generic' or 'auto', got '" + mode + "'");
    return env.Undefined();
  }
  if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname.find('/') != std::string::npos) {
    ThrowArg(env, "argument 'ifname' must be an interface name of 1-15 bytes without '/', got '" +
                      ifname + "'");
    return env.Undefined();
  }
  g_log.clear();
  unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) {
    ThrowXdp(env, "if_nametoindex", errno, "interface '" + ifname + "'");
    return env.Undefined();
  }
  libbpf_set_print(CaptureLog);

  auto a = std::make_unique<Attached>();
  a->obj = bpf_object__open_file(path.c_str(), nullptr);
  if (!a->obj) {
    int err = errno;
    a->obj = nullptr;
    ThrowXdp(env, "bpf_object__open_file", err, path);
    return env.Undefined();
  }
  bpf_program* prog = bpf_object__find_program_by_name(a->obj, kProgName);
  if (!prog) {
    Release(a.get(), false);
    ThrowXdp(env, "bpf_object__find_program_by_name", ENOENT, std::string(kProgName) + " in " + path);
    return env.Undefined();
  }
  int err = bpf_object__load(a->obj);
  if (err) {
    Release(a.get(), false);
    ThrowXdp(env, "bpf_object__load", err, "the verifier or the kernel refused the program (see log)");
    return env.Undefined();
  }
  bpf_map* maps[5];
  for (int i = 0; i < 5; i++) {
    maps[i] = bpf_object__find_map_by_name(a->obj, kMaps[i]);
    if (!maps[i]) {
      Release(a.get(), false);
      ThrowXdp(env, "bpf_object__find_map_by_name", ENOENT, kMaps[i]);
      return env.Undefined();
    }
  }
  a->deny_fd = bpf_map__fd(maps[0]);
  a->allow_fd = bpf_map__fd(maps[1]);
  a->config_fd = bpf_map__fd(maps[2]);
  a->counters_fd = bpf_map__fd(maps[4]);

  LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = flags);
  a->link_fd = bpf_link_create(bpf_program__fd(prog), static_cast<int>(ifindex), BPF_XDP, &lopts);
  if (a->link_fd < 0) {
    int e = errno;
    Release(a.get(), false);
    ThrowXdp(env, "bpf_link_create", e,
             e == EBUSY || e == EEXIST
                 ? "interface '" + ifname + "' already has an XDP program (ip link show dev " + ifname + ")"
                 : "attach to '" + ifname + "' in " + mode + " mode");
    return env.Undefined();
  }

  // Pinned only once attached: a second Sluice refused above never clobbers the first one's pins.
  std::string dir = root + "/sluice/" + ifname;
  if (!EnsurePinDir(env, root, dir)) {
    Release(a.get(), false);
    return env.Undefined();
  }
  a->pin_dir = dir;
  int fds[5];
  for (int i = 0; i < 5; i++) fds[i] = bpf_map__fd(maps[i]);
  uint32_t progId = 0;
  const char* actual = "";
  if (!PinAll(env, dir, fds) || !QueryAttached(env, static_cast<int>(ifindex), ifname, &progId, &actual)) {
    Release(a.get(), true);
    return env.Undefined();
  }

  return Register(env, std::move(a), progId, ifindex, actual, dir);
}

// xdpAdopt(ifname, bpffsRoot) -> same shape as xdpAttach. Takes over the maps of a sluice_filter
// program someone else attached to ifname (DPDK net_af_xdp loads filter_xsk.bpf.o given as its
// xdp_prog), found through the kernel by program and map ids.
Napi::Value XdpAdopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string ifname, root;
  if (!ArgString(info, 0, "ifname", &ifname) || !ArgString(info, 1, "bpffsRoot", &root)) {
    return env.Undefined();
  }
  if (ifname.empty() || ifname.size() >= IFNAMSIZ || ifname.find('/') != std::string::npos) {
    ThrowArg(env, "argument 'ifname' must be an interface name of 1-15 bytes without '/', got '" +
                      ifname + "'");
    return env.Undefined();
  }
  g_log.clear();
  unsigned ifindex = if_nametoindex(ifname.c_str());
  if (ifindex == 0) {
    ThrowXdp(env, "if_nametoindex", errno, "interface '" + ifname + "'");
    return env.Undefined();
  }
  uint32_t progId = 0;
  const char* mode = "";
  if (!QueryAttached(env, static_cast<int>(ifindex), ifname, &progId, &mode)) return env.Undefined();
  if (progId == 0) {
    ThrowXdp(env, "bpf_xdp_query", ENOENT, "no XDP program on '" + ifname + "' to adopt");
    return env.Undefined();
  }
  auto a = std::make_unique<Attached>();
  int pfd = bpf_prog_get_fd_by_id(progId);
  if (pfd < 0) {
    ThrowXdp(env, "bpf_prog_get_fd_by_id", errno, "program " + std::to_string(progId));
    return env.Undefined();
  }
  a->owned_fds.push_back(pfd);
  uint32_t mapIds[16] = {};
  bpf_prog_info pinfo;
  std::memset(&pinfo, 0, sizeof pinfo);
  pinfo.nr_map_ids = 16;
  pinfo.map_ids = reinterpret_cast<uint64_t>(mapIds);
  uint32_t len = sizeof pinfo;
  if (bpf_obj_get_info_by_fd(pfd, &pinfo, &len) != 0) {
    int e = errno;
    Release(a.get(), false);
    ThrowXdp(env, "bpf_obj_get_info_by_fd", e, "program " + std::to_string(progId));
    return env.Undefined();
  }
  if (std::strncmp(pinfo.name, kProgName, sizeof pinfo.name) != 0) {
    Release(a.get(), false);
    ThrowXdp(env, "bpf_obj_get_info_by_fd", EINVAL,
             "the XDP program on '" + ifname + "' is '" + std::string(pinfo.name) + "', not " + kProgName);
    return env.Undefined();
  }
  int fds[5] = {-1, -1, -1, -1, -1};
  for (uint32_t i = 0; i < pinfo.nr_map_ids && i < 16; i++) {
    int mfd = bpf_map_get_fd_by_id(mapIds[i]);
    if (mfd < 0) continue;
    a->owned_fds.push_back(mfd);
    bpf_map_info minfo;
    std::memset(&minfo, 0, sizeof minfo);
    uint32_t mlen = sizeof minfo;
    if (bpf_obj_get_info_by_fd(mfd, &minfo, &mlen) != 0) continue;
    for (int k = 0; k < 5; k++) {
      if (std::strncmp(minfo.name, kMaps[k], sizeof minfo.name) == 0) fds[k] = mfd;
    }
  }
  for (int k = 0; k < 5; k++) {
    if (fds[k] < 0) {
      Release(a.get(), false);
      ThrowXdp(env, "bpf_map_get_fd_by_id", ENOENT, std::string("map ") + kMaps[k] + " of program " + std::to_string(progId));
      return env.Undefined();
    }
  }
  a->deny_fd = fds[0];
  a->allow_fd = fds[1];
  a->config_fd = fds[2];
  a->counters_fd = fds[4];
  std::string dir = root + "/sluice/" + ifname;
  if (!EnsurePinDir(env, root, dir)) {
    Release(a.get(), false);
    return env.Undefined();
  }
  a->pin_dir = dir;
  if (!PinAll(env, dir, fds)) {
    Release(a.get(), true);
    return env.Undefined();
  }
  return Register(env, std::move(a), progId, ifindex, mode, dir);
}

bool ReadU32s(const Napi::CallbackInfo& info, size_t i, const char* name, size_t stride,
              uint32_t** data, size_t* n) {
  size_t len = 0;
  if (!ArgU32(info, i, name, data, &len)) return false;
  if (len % stride != 0 || len / stride > kMaxRules) {
    ThrowArg(info.Env(), std::string("argument '") + name + "' must hold at most " +
                             std::to_string(kMaxRules) + " entries of " + std::to_string(stride) +
                             " numbers, got " + std::to_string(len) + " numbers");
    return false;
  }
  *n = len / stride;
  return true;
}

uint64_t KeyId(const LpmKey& k) { return (static_cast<uint64_t>(k.prefixlen) << 32) | k.addr; }

// Deletes every key of an LPM trie that is not in `keep`.
int DeleteStale(int fd, const std::set<uint64_t>& keep, const char** fn) {
  std::vector<LpmKey> stale;
  LpmKey cur, next;
  bool first = true;
  for (uint32_t guard = 0; guard <= kMaxRules; guard++) {
    int err = bpf_map_get_next_key(fd, first ? nullptr : &cur, &next);
    if (err) {
      if (errno == ENOENT) break;
      *fn = "bpf_map_get_next_key";
      return errno;
    }
    first = false;
    if (!keep.count(KeyId(next))) stale.push_back(next);
    cur = next;
  }
  for (const LpmKey& k : stale) {
    if (bpf_map_delete_elem(fd, &k) != 0 && errno != ENOENT) {
      *fn = "bpf_map_delete_elem";
      return errno;
    }
  }
  return 0;
}

// xdpSetRules(handle, deny, allow, synIntervalNs, synToleranceNs, dst, resetSlots)
// deny: Uint32Array of (network, prefixLength, slot) triples, network in host order;
// allow: Uint32Array of (network, prefixLength) pairs; dst: host-order IPv4 (0 = any);
// resetSlots: counter slots to zero before their new rule goes in (a slot reused by another rule).
// Order keeps every intermediate state at least as strict as the old or the new rules: new deny
// entries first, stale deny entries last; the allow list is switched on after it is filled and
// off before it is emptied.
Napi::Value XdpSetRules(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Attached* a = ArgHandle(info);
  if (!a) return env.Undefined();
  uint32_t *deny, *allow, *reset;
  size_t nDeny, nAllow, nReset;
  int64_t interval, tolerance, dst;
  if (!ReadU32s(info, 1, "deny", 3, &deny, &nDeny) || !ReadU32s(info, 2, "allow", 2, &allow, &nAllow) ||
      !ArgInt(info, 3, "synIntervalNs", 0, INT64_C(1) << 53, &interval) ||
      !ArgInt(info, 4, "synToleranceNs", 0, INT64_C(1) << 53, &tolerance) ||
      !ArgInt(info, 5, "dst", 0, UINT32_MAX, &dst) || !ReadU32s(info, 6, "resetSlots", 1, &reset, &nReset)) {
    return env.Undefined();
  }
  for (size_t i = 0; i < nDeny; i++) {
    if (deny[i * 3 + 1] > 32 || deny[i * 3 + 2] < 3 || deny[i * 3 + 2] >= kSlots) {
      ThrowArg(env, "deny entry " + std::to_string(i) + " has prefix length " +
                        std::to_string(deny[i * 3 + 1]) + " or slot " + std::to_string(deny[i * 3 + 2]) +
                        " out of range (0-32, 3-" + std::to_string(kSlots - 1) + ")");
      return env.Undefined();
    }
  }
  for (size_t i = 0; i < nAllow; i++) {
    if (allow[i * 2 + 1] > 32) {
      ThrowArg(env, "allow entry " + std::to_string(i) + " has prefix length " +
                        std::to_string(allow[i * 2 + 1]) + " beyond 32");
      return env.Undefined();
    }
  }
  g_log.clear();

  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    ThrowXdp(env, "libbpf_num_possible_cpus", ncpu);
    return env.Undefined();
  }
  std::vector<Counter> zeros(static_cast<size_t>(ncpu));
  for (size_t i = 0; i < nReset; i++) {
    uint32_t slot = reset[i];
    if (slot >= kSlots || bpf_map_update_elem(a->counters_fd, &slot, zeros.data(), BPF_ANY) != 0) {
      ThrowXdp(env, "bpf_map_update_elem", slot >= kSlots ? ERANGE : errno, "counters[" + std::to_string(slot) + "]");
      return env.Undefined();
    }
  }

  std::set<uint64_t> keepDeny, keepAllow;
  for (size_t i = 0; i < nDeny; i++) {
    LpmKey k{deny[i * 3 + 1], htonl(deny[i * 3])};
    uint32_t slot = deny[i * 3 + 2];
    if (bpf_map_update_elem(a->deny_fd, &k, &slot, BPF_ANY) != 0) {
      ThrowXdp(env, "bpf_map_update_elem", errno, "deny_v4");
      return env.Undefined();
    }
    keepDeny.insert(KeyId(k));
  }
  for (size_t i = 0; i < nAllow; i++) {
    LpmKey k{allow[i * 2 + 1], htonl(allow[i * 2])};
    uint32_t one = 1;
    if (bpf_map_update_elem(a->allow_fd, &k, &one, BPF_ANY) != 0) {
      ThrowXdp(env, "bpf_map_update_elem", errno, "allow_v4");
      return env.Undefined();
    }
    keepAllow.insert(KeyId(k));
  }
  uint32_t zero = 0;
  Config cfg{htonl(static_cast<uint32_t>(dst)), nAllow > 0 ? 1u : 0u, static_cast<uint64_t>(interval),
             static_cast<uint64_t>(tolerance)};
  if (bpf_map_update_elem(a->config_fd, &zero, &cfg, BPF_ANY) != 0) {
    ThrowXdp(env, "bpf_map_update_elem", errno, "config");
    return env.Undefined();
  }
  const char* fn = "";
  int err = DeleteStale(a->allow_fd, keepAllow, &fn);
  if (!err) err = DeleteStale(a->deny_fd, keepDeny, &fn);
  if (err) {
    ThrowXdp(env, fn, err, "removing stale rules");
    return env.Undefined();
  }
  return env.Undefined();
}

// xdpCounters(handle, out: Float64Array, slots) -> slots read. out[2i] = packets, out[2i+1] =
// bytes of slot i, summed over CPUs. Doubles: exact up to 2^53 packets or bytes.
Napi::Value XdpCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Attached* a = ArgHandle(info);
  if (!a) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowArg(env, "argument 'out' must be a Float64Array");
    return env.Undefined();
  }
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  int64_t slots = 0;
  if (!ArgInt(info, 2, "slots", 0, kSlots, &slots)) return env.Undefined();
  if (out.ElementLength() < static_cast<size_t>(slots) * 2) {
    ThrowArg(env, "argument 'out' needs " + std::to_string(slots * 2) + " elements, has " +
                      std::to_string(out.ElementLength()));
    return env.Undefined();
  }
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) {
    ThrowXdp(env, "libbpf_num_possible_cpus", ncpu);
    return env.Undefined();
  }
  std::vector<Counter> per(static_cast<size_t>(ncpu));
  for (uint32_t slot = 0; slot < static_cast<uint32_t>(slots); slot++) {
    if (bpf_map_lookup_elem(a->counters_fd, &slot, per.data()) != 0) {
      ThrowXdp(env, "bpf_map_lookup_elem", errno, "counters[" + std::to_string(slot) + "]");
      return env.Undefined();
    }
    uint64_t p = 0, b = 0;
    for (const Counter& c : per) {
      p += c.packets;
      b += c.bytes;
    }
    out[slot * 2] = static_cast<double>(p);
    out[slot * 2 + 1] = static_cast<double>(b);
  }
  return Napi::Number::New(env, static_cast<double>(slots));
}

// xdpDetach(handle): detaches the program (closing its link; an adopted one stays with its
// owner), unpins the maps, frees the object.
Napi::Value XdpDetach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Attached* a = ArgHandle(info);
  if (!a) return env.Undefined();
  Release(a, true);
  g_attached.erase(static_cast<int>(info[0].As<Napi::Number>().Int64Value()));
  return env.Undefined();
}

}  // namespace

void InitXdp(Napi::Env env, Napi::Object exports) {
  exports.Set("xdpAttach", Napi::Function::New(env, XdpAttach, "xdpAttach"));
  exports.Set("xdpAdopt", Napi::Function::New(env, XdpAdopt, "xdpAdopt"));
  exports.Set("xdpSetRules", Napi::Function::New(env, XdpSetRules, "xdpSetRules"));
  exports.Set("xdpCounters", Napi::Function::New(env, XdpCounters, "xdpCounters"));
  exports.Set("xdpDetach", Napi::Function::New(env, XdpDetach, "xdpDetach"));
  Napi::Object limits = Napi::Object::New(env);
  limits.Set("maxRules", Napi::Number::New(env, kMaxRules));
  limits.Set("slots", Napi::Number::New(env, kSlots));
  exports.Set("xdpLimits", limits);
}

}  // namespace sluice
