#!/usr/bin/env node
// Approximate k-NN (HNSW) search: KyroDB against hnswlib-node, usearch, faiss-node and
// LanceDB, same data, same graph parameters (M = 16, efConstruction = 200), one run.
//
//   node benches/hnsw.mjs --set glove                  # GloVe-100, 331k, cosine
//   node benches/hnsw.mjs --set clustered --n 1000000  # clustered-128, L2
//   options: --queries 1000 --rounds 3 --peers hnswlib,usearch,faiss,lancedb --efs 10,16,...
//
// Every system indexes the same (for cosine: unit-normalised) vectors. Builds use 2 threads
// where the peer can (usearch, faiss, KyroDB); hnswlib-node's addPoint is single-threaded from
// JS. Search is timed one query at a time on the main thread, sweeping each system's ef;
// for each ef the systems' rounds take turns (see sweepAll) and QPS is the median round.
// Recall@10 is against exact ground truth, over every round's queries. Writes a section
// of benches/RESULTS.md and an SVG per data set.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { loadGlove, machineInfo } from './datasets/glove.mjs'
import { loadClustered } from './datasets/clustered.mjs'
import { ensurePeers, loadPeer, setFaissHnswParams } from './peers/load.mjs'
import { normalizeRows, recallAtK } from './lib/vectors.mjs'
import { BENCH_DIR, fmt, median, percentile, table, writeSection } from './lib/report.mjs'
import { recallQpsSvg } from './lib/svg.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const SET = args.set ?? 'glove'
const N = Number(args.n ?? 1_000_000)
const QUERIES = Number(args.queries ?? 1000)
const ROUNDS = Number(args.rounds ?? 3)
const PEERS = (args.peers ?? 'hnswlib,usearch,faiss,lancedb').split(',').filter(Boolean)
const EFS = (args.efs ?? '10,16,24,32,48,64,96,128,192,256,384,512,768,1024').split(',').map(Number)
const K = 10
const M = 16
const EF_CONSTRUCTION = 200
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-bench-'))

const secs = (t0) => (performance.now() - t0) / 1000

async function loadSet() {
  if (SET === 'glove') {
    const ds = await loadGlove()
    return { ...ds, name: `GloVe-100 (${ds.nBase.toLocaleString('en-US')} × 100, cosine)`, slug: 'glove', base: normalizeRows(ds.base, ds.dim), queries: normalizeRows(ds.queries, ds.dim) }
  }
  const ds = await loadClustered({ n: N })
  return { ...ds, name: `clustered-128 (${ds.nBase.toLocaleString('en-US')} × 128, L2)`, slug: `clustered-${ds.nBase}` }
}

// ---------------------------------------------------------------------------- systems
async function kyroSystem(ds) {
  const db = await kyrodb.open()
  const metric = ds.metric === 'cosine' ? 'cosine' : 'l2'
  const col = await db.createCollection('bench', {
    dimension: ds.dim,
    metric,
    index: { m: M, efConstruction: EF_CONSTRUCTION, autoBuildRows: 2 ** 31 },
  })
  const t0 = performance.now()
  const step = 50_000
  for (let s = 0; s < ds.nBase; s += step) {
    const e = Math.min(ds.nBase, s + step)
    const ids = new BigUint64Array(e - s)
    for (let i = 0; i < ids.length; i++) ids[i] = BigInt(s + i)
    await col.upsert(ids, ds.base.subarray(s * ds.dim, e * ds.dim))
  }
  await col.buildIndex()
  const build = secs(t0)
  let ef = 64
  const q = (i) => ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)
  return {
    name: 'kyrodb',
    build,
    setEf: (e) => (ef = e),
    search: (i) => col.searchSync(q(i), { k: K, ef, withMetadata: false, cache: false }).map((h) => h.id),
    searchAsync: async (i) => (await col.search(q(i), { k: K, ef, withMetadata: false, cache: false })).map((h) => h.id),
    col,
    db,
  }
}

