#!/usr/bin/env bash
# npm run demo:bypass -- Sluice serving HTTPS on its own TCP/IP stack, over DPDK when the native
# addon has its DPDK port (net_af_packet on a veth), over a TAP device otherwise.
#
# NEEDS ROOT (CAP_NET_ADMIN, AF_PACKET): it creates a network namespace and a veth pair or TAP
# device inside it. It never touches the host's interfaces; everything lives in the namespace it
# creates, and everything it creates (namespace, processes, temp dir, the DPDK runtime directory
# /var/run/dpdk/sluice-demo-<pid>) is removed on exit, Ctrl-C or SIGTERM.
#
# Which data path: DPDK when `features.dpdk` of the addon (dist/src/io/native.js) is true, i.e.
# it was built with libdpdk-dev present; TAP otherwise. SLUICE_DEMO_PATH=tap forces TAP. The first
# line of output says which was chosen and why.
#
# What it does:
#   1. builds Sluice if dist/ is missing;
#   2. creates namespace sluice-demo-<pid> and in it either
#      - DPDK: a veth pair sdemo-dpdk <-> sdemo-kern; DPDK's net_af_packet PMD owns sdemo-dpdk
#        (no address), the kernel's side sdemo-kern gets 198.18.0.1/24 (checksums in software,
#        `ethtool -K sdemo-kern tx off`, see docs/dpdk.md), or
#      - TAP: TAP device sdemo0 whose kernel side gets 198.18.0.1/24;
#      Sluice's own stack answers for 198.18.0.2 on that link;
#   3. starts an upstream inside the namespace: python3 -m http.server on 198.18.0.1:8080 (HTTP/1.1
#      keep-alive: an HTTP/1.0 upstream that closes after a large body can crash undici 7, see
#      docs/bypass.md "Known problems");
#   4. writes a config (temp dir): a dpdk or tap listener 198.18.0.2:443 with TLS (generated dev
#      certificate), routes /hello (direct response), /files/ (proxied to the upstream, same path), and a
#      catch-all direct response; starts `sluice serve` inside the namespace;
#   5. fetches the routes with curl over TLS from the namespace (through the kernel's TCP on
#      198.18.0.1 -> veth + DPDK, or TAP -> Sluice's TCP), prints the answers, then `sluice netstat`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ "$(id -u)" -ne 0 ]; then
  echo "demo-bypass: needs root (it creates a network namespace and a veth pair or TAP device); try: sudo npm run demo:bypass" >&2
  exit 1
fi
for tool in ip curl python3 node; do
  command -v "$tool" >/dev/null || { echo "demo-bypass: $tool is not installed" >&2; exit 1; }
done
if [ ! -f dist/src/cli/main.js ] || [ ! -f native/build/Release/sluice_native.node ]; then
  echo "== building (dist/ or the native addon is missing)"
  npm run --silent build
fi

# DPDK or TAP: what the built addon offers (the same check `sluice doctor` makes for the addon).
DPDK_FEATURE=$(node -e "import('$ROOT/dist/src/io/native.js').then((m) => console.log(m.loadNative().features.dpdk ? 'yes' : 'no'), (e) => console.log('no: ' + e.message))")
if [ "${SLUICE_DEMO_PATH:-}" = tap ]; then
  MODE=tap; WHY="SLUICE_DEMO_PATH=tap"
elif [ "$DPDK_FEATURE" = yes ] && command -v ethtool >/dev/null; then
  MODE=dpdk; WHY="the native addon was built with DPDK (features.dpdk: true)"
elif [ "$DPDK_FEATURE" = yes ]; then
  MODE=tap; WHY="ethtool is missing (the veth's kernel side must checksum in software for DPDK net_af_packet)"
else
  MODE=tap; WHY="the native addon has no DPDK port ($DPDK_FEATURE; apt-get install libdpdk-dev pkg-config, then npm run build:native)"
fi
if [ "$MODE" = dpdk ]; then
  echo "== data path: DPDK net_af_packet on a veth into the namespace ($WHY)"
else
  echo "== data path: TAP device ($WHY)"
fi

NS="sluice-demo-$$"
DEV=sdemo0                 # TAP mode: the TAP device
PMD_DEV=sdemo-dpdk         # DPDK mode: the veth end DPDK's net_af_packet owns
KERN_DEV=sdemo-kern        # DPDK mode: the kernel's end, 198.18.0.1
EAL_PREFIX="sluice-demo-$$"
KERNEL_IP=198.18.0.1
STACK_IP=198.18.0.2
WORK=$(mktemp -d /tmp/sluice-demo.XXXXXX)
SLUICE_PID=""
UP_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  for pid in $SLUICE_PID $UP_PID; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $SLUICE_PID $UP_PID; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  ip netns del "$NS" 2>/dev/null || true   # takes the veth pair or TAP with it
  # Sluice removes its EAL runtime directory on a clean stop; after a SIGKILL it is left behind.
  [ "$MODE" = dpdk ] && rm -rf "/var/run/dpdk/$EAL_PREFIX"
  rm -rf "$WORK"
  echo "== cleaned up: namespace $NS, processes, $WORK$( [ "$MODE" = dpdk ] && echo ", /var/run/dpdk/$EAL_PREFIX")"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS"
