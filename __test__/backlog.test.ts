/**
 * The unindexed backlog is capped: past `maxUnindexedRows` live rows in the hot tier (which
 * every search scans exactly), upserts wait for background builds, so search cost does not
 * grow with how far writes have outrun indexing. `stats()` reports the waits.
 */
import test from 'ava'
import { open, InvalidArgumentError } from '../src-ts/index.js'

const DIM = 8

function rows(n: number, seed: number): Float32Array {
  const v = new Float32Array(n * DIM)
  let s = seed
  for (let i = 0; i < v.length; i++) v[i] = ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 10
  return v
}

test('writers wait past the cap, the hot tier never passes it, and every row is kept', async (t) => {
  // Background builds start on their own only at 10^9 rows: the waiting writers start them.
  const db = await open(null, { maxUnindexedRows: 300 })
  const c = await db.createCollection('capped', { dimension: DIM, metric: 'l2', index: { autoBuildRows: 1_000_000_000 } })
  t.is(c.stats().maxUnindexedRows, 300)
  const data = rows(3000, 1)
  for (let b = 0; b < 30; b++) {
    const ids = Array.from({ length: 100 }, (_, i) => b * 100 + i)
    await c.upsert(ids, data.subarray(b * 100 * DIM, (b + 1) * 100 * DIM))
    t.true(c.stats().hotRows <= 300, `hot tier past the cap after batch ${b}: ${c.stats().hotRows}`)
  }
  const s = c.stats()
  t.true(s.writeStalls >= 1, 'writers waited')
  t.true(s.stallMs > 0)
  t.true(s.indexedRows >= 2700, `builds took the rows: ${s.indexedRows}`)
  t.is(c.count(), 3000)
  for (const id of [0, 1234, 2999]) {
    t.deepEqual(Array.from((await c.get(id))!.vector), Array.from(data.subarray(id * DIM, (id + 1) * DIM)))
  }
  // Cap off for a bulk load: no more waits, the hot tier keeps everything until buildIndex.
  c.setMaxUnindexedRows(0)
  const stalls = c.stats().writeStalls
  while (c.stats().indexing) await new Promise((r) => setTimeout(r, 10))
  const bulk = rows(2000, 2)
  await c.upsert(Array.from({ length: 2000 }, (_, i) => 10_000 + i), bulk)
  t.is(c.stats().writeStalls, stalls)
  t.true(c.stats().hotRows >= 2000)
  await c.buildIndex()
  t.is(c.stats().hotRows, 0)
  t.is(c.count(), 5000)
  // Exact-only collections have no cap.
  const exact = await db.createCollection('exact', { dimension: DIM, metric: 'l2', index: false })
  t.is(exact.stats().maxUnindexedRows, 0)
  await db.close()
})

test('the default cap is twice autoBuildRows; bad caps are INVALID_ARGUMENT', async (t) => {
  const db = await open()
  const c = await db.createCollection('d', { dimension: DIM, index: { autoBuildRows: 1234 } })
  t.is(c.stats().maxUnindexedRows, 2468)
  for (const bad of [-1, 1.5, Number.NaN, 2 ** 32, '10', null]) {
    t.throws(() => c.setMaxUnindexedRows(bad as never), { instanceOf: InvalidArgumentError, code: 'INVALID_ARGUMENT' }, String(bad))
    await t.throwsAsync(open(null, { maxUnindexedRows: bad as never }), { instanceOf: InvalidArgumentError }, String(bad))
  }
  t.is(c.stats().maxUnindexedRows, 2468, 'a refused value changes nothing')
  await db.close()
})
