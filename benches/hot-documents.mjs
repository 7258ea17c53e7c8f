#!/usr/bin/env node
// Is there room for a hot-document cache above the OS page cache? (issue 17)
//
// A collection larger than the memory it may use: clustered-128, `--n` rows with ~200
// bytes of metadata each, one HNSW graph. Child processes open it and replay a skewed
// trace — `get(id)` of ids drawn by Zipf(`--alpha`) and searches (`cache: false`) of
// questions drawn by Zipf — once with no memory limit and once inside a memory cgroup of
// each of `--limit-mib` (which charges the page cache too), each starting with the page cache
// dropped, warming up on the first half of the trace and timing the second. A uniform
// trace under the limit shows the pressure is real. A hot-document cache (decoded
// metadata, vectors, prefetch of predicted-hot pages) can at best close the gap between
// the limited and the unlimited run on the skewed trace; this measures that gap.
//
//   node benches/hot-documents.mjs [--n 1000000] [--limit-mib 700,900] [--ops 60000] [--alpha 1.0]
// Needs root (cgroup, drop_caches).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { execFileSync, spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { loadClustered } from './datasets/clustered.mjs'
import { machineInfo, mulberry32 } from './datasets/glove.mjs'
import { BENCH_DIR, fmt, percentile, table, writeSection } from './lib/report.mjs'
import { zipfSampler } from './lib/zipf.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')
const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const N = Number(args.n ?? 1_000_000)
const LIMITS_MIB = String(args['limit-mib'] ?? '700,900').split(',').map(Number)
const OPS = Number(args.ops ?? 60_000)
const ALPHA = Number(args.alpha ?? 1.0)
const K = 10

if (args.child) {
  // One replay: open, warm up on the first half, time the second half.
  const { dir, alpha } = JSON.parse(args.child)
  const db = await kyrodb.open(dir, { cache: { queryBytes: 0 } })
  const c = db.collection('v')
  const rand = mulberry32(99)
  const rank = zipfSampler(N, alpha, rand)
  // Ranks scrambled to ids, so hot rows are spread out (uniform needs no scrambling).
  const draw = alpha === 0 ? rank : () => Number((BigInt(rank()) * 2654435761n) % BigInt(N))
  const gets = []
  const searches = []
  let faults = 0
  for (let i = 0; i < OPS; i++) {
    const timed = i >= OPS / 2
    if (i === OPS / 2) faults = process.resourceUsage().majorPageFault
    const id = draw()
    if (i % 20 === 19) {
      // A search for the neighbours of a hot row (its stored vector as the query).
      const q = (await c.get(id)).vector
      const t0 = process.hrtime.bigint()
      c.searchSync(q, { k: K, cache: false })
      if (timed) searches.push(Number(process.hrtime.bigint() - t0) / 1e3)
    } else {
      const t0 = process.hrtime.bigint()
      const got = await c.get(id)
      if (timed) gets.push(Number(process.hrtime.bigint() - t0) / 1e3)
      if (!got) throw new Error(`row ${id} missing`)
    }
  }
  faults = process.resourceUsage().majorPageFault - faults
  await db.close()
  const sort = (a) => Float64Array.from(a).sort()
  const g = sort(gets)
  const s = sort(searches)
  console.log(JSON.stringify({ get: [percentile(g, 50), percentile(g, 99)], search: [percentile(s, 50), percentile(s, 99)], faultsPerKOp: (1000 * faults) / (OPS / 2) }))
  process.exit(0)
}

// ---- parent: build once, then replay in children.
const ds = await loadClustered({ n: N })
const dir = fs.mkdtempSync(path.join(process.env.KYRODB_BENCH_DIR ?? os.tmpdir(), 'kyrodb-hotdocs-'))
{
  const db = await kyrodb.open(dir, { durability: 'normal', cache: { queryBytes: 0 } })
  const c = await db.createCollection('v', { dimension: 128, metric: 'l2', index: { m: 16, efConstruction: 200 } })
  c.setMaxUnindexedRows(0)
  const pad = 'lorem ipsum dolor sit amet '.repeat(6)
  for (let s = 0; s < N; s += 10_000) {
    const e = Math.min(N, s + 10_000)
    const ids = Array.from({ length: e - s }, (_, i) => s + i)
    await c.upsert(ids, ds.base.subarray(s * 128, e * 128), ids.map((id) => ({ title: `document ${id}`, topic: id % 97, body: pad })))
  }
  await c.buildIndex()
  await db.close()
}
const bytes = Number(execFileSync('du', ['-sb', dir]).toString().split('\t')[0])
console.log(`built ${N} rows, ${fmt(bytes / 2 ** 20, 0)} MiB on disk`)

