/**
 * Deterministic synthetic data for recall tests: a seeded PRNG, Gaussian samples, a
 * Gaussian-mixture generator, a "GloVe-like" generator (low-rank structure plus
 * heavy-tailed noise), and a brute-force oracle that ranks the way the engine does
 * (distance, then smaller id).
 */
import type { Metric } from '../../src-ts/index.js'

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal samples (Box–Muller, both outputs used). */
export function gaussian(rand: () => number): () => number {
  let spare: number | null = null
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

/** Integer in [0, n). */
export function randInt(rand: () => number, n: number): number {
  return Math.floor(rand() * n)
}

/** A random subset of `items` of size `count` (Fisher–Yates prefix). */
export function sample<T>(rand: () => number, items: readonly T[], count: number): T[] {
  const a = items.slice()
  for (let i = 0; i < count; i++) {
    const j = i + randInt(rand, a.length - i)
    ;[a[i], a[j]] = [a[j], a[i]]
  }
  return a.slice(0, count)
}

/** A Gaussian mixture: `centres` centres ~ N(0, spread²·I), points = centre + N(0, sigma²·I). */
export interface Mixture {
  dim: number
  centres: Float32Array[]
  sigma: number
}

export function mixture(seed: number, dim: number, centres: number, spread = 1, sigma = 0.5): Mixture {
  const g = gaussian(rng(seed))
  const cs: Float32Array[] = []
  for (let c = 0; c < centres; c++) {
    const v = new Float32Array(dim)
    for (let i = 0; i < dim; i++) v[i] = g() * spread
    cs.push(v)
  }
  return { dim, centres: cs, sigma }
}

/** `n` points drawn from the mixture (uniform centre choice), flat row-major. */
export function drawMixture(m: Mixture, n: number, seed: number): Float32Array {
  const rand = rng(seed)
  const g = gaussian(rand)
  const out = new Float32Array(n * m.dim)
  for (let r = 0; r < n; r++) {
    const c = m.centres[randInt(rand, m.centres.length)]
    for (let i = 0; i < m.dim; i++) out[r * m.dim + i] = c[i] + g() * m.sigma
  }
  return out
}

/**
 * "GloVe-like" data: a low-rank latent structure `W z` (rank `rank`, with decaying
 * per-direction scales like the spectrum of word embeddings), plus a per-row frequency
 * scale and heavy-tailed (Student-t, 3 degrees of freedom) noise. Queries come from the
 * same generator (fresh seed, same `W`).
 */
export interface LowRank {
  dim: number
  rank: number
  basis: Float32Array[] // rank vectors of length dim
  scales: number[]
  noise: number
}

export function lowRank(seed: number, dim: number, rank = 16, noise = 0.35): LowRank {
  const g = gaussian(rng(seed))
  const basis: Float32Array[] = []
  const scales: number[] = []
  for (let j = 0; j < rank; j++) {
    const v = new Float32Array(dim)
    for (let i = 0; i < dim; i++) v[i] = g() / Math.sqrt(dim)
    basis.push(v)
    scales.push(3 / Math.sqrt(1 + j))
  }
  return { dim, rank, basis, scales, noise }
}

export function drawLowRank(m: LowRank, n: number, seed: number): Float32Array {
  const rand = rng(seed)
  const g = gaussian(rand)
  const studentT = () => {
    // t with 3 degrees of freedom: N / sqrt(chi²₃ / 3)
    const chi = g() ** 2 + g() ** 2 + g() ** 2
    return g() / Math.sqrt(chi / 3)
  }
  const out = new Float32Array(n * m.dim)
  const row = new Float64Array(m.dim)
  for (let r = 0; r < n; r++) {
    row.fill(0)
    for (let j = 0; j < m.rank; j++) {
      const z = g() * m.scales[j]
      const b = m.basis[j]
      for (let i = 0; i < m.dim; i++) row[i] += z * b[i] * Math.sqrt(m.dim)
    }
    // Zipf-ish frequency scale: most rows small, a few large (affects norms, not direction).
    const freq = 0.5 + 2 / (1 + randInt(rand, 50))
    for (let i = 0; i < m.dim; i++) out[r * m.dim + i] = freq * (row[i] + m.noise * studentT())
  }
  return out
}

/** The stored form of a vector under `metric` (unit length under cosine, as f32). */
export function prepared(metric: Metric, v: Float32Array): Float32Array {
  if (metric !== 'cosine') return v
  let s = 0
  for (const x of v) s += x * x
  const norm = Math.sqrt(s)
  const out = new Float32Array(v.length)
  for (let i = 0; i < v.length; i++) out[i] = Math.fround(v[i] / norm)
  return out
}

export function distance(metric: Metric, q: Float32Array, v: Float32Array): number {
  let acc = 0
  if (metric === 'l2') {
    for (let i = 0; i < q.length; i++) {
      const d = q[i] - v[i]
      acc += d * d
    }
    return acc
  }
  for (let i = 0; i < q.length; i++) acc += q[i] * v[i]
  return 1 - acc
}

/** Row `i` of a flat batch. */
export function row(flat: Float32Array, dim: number, i: number): Float32Array {
  return flat.subarray(i * dim, (i + 1) * dim)
}

/** A brute-force hit. */
export interface Hit {
  id: number
  distance: number
}

/**
 * Brute-force oracle over a flat block of stored-form vectors (`ids[i]` is row `i`'s id):
 * the `k` nearest rows to `query` (prepared here) ordered by distance, then smaller id,
 * among the rows `accept(i)` admits (all when omitted).
 */
export function knn(
  metric: Metric,
  dim: number,
  data: Float32Array,
  ids: ArrayLike<number>,
  query: Float32Array,
  k: number,
  accept?: (row: number) => boolean,
): Hit[] {
  const q = prepared(metric, query)
  const n = ids.length
  const topD: number[] = []
  const topI: number[] = []
  for (let r = 0; r < n; r++) {
    if (accept && !accept(r)) continue
    const base = r * dim
    let acc = 0
    if (metric === 'l2') {
      for (let i = 0; i < dim; i++) {
        const d = q[i] - data[base + i]
        acc += d * d
      }
    } else {
      for (let i = 0; i < dim; i++) acc += q[i] * data[base + i]
      acc = 1 - acc
    }
    const id = ids[r]
    const len = topD.length
    if (len === k) {
      const wd = topD[k - 1]
      if (acc > wd || (acc === wd && id > topI[k - 1])) continue
      topD.pop()
      topI.pop()
    }
    let i = topD.length
    while (i > 0 && (topD[i - 1] > acc || (topD[i - 1] === acc && topI[i - 1] > id))) i--
    topD.splice(i, 0, acc)
    topI.splice(i, 0, id)
  }
  return topD.map((distance, i) => ({ id: topI[i], distance }))
}

/** Stored form of every row of a flat batch (a copy; unchanged values for l2 / ip). */
export function preparedBatch(metric: Metric, flat: Float32Array, dim: number): Float32Array {
  if (metric !== 'cosine') return flat.slice()
  const out = new Float32Array(flat.length)
  for (let r = 0; r < flat.length / dim; r++) out.set(prepared(metric, flat.subarray(r * dim, (r + 1) * dim)), r * dim)
  return out
}

/** |found ∩ truth| / |truth| (1 when the truth is empty and nothing was found). */
export function recall(found: readonly (number | bigint | string)[], truth: readonly number[]): number {
  if (truth.length === 0) return found.length === 0 ? 1 : 0
  const t = new Set(truth)
  let hit = 0
  for (const id of found) if (t.has(Number(id))) hit++
  return hit / truth.length
}

/** `n` vectors of small integers in `lo..hi` (flat): distances under l2 / ip are exact in f32. */
export function intVectors(rand: () => number, n: number, dim: number, lo: number, hi: number): Float32Array {
  const out = new Float32Array(n * dim)
  for (let i = 0; i < out.length; i++) out[i] = lo + randInt(rand, hi - lo + 1)
  return out
}

/** `0, 1, …, n − 1`. */
export function range(n: number, from = 0): number[] {
  return Array.from({ length: n }, (_, i) => from + i)
}

/** The layout part of `collection.stats()` (count, hot rows, segments), without the
 *  indexing counters that move with background work. */
export function layout(s: { count: number; hotRows: number; segments: { rows: number; live: number; graph: boolean }[] }) {
  return { count: s.count, hotRows: s.hotRows, segments: s.segments }
}
