/**
 * The query-result cache through the API: repeated searches are answered from it
 * (`db.stats().cache` counts them), never with an answer a write since could change
 * (fast-check model against the same run with the cache off), `cache: false` bypasses
 * it, the byte budget holds, and bad options are typed errors. With near repeats on,
 * searches close to cached ones are answered only when provably exact (the same model).
 */
import test from 'ava'
import fc from 'fast-check'
import { open, type KyroDBError } from '../src-ts/index.js'

test('repeats hit the cache; a write that can change the answer invalidates it; cache: false bypasses', async (t) => {
  const db = await open(null)
  const c = await db.createCollection('c', { dimension: 2, metric: 'l2', index: false })
  await c.upsert([1, 2, 3], [[0, 0], [1, 0], [5, 5]], [{ t: 'a' }, { t: 'b' }, { t: 'a' }])
  const q = [0.1, 0]
  const first = c.searchSync(q, { k: 2 })
  t.deepEqual(first.map((h) => h.id), [1, 2])
  t.deepEqual(c.searchSync(q, { k: 2 }), first)
  t.deepEqual(await c.search(q, { k: 2 }), first)
  let s = db.stats().cache
  t.is(s.hits, 2)
  t.true(s.entries >= 1 && s.bytes > 0 && s.bytes <= s.capacityBytes)
  // Far away: cannot enter the top 2; still answered from the cache.
  await c.upsert([4], [[9, 9]])
  t.deepEqual(c.searchSync(q, { k: 2 }), first)
  t.is(db.stats().cache.hits, 3)
  // Close: enters the answer.
  await c.upsert([5], [[0.1, 0.05]], [{ t: 'b' }])
  t.deepEqual(c.searchSync(q, { k: 2 }).map((h) => h.id), [5, 1])
  s = db.stats().cache
  t.is(s.invalidations, 1)
  // Metadata changes of a hit invalidate too (a replacement of the row).
  const filtered = c.searchSync(q, { k: 3, filter: { t: 'a' } })
  t.deepEqual(filtered.map((h) => h.id), [1, 3])
  await c.upsert([1], [[0, 0]], [{ t: 'b' }])
  t.deepEqual(c.searchSync(q, { k: 3, filter: { t: 'a' } }).map((h) => h.id), [3])
  // Bypass.
  const before = db.stats().cache
  c.searchSync([3, 3], { k: 1, cache: false })
  const after = db.stats().cache
  t.deepEqual([after.hits, after.misses, after.entries], [before.hits, before.misses, before.entries])
  await db.close()
})

test('cache options: queryBytes 0 turns it off; bad values are INVALID_ARGUMENT', async (t) => {
  const off = await open(null, { cache: { queryBytes: 0 } })
  const c = await off.createCollection('c', { dimension: 2, metric: 'l2' })
  await c.upsert([1], [[1, 1]])
  c.searchSync([1, 1], { k: 1 })
  c.searchSync([1, 1], { k: 1 })
  t.deepEqual([off.stats().cache.hits, off.stats().cache.capacityBytes], [0, 0])
  await off.close()
  for (const bad of [{ queryBytes: -1 }, { queryBytes: 1.5 }, { queryBytes: '4MB' }, 'big']) {
    const e = await t.throwsAsync(() => open(null, { cache: bad as never }))
    t.is((e as KyroDBError).code, 'INVALID_ARGUMENT', JSON.stringify(bad))
  }
  const db = await open(null)
  const c2 = await db.createCollection('c', { dimension: 2, metric: 'l2' })
  t.throws(() => c2.searchSync([1, 1], { k: 1, cache: 'yes' as never }), { code: 'INVALID_ARGUMENT' } as never)
  await db.close()
})

