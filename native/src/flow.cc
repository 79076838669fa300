// rte_flow: the packet filter's source CIDR rules in the NIC (src/net/filter-flow.ts decides which
// rules go down and with what priority). One ingress flow per rule, pattern ETH / IPV4 (source
// address under the rule's mask; no IPv4 spec when the mask is 0) / END, actions COUNT + DROP, or
// COUNT + QUEUE 0 for a rule that passes (an allow rule above a lower-priority drop of the rest).
// Nothing here runs per packet: each exported function is one control operation on a whole rule
// set. Compiled with dpdk.cc (binding.gyp, when libdpdk is present).

#include "sluice.h"

#include <rte_byteorder.h>
#include <rte_errno.h>
#include <rte_flow.h>

#include <cstring>
#include <string>
#include <vector>

namespace sluice {

namespace {

constexpr const char* kErrFlow = "SLUICE_DPDK_FLOW";
constexpr uint32_t kFateDrop = 0;
constexpr uint32_t kFateQueue0 = 1;
// Rules arrive as 4 uint32 each: network and mask (host order), priority, fate.
constexpr size_t kWords = 4;
constexpr size_t kMaxRules = 65536;

struct Rule {
  uint32_t network;
  uint32_t mask;  // 0: any IPv4 source
  uint32_t priority;
  uint32_t fate;
};

struct Installed {
  rte_flow* handle;
  bool counted;
};

struct PortFlows {
  std::vector<Installed> flows;  // the rule set in force, in the caller's order
  // Flows of an earlier set that rte_flow_destroy refused; destroyed again by the next replace
  // or flush (they still drop, so they are reported, not forgotten).
  std::vector<rte_flow*> stale;
};

PortFlows g_flows[RTE_MAX_ETHPORTS];

const char* FlowErrorTypeName(rte_flow_error_type t) {
  switch (t) {
    case RTE_FLOW_ERROR_TYPE_NONE: return "NONE";
    case RTE_FLOW_ERROR_TYPE_UNSPECIFIED: return "UNSPECIFIED";
    case RTE_FLOW_ERROR_TYPE_HANDLE: return "HANDLE";
    case RTE_FLOW_ERROR_TYPE_ATTR_GROUP: return "ATTR_GROUP";
    case RTE_FLOW_ERROR_TYPE_ATTR_PRIORITY: return "ATTR_PRIORITY";
    case RTE_FLOW_ERROR_TYPE_ATTR_INGRESS: return "ATTR_INGRESS";
    case RTE_FLOW_ERROR_TYPE_ATTR_EGRESS: return "ATTR_EGRESS";
    case RTE_FLOW_ERROR_TYPE_ATTR_TRANSFER: return "ATTR_TRANSFER";
    case RTE_FLOW_ERROR_TYPE_ATTR: return "ATTR";
    case RTE_FLOW_ERROR_TYPE_ITEM_NUM: return "ITEM_NUM";
    case RTE_FLOW_ERROR_TYPE_ITEM_SPEC: return "ITEM_SPEC";
    case RTE_FLOW_ERROR_TYPE_ITEM_LAST: return "ITEM_LAST";
    case RTE_FLOW_ERROR_TYPE_ITEM_MASK: return "ITEM_MASK";
    case RTE_FLOW_ERROR_TYPE_ITEM: return "ITEM";
    case RTE_FLOW_ERROR_TYPE_ACTION_NUM: return "ACTION_NUM";
    case RTE_FLOW_ERROR_TYPE_ACTION_CONF: return "ACTION_CONF";
    case RTE_FLOW_ERROR_TYPE_ACTION: return "ACTION";
    case RTE_FLOW_ERROR_TYPE_STATE: return "STATE";
  }
  return "UNKNOWN";
}

// A failed rte_flow call, copied out at once: the PMD's message is only valid while the port is
// configured.
struct Failure {
  const char* fn = "";
  long rule = -1;  // index in the caller's rule set, -1 when the call concerns no single rule
  int err = 0;     // positive errno / rte_errno
  std::string type = "NONE";
  std::string message;  // the PMD's own text, "" when it gave none
};

Failure Fail(const char* fn, long rule, int rc, const rte_flow_error& e) {
  Failure f;
  f.fn = fn;
  f.rule = rule;
  f.err = rc < 0 ? -rc : rc;
  if (f.err == 0) f.err = rte_errno;
  f.type = FlowErrorTypeName(e.type);
  if (e.message != nullptr) f.message = e.message;
  return f;
}

std::string Ipv4Text(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) +
         "." + std::to_string(a & 255);
}

std::string RuleText(const Rule& r) {
  bool prefix = (~r.mask & (~r.mask + 1)) == 0;  // ones then zeros
  std::string source = Ipv4Text(r.network) + (prefix ? "/" + std::to_string(__builtin_popcount(r.mask))
                                                     : " mask " + Ipv4Text(r.mask));
  return source + " priority " + std::to_string(r.priority) + (r.fate == kFateDrop ? " drop" : " queue 0");
}

// "<fn>(port P[, rule i: <rule>]): <PMD message> [<TYPE>] (<rte_strerror> (ERRNAME))".
std::string FlowMessage(uint16_t port, const Failure& f, const std::vector<Rule>* rules) {
  const char* name = strerrorname_np(f.err);
  std::string what = "port " + std::to_string(port);
  if (f.rule >= 0 && rules != nullptr && static_cast<size_t>(f.rule) < rules->size()) {
    what += ", rule " + std::to_string(f.rule) + ": " + RuleText((*rules)[static_cast<size_t>(f.rule)]);
  } else if (f.rule >= 0) {
    what += ", flow " + std::to_string(f.rule);
  }
  return std::string(f.fn) + "(" + what + "): " + (f.message.empty() ? "no message from the PMD" : f.message) + " [" +
         f.type + "] (" + rte_strerror(f.err) + " (" + (name ? name : std::to_string(f.err)) + "))";
}

// A pending SLUICE_DPDK_FLOW error with that message and its pieces as properties for the log
// and status: function, errno, errnoName, strerror, flowErrorType, flowErrorMessage, rule, and
// countRefused when COUNT had been refused before this failure.
void ThrowFlow(Napi::Env env, uint16_t port, const Failure& f, const std::vector<Rule>* rules,
               const std::string& countRefused = "") {
  const char* name = strerrorname_np(f.err);
  Napi::Error e = Napi::Error::New(env, FlowMessage(port, f, rules));
  e.Set("code", Napi::String::New(env, kErrFlow));
  e.Set("errno", Napi::Number::New(env, f.err));
  e.Set("errnoName", Napi::String::New(env, name ? name : ""));
  e.Set("syscall", Napi::String::New(env, f.fn));
  e.Set("function", Napi::String::New(env, f.fn));
  e.Set("strerror", Napi::String::New(env, rte_strerror(f.err)));
  e.Set("flowErrorType", Napi::String::New(env, f.type));
  e.Set("flowErrorMessage", Napi::String::New(env, f.message));
  e.Set("rule", Napi::Number::New(env, static_cast<double>(f.rule)));
  if (!countRefused.empty()) e.Set("countRefused", Napi::String::New(env, countRefused));
  e.ThrowAsJavaScriptException();
}

// One flow rule's attribute, pattern and actions. The items and actions point into the object
// itself, so it is built in place and never copied.
struct FlowSpec {
  rte_flow_attr attr{};
  rte_flow_item_ipv4 ipSpec{};
  rte_flow_item_ipv4 ipMask{};
  rte_flow_item items[3]{};
  rte_flow_action_count countConf{};
  rte_flow_action_queue queueConf{};
  rte_flow_action actions[3]{};

