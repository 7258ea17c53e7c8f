#!/usr/bin/env node
// Search latency while writes stream in (issue 16): a built collection, then one writer
// upserting batches as fast as it can beside continuous searches, with the quiet figures of
// the same collection measured in the same run.
//
//   node benches/ingest.mjs [--n 1000000] [--seconds 60] [--quiet-seconds 10] [--batch 1000]
//                           [--cap <maxUnindexedRows>] [--durability full|normal|none] [--no-write]
//
// 1. clustered-128 (benches/datasets/clustered.mjs, L2): --n rows bulk-loaded with the
//    backlog cap off, then `buildIndex()` (one graph; its rows/s is the build rate).
// 2. Quiet: `searchSync(q, { k: 10 })` in a loop for --quiet-seconds (p50 / p99 / max).
// 3. Ingest: the same search loop on the main thread while an async writer keeps one
//    `upsert` of --batch new rows in flight for --seconds (new ids; rows drawn near the
//    base rows, so they land in the same clusters). The search loop yields to the event
//    loop every 2 ms so the writer's completions run; each searchSync is timed alone.
//    Every 5 s: rows acknowledged/s, rows indexed/s (stats().indexedRows), hot rows,
//    segments, stalls.
// The cap is the default (2 × autoBuildRows = 20,000 rows) unless --cap is given; --cap 0
// shows the unbounded behaviour. Writes benches/RESULTS.md § ingest (default cap only).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { loadClustered } from './datasets/clustered.mjs'
import { machineInfo } from './datasets/glove.mjs'
import { flag, option } from './lib/args.mjs'
import { BENCH_DIR, fmt, percentile, table, writeSection } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')

const N = Number(option('n', 1_000_000))
const SECONDS = Number(option('seconds', 60))
const QUIET_SECONDS = Number(option('quiet-seconds', 10))
const BATCH = Number(option('batch', 1000))
const CAP = option('cap', undefined)
const DURABILITY = option('durability', 'full')
const WRITE = !flag('no-write')
const DIM = 128
const K = 10

const now = () => performance.now()

function summary(lat) {
  const s = Float64Array.from(lat).sort()
  return { n: s.length, p50: percentile(s, 50), p99: percentile(s, 99), p999: percentile(s, 99.9), max: s[s.length - 1] }
}

/** searchSync in a loop until `until()` says stop, yielding every 2 ms; per-call latencies (ms). */
async function searchLoop(c, queries, until, lat = []) {
  const nq = queries.length / DIM
  let q = 0
  while (!until()) {
    const slice = now() + 2
    while (now() < slice) {
      const v = queries.subarray(q * DIM, (q + 1) * DIM)
      q = (q + 1) % nq
      const t0 = now()
      c.searchSync(v, { k: K, withMetadata: false, cache: false })
      lat.push(now() - t0)
    }
    await yieldToLoop()
  }
  return lat
}