test('model: with random writes between repeated searches, answers with the cache equal answers without', async (t) => {
  const DIM = 3
  const vec = fc.tuple(fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 }), fc.integer({ min: -3, max: 3 })).map((v) => v.map((x) => x + 0.5))
  const op = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('upsert' as const), rows: fc.uniqueArray(fc.record({ id: fc.integer({ min: 0, max: 20 }), v: vec, tag: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }) }), { selector: (r) => r.id, minLength: 1, maxLength: 4 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), ids: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 3 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('search' as const),
        q: fc.constantFrom([0.25, 0.25, 0.25], [1.25, 1.25, 1.25], [-2, 1, 3]),
        // Mostly exact repeats; sometimes a paraphrase (small shift) or a large shift.
        shift: fc.oneof(
          { weight: 3, arbitrary: fc.constant([0, 0, 0]) },
          { weight: 2, arbitrary: fc.tuple(fc.integer({ min: -2, max: 2 }), fc.integer({ min: -2, max: 2 }), fc.integer({ min: -2, max: 2 })).map((v) => v.map((x) => x * 0.03)) },
          { weight: 1, arbitrary: fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 }), fc.integer({ min: -20, max: 20 })).map((v) => v.map((x) => x * 0.03)) },
        ),
        k: fc.integer({ min: 1, max: 5 }),
        tag: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
      }),
    },
  )
  let n = 0
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
      const answers: string[][] = []
      for (const cache of [{ queryBytes: 1 << 20 }, { queryBytes: 1 << 20, nearDistance: 1 }, { queryBytes: 0 }]) {
        const db = await open(null, { cache })
        const c = await db.createCollection(`m${n++}`, { dimension: DIM, metric: 'l2', index: false })
        const out: string[] = []
        for (const o of ops) {
          if (o.kind === 'upsert') await c.upsert(o.rows.map((r) => r.id), o.rows.map((r) => r.v), o.rows.map((r) => (r.tag ? { tag: r.tag } : undefined)))
          else if (o.kind === 'delete') out.push(`deleted ${await c.delete(o.ids)}`)
          else if (o.kind === 'flush') await db.flush()
          else {
            const q = o.q.map((x, i) => x + o.shift[i])
            out.push(JSON.stringify(c.searchSync(q, { k: o.k, ...(o.tag ? { filter: { tag: o.tag } } : {}) })))
          }
        }
        const s = db.stats().cache
        t.true(s.bytes <= s.capacityBytes)
        if (cache.nearDistance === undefined) t.is(s.nearHits, 0)
        answers.push(out)
        await db.close()
      }
      t.deepEqual(answers[0], answers[2])
      t.deepEqual(answers[1], answers[2])
    }),
    { numRuns: 80 },
  )
})

test('near repeats: a search close to a cached one is answered from it when proven; bad nearDistance is INVALID_ARGUMENT', async (t) => {
  const db = await open(null, { cache: { nearDistance: 0.5 } })
  const c = await db.createCollection('c', { dimension: 2, metric: 'l2', index: false })
  // A tight cluster around (5, 5) and rows far away.
  await c.upsert([1, 2, 3, 4, 5, 6], [[5, 5], [5.1, 5], [5, 5.1], [5.1, 5.1], [25, 25], [26, 25]], [{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }, { n: 6 }])
  t.deepEqual(c.searchSync([5, 5], { k: 2 }).map((h) => h.id), [1, 2])
  const q = [5.01, 5]
  const near = c.searchSync(q, { k: 2 })
  t.deepEqual(near, c.searchSync(q, { k: 2, cache: false }))
  t.deepEqual(near.map((h) => h.metadata), [{ n: 1 }, { n: 2 }])
  t.is(db.stats().cache.nearHits, 1)
  // The async path answers near repeats too.
  t.deepEqual(await c.search([5.0, 5.01], { k: 2 }), c.searchSync([5.0, 5.01], { k: 2, cache: false }))
  t.is(db.stats().cache.nearHits, 2)
  // Too far from what the cached candidates can prove: computed.
  t.deepEqual(c.searchSync([5.6, 5], { k: 2 }), c.searchSync([5.6, 5], { k: 2, cache: false }))
  t.is(db.stats().cache.nearHits, 2)
  await db.close()
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '0.1']) {
    const e = await t.throwsAsync(() => open(null, { cache: { nearDistance: bad as never } }))
    t.is((e as KyroDBError).code, 'INVALID_ARGUMENT', String(bad))
  }
})

