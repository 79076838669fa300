#!/usr/bin/env bash
# The Debian packages Sluice's tests and benchmarks drive as real peers. Installs the missing ones
# when run as root; otherwise prints the exact command and fails.
set -euo pipefail
pkgs=(curl openssl wrk nghttp2-client nginx-light haproxy iproute2 ethtool procps util-linux
      pkg-config libdpdk-dev clang llvm libbpf-dev libelf-dev bpftool python3 make g++)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "sluice: installing Debian packages the tests need: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # nginx and haproxy are peers for bench/, never services of this machine.
  systemctl disable --now nginx haproxy >/dev/null 2>&1 || true
else
  echo "sluice: missing Debian packages; run:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
