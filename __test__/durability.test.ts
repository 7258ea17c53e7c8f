/**
 * Durability through the binding: reopen round trips (fast-check model test interleaving
 * writes with close/reopen, flush and compact), the directory lock across processes,
 * open options, torn tails and damaged files as seen from JavaScript.
 */
import test from 'ava'
import fc from 'fast-check'
import { deepStrictEqual } from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LockedError, open, type Collection, type Database, type Metadata } from '../src-ts/index.js'

const DIST = join(__dirname, '..', 'dist', 'index.js')

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-dur-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

type Model = Map<number, { vector: number[]; metadata: Metadata | undefined }>

async function contents(c: Collection, ids: number): Promise<Model> {
  const out: Model = new Map()
  for (let id = 0; id < ids; id++) {
    const v = await c.get(id)
    if (v) out.set(id, { vector: Array.from(v.vector), metadata: v.metadata })
  }
  return out
}

test('close and reopen returns every vector and its metadata', async (t) => {
  const dir = tempDir(t)
  let db = await open(dir)
  const c = await db.createCollection('docs', { dimension: 3, metric: 'l2' })
  await c.upsert([1, 2, 3], [[1, 0, 0], [0, 1, 0], [0, 0, 1]], [{ title: 'a' }, undefined, { tags: ['x', 'y'] }])
  await c.delete([2])
  await db.close()
  db = await open(dir)
  t.deepEqual(db.recoveryReport, [])
  const c2 = db.collection('docs')
  t.is(c2.count(), 2)
  t.deepEqual(await c2.get(1), { id: 1, vector: Float32Array.from([1, 0, 0]), metadata: { title: 'a' } })
  t.is(await c2.get(2), null)
  t.deepEqual((await c2.get(3))?.metadata, { tags: ['x', 'y'] })
  const hits = await c2.search([0, 0, 0.9], { k: 1 })
  t.is(hits[0].id, 3)
  await db.close()
})

test('property: writes interleaved with reopen, flush and compact always read back as the model', async (t) => {
  const ID_POOL = 30
  const row = fc.record({
    id: fc.integer({ min: 0, max: ID_POOL - 1 }),
    vector: fc.array(fc.integer({ min: -4, max: 4 }), { minLength: 4, maxLength: 4 }),
    tag: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
  })
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ type: fc.constant('upsert' as const), rows: fc.uniqueArray(row, { minLength: 1, maxLength: 12, selector: (r) => r.id }) }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant('delete' as const), ids: fc.array(fc.integer({ min: 0, max: ID_POOL - 1 }), { maxLength: 6 }) }) },
    { weight: 2, arbitrary: fc.record({ type: fc.constant('reopen' as const) }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('flush' as const) }) },
    { weight: 1, arbitrary: fc.record({ type: fc.constant('compact' as const) }) },
  )
  const kinds = new Set<string>()
  let rowsCompared = 0
  const property = fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      for (const o of ops) kinds.add(o.type)
      const dir = mkdtempSync(join(tmpdir(), 'kyrodb-prop-'))
      let db: Database = await open(dir, { durability: 'none' })
      let c = await db.createCollection('v', { dimension: 4, metric: 'l2', index: { m: 4, efConstruction: 16, autoBuildRows: 8 } })
      const model: Model = new Map()
      try {
        for (const o of ops) {
          if (o.type === 'upsert') {
            await c.upsert(
              o.rows.map((r) => r.id),
              o.rows.map((r) => r.vector),
              o.rows.map((r) => (r.tag === undefined ? undefined : { tag: r.tag })),
            )
            for (const r of o.rows) model.set(r.id, { vector: r.vector, metadata: r.tag === undefined ? undefined : { tag: r.tag } })
          } else if (o.type === 'delete') {
            const removed = await c.delete(o.ids)
            const expected = new Set(o.ids.filter((id) => model.has(id))).size
            if (removed !== expected) throw new Error(`delete removed ${removed}, model says ${expected}`)
            for (const id of o.ids) model.delete(id)
          } else if (o.type === 'reopen') {
            await db.close()
            db = await open(dir, { durability: 'none' })
            c = db.collection('v')
          } else if (o.type === 'flush') {
            await db.flush()
          } else {
            await db.compact()
          }
        }
        await db.close()
        db = await open(dir)
        c = db.collection('v')
        const got = await contents(c, ID_POOL)
        deepStrictEqual(got, model)
        if (c.count() !== model.size) throw new Error('count differs')
        rowsCompared += model.size
      } finally {
        await db.close()
        rmSync(dir, { recursive: true, force: true })
      }
    }),
    {
      numRuns: Number(process.env.KYRODB_PROP_RUNS ?? 40),
      // Every kind of operation, whatever the random runs draw: rows written, some deleted,
      // flushed to a segment, reopened from disk, compacted, then written again.
      examples: [
        [
          [
            { type: 'upsert', rows: [{ id: 1, vector: [1, 2, 3, 4], tag: 'a' }, { id: 2, vector: [0, 0, 0, 1], tag: undefined }, { id: 3, vector: [-4, 4, -4, 4], tag: 'b' }] },
            { type: 'delete', ids: [2, 9] },
            { type: 'flush' },
            { type: 'reopen' },
            { type: 'upsert', rows: [{ id: 3, vector: [3, 3, 3, 3], tag: 'c' }, { id: 4, vector: [4, 0, 0, 0], tag: undefined }] },
            { type: 'compact' },
            { type: 'delete', ids: [1] },
            { type: 'reopen' },
          ],
        ],
      ],
    },
  )
  // The property's assertion: every run (the example and the random ones) reads back as
  // its model after a reopen; fc.assert rejects with the shrunk counterexample otherwise.
  await t.notThrowsAsync(property)
  // And it was not vacuous: every kind of operation ran, and rows were compared.
  t.deepEqual([...kinds].sort(), ['compact', 'delete', 'flush', 'reopen', 'upsert'])
  t.true(rowsCompared > 0, 'no run had rows to compare')
})

