#!/usr/bin/env node
// How long a reader of a collection waits while a large merge is installed (issue 16,
// decision 0025): a durable exact-only collection holds --rows rows in --pieces segments,
// then `db.compact()` merges them into one while the main thread calls `count()` (which
// takes the collection's read lock) in a loop, yielding to the event loop every 2 ms.
// Exact-only segments have no graph, so the merge takes seconds, not minutes; installing
// it is the same `swap` a graph merge runs.
//
//   node benches/merge-stall.mjs [--rows 1600000] [--pieces 4]
//
// Prints the quiet and during-compact latency of count() (p50 / p99 / max, ms).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { clusteredStream } from './datasets/clustered.mjs'
import { machineInfo } from './datasets/glove.mjs'
import { option } from './lib/args.mjs'
import { fmt, percentile } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')

const ROWS = Number(option('rows', 1_600_000))
const PIECES = Number(option('pieces', 4))
const DIM = 128
const now = () => performance.now()

// Latencies go into one preallocated array: a growing JS array's copies would show up as
// stalls of their own.
const lat = new Float64Array(40_000_000)

async function countLoop(c, until) {
  let n = 0
  while (!until()) {
    const slice = now() + 2
    while (now() < slice && n < lat.length) {
      const t0 = now()
      c.count()
      lat[n++] = now() - t0
    }
    await yieldToLoop()
  }
  const s = lat.slice(0, n).sort()
  return { n, p50: percentile(s, 50), p99: percentile(s, 99), max: s[n - 1] }
}

const show = (name, r) => `${name}: ${r.n} calls, p50 ${fmt(r.p50 * 1000, 1)} µs, p99 ${fmt(r.p99 * 1000, 1)} µs, max ${fmt(r.max, 2)} ms`

const machine = machineInfo()
console.log(`[merge-stall] ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}`)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-bench-merge-stall-'))
const db = await kyrodb.open(dir, { durability: 'none' })
try {
  const c = await db.createCollection('m', { dimension: DIM, metric: 'l2', index: false })
  const rows = clusteredStream(128)
  const per = Math.ceil(ROWS / PIECES)
  const step = 50_000
  for (let p = 0; p < PIECES; p++) {
    for (let s = p * per; s < Math.min(ROWS, (p + 1) * per); s += step) {
      const e = Math.min(ROWS, (p + 1) * per, s + step)
      const ids = new BigUint64Array(e - s)
      for (let i = 0; i < ids.length; i++) ids[i] = BigInt(s + i)
      await c.upsert(ids, rows.next(new Float32Array((e - s) * DIM)))
    }
    await db.flush()
  }
  console.log(`[merge-stall] ${ROWS} rows in ${c.stats().segments.length} segments`)
  const quietEnd = now() + 2000
  console.log(`[merge-stall] ${show('quiet', await countLoop(c, () => now() > quietEnd))}`)
  let done = false
  const t0 = now()
  const compacting = db.compact().then(() => (done = true))
  const during = await countLoop(c, () => done)
  await compacting
  console.log(`[merge-stall] compact ${fmt((now() - t0) / 1000, 1)} s into ${c.stats().segments.length} segment(s)`)
  console.log(`[merge-stall] ${show('during compact', during)}`)
} finally {
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
}
