#!/usr/bin/env node
// The query-result cache end to end through the TypeScript API: the cache off, on (exact
// repeats only), and on with near repeats, in the same run on the same collection.
//
// Data: clustered-128 (`--n` rows, L2) or GloVe-100 (`--dataset glove`, the 331k-word base
// set of benches/datasets/glove.mjs, cosine), one HNSW graph (M 16, efConstruction 200). Trace (RAG-like): `--reads` searches
// (k 10, default ef) of `--topics` questions with Zipf(`--alpha`) popularity; a fraction
// `--paraphrase` of them are paraphrases (the topic's question plus noise of norm `--noise`
// × its norm, a fresh direction each time); one new row is upserted every `--write-every`
// searches (each write may invalidate the answers it could change). Every search is timed
// alone with `searchSync` (and a sample of hits with `search`, which adds the thread hop).
// Near repeats use `cache.nearDistance` = the metric distance of twice the noise (`--near`
// overrides it).
//
// Recall of near answers: after the timed runs, with no writes, paraphrases of the
// popular topics are searched; each near-answered one is compared with the exact top 10
// (brute force over every row) and so is a fresh search (`cache: false`) of the same query.
//
//   node benches/query-cache.mjs [--dataset clustered|glove] [--n 1000000] [--reads 50000]
//        [--topics 2000] [--alpha 1.0] [--paraphrase 0.5] [--noise 0.05] [--write-every 100]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { loadClustered } from './datasets/clustered.mjs'
import { loadGlove, machineInfo, mulberry32 } from './datasets/glove.mjs'
import { BENCH_DIR, fmt, percentile, table, writeSection } from './lib/report.mjs'
import { normalizeRows } from './lib/vectors.mjs'
import { zipfSampler } from './lib/zipf.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const DATASET = args.dataset ?? 'clustered'
const READS = Number(args.reads ?? 50_000)
const TOPICS = Number(args.topics ?? 2_000)
const ALPHA = Number(args.alpha ?? 1.0)
const PARAPHRASE = Number(args.paraphrase ?? 0.5)
const NOISES = String(args.noise ?? '0.001,0.003,0.05').split(',').map(Number)
const WRITE_EVERY = Number(args['write-every'] ?? 100)
const RECALL_SAMPLES = Number(args['recall-samples'] ?? 100)
const K = 10

const ds = DATASET === 'glove' ? await loadGlove() : await loadClustered({ n: Number(args.n ?? 1_000_000) })
const metric = DATASET === 'glove' ? 'cosine' : 'l2'
const dim = ds.dim
const N = ds.nBase
// Stored form (unit rows under cosine), for the brute-force ground truth.
const base = metric === 'cosine' ? normalizeRows(ds.base, dim) : ds.base
const row = (a, i) => a.subarray(i * dim, (i + 1) * dim)
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0))

// Topic t's question is query t; new rows are later queries.
const question = (t) => row(ds.queries, t)
const newRow = (i) => row(ds.queries, (TOPICS + i) % ds.nQueries)
const meanNorm = Array.from({ length: 200 }, (_, t) => norm(question(t))).reduce((a, b) => a + b) / 200
// The metric distance of a shift of twice the noise.
function nearDistance(noise) {
  const shift = 2 * noise * (metric === 'cosine' ? 1 : meanNorm)
  return Number(args.near ?? (metric === 'cosine' ? (shift * shift) / 2 : shift * shift))
}
let NOISE = NOISES[0]
let NEAR = nearDistance(NOISE)

const dir = fs.mkdtempSync(path.join(process.env.KYRODB_BENCH_DIR ?? os.tmpdir(), 'kyrodb-qcache-'))
{
  const db = await kyrodb.open(dir, { durability: 'normal', cache: { queryBytes: 0 } })
  const c = await db.createCollection('v', { dimension: dim, metric, index: { m: 16, efConstruction: 200 } })
  c.setMaxUnindexedRows(0)
  for (let s = 0; s < N; s += 10_000) {
    const e = Math.min(N, s + 10_000)
    await c.upsert(Array.from({ length: e - s }, (_, i) => s + i), ds.base.subarray(s * dim, e * dim))
  }
  await c.buildIndex()
  await db.close()
  console.log(`built ${N} rows (${DATASET})`)
}