// A memory cgroup of our own (v1 or v2) for the limited runs.
function makeCgroup(limitMib) {
  const lines = fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')
  const v1 = lines.find((l) => l.split(':')[1] === 'memory')
  if (v1) {
    const d = path.join('/sys/fs/cgroup/memory', v1.split(':')[2], 'kyrodb-hotdocs')
    fs.mkdirSync(d, { recursive: true })
    fs.writeFileSync(path.join(d, 'memory.limit_in_bytes'), String(limitMib * 2 ** 20))
    return d
  }
  const v2 = lines.find((l) => l.startsWith('0::'))
  const d = path.join('/sys/fs/cgroup', v2.slice(3), 'kyrodb-hotdocs')
  fs.mkdirSync(d, { recursive: true })
  fs.writeFileSync(path.join(d, 'memory.max'), String(limitMib * 2 ** 20))
  return d
}
let cgroup = null
const dropCaches = () => {
  execFileSync('sync')
  fs.writeFileSync('/proc/sys/vm/drop_caches', '1')
}
function replay(limitMib, alpha) {
  const limited = limitMib > 0
  if (limited) cgroup = makeCgroup(limitMib)
  dropCaches()
  const me = fileURLToPath(import.meta.url)
  const child = JSON.stringify({ dir, alpha })
  const cmd = `${limited ? `echo $$ > ${cgroup}/cgroup.procs && ` : ''}exec "${process.execPath}" "${me}" --n ${N} --ops ${OPS} --child '${child}'`
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8', maxBuffer: 1 << 26 })
  if (r.status !== 0) throw new Error(`replay failed (${r.status}): ${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').pop())
}

const runs = [['skewed (Zipf), no limit', 0, ALPHA]]
for (const l of LIMITS_MIB) runs.push([`uniform, ${l} MiB`, l, 0], [`skewed (Zipf), ${l} MiB`, l, ALPHA])
const results = []
for (const [name, limited, alpha] of runs) {
  results.push([name, replay(limited, alpha)])
  console.log(name, JSON.stringify(results.at(-1)[1]))
}
fs.rmSync(dir, { recursive: true, force: true })
if (cgroup) fs.rmdirSync(cgroup)

const m = machineInfo()
const body = [
  `Hot-document cache headroom (\`node benches/hot-documents.mjs --n ${N} --limit-mib ${LIMITS_MIB.join(',')} --ops ${OPS} --alpha ${ALPHA}\`): clustered-128, ${N.toLocaleString('en-US')} rows with ~200 bytes of metadata each, one graph, ${fmt(bytes / 2 ** 20, 0)} MiB on disk. ` +
    `Each replay is a fresh process started with the page cache dropped: ${OPS.toLocaleString('en-US')} operations (19 in 20 \`get(id)\`, 1 in 20 a search with \`cache: false\`; ids by Zipf(${ALPHA}) over scrambled ranks, or uniform), the second half timed. ` +
    `The limit is a memory cgroup, which charges the page cache too. ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}. Latencies in µs.`,
  '',
  table(
    ['trace, memory', 'get p50 / p99', 'search p50 / p99', 'major faults per 1,000 ops'],
    results.map(([name, r]) => [name, `${fmt(r.get[0], 1)} / ${fmt(r.get[1], 1)}`, `${fmt(r.search[0], 1)} / ${fmt(r.search[1], 1)}`, fmt(r.faultsPerKOp, 1)]),
  ),
].join('\n')
writeSection(path.join(BENCH_DIR, 'RESULTS.md'), 'hot-documents', body)
console.log(body)
