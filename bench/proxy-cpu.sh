#!/usr/bin/env bash
# bench/proxy-cpu.sh: Sluice's CPU cost per proxied keep-alive request, for comparing builds.
#
# The keep-alive load of bench/proxy.sh (TLS 1.3 ECDSA P-256 terminating, HTTP/1.1 to a one-worker
# nginx upstream, wrk -t1 -c50) against one Sluice per build given, runs interleaved
# (A B A B ...), and reports Sluice's CPU milliseconds per 1,000 requests (utime+stime from
# /proc/PID/stat over the measured run): on a shared machine req/s swings with whatever else runs,
# while CPU per request stays put, so this is the figure to compare builds with.
#
# Usage: bash bench/proxy-cpu.sh [DIR...]
#   DIR: a Sluice tree with bin/sluice.js and a built dist/ (default: this repo). To A/B a change,
#   snapshot the build before it, e.g. `bash bench/proxy-cpu.sh --snapshot /tmp/sluice-before`
#   (copies bin/, dist/, native/build and package.json, links node_modules), then change, build and
#   run `bash bench/proxy-cpu.sh /tmp/sluice-before .`.
# Tunables (environment): ROUNDS (5) DURATION (10s) WARMUP (2s) CONNS (50) PROXY_CORE (0)
#   LOAD_CORE (1) RATE (unset)
# RATE=N: a fixed offered load of N req/s (h2load --h1 --rps, CONNS connections) instead of wrk's
#   closed loop. CPU per request falls as load rises (more requests per event-loop wake-up), and
#   under wrk the load each build gets depends on what else the machine runs; at a fixed rate
#   below saturation every build does the same work per wake-up, which is the steadier A/B.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/proxy-lib.sh
. "$ROOT/bench/proxy-lib.sh"
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNS=${CONNS:-50}
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-1}

if [ "${1:-}" = "--snapshot" ]; then
  dest=${2:?usage: bash bench/proxy-cpu.sh --snapshot DEST}
  [ -f "$ROOT/dist/src/cli/main.js" ] || { echo "proxy-cpu.sh: not built: run 'npm run build' first" >&2; exit 1; }
  rm -rf "$dest"
  mkdir -p "$dest/native"
  cp -r "$ROOT/bin" "$ROOT/dist" "$ROOT/package.json" "$dest/"
  [ -d "$ROOT/native/build" ] && cp -r "$ROOT/native/build" "$dest/native/"
  ln -s "$ROOT/node_modules" "$dest/node_modules"
  echo "snapshot of $ROOT's build at $dest ($(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet -- src || echo '+changes'))"
  exit 0
fi

# An argument DIR+FLAGS runs that build with node FLAGS (comma-separated), e.g.
# /tmp/sluice-before+--max-semi-space-size=32, to measure a V8 setting on the same build.
DIRS=(); FLAGS=()
for a in "$@"; do
  if [[ "$a" == *+--* ]]; then DIRS+=("${a%%+--*}"); FLAGS+=("--${a#*+--}"); else DIRS+=("$a"); FLAGS+=(""); fi