// The trace: Zipf ranks by inverse CDF; paraphrases get a random direction of norm NOISE·‖q‖.
const rand = mulberry32(17)
const pick = zipfSampler(TOPICS, ALPHA, rand)
function paraphrase(t) {
  const q = question(t)
  const g = Float32Array.from({ length: dim }, () => {
    // Box–Muller.
    const u = Math.max(rand(), 1e-12)
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand())
  })
  const scale = (NOISE * norm(q)) / norm(g)
  return q.map((x, j) => x + scale * g[j])
}
const makeTrace = () =>
  Array.from({ length: READS }, () => {
    const t = pick()
    return rand() < PARAPHRASE ? paraphrase(t) : question(t)
  })
let trace = []

let nextId = N + 1_000_000
async function run(mode) {
  const cache = mode === 'off' ? { queryBytes: 0 } : mode === 'exact' ? { queryBytes: 16 << 20 } : { queryBytes: 16 << 20, nearDistance: NEAR }
  const db = await kyrodb.open(dir, { durability: 'normal', cache })
  const c = db.collection('v')
  const all = []
  const exactHits = []
  const nearHits = []
  for (let i = 0; i < READS; i++) {
    if (i % WRITE_EVERY === WRITE_EVERY - 1) {
      await c.upsert([nextId], newRow(nextId - N - 1_000_000))
      nextId++
    }
    const before = mode === 'off' ? null : db.stats().cache
    const t0 = process.hrtime.bigint()
    c.searchSync(trace[i], { k: K, withMetadata: false })
    const us = Number(process.hrtime.bigint() - t0) / 1e3
    all.push(us)
    if (before) {
      const after = db.stats().cache
      if (after.hits > before.hits) exactHits.push(us)
      else if (after.nearHits > before.nearHits) nearHits.push(us)
    }
  }
  // The async path on a sample of repeats (a hit is answered on the calling thread).
  const asyncHits = []
  if (mode !== 'off') {
    for (let i = 0; i < 2_000; i++) {
      const q = question(i % 50)
      c.searchSync(q, { k: K, withMetadata: false })
      const t0 = process.hrtime.bigint()
      await c.search(q, { k: K, withMetadata: false })
      asyncHits.push(Number(process.hrtime.bigint() - t0) / 1e3)
    }
  }
  const stats = db.stats().cache
  const recall = mode === 'near' ? await nearRecall(db, c) : null
  await db.close()
  const sort = (a) => Float64Array.from(a).sort()
  return { mode, all: sort(all), exactHits: sort(exactHits), nearHits: sort(nearHits), asyncHits: sort(asyncHits), stats, recall }
}

// Exact top-K by brute force over the base rows and the rows upserted since (ids ≥ N + 1e6).
function bruteForce(q, added) {
  const qn = metric === 'cosine' ? q.map((x) => x / norm(q)) : q
  const best = []
  const offer = (id, v) => {
    let d = 0
    if (metric === 'cosine') {
      for (let j = 0; j < dim; j++) d -= qn[j] * v[j]
    } else {
      for (let j = 0; j < dim; j++) d += (qn[j] - v[j]) ** 2
    }
    if (best.length < K || d < best[K - 1][0]) {
      best.push([d, id])
      best.sort((a, b) => a[0] - b[0] || a[1] - b[1])
      if (best.length > K) best.pop()
    }
  }
  for (let r = 0; r < N; r++) offer(r, row(base, r))
  for (const [id, v] of added) offer(id, metric === 'cosine' ? v.map((x) => x / norm(v)) : v)
  return best.map((b) => b[1])
}

