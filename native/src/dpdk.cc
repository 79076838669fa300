// DPDK backend: EAL, one port per device (1 rx + 1 tx queue), and burst I/O. tx copies the
// caller's preallocated batch (frame i at data[i * slotSize, ...)) into mbufs. rx either copies
// mbufs into such a batch (dpdkRxBurst) or, by default (src/io/dpdk.ts rxMode 'inplace'), reports
// each frame's offset in one view over the whole mbuf pool (dpdkRxBurstInPlace): no copy, no JS
// object per frame, the burst's mbufs held until the next burst. One JS call moves a whole burst;
// nothing calls back into JavaScript. Compiled only when libdpdk's pkg-config file was found at
// build time (binding.gyp defines SLUICE_HAVE_DPDK).

#include "sluice.h"

#include <dirent.h>
#include <getopt.h>
#include <unistd.h>
#include <pthread.h>
#include <sched.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_version.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace sluice {

namespace {

constexpr const char* kErrEal = "SLUICE_DPDK_EAL";
constexpr const char* kErrPort = "SLUICE_DPDK_PORT";
constexpr const char* kErrMempool = "SLUICE_DPDK_MEMPOOL";

// 64: mbuf pointers handled per inner rx/tx step (a stack array); DPDK PMDs take bursts of 32-64.
constexpr uint16_t kChunk = 64;
constexpr int64_t kMaxCapacity = 1 << 16;

enum class EalState { kNone, kReady, kFailed, kCleaned };

EalState g_eal = EalState::kNone;
std::vector<std::string> g_ealArgs;
std::string g_ealFailure;

struct PortState {
  bool open = false;
  // The device was hot-plugged by dpdkPortOpen (rte_dev_probe) rather than given by --vdev.
  bool probed = false;
  rte_device* device = nullptr;
  rte_mempool* pool = nullptr;
  uint32_t dataRoom = 0;  // bytes of frame one mbuf holds (buffer minus headroom)
  uint64_t rxTooBig = 0;  // frames longer than the caller's slot, dropped
  uint64_t txTooBig = 0;  // frames of length 0 or longer than one mbuf, dropped
  uint64_t txNoMbuf = 0;  // tx bursts cut short because the pool was empty
  // Checksum offload the PMD reported and dpdkPortOpen enabled (option nicChecksum): rx verdicts
  // come from the mbufs' ol_flags, tx checksums are left to the device.
  bool rxNicCsum = false;
  bool txNicCsum = false;
  uint64_t rxNicVerdicts = 0;  // frames whose IPv4 verdict the device gave
  uint64_t txNicChecksums = 0;  // frames sent with checksums left to the device
  // dpdkRxBurstInPlace: mbufs whose data JavaScript is reading, freed by the next call or close.
  std::vector<rte_mbuf*> held;
};

void FreeHeld(PortState& st) {
  if (!st.held.empty()) rte_pktmbuf_free_bulk(st.held.data(), static_cast<unsigned>(st.held.size()));
  st.held.clear();
}

PortState g_ports[RTE_MAX_ETHPORTS];

const char* ErrName(int err) {
  const char* n = strerrorname_np(err);
  return n ? n : "";
}

// A pending JS Error { code, errno, errnoName, syscall, function } whose message reads
// "<function>(<what>): <rte_strerror> (<ERRNAME>)". `err` is a positive errno or DPDK's own
// rte_errno value (those above __ELASTERRNO have no name; rte_strerror still explains them).
void ThrowDpdk(Napi::Env env, const char* code, const char* fn, const std::string& what, int err) {
  if (err < 0) err = -err;
  const char* name = ErrName(err);
  std::string message = std::string(fn) + (what.empty() ? "" : "(" + what + ")") + ": " +
                        rte_strerror(err) + " (" + (*name ? name : std::to_string(err)) + ")";
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("errnoName", Napi::String::New(env, name));
  e.Set("syscall", Napi::String::New(env, fn));
  e.Set("function", Napi::String::New(env, fn));
  e.ThrowAsJavaScriptException();
}

void ThrowCode(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.ThrowAsJavaScriptException();
}

bool RequireEal(Napi::Env env, const char* fn) {
  if (g_eal == EalState::kReady) return true;
  const char* why = g_eal == EalState::kCleaned ? "the EAL was cleaned up (it cannot start again in this process)"
                    : g_eal == EalState::kFailed ? "rte_eal_init failed earlier in this process"
                                                 : "dpdkInit has not been called";
  ThrowCode(env, kErrEal, std::string(fn) + ": " + why);
  return false;
}

bool ArgPort(const Napi::CallbackInfo& info, size_t i, uint16_t* port) {
  int64_t p;
  if (!ArgInt(info, i, "portId", 0, RTE_MAX_ETHPORTS - 1, &p)) return false;
  if (!g_ports[p].open) {
    ThrowCode(info.Env(), kErrPort, "port " + std::to_string(p) + " is not open");
    return false;
  }
  *port = static_cast<uint16_t>(p);
  return true;
}

Napi::Object EalInfo(Napi::Env env) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("lcores", Napi::Number::New(env, rte_lcore_count()));
  out.Set("mainLcore", Napi::Number::New(env, rte_get_main_lcore()));
  out.Set("ports", Napi::Number::New(env, rte_eth_dev_count_avail()));
  out.Set("version", Napi::String::New(env, rte_version()));
  return out;
}

