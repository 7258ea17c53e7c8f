#!/usr/bin/env bash
# Build the native addon for every target this Linux x64 machine can reach and put each
# binary in its napi-rs v3 platform package, npm/<platform>/kyrodb.<platform>.node.
#
#   scripts/build-targets.sh                  # every reachable target (see TARGETS below)
#   scripts/build-targets.sh x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
#
# How: `napi build --platform --release --strip --cross-compile` (cargo-zigbuild with zig as
# the linker). glibc targets are built against glibc 2.17 (`<triple>.2.17`, zig's libc
# version pin), so the binary loads on any distribution from 2014 on (RHEL/CentOS 7,
# Debian 8, Ubuntu 14.04); a plain `cargo build` on this Debian 12 host needs GLIBC_2.34.
# musl targets are dynamically linked against musl (-crt-static, as napi-rs does); darwin
# targets link against zig's bundled macOS libSystem stubs (no SDK needed for this crate).
# x86_64-pc-windows-msvc is not attempted: it needs the MSVC CRT and Windows SDK
# (cargo-xwin downloads them from Microsoft, unreachable here); the release workflow builds
# it on a Windows runner.
#
# Needs: rustup targets, zig (PyPI `ziglang`, found by cargo-zigbuild as `python3 -m ziglang`
# when `zig` is not on PATH) and cargo-zigbuild (PyPI `cargo-zigbuild` or `cargo install
# cargo-zigbuild`). `scripts/build-targets.sh --setup` installs what is missing.
#
# Builds use their own target dir (CARGO_TARGET_DIR, default ./target-cross) so they never
# invalidate the host build in ./target, and take /tmp/kyrodb-build.lock (flock) so only one
# heavy build runs at a time on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

ALL_TARGETS=(
  x86_64-unknown-linux-gnu
  aarch64-unknown-linux-gnu
  x86_64-unknown-linux-musl
  aarch64-unknown-linux-musl
  x86_64-apple-darwin
  aarch64-apple-darwin
)
GLIBC_FLOOR=${KYRODB_GLIBC_FLOOR:-2.17}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target-cross}
LOCK=${KYRODB_BUILD_LOCK:-/tmp/kyrodb-build.lock}

setup=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --setup) setup=1 ;;
    -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
    x86_64-pc-windows-msvc)
      echo "x86_64-pc-windows-msvc cannot be built here (MSVC CRT/Windows SDK unreachable): see .github/workflows/release.yml" >&2
      exit 2 ;;
    -*) echo "unknown flag $arg" >&2; exit 2 ;;
    *) targets+=("$arg") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

# napi-rs platform package name (npm/<platform>) for a Rust target triple.
platform_of() {
  case "$1" in
    x86_64-unknown-linux-gnu) echo linux-x64-gnu ;;
    aarch64-unknown-linux-gnu) echo linux-arm64-gnu ;;
    x86_64-unknown-linux-musl) echo linux-x64-musl ;;
    aarch64-unknown-linux-musl) echo linux-arm64-musl ;;
    x86_64-apple-darwin) echo darwin-x64 ;;
    aarch64-apple-darwin) echo darwin-arm64 ;;
    *) return 1 ;;
  esac
}

# The oldest macOS a Mach-O binary loads on (minos of LC_BUILD_VERSION, or the version of
# LC_VERSION_MIN_MACOSX) and whether it carries a code signature (LC_CODE_SIGNATURE: arm64
# macOS refuses unsigned code; the linker signs ad hoc), read with node, no Apple tools.
macos_min() {
  node -e '
    const b = require("fs").readFileSync(process.argv[1])
    if (b.readUInt32LE(0) !== 0xfeedfacf) { console.log("? (not a 64-bit Mach-O)"); process.exit() }
    let min = "?", signed = false
    for (let i = 0, off = 32, n = b.readUInt32LE(16); i < n; i++) {
      const cmd = b.readUInt32LE(off), size = b.readUInt32LE(off + 4)
      if (cmd === 0x32 || cmd === 0x24) {
        const v = b.readUInt32LE(off + (cmd === 0x32 ? 12 : 8))
        min = `${v >>> 16}.${(v >> 8) & 0xff}`
      }
      if (cmd === 0x1d) signed = true
      off += size
    }
    console.log(`${min}, ${signed ? "code-signed" : "unsigned"}`)' "$1"
}

have_zig() { command -v zig >/dev/null 2>&1 || python3 -m ziglang version >/dev/null 2>&1; }

if [ "$setup" = 1 ]; then
  echo "== setup: rustup targets, zig, cargo-zigbuild"
  rustup target add "${targets[@]}"
  have_zig || python3 -m pip install --quiet ziglang
  # The PyPI wheel ships a prebuilt cargo-zigbuild; fall back to compiling it.
  if ! cargo zigbuild --help >/dev/null 2>&1; then
    python3 -m pip install --quiet cargo-zigbuild || flock "$LOCK" cargo install --locked cargo-zigbuild
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
  fi
fi

