#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/, one after the other (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash bench/proxy.sh
