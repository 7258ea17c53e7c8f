#!/usr/bin/env node
// A long ingest with default settings (issue 16): does the write rate hold as the
// collection grows, and how fast does the result reopen with a cold page cache?
//
//   node benches/ingest-scale.mjs [--n 10000000] [--window 1000000] [--batch 1000]
//                                 [--queries 50] [--dir DIR] [--keep]
//
// 1. An empty durable database opened with every default (durability 'full', the default
//    backlog cap, background builds and merges), one collection (128-d, L2).
// 2. One writer keeps an `upsert` of --batch new rows in flight until --n rows are
//    acknowledged; rows are the clustered-128 mixture (benches/datasets/clustered.mjs),
//    generated while the previous upsert is in flight. Per window of --window rows: rows
//    acknowledged/s, rows indexed, hot rows, segments, writer stall time, resident memory,
//    and the latency of a `searchSync` sampled every 50 ms (no search loop: this measures
//    the write path, `benches/ingest.mjs` measures searches under writes).
// 3. Exact top-10 of --queries held-out queries, kept up to date in JS as rows are written;
//    after the last write, `db.flush()`, then recall@10 at several ef, then `close()`.
// 4. Reopen in a new process, first after `sync` and dropping the page cache
//    (/proc/sys/vm/drop_caches, needs root), then warm: open time, first search, count.
// Goal (issue 16): the last window's rows/s ≥ 80% of the first's. Writes benches/RESULTS.md
// § ingest-scale-<n> when --n is at least 1M.
import { execFileSync, execSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { clusteredStream } from './datasets/clustered.mjs'
import { machineInfo } from './datasets/glove.mjs'
import { flag, option } from './lib/args.mjs'
import { BENCH_DIR, REPO_DIR, fmt, percentile, table, writeSection } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')

const N = Number(option('n', 10_000_000))
const WINDOW = Number(option('window', 1_000_000))
const BATCH = Number(option('batch', 1000))
const NQ = Number(option('queries', 50))
const KEEP = flag('keep')
const DIM = 128
const K = 10
const EFS = [64, 128, 256]

const now = () => performance.now()
const sortedOf = (xs) => Float64Array.from(xs).sort()

/** Exact top-K of each query over every row seen so far (squared L2, ties by lower id). */
class ExactTopK {
  constructor(queries) {
    this.q = queries
    this.nq = queries.length / DIM
    this.dist = Array.from({ length: this.nq }, () => [])
  }

  add(rows, firstId) {
    for (let qi = 0; qi < this.nq; qi++) {
      const top = this.dist[qi]
      const qo = qi * DIM
      let worst = top.length === K ? top[K - 1][0] : Infinity
      for (let r = 0; r < rows.length / DIM; r++) {
        let d = 0
        const ro = r * DIM
        for (let j = 0; j < DIM; j++) {
          const x = rows[ro + j] - this.q[qo + j]
          d += x * x
        }
        if (d < worst) {
          top.push([d, firstId + r])
          top.sort((a, b) => a[0] - b[0] || a[1] - b[1])
          if (top.length > K) top.pop()
          worst = top.length === K ? top[K - 1][0] : Infinity
        }
      }
    }
  }

  recall(qi, hits) {
    const want = new Set(this.dist[qi].map((x) => x[1]))
    return hits.filter((h) => want.has(Number(h.id))).length / K
  }
}

/** Open `dir` in a new process; seconds to open and to the first search, count, RSS growth. */
function reopenInChild(dir, query) {
  const probe = `
    const kyrodb = require(${JSON.stringify(path.join(REPO_DIR, 'dist', 'index.js'))})
    const rss0 = process.memoryUsage().rss
    const t0 = performance.now()
    kyrodb.open(${JSON.stringify(dir)}).then(async (db) => {
      const openSecs = (performance.now() - t0) / 1000
      const c = db.collection('scale')
      const hits = await c.search(Float32Array.from(${JSON.stringify(Array.from(query))}), { k: 10, cache: false })
      const firstSearchSecs = (performance.now() - t0) / 1000
      const rssGrowMiB = (process.memoryUsage().rss - rss0) / 2 ** 20
      const out = { openSecs, firstSearchSecs, rssGrowMiB, count: c.count(), hits: hits.length }
      await db.close()
      console.log(JSON.stringify(out))
    })`
  const out = execFileSync(process.execPath, ['-e', probe], { encoding: 'utf8' })
  return JSON.parse(out.trim().split('\n').at(-1))
}

function dropPageCache() {
  try {
    execSync('sync')
    fs.writeFileSync('/proc/sys/vm/drop_caches', '3')
    return true
  } catch {
    return false
  }
}

function bytesUnder(dir) {
  let total = 0
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name)
    total += e.isDirectory() ? bytesUnder(p) : fs.statSync(p).size
  }
  return total
}