// dpdkInit(args: string[]) -> { lcores, mainLcore, ports, version }. The EAL starts once per
// process; calling again with the same arguments returns the same answer, anything else fails.
Napi::Value DpdkInit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) {
    ThrowArg(env, "argument 'args' must be an array of strings");
    return env.Undefined();
  }
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::string> args;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsString()) {
      ThrowArg(env, "argument 'args[" + std::to_string(i) + "]' must be a string");
      return env.Undefined();
    }
    args.push_back(v.As<Napi::String>().Utf8Value());
  }
  if (g_eal == EalState::kReady) {
    if (args == g_ealArgs) return EalInfo(env);
    std::string had;
    for (const auto& a : g_ealArgs) had += (had.empty() ? "" : " ") + a;
    ThrowCode(env, kErrEal, "dpdkInit: the EAL is already initialised in this process with other arguments (" +
                                had + "); it starts once per process");
    return env.Undefined();
  }
  if (g_eal != EalState::kNone) {
    ThrowCode(env, kErrEal, std::string("dpdkInit: ") +
                                (g_eal == EalState::kCleaned ? "the EAL was cleaned up and cannot start again in this process"
                                                             : "rte_eal_init already failed in this process (" + g_ealFailure +
                                                                   "); DPDK cannot retry it"));
    return env.Undefined();
  }

  // stdout carries Sluice's JSON log; DPDK's log (which goes to stdout and syslog by default on
  // Linux) goes to stderr instead. rte_openlog_stream takes precedence over EAL's default stream.
  rte_openlog_stream(stderr);

  std::vector<std::string> argvStore;
  argvStore.reserve(args.size() + 1);
  argvStore.push_back("sluice");
  for (const auto& a : args) argvStore.push_back(a);
  std::vector<char*> argv;
  for (auto& s : argvStore) argv.push_back(s.data());
  argv.push_back(nullptr);

  // rte_eal_init pins the calling thread (Node's main thread) to the main lcore, and threads
  // created later (libuv's pool, V8's workers) would inherit that one core. CPU placement is the
  // operator's choice (taskset, systemd CPUAffinity=), so the thread's previous mask is restored.
  cpu_set_t before;
  bool haveMask = pthread_getaffinity_np(pthread_self(), sizeof before, &before) == 0;
  // getopt state is process-global; EAL parses with getopt_long, so start it fresh.
  optind = 1;
  int rc = rte_eal_init(static_cast<int>(argv.size() - 1), argv.data());
  int err = rte_errno;
  optind = 1;
  fflush(stdout);
  if (haveMask) pthread_setaffinity_np(pthread_self(), sizeof before, &before);
  if (rc < 0) {
    g_eal = EalState::kFailed;
    g_ealFailure = std::string(rte_strerror(err));
    // EAL resets its run-once guard only for argument errors; those may be retried.
    if (err == EINVAL) g_eal = EalState::kNone;
    ThrowDpdk(env, kErrEal, "rte_eal_init", "", err);
    return env.Undefined();
  }
  g_eal = EalState::kReady;
  g_ealArgs = args;
  return EalInfo(env);
}

std::string PortLabel(const std::string& name) { return "'" + name + "'"; }

bool ReadOpt(Napi::Env env, Napi::Object o, const char* key, int64_t min, int64_t max, int64_t def,
             int64_t* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) {
    *out = def;
    return true;
  }
  if (!v.IsNumber()) {
    ThrowArg(env, std::string("option '") + key + "' must be a number");
    return false;
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < min || d > max) {
    ThrowArg(env, std::string("option '") + key + "' must be an integer in [" + std::to_string(min) +
                      ", " + std::to_string(max) + "], got " + std::to_string(d));
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

// Stops and releases a port: a hot-plugged device is removed (its driver closes the port and the
// name can be probed again), a --vdev port is closed. Then the pool goes: every mbuf is back in
// it once the queues are released. Returns the first failure (negative errno) or 0.
// DPDK 22.11's af_xdp PMD registers the pool's memory as the socket's UMEM and sizes it as
// populated_size x object size from the first memory chunk, i.e. it assumes the objects are packed
// back to back. rte_pktmbuf_pool_create keeps each object inside one page, so with --no-huge (4 KiB
// pages, 2.4 KiB objects) every mbuf takes a page and the upper ~40% of the pool lies beyond the
// UMEM: the kernel drops tx descriptors and fill-ring entries that point there without an error
// (tx frames counted as sent never reach the wire; rx stops once the fill ring holds only them).
// AF_XDP needs no IOVA contiguity (the kernel, not the NIC, reads user memory; zero-copy drivers
// map the UMEM themselves), so the pool is built as rte_pktmbuf_pool_create does, with the objects
// packed (RTE_MEMPOOL_F_NO_IOVA_CONTIG).
rte_mempool* CreatePool(const std::string& name, unsigned n, unsigned cache, uint16_t dataRoom, int socket,
                        bool packed) {
  if (!packed) return rte_pktmbuf_pool_create(name.c_str(), n, cache, 0, dataRoom, socket);
  rte_mempool* mp = rte_mempool_create_empty(name.c_str(), n, sizeof(rte_mbuf) + dataRoom, cache,
                                             sizeof(rte_pktmbuf_pool_private), socket,
                                             RTE_MEMPOOL_F_NO_IOVA_CONTIG);
  if (mp == nullptr) return nullptr;
  int rc = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), nullptr);
  rte_pktmbuf_pool_private priv;
  std::memset(&priv, 0, sizeof priv);
  priv.mbuf_data_room_size = dataRoom;
  if (rc == 0) {
    rte_pktmbuf_pool_init(mp, &priv);
    rc = rte_mempool_populate_default(mp);
  }
  if (rc < 0) {
    rte_mempool_free(mp);
    rte_errno = -rc;
    return nullptr;
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, nullptr);
  return mp;
}