async function hnswlibSystem(ds, lib) {
  const index = new lib.HierarchicalNSW(ds.metric === 'cosine' ? 'ip' : 'l2', ds.dim)
  index.initIndex({ maxElements: ds.nBase, m: M, efConstruction: EF_CONSTRUCTION, randomSeed: 100 })
  const rows = Array.from({ length: ds.nBase }, (_, i) => Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim)))
  const t0 = performance.now()
  for (let i = 0; i < ds.nBase; i++) index.addPoint(rows[i], i)
  const build = secs(t0)
  const qs = Array.from({ length: ds.nQueries }, (_, i) => Array.from(ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)))
  return { name: 'hnswlib-node', build, setEf: (e) => index.setEf(e), search: (i) => index.searchKnn(qs[i], K).neighbors }
}

async function usearchSystem(ds, usearch) {
  const metric = ds.metric === 'cosine' ? usearch.MetricKind.IP : usearch.MetricKind.L2sq
  const make = (ef) => new usearch.Index({ dimensions: ds.dim, metric, connectivity: M, expansion_add: EF_CONSTRUCTION, expansion_search: ef })
  const keys = BigUint64Array.from({ length: ds.nBase }, (_, i) => BigInt(i))
  let index = make(64)
  const t0 = performance.now()
  index.add(keys, ds.base, 2)
  const build = secs(t0)
  const file = path.join(TMP, 'usearch.index')
  index.save(file)
  const qs = Array.from({ length: ds.nQueries }, (_, i) => ds.queries.slice(i * ds.dim, (i + 1) * ds.dim))
  return {
    name: 'usearch',
    build,
    // usearch's Node API fixes expansion_search at construction: reload the saved graph.
    setEf: (e) => {
      index = make(e)
      index.load(file)
    },
    search: (i) => Array.from(index.search(qs[i], K, 1).keys, Number),
  }
}

async function faissSystem(ds, faiss) {
  const metric = ds.metric === 'cosine' ? faiss.MetricType.METRIC_INNER_PRODUCT : faiss.MetricType.METRIC_L2
  let index = faiss.Index.fromFactory(ds.dim, `HNSW${M},Flat`, metric)
  index = setFaissHnswParams(faiss, index, { efConstruction: EF_CONSTRUCTION })
  const t0 = performance.now()
  const chunk = 100_000
  for (let s = 0; s < ds.nBase; s += chunk) index.add(Array.from(ds.base.subarray(s * ds.dim, Math.min(ds.nBase, s + chunk) * ds.dim)))
  const build = secs(t0)
  const qs = Array.from({ length: ds.nQueries }, (_, i) => Array.from(ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)))
  return {
    name: 'faiss-node',
    build,
    setEf: (e) => (index = setFaissHnswParams(faiss, index, { efSearch: e })),
    search: (i) => index.search(qs[i], K).labels,
  }
}

async function lancedbSystem(ds, lancedb) {
  const db = await lancedb.connect(path.join(TMP, 'lance'))
  const dist = ds.metric === 'cosine' ? 'cosine' : 'l2'
  const rows = Array.from({ length: ds.nBase }, (_, i) => ({ id: i, vector: Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim)) }))
  const t0 = performance.now()
  const table = await db.createTable('vecs', rows)
  await table.createIndex('vector', { config: lancedb.Index.hnswSq({ distanceType: dist, numPartitions: 1, m: M, efConstruction: EF_CONSTRUCTION }) })
  const build = secs(t0)
  let ef = 64
  return {
    name: 'lancedb (IVF-HNSW-SQ)',
    build,
    async: true,
    setEf: (e) => (ef = e),
    search: async (i) =>
      (await table.query().nearestTo(ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)).distanceType(dist).limit(K).ef(ef).select(['id']).toArray()).map((r) => r.id),
  }
}

// ---------------------------------------------------------------------------- run
/**
 * Sweep every system's ef. For each ef, each system's rounds take turns with the other
 * systems' (round 1 of every system, then round 2, ...), so a slow spell of the machine
 * falls on all of them instead of on one system's whole curve. QPS is the median round;
 * recall is over every round's queries.
 */
