#!/usr/bin/env bash
# bench/bypass.sh: the same Sluice process and config over its two data paths, kernel TCP versus
# its own TCP/IP stack over TAP (transport: tap), driven by the same wrk from the same namespace.
#
# NEEDS ROOT: it creates two network namespaces, a veth pair and a TAP device (198.18.0.0/15
# addresses only), and removes them on exit, Ctrl-C or SIGTERM. Host interfaces are never touched.
#
# The setup (chosen so that only the server's data path differs):
#
#     namespace sluice-bs-<pid> (Sluice, core 0)         namespace sluice-bc-<pid> (wrk, core 1)
#     +----------------------------------------+         +------------------------------------+
#     | kernel listener 198.18.1.2:443 on veth |--veth---| 198.18.1.1  (client kernel TCP)    |
#     | tap listener 198.18.0.2:443: Sluice's  |         |                                    |
#     |   own TCP on the TAP fd ---------------|--TAP----| 198.18.0.1  (the TAP's kernel side)|
#     +----------------------------------------+         +------------------------------------+
#
#   One Sluice process serves both listeners with the same routes, TLS 1.3 only, the same ECDSA
#   P-256 certificate. The TAP device is created in Sluice's namespace, Sluice attaches to it, and
#   then its interface is moved to the client namespace (the fd keeps working), so on both paths
#   the client is the kernel's TCP in the client namespace, one virtual link away. What differs
#   is the server side: on the kernel path the server's TCP is the kernel's (and the veth hands
#   received packets to it largely in the SENDER's softirq context, i.e. on wrk's core), on the
#   bypass path it is Sluice's TypeScript TCP on core 0, fed by read()/write() on the TAP fd. So
#   besides req/s the script prints Sluice's own CPU seconds per run (utime+stime of the process)
#   and requests per Sluice CPU-second: the kernel path's figure flatters it by the TCP work done
#   outside the process.
#
# First, the stack alone on Sluice's core, no device and no kernel: bench/tcp-memory.ts (TCP
# alone) and bench/stack-offload.ts (Ethernet + IPv4 + TCP over the memory wire), medians.
# Measures, each path, ROUNDS rounds interleaved (kernel, tap, kernel, tap, ...), medians reported:
#   keep-alive: wrk -t1 -c50 -d$DURATION --latency https://IP/        (req/s, p99)
#   new conns:  wrk -t1 -c50 -d$SHORT -H 'Connection: close' https://IP/  (connections/s; wrk
#               resumes TLS sessions on reconnect, so these are resumed handshakes, see proxy.sh)
#   bulk:       wrk -t1 -c4 -d$SHORT https://IP/bulk                  (1 MiB direct response; MB/s)
#   idle memory: IDLE_CONNS (10,000) TLS connections opened (one request each, then idle) by a
#               node script in the client namespace, IDLE_PAR at a time, new ones started for at
#               most OPEN_SECS; Sluice's RSS (/metrics process_resident_memory_bytes) before and
#               after, per path, and the difference per connection opened, beside the V8 heap
#               (nodejs_heap_size_used_bytes) and external memory (ArrayBuffers, Buffers) deltas.
#               The fd limit (ulimit -n) of Sluice and the client is raised to fit the
#               connections, and the client namespace's ephemeral port range is widened if it is
#               too small. With HEAPSNAP=1 each idle process also takes a heap snapshot before and
#               after (node --heapsnapshot-signal, kept in bench/out/idle-<path>-{before,after}
#               .heapsnapshot) and bench/heap-diff.mjs prints what grew, per connection. What
#               the figures are made of: docs/bypass.md, "Memory per idle connection".
# With --profile (or when the tap path's keep-alive req/s is under PROFILE_BELOW of the kernel's)
# Sluice is restarted under node --cpu-prof, the tap keep-alive load is run, and the top
# self-time functions are printed.
#
# Usage:  bash bench/bypass.sh [--profile]
#         ONLY=idle bash bench/bypass.sh      # the idle-memory part alone (about 2 min at 10,000)
#         ONLY=load bash bench/bypass.sh      # keep-alive, close and bulk alone
#         ONLY=stack bash bench/bypass.sh     # the stack alone on the memory wire (about 30 s)
# Tunables (environment): ROUNDS=3 DURATION=8s SHORT=5s IDLE_CONNS=10000 IDLE_PAR=100 OPEN_SECS=180
#                         HEAPSNAP=0 SLUICE_CORE=0 LOAD_CORE=1 PROFILE_BELOW=0.5 PROFILE_DURATION=10s
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8s}
SHORT=${SHORT:-5s}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_PAR=${IDLE_PAR:-100}
OPEN_SECS=${OPEN_SECS:-180}
HEAPSNAP=${HEAPSNAP:-0}
ONLY=${ONLY:-}
SLUICE_CORE=${SLUICE_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
PROFILE_BELOW=${PROFILE_BELOW:-0.5}
PROFILE_DURATION=${PROFILE_DURATION:-10s}
WANT_PROFILE=0
[ "${1:-}" = "--profile" ] && WANT_PROFILE=1
case "$ONLY" in
  ''|stack|idle|load) ;;
  *) echo "bypass.sh: ONLY must be stack, idle or load (or unset for all three), got '$ONLY'" >&2; exit 1 ;;