test('a second open of the same directory fails fast with LOCKED, in this process and another', async (t) => {
  const dir = tempDir(t)
  const db = await open(dir)
  const c = await db.createCollection('v', { dimension: 2, metric: 'l2' })
  // The second open rejects while the first still holds the lock (it does not wait for
  // it: the holder only closes below, after this settles), with a typed error.
  const err = await t.throwsAsync(open(dir), { instanceOf: LockedError })
  t.is(err.code, 'LOCKED')
  // The failed attempt neither released nor disturbed the holder's lock or data.
  t.is(await c.upsert([1], [[1, 2]]), 1)
  const child = spawnSync(
    process.execPath,
    ['-e', `require(${JSON.stringify(DIST)}).open(${JSON.stringify(dir)}).then(() => console.log('opened'), (e) => console.log(e.code))`],
    { encoding: 'utf8' },
  )
  t.is(child.stdout.trim(), 'LOCKED')
  await db.close()
  const again = await open(dir)
  t.deepEqual(again.recoveryReport, [])
  t.deepEqual((await again.collection('v').get(1))?.vector, Float32Array.from([1, 2]))
  await again.close()
})

test('the lock of a killed process is free at once', async (t) => {
  const dir = tempDir(t)
  const holder = spawn(
    process.execPath,
    ['-e', `require(${JSON.stringify(DIST)}).open(${JSON.stringify(dir)}).then(() => { console.log('open'); setInterval(() => {}, 1000) })`],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  await new Promise<void>((resolve) => holder.stdout.on('data', (d: Buffer) => d.toString().includes('open') && resolve()))
  t.is(((await t.throwsAsync(open(dir))) as { code?: string }).code, 'LOCKED')
  holder.kill('SIGKILL')
  await new Promise((resolve) => holder.on('exit', resolve))
  const db = await open(dir)
  await db.close()
})

test('open options are checked', async (t) => {
  const dir = tempDir(t)
  for (const bad of [{ durability: 'always' }, { syncIntervalMs: 0 }, { syncIntervalMs: 1.5 }, { salvage: 'yes' }, null]) {
    const err = await t.throwsAsync(open(dir, bad as never))
    t.is((err as { code?: string }).code, 'INVALID_ARGUMENT', JSON.stringify(bad))
  }
  for (const durability of ['full', 'normal', 'none'] as const) {
    const db = await open(dir, { durability, syncIntervalMs: 10 })
    const c = db.listCollections().length ? db.collection('v') : await db.createCollection('v', { dimension: 2 })
    await c.upsert([['full', 'normal', 'none'].indexOf(durability)], [[1, 2]])
    await db.close()
  }
  const db = await open(dir)
  t.is(db.collection('v').count(), 3)
  await db.close()
})

test('a torn tail is cut and reported; damage elsewhere is CORRUPTION naming the file; salvage opens it', async (t) => {
  const dir = tempDir(t)
  let db = await open(dir)
  const c = await db.createCollection('v', { dimension: 2, metric: 'l2' })
  for (let i = 0; i < 20; i++) await c.upsert([i], [[i, i]])
  await db.close()
  const wal = join(dir, 'wal', readdirSync(join(dir, 'wal')).sort().at(-1)!)
  appendFileSync(wal, Buffer.from([0x30, 0, 0, 0, 1, 0, 0]))
  db = await open(dir)
  t.is(db.recoveryReport.length, 1)
  t.is(db.collection('v').count(), 20)
  await db.close()

  const bytes = readFileSync(wal)
  bytes[200] ^= 0x40
  writeFileSync(wal, bytes)
  const err = (await t.throwsAsync(open(dir))) as { code?: string; message: string }
  t.is(err.code, 'CORRUPTION')
  t.regex(err.message, /\.wal: .* at offset \d+/)
  db = await open(dir, { salvage: true })
  t.true(db.recoveryReport.some((r) => r.includes('salvage')))
  const kept = db.collection('v').count()
  t.true(kept > 0 && kept < 20)
  await db.close()

  writeFileSync(join(dir, 'MANIFEST'), 'garbage')
  t.is(((await t.throwsAsync(open(dir))) as { code?: string }).code, 'CORRUPTION')
})

test('verify resolves on intact data and throws CLOSED after close; damaged vectors of a small segment fail the open', async (t) => {
  const dir = tempDir(t)
  let db = await open(dir)
  const c = await db.createCollection('v', { dimension: 4, metric: 'l2' })
  await c.upsert([1, 2, 3], [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]])
  await db.flush()
  await db.verify()
  await db.close()
  t.is(((await t.throwsAsync(db.verify())) as { code?: string }).code, 'CLOSED')

  // Small segments are checked whole at open: damaged vectors fail the open itself.
  const seg = join(dir, 'seg', readdirSync(join(dir, 'seg')).find((f) => f.endsWith('.kseg'))!)
  const bytes = readFileSync(seg)
  const vectorsAt = Number(bytes.readBigUInt64LE(48))
  bytes[vectorsAt + 5] ^= 0x01
  writeFileSync(seg, bytes)
  const err = (await t.throwsAsync(open(dir))) as { code?: string; message: string }
  t.is(err.code, 'CORRUPTION')
  t.regex(err.message, /\.kseg: section 0 checksum mismatch at offset \d+/)
  db = await open(dir, { salvage: true })
  t.is(db.collection('v').count(), 0)
  await db.verify()
  await db.close()
})

