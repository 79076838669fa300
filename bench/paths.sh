#!/usr/bin/env bash
# bench/paths.sh: one Sluice process, one gateway config, served over its four data paths at once:
# the kernel's TCP (veth), its own TCP/IP stack over TAP, and the same stack over DPDK
# net_af_packet and DPDK net_af_xdp (each on a veth), driven by the same clients from one
# namespace, in the same run. Then the raw DPDK packet-port rates (bench/port-dpdk.ts).
#
# NEEDS ROOT and an addon built with DPDK (libdpdk-dev): it creates two network namespaces, three
# veth pairs and a TAP device (198.18.0.0/15 addresses only) and removes them on exit, Ctrl-C or
# SIGTERM, with the EAL's runtime directory. Host interfaces are never touched.
#
#     namespace sluice-ps-<pid> (Sluice, core 0)              namespace sluice-pc-<pid> (clients, core 1)
#     kernel  198.18.1.2:443  kernel TCP on veth pk-s  ---veth--- pk-c 198.18.1.1
#     tap     198.18.0.2:443  own TCP on the TAP fd    ---TAP---- ptap0 198.18.0.1 (moved here after attach)
#     afpkt   198.18.2.2:443  own TCP, net_af_packet on pp-s  ---veth--- pp-c 198.18.2.1 (tx checksum off)
#     afxdp   198.18.3.2:443  own TCP, net_af_xdp on px-s     ---veth--- px-c 198.18.3.1 (tx checksum off)
#
#   Same routes, TLS 1.3 only, one ECDSA P-256 certificate, ALPN http/1.1, on every listener. Sluice
#   is pinned with taskset -c SLUICE_CORE (the EAL runs with -l SLUICE_CORE); clients with
#   taskset -c LOAD_CORE. On the kernel path part of the server's TCP work runs in softirq
#   context outside the process (often on the client's core); on the bypass paths all of it is
#   Sluice's, so "CPU per request" (Sluice's utime+stime from /proc/PID/stat over the run, divided
#   by the requests completed) flatters the kernel path by that much.
#
# Per path, ROUNDS rounds interleaved (kernel, tap, afpkt, afxdp, kernel, ...), medians reported:
#   keep-alive: wrk -t1 -c50 -d$DURATION --latency https://IP/        req/s, p99, CPU per request
#   new conns:  hsload -c 50 -d $SHORT IP 443                       connections/s with a FULL TLS 1.3
#               handshake each (bench/tools/hsload.c, built here: wrk with Connection: close
#               resumes TLS sessions, so it measures resumed handshakes; hsload never resumes and
#               reports resumed=0, checked), p99, CPU per connection
#   bulk:       wrk -t1 -c4 -d$SHORT https://IP/bulk                1 MiB direct responses: MB/s
# Ratios are to the kernel path. Then: node --import tsx bench/port-dpdk.ts $PORT_SECS $PORT_ROUNDS (its own
# namespace and processes, after Sluice has stopped).
#
# Usage:  sudo bash bench/paths.sh
# Tunables (environment): ROUNDS=3 DURATION=6s SHORT=5s SLUICE_CORE=0 LOAD_CORE=1 CONNS=50
#                         PORT_SECS=2 (seconds per port-dpdk case; 0 skips it)
#                         PORT_ROUNDS=3 (port-dpdk rounds; each row is the median)
#                         SLUICE_DPDK_RX_MODE=copy (the DPDK ports' rx; default inplace, src/io/dpdk.ts)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-6s}
SHORT=${SHORT:-5s}
SLUICE_CORE=${SLUICE_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
CONNS=${CONNS:-50}
PORT_SECS=${PORT_SECS:-2}
PORT_ROUNDS=${PORT_ROUNDS:-3}
PATHS="kernel tap afpkt afxdp"

if [ "$(id -u)" -ne 0 ]; then echo "paths.sh: needs root (namespaces, veth, TAP, AF_PACKET/AF_XDP)" >&2; exit 1; fi
for tool in node ip wrk taskset openssl curl awk ethtool cc; do
  command -v "$tool" >/dev/null || { echo "paths.sh: '$tool' not found" >&2; exit 1; }
done
[ -f "$ROOT/dist/src/cli/main.js" ] && [ -f "$ROOT/native/build/Release/sluice_native.node" ] || { echo "paths.sh: run npm run build first" >&2; exit 1; }
DPDK_FEATURE=$(node -e "import('$ROOT/dist/src/io/native.js').then((m) => console.log(m.loadNative().features.dpdk ? 'yes' : 'no'), (e) => console.log('no: ' + e.message))")
[ "$DPDK_FEATURE" = yes ] || { echo "paths.sh: the native addon has no DPDK port ($DPDK_FEATURE): apt-get install libdpdk-dev pkg-config, then npm run build:native" >&2; exit 1; }

NS_S="sluice-ps-$$"
NS_C="sluice-pc-$$"
EAL_PREFIX="sluice-bench-paths-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-paths.XXXXXX")
declare -A IP=([kernel]=198.18.1.2 [tap]=198.18.0.2 [afpkt]=198.18.2.2 [afxdp]=198.18.3.2)

