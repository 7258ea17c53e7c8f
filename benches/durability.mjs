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
//   node --expose-gc benches/durability.mjs [--only insert|reopen] [--rows 200000] [--segment-rows 1000000]
//        [--wal-rows 100000] [--peers lancedb,hnswlib]
//
// Collections are exact-only (index: false) so the figures measure the storage path,
// not graph construction (graph segments add only a structural check at open).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { execFileSync } from 'node:child_process'
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
// Metadata fields per row of the segment collection in the reopen run (0 = none): a
// string, a number and a boolean, as a filtered RAG collection would carry.
const META_FIELDS = Number(args['metadata-fields'] ?? 0)
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
const FIELD_MAKERS = [(r) => ['source', `doc-${r % 5000}`], (r) => ['page', r % 997], (r) => ['public', r % 3 === 0]]
const metaOf = (b) =>
  META_FIELDS === 0
    ? undefined
    : Array.from({ length: BATCH }, (_, i) => {
        const r = b * BATCH + i
        return Object.fromEntries(Array.from({ length: META_FIELDS }, (_, f) => FIELD_MAKERS[f % 3](r)).map(([k, v], f) => [f < 3 ? k : `${k}${f}`, v]))
      })

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


// The WAL part lives in an indexed collection whose autoBuildRows is above its size, so it
// stays in the WAL (an exact-only collection would flush it into segments every 65,536 rows).
const WAL_ONLY_INDEX = { autoBuildRows: 4_000_000 }

function bytesIn(dir) {
  return fs.existsSync(dir) ? fs.readdirSync(dir).reduce((s, f) => s + fs.statSync(path.join(dir, f)).size, 0) : 0
}

async function reopen() {
  const dir = path.join(TMP, 'reopen')
  let db = await kyrodb.open(dir, { durability: 'none' })
  const segC = await db.createCollection('seg', { dimension: DIM, metric: 'l2', index: false })
  const walC = await db.createCollection('wal', { dimension: DIM, metric: 'l2', index: WAL_ONLY_INDEX })
  const nb = Math.ceil(SEG_ROWS / BATCH)
  for (let b = 0; b < nb; b++) await segC.upsert(idsOf(b), batchData(b), metaOf(b))
  await db.flush()
  const nw = Math.ceil(WAL_ROWS / BATCH)
  for (let b = 0; b < nw; b++) await walC.upsert(idsOf(b), batchData(nb + b))
  await db.close()
  const walBytes = bytesIn(path.join(dir, 'wal'))
  const segBytes = bytesIn(path.join(dir, 'seg'))
  // Reopen in a fresh process, as an application restart would.
  const probe = `
    const kyrodb = require(${JSON.stringify(path.join(REPO_DIR, 'dist', 'index.js'))})
    const rss0 = process.memoryUsage().rss
    const t0 = performance.now()
    kyrodb.open(${JSON.stringify(dir)}).then(async (db) => {
      const openSecs = (performance.now() - t0) / 1000
      const q = new Float32Array(${DIM}).fill(0.1)
      const hits = await db.collection('seg').search(q, { k: 10, ${META_FIELDS > 0 ? "filter: { public: true, page: { $lt: 500 } }" : ''} })
      const firstSearchSecs = (performance.now() - t0) / 1000
      const rssGrowMiB = (process.memoryUsage().rss - rss0) / 2 ** 20
      const counts = [db.collection('seg').count(), db.collection('wal').count(), db.collection('wal').stats().hotRows, hits.length]
      await db.close()
      console.log(JSON.stringify({ openSecs, firstSearchSecs, rssGrowMiB, counts }))
    })`
  const out = execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' })
  const { openSecs, firstSearchSecs, rssGrowMiB, counts } = JSON.parse(out.trim().split('\n').at(-1))
  const hits = { length: counts[3] }
  // Replay rate: a database holding only such a WAL.
  const walDir = path.join(TMP, 'walonly')
  let w = await kyrodb.open(walDir, { durability: 'none' })
  const wc = await w.createCollection('wal', { dimension: DIM, metric: 'l2', index: WAL_ONLY_INDEX })
  for (let b = 0; b < nw; b++) await wc.upsert(idsOf(b), batchData(b))
  await w.close()
  const replayBytes = bytesIn(path.join(walDir, 'wal'))
  const t1 = performance.now()
  w = await kyrodb.open(walDir)
  const replaySecs = (performance.now() - t1) / 1000
  await w.close()
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(walDir, { recursive: true, force: true })
  if (hits.length !== 10 || counts[0] !== nb * BATCH || counts[1] !== nw * BATCH || counts[2] !== nw * BATCH) {
    throw new Error(`reopen lost data or flushed the WAL part: ${counts}`)
  }
  return { openSecs, firstSearchSecs, walBytes, segBytes, replayMBs: replayBytes / 2 ** 20 / replaySecs, rssGrowMiB }
}