esac
run_stack() { [ -z "$ONLY" ] || [ "$ONLY" = stack ]; }
run_idle() { [ -z "$ONLY" ] || [ "$ONLY" = idle ]; }
run_load() { [ -z "$ONLY" ] || [ "$ONLY" = load ]; }

if [ "$(id -u)" -ne 0 ]; then echo "bypass.sh: needs root (namespaces, veth, TAP)" >&2; exit 1; fi
for tool in node ip wrk taskset openssl curl awk; do
  command -v "$tool" >/dev/null || { echo "bypass.sh: '$tool' not found" >&2; exit 1; }
done
[ -f "$ROOT/dist/src/cli/main.js" ] && [ -f "$ROOT/native/build/Release/sluice_native.node" ] || { echo "bypass.sh: run npm run build first" >&2; exit 1; }

# One fd per connection in Sluice (kernel path) and in the idle client, plus what both use anyway.
NOFILE=$(( IDLE_CONNS + 4096 ))
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt "$NOFILE" ]; then
  ulimit -Hn "$NOFILE" || { echo "bypass.sh: cannot raise the hard fd limit to $NOFILE (fs.nr_open is $(cat /proc/sys/fs/nr_open))" >&2; exit 1; }
fi
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt "$NOFILE" ]; then ulimit -Sn "$NOFILE"; fi

NS_S="sluice-bs-$$"
NS_C="sluice-bc-$$"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-bypass.XXXXXX")
KERNEL_URL=https://198.18.1.2
TAP_URL=https://198.18.0.2
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

echo "== bench/bypass.sh $(date -u +%FT%TZ)  $(nproc) cores, load avg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   node $(node -v), $(wrk -v 2>&1 | awk 'NR==1 { print $1, $2 }'), $(openssl version | awk '{ print $1, $2 }')"
echo "   sluice on core $SLUICE_CORE, wrk and clients on core $LOAD_CORE; rounds $ROUNDS; keep-alive $DURATION, others $SHORT; idle conns $IDLE_CONNS (fd limit $(ulimit -Sn))${ONLY:+; only $ONLY}"

# --- the stack alone, on the memory wire (no device, no kernel), on Sluice's core --------------------
if run_stack; then
  echo
  echo "== the stack alone on Sluice's core (target: 1 M packets/s per core)"
  echo "   TCP alone, two TcpLayers joined segment to segment:"
  taskset -c "$SLUICE_CORE" node --import tsx "$ROOT/bench/tcp-memory.ts" --mb 200 --secs 2 --runs 3 | sed 's/^/     /'
  echo "   the whole stack (Ethernet, IPv4, TCP, PortPump) over the memory wire:"
  taskset -c "$SLUICE_CORE" node --import tsx "$ROOT/bench/stack-offload.ts" --mb 256 --runs 5 | sed 's/^/     /'
  [ "$ONLY" = stack ] && exit 0
fi

