// Durable writes and reopen, side by side with peers, one run:
//
// 1. Insert throughput: 128-d vectors in batches of 1,000 from one writer, acknowledged
//    (each `await upsert` resolved), for KyroDB in `full` (fsync per group commit),
//    `normal` and `none` modes; @lancedb/lancedb `table.add` (writes a new Lance
//    fragment per batch); hnswlib-node `addPoint` (in memory, not durable).
// 2. Reopen: a database with `--segment-rows` vectors in segment files plus `--wal-rows`
//    vectors only in the WAL is closed and reopened; time to open (recovery: map and
//    check segments, replay the WAL) and to answer the first search, WAL replay rate,
//    and resident memory growth across the open.
//
//   node benches/durability.mjs [--rows 200000] [--segment-rows 1000000] [--wal-rows 100000] [--peers lancedb,hnswlib]
//
// Collections are exact-only (index: false) so the figures measure the storage path,
// not graph construction (graph segments add only a structural check at open).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { machineInfo } from './datasets/glove.mjs'
import { loadPeer } from './peers/load.mjs'
import { REPO_DIR, fmt, table, writeSection } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require(path.join(REPO_DIR, 'dist', 'index.js'))

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const DIM = 128
const BATCH = 1000
const ROWS = Number(args.rows ?? 200_000)
const SEG_ROWS = Number(args['segment-rows'] ?? 1_000_000)
const WAL_ROWS = Number(args['wal-rows'] ?? 100_000)
const PEERS = (args.peers ?? 'lancedb,hnswlib').split(',').filter(Boolean)
const TMP = fs.mkdtempSync(path.join(process.env.KYRODB_BENCH_DIR ?? os.tmpdir(), 'kyrodb-dur-bench-'))

function batchData(b) {
  // Deterministic, cheap, not all-equal: a per-batch LCG.
  const out = new Float32Array(BATCH * DIM)
  let s = (b * 2654435761) >>> 0
  for (let i = 0; i < out.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0
    out[i] = s / 4294967296 - 0.5
  }
  return out
}
const batches = Array.from({ length: Math.ceil(ROWS / BATCH) }, (_, b) => batchData(b))
const idsOf = (b) => BigUint64Array.from({ length: BATCH }, (_, i) => BigInt(b * BATCH + i))

async function kyroInsert(durability) {
  const dir = path.join(TMP, `insert-${durability}`)
  const db = await kyrodb.open(dir, { durability })
  const c = await db.createCollection('v', { dimension: DIM, metric: 'l2', index: false })
  const t0 = performance.now()
  for (let b = 0; b < batches.length; b++) await c.upsert(idsOf(b), batches[b])
  const secs = (performance.now() - t0) / 1000
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return { name: `KyroDB upsert, durability '${durability}'`, durable: durability === 'full' ? 'yes (fsync per ack)' : durability === 'normal' ? 'within 100 ms' : 'no (page cache)', rate: ROWS / secs }
}

async function lanceInsert(lancedb) {
  const db = await lancedb.connect(path.join(TMP, 'lance'))
  const rows = (b) => Array.from({ length: BATCH }, (_, i) => ({ id: b * BATCH + i, vector: Array.from(batches[b].subarray(i * DIM, (i + 1) * DIM)) }))
  const first = rows(0)
  const t0 = performance.now()
  const tbl = await db.createTable('v', first)
  for (let b = 1; b < batches.length; b++) await tbl.add(rows(b))
  const secs = (performance.now() - t0) / 1000
  return { name: '@lancedb/lancedb table.add', durable: 'new fragment file per batch', rate: ROWS / secs }
}

function hnswlibInsert(hnswlib) {
  const index = new hnswlib.HierarchicalNSW('l2', DIM)
  index.initIndex(ROWS, 16, 200, 100)
  const t0 = performance.now()
  for (let b = 0; b < batches.length; b++) for (let i = 0; i < BATCH; i++) index.addPoint(Array.from(batches[b].subarray(i * DIM, (i + 1) * DIM)), b * BATCH + i)
  const secs = (performance.now() - t0) / 1000
  return { name: 'hnswlib-node addPoint (builds the graph)', durable: 'no (memory only)', rate: ROWS / secs }
}

function rssMiB() {
  return process.memoryUsage().rss / 2 ** 20
}