// The UMEM the af_xdp PMD derives from the pool (see CreatePool): true when every object lies
// inside it. On false, *span is the bytes the objects need and *umem what the PMD registers.
bool PoolFitsUmem(rte_mempool* mp, uint64_t* span, uint64_t* umem) {
  if (mp->nb_mem_chunks != 1) return false;
  rte_mempool_memhdr* h = STAILQ_FIRST(&mp->mem_list);
  uintptr_t page = static_cast<uintptr_t>(getpagesize());
  uintptr_t base = reinterpret_cast<uintptr_t>(h->addr) & ~(page - 1);
  uint64_t frame = rte_mempool_calc_obj_size(mp->elt_size, mp->flags, nullptr);
  *umem = static_cast<uint64_t>(mp->populated_size) * frame + (reinterpret_cast<uintptr_t>(h->addr) - base);
  struct Far {
    uintptr_t base, end;
    uint32_t header;
  } far{base, 0, mp->header_size};
  rte_mempool_obj_iter(
      mp,
      [](rte_mempool* m, void* arg, void* obj, unsigned) {
        auto* f = static_cast<Far*>(arg);
        uintptr_t end = reinterpret_cast<uintptr_t>(obj) - f->header + rte_mempool_calc_obj_size(m->elt_size, m->flags, nullptr);
        if (end > f->end) f->end = end;
      },
      &far);
  *span = far.end - base;
  return *span <= *umem;
}

Napi::Object LinkObject(Napi::Env env, const rte_eth_link& link) {
  Napi::Object l = Napi::Object::New(env);
  l.Set("up", Napi::Boolean::New(env, link.link_status == RTE_ETH_LINK_UP));
  l.Set("speedMbps", Napi::Number::New(env, link.link_speed));
  l.Set("fullDuplex", Napi::Boolean::New(env, link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX));
  return l;
}

// dpdkLink(portId) -> { up, speedMbps, fullDuplex }: the link as the PMD sees it now
// (rte_eth_link_get_nowait; virtual PMDs without carrier tracking always say up).
Napi::Value DpdkLink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  if (!ArgPort(info, 0, &port)) return env.Undefined();
  rte_eth_link link;
  std::memset(&link, 0, sizeof link);
  int rc = rte_eth_link_get_nowait(port, &link);
  if (rc != 0) {
    ThrowDpdk(env, kErrPort, "rte_eth_link_get_nowait", "port " + std::to_string(port), rc);
    return env.Undefined();
  }
  return LinkObject(env, link);
}

int Release(uint16_t port, rte_device* device, bool probed, rte_mempool* pool) {
  int rc = rte_eth_dev_stop(port);
  if (rc == -ENODEV) rc = 0;
  int rc2 = probed && device != nullptr ? rte_dev_remove(device) : rte_eth_dev_close(port);
  if (rc2 != 0 && probed) rc2 = rte_eth_dev_close(port);
  if (rc2 == -ENODEV) rc2 = 0;
  if (pool) rte_mempool_free(pool);
  return rc != 0 ? rc : rc2;
}