# --- namespaces, veth, TAP ---------------------------------------------------------------------
ip netns add "$NS_S"
ip netns add "$NS_C"
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set lo up
ip -n "$NS_S" link add vb-s type veth peer name vb-c netns "$NS_C"
in_s sysctl -q -w net.ipv6.conf.vb-s.disable_ipv6=1
in_c sysctl -q -w net.ipv6.conf.vb-c.disable_ipv6=1
ip -n "$NS_S" addr add 198.18.1.2/24 dev vb-s
ip -n "$NS_C" addr add 198.18.1.1/24 dev vb-c
ip -n "$NS_S" link set vb-s up
ip -n "$NS_C" link set vb-c up
ip -n "$NS_S" tuntap add dev sbench0 mode tap
if run_idle; then
  # Each idle connection holds a client port toward one server address (ports are per destination).
  read -r plo phi < <(in_c cat /proc/sys/net/ipv4/ip_local_port_range)
  need=$(( IDLE_CONNS + 1000 ))
  if [ $(( phi - plo + 1 )) -lt "$need" ]; then
    in_c sysctl -q -w net.ipv4.ip_local_port_range="1024 65535"
    read -r plo phi < <(in_c cat /proc/sys/net/ipv4/ip_local_port_range)
  fi
  [ $(( phi - plo + 1 )) -ge "$need" ] || { echo "bypass.sh: IDLE_CONNS=$IDLE_CONNS needs $need ephemeral ports, the client namespace has $(( phi - plo + 1 ))" >&2; exit 1; }
  echo "   client namespace ephemeral ports $plo-$phi ($(( phi - plo + 1 )) per destination, $need needed)"
fi

# --- config: one process, both paths, same routes ----------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
  -addext subjectAltName=DNS:bench.test -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
BULK=$(head -c 1048576 /dev/zero | tr '\0' 'x')
TLS_BLOCK="    tls: { certificates: [{ cert: $WORK/cert.pem, key: $WORK/key.pem, default: true }], min_version: TLSv1.3, alpn: [http/1.1] }
    http: { idle_timeout_ms: 600000, headers_timeout_ms: 600000 }"
{
  cat <<EOF
listeners:
  - name: kernel
    address: 198.18.1.2
    port: 443
$TLS_BLOCK
  - name: tap
    address: 198.18.0.2
    port: 443
    transport: tap
    tap: { device: sbench0, prefix_length: 24 }
$TLS_BLOCK
routes:
  - { name: ok, match: { path: { exact: / } }, direct_response: { status: 200, body: "ok\\n" } }
  - name: bulk
    match: { path: { exact: /bulk } }
    direct_response: { status: 200, body: "$BULK" }
admin: { address: 127.0.0.1, port: 9901, socket: $WORK/admin.sock }
logging: { level: info, access_log: false }
EOF
} >"$WORK/sluice.yaml"
# The idle-connection measurement runs without the 1 MiB route: parsing a config that holds a
# 1 MiB string leaves garbage whose later collection lowers RSS by more than 2,000 connections add.
grep -v -e '^  - name: bulk' -e '^    match: { path: { exact: /bulk } }' -e '^    direct_response: { status: 200, body: "xxx' "$WORK/sluice.yaml" >"$WORK/sluice-idle.yaml"
CONFIG=$WORK/sluice.yaml