async function sweepAll(systems, ds) {
  const curves = systems.map((s) => ({ name: s.name, build: s.build, points: [] }))
  const active = new Set(systems.keys())
  for (const ef of EFS) {
    if (active.size === 0) break
    const running = [...active]
    const qps = new Map(running.map((i) => [i, []]))
    const hits = new Map(running.map((i) => [i, 0]))
    for (const i of running) await systems[i].setEf(ef)
    for (let round = 0; round < ROUNDS; round++) {
      for (const i of running) {
        const system = systems[i]
        const t0 = process.hrtime.bigint()
        let rsum = 0
        for (let j = 0; j < QUERIES; j++) {
          const qi = (round * QUERIES + j) % ds.nQueries
          rsum += recallAtK(await system.search(qi), ds.groundTruth, qi)
        }
        qps.get(i).push(QUERIES / (Number(process.hrtime.bigint() - t0) / 1e9))
        hits.set(i, hits.get(i) + rsum)
      }
    }
    for (const i of running) {
      const recall = hits.get(i) / (ROUNDS * QUERIES)
      curves[i].points.push({ ef, recall, qps: median(qps.get(i)) })
      console.log(`  ${systems[i].name} ef=${ef}: recall@10 ${recall.toFixed(4)}, ${fmt(median(qps.get(i)), 0)} q/s`)
      if (recall > 0.999) active.delete(i)
    }
  }
  return curves
}

function bestAt(points, minRecall) {
  const ok = points.filter((p) => p.recall >= minRecall)
  return ok.length ? ok.reduce((a, b) => (b.qps > a.qps ? b : a)) : null
}

async function latency(fn, ds, n = 2000) {
  const lat = []
  for (let j = 0; j < n; j++) {
    const qi = j % ds.nQueries
    const t = process.hrtime.bigint()
    await fn(qi)
    lat.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  lat.sort((a, b) => a - b)
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) }
}

async function filteredAndDeleted(kyro, ds, ef) {
  // Filtered search: metadata { bucket: row % 100 }; 10% = bucket < 10, 1% = bucket == 0.
  const out = {}
  const rowsMatching = (pred) => Array.from({ length: ds.nBase }, (_, r) => r).filter(pred)
  const exactKnn = async (rows, q) => {
    const c = await kyro.db.createCollection(`exact${Math.random().toString(36).slice(2, 8)}`, { dimension: ds.dim, metric: ds.metric === 'cosine' ? 'cosine' : 'l2', index: false })
    const ids = BigUint64Array.from(rows, BigInt)
    const vec = new Float32Array(rows.length * ds.dim)
    rows.forEach((r, i) => vec.set(ds.base.subarray(r * ds.dim, (r + 1) * ds.dim), i * ds.dim))
    await c.upsert(ids, vec)
    const res = await c.searchBatch(q, { k: K, withMetadata: false, cache: false })
    await kyro.db.dropCollection(c.name)
    return res.map((h) => h.map((x) => Number(x.id)))
  }
  // Re-insert the base with metadata into a fresh indexed collection.
  const col = await kyro.db.createCollection('filtered', { dimension: ds.dim, metric: ds.metric === 'cosine' ? 'cosine' : 'l2', index: { m: M, efConstruction: EF_CONSTRUCTION, autoBuildRows: 2 ** 31 } })
  const step = 50_000
  for (let s = 0; s < ds.nBase; s += step) {
    const e = Math.min(ds.nBase, s + step)
    const ids = BigUint64Array.from({ length: e - s }, (_, i) => BigInt(s + i))
    const meta = Array.from({ length: e - s }, (_, i) => ({ bucket: (s + i) % 100 }))
    await col.upsert(ids, ds.base.subarray(s * ds.dim, e * ds.dim), meta)
  }
  await col.buildIndex()
  const nq = Math.min(500, ds.nQueries)
  const qflat = ds.queries.subarray(0, nq * ds.dim)
  const q = (i) => ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)
  {
    let rsum = 0
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < nq; i++) rsum += recallAtK(col.searchSync(q(i), { k: K, ef, withMetadata: false, cache: false }).map((h) => h.id), ds.groundTruth, i)
    out.unfiltered = { recall: rsum / nq, qps: nq / (Number(process.hrtime.bigint() - t0) / 1e9) }
  }
  // Each filter is swept over ef (the walk needs a different beam than the unfiltered
  // search for the same recall), so that its QPS can be compared with the unfiltered QPS
  // at the same recall: a fine grid up to 4× the unfiltered ef, stopping one point after
  // the filtered recall reaches the unfiltered one.
  const grid = [16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 512, 768, 1024]
  const filterEfs = [...new Set([...grid, ef].filter((e) => e >= K && e <= 4 * ef))].sort((a, b) => a - b)
  for (const [label, filter, pred] of [
    ['10%', { bucket: { $lt: 10 } }, (r) => r % 100 < 10],
    ['1%', { bucket: 0 }, (r) => r % 100 === 0],
  ]) {
    const truth = await exactKnn(rowsMatching(pred), qflat)
    const points = []
    let reached = 0
    for (const e of filterEfs) {
      let rsum = 0
      const t0 = process.hrtime.bigint()
      for (let i = 0; i < nq; i++) {
        const got = col.searchSync(q(i), { k: K, ef: e, filter, withMetadata: false, cache: false }).map((h) => Number(h.id))
        rsum += got.filter((x) => truth[i].includes(x)).length / K
      }
      points.push({ ef: e, recall: rsum / nq, qps: nq / (Number(process.hrtime.bigint() - t0) / 1e9) })
      if (rsum / nq >= out.unfiltered.recall && ++reached > 1) break
    }
    out[label] = { ...points[points.length - 1], points }
  }
  // Delete a random 10% and measure recall against the exact answer over what is left.
  let seed = 7
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648)
  const deleted = new Set(Array.from({ length: ds.nBase }, (_, r) => r).filter(() => rand() < 0.1))
  await col.delete(BigUint64Array.from(deleted, BigInt))
  const truth = await exactKnn(rowsMatching((r) => !deleted.has(r)), qflat)
  let rsum = 0
  let leaked = 0
  for (let i = 0; i < nq; i++) {
    const got = col.searchSync(q(i), { k: K, ef, withMetadata: false, cache: false }).map((h) => Number(h.id))
    leaked += got.filter((x) => deleted.has(x)).length
    rsum += got.filter((x) => truth[i].includes(x)).length / K
  }
  out.afterDelete = { recall: rsum / nq, leaked }
  return out
}