CLEANUP_PATHS="/var/run/dpdk/$EAL_PREFIX"
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

echo "== bench/paths.sh $(date -u +%FT%TZ)  $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); kernel $(uname -r)"
echo "   node $(node -v), $(wrk -v 2>&1 | awk 'NR==1 { print $1, $2 }'), $(openssl version | awk '{ print $1, $2 }'), DPDK $(pkg-config --modversion libdpdk 2>/dev/null || echo '?')"
echo "   sluice on core $SLUICE_CORE, clients on core $LOAD_CORE; rounds $ROUNDS; keep-alive $DURATION, new connections and bulk $SHORT; DPDK rx ${SLUICE_DPDK_RX_MODE:-inplace}"
echo "   the machine may be shared: other jobs' load swings single runs; compare paths within a run, not across runs"

# --- the full-handshake client --------------------------------------------------------------------
HSLOAD=$WORK/hsload
cc -O2 -o "$HSLOAD" "$ROOT/bench/tools/hsload.c" -lssl -lcrypto ||
  { echo "paths.sh: could not build bench/tools/hsload.c (needs a C compiler and libssl-dev)" >&2; exit 1; }

# --- namespaces and links ------------------------------------------------------------------------
ip netns add "$NS_S"
ip netns add "$NS_C"
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set lo up
link_pair() { # server-end client-end client-address checksum-off
  ip -n "$NS_S" link add "$1" type veth peer name "$2" netns "$NS_C"
  in_s sysctl -q -w "net.ipv6.conf.$1.disable_ipv6=1"
  in_c sysctl -q -w "net.ipv6.conf.$2.disable_ipv6=1"
  ip -n "$NS_C" addr add "$3/24" dev "$2"
  # DPDK's PMD reads frames off the veth: the client's TCP must leave checksummed (docs/dpdk.md).
  [ "$4" = 1 ] && in_c ethtool -K "$2" tx off >/dev/null
  ip -n "$NS_S" link set "$1" up
  ip -n "$NS_C" link set "$2" up
}
link_pair pk-s pk-c 198.18.1.1 0
ip -n "$NS_S" addr add 198.18.1.2/24 dev pk-s
link_pair pp-s pp-c 198.18.2.1 1
link_pair px-s px-c 198.18.3.1 1
ip -n "$NS_S" tuntap add dev ptap0 mode tap

# --- config: one process, four listeners, the same routes -------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
BULK=$(head -c 1048576 /dev/zero | tr '\0' 'x')
LISTENER_TAIL="    tls: { certificates: [{ cert: $WORK/cert.pem, key: $WORK/key.pem, default: true }], min_version: TLSv1.3, alpn: [http/1.1] }
    http: { idle_timeout_ms: 600000, headers_timeout_ms: 600000 }"
cat >"$WORK/sluice.yaml" <<EOF
dpdk:
  eal_args: [--no-huge, --no-pci, -m, "512", -l, "$SLUICE_CORE", --no-telemetry, --file-prefix, $EAL_PREFIX, --log-level, "lib.eal:warning"]
listeners:
  - name: kernel
    address: ${IP[kernel]}
    port: 443
$LISTENER_TAIL
  - name: tap
    address: ${IP[tap]}
    port: 443
    transport: tap
    tap: { device: ptap0, prefix_length: 24 }
$LISTENER_TAIL
  - name: afpkt
    address: ${IP[afpkt]}
    port: 443
    transport: dpdk
    dpdk: { device: "net_af_packet0,iface=pp-s", prefix_length: 24, mtu: 1500 }
$LISTENER_TAIL
  - name: afxdp
    address: ${IP[afxdp]}
    port: 443
    transport: dpdk
    dpdk: { device: "net_af_xdp0,iface=px-s", prefix_length: 24, mtu: 1500 }
$LISTENER_TAIL
routes:
  - { name: ok, match: { path: { exact: / } }, direct_response: { status: 200, body: "ok\\n" } }
  - name: bulk
    match: { path: { exact: /bulk } }
    direct_response: { status: 200, body: "$BULK" }
admin: { address: 127.0.0.1, port: 0, socket: $WORK/admin.sock }
logging: { level: info, access_log: false }
EOF