start_sluice() { # [node flags...]
  : >"$WORK/sluice.log"
  ip netns exec "$NS_S" taskset -c "$SLUICE_CORE" node "$@" "$ROOT/bin/sluice.js" serve --config "$CONFIG" >"$WORK/sluice.log" 2>&1 &
  SLUICE_PID=$!
  for _ in $(seq 150); do
    grep -q '"sluice ready"' "$WORK/sluice.log" && return 0
    kill -0 "$SLUICE_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bypass.sh: sluice did not start:" >&2; cat "$WORK/sluice.log" >&2; exit 1
}
move_tap() {
  # Sluice holds the fd; the interface moves to the client namespace, then gets its address.
  ip -n "$NS_S" link set sbench0 netns "$NS_C"
  in_c sysctl -q -w net.ipv6.conf.sbench0.disable_ipv6=1
  ip -n "$NS_C" addr add 198.18.0.1/24 dev sbench0
  ip -n "$NS_C" link set sbench0 up
}
restart_sluice() { # [node flags...]: a fresh process; the TAP goes back to Sluice's namespace to be attached by name
  stop_sluice
  ip -n "$NS_C" link set sbench0 netns "$NS_S"
  start_sluice "$@"
  move_tap
}
echo "== sluice: ip netns exec $NS_S taskset -c $SLUICE_CORE node bin/sluice.js serve --config sluice.yaml (listeners kernel 198.18.1.2:443, tap 198.18.0.2:443)"
start_sluice
move_tap
for url in $KERNEL_URL $TAP_URL; do
  in_c curl -sk --max-time 5 -o /dev/null -w "   check $url -> %{http_code}\n" "$url/" || { echo "bypass.sh: $url unreachable" >&2; exit 1; }
done
echo "   negotiated (both): $(in_c openssl s_client -connect 198.18.0.2:443 -brief </dev/null 2>&1 | grep -E 'Protocol|Ciphersuite|Peer sig' | tr '\n' ' ')"

# wrk output -> "reqs_per_s p99_ms transfer_MBps errflag"
parse_wrk() { wrk_fields | cut -d' ' -f2-; }

declare -A RES
run_case() { # name url wrk-args...
  local name=$1 url=$2; shift 2
  local t0 t1 out line
  t0=$(cpu_ticks)
  out=$(load wrk "$@" "$url")
  t1=$(cpu_ticks)
  line=$(echo "$out" | parse_wrk)
  local cpu
  cpu=$(awk -v a="$t0" -v b="$t1" -v k="$TICK" 'BEGIN { printf "%.2f", (b - a) / k }')
  RES[$name]+="$line $cpu;"
  echo "   $name: $(echo "$line" | awk '{ printf "%.0f req/s, p99 %.2f ms, %.1f MB/s", $1, $2, $3 }'), sluice cpu ${cpu}s $( [ "$(echo "$line" | awk '{print $4}')" = ERR ] && echo "  ERRORS: $(echo "$out" | grep -E 'Socket errors|Non-2xx' | tr '\n' ' ')")"
}

