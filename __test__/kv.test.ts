/**
 * The key-value store through the binding: value types round trip, range options, bad
 * input (keys, values, a closed database), and a fast-check model test of random
 * put/delete/get/range sequences across flush, compaction and reopen.
 */
import test from 'ava'
import fc from 'fast-check'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open, MAX_VALUE_BYTES, type Database, type Key } from '../src-ts/index.js'
import { native } from '../src-ts/native.js'

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-kv-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const U64_MAX = (1n << 64n) - 1n

test('put, get, getSync, has, delete, count; values come back as the type stored', async (t) => {
  const db = await open()
  const kv = db.kv
  await kv.put(1, 'one')
  await kv.put(2n, Buffer.from([1, 2, 3]))
  await kv.put(3, new Uint8Array([9]))
  await kv.put(U64_MAX, 'max')
  await kv.put(0, '')
  t.is(kv.getSync(1), 'one')
  t.deepEqual(kv.getSync(2), Buffer.from([1, 2, 3]))
  t.true(Buffer.isBuffer(kv.getSync(3)))
  t.is(await kv.get(U64_MAX), 'max')
  t.is(await kv.get(0), '')
  t.is(kv.getSync(4), undefined)
  t.is(await kv.get(4n), undefined)
  t.true(await kv.has(1))
  t.false(await kv.has(4))
  t.is(await kv.count(), 5)
  t.true(await kv.delete(1))
  t.false(await kv.delete(1))
  t.is(await kv.count(), 4)
  t.is(kv.getSync(1), undefined)
  // Gets in one tick are answered together, each with its own value.
  const got = await Promise.all([0, 2, 3, 4, 1].map((k) => kv.get(k)))
  t.deepEqual(got, ['', Buffer.from([1, 2, 3]), Buffer.from([9]), undefined, undefined])
  t.deepEqual(await kv.getMany([U64_MAX, 7, 0]), ['max', undefined, ''])
  t.is(await kv.putBatch([[10, 'a'], [11, 'b'], [10, 'c']]), 3)
  t.is(kv.getSync(10), 'c')
  // Values larger than the fast path's scratch buffer, and multi-byte strings.
  const big = Buffer.alloc(200_000, 7)
  await kv.putBatch([[20, big], [21, 'é'.repeat(70_000)], [22, '日本語']])
  t.deepEqual(kv.getSync(20), big)
  t.is(kv.getSync(21), 'é'.repeat(70_000))
  t.is(kv.getSync(22n), '日本語')
  t.deepEqual(await kv.get(20), big)
  t.is(await kv.batch([{ type: 'del', key: 11 }, { type: 'put', key: 12, value: 'x' }, { type: 'del', key: 999 }]), 2)
  t.deepEqual(await kv.getMany([11, 12]), [undefined, 'x'])
  await db.close()
})

test('range: bounds, limit, reverse, keys above 2^53 as bigint', async (t) => {
  const db = await open()
  const kv = db.kv
  await kv.putBatch(Array.from({ length: 100 }, (_, i) => [i * 2, `v${i * 2}`] as [number, string]))
  await kv.put(U64_MAX, 'top')
  const all = []
  for await (const e of kv.range()) all.push(e)
  t.is(all.length, 101)
  t.deepEqual(all[0], [0, 'v0'])
  t.deepEqual(all[100], [U64_MAX, 'top'])
  const keys = async (o: Parameters<typeof kv.range>[0]) => {
    const out: Key[] = []
    for await (const [k] of kv.range(o)) out.push(k)
    return out
  }
  t.deepEqual(await keys({ gte: 10, lt: 20 }), [10, 12, 14, 16, 18])
  t.deepEqual(await keys({ gt: 10, lte: 20 }), [12, 14, 16, 18, 20])
  t.deepEqual(await keys({ gte: 10, limit: 3 }), [10, 12, 14])
  t.deepEqual(await keys({ lt: 7, reverse: true }), [6, 4, 2, 0])
  t.deepEqual(await keys({ gt: 196, reverse: true }), [U64_MAX, 198])
  t.deepEqual(await keys({ gt: U64_MAX }), [])
  t.deepEqual(await keys({ lt: 0 }), [])
  t.deepEqual(await keys({ gte: 50, lte: 10 }), [])
  await kv.flush()
  t.deepEqual(await keys({ gte: 10, lt: 20 }), [10, 12, 14, 16, 18])
  await db.close()
})

