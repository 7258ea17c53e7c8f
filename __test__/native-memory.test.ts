/**
 * Native memory is reported to V8 as external memory (`napi_adjust_external_memory`), so
 * the garbage collector sees what hot tiers and indexes hold; `db.stats()` shows the
 * figure and what V8 accepted of it, and closing gives it back. (V8 counts the reported
 * bytes in its GC heuristics, not in `process.memoryUsage().external`, which lists
 * ArrayBuffer backing stores: checked here on Node 20, so the test reads the binding's
 * record of accepted reports.)
 */
import test from 'ava'
import { open } from '../src-ts/index.js'

const DIM = 128
const ROWS = 40_000

test('writes raise V8 external memory by what the database holds, and close gives it back', async (t) => {
  const db = await open(null)
  const c = await db.createCollection('v', { dimension: DIM, metric: 'l2', index: false })
  // Inputs made before the first measurement, so their own buffers count in both.
  const batches = Array.from({ length: ROWS / 1000 }, (_, b) => {
    const v = new Float32Array(1000 * DIM)
    for (let i = 0; i < v.length; i++) v[i] = Math.sin(b * 1000 + i)
    return v
  })
  const ids = (b: number) => Array.from({ length: 1000 }, (_, i) => b * 1000 + i)
  const metadata = (b: number) => ids(b).map((id) => ({ source: `doc-${id % 50}`, page: id % 17 }))
  t.true(db.stats().reportedExternalBytes < 256 * 1024, 'an empty database reports (almost) nothing')

  for (let b = 0; b < batches.length; b++) await c.upsert(ids(b), batches[b]!, metadata(b))
  const s = db.stats()
  t.true(s.nativeMemoryBytes >= ROWS * DIM * 4, `native ${s.nativeMemoryBytes} holds at least the vectors`)
  t.true(Math.abs(s.reportedExternalBytes - s.nativeMemoryBytes) < 256 * 1024, 'reported within one step of the figure')
  t.true(s.nativeMemoryBytes < ROWS * DIM * 4 * 3, `native ${s.nativeMemoryBytes} is not wildly over`)

  // A flush moves the rows into a segment: in memory it holds them still (an in-memory
  // database has no files to map), and the report follows.
  await db.flush()
  const flushed = db.stats()
  t.true(Math.abs(flushed.reportedExternalBytes - flushed.nativeMemoryBytes) < 256 * 1024)
  await db.close()
  t.is(db.stats().reportedExternalBytes, 0, 'close gives everything back')
})

test('a durable database reports less once its rows are in mapped segment files', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-memory-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const db = await open(dir, { durability: 'none' })
  const c = await db.createCollection('v', { dimension: DIM, metric: 'l2', index: false })
  const v = new Float32Array(1000 * DIM).fill(0.25)
  for (let b = 0; b < ROWS / 1000; b++) {
    await c.upsert(
      Array.from({ length: 1000 }, (_, i) => b * 1000 + i),
      v,
    )
  }
  const hot = db.stats()
  t.true(hot.reportedExternalBytes >= ROWS * DIM * 4 - 256 * 1024, `hot tier reported: ${hot.reportedExternalBytes}`)
  await db.flush()
  const mapped = db.stats()
  t.true(mapped.nativeMemoryBytes < hot.nativeMemoryBytes / 4, `after flush ${mapped.nativeMemoryBytes} of ${hot.nativeMemoryBytes}`)
  t.true(Math.abs(mapped.reportedExternalBytes - mapped.nativeMemoryBytes) < 256 * 1024, 'the report followed')
  await db.close()
})
