// clustered-128: a synthetic SIFT-scale set (BENCHMARKS.md): a Gaussian mixture with 1,000
// centres and anisotropic per-dimension noise, L2. Base and queries are drawn from the same
// mixture with one fixed seed. Ground truth (exact top-10, ties by lower row) is computed with
// KyroDB's exact tiled batch search and checked on a sample against a plain float64 JS loop,
// then cached in benches/.data/clustered-128-<n>/.
//
//   import { loadClustered } from './datasets/clustered.mjs'
//   const ds = await loadClustered({ n: 1_000_000 })
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { mulberry32 } from './glove.mjs'

const HERE = path.dirname(fileURLToPath(import.meta.url))
const DATA_DIR = path.resolve(HERE, '..', '.data')
const require = createRequire(import.meta.url)
const DIM = 128
const K = 10
const CENTRES = 1000

function gaussianSource(rand) {
  let spare = null
  return () => {
    if (spare !== null) {
      const s = spare
      spare = null
      return s
    }
    let u = 0
    while (u === 0) u = rand()
    const v = rand()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

/**
 * The mixture's rows in order, as a stream: `next(out)` fills `out` (a multiple of 128
 * floats) with the next rows. Same draws in the same order as the cached files, so the
 * first n rows of a stream are the first n rows of `loadClustered({ n })`'s base set.
 * With `rowSeed`, the rows come from the same centres and scales but another sequence.
 */
export function clusteredStream(seed = 128, { rowSeed } = {}) {
  let rand = mulberry32(seed)
  let gauss = gaussianSource(rand)
  const centres = new Float32Array(CENTRES * DIM)
  for (let i = 0; i < centres.length; i++) centres[i] = (rand() * 2 - 1) * 50
  // Anisotropic noise: each dimension has its own scale in [1, 8).
  const scale = Float32Array.from({ length: DIM }, () => 1 + 7 * rand())
  // Another sequence of rows from the same mixture (held-out queries, say).
  if (rowSeed !== undefined) {
    rand = mulberry32(rowSeed)
    gauss = gaussianSource(rand)
  }
  return {
    dim: DIM,
    next(out) {
      for (let r = 0; r < out.length / DIM; r++) {
        const c = Math.floor(rand() * CENTRES) * DIM
        for (let j = 0; j < DIM; j++) out[r * DIM + j] = centres[c + j] + gauss() * scale[j]
      }
      return out
    },
  }
}

function generate(n, nQueries, seed) {
  const all = clusteredStream(seed).next(new Float32Array((n + nQueries) * DIM))
  return { base: all.subarray(0, n * DIM), queries: all.slice(n * DIM) }
}

async function groundTruth(base, queries, n) {
  const kyrodb = require('../../dist/index.js')
  const db = await kyrodb.open()
  const c = await db.createCollection('gt', { dimension: DIM, metric: 'l2', index: false })
  const step = 100_000
  for (let s = 0; s < n; s += step) {
    const e = Math.min(n, s + step)
    const ids = new BigUint64Array(e - s)
    for (let i = 0; i < ids.length; i++) ids[i] = BigInt(s + i)
    await c.upsert(ids, base.subarray(s * DIM, e * DIM))
  }
  const hits = await c.searchBatch(queries, { k: K, withMetadata: false })
  await db.close()
  const gt = new Int32Array(hits.length * K)
  hits.forEach((h, q) => h.forEach((x, i) => (gt[q * K + i] = Number(x.id))))
  return gt
}

function verify(base, queries, gt, n, sample = 10) {
  const nq = queries.length / DIM
  for (let s = 0; s < sample; s++) {
    const q = Math.floor((s * nq) / sample)
    const d = new Float64Array(n)
    for (let r = 0; r < n; r++) {
      let acc = 0
      for (let j = 0; j < DIM; j++) {
        const x = base[r * DIM + j] - queries[q * DIM + j]
        acc += x * x
      }
      d[r] = acc
    }
    const order = Array.from(d.keys()).sort((a, b) => d[a] - d[b] || a - b).slice(0, K)
    const got = Array.from(gt.subarray(q * K, q * K + K))
    // Allow swaps among float-equal neighbours at the boundary.
    const kth = d[order[K - 1]]
    const ok = got.every((r) => d[r] <= kth * (1 + 1e-5) + 1e-9)
    if (!ok) throw new Error(`clustered-128 ground truth disagrees with the JS check on query ${q}: ${got} vs ${order}`)
  }
}

export async function loadClustered({ n = 1_000_000, nQueries = 10_000, seed = 128 } = {}) {
  const dir = path.join(DATA_DIR, `clustered-128-${n}-q${nQueries}-s${seed}`)
  const files = ['base.f32', 'queries.f32', 'gt.i32'].map((f) => path.join(dir, f))
  if (files.every((f) => fs.existsSync(f)) && fs.existsSync(path.join(dir, 'meta.json'))) {
    const read = (f, C) => {
      const b = fs.readFileSync(f)
      return new C(b.buffer, b.byteOffset, b.byteLength / C.BYTES_PER_ELEMENT)
    }
    return {
      dim: DIM, metric: 'l2', k: K, nBase: n, nQueries,
      base: read(files[0], Float32Array), queries: read(files[1], Float32Array), groundTruth: read(files[2], Int32Array),
    }
  }
  const t0 = performance.now()
  const { base, queries } = generate(n, nQueries, seed)
  console.log(`[clustered] generated ${n} + ${nQueries} vectors in ${((performance.now() - t0) / 1000).toFixed(1)} s; computing ground truth...`)
  const t1 = performance.now()
  const gt = await groundTruth(base, queries, n)
  console.log(`[clustered] ground truth in ${((performance.now() - t1) / 1000).toFixed(1)} s; verifying a sample with a float64 JS loop...`)
  verify(base, queries, gt, n)
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(files[0], Buffer.from(base.buffer, base.byteOffset, base.byteLength))
  fs.writeFileSync(files[1], Buffer.from(queries.buffer, queries.byteOffset, queries.byteLength))
  fs.writeFileSync(files[2], Buffer.from(gt.buffer))
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify({ n, nQueries, seed, dim: DIM, centres: CENTRES, createdAt: new Date().toISOString() }, null, 2))
  return { dim: DIM, metric: 'l2', k: K, nBase: n, nQueries, base, queries, groundTruth: gt }
}