test('bad keys, values and options are INVALID_ARGUMENT and change nothing', async (t) => {
  const db = await open()
  const kv = db.kv
  await kv.put(1, 'one')
  const badKeys: unknown[] = [-1, 1.5, 2 ** 53, NaN, Infinity, '1', null, undefined, -1n, 1n << 64n, {}]
  for (const k of badKeys) {
    await t.throwsAsync(() => kv.put(k as Key, 'x'), { code: 'INVALID_ARGUMENT' }, `put ${String(k)}`)
    t.throws(() => kv.getSync(k as Key), { code: 'INVALID_ARGUMENT' }, `getSync ${String(k)}`)
    await t.throwsAsync(() => kv.get(k as Key), { code: 'INVALID_ARGUMENT' }, `get ${String(k)}`)
    await t.throwsAsync(() => kv.delete(k as Key), { code: 'INVALID_ARGUMENT' })
    await t.throwsAsync(() => kv.getMany([k as Key]), { code: 'INVALID_ARGUMENT' })
  }
  for (const v of [null, undefined, 5, {}, [1, 2]]) {
    await t.throwsAsync(() => kv.put(2, v as string), { code: 'INVALID_ARGUMENT' })
  }
  await t.throwsAsync(() => kv.put(2, Buffer.alloc(MAX_VALUE_BYTES + 1)), { code: 'INVALID_ARGUMENT' })
  // A bad entry anywhere rejects the whole batch.
  await t.throwsAsync(() => kv.putBatch([[3, 'ok'], [-4, 'bad']]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(() => kv.putBatch([[3, 'ok'], [4, Buffer.alloc(MAX_VALUE_BYTES + 1)]]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(() => kv.putBatch([[3, 'ok', 'extra']] as never), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(() => kv.batch([{ type: 'upsert', key: 3 } as never]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(async () => {
    for await (const _ of kv.range({ gte: -1 })) void _
  }, { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(async () => {
    for await (const _ of kv.range({ limit: 1.5 })) void _
  }, { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(async () => {
    for await (const _ of kv.range({ from: 1 } as never)) void _
  }, { code: 'INVALID_ARGUMENT' })
  t.is(await kv.count(), 1)
  t.is(kv.getSync(3), undefined)
  // The native layer checks again whatever reaches it directly.
  const raw = native.NativeDatabase.open(null).kv()
  for (const k of [-1, 1.5, 2 ** 53, NaN]) t.throws(() => raw.getNum(k), { message: /^INVALID_ARGUMENT/ })
  t.throws(() => raw.getBig(-1n), { message: /^INVALID_ARGUMENT/ })
  t.throws(() => raw.getBig(1n << 64n), { message: /^INVALID_ARGUMENT/ })
  await t.throwsAsync(() => raw.write(new BigUint64Array([1n]), new Uint8Array([7]), new Uint32Array([0]), Buffer.alloc(0)), {
    message: /^INVALID_ARGUMENT/,
  })
  await t.throwsAsync(() => raw.write(new BigUint64Array([1n]), new Uint8Array([1]), new Uint32Array([5]), Buffer.alloc(2)), {
    message: /^INVALID_ARGUMENT/,
  })
  await db.close()
  await t.throwsAsync(() => kv.put(1, 'x'), { code: 'CLOSED' })
  t.throws(() => kv.getSync(1), { code: 'CLOSED' })
  await t.throwsAsync(() => kv.get(1), { code: 'CLOSED' })
  await t.throwsAsync(() => kv.count(), { code: 'CLOSED' })
})

test('stats: the learned index answers and never mispredicts', async (t) => {
  const dir = tempDir(t)
  const db = await open(dir)
  const kv = db.kv
  const n = 50_000
  const entries: Array<[number, string]> = []
  for (let i = 0; i < n; i++) entries.push([i * 7 + 3, `v${i}`])
  await kv.putBatch(entries)
  await kv.buildIndex()
  for (let i = 0; i < n; i += 97) t.is(kv.getSync(i * 7 + 3), `v${i}`)
  t.is(kv.getSync(4), undefined)
  const s = kv.stats()
  t.is(s.keys, n)
  t.is(s.runs, 1)
  t.is(s.mispredictions, 0)
  t.true(s.runProbes > 0)
  t.is(s.probeHistogram.reduce((a, b) => a + b, 0), s.runProbes)
  if (s.learnedIndex) t.true(s.indexBytes > 0 && s.indexBuilds >= 1)
  t.true((await kv.warmup()) > 0)
  await db.close()
  const again = await open(dir)
  t.is(await again.kv.count(), n)
  t.is(again.kv.getSync(3), 'v0')
  await again.close()
})

type Op =
  | { op: 'put'; key: number; value: string | number[] }
  | { op: 'del'; key: number }
  | { op: 'get'; key: number }
  | { op: 'range'; lo: number; hi: number; reverse: boolean }
  | { op: 'flush' }
  | { op: 'compact' }
  | { op: 'reopen' }

const keyArb = fc.integer({ min: 0, max: 200 })
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('put' as const), key: keyArb, value: fc.oneof(fc.string(), fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 8 })) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('del' as const), key: keyArb }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('get' as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('range' as const), lo: keyArb, hi: keyArb, reverse: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
)

function same(got: Buffer | string | undefined, want: string | number[] | undefined): boolean {
  if (want === undefined || got === undefined) return got === want
  if (typeof want === 'string') return got === want
  return Buffer.isBuffer(got) && got.equals(Buffer.from(want))
}

test('model: random put/delete/get/range sequences across flush, compaction and reopen', async (t) => {
  const runs = Number(process.env.KYRODB_PROP_RUNS ?? 15)
  await t.notThrowsAsync(fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 60 }), async (ops) => {
      const dir = mkdtempSync(join(tmpdir(), 'kyrodb-kvprop-'))
      const options = { kvMemtableBytes: 2048, rmiRebuildAppends: 16 }
      let db: Database = await open(dir, options)
      const model = new Map<number, string | number[]>()
      try {
        for (const o of ops) {
          switch (o.op) {
            case 'put':
              await db.kv.put(o.key, typeof o.value === 'string' ? o.value : Buffer.from(o.value))
              model.set(o.key, o.value)
              break
            case 'del':
              if ((await db.kv.delete(o.key)) !== model.has(o.key)) throw new Error(`delete ${o.key} result`)
              model.delete(o.key)
              break
            case 'get':
              if (!same(db.kv.getSync(o.key), model.get(o.key))) throw new Error(`get ${o.key}`)
              break
            case 'range': {
              const got: Array<[Key, Buffer | string]> = []
              for await (const e of db.kv.range({ gte: o.lo, lte: o.hi, reverse: o.reverse })) got.push(e)
              const want = [...model.keys()].filter((k) => k >= o.lo && k <= o.hi).sort((a, b) => (o.reverse ? b - a : a - b))
              if (got.length !== want.length || got.some(([k, v], i) => k !== want[i] || !same(v, model.get(want[i]!)))) {
                throw new Error(`range ${o.lo}..${o.hi}`)
              }
              break
            }
            case 'flush':
              await db.kv.flush()
              break
            case 'compact':
              await db.kv.compact()
              break
            case 'reopen':
              await db.close()
              db = await open(dir, options)
              break
          }
        }
        if ((await db.kv.count()) !== model.size) throw new Error('count')
      } finally {
        await db.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }),
    { numRuns: runs },
  ))
})