// dpdkPortOpen({ device, rxQueueSize, txQueueSize, mempoolSize, mtu, promiscuous }) ->
//   { portId, name, driver, mac, mtu, socketId, link: { up, speedMbps, fullDuplex },
//     capabilities: { rx: {...}, tx: {...} }, mempool: { size, dataRoom } }
// `device` is a devargs string ("net_af_packet0,iface=veth0") or a port name given with --vdev;
// the part before the first comma names the port. A device the EAL does not have yet is
// hot-plugged (rte_dev_probe) and removed again by dpdkPortClose.
Napi::Value DpdkPortOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!RequireEal(env, "dpdkPortOpen")) return env.Undefined();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowArg(env, "argument 'options' must be an object");
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value dv = o.Get("device");
  if (!dv.IsString() || dv.As<Napi::String>().Utf8Value().empty()) {
    ThrowArg(env, "option 'device' must be a non-empty string (a vdev devargs string or a port name)");
    return env.Undefined();
  }
  std::string devargs = dv.As<Napi::String>().Utf8Value();
  std::string name = devargs.substr(0, devargs.find(','));
  int64_t rxq, txq, poolSize, mtu, cache;
  if (!ReadOpt(env, o, "rxQueueSize", 32, 16384, 1024, &rxq) ||
      !ReadOpt(env, o, "txQueueSize", 32, 16384, 1024, &txq) ||
      !ReadOpt(env, o, "mempoolSize", 1, 1 << 24, 4095, &poolSize) ||
      !ReadOpt(env, o, "mtu", 68, 9600, 1500, &mtu) ||
      !ReadOpt(env, o, "mempoolCache", 0, RTE_MEMPOOL_CACHE_MAX_SIZE, 64, &cache)) {
    return env.Undefined();
  }
  bool promiscuous = o.Get("promiscuous").ToBoolean().Value();
  Napi::Value nc = o.Get("nicChecksum");
  bool nicChecksum = nc.IsUndefined() || nc.ToBoolean().Value();
  // The pool must be able to fill the rx ring, hold a full tx ring in flight, one burst being
  // built and the per-lcore cache; fewer mbufs and rx stalls once the rings fill (PMDs refill rx
  // descriptors from this pool and drop, counted as rx_nombuf, when it is empty).
  int64_t need = rxq + txq + kChunk + cache;
  if (poolSize < need) {
    ThrowCode(env, kErrMempool,
              "dpdkPortOpen(" + PortLabel(name) + "): option 'mempoolSize' " + std::to_string(poolSize) +
                  " is too small: rx ring " + std::to_string(rxq) + " + tx ring " + std::to_string(txq) +
                  " + one burst " + std::to_string(kChunk) + " + cache " + std::to_string(cache) + " need at least " +
                  std::to_string(need) + " mbufs");
    return env.Undefined();
  }

  uint16_t port;
  bool probed = false;
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
    int rc = rte_dev_probe(devargs.c_str());
    if (rc < 0) {
      ThrowDpdk(env, kErrPort, "rte_dev_probe", PortLabel(devargs), rc);
      return env.Undefined();
    }
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0) {
      ThrowCode(env, kErrPort, "dpdkPortOpen: device " + PortLabel(devargs) + " probed, but no ethdev port is named " +
                                   PortLabel(name));
      return env.Undefined();
    }
    probed = true;
  }
  if (g_ports[port].open) {
    ThrowCode(env, kErrPort, "dpdkPortOpen: port " + std::to_string(port) + " " + PortLabel(name) + " is already open");
    return env.Undefined();
  }

  rte_eth_dev_info dev;
  std::memset(&dev, 0, sizeof dev);
  int rc = rte_eth_dev_info_get(port, &dev);
  if (rc != 0) {
    Release(port, dev.device, probed, nullptr);
    ThrowDpdk(env, kErrPort, "rte_eth_dev_info_get", PortLabel(name), rc);
    return env.Undefined();
  }
  if (mtu < dev.min_mtu || mtu > dev.max_mtu) {
    Release(port, dev.device, probed, nullptr);
    ThrowCode(env, kErrPort, "dpdkPortOpen(" + PortLabel(name) + "): option 'mtu' " + std::to_string(mtu) +
                                 " is outside the device's range [" + std::to_string(dev.min_mtu) + ", " +
                                 std::to_string(dev.max_mtu) + "]");
    return env.Undefined();
  }
  int socket = rte_eth_dev_socket_id(port);
  if (socket < 0) socket = static_cast<int>(rte_socket_id());
  if (socket < 0 || socket == SOCKET_ID_ANY) socket = 0;

  // Frames up to mtu + 18 (Ethernet header, one VLAN tag) fit one mbuf: no chained tx mbufs.
  uint32_t dataRoom = std::max<uint32_t>(RTE_MBUF_DEFAULT_DATAROOM, static_cast<uint32_t>(mtu) + 18);
  std::string poolName = "sluice_p" + std::to_string(port);
  bool afXdp = dev.driver_name != nullptr && std::strcmp(dev.driver_name, "net_af_xdp") == 0;
  rte_mempool* pool = CreatePool(poolName, static_cast<unsigned>(poolSize), static_cast<unsigned>(cache),
                                 static_cast<uint16_t>(dataRoom + RTE_PKTMBUF_HEADROOM), socket, afXdp);
  if (pool == nullptr) {
    int err = rte_errno;
    Release(port, dev.device, probed, nullptr);
    ThrowDpdk(env, kErrMempool, afXdp ? "rte_mempool_populate_default" : "rte_pktmbuf_pool_create",
              poolName + ", " + std::to_string(poolSize) + " mbufs of " + std::to_string(dataRoom + RTE_PKTMBUF_HEADROOM) +
                  " bytes",
              err);
    return env.Undefined();
  }
  uint64_t span = 0, umem = 0;
  if (afXdp && !PoolFitsUmem(pool, &span, &umem)) {
    Release(port, dev.device, probed, pool);
    ThrowCode(env, kErrMempool,
              "dpdkPortOpen(" + PortLabel(name) + "): the mbuf pool spans " + std::to_string(span) +
                  " bytes in " + std::to_string(pool->nb_mem_chunks) + " chunk(s) but the af_xdp PMD registers " +
                  std::to_string(umem) +
                  " bytes of it as UMEM; frames in the rest would be dropped by the kernel (give EAL more memory "
                  "with -m, or fewer mbufs with mempoolSize)");
    return env.Undefined();
  }

  rte_eth_conf conf;
  std::memset(&conf, 0, sizeof conf);
  conf.rxmode.mtu = static_cast<uint32_t>(mtu);
  // IPv4 and TCP checksum offload, each direction only when the PMD has both.
  constexpr uint64_t kRxCsum = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM | RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
  constexpr uint64_t kTxCsum = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
  bool rxNic = nicChecksum && (dev.rx_offload_capa & kRxCsum) == kRxCsum;
  bool txNic = nicChecksum && (dev.tx_offload_capa & kTxCsum) == kTxCsum;
  if (rxNic) conf.rxmode.offloads |= kRxCsum;
  if (txNic) conf.txmode.offloads |= kTxCsum;
  rc = rte_eth_dev_configure(port, 1, 1, &conf);
  if (rc != 0) {
    Release(port, dev.device, probed, pool);
    ThrowDpdk(env, kErrPort, "rte_eth_dev_configure", PortLabel(name), rc);
    return env.Undefined();
  }
  uint16_t nrx = static_cast<uint16_t>(rxq);
  uint16_t ntx = static_cast<uint16_t>(txq);
  rc = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);
  if (rc != 0) {
    Release(port, dev.device, probed, pool);
    ThrowDpdk(env, kErrPort, "rte_eth_dev_adjust_nb_rx_tx_desc", PortLabel(name), rc);
    return env.Undefined();
  }
  rc = rte_eth_rx_queue_setup(port, 0, nrx, static_cast<unsigned>(socket), nullptr, pool);
  if (rc != 0) {
    Release(port, dev.device, probed, pool);
    ThrowDpdk(env, rc == -ENOMEM ? kErrMempool : kErrPort, "rte_eth_rx_queue_setup",
              PortLabel(name) + ", " + std::to_string(nrx) + " descriptors", rc);
    return env.Undefined();
  }
  rc = rte_eth_tx_queue_setup(port, 0, ntx, static_cast<unsigned>(socket), nullptr);
  if (rc != 0) {
    Release(port, dev.device, probed, pool);
    ThrowDpdk(env, kErrPort, "rte_eth_tx_queue_setup", PortLabel(name) + ", " + std::to_string(ntx) + " descriptors",
              rc);
    return env.Undefined();
  }
  // The PMD's MTU (af_packet: the kernel interface's); -ENOTSUP when the PMD cannot set it, in
  // which case the configured rxmode.mtu is what the port reports.
  rc = rte_eth_dev_set_mtu(port, static_cast<uint16_t>(mtu));
  if (rc != 0 && rc != -ENOTSUP) {
    Release(port, dev.device, probed, pool);
    ThrowDpdk(env, kErrPort, "rte_eth_dev_set_mtu", PortLabel(name) + ", " + std::to_string(mtu), rc);
    return env.Undefined();
  }
  rc = rte_eth_dev_start(port);
  if (rc != 0) {
    Release(port, dev.device, probed, pool);
    ThrowDpdk(env, kErrPort, "rte_eth_dev_start", PortLabel(name), rc);
    return env.Undefined();
  }
  if (promiscuous) {
    rc = rte_eth_promiscuous_enable(port);
    if (rc != 0 && rc != -ENOTSUP) {
      Release(port, dev.device, probed, pool);
      ThrowDpdk(env, kErrPort, "rte_eth_promiscuous_enable", PortLabel(name), rc);
      return env.Undefined();
    }
  }

  rte_ether_addr mac;
  rc = rte_eth_macaddr_get(port, &mac);
  if (rc != 0) {
    Release(port, dev.device, probed, pool);
    ThrowDpdk(env, kErrPort, "rte_eth_macaddr_get", PortLabel(name), rc);
    return env.Undefined();
  }
  uint16_t actualMtu = static_cast<uint16_t>(mtu);
  rte_eth_dev_get_mtu(port, &actualMtu);
  rte_eth_link link;
  std::memset(&link, 0, sizeof link);
  rte_eth_link_get_nowait(port, &link);

  PortState& st = g_ports[port];
  st = PortState();
  st.open = true;
  st.probed = probed;
  st.device = dev.device;
  st.pool = pool;
  st.dataRoom = dataRoom;
  st.rxNicCsum = rxNic;
  st.txNicCsum = txNic;

  Napi::Object out = Napi::Object::New(env);
  out.Set("portId", Napi::Number::New(env, port));
  out.Set("name", Napi::String::New(env, name));
  out.Set("driver", Napi::String::New(env, dev.driver_name ? dev.driver_name : ""));
  out.Set("mac", Napi::Buffer<uint8_t>::Copy(env, mac.addr_bytes, RTE_ETHER_ADDR_LEN));
  out.Set("mtu", Napi::Number::New(env, actualMtu));
  out.Set("socketId", Napi::Number::New(env, socket));
  out.Set("rxDescriptors", Napi::Number::New(env, nrx));
  out.Set("txDescriptors", Napi::Number::New(env, ntx));
  out.Set("link", LinkObject(env, link));
  // What the PMD could offload. IPv4+TCP checksums are enabled per direction when it has both
  // (checksumInUse); otherwise the bursts verify and fill them in software while each frame is
  // in cache (checksum.cc).
  Napi::Object rx = Napi::Object::New(env);
  rx.Set("ipv4Checksum", Napi::Boolean::New(env, (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) != 0));
  rx.Set("tcpChecksum", Napi::Boolean::New(env, (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_TCP_CKSUM) != 0));
  rx.Set("udpChecksum", Napi::Boolean::New(env, (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_UDP_CKSUM) != 0));
  rx.Set("scatter", Napi::Boolean::New(env, (dev.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) != 0));
  Napi::Object tx = Napi::Object::New(env);
  tx.Set("ipv4Checksum", Napi::Boolean::New(env, (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0));
  tx.Set("tcpChecksum", Napi::Boolean::New(env, (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_CKSUM) != 0));
  tx.Set("udpChecksum", Napi::Boolean::New(env, (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0));
  tx.Set("tcpSegmentation", Napi::Boolean::New(env, (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_TCP_TSO) != 0));
  tx.Set("multiSegment", Napi::Boolean::New(env, (dev.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0));
  Napi::Object caps = Napi::Object::New(env);
  caps.Set("rx", rx);
  caps.Set("tx", tx);
  out.Set("capabilities", caps);
  Napi::Object inUse = Napi::Object::New(env);
  inUse.Set("rx", Napi::Boolean::New(env, rxNic));
  inUse.Set("tx", Napi::Boolean::New(env, txNic));
  out.Set("checksumInUse", inUse);
  Napi::Object mp = Napi::Object::New(env);
  mp.Set("size", Napi::Number::New(env, static_cast<double>(poolSize)));
  mp.Set("dataRoom", Napi::Number::New(env, dataRoom));
  mp.Set("cache", Napi::Number::New(env, static_cast<double>(cache)));
  out.Set("mempool", mp);
  return out;
}

// A received frame's checksum verdicts (sluice.h): from the device's ol_flags where it checked,
// computed for the rest.
inline uint8_t RxFlags(PortState& st, const rte_mbuf* m, uint8_t* frame, uint32_t len) {
  if (!st.rxNicCsum) return RxChecksumFlags(frame, len);
  auto verdict = [](uint64_t v, uint64_t good, uint64_t bad) -> uint8_t {
    return v == good ? kCsumGood : v == bad ? kCsumBad : 0;
  };
  uint8_t ip = verdict(m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK, RTE_MBUF_F_RX_IP_CKSUM_GOOD, RTE_MBUF_F_RX_IP_CKSUM_BAD);
  uint8_t l4 = verdict(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK, RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_BAD);
  if (ip != 0) st.rxNicVerdicts++;
  return RxChecksumFlagsHinted(frame, len, ip, l4);
}

// dpdkRxBurst(portId, data, lengths, slotSize, capacity, stats?, flags?) -> count. Each mbuf's
// bytes (all segments) are copied into the next slot and the mbufs go back to the pool in bulk; a
// frame longer than slotSize is dropped whole and counted, never delivered truncated. With flags,
// each frame's checksum verdicts are written there while it is in cache (sluice.h).
Napi::Value DpdkRxBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  BurstSlots b;
  if (!ArgPort(info, 0, &port) || !ArgBurstSlots(info, 1, BurstOrder::kRx, &b)) return env.Undefined();
  PortState& st = g_ports[port];
  rte_mbuf* pkts[kChunk];
  uint32_t n = 0;
  uint32_t dropped = 0;
  uint32_t bytes = 0;
  while (n < b.count) {
    uint16_t want = static_cast<uint16_t>(std::min<uint32_t>(kChunk, b.count - n));
    uint16_t got = rte_eth_rx_burst(port, 0, pkts, want);
    for (uint16_t k = 0; k < got; k++) {
      rte_mbuf* m = pkts[k];
      uint32_t len = m->pkt_len;
      if (len > b.slot) {
        dropped++;
        st.rxTooBig++;
        continue;
      }
      uint8_t* dst = b.At(n);
      for (rte_mbuf* s = m; s != nullptr; s = s->next) {
        std::memcpy(dst, rte_pktmbuf_mtod(s, const uint8_t*), s->data_len);
        dst += s->data_len;
      }
      b.lengths[n] = len;
      if (b.flags != nullptr) b.flags[n] = RxFlags(st, m, b.At(n), len);
      n++;
      bytes += len;
    }
    if (got > 0) rte_pktmbuf_free_bulk(pkts, got);
    if (got < want) break;
  }
  b.Report(dropped, bytes);
  return Napi::Number::New(env, n);
}

// The zero-copy rx (DpdkPort's default, rxMode 'inplace'; docs/dpdk.md): dpdkPoolView(portId)
// returns one external ArrayBuffer over the port's mbuf pool (one memory chunk), and
// dpdkRxBurstInPlace(portId, offsets, lengths, capacity, stats?, flags?) -> count reports where
// each received frame already lies in that buffer instead of copying it, with the same stats and
// checksum verdicts as dpdkRxBurst. The mbufs stay held (the PMD cannot reuse them) until the
// next call or the port's close. A chained (multi-segment) frame is not contiguous: dropped and
// counted (rxTooBig, stats[0]). Closing the port detaches the view, so a view JavaScript still
// holds reads as empty instead of freed memory.
void NoFinalize(Napi::Env, void*) {}

// One weak reference per port to the view dpdkPoolView handed out (plain napi_ref: no C++
// destructor runs at process exit after the environment is gone).
napi_ref g_views[RTE_MAX_ETHPORTS];

void DetachView(napi_env env, uint16_t port) {
  napi_ref ref = g_views[port];
  if (ref == nullptr) return;
  g_views[port] = nullptr;
  napi_value v = nullptr;
  if (napi_get_reference_value(env, ref, &v) == napi_ok && v != nullptr) napi_detach_arraybuffer(env, v);
  napi_delete_reference(env, ref);
}

Napi::Value DpdkPoolView(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  if (!ArgPort(info, 0, &port)) return env.Undefined();
  if (g_views[port] != nullptr) {
    napi_value v = nullptr;
    if (napi_get_reference_value(env, g_views[port], &v) == napi_ok && v != nullptr) return Napi::Value(env, v);
    napi_delete_reference(env, g_views[port]);
    g_views[port] = nullptr;
  }
  rte_mempool* mp = g_ports[port].pool;
  if (mp->nb_mem_chunks != 1) {
    ThrowCode(env, kErrMempool, "dpdkPoolView: the pool has " + std::to_string(mp->nb_mem_chunks) +
                                    " memory chunks; one view needs exactly one");
    return env.Undefined();
  }
  rte_mempool_memhdr* h = STAILQ_FIRST(&mp->mem_list);
  if (h->len > UINT32_MAX) {
    ThrowCode(env, kErrMempool, "dpdkPoolView: the pool's memory (" + std::to_string(h->len) +
                                    " bytes) is beyond 32-bit frame offsets");
    return env.Undefined();
  }
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, h->addr, h->len, NoFinalize);
  if (napi_create_reference(env, ab, 0, &g_views[port]) != napi_ok) g_views[port] = nullptr;
  return ab;
}

