/**
 * Bad input: every rejected call must throw the documented error class and code, and a
 * failed call must change nothing (count, stored vectors and metadata, search results).
 */
import test, { type ExecutionContext } from 'ava'
import {
  open,
  AlreadyExistsError,
  ClosedError,
  DimensionMismatchError,
  InvalidArgumentError,
  InvalidFilterError,
  KyroDBError,
  NotFoundError,
  type Collection,
  type Database,
  type Metric,
} from '../src-ts/index.js'
import { layout } from './helpers/data.js'

// The public signatures are typed; these tests deliberately pass what the types forbid.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any

const DIM = 3
const PROBE_IDS: (number | bigint)[] = [0, 1, 2, 3, 4, 5, 6, 7, 10, Number.MAX_SAFE_INTEGER, 2n ** 64n - 1n]
const PROBE_QUERY = [0.5, 0.25, 1]

interface Snapshot {
  count: number
  rows: unknown[]
  hits: unknown
  list: unknown
}

async function snapshot(db: Database, c: Collection): Promise<Snapshot> {
  const rows = []
  for (const id of PROBE_IDS) rows.push(await c.get(id))
  return { count: c.count(), rows, hits: await c.search(PROBE_QUERY, { k: 100 }), list: db.listCollections() }
}

/** A database with one collection `c` (dimension 3) holding ids 1, 2, 3 (1 and 3 with metadata). */
async function fixture(metric: Metric = 'l2') {
  const db = await open()
  const c = await db.createCollection('c', { dimension: DIM, metric })
  await c.upsert([1, 2, 3], [[1, 0, 0], [0, 2, 0], [0, 0, 3]], [{ a: 1 }, undefined, { c: 'x', nested: [1, { d: true }] }])
  const before = await snapshot(db, c)
  // Guard against a vacuous fixture: the snapshot must see the stored rows.
  if (before.count !== 3 || before.rows.filter((r) => r !== null).length !== 3) throw new Error('fixture not written')
  return { db, c, before }
}

async function unchanged(t: ExecutionContext, db: Database, c: Collection, before: Snapshot): Promise<void> {
  t.deepEqual(await snapshot(db, c), before, 'a failed call changed the collection')
}

const invalid = { instanceOf: InvalidArgumentError, code: 'INVALID_ARGUMENT' } as const
const dimMismatch = { instanceOf: DimensionMismatchError, code: 'DIMENSION_MISMATCH' } as const
const notFound = { instanceOf: NotFoundError, code: 'NOT_FOUND' } as const
const closed = { instanceOf: ClosedError, code: 'CLOSED' } as const

const METRICS: Metric[] = ['l2', 'cosine', 'ip']

// ---------------------------------------------------------------- non-finite components

for (const bad of [NaN, Infinity, -Infinity]) {
  for (const metric of METRICS) {
    test(`upsert rejects ${bad} in a number[][] batch (${metric}); earlier valid rows not written`, async (t) => {
      const { db, c, before } = await fixture(metric)
      await t.throwsAsync(c.upsert([1, 4, 5], [[9, 9, 9], [1, bad, 1], [1, 1, 1]]), invalid)
      await unchanged(t, db, c, before)
    })

    test(`upsert rejects ${bad} in a flat Float32Array (${metric})`, async (t) => {
      const { db, c, before } = await fixture(metric)
      await t.throwsAsync(c.upsert([2, 4], new Float32Array([5, 5, 5, 1, 1, bad])), invalid)
      await unchanged(t, db, c, before)
    })

    test(`search, searchSync and searchBatch reject ${bad} in the query (${metric})`, async (t) => {
      const { db, c, before } = await fixture(metric)
      await t.throwsAsync(c.search([bad, 1, 1], { k: 3 }), invalid)
      await t.throwsAsync(c.search(new Float32Array([1, 1, bad]), { k: 3 }), invalid)
      t.throws(() => c.searchSync([1, bad, 1], { k: 3 }), invalid)
      await t.throwsAsync(c.searchBatch([[1, 1, 1], [1, bad, 1]], { k: 3 }), invalid)
      await t.throwsAsync(c.searchBatch(new Float32Array([1, 1, 1, bad, 0, 0]), { k: 3 }), invalid)
      await unchanged(t, db, c, before)
    })
  }
}

// ---------------------------------------------------------------- dimension

test('upsert: flat Float32Array of the wrong total (2 rows, one component short) → DIMENSION_MISMATCH', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.upsert([1, 4], new Float32Array([7, 7, 7, 8, 8])), dimMismatch)
  await unchanged(t, db, c, before)
})

test('upsert: flat batch whose length is not a multiple of the dimension → DIMENSION_MISMATCH', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.upsert([4], new Float32Array([1, 2, 3, 4])), dimMismatch)
  await t.throwsAsync(c.upsert([4], new Float32Array([1, 2])), dimMismatch)
  await unchanged(t, db, c, before)
})