async function main() {
  const machine = machineInfo()
  console.log(`[scale] ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`)
  const dir = option('dir', undefined) ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-bench-ingest-scale-'))
  const queries = clusteredStream(128, { rowSeed: 0x5ca1e }).next(new Float32Array(NQ * DIM))
  const exact = new ExactTopK(queries)
  const rows = clusteredStream(128)

  const db = await kyrodb.open(dir)
  let removeDir = !KEEP
  try {
    const c = await db.createCollection('scale', { dimension: DIM, metric: 'l2' })
    const settings = { cap: c.stats().maxUnindexedRows }

    // Latency sampler: one searchSync every 50 ms, into the current window.
    let samples = []
    let qi = 0
    const sampler = setInterval(() => {
      const q = queries.subarray(qi * DIM, (qi + 1) * DIM)
      qi = (qi + 1) % NQ
      const t0 = now()
      c.searchSync(q, { k: K, withMetadata: false, cache: false })
      samples.push(now() - t0)
    }, 50)

    const windows = []
    const start = now()
    let last = { t: start, stallMs: 0 }
    let next = rows.next(new Float32Array(BATCH * DIM))
    for (let done = 0; done < N; ) {
      const n = Math.min(BATCH, N - done)
      const ids = new BigUint64Array(n)
      for (let i = 0; i < n; i++) ids[i] = BigInt(done + i)
      const vectors = n === BATCH ? next : next.subarray(0, n * DIM)
      const write = c.upsert(ids, vectors)
      // While it is in flight: the exact answers, and the next batch's rows.
      exact.add(vectors, done)
      const following = rows.next(new Float32Array(BATCH * DIM))
      await write
      next = following
      done += n
      if (done % WINDOW === 0 || done === N) {
        const t = now()
        const s = c.stats()
        const lat = sortedOf(samples)
        const row = {
          rows: done,
          secs: (t - last.t) / 1000,
          rowsPerSec: ((done - (windows.at(-1)?.rows ?? 0)) * 1000) / (t - last.t),
          indexed: s.indexedRows,
          hot: s.hotRows,
          segments: s.segments.map((x) => x.rows),
          stallShare: (s.stallMs - last.stallMs) / (t - last.t),
          rssGiB: process.memoryUsage().rss / 2 ** 30,
          searches: lat.length,
          p50: percentile(lat, 50),
          p99: percentile(lat, 99),
          max: lat[lat.length - 1],
        }
        windows.push(row)
        samples = []
        last = { t, stallMs: s.stallMs }
        console.log(
          `[scale] ${fmt(done / 1e6, 1)}M rows at ${fmt((t - start) / 1000, 0)} s: this window ${fmt(row.rowsPerSec, 0)} rows/s, ` +
            `indexed ${row.indexed}, hot ${row.hot}, segments [${row.segments.join(', ')}], stalled ${(row.stallShare * 100).toFixed(0)}%, ` +
            `rss ${row.rssGiB.toFixed(2)} GiB | search p50 ${fmt(row.p50, 3)} p99 ${fmt(row.p99, 3)} max ${fmt(row.max, 2)} ms`,
        )
      }
    }
    clearInterval(sampler)
    const ackSecs = (now() - start) / 1000
    const t1 = now()
    await db.flush()
    const flushSecs = (now() - t1) / 1000
    const after = c.stats()
    console.log(`[scale] all ${N} rows acknowledged in ${fmt(ackSecs, 0)} s; flush ${fmt(flushSecs, 1)} s; segments [${after.segments.map((x) => x.rows).join(', ')}]`)

    const recall = EFS.map((ef) => {
      let r = 0
      for (let q = 0; q < NQ; q++) {
        r += exact.recall(q, c.searchSync(queries.subarray(q * DIM, (q + 1) * DIM), { k: K, ef, withMetadata: false, cache: false }))
      }
      return { ef, recall: r / NQ }
    })
    console.log(`[scale] recall@10: ${recall.map((x) => `ef ${x.ef} ${x.recall.toFixed(3)}`).join(', ')}`)
    const t2 = now()
    await db.close()
    const closeSecs = (now() - t2) / 1000
    const diskGiB = bytesUnder(dir) / 2 ** 30

    const dropped = dropPageCache()
    const cold = reopenInChild(dir, queries.subarray(0, DIM))
    const warm = reopenInChild(dir, queries.subarray(0, DIM))
    for (const [name, r] of [['cold', cold], ['warm', warm]]) {
      console.log(`[scale] reopen ${name}: open ${fmt(r.openSecs, 2)} s, first search at ${fmt(r.firstSearchSecs, 2)} s, count ${r.count}, rss +${fmt(r.rssGrowMiB, 0)} MiB`)
      if (r.count !== N || r.hits !== K) throw new Error(`reopen lost rows: ${JSON.stringify(r)}`)
    }
    if (!dropped) console.log('[scale] could not drop the page cache (needs root): the "cold" reopen was warm')

    const first = windows[0]
    const lastW = windows.at(-1)
    const ratio = lastW.rowsPerSec / first.rowsPerSec
    console.log(`[scale] last window / first window rows/s: ${ratio.toFixed(2)} (goal >= 0.80)`)

    if (N >= 1_000_000) {
      const body = [
        `### Ingest at scale (\`node benches/ingest-scale.mjs --n ${N} --window ${WINDOW}\`)`,
        '',
        `${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}; ${new Date().toISOString().slice(0, 10)}. ` +
          `clustered-128 (L2), ${N.toLocaleString('en-US')} rows into an empty durable database with every default ` +
          `(durability \`full\`, maxUnindexedRows ${settings.cap.toLocaleString('en-US')}, background builds and merges); ` +
          `one writer keeps an upsert of ${BATCH} rows in flight; one \`searchSync\` (k 10) sampled every 50 ms.`,
        '',
        table(
          ['rows', 'window s', 'rows/s', 'indexed', 'hot', 'segments (rows)', 'stalled', 'RSS GiB', 'search p50 ms', 'p99 ms', 'max ms'],
          windows.map((w) => [
            `${fmt(w.rows / 1e6, 1)}M`, fmt(w.secs, 0), fmt(w.rowsPerSec, 0), w.indexed.toLocaleString('en-US'), w.hot,
            w.segments.map((x) => x.toLocaleString('en-US')).join(' · '), `${(w.stallShare * 100).toFixed(0)}%`, fmt(w.rssGiB, 2),
            fmt(w.p50, 3), fmt(w.p99, 3), fmt(w.max, 2),
          ]),
        ),
        '',
        `**Last window / first window: ${ratio.toFixed(2)}×** (goal ≥ 0.80). All ${N.toLocaleString('en-US')} rows acknowledged in ${fmt(ackSecs, 0)} s ` +
          `(${fmt(N / ackSecs, 0)} rows/s overall); then \`db.flush()\` ${fmt(flushSecs, 1)} s, close ${fmt(closeSecs, 1)} s, ${fmt(diskGiB, 1)} GiB on disk, ` +
          `segments ${after.segments.map((x) => x.rows.toLocaleString('en-US')).join(' · ')}.`,
        `Recall@10 of ${NQ} held-out queries against their exact top 10 (kept in JS as rows were written): ` +
          `${recall.map((x) => `ef ${x.ef} ${x.recall.toFixed(3)}`).join(', ')}.`,
        `Reopen in a new process${dropped ? ' after `sync` and dropping the page cache' : ' (page cache NOT dropped: not root)'}: ` +
          `**open ${fmt(cold.openSecs, 2)} s**, first search at ${fmt(cold.firstSearchSecs, 2)} s, RSS +${fmt(cold.rssGrowMiB, 0)} MiB; ` +
          `warm: open ${fmt(warm.openSecs, 2)} s, first search at ${fmt(warm.firstSearchSecs, 2)} s.`,
      ].join('\n')
      writeSection(path.join(BENCH_DIR, 'RESULTS.md'), `ingest-scale-${N}`, body)
      console.log(`[scale] wrote benches/RESULTS.md § ingest-scale-${N}`)
    }
  } catch (e) {
    removeDir = false
    console.error(`[scale] failed; the database is kept at ${dir}`)
    throw e
  } finally {
    await db.close().catch(() => {})
    if (removeDir) fs.rmSync(dir, { recursive: true, force: true })
    else console.log(`[scale] database kept at ${dir}`)
  }
}

await main()