SLUICE_CMD="ip netns exec $NS_S taskset -c $SLUICE_CORE node bin/sluice.js serve --config sluice.yaml"
echo "== sluice: $SLUICE_CMD"
echo "   listeners: kernel ${IP[kernel]}:443 (veth), tap ${IP[tap]}:443 (TAP), afpkt ${IP[afpkt]}:443 (DPDK net_af_packet), afxdp ${IP[afxdp]}:443 (DPDK net_af_xdp)"
(cd "$WORK" && exec ip netns exec "$NS_S" taskset -c "$SLUICE_CORE" node "$ROOT/bin/sluice.js" serve --config "$WORK/sluice.yaml" >"$WORK/sluice.log" 2>"$WORK/sluice.err") &
SLUICE_PID=$!
for _ in $(seq 600); do   # up to 60 s: a loaded machine slows node's start and the EAL's
  grep -q '"sluice ready"' "$WORK/sluice.log" 2>/dev/null && break
  kill -0 "$SLUICE_PID" 2>/dev/null || break
  sleep 0.1
done
grep -q '"sluice ready"' "$WORK/sluice.log" || {
  echo "paths.sh: sluice did not start ($(kill -0 "$SLUICE_PID" 2>/dev/null && echo 'still starting after 60 s' || echo 'it exited')):" >&2
  cat "$WORK/sluice.log" "$WORK/sluice.err" >&2; exit 1; }
# The subshell exec'd ip, which exec'd taskset, which exec'd node: the pid is Sluice's.
grep '"bypass stack up"' "$WORK/sluice.log" | sed 's/^/   /' | cut -c1-220
# Sluice holds the TAP's fd; the interface moves to the client namespace and gets its address.
ip -n "$NS_S" link set ptap0 netns "$NS_C"
in_c sysctl -q -w net.ipv6.conf.ptap0.disable_ipv6=1
ip -n "$NS_C" addr add 198.18.0.1/24 dev ptap0
ip -n "$NS_C" link set ptap0 up
for p in $PATHS; do
  ok=""
  for _ in $(seq 20); do
    in_c curl -sk --max-time 3 -o /dev/null "https://${IP[$p]}/" && { ok=1; break; }
    sleep 0.3
  done
  [ -n "$ok" ] || { echo "paths.sh: https://${IP[$p]}/ ($p) unreachable" >&2; exit 1; }
  echo "   $p: https://${IP[$p]}/ -> $(in_c openssl s_client -connect "${IP[$p]}:443" -brief </dev/null 2>&1 | grep -E 'Protocol|Ciphersuite|Peer sig' | awk -F': ' '{ printf "%s ", $2 }')"
done

# wrk output -> "requests reqs_per_s p99_ms MBps errflag"
parse_wrk() { wrk_fields; }
# hsload output -> the same fields (MB/s 0); errors or any resumed session flag the run
parse_hs() {
  sed -n 's/.*completed=\([0-9]*\) seconds=\([0-9.]*\) rate=\([0-9.]*\) p50_ms=[0-9.]* p99_ms=\([0-9.]*\) errors=\([0-9]*\) resumed=\([0-9]*\).*/\1 \3 \4 0 \5 \6/p' |
    awk '{ printf "%d %s %s 0 %s\n", $1, $2, $3, ($1 == 0 || $5 > 0 || $6 > 0 ? "ERR" : "-") }'
}

declare -A RES
run_case() { # key kind url-or-ip args...
  local key=$1 kind=$2 target=$3; shift 3
  local t0 t1 out line cpu
  local w0 w1 share
  w0=$(date +%s%N)
  t0=$(cpu_ticks)
  if [ "$kind" = wrk ]; then out=$(load wrk "$@" "$target"); line=$(parse_wrk <<<"$out")
  else out=$(load "$HSLOAD" "$@" "$target" 443); line=$(parse_hs <<<"$out"); fi
  t1=$(cpu_ticks)
  w1=$(date +%s%N)
  cpu=$(awk -v a="$t0" -v b="$t1" -v k="$TICK" 'BEGIN { printf "%.2f", (b - a) / k }')
  # CPU per request in microseconds: Sluice's CPU seconds over the run / requests completed.
  local per
  per=$(awk -v c="$cpu" -v n="$(awk '{ print $1 }' <<<"$line")" 'BEGIN { if (n > 0) printf "%.1f", c * 1e6 / n; else print 0 }')
  # Sluice's share of its core over the run: far under 100% while Sluice was the bottleneck means
  # other processes took its core (a shared machine), and then req/s and p99 say little.
  share=$(awk -v c="$cpu" -v a="$w0" -v b="$w1" 'BEGIN { printf "%.0f", c * 100 / ((b - a) / 1e9) }')
  RES[$key]+="$line $cpu $per $share;"
  echo "   $key: $(awk '{ printf "%.0f req/s, p99 %.2f ms, %.1f MB/s", $2, $3, $4 }' <<<"$line" | sed "$( [ "$kind" = hs ] && echo 's| req/s| conn/s|; s|, 0.0 MB/s||' || echo 's|^||')"), sluice cpu ${cpu}s (${share}% of its core) = ${per} us/req$( [ "$(awk '{ print $5 }' <<<"$line")" = ERR ] && echo "  ERRORS: $(grep -E 'Socket errors|Non-2xx|errors=|resumed=' <<<"$out" | tr '\n' ' ')")"
}