test('upsert: flat Float32Array holding a whole number of rows but not one per id → INVALID_ARGUMENT', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.upsert([1, 4], new Float32Array(9).fill(1)), invalid)
  await t.throwsAsync(c.upsert([1, 4, 5], new Float32Array(6).fill(1)), invalid)
  await unchanged(t, db, c, before)
})

test('upsert: a Float32Array[] entry of the wrong length → DIMENSION_MISMATCH', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.upsert([1, 4], [new Float32Array([9, 9, 9]), new Float32Array([1, 2])]), dimMismatch)
  await t.throwsAsync(c.upsert([1, 4], [new Float32Array([9, 9, 9]), new Float32Array([1, 2, 3, 4])]), dimMismatch)
  await unchanged(t, db, c, before)
})

test('upsert: number[][] entries of wrong lengths that add up to the right total → DIMENSION_MISMATCH', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.upsert([1, 4], [[1, 2], [3, 4, 5, 6]]), dimMismatch)
  await t.throwsAsync(c.upsert([4], [[]]), dimMismatch)
  await unchanged(t, db, c, before)
})

test('search/searchSync/searchBatch: query of the wrong length → DIMENSION_MISMATCH', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.search([1, 2], { k: 1 }), dimMismatch)
  await t.throwsAsync(c.search(new Float32Array(4), { k: 1 }), dimMismatch)
  await t.throwsAsync(c.search([], { k: 1 }), dimMismatch)
  t.throws(() => c.searchSync([1, 2, 3, 4], { k: 1 }), dimMismatch)
  t.throws(() => c.searchSync(new Float32Array(0), { k: 1 }), dimMismatch)
  await t.throwsAsync(c.searchBatch([[1, 2, 3], [1, 2]], { k: 1 }), dimMismatch)
  await t.throwsAsync(c.searchBatch(new Float32Array(5), { k: 1 }), dimMismatch)
  await unchanged(t, db, c, before)
})

// ---------------------------------------------------------------- ids vs vectors

test('upsert: ids and vectors of different counts → INVALID_ARGUMENT', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.upsert([1, 4, 5], [[9, 9, 9], [1, 1, 1]]), invalid)
  await t.throwsAsync(c.upsert([1], [[9, 9, 9], [1, 1, 1]]), invalid)
  await t.throwsAsync(c.upsert([], [[9, 9, 9]]), invalid)
  await t.throwsAsync(c.upsert([1, 4], []), invalid)
  await unchanged(t, db, c, before)
})

test('upsert: duplicate ids in one batch → INVALID_ARGUMENT and no row of the batch written', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(c.upsert([1, 4, 5, 4], [[9, 9, 9], [1, 1, 1], [2, 2, 2], [3, 3, 3]]), invalid)
  await t.throwsAsync(c.upsert([6, 1, 1n], [[1, 1, 1], [9, 9, 9], [8, 8, 8]]), invalid)
  await t.throwsAsync(c.upsert(new BigUint64Array([7n, 2n, 7n]), new Float32Array(9).fill(4)), invalid)
  t.is(await c.get(4), null)
  t.is(await c.get(5), null)
  t.is(await c.get(6), null)
  t.is(await c.get(7), null)
  await unchanged(t, db, c, before)
})

const BAD_IDS: [string, unknown][] = [
  ['-1', -1],
  ['1.5', 1.5],
  ['2**53', 2 ** 53],
  ['NaN', NaN],
  ['Infinity', Infinity],
  ['-Infinity', -Infinity],
  ["the string '4'", '4'],
  ['-1n', -1n],
  ['2n**64n', 2n ** 64n],
  ['null', null],
  ['undefined', undefined],
]

for (const [label, bad] of BAD_IDS) {
  test(`upsert rejects id ${label} → INVALID_ARGUMENT`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(c.upsert([1, bad] as Any, [[9, 9, 9], [1, 1, 1]]), invalid)
    await unchanged(t, db, c, before)
  })

  test(`delete rejects id ${label} → INVALID_ARGUMENT and deletes nothing`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(c.delete([1, bad, 2] as Any), invalid)
    await unchanged(t, db, c, before)
  })

  test(`get rejects id ${label} → INVALID_ARGUMENT`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(c.get(bad as Any), invalid)
    await unchanged(t, db, c, before)
  })
}

// ---------------------------------------------------------------- k

const BAD_K: [string, unknown][] = [
  ['0', { k: 0 }],
  ['-1', { k: -1 }],
  ['1.5', { k: 1.5 }],
  ['10001', { k: 10001 }],
  ['2**32', { k: 2 ** 32 }],
  ['NaN', { k: NaN }],
  ['Infinity', { k: Infinity }],
  ["'3'", { k: '3' }],
  ['missing', {}],
]