Napi::Value DpdkRxBurstInPlace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  uint32_t *offsets, *lengths, *stats;
  uint8_t* flags = nullptr;
  size_t no, nl, nf = 0;
  int64_t capacity;
  if (!ArgPort(info, 0, &port) || !ArgU32(info, 1, "offsets", &offsets, &no) ||
      !ArgU32(info, 2, "lengths", &lengths, &nl) || !ArgInt(info, 3, "capacity", 0, kMaxCapacity, &capacity) ||
      !ArgBurstStats(info, 4, &stats)) {
    return env.Undefined();
  }
  if (info.Length() > 5 && !info[5].IsUndefined() && !ArgBytes(info, 5, "flags", &flags, &nf)) return env.Undefined();
  size_t cap = static_cast<size_t>(capacity);
  if (cap > no || cap > nl || (flags != nullptr && cap > nf)) {
    ThrowArg(env, std::string("offsets, lengths") + (flags ? " and flags" : "") + " must hold capacity (" +
                      std::to_string(capacity) + ") entries");
    return env.Undefined();
  }
  PortState& st = g_ports[port];
  FreeHeld(st);
  uint8_t* base = static_cast<uint8_t*>(STAILQ_FIRST(&st.pool->mem_list)->addr);
  rte_mbuf* pkts[kChunk];
  uint32_t n = 0;
  uint32_t dropped = 0;
  uint32_t bytes = 0;
  while (n < cap) {
    uint16_t want = static_cast<uint16_t>(std::min<size_t>(kChunk, cap - n));
    uint16_t got = rte_eth_rx_burst(port, 0, pkts, want);
    for (uint16_t k = 0; k < got; k++) {
      rte_mbuf* m = pkts[k];
      st.held.push_back(m);
      if (m->nb_segs != 1) {
        dropped++;
        st.rxTooBig++;
        continue;
      }
      uint8_t* frame = rte_pktmbuf_mtod(m, uint8_t*);
      uint32_t len = m->data_len;
      offsets[n] = static_cast<uint32_t>(frame - base);
      lengths[n] = len;
      if (flags != nullptr) flags[n] = RxFlags(st, m, frame, len);
      n++;
      bytes += len;
    }
    if (got < want) break;
  }
  if (stats != nullptr) {
    stats[0] = dropped;
    stats[1] = bytes;
  }
  return Napi::Number::New(env, n);
}

