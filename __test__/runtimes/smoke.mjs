// Runtime smoke test: the public API end to end, in plain ESM with no test framework, so
// the same file runs under Node, Bun and Deno (`scripts/runtime-smoke.sh` runs it under
// each; `__test__/runtimes.test.ts` runs it under the Node running the suite).
//
//   node __test__/runtimes/smoke.mjs
//   bun  __test__/runtimes/smoke.mjs
//   deno run --allow-ffi --allow-read --allow-write --allow-env __test__/runtimes/smoke.mjs
//
// It loads the package by its own name (`kyrodb`, a package self-reference through
// package.json "exports", i.e. the built dist/index.js), or the module given as the first
// argument. It exits non-zero on the first failed check and prints one JSON line on success.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import process from 'node:process'

import { Worker } from 'node:worker_threads'

const spec = process.argv[2] ?? 'kyrodb'
const kyrodb = await import(spec)
const { open, engineInfo, KyroDBError, InvalidArgumentError, DimensionMismatchError, InvalidFilterError } = kyrodb
for (const [name, v] of Object.entries({ open, engineInfo, KyroDBError, InvalidArgumentError })) {
  assert.equal(typeof v, 'function', `${name} is not exported by ${spec}`)
}

const runtime =
  typeof globalThis.Bun !== 'undefined'
    ? `bun ${globalThis.Bun.version}`
    : typeof globalThis.Deno !== 'undefined'
      ? `deno ${globalThis.Deno.version.deno}`
      : `node ${process.versions.node}`
const checks = []
async function check(name, fn) {
  try {
    await fn()
    checks.push(name)
  } catch (err) {
    console.error(`FAIL [${runtime}] ${name}`)
    console.error(err)
    process.exit(1)
  }
}