for (const [label, options] of BAD_K) {
  test(`k = ${label} → INVALID_ARGUMENT from search, searchSync and searchBatch`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(c.search([1, 1, 1], options as Any), invalid)
    t.throws(() => c.searchSync([1, 1, 1], options as Any), invalid)
    await t.throwsAsync(c.searchBatch([[1, 1, 1]], options as Any), invalid)
    await unchanged(t, db, c, before)
  })
}

test('k = 10000 (the maximum) is accepted', async (t) => {
  const { c } = await fixture()
  t.is((await c.search([1, 1, 1], { k: 10000 })).length, 3)
})

// ---------------------------------------------------------------- zero vector under cosine

test('cosine: zero vector in an upsert → INVALID_ARGUMENT, nothing written', async (t) => {
  const { db, c, before } = await fixture('cosine')
  await t.throwsAsync(c.upsert([1, 4], [[9, 9, 9], [0, 0, 0]]), invalid)
  await t.throwsAsync(c.upsert([4], new Float32Array(3)), invalid)
  await t.throwsAsync(c.upsert([4], [[-0, 0, -0]]), invalid)
  await unchanged(t, db, c, before)
})

test('cosine: zero query → INVALID_ARGUMENT from search, searchSync and searchBatch', async (t) => {
  const { db, c, before } = await fixture('cosine')
  await t.throwsAsync(c.search([0, 0, 0], { k: 1 }), invalid)
  t.throws(() => c.searchSync(new Float32Array(3), { k: 1 }), invalid)
  await t.throwsAsync(c.searchBatch([[1, 0, 0], [0, 0, 0]], { k: 1 }), invalid)
  await unchanged(t, db, c, before)
})

// ---------------------------------------------------------------- collections

test("db.collection('nope') → NOT_FOUND", async (t) => {
  const { db, c, before } = await fixture()
  t.throws(() => db.collection('nope'), notFound)
  await unchanged(t, db, c, before)
})

test("dropCollection('nope') → NOT_FOUND", async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(db.dropCollection('nope'), notFound)
  await unchanged(t, db, c, before)
})

test('creating an existing name → ALREADY_EXISTS, existing collection untouched', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(db.createCollection('c', { dimension: DIM, metric: 'l2' }), {
    instanceOf: AlreadyExistsError,
    code: 'ALREADY_EXISTS',
  })
  await t.throwsAsync(db.createCollection('c', { dimension: 7, metric: 'ip' }), {
    instanceOf: AlreadyExistsError,
    code: 'ALREADY_EXISTS',
  })
  const again = db.collection('c')
  t.is(again.dimension, DIM)
  t.is(again.metric, 'l2')
  await unchanged(t, db, c, before)
})

const BAD_NAMES: [string, unknown][] = [
  ["'../x'", '../x'],
  ["''", ''],
  ["'a\\0b'", 'a\0b'],
  ['65 characters', 'a'.repeat(65)],
  ["'has space'", 'has space'],
  ["'ü'", 'ü'],
  ["'a/b'", 'a/b'],
  ["'a.b'", 'a.b'],
  ['the number 5', 5],
  ['undefined', undefined],
]

for (const [label, name] of BAD_NAMES) {
  test(`collection name ${label} → INVALID_ARGUMENT for create, lookup and drop`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(db.createCollection(name as Any, { dimension: 2 }), invalid)
    t.throws(() => db.collection(name as Any), invalid)
    await t.throwsAsync(db.dropCollection(name as Any), invalid)
    await unchanged(t, db, c, before)
  })
}

test('a 64-character name is accepted (boundary of the 65-character case)', async (t) => {
  const db = await open()
  const c = await db.createCollection('a'.repeat(64), { dimension: 1 })
  t.is(c.name, 'a'.repeat(64))
})

const BAD_DIMENSIONS: [string, unknown][] = [
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['16385', 16385],
  ['2**32', 2 ** 32],
  ['NaN', NaN],
  ["'3'", '3'],
  ['missing', undefined],
]

for (const [label, dimension] of BAD_DIMENSIONS) {
  test(`dimension ${label} → INVALID_ARGUMENT, no collection created`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(db.createCollection('d', { dimension } as Any), invalid)
    t.throws(() => db.collection('d'), notFound)
    await unchanged(t, db, c, before)
  })
}

test('dimension 16384 (the maximum) is accepted', async (t) => {
  const db = await open()
  t.is((await db.createCollection('d', { dimension: 16384 })).dimension, 16384)
})

for (const metric of ['hamming', 'L2', 'COSINE', '', 42]) {
  test(`metric ${JSON.stringify(metric)} → INVALID_ARGUMENT, no collection created`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(db.createCollection('d', { dimension: 2, metric } as Any), invalid)
    t.throws(() => db.collection('d'), notFound)
    await unchanged(t, db, c, before)
  })
}

test('createCollection options null / missing → INVALID_ARGUMENT', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(db.createCollection('d', null as Any), invalid)
  await t.throwsAsync((db.createCollection as Any)('d'), invalid)
  await unchanged(t, db, c, before)
})

