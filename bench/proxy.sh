#!/usr/bin/env bash
# bench/proxy.sh: Sluice against nginx, HAProxy and fastify as single-core TLS 1.3 (ECDSA P-256)
# terminating HTTP/1.1 reverse proxies in front of one shared upstream.
#
# Measures, per proxy, pinned to core $PROXY_CORE while wrk runs on core $LOAD_CORE:
#   1. keep-alive throughput: req/s and p99 latency (wrk -t1 -c50 -d10s --latency);
#   2. TLS handshakes per second: every request on a new TCP connection with a full TLS 1.3
#      handshake, driven by bench/tools/hsload.c (built here), since wrk and h2load resume TLS
#      sessions on reconnect; the script checks both against a logging server before the runs.
# Runs are interleaved (A B C D, A B C D, A B C D), each after a short warm-up, and the median of
# the rounds is reported with Sluice's ratio to each peer.
#
# Usage: bash bench/proxy.sh                 (about 4 minutes)
#        TARGETS=nginx,haproxy bash bench/proxy.sh
#        bash bench/proxy.sh --profile       (Sluice only, under load with node --cpu-prof,
#                                             then the top self-time functions;
#                                             PROFILE_LOAD=handshake for the handshake load)
# Tunables (environment): TARGETS ROUNDS DURATION WARMUP HS_DURATION HS_WARMUP CONNS PROXY_CORE
#                         LOAD_CORE PROFILE_DURATION PROFILE_LOAD
# Needs: node 20, openssl, nginx, haproxy, wrk, taskset, curl, cc + libssl-dev; `npm run build`
# for Sluice.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/proxy-lib.sh
. "$ROOT/bench/proxy-lib.sh"
TARGETS=${TARGETS:-sluice,nginx,haproxy,fastify}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
HS_DURATION=${HS_DURATION:-5s}
HS_WARMUP=${HS_WARMUP:-1s}
CONNS=${CONNS:-50}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}
PROFILE_DURATION=${PROFILE_DURATION:-15s}
PROFILE_LOAD=${PROFILE_LOAD:-keepalive}   # or handshake
MODE=bench
if [ "${1:-}" = "--profile" ]; then MODE=profile; TARGETS=sluice; fi
INVOCATION="$0${1:+ $1}"
ENV_SHOWN=""
for v in TARGETS ROUNDS DURATION WARMUP HS_DURATION HS_WARMUP CONNS PROXY_CORE LOAD_CORE PROFILE_DURATION PROFILE_LOAD; do
  if [ -n "${!v+set}" ] && [ "$(printenv "$v" || true)" != "" ]; then ENV_SHOWN+="$v=${!v} "; fi
done

for tool in node openssl nginx haproxy wrk taskset curl cc; do
  command -v "$tool" >/dev/null || { echo "proxy.sh: '$tool' not found (Debian: nginx-light haproxy wrk util-linux curl openssl gcc libssl-dev)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-proxy.XXXXXX")
STARTED=()   # "name pid" of every process this script started
LOAD_PID=""  # the load generator running now, if any