test('flush empties the WAL, compact purges deletions, snapshot is an openable copy', async (t) => {
  const dir = tempDir(t)
  const db = await open(dir)
  const c = await db.createCollection('v', { dimension: 2, metric: 'l2' })
  await c.upsert([1, 2, 3, 4], [[1, 1], [2, 2], [3, 3], [4, 4]])
  const seen: number[] = []
  await db.flush({ onProgress: (done) => seen.push(done) })
  t.is(c.stats().hotRows, 0)
  await c.delete([1, 2])
  await db.compact()
  t.deepEqual(c.stats().segments.map((s) => s.rows), [2])
  const copy = join(dir, '..', `${dir.split('/').at(-1)}-copy`)
  t.teardown(() => rmSync(copy, { recursive: true, force: true }))
  await db.snapshot(copy)
  await c.upsert([9], [[9, 9]])
  await db.close()
  const snap = await open(copy)
  t.is(snap.collection('v').count(), 2)
  t.deepEqual((await snap.collection('v').search([4, 4], { k: 5 })).map((h) => h.id), [4, 3])
  await snap.close()
  const err = await t.throwsAsync(open(dir).then((d) => d.snapshot(copy).finally(() => d.close())))
  t.is((err as { code?: string }).code, 'INVALID_ARGUMENT')
})