test("open('') and open('a\\0b') → INVALID_ARGUMENT", async (t) => {
  await t.throwsAsync(open(''), invalid)
  await t.throwsAsync(open('a\0b'), invalid)
  await t.throwsAsync(open(42 as Any), invalid)
})

// ---------------------------------------------------------------- metadata

const cycle: Record<string, unknown> = { a: 1 }
cycle.self = cycle

const BAD_METADATA: [string, unknown][] = [
  ['an entry that is a string', [{ ok: 1 }, 'text']],
  ['an entry that is an array', [{ ok: 1 }, [1, 2]]],
  ['an entry that is a number', [{ ok: 1 }, 5]],
  ['an entry that is a boolean', [{ ok: 1 }, true]],
  ['an entry that is a Date (JSON string)', [{ ok: 1 }, new Date(0)]],
  ['an entry whose toJSON returns a number', [{ ok: 1 }, { toJSON: () => 3 }]],
  ['an entry with a BigInt value', [{ ok: 1 }, { n: 1n }]],
  ['an entry with a cycle', [{ ok: 1 }, cycle]],
  ['an entry over 64 KiB as JSON', [{ ok: 1 }, { s: 'x'.repeat(64 * 1024) }]],
  ['a metadata array that is too short', [{ ok: 1 }]],
  ['a metadata array that is too long', [{ ok: 1 }, { ok: 2 }, { ok: 3 }]],
  ['an empty metadata array', []],
  ['metadata that is a string, not an array', 'meta'],
  ['metadata that is a single object, not an array', { ok: 1 }],
  ['metadata that is a number', 7],
]

for (const [label, metadata] of BAD_METADATA) {
  test(`upsert with ${label} → INVALID_ARGUMENT, nothing written`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(c.upsert([1, 4], [[9, 9, 9], [1, 1, 1]], metadata as Any), invalid)
    await unchanged(t, db, c, before)
  })
}

// ---------------------------------------------------------------- closed database

const VALID_CALLS: [string, 'sync' | 'async', (db: Database, c: Collection) => unknown][] = [
  ['createCollection', 'async', (db) => db.createCollection('other', { dimension: 2 })],
  ['collection', 'sync', (db) => db.collection('c')],
  ['listCollections', 'sync', (db) => db.listCollections()],
  ['dropCollection', 'async', (db) => db.dropCollection('c')],
  ['count', 'sync', (_db, c) => c.count()],
  ['upsert', 'async', (_db, c) => c.upsert([4], [[1, 1, 1]])],
  ['delete', 'async', (_db, c) => c.delete([1])],
  ['get', 'async', (_db, c) => c.get(1)],
  ['search', 'async', (_db, c) => c.search([1, 1, 1], { k: 1 })],
  ['searchSync', 'sync', (_db, c) => c.searchSync([1, 1, 1], { k: 1 })],
  ['searchBatch', 'async', (_db, c) => c.searchBatch([[1, 1, 1]], { k: 1 })],
]

for (const [method, kind, run] of VALID_CALLS) {
  test(`${method} on a closed database → CLOSED`, async (t) => {
    const { db, c } = await fixture()
    // The same call succeeds while the database is open (on a throwaway database), so the
    // CLOSED below is caused by close() and nothing else.
    const live = await fixture()
    await t.notThrowsAsync(async () => {
      await run(live.db, live.c)
    })
    await db.close()
    t.true(db.closed)
    if (kind === 'sync') t.throws(() => run(db, c), closed)
    else await t.throwsAsync(() => run(db, c) as Promise<unknown>, closed)
    // Still closed, still refusing, and close() stays idempotent.
    await db.close()
    t.true(db.closed)
    t.throws(() => c.count(), closed)
    t.throws(() => db.listCollections(), closed)
  })
}

test('on a closed database, argument errors are still reported before CLOSED', async (t) => {
  // Documented order: argument validation in the TypeScript layer runs before the native
  // call, so a bad argument on a closed database is still INVALID_ARGUMENT.
  const { db, c } = await fixture()
  await db.close()
  await t.throwsAsync(c.upsert([-1], [[1, 1, 1]]), invalid)
  await t.throwsAsync(c.upsert([1], [[1, 1, 1]]), closed)
})

// ---------------------------------------------------------------- dropped handle

test('using a handle after dropCollection → NOT_FOUND for every method', async (t) => {
  const { db, c } = await fixture()
  await db.dropCollection('c')
  t.deepEqual(db.listCollections(), [])
  t.throws(() => c.count(), notFound)
  await t.throwsAsync(c.upsert([4], [[1, 1, 1]]), notFound)
  await t.throwsAsync(c.delete([1]), notFound)
  await t.throwsAsync(c.get(1), notFound)
  await t.throwsAsync(c.search([1, 1, 1], { k: 1 }), notFound)
  t.throws(() => c.searchSync([1, 1, 1], { k: 1 }), notFound)
  await t.throwsAsync(c.searchBatch([[1, 1, 1]], { k: 1 }), notFound)
  t.throws(() => db.collection('c'), notFound)
  await t.throwsAsync(db.dropCollection('c'), notFound)
})