stop_all() {
  local entry pid
  if [ -n "$LOAD_PID" ]; then kill -TERM "$LOAD_PID" 2>/dev/null || true; wait "$LOAD_PID" 2>/dev/null || true; LOAD_PID=""; fi
  for entry in "${STARTED[@]}"; do
    pid=${entry##* }
    kill -TERM "$pid" 2>/dev/null || true
  done
  # Up to 5 s for a clean exit (Sluice drains; --cpu-prof writes its profile on exit).
  local deadline=$((SECONDS + 5))
  for entry in "${STARTED[@]}"; do
    pid=${entry##* }
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "proxy.sh: ${entry% *} (pid $pid) ignored SIGTERM; killing it" >&2
      # Its children first (nginx's worker), which would otherwise outlive a killed master.
      kill -KILL $(cat "/proc/$pid/task/"*/children 2>/dev/null) 2>/dev/null || true
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  STARTED=()
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_all
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Ports: ephemeral ports the kernel hands out on 127.0.0.1, released just before use. ---------
read -r UP_PORT VERIFY_PORT SLUICE_PORT SLUICE_ADMIN_PORT NGINX_PORT HAPROXY_PORT FASTIFY_PORT <<<"$(free_ports 7)"

# --- Machine ---------------------------------------------------------------------------------
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
echo "== bench/proxy.sh  $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "command:  cd $ROOT && ${ENV_SHOWN}bash $INVOCATION"
echo "machine:  nproc=$(nproc), CPU: ${CPU_MODEL:-unknown}, kernel $(uname -r)"
echo "versions: node $(node -v), $(nginx -v 2>&1 | sed 's/^nginx version: //'), HAProxy $(haproxy -v | awk 'NR==1 { print $3 }'), $(wrk -v 2>&1 | awk 'NR==1 { print $1, $2 }'), $(openssl version | awk '{ print $1, $2 }')"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at start"
echo "cores:    proxies on core $PROXY_CORE, wrk and the upstream on core $LOAD_CORE"

# --- Certificate: one ECDSA P-256 certificate for localhost, shared by every proxy. -----------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
cat "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/haproxy.pem"   # HAProxy wants cert and key in one file
mkdir -p "$WORK/nginx-up" "$WORK/nginx-proxy"

# The handshake load generator (bench/tools/hsload.c), built against the system OpenSSL.
HSLOAD=$WORK/hsload
cc -O2 -o "$HSLOAD" "$ROOT/bench/tools/hsload.c" -lssl -lcrypto ||
  { echo "proxy.sh: could not build bench/tools/hsload.c (needs a C compiler and libssl-dev)" >&2; exit 1; }

start() {   # start NAME CORE LOGFILE CMD...: runs CMD in the background pinned to CORE
  local name=$1 core=$2 log=$3; shift 3
  taskset -c "$core" "$@" >"$log" 2>&1 &
  STARTED+=("$name $!")
  echo "$!" >"$WORK/$name.pid"
}
# run_load_gen OUT CMD...: the load generator runs in the background and the script waits for it,
# because bash defers a trap until a foreground child exits, and wrk exits normally on Ctrl-C
# (so bash would then ignore the signal); `wait` returns at once and the trap cleans up.
run_load_gen() {
  local out=$1 rc=0
  shift
  taskset -c "$LOAD_CORE" "$@" >"$out" 2>&1 &
  LOAD_PID=$!
  wait "$LOAD_PID" || rc=$?
  LOAD_PID=""
  return $rc
}
pid_of() { local e; for e in "${STARTED[@]}"; do [ "${e% *}" = "$1" ] && { echo "${e##* }"; return; }; done; }

wait_ok() {   # wait_ok NAME URL: until the proxy answers the upstream's body, at most 20 s
  local name=$1 url=$2 body pid
  pid=$(pid_of "$name")
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "proxy.sh: $name exited during start; its output:" >&2
      sed 's/^/    /' "$WORK/$name.log" >&2
      return 1
    fi
    body=$(curl -sk --max-time 2 "$url" 2>/dev/null || true)
    [ "$body" = "ok" ] && return 0
    sleep 0.1
  done
  echo "proxy.sh: $name did not answer 'ok' at $url within 20 s; last body: '${body:0:200}'; its output:" >&2
  sed 's/^/    /' "$WORK/$name.log" >&2
  return 1
}

# --- Upstream --------------------------------------------------------------------------------
# nginx with one worker answering a fixed 3-byte body: C, event-driven, no per-request allocation
# to speak of, so a few microseconds per request, several times cheaper than a Node http server;
# it shares core $LOAD_CORE with wrk and every proxy gets the same one. The second server is the
# handshake check (TLS, logs connection serial and whether the session was resumed); it is idle
# during the measured runs.
cat >"$WORK/nginx-up/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx-up/nginx.pid;
error_log $WORK/nginx-up/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $WORK/nginx-up/body;
  proxy_temp_path $WORK/nginx-up/proxy;
  fastcgi_temp_path $WORK/nginx-up/fastcgi;
  uwsgi_temp_path $WORK/nginx-up/uwsgi;
  scgi_temp_path $WORK/nginx-up/scgi;
  log_format verify '\$connection \$ssl_session_reused \$ssl_protocol \$ssl_cipher';
  server {
    listen 127.0.0.1:$UP_PORT;
    location / { return 200 "ok\n"; }
  }
  server {
    listen 127.0.0.1:$VERIFY_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.3;
    access_log $WORK/nginx-up/verify.log verify;
    location / { return 200 "ok\n"; }
  }
}
EOF
start upstream "$LOAD_CORE" "$WORK/upstream.log" nginx -p "$WORK/nginx-up" -c "$WORK/nginx-up/nginx.conf" -g 'daemon off;'
for _ in $(seq 1 100); do [ "$(curl -s --max-time 1 "http://127.0.0.1:$UP_PORT/" || true)" = "ok" ] && break; sleep 0.1; done
[ "$(curl -s --max-time 1 "http://127.0.0.1:$UP_PORT/" || true)" = "ok" ] || { echo "proxy.sh: upstream nginx did not start:" >&2; cat "$WORK/upstream.log" "$WORK/nginx-up/error.log" >&2; exit 1; }

# --- Proxies ----------------------------------------------------------------------------------
# All four: one worker, TLS 1.3 only, the same ECDSA P-256 certificate, ALPN http/1.1, Sluice's
# TLS 1.3 suite order (src/tls/settings.ts: AES-128-GCM first, server's preference) and groups,
# session tickets on, no access log, no per-connection request cap, a keep-alive pool of up to 64
# connections to the upstream.
SUITES=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
GROUPS_OPENSSL=X25519:prime256v1:secp384r1
GROUPS_NODE=X25519:P-256:P-384
start_sluice() {
  sluice_proxy_config "$SLUICE_PORT" "$SLUICE_ADMIN_PORT" "$UP_PORT" "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/sluice.yaml"
  if [ ! -f "$ROOT/dist/src/cli/main.js" ]; then
    echo "proxy.sh: Sluice is not built (no dist/src/cli/main.js): run 'npm run build' first" >&2
    return 1
  fi
  local prof=()
  if [ "$MODE" = profile ]; then mkdir -p "$WORK/prof"; prof=(--cpu-prof --cpu-prof-dir "$WORK/prof"); fi
  SLUICE_T0=$(date +%s%N)
  start sluice "$PROXY_CORE" "$WORK/sluice.log" node "${prof[@]}" "$ROOT/bin/sluice.js" serve --config "$WORK/sluice.yaml"
  wait_ok sluice "https://127.0.0.1:$SLUICE_PORT/"
}

start_nginx() {
  cat >"$WORK/nginx-proxy/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx-proxy/nginx.pid;
error_log $WORK/nginx-proxy/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  client_body_temp_path $WORK/nginx-proxy/body;
  proxy_temp_path $WORK/nginx-proxy/proxy;
  fastcgi_temp_path $WORK/nginx-proxy/fastcgi;
  uwsgi_temp_path $WORK/nginx-proxy/uwsgi;
  scgi_temp_path $WORK/nginx-proxy/scgi;
  upstream backend {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
  }
  server {
    listen 127.0.0.1:$NGINX_PORT ssl;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    ssl_protocols TLSv1.3;
    ssl_conf_command Ciphersuites $SUITES;
    ssl_prefer_server_ciphers on;
    ssl_ecdh_curve $GROUPS_OPENSSL;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
  start nginx "$PROXY_CORE" "$WORK/nginx.log" nginx -p "$WORK/nginx-proxy" -c "$WORK/nginx-proxy/nginx.conf" -g 'daemon off;'
  wait_ok nginx "https://127.0.0.1:$NGINX_PORT/"
}

start_haproxy() {
  cat >"$WORK/haproxy.cfg" <<EOF
global
  nbthread 1
  maxconn 8000
  ssl-default-bind-options ssl-min-ver TLSv1.3
  ssl-default-bind-ciphersuites $SUITES
  ssl-default-bind-curves $GROUPS_NODE
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
frontend fe
  bind 127.0.0.1:$HAPROXY_PORT ssl crt $WORK/haproxy.pem alpn http/1.1 ssl-min-ver TLSv1.3
  default_backend be
backend be
  http-reuse always
  server up 127.0.0.1:$UP_PORT pool-max-conn 64
EOF
  start haproxy "$PROXY_CORE" "$WORK/haproxy.log" haproxy -db -f "$WORK/haproxy.cfg"
  wait_ok haproxy "https://127.0.0.1:$HAPROXY_PORT/"
}

start_fastify() {
  (cd "$ROOT" && node -e 'require.resolve("fastify"); require.resolve("@fastify/http-proxy")' 2>/dev/null) ||
    { echo "proxy.sh: fastify / @fastify/http-proxy missing from node_modules (npm install)" >&2; return 1; }
  start fastify "$PROXY_CORE" "$WORK/fastify.log" node "$ROOT/bench/peers/fastify-proxy.mjs" "$FASTIFY_PORT" "127.0.0.1:$UP_PORT" "$WORK/cert.pem" "$WORK/key.pem" "$SUITES" "$GROUPS_NODE"
  wait_ok fastify "https://127.0.0.1:$FASTIFY_PORT/"
}

port_of() {
  case $1 in
    sluice) echo "$SLUICE_PORT" ;; nginx) echo "$NGINX_PORT" ;; haproxy) echo "$HAPROXY_PORT" ;; fastify) echo "$FASTIFY_PORT" ;;
    *) echo "proxy.sh: unknown target '$1' (sluice, nginx, haproxy, fastify)" >&2; return 1 ;;
  esac
}