test('HTTP: searches use the cache unless the body says cache: false; /metrics counts lookups by result', async (t) => {
  const { startServer, request } = await import('./helpers/server.js')
  const { rmSync } = await import('node:fs')
  const server = await startServer()
  t.teardown(async () => {
    await server.stop()
    rmSync(server.dataDir, { recursive: true, force: true })
  })
  const call = (method: string, path: string, body?: unknown) => request(server.url, method, path, body)
  await call('POST', '/v1/collections', { name: 'c', dimension: 2, metric: 'l2', index: false })
  await call('POST', '/v1/collections/c/points', { ids: [1, 2], vectors: [[0, 0], [1, 1]] })
  const exactHits = async () => {
    const text = (await call('GET', '/metrics')).text
    const m = /^kyrodb_query_cache_lookups_total\{result="exact"\} (\S+)$/m.exec(text)
    return Number(m?.[1])
  }
  const search = (extra: object) => call('POST', '/v1/collections/c/search', { vector: [0.1, 0], k: 1, ...extra })
  t.is((await search({})).json.results[0].id, 1)
  t.is(await exactHits(), 0)
  t.is((await search({})).json.results[0].id, 1)
  t.is(await exactHits(), 1)
  t.is((await search({ cache: false })).json.results[0].id, 1)
  t.is(await exactHits(), 1)
  t.is((await search({ cache: 'no' })).status, 400)
  const text = (await call('GET', '/metrics')).text
  for (const name of ['kyrodb_query_cache_model_age_seconds', 'kyrodb_query_cache_last_retrain_seconds', 'kyrodb_query_cache_retrains_total']) {
    t.regex(text, new RegExp(`^${name} 0$`, 'm'), 's3fifo (the default): no model')
  }
})

test('cache.admission: learned retrains in the background while searches hit; stats report it; bad values are INVALID_ARGUMENT', async (t) => {
  const plain = await open(null)
  t.is(plain.stats().cache.admission, 's3fifo')
  t.is(plain.stats().cache.retrains, 0)
  await plain.close()
  const tiny = await open(null, { cache: { admission: 'tinylfu' } })
  t.is(tiny.stats().cache.admission, 'tinylfu')
  await tiny.close()
  // A small budget: a short access log, so a few hundred searches schedule retrains.
  const db = await open(null, { cache: { queryBytes: 1 << 16, admission: 'learned' } })
  const c = await db.createCollection('c', { dimension: 2, metric: 'l2', index: false })
  await c.upsert([1, 2, 3], [[0, 0], [1, 0], [5, 5]])
  for (let i = 0; i < 3000; i++) c.searchSync([i % 40, (i * 7) % 13], { k: 1 })
  let s = db.stats().cache
  for (let tries = 0; s.retrains === 0 && tries < 200; tries++) {
    await new Promise((r) => setTimeout(r, 10))
    s = db.stats().cache
  }
  t.is(s.admission, 'learned')
  t.true(s.retrains >= 1, JSON.stringify(s))
  t.true(s.hits > 0 && s.bytes <= s.capacityBytes, JSON.stringify(s))
  t.true(Number.isFinite(s.modelAgeUs) && Number.isFinite(s.lastRetrainUs))
  await db.close()
  for (const bad of ['lru', 'LEARNED', 1, null]) {
    const e = await t.throwsAsync(() => open(null, { cache: { admission: bad as never } }))
    t.is((e as KyroDBError).code, 'INVALID_ARGUMENT', JSON.stringify(bad))
  }
})
