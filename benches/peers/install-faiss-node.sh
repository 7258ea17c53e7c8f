#!/usr/bin/env bash
# Builds faiss-node@0.5.1 (npm) against Debian's libfaiss-dev (faiss 1.7.3) and
# installs it into benches/.data/peers/node_modules/faiss-node.
#
# Why: faiss-node's own install script runs prebuild-install (GitHub download)
# and then `git clone` of faiss -- neither host is reachable here. Its native
# part is a single file (src/faiss.cc), so we compile that directly with g++
# and link the static libfaiss.a from Debian plus OpenBLAS (OpenMP variant).
#
# Needs root for apt-get (skipped when the libraries are already present).
# Usage: bash benches/peers/install-faiss-node.sh   (idempotent; ~1 min)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$(cd "$HERE/.." && pwd)/.data/peers"
VERSION=0.5.1
PKG_DIR="$PEERS/node_modules/faiss-node"
OUT="$PKG_DIR/build/Release/faiss-node.node"

# 1. System libraries: faiss headers + static lib, BLAS/LAPACK (OpenBLAS, OpenMP build).
if [ ! -f /usr/include/faiss/IndexFlat.h ] || ! ls /usr/lib/*/libopenblas.so.0 >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends libfaiss-dev libopenblas-openmp-dev; then
    apt-get update
    apt-get install -y --no-install-recommends libfaiss-dev libopenblas-openmp-dev
  fi
fi
if [ ! -f /usr/include/node/node_api.h ]; then
  echo "install-faiss-node: Node headers not found in /usr/include/node" >&2
  exit 1
fi

# 2. The npm package itself, without its (failing) install script.
mkdir -p "$PEERS"
if [ ! -f "$PKG_DIR/src/faiss.cc" ]; then
  [ -f "$PEERS/package.json" ] || echo '{ "name": "kyrodb-bench-peers", "private": true }' > "$PEERS/package.json"
  npm install --prefix "$PEERS" --ignore-scripts --no-audit --no-fund --save-exact "faiss-node@$VERSION"
fi

# 3. faiss < 1.7.4 has idx_t only as faiss::Index::idx_t (1.7.4 added faiss::idx_t).
if ! grep -q 'using idx_t = int64_t;' /usr/include/faiss/MetricType.h 2>/dev/null; then
  sed -i 's/^using idx_t = faiss::idx_t;/using idx_t = faiss::Index::idx_t;/' "$PKG_DIR/src/faiss.cc"
fi

# 4. Compile the addon (one translation unit, one g++ process, niced).
ADDON_INC="$(cd "$PKG_DIR" && node -p "require('path').dirname(require.resolve('node-addon-api/package.json'))")"
mkdir -p "$(dirname "$OUT")"
nice -n 19 g++ -O2 -fPIC -shared -std=c++17 -fopenmp -DNAPI_VERSION=6 \
  -I/usr/include/node -I"$ADDON_INC" \
  "$PKG_DIR/src/faiss.cc" -o "$OUT" \
  -lfaiss -lblas -llapack -w

# 5. Smoke test (also exercises BLAS: IndexFlatIP uses sgemm for >= 20 queries).
node -e '
const f = require(process.argv[1]);
const d = 8, n = 100, nq = 32;
const x = Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7 + (i % 7)));
const ix = new f.IndexFlatIP(d); ix.add(x);
const r = ix.search(x.slice(0, nq * d), 1);
for (let q = 0; q < nq; q++) {
  let best = -1, bs = -Infinity;
  for (let i = 0; i < n; i++) { let s = 0; for (let k = 0; k < d; k++) s += x[q * d + k] * x[i * d + k]; if (s > bs) { bs = s; best = i; } }
  if (r.labels[q] !== best) { console.error("faiss-node smoke test: wrong neighbour for", q); process.exit(2); }
}
console.log("faiss-node OK:", Object.keys(f).filter((k) => k !== "MetricType").join(", "));
' "$PKG_DIR"