IFS=, read -r -a TARGET_LIST <<<"$TARGETS"
for t in "${TARGET_LIST[@]}"; do port_of "$t" >/dev/null; done
for t in "${TARGET_LIST[@]}"; do "start_$t"; done

# --- What each proxy negotiates (same protocol, cipher, group and signature for all) ----------
echo
echo "TLS as negotiated by 'openssl s_client' (and whether TLS 1.2 is refused):"
for t in "${TARGET_LIST[@]}"; do
  p=$(port_of "$t")
  s=$(openssl s_client -connect "127.0.0.1:$p" -servername localhost -alpn http/1.1 </dev/null 2>&1 || true)
  proto=$(awk '/^New, /{ print $2 }' <<<"$s" | tr -d ,)
  cipher=$(awk '/^New, /{ print $NF }' <<<"$s")
  group=$(sed -n 's/^Server Temp Key: //p' <<<"$s")
  sig=$(sed -n 's/^Peer signature type: //p' <<<"$s")
  alpn=$(sed -n 's/^ALPN protocol: //p' <<<"$s")
  if openssl s_client -connect "127.0.0.1:$p" -servername localhost -tls1_2 </dev/null >/dev/null 2>&1; then t12=accepted; else t12=refused; fi
  printf '  %-8s %s %s, key exchange %s, signature %s, ALPN %s, TLS 1.2 %s\n' "$t" "$proto" "$cipher" "${group:-?}" "${sig:-?}" "${alpn:-none}" "$t12"