test('a handle to a dropped collection does not reach a new collection of the same name', async (t) => {
  const { db, c } = await fixture()
  await db.dropCollection('c')
  const fresh = await db.createCollection('c', { dimension: DIM, metric: 'l2' })
  await t.throwsAsync(c.upsert([9], [[1, 1, 1]]), notFound)
  t.throws(() => c.count(), notFound)
  t.is(fresh.count(), 0)
  t.is(await fresh.get(1), null)
  t.deepEqual(db.listCollections(), [{ name: 'c', dimension: DIM, metric: 'l2', count: 0, idType: 'u64' }])
})

// ---------------------------------------------------------------- wrong JS types

const WRONG_TYPES: [string, (c: Collection) => unknown][] = [
  ['vectors as a string', (c) => c.upsert([4], '1,2,3' as Any)],
  ['vectors undefined', (c) => c.upsert([4], undefined as Any)],
  ['vectors as a Float64Array', (c) => c.upsert([4], new Float64Array(3) as Any)],
  ['a vector entry as a string', (c) => c.upsert([4], ['1,2,3'] as Any)],
  ['a vector component as a string', (c) => c.upsert([4], [[1, '2', 3]] as Any)],
  ['ids as an object', (c) => c.upsert({ 0: 4, length: 1 } as Any, [[1, 1, 1]])],
  ['ids as a string', (c) => c.upsert('4' as Any, [[1, 1, 1]])],
  ['ids as a BigInt64Array', (c) => c.upsert(new BigInt64Array([4n]) as Any, [[1, 1, 1]])],
  ['delete ids as an object', (c) => c.delete({ id: 1 } as Any)],
  ['delete ids as a number', (c) => c.delete(1 as Any)],
  ['query as a Uint8Array', (c) => c.search(new Uint8Array([1, 1, 1]) as Any, { k: 1 })],
  ['query as a Float64Array', (c) => c.search(new Float64Array([1, 1, 1]) as Any, { k: 1 })],
  ['query as a string', (c) => c.search('1,1,1' as Any, { k: 1 })],
  ['query containing a string', (c) => c.search([1, '1', 1] as Any, { k: 1 })],
  ['search options null', (c) => c.search([1, 1, 1], null as Any)],
  ['search options missing', (c) => (c.search as Any)([1, 1, 1])],
  ['search options a number', (c) => c.search([1, 1, 1], 5 as Any)],
  ['searchBatch queries as a Uint8Array', (c) => c.searchBatch(new Uint8Array(3) as Any, { k: 1 })],
  ['searchBatch options null', (c) => c.searchBatch([[1, 1, 1]], null as Any)],
  ['get id as an object', (c) => c.get({} as Any)],
]

for (const [label, run] of WRONG_TYPES) {
  test(`wrong JS type: ${label} → INVALID_ARGUMENT (async rejection, not a sync throw)`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(() => run(c) as Promise<unknown>, invalid)
    await unchanged(t, db, c, before)
  })
}

test('wrong JS type for searchSync: Uint8Array query, null options → INVALID_ARGUMENT', async (t) => {
  const { db, c, before } = await fixture()
  t.throws(() => c.searchSync(new Uint8Array([1, 1, 1]) as Any, { k: 1 }), invalid)
  t.throws(() => c.searchSync([1, 1, 1], null as Any), invalid)
  t.throws(() => c.searchSync(undefined as Any, { k: 1 }), invalid)
  await unchanged(t, db, c, before)
})

test('every error is a KyroDBError subclass whose name matches its class', async (t) => {
  const { db, c } = await fixture()
  const err = await t.throwsAsync(c.search([1, 1], { k: 1 }))
  t.true(err instanceof KyroDBError)
  t.is(err?.name, 'DimensionMismatchError')
  const err2 = t.throws(() => db.collection('nope'))
  t.true(err2 instanceof KyroDBError)
  t.is(err2?.name, 'NotFoundError')
})

// ------------------------------------------------- numeric edge cases (once bugs, now fixed)

test('cosine: a tiny (subnormal) non-zero vector is rejected or stored with unit length, never as Infinity/NaN', async (t) => {
  const { db, c, before } = await fixture('cosine')
  // 1e-40 is a finite, non-zero f32 (subnormal). Its norm is finite and non-zero, but
  // 1/norm overflows f32: normalisation must not multiply by +Infinity.
  try {
    await c.upsert([4], [[1e-40, 0, 0]])
  } catch (err) {
    t.is((err as KyroDBError).code, 'INVALID_ARGUMENT')
    await unchanged(t, db, c, before)
    return
  }
  const stored = await c.get(4)
  t.truthy(stored)
  t.true(
    Array.from(stored!.vector).every(Number.isFinite),
    `stored vector is [${Array.from(stored!.vector).join(', ')}]`,
  )
  const hits = await c.search([1, 0, 0], { k: 10 })
  t.true(hits.every((h) => Number.isFinite(h.distance)), JSON.stringify(hits))
})