// rte_eth_tx_prepare: the PMD's own fix-ups for offload requests (some NICs want the pseudo-header
// sum differently); a frame it refuses gets its checksums in software and no offload flags, so the
// burst still goes out whole.
void PrepareForDevice(uint16_t port, rte_mbuf** pkts, uint32_t n) {
  uint32_t done = 0;
  while (done < n) {
    done += rte_eth_tx_prepare(port, 0, pkts + done, static_cast<uint16_t>(n - done));
    if (done >= n) break;
    rte_mbuf* m = pkts[done++];
    uint8_t want = ((m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM) ? kTxIpCsum : 0) |
                   (((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM) ? kTxTcpCsum : 0);
    m->ol_flags &= ~(RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IP_CKSUM | RTE_MBUF_F_TX_L4_MASK);
    TxFillChecksums(rte_pktmbuf_mtod(m, uint8_t*), m->data_len, want);
  }
}

// dpdkTxBurst(portId, data, lengths, count, slotSize, stats?, flags?) -> consumed. Frames
// [0, consumed) were handed to the PMD or dropped as unsendable (length 0 or longer than an mbuf;
// stats[0]); the rest met a full tx ring or an empty pool and are the caller's to retry. With
// flags, the checksums they ask for are filled in (in the slot) before the copy into the mbuf.
Napi::Value DpdkTxBurst(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  BurstSlots b;
  if (!ArgPort(info, 0, &port) || !ArgBurstSlots(info, 1, BurstOrder::kTx, &b)) return env.Undefined();
  PortState& st = g_ports[port];
  rte_mbuf* pkts[kChunk];
  uint32_t frameOf[kChunk];     // batch index of each mbuf
  uint32_t dropsBefore[kChunk];  // frames dropped in this call before that mbuf's frame
  uint32_t i = 0;
  uint32_t dropped = 0;
  uint32_t bytes = 0;
  while (i < b.count) {
    // Frames of this chunk that will go out: skip (and count) the unsendable ones first, so the
    // bulk allocation asks for exactly as many mbufs as are needed.
    uint32_t take = 0;
    uint32_t j = i;
    uint32_t chunkDrops = dropped;
    while (j < b.count && take < kChunk) {
      uint32_t len = b.lengths[j];
      if (len == 0 || len > b.slot || len > st.dataRoom) {
        chunkDrops++;
        st.txTooBig++;
        j++;
        continue;
      }
      frameOf[take] = j;
      dropsBefore[take] = chunkDrops;
      take++;
      j++;
    }
    if (take == 0) {
      dropped = chunkDrops;
      i = j;
      continue;
    }
    if (rte_pktmbuf_alloc_bulk(st.pool, pkts, take) != 0) {
      // Pool empty (mbufs still in the tx ring): frames from here wait for the caller's retry.
      st.txNoMbuf++;
      // Frames dropped before the first frame that would have needed an mbuf are consumed.
      dropped = dropsBefore[0];
      i = frameOf[0];
      break;
    }
    bool nic = false;
    for (uint32_t k = 0; k < take; k++) {
      rte_mbuf* m = pkts[k];
      uint32_t f = frameOf[k];
      uint32_t len = b.lengths[f];
      uint8_t* dst = rte_pktmbuf_mtod(m, uint8_t*);
      std::memcpy(dst, b.Outgoing(f, !st.txNicCsum), len);
      m->data_len = static_cast<uint16_t>(len);
      m->pkt_len = len;
      uint32_t l3 = 0;
      uint8_t asked = st.txNicCsum ? TxPrepareNicChecksums(dst, len, b.Wanted(f), &l3) : 0;
      if (asked != 0) {
        m->l2_len = 14;
        m->l3_len = static_cast<uint16_t>(l3);
        m->ol_flags |= RTE_MBUF_F_TX_IPV4 | ((asked & kTxIpCsum) ? RTE_MBUF_F_TX_IP_CKSUM : 0) |
                       ((asked & kTxTcpCsum) ? RTE_MBUF_F_TX_TCP_CKSUM : 0);
        nic = true;
      }
    }
    if (nic) PrepareForDevice(port, pkts, take);
    uint16_t sent = rte_eth_tx_burst(port, 0, pkts, static_cast<uint16_t>(take));
    if (nic) {
      for (uint32_t k = 0; k < sent; k++) {
        if (pkts[k]->ol_flags & RTE_MBUF_F_TX_IPV4) st.txNicChecksums++;
      }
    }
    for (uint32_t k = 0; k < sent; k++) bytes += b.lengths[frameOf[k]];
    if (sent < take) {
      rte_pktmbuf_free_bulk(pkts + sent, take - sent);
      dropped = dropsBefore[sent];
      i = frameOf[sent];
      break;
    }
    dropped = chunkDrops;
    i = j;
  }
  b.Report(dropped, bytes);
  return Napi::Number::New(env, i);
}

// dpdkPortStats(portId) -> { ipackets, opackets, ibytes, obytes, imissed, ierrors, oerrors,
//   rxNombuf, rxTooBig, txTooBig, txNoMbuf, xstats: { name: value } }. Counters are uint64 in
// DPDK; as JS numbers they stay exact up to 2^53.
Napi::Value DpdkPortStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  if (!ArgPort(info, 0, &port)) return env.Undefined();
  rte_eth_stats s;
  int rc = rte_eth_stats_get(port, &s);
  if (rc != 0) {
    ThrowDpdk(env, kErrPort, "rte_eth_stats_get", "port " + std::to_string(port), rc);
    return env.Undefined();
  }
  PortState& st = g_ports[port];
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](const char* k, uint64_t v) { out.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
  num("ipackets", s.ipackets);
  num("opackets", s.opackets);
  num("ibytes", s.ibytes);
  num("obytes", s.obytes);
  num("imissed", s.imissed);
  num("ierrors", s.ierrors);
  num("oerrors", s.oerrors);
  num("rxNombuf", s.rx_nombuf);
  num("rxTooBig", st.rxTooBig);
  num("txTooBig", st.txTooBig);
  num("txNoMbuf", st.txNoMbuf);
  num("rxNicVerdicts", st.rxNicVerdicts);
  num("txNicChecksums", st.txNicChecksums);
  num("mempoolAvailable", rte_mempool_avail_count(st.pool));
  Napi::Object xs = Napi::Object::New(env);
  int n = rte_eth_xstats_get_names(port, nullptr, 0);
  if (n > 0) {
    std::vector<rte_eth_xstat_name> names(static_cast<size_t>(n));
    std::vector<rte_eth_xstat> vals(static_cast<size_t>(n));
    int nn = rte_eth_xstats_get_names(port, names.data(), static_cast<unsigned>(n));
    int nv = rte_eth_xstats_get(port, vals.data(), static_cast<unsigned>(n));
    if (nn > 0 && nv > 0) {
      for (int k = 0; k < std::min(nn, nv); k++) {
        uint64_t id = vals[k].id;
        if (id < static_cast<uint64_t>(nn)) {
          xs.Set(names[id].name, Napi::Number::New(env, static_cast<double>(vals[k].value)));
        }
      }
    }
  }
  out.Set("xstats", xs);
  return out;
}