  FlowSpec(const Rule& r, bool count) {
    attr.ingress = 1;
    attr.priority = r.priority;
    items[0].type = RTE_FLOW_ITEM_TYPE_ETH;  // no spec: any Ethernet frame (of IPv4, below)
    items[1].type = RTE_FLOW_ITEM_TYPE_IPV4;
    if (r.mask != 0) {
      ipSpec.hdr.src_addr = rte_cpu_to_be_32(r.network & r.mask);
      ipMask.hdr.src_addr = rte_cpu_to_be_32(r.mask);
      items[1].spec = &ipSpec;
      items[1].mask = &ipMask;
    }
    items[2].type = RTE_FLOW_ITEM_TYPE_END;
    size_t a = 0;
    if (count) actions[a++] = {RTE_FLOW_ACTION_TYPE_COUNT, &countConf};
    if (r.fate == kFateDrop) {
      actions[a++] = {RTE_FLOW_ACTION_TYPE_DROP, nullptr};
    } else {
      queueConf.index = 0;
      actions[a++] = {RTE_FLOW_ACTION_TYPE_QUEUE, &queueConf};
    }
    actions[a] = {RTE_FLOW_ACTION_TYPE_END, nullptr};
  }
  FlowSpec(const FlowSpec&) = delete;
  FlowSpec& operator=(const FlowSpec&) = delete;
};

bool ArgOpenPort(const Napi::CallbackInfo& info, uint16_t* port) {
  int64_t p;
  if (!ArgInt(info, 0, "portId", 0, RTE_MAX_ETHPORTS - 1, &p)) return false;
  if (!DpdkPortIsOpen(static_cast<uint16_t>(p))) {
    Napi::Error e = Napi::Error::New(info.Env(), "port " + std::to_string(p) + " is not open");
    e.Set("code", Napi::String::New(info.Env(), "SLUICE_DPDK_PORT"));
    e.ThrowAsJavaScriptException();
    return false;
  }
  *port = static_cast<uint16_t>(p);
  return true;
}

// Destroys `handles` (last first); those the PMD refuses to destroy are returned.
std::vector<rte_flow*> DestroyAll(uint16_t port, const std::vector<rte_flow*>& handles, Failure* first) {
  std::vector<rte_flow*> left;
  for (size_t i = handles.size(); i-- > 0;) {
    rte_flow_error e{};
    int rc = rte_flow_destroy(port, handles[i], &e);
    if (rc != 0) {
      if (left.empty() && first != nullptr) *first = Fail("rte_flow_destroy", -1, rc, e);
      left.push_back(handles[i]);
    }
  }
  return left;
}

// flowReplace(portId, rules: Uint32Array (network, mask, priority, fate per rule), count: boolean) ->
//   { flows, counted, countRefused?, stale, staleError? }
// Validates every rule, then creates the new set, then destroys the old one: the caller sees the
// old set or the new one, never a part. A refused validation or creation destroys what this call
// created, keeps the old set and throws SLUICE_DPDK_FLOW with the PMD's reason. When the PMD
// refuses COUNT (and takes the rule without it), the set goes in without counters and
// `countRefused` says why. `stale`: old flows rte_flow_destroy refused (still in the NIC; tried
// again by the next call), with the first refusal in `staleError`.
Napi::Value FlowReplace(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  uint32_t* words;
  size_t nwords;
  if (!ArgOpenPort(info, &port) || !ArgU32(info, 1, "rules", &words, &nwords)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsBoolean()) {
    ThrowArg(env, "argument 'count' must be a boolean");
    return env.Undefined();
  }
  bool count = info[2].As<Napi::Boolean>().Value();
  if (nwords % kWords != 0 || nwords / kWords > kMaxRules) {
    ThrowArg(env, "argument 'rules' must hold 4 words per rule and at most " + std::to_string(kMaxRules) + " rules");
    return env.Undefined();
  }
  std::vector<Rule> rules(nwords / kWords);
  for (size_t i = 0; i < rules.size(); i++) {
    const uint32_t* w = words + i * kWords;
    rules[i] = {w[0], w[1], w[2], w[3]};
    if (w[3] != kFateDrop && w[3] != kFateQueue0) {
      ThrowArg(env, "rule " + std::to_string(i) + ": fate must be 0 (drop) or 1 (queue 0), got " + std::to_string(w[3]));
      return env.Undefined();
    }
  }

  // Validation first (it changes nothing). COUNT is optional: when the PMD refuses a rule with
  // it but takes the rule without, the whole set goes without counters (validated again from
  // the first rule) and countRefused keeps the PMD's reason.
  std::string countRefused;
  for (size_t i = 0; i < rules.size(); i++) {
    rte_flow_error e{};
    FlowSpec s(rules[i], count);
    int rc = rte_flow_validate(port, &s.attr, s.items, s.actions, &e);
    if (rc == 0) continue;
    Failure f = Fail("rte_flow_validate", static_cast<long>(i), rc, e);
    if (count) {
      rte_flow_error bareError{};
      FlowSpec bare(rules[i], false);
      int bareRc = rte_flow_validate(port, &bare.attr, bare.items, bare.actions, &bareError);
      if (bareRc == 0) {
        countRefused = FlowMessage(port, f, &rules);
        count = false;
        i = static_cast<size_t>(-1);  // the loop's i++ starts again at rule 0
        continue;
      }
      f = Fail("rte_flow_validate", static_cast<long>(i), bareRc, bareError);
    }
    ThrowFlow(env, port, f, &rules, countRefused);
    return env.Undefined();
  }

  PortFlows& pf = g_flows[port];
  std::vector<Installed> created;
  created.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); i++) {
    rte_flow_error e{};
    FlowSpec s(rules[i], count);
    rte_flow* h = rte_flow_create(port, &s.attr, s.items, s.actions, &e);
    if (h != nullptr) {
      created.push_back({h, count});
      continue;
    }
    Failure f = Fail("rte_flow_create", static_cast<long>(i), -rte_errno, e);
    std::vector<rte_flow*> undo;
    for (const Installed& c : created) undo.push_back(c.handle);
    // A new flow the PMD will not destroy stays in the NIC: kept as stale, destroyed later.
    for (rte_flow* h2 : DestroyAll(port, undo, nullptr)) pf.stale.push_back(h2);
    ThrowFlow(env, port, f, &rules, countRefused);
    return env.Undefined();
  }

  std::vector<rte_flow*> old = pf.stale;
  for (const Installed& o : pf.flows) old.push_back(o.handle);
  Failure destroyFailure;
  pf.stale = DestroyAll(port, old, &destroyFailure);
  pf.flows = std::move(created);

  Napi::Object out = Napi::Object::New(env);
  out.Set("flows", Napi::Number::New(env, static_cast<double>(pf.flows.size())));
  out.Set("counted", Napi::Boolean::New(env, count));
  if (!countRefused.empty()) out.Set("countRefused", Napi::String::New(env, countRefused));
  out.Set("stale", Napi::Number::New(env, static_cast<double>(pf.stale.size())));
  if (!pf.stale.empty()) out.Set("staleError", Napi::String::New(env, FlowMessage(port, destroyFailure, nullptr)));
  return out;
}