async function main() {
  const machine = machineInfo()
  console.log(`[ingest] ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`)
  const ds = await loadClustered({ n: N })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-bench-ingest-'))
  const db = await kyrodb.open(dir, { durability: DURABILITY })
  try {
    const c = await db.createCollection('ingest', { dimension: DIM, metric: 'l2' })
    const defaultCap = c.stats().maxUnindexedRows

    // 1. Bulk load with the cap off, then one graph.
    c.setMaxUnindexedRows(0)
    const t0 = now()
    const STEP = 50_000
    for (let s = 0; s < N; s += STEP) {
      const e = Math.min(N, s + STEP)
      const ids = new BigUint64Array(e - s)
      for (let i = 0; i < ids.length; i++) ids[i] = BigInt(s + i)
      await c.upsert(ids, ds.base.subarray(s * DIM, e * DIM))
    }
    const loadSec = (now() - t0) / 1000
    const t1 = now()
    await c.buildIndex()
    const buildSec = (now() - t1) / 1000
    const buildRate = N / buildSec
    console.log(`[ingest] loaded ${N} rows in ${loadSec.toFixed(1)} s, buildIndex ${buildSec.toFixed(1)} s (${fmt(buildRate, 0)} rows/s)`)
    c.setMaxUnindexedRows(CAP === undefined ? defaultCap : Number(CAP))
    const cap = c.stats().maxUnindexedRows

    // 2. Quiet.
    await searchLoop(c, ds.queries, (() => { const end = now() + 1000; return () => now() > end })())
    const quietEnd = now() + QUIET_SECONDS * 1000
    const quiet = summary(await searchLoop(c, ds.queries, () => now() > quietEnd))
    console.log(`[ingest] quiet: ${quiet.n} searches, p50 ${quiet.p50.toFixed(3)} p99 ${quiet.p99.toFixed(3)} max ${quiet.max.toFixed(2)} ms`)

    // 3. Ingest.
    let acked = 0
    let stop = false
    const rand = (() => { let s = 12345; return () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) })()
    const batchVectors = () => {
      const v = new Float32Array(BATCH * DIM)
      for (let i = 0; i < BATCH; i++) {
        const src = Math.floor(rand() * N) * DIM
        for (let j = 0; j < DIM; j++) v[i * DIM + j] = ds.base[src + j] + (rand() - 0.5) * 4
      }
      return v
    }
    const writer = (async () => {
      let next = N
      while (!stop && WRITE) {
        const ids = new BigUint64Array(BATCH)
        for (let i = 0; i < BATCH; i++) ids[i] = BigInt(next + i)
        next += BATCH
        await c.upsert(ids, batchVectors())
        acked += BATCH
      }
    })()
    const start = now()
    const end = start + SECONDS * 1000
    const lat = []
    const windows = []
    let last = { t: start, acked: 0, indexed: c.stats().indexedRows, stallMs: c.stats().stallMs, from: 0 }
    while (now() < end) {
      const windowEnd = Math.min(end, now() + 5000)
      await searchLoop(c, ds.queries, () => now() > windowEnd, lat)
      const s = c.stats()
      const t = now()
      const w = summary(lat.slice(last.from))
      const row = {
        t: (t - start) / 1000,
        ackedPerSec: ((acked - last.acked) * 1000) / (t - last.t),
        indexedPerSec: ((s.indexedRows - last.indexed) * 1000) / (t - last.t),
        hotRows: s.hotRows,
        segments: s.segments.length,
        stallShare: (s.stallMs - last.stallMs) / (t - last.t),
        p50: w.p50,
        p99: w.p99,
        max: w.max,
      }
      windows.push(row)
      console.log(
        `[ingest] t=${row.t.toFixed(0)}s acked ${fmt(row.ackedPerSec, 0)}/s indexed ${fmt(row.indexedPerSec, 0)}/s hot ${row.hotRows} ` +
          `segments ${row.segments} stalled ${(row.stallShare * 100).toFixed(0)}% | p50 ${w.p50.toFixed(3)} p99 ${w.p99.toFixed(3)} max ${w.max.toFixed(2)} ms`,
      )
      last = { t, acked, indexed: s.indexedRows, stallMs: s.stallMs, from: lat.length }
    }
    stop = true
    const ingestSec = (now() - start) / 1000
    const under = summary(lat)
    const s = c.stats()
    await writer
    const total = {
      ackedPerSec: acked / ingestSec,
      indexedPerSec: windows.reduce((a, w) => a + w.indexedPerSec, 0) / windows.length,
      stallSec: s.stallMs / 1000,
      stalls: s.writeStalls,
    }
    console.log(
      `[ingest] under ingest: ${under.n} searches, p50 ${under.p50.toFixed(3)} p99 ${under.p99.toFixed(3)} max ${under.max.toFixed(2)} ms; ` +
        `p99 ${(under.p99 / quiet.p99).toFixed(2)}x quiet; acked ${fmt(total.ackedPerSec, 0)} rows/s, indexed ${fmt(total.indexedPerSec, 0)} rows/s, ` +
        `stalled ${total.stallSec.toFixed(1)} s in ${total.stalls} waits`,
    )

    if (CAP === undefined && WRITE) {
      const body = [
        `### Search latency under ingest (\`node benches/ingest.mjs --n ${N} --seconds ${SECONDS}\`)`,
        '',
        `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; ${new Date().toISOString().slice(0, 10)}.`,
        `clustered-128, ${N.toLocaleString('en-US')} rows built into one graph (${fmt(buildRate, 0)} rows/s with every core), durability \`${DURABILITY}\`; ` +
          `one writer keeps an upsert of ${BATCH} new rows in flight for ${SECONDS} s while the same thread runs \`searchSync(q, { k: 10 })\`. ` +
          `Default cap: maxUnindexedRows = ${cap.toLocaleString('en-US')}.`,
        '',
        table(
          ['phase', 'searches', 'p50 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
          [
            ['quiet', quiet.n, fmt(quiet.p50, 3), fmt(quiet.p99, 3), fmt(quiet.p999, 3), fmt(quiet.max, 2)],
            ['under ingest', under.n, fmt(under.p50, 3), fmt(under.p99, 3), fmt(under.p999, 3), fmt(under.max, 2)],
          ],
        ),
        '',
        `p99 under ingest / quiet p99: **${(under.p99 / quiet.p99).toFixed(2)}×** (goal ≤ 5×); max ${fmt(under.max, 2)} ms (goal < 20 ms). ` +
          `Rows acknowledged ${fmt(total.ackedPerSec, 0)}/s, indexed ${fmt(total.indexedPerSec, 0)}/s ` +
          `(${((total.indexedPerSec / buildRate) * 100).toFixed(0)}% of the all-core build rate; background builds run on one niced thread), ` +
          `writers stalled ${total.stallSec.toFixed(1)} s of ${SECONDS} s in ${total.stalls} waits.`,
        '',
        table(
          ['t s', 'acked rows/s', 'indexed rows/s', 'hot rows', 'segments', 'stalled', 'p50 ms', 'p99 ms', 'max ms'],
          windows.map((w) => [
            fmt(w.t, 0), fmt(w.ackedPerSec, 0), fmt(w.indexedPerSec, 0), w.hotRows, w.segments,
            `${(w.stallShare * 100).toFixed(0)}%`, fmt(w.p50, 3), fmt(w.p99, 3), fmt(w.max, 2),
          ]),
        ),
      ].join('\n')
      writeSection(path.join(BENCH_DIR, 'RESULTS.md'), 'ingest', body)
      console.log('[ingest] wrote benches/RESULTS.md § ingest')
    }
  } finally {
    await db.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

await main()