done
[ ${#DIRS[@]} -gt 0 ] || { DIRS=("$ROOT"); FLAGS=(""); }
NAMES=("${@:-$ROOT}")
for d in "${DIRS[@]}"; do
  [ -f "$d/bin/sluice.js" ] && [ -f "$d/dist/src/cli/main.js" ] || { echo "proxy-cpu.sh: $d has no bin/sluice.js and built dist/" >&2; exit 1; }
done
RATE=${RATE:-}
for tool in node openssl nginx wrk taskset curl $([ -n "$RATE" ] && echo h2load); do
  command -v "$tool" >/dev/null || { echo "proxy-cpu.sh: '$tool' not found" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-cpu.XXXXXX")
PIDS=()
LOAD_PID=""
cleanup() {
  local rc=$? p
  trap - EXIT INT TERM
  if [ -n "$LOAD_PID" ]; then kill -TERM "$LOAD_PID" 2>/dev/null || true; fi
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

read -r -a PORTS <<<"$(free_ports $((1 + 2 * ${#DIRS[@]})))"
UP_PORT=${PORTS[0]}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
  -subj /CN=localhost -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

# The upstream: the same one-worker nginx as bench/proxy.sh.
mkdir -p "$WORK/up"
cat >"$WORK/up/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/up/nginx.pid;
error_log $WORK/up/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $WORK/up/body;
  proxy_temp_path $WORK/up/proxy;
  fastcgi_temp_path $WORK/up/fastcgi;
  uwsgi_temp_path $WORK/up/uwsgi;
  scgi_temp_path $WORK/up/scgi;
  server {
    listen 127.0.0.1:$UP_PORT;
    location / { return 200 "ok\n"; }
  }
}
EOF
taskset -c "$LOAD_CORE" nginx -p "$WORK/up" -c "$WORK/up/nginx.conf" -g 'daemon off;' >"$WORK/up.log" 2>&1 &
PIDS+=($!)

# One Sluice per build, the config of bench/proxy.sh.
SLUICE_PID=(); SLUICE_PORT=()
for i in "${!DIRS[@]}"; do
  port=${PORTS[$((1 + 2 * i))]}; admin=${PORTS[$((2 + 2 * i))]}
  sluice_proxy_config "$port" "$admin" "$UP_PORT" "$WORK/cert.pem" "$WORK/key.pem" >"$WORK/sluice-$i.yaml"
  IFS=, read -r -a nflags <<<"${FLAGS[$i]}"
  taskset -c "$PROXY_CORE" node "${nflags[@]}" "${DIRS[$i]}/bin/sluice.js" serve --config "$WORK/sluice-$i.yaml" >"$WORK/sluice-$i.log" 2>&1 &
  PIDS+=($!); SLUICE_PID+=($!); SLUICE_PORT+=("$port")
done
for i in "${!DIRS[@]}"; do
  ok=""
  for _ in $(seq 1 200); do
    [ "$(curl -sk --max-time 2 "https://127.0.0.1:${SLUICE_PORT[$i]}/" 2>/dev/null || true)" = ok ] && { ok=1; break; }
    sleep 0.1
  done
  [ -n "$ok" ] || { echo "proxy-cpu.sh: Sluice from ${DIRS[$i]} did not answer 'ok':" >&2; cat "$WORK/sluice-$i.log" >&2; exit 1; }
done

CLK_TCK=$(getconf CLK_TCK)
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
load() {   # load OUT CMD...: in the background, so a Ctrl-C reaches the trap
  local out=$1; shift
  taskset -c "$LOAD_CORE" "$@" >"$out" 2>&1 &
  LOAD_PID=$!; wait "$LOAD_PID" || true; LOAD_PID=""
}

echo "== bench/proxy-cpu.sh  $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$([ -n "$RATE" ] && echo "h2load --h1 -c$CONNS at $RATE req/s -D ${DURATION%s}" || echo "wrk -t1 -c$CONNS -d$DURATION") (warm-up $WARMUP) per build, $ROUNDS interleaved rounds; Sluice on core $PROXY_CORE, wrk and nginx on core $LOAD_CORE"
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  for i in "${!DIRS[@]}"; do
    url="https://127.0.0.1:${SLUICE_PORT[$i]}/"
    if [ -n "$RATE" ]; then
      rps_each=$(( (RATE + CONNS - 1) / CONNS ))
      load "$WORK/warm.txt" h2load --h1 -c"$CONNS" --rps="$rps_each" -D "${WARMUP%s}" "$url"
      t0=$(ticks "${SLUICE_PID[$i]}")
      load "$WORK/run.txt" h2load --h1 -c"$CONNS" --rps="$rps_each" -D "${DURATION%s}" "$url"
      t1=$(ticks "${SLUICE_PID[$i]}")
      reqs=$(awk '/^status codes:/ { print $3 }' "$WORK/run.txt")
      rps=$(awk '/^finished in/ { gsub(/,/, ""); print $4 }' "$WORK/run.txt")
      errs=$(awk '/^requests:/ { print $10 + $12 }' "$WORK/run.txt")   # errored + timeout
      [ "$(awk '/^status codes:/ { print $3 }' "$WORK/run.txt")" = "$(awk '/^requests:/ { print $8 }' "$WORK/run.txt")" ] || errs=non2xx
    else
      load "$WORK/warm.txt" wrk -t1 -c"$CONNS" -d"$WARMUP" "$url"
      t0=$(ticks "${SLUICE_PID[$i]}")
      load "$WORK/run.txt" wrk -t1 -c"$CONNS" -d"$DURATION" "$url"
      t1=$(ticks "${SLUICE_PID[$i]}")
      reqs=$(awk '/ requests in / { print $1 }' "$WORK/run.txt")
      rps=$(awk '/^Requests\/sec:/ { print $2 }' "$WORK/run.txt")
      errs=$(awk '/Non-2xx|Socket errors/ { n++ } END { print n + 0 }' "$WORK/run.txt")
    fi
    cpu_ms=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN { printf "%.0f", 1000 * (b - a) / hz }')
    per=$(awk -v c="$cpu_ms" -v r="$reqs" 'BEGIN { printf "%.2f", (r > 0 ? 1000 * c / r : 0) }')
    echo "$i $per $rps $round" >>"$WORK/results"
    printf '  round %d  %-28s %9.0f req/s  CPU %6s ms for %8s requests = %6s ms / 1000 req%s\n' \
      "$round" "${NAMES[$i]}" "$rps" "$cpu_ms" "$reqs" "$per" "$([ "$errs" = 0 ] || echo "  ERRORS: $(grep -E 'Non-2xx|Socket errors|^requests:|^status codes:' "$WORK/run.txt" | tr '\n' ' ')")"
  done
done
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
echo "median CPU ms per 1000 requests (lower is better):"
for i in "${!DIRS[@]}"; do
  med=$(awk -v k="$i" '$1 == k { print $2 }' "$WORK/results" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')
  all=$(awk -v k="$i" '$1 == k { print $2 }' "$WORK/results" | tr '\n' ' ')
  printf '  %-28s %6s   (runs: %s)\n' "${NAMES[$i]}" "$med" "$all"
done
if [ ${#DIRS[@]} -gt 1 ]; then
  # Paired by round: each build against the first in the same round (slow swings in the
  # machine's other load cancel out), then the median of those ratios.
  echo "paired by round, CPU per request relative to ${NAMES[0]} (median of the rounds' ratios):"
  for i in "${!DIRS[@]}"; do
    [ "$i" = 0 ] && continue
    ratios=$(awk -v k="$i" '$1 == 0 { base[$4] = $2 } $1 == k { mine[$4] = $2 }
      END { for (r in mine) if (base[r] > 0) printf "%.3f\n", mine[r] / base[r] }' "$WORK/results" | sort -g)
    printf '  %-28s x%s   (rounds: %s)\n' "${NAMES[$i]}" "$(median <<<"$ratios")" "$(tr '\n' ' ' <<<"$ratios")"
  done
fi
echo "load $(cut -d' ' -f1-3 /proc/loadavg) at end"
