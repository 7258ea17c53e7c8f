/**
 * `Database.close()` runs off the JavaScript thread: the event loop keeps turning while it
 * stops builds and syncs, calls racing it fail with `CLOSED`, and once its promise
 * resolves everything is durable and the directory lock is released.
 */
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open, type Database } from '../src-ts/index.js'

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-close-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const DIM = 32
const ROWS = 20_000

function vectors(from: number, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: DIM }, (_, d) => Math.sin(from + i + d * 0.37)))
}

/** A database with work left for close: a large unflushed hot tier, an index build
 * under way, an unsynced WAL (`normal` durability with a long interval) and KV writes. */
async function busyDatabase(dir: string): Promise<Database> {
  const db = await open(dir, { durability: 'normal', syncIntervalMs: 60_000 })
  const c = await db.createCollection('v', { dimension: DIM, metric: 'l2', index: { autoBuildRows: 5_000 } })
  for (let from = 0; from < ROWS; from += 2_000) {
    const ids = Array.from({ length: 2_000 }, (_, i) => from + i)
    await c.upsert(ids, vectors(from, 2_000))
  }
  await db.kv.putBatch(Array.from({ length: 10_000 }, (_, i) => [i, `value ${i}`] as const))
  return db
}

test('the event loop keeps running while close is pending, and close resolves once everything is durable', async (t) => {
  const dir = tempDir(t)
  const db = await busyDatabase(dir)
  const c = db.collection('v')
  let ticks = 0
  let stop = false
  const tick = (): void => {
    ticks++
    if (!stop) setImmediate(tick)
  }
  setImmediate(tick)
  const closing = db.close().then(() => ticks)
  // Calls made after close() was called fail with CLOSED, even while it is pending.
  t.true(db.closed)
  t.throws(() => db.collection('v'), { code: 'CLOSED' })
  t.throws(() => db.kv.getSync(1), { code: 'CLOSED' })
  const racingWrite = c.upsert([ROWS + 1], vectors(0, 1))
  // A second close resolves only once the close is complete, too.
  const again = db.close().then(() => ticks)
  await t.throwsAsync(racingWrite, { code: 'CLOSED' })
  const [ticksAtClose, ticksAtSecondClose] = await Promise.all([closing, again])
  stop = true
  t.true(ticksAtClose >= 1, 'a setImmediate callback ran before close() resolved')
  t.true(ticksAtSecondClose >= 1)

  // Resolved: the lock is free and every acknowledged write is there.
  const reopened = await open(dir)
  t.is(reopened.collection('v').count(), ROWS)
  t.is(await reopened.kv.count(), 10_000)
  t.is(reopened.kv.getSync(9_999), 'value 9999')
  await reopened.close()
})

test('Symbol.asyncDispose closes off the event loop too and releases the lock', async (t) => {
  const dir = tempDir(t)
  const db = await busyDatabase(dir)
  let ran = false
  setImmediate(() => {
    ran = true
  })
  const ranAtDispose = await db[Symbol.asyncDispose]().then(() => ran)
  t.true(ranAtDispose, 'a setImmediate callback ran before asyncDispose resolved')
  t.true(db.closed)
  const reopened = await open(dir)
  t.is(reopened.collection('v').count(), ROWS)
  await reopened.close()
})