const ONLY = args.only ?? 'all' // 'insert', 'reopen' or 'all'

async function main() {
  const machine = machineInfo()
  const date = new Date().toISOString().slice(0, 10)
  if (ONLY !== 'insert') {
    const r = await reopen()
    console.log(r)
    const metaFlag = META_FIELDS ? ` --metadata-fields ${META_FIELDS}` : ''
    const metaText = META_FIELDS ? `, ${META_FIELDS} metadata fields per row, first search filtered on two of them` : ''
    const body =
      `Reopen (\`node --expose-gc benches/durability.mjs --only reopen --segment-rows ${SEG_ROWS} --wal-rows ${WAL_ROWS}${metaFlag}\`), ${machine.cpu}, ${machine.cores} cores, ${date}: ` +
      `${SEG_ROWS.toLocaleString('en')} × ${DIM}-d vectors in segment files (${fmt(r.segBytes / 2 ** 20, 0)} MiB, exact-only collection${metaText}) + ${WAL_ROWS.toLocaleString('en')} only in the WAL ` +
      `(${fmt(r.walBytes / 2 ** 20, 0)} MiB), reopened in a new process, page cache warm: **open ${fmt(r.openSecs, 2)} s**, first search answered at ${fmt(r.firstSearchSecs, 2)} s, ` +
      `resident memory +${fmt(r.rssGrowMiB, 0)} MiB across the open (the WAL tail is copied into memory, and checksumming the segments at open touches every mapped page). ` +
      `WAL replay alone (a database with only that WAL): ${fmt(r.replayMBs, 0)} MiB/s.`
    writeSection(path.join(REPO_DIR, 'benches', 'RESULTS.md'), `durability-reopen-${SEG_ROWS}${META_FIELDS ? `-metadata${META_FIELDS}` : ''}`, body)
    console.log(body)
    if (ONLY === 'reopen') return fs.rmSync(TMP, { recursive: true, force: true })
  }
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
  const body = [
    `Durable inserts and reopen (\`node benches/durability.mjs --rows ${ROWS} --segment-rows ${SEG_ROWS} --wal-rows ${WAL_ROWS}\`), ` +
      `${machine.cpu}, ${machine.cores} cores, Node ${process.version}, file system of \`${path.dirname(TMP)}\`, ${date}. ` +
      `${ROWS.toLocaleString('en')} × ${DIM}-d vectors, batches of ${BATCH}, one writer awaiting each batch; exact-only collection (no graph builds).`,
    '',
    table(
      ['system', 'durable when acknowledged', 'vectors/s', 'vs KyroDB full'],
      results.map((x) => [x.name, x.durable, fmt(x.rate, 0), `${fmt(x.rate / base, 2)}×`]),
    ),
  ].join('\n')
  writeSection(path.join(REPO_DIR, 'benches', 'RESULTS.md'), 'durability-insert', body)
  console.log(body)
  fs.rmSync(TMP, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