test('cosine: a tiny (subnormal) non-zero query is rejected or gives finite distances', async (t) => {
  const { c } = await fixture('cosine')
  let hits
  try {
    hits = await c.search([0, 1e-40, 0], { k: 3 })
  } catch (err) {
    t.is((err as KyroDBError).code, 'INVALID_ARGUMENT')
    return
  }
  t.true(hits.every((h) => Number.isFinite(h.distance)), JSON.stringify(hits))
})

test('ip: an overflowing inner product (finite inputs) never ranks a NaN distance ahead of a number', async (t) => {
  const db = await open()
  const c = await db.createCollection('c', { dimension: 2, metric: 'ip' })
  await c.upsert([1, 2], [[3e38, -3e38], [1, 1]])
  // ⟨q, v1⟩ = +Inf + -Inf = NaN (x86 "default NaN" has its sign bit set, and total_cmp
  // orders negative NaN before every number): it must rank as the farthest, not the closest.
  const hits = await c.search([3e38, 3e38], { k: 2 })
  t.is(hits[0].id, 2, JSON.stringify(hits))
  t.false(Number.isNaN(hits[0].distance))
})

// ---------------------------------------------------------------- filters

const badFilter = { instanceOf: InvalidFilterError, code: 'INVALID_FILTER' } as const

// [label, filter, what the message must point at]
const BAD_FILTERS: [string, unknown, RegExp][] = [
  ['string: unterminated string', "category == 'sci", /at position 12\b/],
  ['string: unterminated double-quoted string after a valid clause', 'a == 1 AND b == "x', /at position 16\b/],
  ['string: dangling AND', 'year >= 2020 AND', /at position 16\b/],
  ['string: dangling OR inside parentheses', '(a == 1 OR ) AND b == 2', /at position 11\b/],
  ['string: unknown character', 'year >= 2020 AND @x', /'@' at position 17\b/],
  ['string: unknown character in a list', "tags IN ['a' ; 'b']", /';' at position 13\b/],
  ["string: year >= 'x'", "year >= 'x'", /at position 8\b/],
  ['string: year < TRUE', 'year < TRUE', /at position 7\b/],
  ['string: unclosed parenthesis', '(year >= 2020', /at position 13\b/],
  ['string: missing value', 'year >= AND a == 1', /at position 8\b/],
  ['string: empty IN list', 'tags IN []', /at position 9\b/],
  ['object: unknown operator $foo on a field', { year: { $foo: 1 } }, /\$\.year\.\$foo\b/],
  ['object: unknown top-level operator $foo', { $foo: [1] }, /\$\.\$foo\b/],
  ["object: { year: { $gte: 'x' } }", { year: { $gte: 'x' } }, /\$\.year\.\$gte\b/],
  ['object: { year: { $lt: null } }', { year: { $lt: null } }, /\$\.year\.\$lt\b/],
  ['object: { a: [1, 2] } (array value)', { a: [1, 2] }, /\$\.a\b/],
  ['object: $and not an array', { $and: { a: 1 } }, /\$\.\$and\b/],
  ['object: $or with an empty array', { $or: [] }, /\$\.\$or\b/],
  ['object: $in not an array', { tags: { $in: 'a' } }, /\$\.tags\.\$in\b/],
  ['object: $exists not a boolean', { tags: { $exists: 1 } }, /\$\.tags\.\$exists\b/],
  ['object: a deep error', { $or: [{ a: 1 }, { $and: [{ b: { $in: [1, {}] } }] }] }, /\$\.\$or\[1\]\.\$and\[0\]\.b\.\$in\[1\]/],
  ['object: nested object instead of a dotted path', { author: { name: 'x' } }, /\$\.author\.name\b/],
  ['a number', 5, /object or a string/],
  ['an array', [{ a: 1 }], /object or a string/],
  ['an empty array', [], /object or a string/],
  ['a boolean', true, /object or a string/],
]

for (const [label, filter, where] of BAD_FILTERS) {
  test(`malformed filter (${label}) → INVALID_FILTER naming the position, from search, searchSync and searchBatch`, async (t) => {
    const { db, c, before } = await fixture()
    const e1 = await t.throwsAsync(c.search([1, 1, 1], { k: 3, filter: filter as Any }), badFilter)
    t.regex(e1?.message ?? '', where)
    const e2 = t.throws(() => c.searchSync([1, 1, 1], { k: 3, filter: filter as Any }), badFilter)
    t.regex(e2?.message ?? '', where)
    const e3 = await t.throwsAsync(c.searchBatch([[1, 1, 1]], { k: 3, filter: filter as Any }), badFilter)
    t.regex(e3?.message ?? '', where)
    t.true(e1 instanceof KyroDBError)
    await unchanged(t, db, c, before)
  })
}

