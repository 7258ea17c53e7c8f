/**
 * Happy-path behaviour of the public API.
 */
import test from 'ava'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { open, engineInfo, NotFoundError, type Database, type SearchResult } from '../src-ts/index.js'

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-api-'))
}

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function close(actual: number, expected: number, eps = 1e-6): boolean {
  return Math.abs(actual - expected) <= eps
}

// ---------------------------------------------------------------- open / close

test('open() without a path is an in-memory database', async (t) => {
  const db = await open()
  t.is(db.path, null)
  t.false(db.closed)
  t.deepEqual(db.listCollections(), [])
  await db.close()
  t.true(db.closed)
  const db2 = await open(null)
  t.is(db2.path, null)
  await db2.close()
})

test('open(path) creates the directory and works like the in-memory database', async (t) => {
  const root = tmpDir()
  const dir = path.join(root, 'nested', 'db')
  try {
    const db = await open(dir)
    t.is(db.path, dir)
    t.true(fs.statSync(dir).isDirectory())
    const c = await db.createCollection('docs', { dimension: 2, metric: 'l2' })
    await c.upsert([1, 2], [[0, 0], [1, 1]])
    t.deepEqual(await c.search([1, 1], { k: 1 }), [{ id: 2, distance: 0 }])
    await db.close()
    t.true(db.closed)
    // An existing directory can be opened again.
    const again = await open(dir)
    t.false(again.closed)
    await again.close()
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
})

test('close() is idempotent', async (t) => {
  const db = await open()
  await db.close()
  await db.close()
  t.true(db.closed)
})

test('`await using` closes the database at the end of the block', async (t) => {
  let seen: Database | undefined
  {
    await using db = await open()
    seen = db
    await db.createCollection('x', { dimension: 1 })
    t.false(db.closed)
  }
  t.true(seen.closed)
})

test('Symbol.asyncDispose closes the database', async (t) => {
  const db = await open()
  t.false(db.closed)
  await db[Symbol.asyncDispose]()
  t.true(db.closed)
})

// ---------------------------------------------------------------- collections

test('createCollection: getters, default metric cosine', async (t) => {
  const db = await open()
  const a = await db.createCollection('a', { dimension: 4 })
  t.is(a.name, 'a')
  t.is(a.dimension, 4)
  t.is(a.metric, 'cosine')
  for (const metric of ['l2', 'cosine', 'ip'] as const) {
    const c = await db.createCollection(`m_${metric}`, { dimension: 2, metric })
    t.is(c.metric, metric)
    t.is(c.count(), 0)
  }
})

test('collection(name) returns a handle to the same data', async (t) => {
  const db = await open()
  const a = await db.createCollection('shared', { dimension: 2, metric: 'l2' })
  const b = db.collection('shared')
  t.is(b.name, 'shared')
  t.is(b.dimension, 2)
  t.is(b.metric, 'l2')
  await a.upsert([7], [[1, 2]])
  t.is(b.count(), 1)
  t.deepEqual(await b.get(7), { id: 7, vector: new Float32Array([1, 2]) })
  await b.delete([7])
  t.is(a.count(), 0)
})

test('listCollections is sorted by name and reports dimension, metric and count', async (t) => {
  const db = await open()
  for (const [name, dimension, metric] of [
    ['beta', 2, 'l2'],
    ['alpha', 3, 'ip'],
    ['Zeta', 1, 'cosine'],
    ['_under', 2, 'l2'],
    ['-dash', 2, 'l2'],
    ['9nine', 2, 'l2'],
  ] as const) {
    await db.createCollection(name, { dimension, metric })
  }
  await db.collection('beta').upsert([1, 2, 3], [[1, 1], [2, 2], [3, 3]])
  await db.collection('alpha').upsert([1], [[1, 2, 3]])
  t.deepEqual(db.listCollections(), [
    { name: '-dash', dimension: 2, metric: 'l2', count: 0, idType: 'u64' },
    { name: '9nine', dimension: 2, metric: 'l2', count: 0, idType: 'u64' },
    { name: 'Zeta', dimension: 1, metric: 'cosine', count: 0, idType: 'u64' },
    { name: '_under', dimension: 2, metric: 'l2', count: 0, idType: 'u64' },
    { name: 'alpha', dimension: 3, metric: 'ip', count: 1, idType: 'u64' },
    { name: 'beta', dimension: 2, metric: 'l2', count: 3, idType: 'u64' },
  ])
})

test('dropCollection removes the collection; the name can be reused', async (t) => {
  const db = await open()
  const c = await db.createCollection('gone', { dimension: 2, metric: 'l2' })
  await db.createCollection('kept', { dimension: 2 })
  await c.upsert([1], [[1, 1]])
  await db.dropCollection('gone')
  t.deepEqual(
    db.listCollections().map((i) => i.name),
    ['kept'],
  )
  t.throws(() => db.collection('gone'), { instanceOf: NotFoundError })
  const fresh = await db.createCollection('gone', { dimension: 5, metric: 'ip' })
  t.is(fresh.count(), 0)
  t.is(fresh.dimension, 5)
  t.is(await fresh.get(1), null)
})

// ---------------------------------------------------------------- ids

test('ids as number[], bigint[] and BigUint64Array are equivalent; small ids come back as numbers', async (t) => {
  const db = await open()
  const c = await db.createCollection('ids', { dimension: 1, metric: 'l2' })
  t.is(await c.upsert([1, 2], [[1], [2]]), 2)
  t.is(await c.upsert([3n, 4n], [[3], [4]]), 2)
  t.is(await c.upsert(new BigUint64Array([5n, 6n]), [[5], [6]]), 2)
  t.is(c.count(), 6)
  const hits = await c.search([0], { k: 10 })
  t.deepEqual(
    hits.map((h) => h.id),
    [1, 2, 3, 4, 5, 6],
  )
  for (const h of hits) t.is(typeof h.id, 'number')
  t.deepEqual(await c.get(3n), { id: 3, vector: new Float32Array([3]) })
  t.deepEqual(await c.get(5), { id: 5, vector: new Float32Array([5]) })
  t.is(await c.delete(new BigUint64Array([1n])), 1)
  t.is(await c.delete([2n, 3]), 2)
  t.is(c.count(), 3)
})

test('ids above 2^53 round-trip as bigint, ids up to 2^53 - 1 as number', async (t) => {
  const db = await open()
  const c = await db.createCollection('big', { dimension: 1, metric: 'l2' })
  const maxSafe = Number.MAX_SAFE_INTEGER
  const above = 2n ** 53n
  const top = 2n ** 64n - 1n
  await c.upsert([maxSafe, above, top, 0], [[1], [2], [3], [4]])
  t.deepEqual(await c.get(maxSafe), { id: maxSafe, vector: new Float32Array([1]) })
  t.deepEqual(await c.get(BigInt(maxSafe)), { id: maxSafe, vector: new Float32Array([1]) })
  const g = await c.get(above)
  t.is(g?.id, above)
  t.is(typeof g?.id, 'bigint')
  t.is((await c.get(top))?.id, top)
  t.is((await c.get(0))?.id, 0)
  t.is(await c.get(2n ** 53n + 1n), null)
  const hits = await c.search([0], { k: 4 })
  t.deepEqual(
    hits.map((h) => h.id),
    [maxSafe, above, top, 0],
  )
  t.deepEqual(
    hits.map((h) => typeof h.id),
    ['number', 'bigint', 'bigint', 'number'],
  )
  t.is(await c.delete([top]), 1)
  t.is(await c.get(top), null)
})

// ---------------------------------------------------------------- vector forms

test('vectors as flat Float32Array, Float32Array[] and number[][] store the same thing', async (t) => {
  const db = await open()
  const rows = [
    [1, 2, 3],
    [-4, 5.5, 0],
  ]
  const forms = {
    flat: new Float32Array(rows.flat()),
    f32: rows.map((r) => new Float32Array(r)),
    nums: rows,
  }
  for (const [name, vectors] of Object.entries(forms)) {
    const c = await db.createCollection(name, { dimension: 3, metric: 'l2' })
    t.is(await c.upsert([10, 20], vectors), 2)
    t.deepEqual(await c.get(10), { id: 10, vector: new Float32Array([1, 2, 3]) }, name)
    t.deepEqual(await c.get(20), { id: 20, vector: new Float32Array([-4, 5.5, 0]) }, name)
  }
})

test('number[] vectors are rounded to f32', async (t) => {
  const db = await open()
  const c = await db.createCollection('f32', { dimension: 2, metric: 'l2' })
  await c.upsert([1], [[0.1, 1 / 3]])
  t.deepEqual(Array.from((await c.get(1))!.vector), [Math.fround(0.1), Math.fround(1 / 3)])
})

test('Float32Array views with a byte offset (subarray) are read at their offset', async (t) => {
  const db = await open()
  const c = await db.createCollection('views', { dimension: 2, metric: 'l2' })
  const buf = new Float32Array([9, 9, 9, 1, 2, 3, 4, 9])
  await c.upsert([1, 2], buf.subarray(3, 7))
  await c.upsert([3], [buf.subarray(4, 6)])
  t.deepEqual((await c.get(1))!.vector, new Float32Array([1, 2]))
  t.deepEqual((await c.get(2))!.vector, new Float32Array([3, 4]))
  t.deepEqual((await c.get(3))!.vector, new Float32Array([2, 3]))
  const q = buf.subarray(3, 5) // [1, 2]
  t.deepEqual(await c.search(q, { k: 1 }), [{ id: 1, distance: 0 }])
  t.deepEqual(c.searchSync(q, { k: 1 }), [{ id: 1, distance: 0 }])
  t.deepEqual(await c.searchBatch(buf.subarray(5, 7), { k: 1 }), [[{ id: 2, distance: 0 }]])
})

test('an empty upsert writes nothing and returns 0; an empty searchBatch returns []', async (t) => {
  const db = await open()
  const c = await db.createCollection('empty', { dimension: 3, metric: 'l2' })
  t.is(await c.upsert([], []), 0)
  t.is(await c.upsert(new BigUint64Array(0), new Float32Array(0)), 0)
  t.is(c.count(), 0)
  t.deepEqual(await c.searchBatch([], { k: 3 }), [])
  t.deepEqual(await c.search([1, 2, 3], { k: 3 }), [])
})

test('zero vectors are fine under l2 and ip', async (t) => {
  const db = await open()
  const l2 = await db.createCollection('l2', { dimension: 2, metric: 'l2' })
  const ip = await db.createCollection('ip', { dimension: 2, metric: 'ip' })
  await l2.upsert([1], [[0, 0]])
  await ip.upsert([1], [[0, 0]])
  t.deepEqual(await l2.search([0, 0], { k: 1 }), [{ id: 1, distance: 0 }])
  t.deepEqual(await ip.search([0, 0], { k: 1 }), [{ id: 1, distance: 1 }])
})

// ---------------------------------------------------------------- metadata

test('metadata round-trips through get and search (nested, arrays, unicode)', async (t) => {
  const db = await open()
  const c = await db.createCollection('meta', { dimension: 2, metric: 'l2' })
  const rich = {
    title: 'Grüße, 世界 🌍',
    'ключ with space': 'значение',
    emoji: '👩‍👩‍👧',
    escapes: 'quote " backslash \\ newline \n tab \t nul \u0000',
    nested: { a: { b: { c: [1, 2, { d: null }] } } },
    list: [true, false, null, 1.5, -0.25, 'x', [], {}],
    big: 1e300,
    neg: -123456789,
  }
  await c.upsert([1, 2, 3], [[0, 0], [1, 0], [2, 0]], [rich, undefined, { only: 'three' }])
  t.deepEqual(await c.get(1), { id: 1, vector: new Float32Array([0, 0]), metadata: rich })
  const two = await c.get(2)
  t.deepEqual(two, { id: 2, vector: new Float32Array([1, 0]) })
  t.false('metadata' in two!)
  t.deepEqual(await c.search([0, 0], { k: 3 }), [
    { id: 1, distance: 0, metadata: rich },
    { id: 2, distance: 1 },
    { id: 3, distance: 4, metadata: { only: 'three' } },
  ])
  t.deepEqual((await c.searchBatch([[2, 0]], { k: 1 }))[0], [{ id: 3, distance: 0, metadata: { only: 'three' } }])
})

test('null metadata entries mean "no metadata"; a metadata object can be mutated after the call', async (t) => {
  const db = await open()
  const c = await db.createCollection('meta2', { dimension: 1, metric: 'l2' })
  const m = { v: 1 }
  const p = c.upsert([1, 2], [[1], [2]], [m, null])
  m.v = 2
  await p
  t.deepEqual((await c.get(1))?.metadata, { v: 1 })
  t.is((await c.get(2))?.metadata, undefined)
})

test('upsert of an existing id replaces vector and metadata; upsert without metadata clears it', async (t) => {
  const db = await open()
  const c = await db.createCollection('replace', { dimension: 2, metric: 'l2' })
  await c.upsert([1, 2], [[1, 1], [2, 2]], [{ v: 1 }, { v: 2 }])
  t.is(await c.upsert([1], [[5, 5]], [{ v: 'new' }]), 1)
  t.is(c.count(), 2)
  t.deepEqual(await c.get(1), { id: 1, vector: new Float32Array([5, 5]), metadata: { v: 'new' } })
  t.deepEqual(await c.get(2), { id: 2, vector: new Float32Array([2, 2]), metadata: { v: 2 } })
  // Without metadata: vector replaced, metadata cleared.
  await c.upsert([1], [[6, 6]])
  t.deepEqual(await c.get(1), { id: 1, vector: new Float32Array([6, 6]) })
  // With an undefined entry: the same.
  await c.upsert([2, 3], [[7, 7], [8, 8]], [undefined, { v: 3 }])
  t.deepEqual(await c.get(2), { id: 2, vector: new Float32Array([7, 7]) })
  t.is(c.count(), 3)
  // Search sees the replaced vectors only.
  t.deepEqual(await c.search([6, 6], { k: 3 }), [
    { id: 1, distance: 0 },
    { id: 2, distance: 2 },
    { id: 3, distance: 8, metadata: { v: 3 } },
  ])
})

// ---------------------------------------------------------------- delete / get

test('delete returns the number removed, ignores absent ids, counts a repeated id once', async (t) => {
  const db = await open()
  const c = await db.createCollection('del', { dimension: 1, metric: 'l2' })
  await c.upsert([1, 2, 3, 4, 5], [[1], [2], [3], [4], [5]])
  t.is(await c.delete([2, 99, 4]), 2)
  t.is(c.count(), 3)
  t.is(await c.delete([99, 100n]), 0)
  t.is(await c.delete([]), 0)
  t.is(await c.delete([1, 1, 1n]), 1)
  t.is(c.count(), 2)
  t.is(await c.get(2), null)
  t.is(await c.get(1), null)
  t.deepEqual(await c.get(5), { id: 5, vector: new Float32Array([5]) })
  t.deepEqual(
    (await c.search([0], { k: 10 })).map((h) => h.id),
    [3, 5],
  )
  // A deleted id can be inserted again.
  await c.upsert([2], [[0]])
  t.deepEqual(await c.search([0], { k: 1 }), [{ id: 2, distance: 0 }])
})

test('get returns null for an id that was never stored', async (t) => {
  const db = await open()
  const c = await db.createCollection('get', { dimension: 1, metric: 'l2' })
  t.is(await c.get(0), null)
  t.is(await c.get(2n ** 64n - 1n), null)
  await c.upsert([1], [[1]])
  t.is(await c.get(0), null)
  t.not(await c.get(1), null)
})

// ---------------------------------------------------------------- search

test('l2: squared Euclidean distances, closest first', async (t) => {
  const db = await open()
  const c = await db.createCollection('l2', { dimension: 2, metric: 'l2' })
  await c.upsert([1, 2, 3, 4], [[0, 0], [3, 4], [1, 1], [-1, 0]])
  t.deepEqual(await c.search([0, 0], { k: 4 }), [
    { id: 1, distance: 0 },
    { id: 4, distance: 1 },
    { id: 3, distance: 2 },
    { id: 2, distance: 25 },
  ])
  t.deepEqual(await c.search([3, 3], { k: 2 }), [
    { id: 2, distance: 1 },
    { id: 3, distance: 8 },
  ])
})

test('ip: distance is 1 − dot product', async (t) => {
  const db = await open()
  const c = await db.createCollection('ip', { dimension: 3, metric: 'ip' })
  await c.upsert([1, 2, 3, 4], [[1, 0, 0], [0, 2, 0], [1, 1, 1], [-1, -1, 0]])
  // q = (1, 2, 0.5): dots 1, 4, 3.5, -3
  t.deepEqual(await c.search([1, 2, 0.5], { k: 4 }), [
    { id: 2, distance: -3 },
    { id: 3, distance: -2.5 },
    { id: 1, distance: 0 },
    { id: 4, distance: 4 },
  ])
  // ip does not normalise: get returns the vector as given.
  t.deepEqual((await c.get(2))!.vector, new Float32Array([0, 2, 0]))
})

test('cosine: distance is 1 − cos, vectors are stored normalised', async (t) => {
  const db = await open()
  const c = await db.createCollection('cos', { dimension: 2, metric: 'cosine' })
  await c.upsert([1, 2, 3, 4], [[2, 0], [0, 5], [1, 1], [-3, 0]])
  const hits = await c.search([10, 0], { k: 4 })
  t.deepEqual(
    hits.map((h) => h.id),
    [1, 3, 2, 4],
  )
  const expected = [0, 1 - Math.SQRT1_2, 1, 2]
  hits.forEach((h, i) => t.true(close(h.distance, expected[i]), `hit ${i}: ${h.distance} vs ${expected[i]}`))
  const v3 = (await c.get(3))!.vector
  t.true(close(v3[0], Math.SQRT1_2) && close(v3[1], Math.SQRT1_2), `stored ${Array.from(v3)}`)
  t.deepEqual((await c.get(2))!.vector, new Float32Array([0, 1]))
  t.deepEqual((await c.get(4))!.vector, new Float32Array([-1, 0]))
  // 3-4-5 triangle: cos((3,4), (1,0)) = 0.6
  await c.upsert([5], [[3, 4]])
  const [h] = await c.search([0, 1], { k: 1 })
  t.is(h.id, 2)
  const [h5] = (await c.search([1, 0], { k: 5 })).filter((x) => x.id === 5)
  t.true(close(h5.distance, 0.4), `${h5.distance}`)
})

test('equal distances are broken by the smaller id, whatever the insertion order', async (t) => {
  const db = await open()
  const c = await db.createCollection('ties', { dimension: 2, metric: 'l2' })
  await c.upsert([50, 7, 30], [[1, 0], [0, 1], [-1, 0]])
  await c.upsert([2n ** 60n, 3], [[0, -1], [5, 5]])
  const hits = await c.search([0, 0], { k: 5 })
  t.deepEqual(
    hits.map((h) => h.id),
    [7, 30, 50, 2n ** 60n, 3],
  )
  t.deepEqual(
    (await c.search([0, 0], { k: 2 })).map((h) => h.id),
    [7, 30],
  )
})

test('k larger than the count returns every vector', async (t) => {
  const db = await open()
  const c = await db.createCollection('small', { dimension: 2, metric: 'l2' })
  await c.upsert([1, 2, 3], [[0, 0], [1, 0], [2, 0]])
  t.is((await c.search([0, 0], { k: 10 })).length, 3)
  t.is(c.searchSync([0, 0], { k: 10000 }).length, 3)
  t.deepEqual(
    (await c.searchBatch([[0, 0], [2, 0]], { k: 7 })).map((r) => r.map((h) => h.id)),
    [
      [1, 2, 3],
      [3, 2, 1],
    ],
  )
  t.is((await c.search([0, 0], { k: 1 })).length, 1)
})

test('searchBatch over 1000 random queries equals per-query search and searchSync', async (t) => {
  const db = await open()
  const dim = 16
  const c = await db.createCollection('batch', { dimension: dim, metric: 'cosine' })
  const rand = rng(42)
  const n = 3000
  const data = new Float32Array(n * dim).map(() => rand() * 2 - 1)
  await c.upsert(
    Array.from({ length: n }, (_, i) => i * 3),
    data,
  )
  const nq = 1000
  const queries = new Float32Array(nq * dim).map(() => rand() * 2 - 1)
  const k = 10
  const batch = await c.searchBatch(queries, { k })
  t.is(batch.length, nq)
  const asArrays = Array.from({ length: nq }, (_, i) => queries.subarray(i * dim, (i + 1) * dim))
  t.deepEqual(await c.searchBatch(asArrays, { k }), batch)
  const single: SearchResult[][] = []
  for (let i = 0; i < nq; i++) single.push(await c.search(asArrays[i], { k }))
  t.deepEqual(batch, single)
  for (let i = 0; i < nq; i += 10) t.deepEqual(c.searchSync(asArrays[i], { k }), batch[i])
  // Each list really is sorted and of length k.
  for (const r of batch) {
    t.is(r.length, k)
    for (let j = 1; j < r.length; j++) {
      if (!(r[j - 1].distance <= r[j].distance)) t.fail(`unsorted: ${JSON.stringify(r)}`)
    }
  }
})

test('searchBatch agrees with search when the collection is large enough to split rows across threads', async (t) => {
  // ≥ 2 × 4096 rows and few queries takes the row-splitting / merge path in exact.rs.
  const db = await open()
  const dim = 8
  const c = await db.createCollection('split', { dimension: dim, metric: 'l2' })
  const rand = rng(7)
  const n = 20000
  // Integer components so that many distances tie and the merge must break ties by id.
  const data = new Float32Array(n * dim).map(() => Math.floor(rand() * 5) - 2)
  await c.upsert(
    Array.from({ length: n }, (_, i) => n - i),
    data,
  )
  const queries = [new Float32Array(dim), new Float32Array(dim).fill(1)]
  const batch = await c.searchBatch(queries, { k: 50 })
  t.deepEqual(batch, [await c.search(queries[0], { k: 50 }), await c.search(queries[1], { k: 50 })])
  for (const r of batch) {
    for (let j = 1; j < r.length; j++) {
      const a = r[j - 1]
      const b = r[j]
      t.true(a.distance < b.distance || (a.distance === b.distance && (a.id as number) < (b.id as number)))
    }
  }
})

// ---------------------------------------------------------------- input copying

test('the Float32Array passed to upsert may be mutated as soon as the call returns', async (t) => {
  const db = await open()
  const c = await db.createCollection('copy', { dimension: 3, metric: 'l2' })
  const v = new Float32Array([1, 2, 3, 4, 5, 6])
  const ids = new BigUint64Array([1n, 2n])
  const p = c.upsert(ids, v)
  v.fill(99)
  ids.fill(7n)
  t.is(await p, 2)
  t.deepEqual(await c.get(1), { id: 1, vector: new Float32Array([1, 2, 3]) })
  t.deepEqual(await c.get(2), { id: 2, vector: new Float32Array([4, 5, 6]) })
  t.is(await c.get(7), null)
  // Same for Float32Array[] entries and for the cosine path (normalised in place in Rust).
  const cos = await db.createCollection('copycos', { dimension: 2, metric: 'cosine' })
  const row = new Float32Array([3, 4])
  const p2 = cos.upsert([1], [row])
  row.fill(-1)
  await p2
  t.deepEqual(Array.from((await cos.get(1))!.vector), [Math.fround(0.6), Math.fround(0.8)])
})

test('a search query may be mutated as soon as search/searchBatch returns; searchSync does not modify it', async (t) => {
  const db = await open()
  const c = await db.createCollection('qcopy', { dimension: 2, metric: 'cosine' })
  await c.upsert([1, 2], [[1, 0], [0, 1]])
  const q = new Float32Array([0, 3])
  const p = c.search(q, { k: 1 })
  q.set([5, 0])
  t.is((await p)[0].id, 2)
  const qs = new Float32Array([0, 2, 0, 1])
  const pb = c.searchBatch(qs, { k: 1 })
  qs.fill(0)
  t.deepEqual(
    (await pb).map((r) => r[0].id),
    [2, 2],
  )
  const qq = new Float32Array([0, 3])
  c.searchSync(qq, { k: 1 })
  t.deepEqual(qq, new Float32Array([0, 3]), 'cosine normalisation must not write into the caller query')
})

// ---------------------------------------------------------------- engine info

test('engineInfo reports the SIMD level and version', (t) => {
  const info = engineInfo()
  t.true(['avx512', 'avx2', 'neon', 'scalar'].includes(info.simd), info.simd)
  t.regex(info.nativeVersion, /^\d+\.\d+\.\d+/)
})