// flowCounters(portId, out: Float64Array) -> flows. out[i] = packets matched by flow i of the set
// in force (rte_flow_query COUNT, hits), or -1 when that flow has no counter.
Napi::Value FlowCounters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  if (!ArgOpenPort(info, &port)) return env.Undefined();
  if (info.Length() < 2 || !info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
    ThrowArg(env, "argument 'out' must be a Float64Array");
    return env.Undefined();
  }
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  const PortFlows& pf = g_flows[port];
  if (out.ElementLength() < pf.flows.size()) {
    ThrowArg(env, "argument 'out' must hold one element per flow (" + std::to_string(pf.flows.size()) + ")");
    return env.Undefined();
  }
  const rte_flow_action countAction[] = {{RTE_FLOW_ACTION_TYPE_COUNT, nullptr}, {RTE_FLOW_ACTION_TYPE_END, nullptr}};
  for (size_t i = 0; i < pf.flows.size(); i++) {
    if (!pf.flows[i].counted) {
      out[i] = -1;
      continue;
    }
    rte_flow_query_count q{};
    rte_flow_error e{};
    int rc = rte_flow_query(port, pf.flows[i].handle, countAction, &q, &e);
    if (rc != 0) {
      ThrowFlow(env, port, Fail("rte_flow_query", static_cast<long>(i), rc, e), nullptr);
      return env.Undefined();
    }
    out[i] = q.hits_set ? static_cast<double>(q.hits) : -1;
  }
  return Napi::Number::New(env, static_cast<double>(pf.flows.size()));
}