async function reopen() {
  const dir = path.join(TMP, 'reopen')
  let db = await kyrodb.open(dir, { durability: 'none' })
  const c = await db.createCollection('v', { dimension: DIM, metric: 'l2', index: false })
  const nb = Math.ceil(SEG_ROWS / BATCH)
  for (let b = 0; b < nb; b++) await c.upsert(idsOf(b), batchData(b))
  await db.flush()
  for (let b = nb; b < nb + Math.ceil(WAL_ROWS / BATCH); b++) await c.upsert(idsOf(b), batchData(b))
  await db.close()
  const walBytes = fs.readdirSync(path.join(dir, 'wal')).reduce((s, f) => s + fs.statSync(path.join(dir, 'wal', f)).size, 0)
  const segBytes = fs.readdirSync(path.join(dir, 'seg')).reduce((s, f) => s + fs.statSync(path.join(dir, 'seg', f)).size, 0)
  global.gc?.()
  const rss0 = rssMiB()
  const t0 = performance.now()
  db = await kyrodb.open(dir)
  const openSecs = (performance.now() - t0) / 1000
  const hits = await db.collection('v').search(batchData(0).subarray(0, DIM), { k: 10 })
  const firstSearchSecs = (performance.now() - t0) / 1000
  const rss1 = rssMiB()
  const count = db.collection('v').count()
  await db.close()
  // Replay rate: reopen a WAL-only database of the same WAL size.
  const walDir = path.join(TMP, 'walonly')
  let w = await kyrodb.open(walDir, { durability: 'none' })
  const wc = await w.createCollection('v', { dimension: DIM, metric: 'l2', index: false })
  for (let b = 0; b < Math.ceil(WAL_ROWS / BATCH); b++) await wc.upsert(idsOf(b), batchData(b))
  await w.close()
  const t1 = performance.now()
  w = await kyrodb.open(walDir)
  const replaySecs = (performance.now() - t1) / 1000
  await w.close()
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(walDir, { recursive: true, force: true })
  if (hits.length !== 10 || count !== nb * BATCH + Math.ceil(WAL_ROWS / BATCH) * BATCH) throw new Error('reopen lost data')
  return { openSecs, firstSearchSecs, walBytes, segBytes, replayMBs: walBytes / 2 ** 20 / replaySecs, rssGrowMiB: rss1 - rss0 }
}

async function main() {
  const machine = machineInfo()
  console.log(`durability bench: ${ROWS} × ${DIM} in batches of ${BATCH}; ${machine.cpu}, ${machine.cores} cores; tmp ${TMP}`)
  const results = []
  for (const d of ['full', 'normal', 'none']) {
    results.push(await kyroInsert(d))
    console.log(results.at(-1))
  }
  if (PEERS.includes('lancedb')) {
    const lancedb = await loadPeer('@lancedb/lancedb')
    if (lancedb) results.push(await lanceInsert(lancedb))
    console.log(results.at(-1))
  }
  if (PEERS.includes('hnswlib')) {
    const hnswlib = await loadPeer('hnswlib-node')
    if (hnswlib) results.push(hnswlibInsert(hnswlib))
    console.log(results.at(-1))
  }
  const base = results.find((r) => r.name.includes("'full'")).rate
  const r = await reopen()
  console.log(r)
  const date = new Date().toISOString().slice(0, 10)
  const body = [
    `Durable inserts and reopen (\`node benches/durability.mjs --rows ${ROWS} --segment-rows ${SEG_ROWS} --wal-rows ${WAL_ROWS}\`), ` +
      `${machine.cpu}, ${machine.cores} cores, Node ${process.version}, file system of \`${path.dirname(TMP)}\`, ${date}. ` +
      `${ROWS.toLocaleString('en')} × ${DIM}-d vectors, batches of ${BATCH}, one writer awaiting each batch; exact-only collection (no graph builds).`,
    '',
    table(
      ['system', 'durable when acknowledged', 'vectors/s', 'vs KyroDB full'],
      results.map((x) => [x.name, x.durable, fmt(x.rate, 0), `${fmt(x.rate / base, 2)}×`]),
    ),
    '',
    `Reopen: ${SEG_ROWS.toLocaleString('en')} vectors in segment files (${fmt(r.segBytes / 2 ** 20, 0)} MiB) + ${WAL_ROWS.toLocaleString('en')} only in the WAL ` +
      `(${fmt(r.walBytes / 2 ** 20, 0)} MiB): open ${fmt(r.openSecs, 2)} s, first search answered at ${fmt(r.firstSearchSecs, 2)} s, ` +
      `resident memory +${fmt(r.rssGrowMiB, 0)} MiB across the open (the WAL tail lands in memory; segments are mapped). ` +
      `WAL replay alone: ${fmt(r.replayMBs, 0)} MiB/s.`,
  ].join('\n')
  writeSection(path.join(REPO_DIR, 'benches', 'RESULTS.md'), 'durability', body)
  console.log(body)
  fs.rmSync(TMP, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