echo
echo "== commands (IP per path: kernel ${IP[kernel]}, tap ${IP[tap]}, afpkt ${IP[afpkt]}, afxdp ${IP[afxdp]}; hsload built from bench/tools/hsload.c):"
echo "   keep-alive: ip netns exec $NS_C taskset -c $LOAD_CORE wrk -t1 -c50 -d$DURATION --latency https://IP/"
echo "   new conns:  ip netns exec $NS_C taskset -c $LOAD_CORE hsload -c $CONNS -d ${SHORT%s} IP 443"
echo "   bulk:       ip netns exec $NS_C taskset -c $LOAD_CORE wrk -t1 -c4 -d$SHORT --latency https://IP/bulk"
echo "   CPU:        (utime+stime of /proc/<sluice pid>/stat after - before) / requests completed"
for p in $PATHS; do load wrk -t1 -c50 -d2s "https://${IP[$p]}/" >/dev/null; done   # warm-up: JIT, ARP, pools
for r in $(seq "$ROUNDS"); do
  echo "-- round $r"
  for p in $PATHS; do
    run_case "$p-keepalive" wrk "https://${IP[$p]}/" -t1 -c50 -d"$DURATION" --latency
    run_case "$p-handshake" hs "${IP[$p]}" -c "$CONNS" -d "${SHORT%s}"
    run_case "$p-bulk" wrk "https://${IP[$p]}/bulk" -t1 -c4 -d"$SHORT" --latency
  done
done

field() { # key column -> median over rounds (columns: requests rps p99 MBps err cpu us/req core%)
  echo "${RES[$1]}" | tr ';' '\n' | awk -v c="$2" 'NF { print $c }' | median
}
echo
echo "== medians of $ROUNDS rounds; (xN.NN) = ratio to the kernel path"
printf '   %-38s %18s %18s %18s %18s\n' "" kernel tap "dpdk af_packet" "dpdk af_xdp"
row() { # label key-suffix column format
  local k line
  k=$(field "kernel-$2" "$3")
  line=$(printf '   %-38s' "$1")
  for p in $PATHS; do
    v=$(field "$p-$2" "$3")
    line+=$(awk -v v="$v" -v k="$k" -v f="$4" -v p="$p" 'BEGIN { s = sprintf(f, v); if (p != "kernel") s = s sprintf(" (x%.2f)", k > 0 ? v / k : 0); printf " %18s", s }')
  done
  echo "$line"
}
row "keep-alive req/s (wrk -c50)" keepalive 2 "%.0f"
row "keep-alive p99 ms" keepalive 3 "%.2f"
row "keep-alive Sluice CPU us/req" keepalive 7 "%.1f"
row "keep-alive Sluice % of its core" keepalive 8 "%.0f"
row "new TLS conns/s (full handshake)" handshake 2 "%.0f"
row "new conns p99 ms" handshake 3 "%.2f"
row "new conns Sluice CPU us/conn" handshake 7 "%.1f"
row "bulk MB/s (1 MiB responses, -c4)" bulk 4 "%.1f"
row "bulk Sluice CPU us/response" bulk 7 "%.1f"
errs=$(printf '%s' "${RES[*]}" | tr ';' '\n' | awk '$5 == "ERR"' | wc -l)
echo "   runs with wrk socket errors, non-2xx, hsload errors, resumed sessions or nothing completed: $errs"
echo "   the bypass stacks at the end (sluice netstat: frames, TCP counters, drops):"
node "$ROOT/bin/sluice.js" netstat --socket "$WORK/admin.sock" | grep -E '^(net_af|ptap|tcp:|drops:)' | sed 's/^/     /' || true

stop_sluice
if ls "/var/run/dpdk/$EAL_PREFIX" >/dev/null 2>&1; then echo "   NOTE: /var/run/dpdk/$EAL_PREFIX left after SIGTERM (removed by this script)"; else echo "   SIGTERM: sluice stopped, EAL runtime directory removed"; fi

[ "$PORT_SECS" = 0 ] && exit 0   # PORT_SECS=0: no raw port rates
echo
echo "== raw DPDK packet-port rates: node --import tsx bench/port-dpdk.ts $PORT_SECS $PORT_ROUNDS"
(cd "$ROOT" && node --import tsx bench/port-dpdk.ts "$PORT_SECS" "$PORT_ROUNDS") 2>&1 | grep -v '^EAL:\|^TELEMETRY' | sed 's/^/   /'