# --- idle connections ----------------------------------------------------------------------------
cat >"$WORK/idle.mjs" <<'EOF'
// Opens N TLS connections, PAR attempts in flight, one keep-alive request each, then holds them
// idle until stdin closes. No attempt starts after SECS seconds and each one gives up after 20 s,
// so the open phase ends within SECS + 20 s. Then prints
// "open <n> failed <m> skipped <k> in <s> s [<error counts>]" (skipped: never started).
import { connect } from 'node:tls';
const [host, n, par, secs] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const socks = [];
const errors = new Map();
let started = 0;
let failed = 0;
const t0 = performance.now();
const deadline = t0 + secs * 1000;
function fail(why) {
  failed++;
  errors.set(why, (errors.get(why) ?? 0) + 1);
}
function one() {
  return new Promise((resolve) => {
    const s = connect({ host, port: 443, servername: 'bench.test', rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      s.write('GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n');
    });
    const timer = setTimeout(() => { fail('timeout'); s.destroy(); resolve(); }, 20000);
    s.once('data', () => { clearTimeout(timer); socks.push(s); resolve(); });
    s.on('error', (e) => { clearTimeout(timer); fail(e.code ?? e.message); resolve(); });
  });
}
async function worker() {
  while (started < n && performance.now() < deadline) {
    started++;
    await one();
  }
}
await Promise.all(Array.from({ length: Math.min(par, n) }, worker));
const errs = [...errors].map(([k, v]) => `${k} ${v}`).join(', ');
process.stdout.write(`open ${socks.length} failed ${failed} skipped ${n - started} in ${((performance.now() - t0) / 1000).toFixed(1)} s${errs ? ` [${errs}]` : ''}\n`);
process.stdin.resume();
process.stdin.on('end', () => { for (const s of socks) s.destroy(); setTimeout(() => process.exit(0), 200); });
EOF
# "rss heap_used external" in bytes, from Sluice's /metrics (prom-client's process and nodejs series).
mem_sample() {
  curl -s --max-time 600 --unix-socket "$WORK/admin.sock" http://x/metrics | awk '
    /^sluice_process_resident_memory_bytes / { r = $2 }
    /^sluice_nodejs_heap_size_used_bytes / { h = $2 }
    /^sluice_nodejs_external_memory_bytes / { e = $2 }
    END { print r + 0, h + 0, e + 0 }'
}
mem_settled() { # per column, the median of 3 samples 1 s apart
  local a b c
  a=$(mem_sample); sleep 1; b=$(mem_sample); sleep 1; c=$(mem_sample)
  for col in 1 2 3; do printf '%s\n' "$a" "$b" "$c" | awk -v c="$col" '{ print $c }' | median; done | paste -sd' '
}
idle_run() { # ip n outfile: opens n idle connections; stdin of the client on fd 7
  exec 7> >(exec ip netns exec "$NS_C" taskset -c "$LOAD_CORE" node "$WORK/idle.mjs" "$1" "$2" "$IDLE_PAR" "$OPEN_SECS" >"$3" 2>&1)
  local i
  for i in $(seq $(( (OPEN_SECS + 30) * 10 ))); do grep -q '^open' "$3" 2>/dev/null && return 0; sleep 0.1; done
  echo "bypass.sh: the idle client did not finish opening within $(( OPEN_SECS + 30 )) s: $(cat "$3")" >&2
  exit 1
}
# With HEAPSNAP=1: SIGUSR2 makes Sluice (started with --heapsnapshot-signal) write a snapshot; the
# process is busy until it is written, so the next /metrics answer marks the end.
heap_snapshot() { # name
  local n0 f
  n0=$(find "$WORK/snap" -name '*.heapsnapshot' | wc -l)
  kill -USR2 "$SLUICE_PID"
  for _ in $(seq 100); do [ "$(find "$WORK/snap" -name '*.heapsnapshot' | wc -l)" -gt "$n0" ] && break; sleep 0.1; done
  mem_sample >/dev/null
  f=$(ls -t "$WORK"/snap/*.heapsnapshot | head -1)
  mkdir -p "$ROOT/bench/out"
  mv "$f" "$ROOT/bench/out/idle-$1.heapsnapshot"
}
kib() { awk -v a="$1" -v b="$2" -v o="$3" 'BEGIN { if (o > 0) printf "%.1f", (b - a) / o / 1024; else print "-" }'; }
mib() { awk -v v="$1" 'BEGIN { printf "%.1f", v / 1048576 }'; }
# Each path on a fresh process (restarted here), warmed with 100 connections that are closed
# again, so neither pays for the other's heap growth or for start-up; figures are the median of
# three samples a second apart. On the kernel path, the socket buffers are kernel memory, not
# RSS: the namespace's /proc/net/sockstat "TCP mem" (buffer pages in use) is printed beside it;
# the kernel's per-socket structures (slab) are in neither figure.
tcp_mem_pages() { ip netns exec "$NS_S" awk '/^TCP:/ { for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat; }
if run_idle; then
  echo
  echo "== idle connections: ip netns exec $NS_C node idle.mjs IP $IDLE_CONNS $IDLE_PAR $OPEN_SECS (one request each, then idle; $IDLE_PAR in flight, none started after $OPEN_SECS s)"
  CONFIG=$WORK/sluice-idle.yaml
  snapflags=()
  if [ "$HEAPSNAP" = 1 ]; then
    mkdir -p "$WORK/snap"
    snapflags=(--heapsnapshot-signal=SIGUSR2 --diagnostic-dir="$WORK/snap")
    echo "   HEAPSNAP=1: snapshots force full GCs, so these RSS figures are not comparable with a run without it"
  fi
  for path in kernel tap; do
    ip=198.18.1.2; [ $path = tap ] && ip=198.18.0.2
    restart_sluice "${snapflags[@]}"
    idle_run $ip 100 "$WORK/idle-warm.out"; exec 7>&-; sleep 2
    read -r rss0 heap0 ext0 < <(mem_settled)
    mem0=$(tcp_mem_pages)
    [ "$HEAPSNAP" = 1 ] && heap_snapshot "$path-before"
    idle_run $ip "$IDLE_CONNS" "$WORK/idle-$path.out"
    opened=$(cat "$WORK/idle-$path.out")
    sleep 1
    read -r rss1 heap1 ext1 < <(mem_settled)
    mem1=$(tcp_mem_pages)
    [ "$HEAPSNAP" = 1 ] && heap_snapshot "$path-after"
    exec 7>&-   # closes the client's stdin: it closes its connections and exits
    n=$(echo "$opened" | awk '{ print $2 }')
    [ "$n" -lt "$IDLE_CONNS" ] && echo "   WARNING: $path: only $n of $IDLE_CONNS connections opened (see sluice.log: $(grep -c '"level":50' "$WORK/sluice.log" || true) errors logged)"
    kmem=""
    [ $path = kernel ] && kmem=", plus kernel TCP memory $(awk -v a="$mem0" -v b="$mem1" -v o="$n" 'BEGIN { printf "%.1f", (b - a) * 4 / o }') KiB per connection (sockstat mem $mem0 -> $mem1 pages)"
    per=$(kib "$rss0" "$rss1" "$n")
    echo "   $path: $opened"
    echo "   $path: RSS $(mib "$rss0") MiB -> $(mib "$rss1") MiB = $per KiB per idle connection (V8 heap used $(kib "$heap0" "$heap1" "$n") KiB, external $(kib "$ext0" "$ext1" "$n") KiB)$kmem"
    RES[idle-$path]=$per
    RES[idle-$path-heap]=$(kib "$heap0" "$heap1" "$n")
    RES[idle-$path-ext]=$(kib "$ext0" "$ext1" "$n")
    sleep 2
  done
  CONFIG=$WORK/sluice.yaml
  echo "   ratio tap/kernel per idle connection: $(awk -v a="${RES[idle-kernel]}" -v b="${RES[idle-tap]}" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }') (difference $(awk -v a="${RES[idle-kernel]}" -v b="${RES[idle-tap]}" 'BEGIN { printf "%.1f", b - a }') KiB: V8 heap $(awk -v a="${RES[idle-kernel-heap]}" -v b="${RES[idle-tap-heap]}" 'BEGIN { printf "%.1f", b - a }') KiB, external $(awk -v a="${RES[idle-kernel-ext]}" -v b="${RES[idle-tap-ext]}" 'BEGIN { printf "%.1f", b - a }') KiB)"
  echo "   what these are made of, and what was removed: docs/bypass.md, \"Memory per idle connection\""
  if [ "$HEAPSNAP" = 1 ]; then
    for path in kernel tap; do
      n=$(awk '{ print $2 }' "$WORK/idle-$path.out")
      echo "   node bench/heap-diff.mjs bench/out/idle-$path-before.heapsnapshot bench/out/idle-$path-after.heapsnapshot $n"
      node "$ROOT/bench/heap-diff.mjs" "$ROOT/bench/out/idle-$path-before.heapsnapshot" "$ROOT/bench/out/idle-$path-after.heapsnapshot" "$n" | sed 's/^/   /'
    done
  fi
  run_load && restart_sluice
fi

run_load || exit 0   # ONLY=idle: done (the cleanup trap removes the namespaces)
echo
echo "== commands (URL is $KERNEL_URL for kernel, $TAP_URL for tap):"
echo "   ip netns exec $NS_C taskset -c $LOAD_CORE wrk -t1 -c50 -d$DURATION --latency URL/"
echo "   ip netns exec $NS_C taskset -c $LOAD_CORE wrk -t1 -c50 -d$SHORT --latency -H 'Connection: close' URL/"
echo "   ip netns exec $NS_C taskset -c $LOAD_CORE wrk -t1 -c4 -d$SHORT URL/bulk"
for path in kernel tap; do
  url=$KERNEL_URL; [ $path = tap ] && url=$TAP_URL
  load wrk -t1 -c50 -d2s "$url/" >/dev/null   # warm-up (JIT, ARP, pools)
done
for r in $(seq "$ROUNDS"); do
  echo "-- round $r"
  for path in kernel tap; do
    url=$KERNEL_URL; [ $path = tap ] && url=$TAP_URL
    run_case "$path-keepalive" "$url/" -t1 -c50 -d"$DURATION" --latency
    run_case "$path-close" "$url/" -t1 -c50 -d"$SHORT" --latency -H 'Connection: close'
    run_case "$path-bulk" "$url/bulk" -t1 -c4 -d"$SHORT"
  done
done

field() { # name column -> median of that column over rounds
  echo "${RES[$1]}" | tr ';' '\n' | awk -v c="$2" 'NF { print $c }' | median
}
echo
echo "== medians of $ROUNDS rounds (ratio = tap / kernel)"
printf '   %-34s %14s %14s %8s\n' "" kernel tap ratio
row() { # label kernel tap
  printf '   %-34s %14s %14s %8s\n' "$1" "$2" "$3" "$(awk -v a="$2" -v b="$3" 'BEGIN { if (a > 0) printf "%.2f", b / a; else print "-" }')"
}
for c in keepalive close bulk; do
  k_rps=$(field kernel-$c 1); t_rps=$(field tap-$c 1)
  k_cpu=$(field kernel-$c 5); t_cpu=$(field tap-$c 5)
  case $c in
    keepalive) row "keep-alive req/s" "$k_rps" "$t_rps"; row "keep-alive p99 ms" "$(field kernel-$c 2)" "$(field tap-$c 2)" ;;
    close) row "new connections/s (Connection: close)" "$k_rps" "$t_rps"; row "new connections p99 ms" "$(field kernel-$c 2)" "$(field tap-$c 2)" ;;
    bulk) row "bulk MB/s (1 MiB responses, -c4)" "$(field kernel-$c 3)" "$(field tap-$c 3)" ;;
  esac
  row "  $c: sluice CPU s per run" "$k_cpu" "$t_cpu"
done
errs=$(printf '%s' "${RES[*]}" | tr ';' '\n' | awk '$4 == "ERR"' | wc -l)
echo "   runs with wrk socket errors or non-2xx: $errs"

# --- profile -----------------------------------------------------------------------------------
ratio=$(awk -v a="$(field kernel-keepalive 1)" -v b="$(field tap-keepalive 1)" 'BEGIN { if (a > 0) print b / a; else print 1 }')
if [ "$WANT_PROFILE" = 1 ] || awk -v r="$ratio" -v lim="$PROFILE_BELOW" 'BEGIN { exit !(r < lim) }'; then
  echo
  echo "== profile: tap keep-alive load for $PROFILE_DURATION under node --cpu-prof"
  mkdir -p "$ROOT/bench/out"
  rm -f "$WORK"/*.cpuprofile
  restart_sluice --cpu-prof --cpu-prof-dir="$WORK"
  load wrk -t1 -c50 -d2s "$TAP_URL/" >/dev/null
  T0=$(date +%s%3N)
  load wrk -t1 -c50 -d"$PROFILE_DURATION" --latency "$TAP_URL/" | grep -E 'Requests/sec|99%' | sed 's/^/   /'
  T1=$(date +%s%3N)
  START_MS=$(grep -m1 -o '"time":"[^"]*"' "$WORK/sluice.log" | cut -d'"' -f4)
  stop_sluice
  prof=$(ls "$WORK"/*.cpuprofile | head -1)
  cp "$prof" "$ROOT/bench/out/sluice-bypass-keepalive.cpuprofile"
  from=$(( T0 - $(date -d "$START_MS" +%s%3N) ))
  to=$(( T1 - $(date -d "$START_MS" +%s%3N) ))
  echo "   node bench/cpuprofile-top.mjs bench/out/sluice-bypass-keepalive.cpuprofile 20 --window $from $to"
  node "$ROOT/bench/cpuprofile-top.mjs" "$ROOT/bench/out/sluice-bypass-keepalive.cpuprofile" 20 --window "$from" "$to"
fi