ip -n "$NS" link set lo up
if [ "$MODE" = dpdk ]; then
  echo "== namespace $NS, veth $PMD_DEV (DPDK net_af_packet, Sluice's stack $STACK_IP) <-> $KERN_DEV (kernel, $KERNEL_IP/24)"
  ip -n "$NS" link add "$PMD_DEV" type veth peer name "$KERN_DEV"
  in_ns sysctl -q -w "net.ipv6.conf.$PMD_DEV.disable_ipv6=1"
  in_ns sysctl -q -w "net.ipv6.conf.$KERN_DEV.disable_ipv6=1"
  ip -n "$NS" addr add "$KERNEL_IP/24" dev "$KERN_DEV"
  in_ns ethtool -K "$KERN_DEV" tx off >/dev/null
  ip -n "$NS" link set "$PMD_DEV" up
  ip -n "$NS" link set "$KERN_DEV" up
  LISTENER="    transport: dpdk
    dpdk: { device: \"net_af_packet0,iface=$PMD_DEV\", prefix_length: 24, mtu: 1500 }"
  PROCESS_BLOCK="dpdk:
  eal_args: [--no-huge, --no-pci, -m, \"256\", -l, \"0\", --no-telemetry, --file-prefix, $EAL_PREFIX, --log-level, \"lib.eal:warning\"]"
else
  echo "== namespace $NS, TAP $DEV: kernel side $KERNEL_IP/24, Sluice's stack $STACK_IP"
  ip -n "$NS" tuntap add dev "$DEV" mode tap
  in_ns sysctl -q -w "net.ipv6.conf.$DEV.disable_ipv6=1"
  ip -n "$NS" addr add "$KERNEL_IP/24" dev "$DEV"
  ip -n "$NS" link set "$DEV" up
  LISTENER="    transport: tap
    tap: { device: $DEV, prefix_length: 24, mtu: 1500 }"
  PROCESS_BLOCK=""
fi

mkdir -p "$WORK/www/files"
echo "served by python http.server on $KERNEL_IP, proxied by Sluice over its own TCP" > "$WORK/www/files/readme.txt"
head -c 1048576 /dev/urandom > "$WORK/www/files/blob.bin"
(cd "$WORK/www" && exec ip netns exec "$NS" python3 -m http.server 8080 --bind "$KERNEL_IP" --protocol HTTP/1.1 >"$WORK/upstream.log" 2>&1) &
UP_PID=$!

cat > "$WORK/sluice.yaml" <<EOF
$PROCESS_BLOCK
listeners:
  - name: edge
    address: $STACK_IP
    port: 443
$LISTENER
    filter: { max_connections_per_source: 1000 }
    tls:
      certificates: [{ cert: dev.pem, key: dev-key.pem, generate: dev, default: true }]
      alpn: [http/1.1]
routes:
  - { name: hello, match: { path: { exact: /hello } }, direct_response: { status: 200, body: "hello from Sluice's own TCP/IP stack\n" } }
  - { name: files, match: { path: { prefix: /files/ } }, proxy: { cluster: www } }
  - { name: fallback, match: { path: { prefix: / } }, direct_response: { status: 404, body: "no such demo route\n" } }
clusters:
  - { name: www, endpoints: ["$KERNEL_IP:8080"] }
admin: { address: 127.0.0.1, port: 9901, socket: admin.sock }
logging: { level: info, access_log: true }
EOF

echo "== starting sluice serve --config $WORK/sluice.yaml (inside $NS)"
ip netns exec "$NS" node "$ROOT/bin/sluice.js" serve --config "$WORK/sluice.yaml" >"$WORK/sluice.log" 2>&1 &
SLUICE_PID=$!
for _ in $(seq 100); do
  grep -q '"sluice ready"' "$WORK/sluice.log" 2>/dev/null && break
  kill -0 "$SLUICE_PID" 2>/dev/null || { echo "sluice exited:"; cat "$WORK/sluice.log"; exit 1; }
  sleep 0.1
done
grep -q '"sluice ready"' "$WORK/sluice.log" || { echo "sluice did not become ready:"; cat "$WORK/sluice.log"; exit 1; }
grep '"listener ready"' "$WORK/sluice.log" | head -1
for _ in $(seq 50); do
  in_ns curl -s -o /dev/null "http://$KERNEL_IP:8080/" && break
  sleep 0.1
done

fetch() {
  echo
  echo "\$ ip netns exec $NS curl -sk $*"
  in_ns curl -sk --max-time 10 "$@"
}
fetch --resolve "demo.test:443:$STACK_IP" -w '[%{http_code}, http %{http_version}, SNI demo.test]\n' "https://demo.test/hello"
fetch -w '[%{http_code}]\n' "https://$STACK_IP/files/readme.txt"
fetch -o /dev/null -w '[%{http_code}, %{size_download} bytes in %{time_total} s]\n' "https://$STACK_IP/files/blob.bin"
echo "  sha256 origin: $(sha256sum "$WORK/www/files/blob.bin" | cut -c1-16)  via sluice: $(in_ns curl -sk "https://$STACK_IP/files/blob.bin" | sha256sum | cut -c1-16)"
fetch -w '[%{http_code}]\n' "https://$STACK_IP/nothing-here"
echo
echo "\$ ip netns exec $NS openssl s_client -connect $STACK_IP:443 -brief"
in_ns openssl s_client -connect "$STACK_IP:443" -brief </dev/null 2>&1 | grep -E 'Protocol|Ciphersuite|Peer' || true

# One connection held open, so the table shows an ESTABLISHED row next to the listener.
in_ns curl -sk --max-time 6 --limit-rate 200k -o /dev/null "https://$STACK_IP/files/blob.bin" &
HOLD=$!
sleep 1
echo
echo "\$ sluice netstat --config $WORK/sluice.yaml"
node "$ROOT/bin/sluice.js" netstat --config "$WORK/sluice.yaml"
echo
echo "== the kernel sees only the client's end of that connection (Sluice's end lives in Sluice's TCP):"
in_ns ss -tn state established '( dport = :443 or sport = :443 )' | head -5
wait "$HOLD" 2>/dev/null || true
echo
echo "== access log (last 3 lines)"
grep '"access"' "$WORK/sluice.log" | tail -3