// dpdkPortClose(portId): stop, then close (or remove, when dpdkPortOpen hot-plugged it) and free
// the mbuf pool.
Napi::Value DpdkPortClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  if (!ArgPort(info, 0, &port)) return env.Undefined();
  DetachView(env, port);
  FreeHeld(g_ports[port]);
  FlowRelease(port);
  PortState st = g_ports[port];
  g_ports[port] = PortState();
  int rc = Release(port, st.device, st.probed, st.pool);
  if (rc != 0) ThrowDpdk(env, kErrPort, "dpdkPortClose", "port " + std::to_string(port), rc);
  return env.Undefined();
}

// dpdkCleanup(): closes any port still open, then rte_eal_cleanup. Idempotent; afterwards the
// EAL cannot start again in this process.
Napi::Value DpdkCleanup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (g_eal != EalState::kReady) {
    if (g_eal == EalState::kNone) g_eal = EalState::kCleaned;
    return env.Undefined();
  }
  for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
    if (!g_ports[p].open) continue;
    DetachView(env, p);
    FreeHeld(g_ports[p]);
    FlowRelease(p);
    PortState st = g_ports[p];
    g_ports[p] = PortState();
    Release(p, st.device, st.probed, st.pool);
  }
  g_eal = EalState::kCleaned;
  // The primary process's runtime files (/var/run/dpdk/<file-prefix>/: config, mp socket, memseg
  // lists) outlive rte_eal_cleanup in 22.11; a process per test would leave one directory each.
  // A second primary with the same prefix cannot run (EAL locks the config), so they are ours.
  std::string runtime = rte_eal_get_runtime_dir();
  int rc = rte_eal_cleanup();
  if (!runtime.empty()) {
    if (DIR* d = opendir(runtime.c_str())) {
      while (dirent* e = readdir(d)) {
        if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
        unlink((runtime + "/" + e->d_name).c_str());
      }
      closedir(d);
    }
    rmdir(runtime.c_str());
  }
  if (rc != 0) ThrowDpdk(env, kErrEal, "rte_eal_cleanup", "", rte_errno);
  return env.Undefined();
}