done

# --- Measurement helpers -----------------------------------------------------------------------
CLK_TCK=$(getconf CLK_TCK)
core_ticks() {   # core_ticks N -> "busy total" jiffies of core N since boot
  awk -v c="cpu$1" '$1 == c { busy = $2 + $3 + $4 + $7 + $8 + $9; print busy, busy + $5 + $6 }' /proc/stat
}
tree_ticks() {   # tree_ticks PID -> utime+stime of PID and its children (nginx's worker), all threads
  local pid=$1 sum=0 p
  for p in $pid $(cat "/proc/$pid/task/"*/children 2>/dev/null); do
    [ -r "/proc/$p/stat" ] || continue
    sum=$((sum + $(awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat")))
  done
  echo "$sum"
}
to_ms() {   # wrk latency (e.g. 812.00us, 1.23ms, 1.01s) -> milliseconds
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /m$/) { sub(/m$/, "", v); printf "%.3f", v * 60000 }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else printf "nan" }'
}
passive_opens() { awk '/^Tcp: / { if (!h) { for (i = 1; i <= NF; i++) col[$i] = i; h = 1 } else print $col["PassiveOpens"] }' /proc/net/snmp; }

# run_load KIND TARGET ROUND: one warm-up and one measured run (wrk for keepalive, hsload for
# handshake); appends a row to $WORK/results:
#   kind target round rps p99_ms errors proxy_cpu% load_core_busy% opens_per_request requests
#   proxy_core_busy%
run_load() {
  local kind=$1 t=$2 round=$3 p url out pid
  p=$(port_of "$t"); url="https://127.0.0.1:$p/"
  pid=$(pid_of "$t")
  local f="$WORK/$kind-$t-$round.txt"
  if [ "$kind" = keepalive ]; then
    run_load_gen "$f" wrk -t1 -c"$CONNS" -d"$WARMUP" "$url" || true
  else
    run_load_gen "$f" "$HSLOAD" -c "$CONNS" -d "${HS_WARMUP%s}" 127.0.0.1 "$p" || true
  fi
  local c0 c1 pt0 po0 c0b c1b pt1 po1
  c0=$(core_ticks "$PROXY_CORE"); c1=$(core_ticks "$LOAD_CORE"); pt0=$(tree_ticks "$pid"); po0=$(passive_opens)
  if [ "$kind" = keepalive ]; then
    run_load_gen "$f" wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$url" || { echo "wrk failed against $t: $(cat "$f")" >&2; return 1; }
  else
    run_load_gen "$f" "$HSLOAD" -c "$CONNS" -d "${HS_DURATION%s}" 127.0.0.1 "$p" || { echo "hsload failed against $t: $(cat "$f")" >&2; return 1; }
  fi
  out=$(cat "$f")
  c0b=$(core_ticks "$PROXY_CORE"); c1b=$(core_ticks "$LOAD_CORE"); pt1=$(tree_ticks "$pid"); po1=$(passive_opens)
  local rps p99 reqs secs errs proxy_cpu proxy_core load_core opens note=""
  if [ "$kind" = keepalive ]; then
    rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    read -r reqs secs < <(awk '/ requests in / { r = $1; s = $4; sub(/s,$/, "", s); print r, s }' <<<"$out")
    errs=$(awk '/Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } /Non-2xx or 3xx responses:/ { n += $NF } END { print n + 0 }' <<<"$out")
  else
    kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$out"; }
    rps=$(kv rate); p99=$(kv p99_ms); reqs=$(kv completed); secs=$(kv seconds); errs=$(kv errors)
    [ "$(kv resumed)" = 0 ] || note="  RESUMED $(kv resumed) (not full handshakes)"
    [ "$errs" = 0 ] || note+="  first error: $(sed -n 's/.*first_error=//p' <<<"$out")"
  fi
  proxy_cpu=$(awk -v a="$pt0" -v b="$pt1" -v hz="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.0f", 100 * (b - a) / hz / s }')
  busy_pct() { awk -v a="${1% *}" -v b="${2% *}" -v ta="${1#* }" -v tb="${2#* }" 'BEGIN { printf "%.0f", ((tb > ta) ? 100 * (b - a) / (tb - ta) : 0) }'; }
  proxy_core=$(busy_pct "$c0" "$c0b"); load_core=$(busy_pct "$c1" "$c1b")
  opens=$(awk -v a="$po0" -v b="$po1" -v r="$reqs" 'BEGIN { printf "%.2f", (r > 0 ? (b - a) / r : 0) }')
  echo "$kind $t $round $rps $p99 $errs $proxy_cpu $load_core $opens $reqs $proxy_core" >>"$WORK/results"
  printf '  round %d %-9s %-8s %9.0f req/s  p99 %7.2f ms  errors %-5s proxy CPU %3s%% (core %s busy %3s%%)  core %s busy %3s%%%s%s\n' \
    "$round" "$kind" "$t" "$rps" "$p99" "$errs" "$proxy_cpu" "$PROXY_CORE" "$proxy_core" "$LOAD_CORE" "$load_core" \
    "$([ "$kind" = handshake ] && echo "  TCP opens/req $opens")" "$note"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else print v[int((NR + 1) / 2)] }'; }

summary() {   # summary KIND TITLE
  local kind=$1 title=$2 t rps p99 cpu c0 c1 errs eff
  col() { awk -v k="$kind" -v t="$1" -v c="$2" '$1 == k && $2 == t { print $c }' "$WORK/results" | median; }
  echo
  echo "$title"
  printf '  %-8s %10s %9s %7s %10s %12s %12s %16s\n' proxy "req/s" "p99 ms" errors "proxy CPU" "core $PROXY_CORE busy" "core $LOAD_CORE busy" "req/proxy-CPU-s"
  for t in "${TARGET_LIST[@]}"; do
    rps=$(col "$t" 4); p99=$(col "$t" 5); cpu=$(col "$t" 7); c1=$(col "$t" 8); c0=$(col "$t" 11)
    errs=$(awk -v k="$kind" -v t="$t" '$1 == k && $2 == t { n += $6 } END { print n + 0 }' "$WORK/results")
    # Efficiency per run, then its median (not the ratio of two medians from different runs).
    eff=$(awk -v k="$kind" -v t="$t" '$1 == k && $2 == t { print ($7 > 0 ? $4 * 100 / $7 : 0) }' "$WORK/results" | median)
    echo "$t $rps $p99 $eff" >>"$WORK/medians-$kind"
    printf '  %-8s %10.0f %9.2f %7s %9s%% %11s%% %11s%% %16.0f\n' "$t" "$rps" "$p99" "$errs" "$cpu" "$c0" "$c1" "$eff"
  done
  if grep -q '^sluice ' "$WORK/medians-$kind"; then
    read -r _ s_rps s_p99 s_eff < <(grep '^sluice ' "$WORK/medians-$kind")
    for t in "${TARGET_LIST[@]}"; do
      [ "$t" = sluice ] && continue
      read -r _ rps p99 eff < <(grep "^$t " "$WORK/medians-$kind")
      awk -v t="$t" -v sr="$s_rps" -v r="$rps" -v sp="$s_p99" -v p="$p99" -v se="$s_eff" -v e="$eff" 'BEGIN {
        printf "  Sluice / %-8s req/s x%.2f   p99 x%.2f   req/proxy-CPU-s x%.2f\n", t, (r > 0 ? sr / r : 0), (p > 0 ? sp / p : 0), (e > 0 ? se / e : 0) }'
    done
  fi
}

