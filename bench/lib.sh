# bench/lib.sh: what bench/bypass.sh and bench/paths.sh share (sourced, not run). Both run one
# Sluice in a server namespace ($NS_S) and their clients in a client namespace ($NS_C) pinned to
# $LOAD_CORE, keep their files in $WORK, and remove all of it on exit, Ctrl-C or SIGTERM.
# Before sourcing: NS_S, NS_C, WORK, LOAD_CORE; optionally CLEANUP_PATHS (more paths to remove).

SLUICE_PID=""
TICK=$(getconf CLK_TCK)

stop_sluice() {
  [ -n "$SLUICE_PID" ] || return 0
  kill -TERM "$SLUICE_PID" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SLUICE_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SLUICE_PID" 2>/dev/null || true
  wait "$SLUICE_PID" 2>/dev/null || true
  SLUICE_PID=""
}

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_sluice
  ip netns del "$NS_C" 2>/dev/null || true
  ip netns del "$NS_S" 2>/dev/null || true
  # shellcheck disable=SC2086 # CLEANUP_PATHS is a list
  rm -rf "$WORK" ${CLEANUP_PATHS:-}
  exit $rc
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

in_s() { ip netns exec "$NS_S" "$@"; }
in_c() { ip netns exec "$NS_C" "$@"; }
load() { in_c taskset -c "$LOAD_CORE" "$@"; }

# Numbers on stdin, one per line -> their median (0 when there are none).
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# Sluice's utime + stime in clock ticks ($TICK per second).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SLUICE_PID/stat"; }

# wrk's output on stdin -> "requests reqs_per_s p99_ms MBps errflag" (errflag ERR when wrk saw
# socket errors or non-2xx answers, or completed nothing; - otherwise).
wrk_fields() {
  awk '
    / requests in / { n = $1 }
    /Requests\/sec/ { rps = $2 }
    /^ +99%/ { v = $2; if (v ~ /us$/) { sub(/us/, "", v); p = v / 1000 } else if (v ~ /ms$/) { sub(/ms/, "", v); p = v } else if (v ~ /s$/) { sub(/s/, "", v); p = v * 1000 } }
    /Transfer\/sec/ { v = $2; if (v ~ /GB/) { sub(/GB/, "", v); mb = v * 1024 } else if (v ~ /MB/) { sub(/MB/, "", v); mb = v } else if (v ~ /KB/) { sub(/KB/, "", v); mb = v / 1024 } else { mb = v / 1048576 } }
    /Socket errors/ { err = 1 }
    /Non-2xx/ { err = 1 }
    END { printf "%d %s %s %s %s\n", n, rps + 0, (p == "" ? 0 : p), mb + 0, (err || n == 0 ? "ERR" : "-") }'
}