async function main() {
  const machine = machineInfo()
  const ds = await loadSet()
  console.log(`${ds.name}; machine ${machine.cpu}, ${machine.cores} cores; kyrodb SIMD ${kyrodb.engineInfo().simd}`)
  await ensurePeers()
  const systems = []
  const t = performance.now()
  systems.push(await kyroSystem(ds))
  console.log(`kyrodb built in ${systems[0].build.toFixed(1)} s (${secs(t).toFixed(1)} s with inserts)`)
  const peerMakers = { hnswlib: ['hnswlib-node', hnswlibSystem], usearch: ['usearch', usearchSystem], faiss: ['faiss-node', faissSystem], lancedb: ['@lancedb/lancedb', lancedbSystem] }
  for (const p of PEERS) {
    const [pkg, make] = peerMakers[p]
    const lib = await loadPeer(pkg)
    if (!lib) continue
    const s = await make(ds, lib)
    console.log(`${s.name} built in ${s.build.toFixed(1)} s`)
    systems.push(s)
  }
  console.log(`sweeping ${systems.map((s) => s.name).join(', ')} (rounds interleaved)`)
  const curves = await sweepAll(systems, ds)
  const kyro = systems[0]
  const at95 = bestAt(curves[0].points, 0.95)
  kyro.setEf(at95?.ef ?? 64)
  const syncLat = await latency((i) => kyro.search(i), ds)
  const asyncLat = await latency((i) => kyro.searchAsync(i), ds)
  const extra = await filteredAndDeleted(kyro, ds, at95?.ef ?? 64)
  await kyro.db.close()

  // -------------------------------------------------------------------------- report
  const peersOnly = curves.slice(1)
  const ratio = (minR) => {
    const mine = bestAt(curves[0].points, minR)
    const best = Math.max(0, ...peersOnly.map((c) => bestAt(c.points, minR)?.qps ?? 0))
    return mine && best ? mine.qps / best : NaN
  }
  const fastestBuild = Math.min(...peersOnly.map((c) => c.build))
  const svgName = `hnsw-${ds.slug}.svg`
  fs.writeFileSync(path.join(BENCH_DIR, svgName), recallQpsSvg(`${ds.name}: recall vs queries/s (M=16, efC=200)`, curves))
  const cell = (p) => (p ? `${fmt(p.qps, 0)} (ef ${p.ef})` : '–')
  const body = [
    `### HNSW, ${ds.name}, k = 10`,
    '',
    `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${process.version}; KyroDB SIMD: ${kyrodb.engineInfo().simd}; ${new Date().toISOString().slice(0, 10)}. ` +
      `M = 16, efConstruction = 200 everywhere; ${ROUNDS} rounds of ${QUERIES} queries per ef, the systems taking turns round by round; median QPS, recall over all rounds; one query at a time on one thread.`,
    '',
    table(
      ['system', 'build s', 'build vectors/s', 'QPS @ recall ≥ 0.90', 'QPS @ ≥ 0.95', 'QPS @ ≥ 0.99', 'max recall'],
      curves.map((c) => [c.name, fmt(c.build, 1), fmt(ds.nBase / c.build, 0), cell(bestAt(c.points, 0.9)), cell(bestAt(c.points, 0.95)), cell(bestAt(c.points, 0.99)), fmt(Math.max(...c.points.map((p) => p.recall)), 4)]),
    ),
    '',
    `KyroDB vs the best peer: **${fmt(ratio(0.95), 2)}×** QPS at recall ≥ 0.95, **${fmt(ratio(0.99), 2)}×** at ≥ 0.99; ` +
      `build **${fmt(fastestBuild / curves[0].build, 2)}×** the fastest peer's vectors/s.`,
    '',
    `KyroDB latency at ef ${at95?.ef} (recall ${fmt(at95?.recall ?? NaN, 4)}): searchSync p50 ${fmt(syncLat.p50, 3)} ms, p99 ${fmt(syncLat.p99, 3)} ms; ` +
      `search (async) p50 ${fmt(asyncLat.p50, 3)} ms, p99 ${fmt(asyncLat.p99, 3)} ms.`,
    '',
    `Filtered (500 queries, recall against an exact search of the rows that pass; unfiltered at ef ${at95?.ef}: recall ${fmt(extra.unfiltered.recall, 4)}, ${fmt(extra.unfiltered.qps, 0)} q/s in this collection):`,
    '',
    table(
      ['filter', 'ef', 'recall@10', 'queries/s', 'vs unfiltered q/s'],
      ['10%', '1%'].flatMap((label) => extra[label].points.map((p) => [label, p.ef, fmt(p.recall, 4), fmt(p.qps, 0), `${fmt(p.qps / extra.unfiltered.qps, 2)}×`])),
    ),
    '',
    `At the same recall (the smallest ef whose filtered recall reaches the unfiltered ${fmt(extra.unfiltered.recall, 4)}): 10% filter ` +
      `**${fmt((bestAt(extra['10%'].points, extra.unfiltered.recall)?.qps ?? NaN) / extra.unfiltered.qps, 2)}×** the unfiltered QPS, 1% filter ` +
      `**${fmt((bestAt(extra['1%'].points, extra.unfiltered.recall)?.qps ?? NaN) / extra.unfiltered.qps, 2)}×**. ` +
      `After deleting a random 10%: recall ${fmt(extra.afterDelete.recall, 4)} at ef ${at95?.ef}, deleted ids returned: ${extra.afterDelete.leaked}.`,
    '',
    `![recall vs QPS](${svgName})`,
    '',
    `Reproduce: \`node benches/hnsw.mjs --set ${SET}${SET === 'clustered' ? ` --n ${N}` : ''} --queries ${QUERIES} --rounds ${ROUNDS}${args.peers !== undefined ? ` --peers ${PEERS.join(',')}` : ''}\`.`,
  ].join('\n')
  writeSection(path.join(BENCH_DIR, 'RESULTS.md'), `hnsw-${ds.slug}`, body)
  if (ds.slug === 'glove') {
    const readme = [
      `Graph (HNSW) search, GloVe-100, M = 16, efConstruction = 200, one thread, ${machine.cpu} (${kyrodb.engineInfo().simd}), ${new Date().toISOString().slice(0, 10)}:`,
      '',
      table(
        ['system', 'QPS @ recall ≥ 0.90', 'QPS @ ≥ 0.95', 'QPS @ ≥ 0.99', 'build vectors/s'],
        curves.map((c) => [c.name, cell(bestAt(c.points, 0.9)), cell(bestAt(c.points, 0.95)), cell(bestAt(c.points, 0.99)), fmt(ds.nBase / c.build, 0)]),
      ),
      '',
      `![recall vs QPS on GloVe-100](benches/${svgName})`,
    ].join('\n')
    writeSection(path.join(BENCH_DIR, '..', 'README.md'), 'hnsw-glove-readme', readme)
  }
  console.log('\n' + body)
  fs.rmSync(TMP, { recursive: true, force: true })
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