// dpdkState() -> 'none' | 'ready' | 'failed' | 'cleaned', and the EAL arguments in use.
Napi::Value DpdkState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  const char* s = g_eal == EalState::kReady ? "ready" : g_eal == EalState::kFailed ? "failed"
                  : g_eal == EalState::kCleaned                                    ? "cleaned"
                                                                                   : "none";
  out.Set("state", Napi::String::New(env, s));
  Napi::Array args = Napi::Array::New(env, g_ealArgs.size());
  for (size_t i = 0; i < g_ealArgs.size(); i++) args.Set(static_cast<uint32_t>(i), g_ealArgs[i]);
  out.Set("args", args);
  return out;
}

}  // namespace

bool DpdkPortIsOpen(uint16_t port) { return port < RTE_MAX_ETHPORTS && g_ports[port].open; }

void InitDpdk(Napi::Env env, Napi::Object exports) {
  exports.Set("dpdkInit", Napi::Function::New(env, DpdkInit, "dpdkInit"));
  exports.Set("dpdkPortOpen", Napi::Function::New(env, DpdkPortOpen, "dpdkPortOpen"));
  exports.Set("dpdkRxBurst", Napi::Function::New(env, DpdkRxBurst, "dpdkRxBurst"));
  exports.Set("dpdkTxBurst", Napi::Function::New(env, DpdkTxBurst, "dpdkTxBurst"));
  exports.Set("dpdkPortStats", Napi::Function::New(env, DpdkPortStats, "dpdkPortStats"));
  exports.Set("dpdkLink", Napi::Function::New(env, DpdkLink, "dpdkLink"));
  exports.Set("dpdkPortClose", Napi::Function::New(env, DpdkPortClose, "dpdkPortClose"));
  exports.Set("dpdkCleanup", Napi::Function::New(env, DpdkCleanup, "dpdkCleanup"));
  exports.Set("dpdkState", Napi::Function::New(env, DpdkState, "dpdkState"));
  exports.Set("dpdkPoolView", Napi::Function::New(env, DpdkPoolView, "dpdkPoolView"));
  exports.Set("dpdkRxBurstInPlace", Napi::Function::New(env, DpdkRxBurstInPlace, "dpdkRxBurstInPlace"));
  // The DPDK this addon was built against and runs with (no EAL needed), for `sluice doctor`.
  exports.Set("dpdkVersion", Napi::String::New(env, rte_version()));
}


}  // namespace sluice