test('well-formed edge filters are accepted: {}, "", whitespace, keywords in any case, && || !', async (t) => {
  const { db, c, before } = await fixture()
  const all = [1, 2, 3]
  for (const f of [{}, '', '   ', "c == 'x' or NOT EXISTS(c)", "c = 'x' || !(c exists)", 'a >= 1 && a <= 1 OR c IN ["x"]'] as const) {
    const hits = await c.search([0, 0, 0], { k: 10, filter: f })
    t.deepEqual(hits.map((h) => h.id).sort(), f === 'a >= 1 && a <= 1 OR c IN ["x"]' ? [1, 3] : all, JSON.stringify(f))
  }
  await unchanged(t, db, c, before)
})

// BUG: filter values are serialised with JSON.stringify, which turns NaN and ±Infinity
// into null, so `{ rating: NaN }` silently becomes `rating == null` and matches rows whose
// rating is null (and `$ne: NaN` excludes them). Like a BigInt value (which is rejected
// with INVALID_FILTER), a value JSON cannot represent must be rejected.
test('filter values NaN / ±Infinity → INVALID_FILTER, never silently null', async (t) => {
  const db = await open()
  const c = await db.createCollection('c', { dimension: 1, metric: 'l2' })
  await c.upsert([1, 2], [[1], [2]], [{ rating: null }, { rating: 5 }])
  await t.throwsAsync(c.search([0], { k: 3, filter: { rating: 1n } as Any }), badFilter) // the reference behaviour
  for (const f of [{ rating: NaN }, { rating: Infinity }, { rating: { $eq: -Infinity } }, { rating: { $in: [NaN] } }, { rating: { $ne: NaN } }, { rating: { $gte: Infinity } }]) {
    await t.throwsAsync(c.search([0], { k: 3, filter: f }), badFilter, JSON.stringify(f, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v)))
  }
})

// BUG: string-filter positions are UTF-8 byte offsets, not JavaScript string indices, so
// after a non-ASCII character the reported position does not point at the problem in the
// string the caller passed (`filter.slice(position)`).
test('string filter error positions are JavaScript string indices, also after non-ASCII text', async (t) => {
  const { c } = await fixture()
  const filter = "name == 'naïve' AND @"
  const err = await t.throwsAsync(c.search([1, 1, 1], { k: 1, filter }), badFilter)
  t.is(filter.indexOf('@'), 20)
  t.regex(err?.message ?? '', /at position 20\b/)
})

// ---------------------------------------------------------------- ef and result options

const BAD_SEARCH_OPTIONS: [string, unknown][] = [
  ['ef < k', { k: 10, ef: 5 }],
  ['ef = k − 1 at k = 100', { k: 100, ef: 99 }],
  ['ef = 0', { k: 1, ef: 0 }],
  ['ef = -1', { k: 1, ef: -1 }],
  ['ef = 10001', { k: 1, ef: 10001 }],
  ['ef = 2**32 − 1', { k: 1, ef: 2 ** 32 - 1 }],
  ['ef = 2**32', { k: 1, ef: 2 ** 32 }],
  ['ef = 64.5', { k: 1, ef: 64.5 }],
  ['ef = NaN', { k: 1, ef: NaN }],
  ["ef = '64'", { k: 1, ef: '64' }],
  ['ef = null', { k: 1, ef: null }],
  ["withMetadata: 'yes'", { k: 1, withMetadata: 'yes' }],
  ['withMetadata: 1', { k: 1, withMetadata: 1 }],
  ['withMetadata: null', { k: 1, withMetadata: null }],
  ["withVectors: 'true'", { k: 1, withVectors: 'true' }],
  ['withVectors: 0', { k: 1, withVectors: 0 }],
]

for (const [label, options] of BAD_SEARCH_OPTIONS) {
  test(`search option ${label} → INVALID_ARGUMENT from search, searchSync and searchBatch`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(c.search([1, 1, 1], options as Any), invalid)
    t.throws(() => c.searchSync([1, 1, 1], options as Any), invalid)
    await t.throwsAsync(c.searchBatch([[1, 1, 1]], options as Any), invalid)
    await unchanged(t, db, c, before)
  })
}

test('ef boundaries are accepted: ef = k, ef = 10000, k above the default ef without ef', async (t) => {
  const { c } = await fixture()
  for (const o of [{ k: 10, ef: 10 }, { k: 1, ef: 10000 }, { k: 10000, ef: 10000 }, { k: 100 }, { k: 3, ef: 3, withMetadata: false, withVectors: true }]) {
    t.is((await c.search([1, 1, 1], o)).length, Math.min(o.k, 3), JSON.stringify(o))
    t.is(c.searchSync([1, 1, 1], o).length, Math.min(o.k, 3))
  }
})

// ---------------------------------------------------------------- index options

