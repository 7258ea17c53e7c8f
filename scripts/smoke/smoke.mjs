// Smoke test of an installed kyrodb package: run from a project that has `kyrodb` (and its
// platform package) in node_modules. Exercises the native binding end to end: open a
// directory, create a collection, upsert, search (plain and filtered), key-value put/get,
// close, reopen and read back. Exits non-zero on any failure.
//
//   node smoke.mjs [data-dir]        (scripts/pack-smoke.sh runs it, also under qemu)
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open, engineInfo } from 'kyrodb'

const require = createRequire(join(process.cwd(), 'noop.js'))
const info = engineInfo()
// Which platform package the loader picked (the root package ships no .node of its own).
const loaded = Object.keys(require.cache).find((f) => f.endsWith('.node')) ?? '(not found in require.cache)'
console.log(`smoke: node ${process.version} ${process.platform}-${process.arch}, engine ${info.nativeVersion}, simd ${info.simd}`)
console.log(`smoke: native binding ${loaded}`)

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'kyrodb-smoke-'))
try {
  let db = await open(dir)
  const docs = await db.createCollection('docs', { dimension: 4, metric: 'l2' })
  await docs.upsert(
    [1, 2, 3],
    [new Float32Array([1, 0, 0, 0]), new Float32Array([0, 1, 0, 0]), new Float32Array([0, 0.9, 0.1, 0])],
    [{ title: 'one', tag: 'a' }, { title: 'two', tag: 'b' }, { title: 'three', tag: 'a' }],
  )
  assert.equal(await docs.count(), 3)

  const hits = await docs.search(new Float32Array([0, 1, 0, 0]), { k: 2 })
  assert.deepEqual(hits.map((h) => h.id), [2, 3])
  assert.equal(hits[0].distance, 0)
  assert.equal(hits[0].metadata.title, 'two')

  const filtered = await docs.search(new Float32Array([0, 1, 0, 0]), { k: 2, filter: { tag: 'a' } })
  assert.deepEqual(filtered.map((h) => h.id), [3, 1])

  await db.kv.put(42, 'hello')
  await db.kv.put(7n, Buffer.from([1, 2, 3]))
  assert.equal(await db.kv.get(42), 'hello')
  assert.deepEqual(await db.kv.get(7n), Buffer.from([1, 2, 3]))
  assert.equal(await db.kv.get(43), undefined)
  await db.close()

  // Durable: a reopened directory has what was acknowledged.
  db = await open(dir)
  const again = await db.collection('docs').search(new Float32Array([1, 0, 0, 0]), { k: 1 })
  assert.equal(again[0].id, 1)
  assert.equal(await db.kv.get(42), 'hello')
  await db.close()
  console.log('smoke: open, createCollection, upsert, search, filter, kv put/get, close, reopen: ok')
} finally {
  if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true })
}
