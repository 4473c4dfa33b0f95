#!/usr/bin/env bash
# Rebuild contracts/build/ from the Solidity sources with the pinned solcjs (npm `solc`), installed into
# target/devnet/solc on first use. The output is committed; tests deploy it from there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
SOLC_VERSION=0.8.28
cache="${CARGO_TARGET_DIR:-$root/target}/devnet/solc-$SOLC_VERSION"
if [ ! -f "$cache/node_modules/solc/package.json" ]; then
  mkdir -p "$cache"
  echo '{"private":true}' > "$cache/package.json"
  (cd "$cache" && npm install --no-audit --no-fund --save-exact "solc@$SOLC_VERSION")
fi
SOLC_MODULE="$cache/node_modules/solc" node "$here/build.js"