const BAD_INDEX_OPTIONS: [string, unknown][] = [
  ['m = 1', { m: 1 }],
  ['m = 65', { m: 65 }],
  ['m = 0', { m: 0 }],
  ['m = 1.5', { m: 1.5 }],
  ["m = '16'", { m: '16' }],
  ['efConstruction = 0', { efConstruction: 0 }],
  ['efConstruction = 10001', { efConstruction: 10001 }],
  ['efConstruction = NaN', { efConstruction: NaN }],
  ['autoBuildRows = 0', { autoBuildRows: 0 }],
  ['autoBuildRows = -5', { autoBuildRows: -5 }],
  ['autoBuildRows = 2**32', { autoBuildRows: 2 ** 32 }],
  ["index = 'fast'", 'fast'],
  ['index = true', true],
  ['index = null', null],
  ['index = 16', 16],
]

for (const [label, index] of BAD_INDEX_OPTIONS) {
  test(`createCollection with index option ${label} → INVALID_ARGUMENT, no collection created`, async (t) => {
    const { db, c, before } = await fixture()
    await t.throwsAsync(db.createCollection('d', { dimension: 2, metric: 'l2', index } as Any), invalid)
    t.throws(() => db.collection('d'), notFound)
    await unchanged(t, db, c, before)
  })
}

test('index option boundaries are accepted: m = 2 and 64, efConstruction = 1 and 10000, autoBuildRows = 1, index: false', async (t) => {
  const db = await open()
  const options = [{ m: 2 }, { m: 64 }, { efConstruction: 1 }, { efConstruction: 10000 }, { autoBuildRows: 1 }, {}, false] as const
  for (const [i, index] of options.entries()) {
    const c = await db.createCollection(`ok${i}`, { dimension: 2, metric: 'l2', index })
    await c.upsert([1, 2], [[0, 0], [1, 1]])
    t.deepEqual((await c.search([1, 1], { k: 1 })).map((h) => h.id), [2])
  }
  t.is(db.listCollections().length, options.length)
})

// ---------------------------------------------------------------- buildIndex options

for (const [label, options] of [
  ['onProgress: 5', { onProgress: 5 }],
  ["onProgress: 'log'", { onProgress: 'log' }],
  ['onProgress: {}', { onProgress: {} }],
  ['onProgress: null', { onProgress: null }],
] as [string, unknown][]) {
  test(`buildIndex({ ${label} }) → INVALID_ARGUMENT (async rejection), nothing built`, async (t) => {
    const { db, c, before } = await fixture()
    const stats = c.stats()
    await t.throwsAsync(() => c.buildIndex(options as Any), invalid)
    t.deepEqual(c.stats(), stats)
    await unchanged(t, db, c, before)
  })
}

// BUG: buildIndex(null) reads `options.onProgress` from null and throws a plain TypeError
// instead of a KyroDBError (search(q, null) is INVALID_ARGUMENT).
test('buildIndex(null) → INVALID_ARGUMENT, not a TypeError', async (t) => {
  const { db, c, before } = await fixture()
  await t.throwsAsync(() => c.buildIndex(null as Any), invalid)
  await unchanged(t, db, c, before)
})

test('a throwing onProgress callback neither crashes the process nor stops the build', async (t) => {
  const uncaught: unknown[] = []
  const onUncaught = (err: unknown) => uncaught.push(err)
  process.on('uncaughtException', onUncaught)
  try {
    const db = await open()
    const c = await db.createCollection('p', { dimension: 4, metric: 'l2', index: { efConstruction: 16, autoBuildRows: 1_000_000 } })
    const n = 5000
    const vectors = Array.from({ length: n }, (_, i) => [i, (i * 7919) % 5003, (i * 104729) % 4999, Math.sqrt(i)]) // distinct rows
    await c.upsert(Array.from({ length: n }, (_, i) => i), vectors)
    let calls = 0
    await c.buildIndex({
      onProgress: () => {
        calls++
        throw new Error('progress callback failure')
      },
    })
    // Late progress calls (if any) are delivered on later turns of the event loop.
    await new Promise((r) => setTimeout(r, 100))
    t.true(calls >= 1, 'the callback was never called')
    t.deepEqual(layout(c.stats()), { count: n, hotRows: 0, segments: [{ rows: n, live: n, graph: true }] })
    for (const id of [0, 1234, 4999]) t.deepEqual((await c.search(vectors[id], { k: 1 })).map((h) => [h.id, h.distance]), [[id, 0]])
    // A callback throwing a non-Error, on a second build.
    await c.upsert([n], [[9, 9, 9, 9]])
    await c.buildIndex({
      onProgress: () => {
        throw 'not an error' // eslint-disable-line no-throw-literal
      },
    })
    await new Promise((r) => setTimeout(r, 100))
    t.deepEqual(layout(c.stats()), { count: n + 1, hotRows: 0, segments: [{ rows: n + 1, live: n + 1, graph: true }] })
    t.deepEqual(uncaught, [])
  } finally {
    process.off('uncaughtException', onUncaught)
  }
})