// Forgets the port's flows after destroying them with one rte_flow_flush (the port is Sluice's
// alone, so every flow on it is one of these). Returns 0 or the failure; either way the handles
// are gone (rte_flow_flush: on failure they are still considered destroyed).
int Flush(uint16_t port, Failure* f) {
  PortFlows& pf = g_flows[port];
  if (pf.flows.empty() && pf.stale.empty()) return 0;
  pf = PortFlows();
  rte_flow_error e{};
  int rc = rte_flow_flush(port, &e);
  if (rc != 0 && f != nullptr) *f = Fail("rte_flow_flush", -1, rc, e);
  return rc;
}

// flowFlush(portId): removes every flow of the port.
Napi::Value FlowFlush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint16_t port;
  if (!ArgOpenPort(info, &port)) return env.Undefined();
  Failure f;
  if (Flush(port, &f) != 0) ThrowFlow(env, port, f, nullptr);
  return env.Undefined();
}

}  // namespace

void FlowRelease(uint16_t port) {
  if (port < RTE_MAX_ETHPORTS) Flush(port, nullptr);
}

void InitFlow(Napi::Env env, Napi::Object exports) {
  exports.Set("flowReplace", Napi::Function::New(env, FlowReplace, "flowReplace"));
  exports.Set("flowCounters", Napi::Function::New(env, FlowCounters, "flowCounters"));
  exports.Set("flowFlush", Napi::Function::New(env, FlowFlush, "flowFlush"));
}

}  // namespace sluice