for t in "${targets[@]}"; do
  platform_of "$t" >/dev/null || { echo "unknown or unsupported target $t" >&2; exit 2; }
  rustup target list --installed | grep -qx "$t" || { echo "rust target $t is not installed: rustup target add $t (or run with --setup)" >&2; exit 2; }
done
have_zig || { echo "zig not found: pip install ziglang (or run with --setup)" >&2; exit 2; }
cargo zigbuild --help >/dev/null 2>&1 || { echo "cargo-zigbuild not found: pip install cargo-zigbuild (or run with --setup)" >&2; exit 2; }

echo "== toolchain: $(rustc --version); $(cargo-zigbuild --version 2>/dev/null || echo cargo-zigbuild); zig $(zig version 2>/dev/null || python3 -m ziglang version)"
echo "== target dir: $CARGO_TARGET_DIR"

NAPI="$ROOT/node_modules/.bin/napi"
[ -x "$NAPI" ] || { echo "@napi-rs/cli is not installed: run npm ci first" >&2; exit 2; }
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT

declare -A status size floor
failed=0
for t in "${targets[@]}"; do
  p=$(platform_of "$t")
  zt=$t
  case "$t" in *-linux-gnu) zt="$t.$GLIBC_FLOOR" ;; esac
  out="$STAGE/$p"
  mkdir -p "$out"
  extra_env=()
  case "$t" in
    # Oldest macOS each binary loads on (zig otherwise stamps its own newest, 15.0), as
    # napi-rs's template does for x64; arm64 Macs start at 11.0. The install name is made
    # relative so the binary does not carry this machine's build path.
    x86_64-apple-darwin) extra_env=(MACOSX_DEPLOYMENT_TARGET=10.13) ;;
    aarch64-apple-darwin) extra_env=(MACOSX_DEPLOYMENT_TARGET=11.0) ;;
  esac
  case "$t" in
    *-apple-darwin) extra_env+=("RUSTFLAGS=${RUSTFLAGS:-} -C link-arg=-Wl,-install_name,@rpath/kyrodb.$p.node") ;;
  esac
  echo
  echo "== build $t (as $zt) -> npm/$p/kyrodb.$p.node"
  start=$(date +%s)
  # --output-dir is a scratch dir: napi build also writes index.d.ts there, and the
  # repository's index.js / index.d.ts are left alone (--no-js).
  if env "${extra_env[@]}" flock "$LOCK" "$NAPI" build --platform --release --strip --cross-compile \
      --manifest-path crates/kyrodb-node/Cargo.toml --target "$zt" \
      --output-dir "$out" --no-js >"$STAGE/$p.log" 2>&1; then
    cp "$out/kyrodb.$p.node" "npm/$p/kyrodb.$p.node"
    f="npm/$p/kyrodb.$p.node"
    status[$t]="built in $(( $(date +%s) - start ))s"
    size[$t]=$(stat -c %s "$f")
    case "$t" in
      *-linux-gnu)
        # The newest GLIBC_x.y symbol version the binary asks for is its glibc floor.
        floor[$t]="glibc $(objdump -T "$f" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)" ;;
      *-linux-musl)
        floor[$t]="musl, needs $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')" ;;
      *-apple-darwin)
        # LC_BUILD_VERSION minos: the oldest macOS that loads the binary.
        floor[$t]="Mach-O, macOS >= $(macos_min "$f")" ;;
    esac
    echo "   $(file -b "$f" | cut -c1-110)"
    echo "   ${size[$t]} bytes; ${floor[$t]}"
  else
    failed=1
    status[$t]="FAILED"
    size[$t]="-"
    floor[$t]="see log below"
    echo "   FAILED; last lines of the build log:"
    tail -25 "$STAGE/$p.log" | sed 's/^/   | /'
  fi
done

echo
echo "== summary (glibc floor = newest GLIBC_ symbol version required)"
printf '%-28s %-18s %-14s %s\n' target package bytes "floor / notes"
for t in "${targets[@]}"; do
  printf '%-28s %-18s %-14s %s  (%s)\n' "$t" "$(platform_of "$t")" "${size[$t]}" "${floor[$t]}" "${status[$t]}"
done
echo "x86_64-pc-windows-msvc       win32-x64-msvc     -              not built here: MSVC CRT and Windows SDK are unreachable; release workflow"

# A glibc binary above the floor would exclude the distributions the floor promises; an
# unsigned arm64 Mach-O would be killed by macOS on load.
for t in "${targets[@]}"; do
  if [ "$t" = aarch64-apple-darwin ] && [ "${status[$t]}" != FAILED ] && [[ "${floor[$t]}" != *code-signed* ]]; then
    echo "ERROR: $t is not code-signed" >&2
    failed=1
  fi
  case "$t" in *-linux-gnu) ;; *) continue ;; esac
  [ "${status[$t]}" = FAILED ] && continue
  got=${floor[$t]#glibc }
  if [ "$(printf '%s\n%s\n' "$got" "$GLIBC_FLOOR" | sort -V | tail -1)" != "$GLIBC_FLOOR" ]; then
    echo "ERROR: $t needs glibc $got, above the promised floor $GLIBC_FLOOR" >&2
    failed=1
  fi
done
exit $failed
