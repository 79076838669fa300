#!/usr/bin/env bash
# Builds the XDP packet filter (native/xdp/filter.bpf.c) into native/build/xdp/filter.bpf.o when
# clang and libbpf's headers are present. Absent tools are not an error: the addon and Sluice
# build without XDP, native/build/xdp/UNAVAILABLE records why, and `sluice doctor` repeats it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
out="$root/native/build/xdp"
mkdir -p "$out"
rm -f "$out/filter.bpf.o" "$out/UNAVAILABLE"
unavailable() {
  echo "$1" >"$out/UNAVAILABLE"
  echo "sluice: XDP filter not built: $1" >&2
  exit 0
}
command -v clang >/dev/null || unavailable "clang is not installed (apt-get install clang llvm)"
[ -f /usr/include/bpf/bpf_helpers.h ] || pkg-config --exists libbpf 2>/dev/null ||
  unavailable "libbpf headers are missing (apt-get install libbpf-dev)"
cflags=()
if pkg-config --exists libbpf 2>/dev/null; then
  read -r -a cflags <<<"$(pkg-config --cflags libbpf)"
fi
# asm/types.h lives under the multiarch include dir, which -target bpf does not search.
multiarch="$(gcc -print-multiarch 2>/dev/null || true)"
[ -n "$multiarch" ] && [ -d "/usr/include/$multiarch" ] && cflags+=("-I/usr/include/$multiarch")
# filter.bpf.o: plain XDP (TAP and net_af_packet paths); filter_xsk.bpf.o: the same filter that
# redirects what it passes into AF_XDP sockets (DPDK net_af_xdp's xdp_prog).
for variant in filter:"" filter_xsk:-DSLUICE_XSK; do
  name="${variant%%:*}"
  if ! log="$(clang -O2 -g -Wall -Werror -target bpf "${cflags[@]}" ${variant#*:} -c "$root/native/xdp/filter.bpf.c" -o "$out/$name.bpf.o" 2>&1)"; then
    echo "$log" >&2
    rm -f "$out/filter.bpf.o" "$out/filter_xsk.bpf.o"
    unavailable "clang failed to compile native/xdp/filter.bpf.c: $(echo "$log" | grep -m1 error || echo "$log" | tail -1)"
  fi
done
echo "sluice: built native/build/xdp/filter.bpf.o and filter_xsk.bpf.o" >&2
