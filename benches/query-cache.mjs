#!/usr/bin/env node
// The query-result cache end to end through the TypeScript API, cache on against cache
// off in the same run: clustered-128 (`--n` rows, L2, one HNSW graph), a RAG-like trace of
// `--reads` searches drawn from `--topics` distinct questions with Zipf(`--alpha`)
// popularity, and one upsert of a new row every `--write-every` reads (each write may
// invalidate the cached answers it could change). Every search is timed alone with
// `searchSync` (and a sample with `search`, which adds the thread hop). Reports hit rate,
// latency percentiles of hits and of all searches, and the on/off ratio of p50.
//
//   node benches/query-cache.mjs [--n 200000] [--reads 50000] [--topics 2000] [--alpha 1.0] [--write-every 100]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { loadClustered } from './datasets/clustered.mjs'
import { machineInfo, mulberry32 } from './datasets/glove.mjs'
import { BENCH_DIR, fmt, percentile, table, writeSection } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const N = Number(args.n ?? 200_000)
const READS = Number(args.reads ?? 50_000)
const TOPICS = Number(args.topics ?? 2_000)
const ALPHA = Number(args.alpha ?? 1.0)
const WRITE_EVERY = Number(args['write-every'] ?? 100)
const K = 10

const ds = await loadClustered({ n: N })
const dim = ds.dim
const dir = fs.mkdtempSync(path.join(process.env.KYRODB_BENCH_DIR ?? os.tmpdir(), 'kyrodb-qcache-'))
const db = await kyrodb.open(dir, { durability: 'none', cache: { queryBytes: 16 << 20 } })
const c = await db.createCollection('v', { dimension: dim, metric: 'l2', index: { m: 16, efConstruction: 200 } })
c.setMaxUnindexedRows(0)
for (let s = 0; s < N; s += 10_000) {
  const e = Math.min(N, s + 10_000)
  await c.upsert(Array.from({ length: e - s }, (_, i) => s + i), ds.base.subarray(s * dim, e * dim))
}
await c.buildIndex()
c.setMaxUnindexedRows(20_000)
console.log(`built ${N} rows`)

// The trace: topic t's question is query row t of the data set; Zipf ranks by inverse CDF.
const rand = mulberry32(17)
const weights = Array.from({ length: TOPICS }, (_, r) => 1 / Math.pow(r + 1, ALPHA))
const total = weights.reduce((a, b) => a + b, 0)
const cdf = []
weights.reduce((acc, w, i) => ((cdf[i] = (acc + w) / total), acc + w), 0)
const pick = () => {
  const u = rand()
  let lo = 0
  let hi = TOPICS - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cdf[mid] < u) lo = mid + 1
    else hi = mid
  }
  return lo
}
const trace = Array.from({ length: READS }, pick)
const question = (t) => ds.queries.subarray(t * dim, (t + 1) * dim)
const newRow = (i) => ds.queries.subarray(((TOPICS + i) % ds.nQueries) * dim, ((TOPICS + i) % ds.nQueries + 1) * dim)

async function run(cache) {
  const all = []
  const hitTimes = []
  let writes = 0
  const before = db.stats().cache
  for (let i = 0; i < READS; i++) {
    if (i % WRITE_EVERY === WRITE_EVERY - 1) {
      await c.upsert([N + 1_000_000 * (cache ? 1 : 2) + writes], newRow(writes))
      writes++
    }
    const hitsBefore = cache ? db.stats().cache.hits : 0
    const t0 = process.hrtime.bigint()
    c.searchSync(question(trace[i]), { k: K, cache, withMetadata: false })
    const us = Number(process.hrtime.bigint() - t0) / 1e3
    all.push(us)
    if (cache && db.stats().cache.hits > hitsBefore) hitTimes.push(us)
  }
  // The async path on a sample of repeats (a hit is answered on the calling thread).
  const asyncHits = []
  if (cache) {
    for (let i = 0; i < 2_000; i++) {
      const q = question(trace[i % 50])
      c.searchSync(q, { k: K, withMetadata: false })
      const t0 = process.hrtime.bigint()
      await c.search(q, { k: K, withMetadata: false })
      asyncHits.push(Number(process.hrtime.bigint() - t0) / 1e3)
    }
  }
  const after = db.stats().cache
  const sort = (a) => Float64Array.from(a).sort()
  return {
    all: sort(all),
    hits: sort(hitTimes),
    asyncHits: sort(asyncHits),
    hitRate: hitTimes.length / READS,
    invalidations: after.invalidations - before.invalidations,
    bytes: after.bytes,
  }
}

const off = await run(false)
const on = await run(true)
await db.close()
fs.rmSync(dir, { recursive: true, force: true })

const p = (a, q) => (a.length ? fmt(percentile(a, q * 100), 1) : '-')
const m = machineInfo()
const rows = [
  ['cache off', '-', p(off.all, 0.5), p(off.all, 0.99), '-', '-'],
  ['cache on', fmt(on.hitRate * 100, 1) + ' %', p(on.all, 0.5), p(on.all, 0.99), p(on.hits, 0.5) + ' / ' + p(on.hits, 0.99), p(on.asyncHits, 0.5) + ' / ' + p(on.asyncHits, 0.99)],
]
const body = [
  `Query cache, end to end through the API (\`node benches/query-cache.mjs --n ${N} --reads ${READS} --topics ${TOPICS} --alpha ${ALPHA} --write-every ${WRITE_EVERY}\`): ` +
    `clustered-128, ${N.toLocaleString('en-US')} rows in one graph (M 16, efConstruction 200), ${READS.toLocaleString('en-US')} searches (k ${K}, default ef) of ${TOPICS.toLocaleString('en-US')} questions with Zipf(${ALPHA}) popularity, ` +
    `one new row upserted every ${WRITE_EVERY} searches; cache budget 16 MiB; ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}. Latencies in µs.`,
  '',
  table(['run', 'hit rate', 'p50 all', 'p99 all', 'hits p50 / p99 (searchSync)', 'hits p50 / p99 (search)'], rows),
  '',
  `p50 with the cache on is ${fmt(percentile(off.all, 50) / percentile(on.all, 50), 1)}× lower; ${on.invalidations} answers were invalidated by the writes; the cache held ${fmt(on.bytes / 2 ** 20, 1)} MiB at the end.`,
].join('\n')
writeSection(path.join(BENCH_DIR, 'RESULTS.md'), 'query-cache', body)
console.log(body)