async function nearRecall(db, c) {
  // Every run upserted its own rows into the same directory: all of them are in it now.
  const added = Array.from({ length: nextId - N - 1_000_000 }, (_, i) => [N + 1_000_000 + i, newRow(i)])
  const samples = []
  for (let i = 0; i < 20 * RECALL_SAMPLES && samples.length < RECALL_SAMPLES; i++) {
    const t = i % 50
    c.searchSync(question(t), { k: K, withMetadata: false })
    const q = paraphrase(t)
    const before = db.stats().cache.nearHits
    const got = c.searchSync(q, { k: K, withMetadata: false })
    if (db.stats().cache.nearHits > before) samples.push([q, got.map((h) => h.id)])
  }
  let near = 0
  let fresh = 0
  for (const [q, ids] of samples) {
    const truth = new Set(bruteForce(q, added))
    near += ids.filter((id) => truth.has(id)).length / K
    const f = c.searchSync(q, { k: K, withMetadata: false, cache: false })
    fresh += f.filter((h) => truth.has(h.id)).length / K
  }
  return { samples: samples.length, near: near / samples.length, fresh: fresh / samples.length }
}

const sweeps = []
for (const noise of NOISES) {
  NOISE = noise
  NEAR = nearDistance(noise)
  trace = makeTrace()
  const runs = []
  for (const mode of ['off', 'exact', 'near']) {
    runs.push(await run(mode))
    console.log(`noise ${noise}: ${mode} done`)
  }
  sweeps.push({ noise, near: NEAR, runs })
}
fs.rmSync(dir, { recursive: true, force: true })

const p = (a, q) => (a.length ? fmt(percentile(a, q * 100), 1) : '-')
const m = machineInfo()
const rows = []
for (const { noise, near, runs } of sweeps) {
  const off = runs[0]
  for (const r of runs) {
    rows.push([
      String(noise),
      r.mode === 'off' ? 'cache off' : r.mode === 'exact' ? 'cache on' : `cache on, nearDistance ${near.toPrecision(3)}`,
      r.mode === 'off' ? '-' : fmt((100 * r.exactHits.length) / READS, 1) + ' %',
      r.mode === 'near' ? fmt((100 * r.nearHits.length) / READS, 1) + ' %' : '-',
      p(r.all, 0.5),
      p(r.all, 0.99),
      fmt(percentile(off.all, 50) / percentile(r.all, 50), 1) + '×',
      r.mode === 'off' ? '-' : p(r.exactHits, 0.5) + ' / ' + p(r.exactHits, 0.99),
      r.mode === 'near' ? p(r.nearHits, 0.5) + ' / ' + p(r.nearHits, 0.99) : '-',
      r.mode === 'off' ? '-' : p(r.asyncHits, 0.5) + ' / ' + p(r.asyncHits, 0.99),
      r.mode === 'near' && r.recall.samples ? `${fmt(r.recall.near, 3)} / ${fmt(r.recall.fresh, 3)} (${r.recall.samples})` : '-',
    ])
  }
}
const name = DATASET === 'glove' ? `GloVe-100 (${N.toLocaleString('en-US')} words, cosine)` : `clustered-128 (${N.toLocaleString('en-US')} rows, l2)`
const body = [
  `**${name}** (\`node benches/query-cache.mjs --dataset ${DATASET}${DATASET === 'glove' ? '' : ` --n ${N}`} --reads ${READS} --topics ${TOPICS} --alpha ${ALPHA} --paraphrase ${PARAPHRASE} --noise ${NOISES.join(',')} --write-every ${WRITE_EVERY}\`): ` +
    `one graph (M 16, efConstruction 200); per noise level, ${READS.toLocaleString('en-US')} searches (k ${K}, default ef) of ${TOPICS.toLocaleString('en-US')} questions with Zipf(${ALPHA}) popularity, ${fmt(PARAPHRASE * 100, 0)} % of them paraphrases (the question plus a random shift of norm noise × its norm); ` +
    `one new row every ${WRITE_EVERY} searches; cache 16 MiB; ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}. Latencies in µs, each search timed alone. ` +
    `Near recall: recall@10 against brute force of near answers / of a fresh search (\`cache: false\`, same ef) of the same paraphrases (how many), no writes meanwhile.`,
  '',
  table(['noise', 'run', 'exact hits', 'near hits', 'p50 all', 'p99 all', 'p50 off / run', 'exact hit p50 / p99 (searchSync)', 'near hit p50 / p99', 'exact hit p50 / p99 (search)', 'near recall / fresh'], rows),
].join('\n')
writeSection(path.join(BENCH_DIR, 'RESULTS.md'), `query-cache-${DATASET}`, body)
console.log(body)