/** Await `p` (or call `p`) and return the KyroDBError it fails with. */
async function failure(p) {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (err) {
    return err
  }
  assert.fail('expected a KyroDBError, nothing was thrown')
}
async function expectCode(code, p, cls) {
  const err = await failure(p)
  assert.ok(err instanceof KyroDBError, `expected a KyroDBError, got ${err}`)
  assert.equal(err.code, code, `error code of: ${err.message}`)
  if (cls) assert.ok(err instanceof cls, `expected ${cls.name}, got ${err.constructor.name}`)
  assert.equal(typeof err.message, 'string')
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-runtime-smoke-'))
const dbDir = path.join(dir, 'db')
try {
  let db
  await check('engineInfo', () => {
    const info = engineInfo()
    assert.ok(['avx512', 'avx2', 'neon', 'scalar'].includes(info.simd), `simd ${info.simd}`)
  })
  await check('open (on disk)', async () => {
    db = await open(dbDir)
    assert.equal(db.path, dbDir)
    assert.equal(db.closed, false)
    assert.ok(fs.statSync(dbDir).isDirectory())
  })

  // ------------------------------------------------------------- collections
  let docs
  let exact
  await check('createCollection', async () => {
    docs = await db.createCollection('docs', { dimension: 3, metric: 'cosine' })
    exact = await db.createCollection('exact', { dimension: 2, metric: 'l2', index: false })
    assert.deepEqual(
      db.listCollections().map((c) => c.name).sort(),
      ['docs', 'exact'],
    )
  })
  await check('upsert (numbers, bigint, Float32Array, metadata)', async () => {
    const n = await docs.upsert(
      [1, 2, 3, 2n ** 60n],
      [new Float32Array([1, 0, 0]), [0, 1, 0], [0, 0, 1], [1, 1, 0]],
      [{ tag: 'a', year: 2020 }, { tag: 'b', year: 2021 }, { tag: 'a', year: 2024 }, { tag: 'big', year: 2022 }],
    )
    assert.equal(n, 4)
    assert.equal(docs.count(), 4)
    const rows = 200
    const ids = Array.from({ length: rows }, (_, i) => i)
    const vecs = ids.map((i) => [i, rows - i])
    assert.equal(await exact.upsert(ids, vecs, ids.map((i) => ({ even: i % 2 === 0 }))), rows)
  })
  await check('search', async () => {
    const hits = await docs.search([0.9, 0.1, 0], { k: 3 })
    assert.deepEqual(hits.map((h) => h.id), [1, 2n ** 60n, 2])
    assert.deepEqual(hits.map((h) => h.metadata.tag), ['a', 'big', 'b'])
    const qn = Math.hypot(0.9, 0.1)
    assert.ok(Math.abs(hits[0].distance - (1 - 0.9 / qn)) < 1e-5, `distance ${hits[0].distance}`)
    assert.deepEqual(docs.searchSync([0.9, 0.1, 0], { k: 3 }), hits)
    assert.deepEqual((await docs.searchBatch([[0.9, 0.1, 0]], { k: 3 }))[0], hits)
    const withVec = await docs.search([0, 0, 1], { k: 1, withVectors: true, withMetadata: false })
    assert.equal(withVec[0].id, 3)
    assert.equal(withVec[0].metadata, undefined)
    assert.ok(withVec[0].vector instanceof Float32Array)
    assert.deepEqual(Array.from(withVec[0].vector), [0, 0, 1])
  })
  await check('search with a filter (object and string form)', async () => {
    const byObj = await docs.search([1, 0, 0], { k: 10, filter: { tag: 'a', year: { $gte: 2021 } } })
    assert.deepEqual(byObj.map((h) => h.id), [3])
    const byText = await docs.search([1, 0, 0], { k: 10, filter: "tag == 'a' AND year >= 2021" })
    assert.deepEqual(byText, byObj)
    const inList = await docs.search([1, 0, 0], { k: 10, filter: { tag: { $in: ['a', 'b'] } } })
    assert.deepEqual(inList.map((h) => h.id).sort(), [1, 2, 3])
    const even = await exact.search([0, 200], { k: 5, filter: { even: true } })
    assert.deepEqual(even.map((h) => h.id), [0, 2, 4, 6, 8])
    assert.deepEqual(even.map((h) => h.distance), [0, 8, 32, 72, 128])
  })
  await check('get', async () => {
    const got = await docs.get(2)
    assert.ok(got)
    assert.deepEqual(Array.from(got.vector), [0, 1, 0])
    assert.deepEqual(got.metadata, { tag: 'b', year: 2021 })
    const big = await docs.get(2n ** 60n)
    assert.deepEqual(big.metadata, { tag: 'big', year: 2022 })
    assert.equal(await docs.get(99), null)
  })
  await check('delete', async () => {
    assert.equal(await docs.delete([2, 99]), 1)
    assert.equal(await docs.get(2), null)
    assert.equal(docs.count(), 3)
    const hits = await docs.search([0, 1, 0], { k: 10 })
    assert.ok(!hits.some((h) => h.id === 2), 'a deleted id came back from search')
  })

  // ------------------------------------------------------------- key-value store
  await check('kv put/get/has/delete', async () => {
    await db.kv.put(1, 'one')
    await db.kv.put(2, Buffer.from([0, 1, 2, 255]))
    await db.kv.put(2n ** 63n, new Uint8Array([7]))
    assert.equal(await db.kv.putBatch([[10, 'ten'], [11, 'eleven'], [12, 'twelve']]), 3)
    assert.equal(await db.kv.get(1), 'one')
    assert.equal(db.kv.getSync(1), 'one')
    const bin = await db.kv.get(2)
    assert.ok(Buffer.isBuffer(bin) || bin instanceof Uint8Array, `binary value came back as ${typeof bin}`)
    assert.deepEqual(Array.from(bin), [0, 1, 2, 255])
    assert.deepEqual(Array.from(await db.kv.get(2n ** 63n)), [7])
    assert.equal(await db.kv.get(3), undefined)
    assert.equal(await db.kv.has(10), true)
    assert.deepEqual(await db.kv.getMany([10, 3, 12]), ['ten', undefined, 'twelve'])
    assert.equal(await db.kv.delete(11), true)
    assert.equal(await db.kv.delete(11), false)
    assert.equal(await db.kv.count(), 5)
  })
  await check('kv range', async () => {
    const all = []
    for await (const [k, v] of db.kv.range({ gte: 1, lt: 100 })) all.push([k, typeof v === 'string' ? v : Array.from(v)])
    assert.deepEqual(all, [[1, 'one'], [2, [0, 1, 2, 255]], [10, 'ten'], [12, 'twelve']])
    const rev = []
    for await (const [k] of db.kv.range({ reverse: true, limit: 2 })) rev.push(k)
    assert.deepEqual(rev, [2n ** 63n, 12])
  })

  // ------------------------------------------------------------- errors
  await check('error codes on bad input', async () => {
    await expectCode('INVALID_ARGUMENT', docs.upsert([-1], [[1, 0, 0]]), InvalidArgumentError)
    await expectCode('INVALID_ARGUMENT', docs.upsert([1], [[NaN, 0, 0]]), InvalidArgumentError)
    await expectCode('INVALID_ARGUMENT', docs.search([1, 0, 0], { k: 0 }), InvalidArgumentError)
    await expectCode('INVALID_ARGUMENT', db.kv.put(1.5, 'x'), InvalidArgumentError)
    await expectCode('INVALID_ARGUMENT', () => open(''), InvalidArgumentError)
    await expectCode('DIMENSION_MISMATCH', docs.upsert([5], [[1, 0]]), DimensionMismatchError)
    await expectCode('DIMENSION_MISMATCH', docs.search([1, 0], { k: 1 }), DimensionMismatchError)
    await expectCode('INVALID_FILTER', docs.search([1, 0, 0], { k: 1, filter: 'tag ==' }), InvalidFilterError)
    await expectCode('NOT_FOUND', () => db.collection('nope'))
    await expectCode('ALREADY_EXISTS', db.createCollection('docs', { dimension: 3 }))
    await expectCode('LOCKED', () => open(dbDir))
    // A failed call changed nothing.
    assert.equal(docs.count(), 3)
  })

  // ------------------------------------------------------------- close, reopen
  await check('close', async () => {
    await db.close()
    assert.equal(db.closed, true)
    await db.close() // idempotent
    await expectCode('CLOSED', docs.search([1, 0, 0], { k: 1 }))
    await expectCode('CLOSED', db.kv.get(1))
  })
  await check('reopen: every acknowledged write is there', async () => {
    const again = await open(dbDir)
    try {
      const d = again.collection('docs')
      assert.equal(d.count(), 3)
      assert.equal(await d.get(2), null)
      assert.deepEqual((await d.get(3)).metadata, { tag: 'a', year: 2024 })
      assert.deepEqual((await d.search([0.9, 0.1, 0], { k: 3 })).map((h) => h.id), [1, 2n ** 60n, 3])
      const e = again.collection('exact')
      assert.equal(e.count(), 200)
      assert.deepEqual((await e.search([0, 200], { k: 2, filter: { even: false } })).map((h) => h.id), [1, 3])
      assert.equal(await again.kv.get(1), 'one')
      assert.equal(await again.kv.get(11), undefined)
      assert.equal(await again.kv.count(), 5)
      await again.verify()
    } finally {
      await again.close()
    }
  })
  await check('background work: buildIndex, flush, compact, snapshot with onProgress', async () => {
    const dim = 16
    const rows = 3000
    let seed = 42 // mulberry32
    const rand = () => {
      seed = (seed + 0x6d2b79f5) >>> 0
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32 - 0.5
    }
    const vectors = Array.from({ length: rows }, () => Float32Array.from({ length: dim }, rand))
    const ids = vectors.map((_, i) => i)
    const db2 = await open(path.join(dir, 'db2'), { durability: 'normal' })
    const g = await db2.createCollection('g', { dimension: dim, metric: 'l2', index: { autoBuildRows: 1000 } })
    assert.equal(await g.upsert(ids, vectors, ids.map((i) => ({ i }))), rows)
    const progress = []
    await g.buildIndex({ onProgress: (done, total) => progress.push([done, total]) })
    assert.ok(progress.length > 0, 'no progress reports from buildIndex')
    assert.equal(g.stats().hotRows, 0, JSON.stringify(g.stats()))
    for (const q of [0, 1234, 2999]) {
      const hits = await g.search(vectors[q], { k: 3, ef: 200 })
      assert.equal(hits[0].id, q)
      assert.equal(hits[0].distance, 0)
      assert.deepEqual(hits[0].metadata, { i: q })
    }
    await g.delete(ids.slice(0, 100))
    const reports = { flush: 0, compact: 0, snapshot: 0 }
    await db2.flush({ onProgress: () => reports.flush++ })
    await db2.compact({ onProgress: () => reports.compact++ })
    const snap = path.join(dir, 'snap')
    await db2.snapshot(snap, { onProgress: () => reports.snapshot++ })
    // Reports come through a thread-safe function from a native thread (flush and snapshot
    // may have nothing left to report after the compaction).
    assert.ok(reports.compact > 0, JSON.stringify(reports))
    assert.equal(g.count(), rows - 100)
    await db2.close()
    const copy = await open(snap)
    try {
      const cg = copy.collection('g')
      assert.equal(cg.count(), rows - 100)
      assert.equal((await cg.search(vectors[500], { k: 1 }))[0].id, 500)
      assert.equal(await cg.get(5), null)
    } finally {
      // What `await using` calls (the syntax itself is not in Node 20).
      await copy[Symbol.asyncDispose]()
    }
    assert.equal(copy.closed, true)
  })
  await check('worker threads (the addon in a second JS environment)', async () => {
    const hits = await new Promise((resolve, reject) => {
      const w = new Worker(new URL('./worker.mjs', import.meta.url), { workerData: { spec, id: 9 } })
      w.once('message', resolve)
      w.once('error', reject)
      w.once('exit', (code) => reject(new Error(`worker exited with ${code} before answering`)))
    })
    assert.deepEqual(hits, [{ id: 9, distance: 0 }])
  })
  await check('in-memory database', async () => {
    const mem = await open()
    assert.equal(mem.path, null)
    const c = await mem.createCollection('m', { dimension: 2, metric: 'ip' })
    await c.upsert([7], [[1, 0]])
    assert.deepEqual(await c.search([1, 0], { k: 1 }), [{ id: 7, distance: 0 }])
    await mem.close()
  })
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}

console.log(JSON.stringify({ runtime, simd: engineInfo().simd, ok: checks.length, checks }))