# --- Handshake check: which client really does one full handshake per request? ---------------
# The verify server (nginx, idle otherwise) logs each request's connection serial and
# $ssl_session_reused. wrk with `Connection: close` reconnects per request but resumes the TLS
# session (so does h2load), which skips the certificate signature; hsload never resumes.
verify_handshakes() {
  local name=$1 out reqs lines conns resumed
  shift
  : >"$WORK/nginx-up/verify.log"
  run_load_gen "$WORK/verify-$name.txt" "$@" || true
  out=$(cat "$WORK/verify-$name.txt")
  sleep 0.2
  case $name in
    wrk) reqs=$(awk '/ requests in / { print $1 }' <<<"$out") ;;
    hsload) reqs=$(sed -n 's/.*completed=\([0-9]*\).*/\1/p' <<<"$out") ;;
  esac
  lines=$(wc -l <"$WORK/nginx-up/verify.log")
  conns=$(awk '{ print $1 }' "$WORK/nginx-up/verify.log" | sort -u | wc -l)
  resumed=$(awk '$2 == "r"' "$WORK/nginx-up/verify.log" | wc -l)
  printf '  %-7s %s requests counted; server: %s requests, %s connections, %s resumed TLS sessions => %s\n' \
    "$name" "${reqs:-?}" "$lines" "$conns" "$resumed" \
    "$([ "$lines" -gt 0 ] && [ "$conns" -eq "$lines" ] && [ "$resumed" -eq 0 ] && echo 'full handshake per request' || echo 'NOT a full handshake per request')"
  if [ "$name" = hsload ] && { [ "$lines" -eq 0 ] || [ "$conns" -ne "$lines" ] || [ "$resumed" -ne 0 ]; }; then
    echo "proxy.sh: hsload did not do one full handshake per request; refusing to report handshake figures" >&2
    return 1
  fi
}

