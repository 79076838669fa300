#!/usr/bin/env bash
# `npm run bench`: every benchmark in bench/, one after the other (see bench/README.md).
# bench/poll-trace.ts is a fixture recorder, not a benchmark, so it is not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
node --import tsx bench/routes.ts
node --import tsx bench/http1-parse.ts
node --import tsx bench/tcp-memory.ts
node --import tsx bench/port-memory.ts
bash bench/proxy.sh
