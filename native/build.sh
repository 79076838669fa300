#!/usr/bin/env bash
# Builds native/build/Release/sluice_native.node with node-gyp against the headers of the Node
# that runs this script (so the ABI always matches), without any download when the distribution
# ships them (Debian/NodeSource nodejs installs <prefix>/include/node).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
gyp="$root/node_modules/.bin/node-gyp"
if [ ! -x "$gyp" ]; then
  echo "sluice: node-gyp is missing from node_modules; run 'npm ci' first" >&2
  exit 1
fi
prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
args=(rebuild --directory native --loglevel=warn)
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$prefix/include/node/common.gypi" ]; then
  args+=("--nodedir=$prefix")
fi
for tool in make g++ python3; do
  command -v "$tool" >/dev/null || { echo "sluice: building the native addon needs '$tool' (apt-get install make g++ python3)" >&2; exit 1; }
done
"$gyp" "${args[@]}" >&2
test -f native/build/Release/sluice_native.node
# After node-gyp: its rebuild starts by removing native/build.
bash native/xdp/build.sh
echo "sluice: built native/build/Release/sluice_native.node" >&2