# --- Profile mode: Sluice alone under keep-alive load, node --cpu-prof, top self-time functions --
if [ "$MODE" = profile ]; then
  echo
  pid=$(pid_of sluice)
  # Warm-up first (JIT, pools), then only the measured load's samples are summarised.
  if [ "$PROFILE_LOAD" = handshake ]; then
    run_load_gen "$WORK/profile-warm.txt" "$HSLOAD" -c "$CONNS" -d "${HS_WARMUP%s}" 127.0.0.1 "$SLUICE_PORT" || true
  else
    run_load_gen "$WORK/profile-warm.txt" wrk -t1 -c"$CONNS" -d"$WARMUP" "https://127.0.0.1:$SLUICE_PORT/" || true
  fi
  t0=$(tree_ticks "$pid")
  load_t0=$(date +%s%N)
  if [ "$PROFILE_LOAD" = handshake ]; then
    echo "profiling Sluice: hsload -c $CONNS -d ${PROFILE_DURATION%s} (full handshakes), node --cpu-prof"
    run_load_gen "$WORK/profile-load.txt" "$HSLOAD" -c "$CONNS" -d "${PROFILE_DURATION%s}" 127.0.0.1 "$SLUICE_PORT" || true
  else
    echo "profiling Sluice: wrk -t1 -c$CONNS -d$PROFILE_DURATION --latency (keep-alive), node --cpu-prof"
    run_load_gen "$WORK/profile-load.txt" wrk -t1 -c"$CONNS" -d"$PROFILE_DURATION" --latency "https://127.0.0.1:$SLUICE_PORT/" || true
  fi
  load_t1=$(date +%s%N)
  sed 's/^/  /' "$WORK/profile-load.txt"
  t1=$(tree_ticks "$pid")
  echo "  Sluice CPU time during the run: $(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f s", (b - a) / hz }')"
  stop_all
  prof_file=$(ls "$WORK"/prof/*.cpuprofile 2>/dev/null | head -1 || true)
  if [ -z "$prof_file" ]; then echo "proxy.sh: no .cpuprofile written (did Sluice exit cleanly on SIGTERM?)" >&2; exit 1; fi
  mkdir -p "$ROOT/bench/out"
  printf '*\n' >"$ROOT/bench/out/.gitignore"   # profiles are outputs, never committed
  cp "$prof_file" "$ROOT/bench/out/sluice-$PROFILE_LOAD.cpuprofile"
  echo "  profile kept at bench/out/sluice-$PROFILE_LOAD.cpuprofile (open in Chrome DevTools > Performance)"
  echo
  # The window in profile time: the profile starts when node starts, a few ms after SLUICE_T0.
  from_ms=$(( (load_t0 - SLUICE_T0) / 1000000 )); to_ms=$(( (load_t1 - SLUICE_T0) / 1000000 ))
  echo "  summarising the load window only: node bench/cpuprofile-top.mjs bench/out/sluice-$PROFILE_LOAD.cpuprofile 15 --window $from_ms $to_ms"
  echo
  node "$ROOT/bench/cpuprofile-top.mjs" "$ROOT/bench/out/sluice-$PROFILE_LOAD.cpuprofile" 15 --window "$from_ms" "$to_ms"
  exit 0
fi

# --- The runs ----------------------------------------------------------------------------------
echo
echo "handshake check (1 s each, against a logging nginx TLS server on core $LOAD_CORE):"
verify_handshakes wrk wrk -t1 -c10 -d1s -H 'Connection: close' "https://127.0.0.1:$VERIFY_PORT/"
verify_handshakes hsload "$HSLOAD" -c 10 -d 1 127.0.0.1 "$VERIFY_PORT"
echo
echo "keep-alive: wrk -t1 -c$CONNS -d$DURATION --latency, warm-up $WARMUP before each run, $ROUNDS interleaved rounds"
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  for t in "${TARGET_LIST[@]}"; do run_load keepalive "$t" "$round"; done
done
echo
echo "handshakes: hsload -c $CONNS -d ${HS_DURATION%s} (new connection + full TLS 1.3 handshake + GET per request), warm-up $HS_WARMUP before each run, $ROUNDS interleaved rounds"
for round in $(seq 1 "$ROUNDS"); do
  for t in "${TARGET_LIST[@]}"; do run_load handshake "$t" "$round"; done
done

summary keepalive "== keep-alive HTTP/1.1 over TLS 1.3, median of $ROUNDS (wrk -t1 -c$CONNS -d$DURATION --latency)"
summary handshake "== full TLS 1.3 handshakes per second (new connection, full handshake, one request), median of $ROUNDS (hsload -c $CONNS -d ${HS_DURATION%s})"
echo
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min) at end"
cat <<EOF
notes:    2 cores only; other work on this machine shares them (see the core-busy columns and load).
          proxy CPU = CPU time of the proxy (with nginx's worker) per wall second. Below ~95% the
          proxy was not saturated: either core $LOAD_CORE (load generator + upstream) was the limit
          (core $LOAD_CORE busy ~100%) or other processes took core $PROXY_CORE (core $PROXY_CORE busy
          well above proxy CPU). req/proxy-CPU-s = req/s / proxy CPU share: requests (or full
          handshakes) per second of proxy CPU, the figure least disturbed by either; it still
          rises with load (more requests per wake-up and syscall), so compare proxies at similar
          proxy CPU, and trust req/s and p99 only when every proxy ran near 100%.
          errors = wrk socket errors + non-2xx, or hsload failures, summed over all rounds.
          TCP opens/req counts passive opens machine-wide (1.00 = one connection per request).
EOF
