#!/usr/bin/env bash
# The whole test suite: Debian peers first (curl, openssl, wrk, nghttp2...), then the build
# (TypeScript and the native addon), then every test under test/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash test/deps.sh
[ -d node_modules ] || npm ci
npm run --silent build
exec npx tap "$@"
