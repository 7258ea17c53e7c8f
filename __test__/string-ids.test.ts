/**
 * String-id collections (`idType: 'string'`): ids given and returned as strings by every
 * method, kept across reopen, usable over HTTP (JSON bodies and URL paths), and refused
 * with `INVALID_ARGUMENT` when empty, too long, or of the other collection's type — with
 * nothing changed. A fast-check model run compares random batches with a Map.
 */
import test from 'ava'
import fc from 'fast-check'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open, KyroDBError, type Collection } from '../src-ts/index.js'
import { request, startServer } from './helpers/server.js'

const DIM = 4

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-strids-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const vec = (i: number) => [Math.cos(i), Math.sin(i), i % 7, (i * 13) % 5]

async function invalid(t: { is: (a: unknown, b: unknown, m?: string) => void }, p: Promise<unknown> | (() => unknown), what: string) {
  try {
    await (typeof p === 'function' ? p() : p)
  } catch (e) {
    t.is((e as KyroDBError).code, 'INVALID_ARGUMENT', `${what}: ${(e as Error).message}`)
    return (e as Error).message
  }
  t.is('resolved', 'INVALID_ARGUMENT', `${what} was accepted`)
  return ''
}

test('string ids through upsert, search, get, delete, reopen and listCollections', async (t) => {
  const dir = tempDir(t)
  let db = await open(dir)
  const c = await db.createCollection('docs', { dimension: DIM, metric: 'l2', index: false, idType: 'string' })
  t.is(c.idType, 'string')
  const ids = ['a', 'doc/7#section 2', 'Ωμέγα', '🙂🙂', 'x'.repeat(512), '0', '18446744073709551616']
  t.is(await c.upsert(ids, ids.map((_, i) => vec(i)), ids.map((id) => ({ id }))), ids.length)
  const hits = await c.search(vec(2), { k: ids.length })
  t.deepEqual(hits.map((h) => h.id).sort(), [...ids].sort())
  t.is(hits[0]!.id, 'Ωμέγα')
  for (const h of hits) t.deepEqual(h.metadata, { id: h.id })
  const got = await c.get('doc/7#section 2')
  t.is(got?.id, 'doc/7#section 2')
  t.deepEqual(Array.from(got!.vector), vec(1).map(Math.fround))
  t.is(await c.get('b'), null)
  t.is(await c.delete(['a', 'a-missing', '0']), 2)
  await db.close()

  db = await open(dir)
  const again = db.collection('docs')
  t.is(again.idType, 'string')
  t.is(again.count(), ids.length - 2)
  t.is((await again.get('🙂🙂'))?.id, '🙂🙂')
  t.is(await again.get('a'), null)
  t.deepEqual(
    db.listCollections().map((x) => [x.name, x.idType]),
    [['docs', 'string']],
  )
  const u = await db.createCollection('nums', { dimension: DIM, metric: 'l2' })
  t.is(u.idType, 'u64')
  await db.close()
})

test('bad string ids and ids of the wrong type are INVALID_ARGUMENT and change nothing', async (t) => {
  const db = await open(null)
  const s = await db.createCollection('s', { dimension: DIM, metric: 'l2', idType: 'string' })
  const u = await db.createCollection('u', { dimension: DIM, metric: 'l2' })
  await s.upsert(['keep'], [vec(0)])
  await u.upsert([1], [vec(0)])
  t.regex(await invalid(t, s.upsert(['ok', ''], [vec(1), vec(2)]), 'empty id'), /empty/)
  // 171 × '€' (3 bytes each) = 513 bytes; 170 = 510 is fine.
  t.regex(await invalid(t, s.upsert(['€'.repeat(171)], [vec(1)]), 'over 512 bytes'), /512 bytes/)
  await s.upsert(['€'.repeat(170)], [vec(1)])
  t.regex(await invalid(t, s.upsert([7 as unknown as string], [vec(1)]), 'a number'), /must be a string/)
  t.regex(await invalid(t, s.upsert(['d', 'd'], [vec(1), vec(2)]), 'twice'), /more than once/)
  await invalid(t, s.get(7 as unknown as string), 'numeric get')
  await invalid(t, u.upsert(['x' as unknown as number], [vec(1)]), 'a string in a u64 collection')
  await invalid(t, u.get('1' as unknown as number), 'string get in a u64 collection')
  await invalid(t, () => db.createCollection('bad', { dimension: DIM, idType: 'uuid' as 'string' }), 'unknown idType')
  t.is(s.count(), 2)
  t.is(u.count(), 1)
  t.deepEqual((await s.search(vec(0), { k: 5 })).map((h) => h.id).sort(), ['keep', '€'.repeat(170)].sort())
  await db.close()
})

test('string ids over HTTP: JSON bodies, URL paths, and refusals', async (t) => {
  const server = await startServer()
  t.teardown(async () => {
    await server.stop()
    rmSync(server.dataDir, { recursive: true, force: true })
  })
  const call = (method: string, path: string, body?: unknown) => request(server.url, method, path, body)
  let r = await call('POST', '/v1/collections', { name: 'docs', dimension: DIM, metric: 'l2', idType: 'string' })
  t.is(r.status, 201, r.text)
  t.is(r.json.idType, 'string')
  const ids = ['a b', 'doc/1', 'é?&#', '42']
  r = await call('POST', '/v1/collections/docs/points', { ids, vectors: ids.map((_, i) => vec(i)), metadata: ids.map((id) => ({ id })) })
  t.is(r.status, 200, r.text)
  r = await call('POST', '/v1/collections/docs/search', { vector: vec(2), k: 4 })
  t.is(r.status, 200, r.text)
  t.is(r.json.results[0].id, 'é?&#')
  t.deepEqual(r.json.results.map((h: { id: string }) => h.id).sort(), [...ids].sort())
  r = await call('GET', `/v1/collections/docs/points/${encodeURIComponent('doc/1')}`)
  t.is(r.status, 200, r.text)
  t.is(r.json.id, 'doc/1')
  r = await call('GET', `/v1/collections/docs/points/${encodeURIComponent('missing')}`)
  t.is(r.status, 404)
  r = await call('POST', '/v1/collections/docs/points', { ids: [5], vectors: [vec(0)] })
  t.is(r.status, 400, r.text)
  t.is(r.json.error.code, 'INVALID_ARGUMENT')
  r = await call('DELETE', `/v1/collections/docs/points/${encodeURIComponent('a b')}`)
  t.is(r.json.deleted, 1)
  r = await call('POST', '/v1/collections/docs/points/delete', { ids: ['42', 'nope'] })
  t.is(r.json.deleted, 1)
  r = await call('GET', '/v1/collections/docs')
  t.is(r.json.count, 2)
  t.is(r.json.idType, 'string')
})

test('model: random string-id batches agree with a Map', async (t) => {
  const db = await open(null)
  let n = 0
  const idArb = fc.oneof(fc.constantFrom('a', 'b', 'é', 'doc-1', 'doc-10', '🙂'), fc.string({ minLength: 1, maxLength: 6 }))
  const op = fc.oneof(
    fc.record({ kind: fc.constant('upsert' as const), ids: fc.uniqueArray(idArb, { minLength: 1, maxLength: 6 }), seed: fc.integer({ min: 0, max: 1000 }) }),
    fc.record({ kind: fc.constant('delete' as const), ids: fc.array(idArb, { maxLength: 6 }) }),
  )
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      const c: Collection = await db.createCollection(`m${n++}`, { dimension: DIM, metric: 'l2', index: false, idType: 'string' })
      const model = new Map<string, number[]>()
      for (const o of ops) {
        if (o.kind === 'upsert') {
          const vs = o.ids.map((_, i) => vec(o.seed + i))
          await c.upsert(o.ids, vs)
          o.ids.forEach((id, i) => model.set(id, vs[i]!.map(Math.fround)))
        } else {
          const present = new Set(o.ids.filter((id) => model.has(id)))
          t.is(await c.delete(o.ids), present.size)
          for (const id of present) model.delete(id)
        }
      }
      t.is(c.count(), model.size)
      for (const [id, v] of model) t.deepEqual(Array.from((await c.get(id))!.vector), v)
      const all = await c.search([0, 0, 0, 0], { k: Math.max(1, model.size) })
      t.deepEqual(all.map((h) => h.id).sort(), [...model.keys()].sort())
      await db.dropCollection(c.name)
    }),
    { numRuns: 60 },
  )
  await db.close()
})

test('HTTP: points/get returns many points in order (null when absent); integers JSON would round are refused anywhere in a body', async (t) => {
  const server = await startServer()
  t.teardown(async () => {
    await server.stop()
    rmSync(server.dataDir, { recursive: true, force: true })
  })
  const call = (method: string, path: string, body?: unknown) => request(server.url, method, path, body)
  await call('POST', '/v1/collections', { name: 'u', dimension: DIM, metric: 'l2' })
  await call('POST', '/v1/collections', { name: 's', dimension: DIM, metric: 'l2', idType: 'string' })
  await call('POST', '/v1/collections/u/points', { ids: [1, '18446744073709551615'], vectors: [vec(1), vec(2)], metadata: [{ a: 1 }, null] })
  await call('POST', '/v1/collections/s/points', { ids: ['x', 'y'], vectors: [vec(1), vec(2)] })
  let r = await call('POST', '/v1/collections/u/points/get', { ids: ['18446744073709551615', 7, 1] })
  t.is(r.status, 200, r.text)
  t.deepEqual(r.json.points, [
    { id: '18446744073709551615', vector: vec(2).map(Math.fround) },
    null,
    { id: 1, vector: vec(1).map(Math.fround), metadata: { a: 1 } },
  ])
  r = await call('POST', '/v1/collections/s/points/get', { ids: ['y', 'nope'], withVectors: false })
  t.deepEqual(r.json.points, [{ id: 'y' }, null])
  r = await call('POST', '/v1/collections/s/points/get', { ids: [3] })
  t.is(r.json?.error?.code, 'INVALID_ARGUMENT', r.text)

  // A metadata integer beyond 2^53 − 1, sent as a raw JSON number (as Python or Go would).
  const raw = `{"ids":[5],"vectors":[[1,2,3,4]],"metadata":[{"big":12345678901234567891,"s":"99999999999999999999"}]}`
  const res = await fetch(`${server.url}/v1/collections/u/points`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: raw })
  const body = (await res.json()) as { error: { code: string; message: string } }
  t.is(res.status, 400)
  t.is(body.error.code, 'INVALID_ARGUMENT')
  t.true(body.error.message.includes(`12345678901234567891 at byte ${raw.indexOf('12345678901234567891')}`), body.error.message)
  t.is((await call('POST', '/v1/collections/u/points/get', { ids: [5] })).json.points[0], null, 'nothing was written')
  // The same digits inside a string, and safe integers, are fine.
  const ok = `{"ids":[5],"vectors":[[1,2,3,4]],"metadata":[{"big":"12345678901234567891","n":9007199254740991,"neg":-9007199254740991,"f":1.2345678901234567891}]}`
  const okRes = await fetch(`${server.url}/v1/collections/u/points`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ok })
  t.is(okRes.status, 200, await okRes.text())
  t.deepEqual((await call('POST', '/v1/collections/u/points/get', { ids: [5], withVectors: false })).json.points[0].metadata, {
    big: '12345678901234567891',
    n: 9007199254740991,
    neg: -9007199254740991,
    f: 1.2345678901234567,
  })
})

test('entries() yields every stored row once, with its vector and metadata, for both id types', async (t) => {
  const db = await open(null)
  for (const idType of ['u64', 'string'] as const) {
    const c = await db.createCollection(`e-${idType}`, { dimension: DIM, metric: 'l2', index: false, idType })
    const ids = Array.from({ length: 2500 }, (_, i) => (idType === 'string' ? `doc-${i}-é` : i * 3))
    await c.upsert(ids, ids.map((_, i) => vec(i)), ids.map((_, i) => (i % 2 ? { i } : undefined)))
    await db.flush()
    await c.delete(ids.filter((_, i) => i % 7 === 0))
    const seen = new Map<unknown, { vector: number[]; metadata: unknown }>()
    for await (const r of c.entries({ pageSize: 300 })) {
      t.false(seen.has(r.id), `${String(r.id)} once`)
      seen.set(r.id, { vector: Array.from(r.vector), metadata: r.metadata })
    }
    t.is(seen.size, c.count())
    ids.forEach((id, i) => {
      if (i % 7 === 0) t.false(seen.has(id))
      else t.deepEqual(seen.get(id), { vector: vec(i).map(Math.fround), metadata: i % 2 ? { i } : undefined })
    })
  }
  await t.throwsAsync(async () => {
    for await (const _ of db.collection('e-u64').entries({ pageSize: 0 })) void _
  }, { code: 'INVALID_ARGUMENT' } as never)
  await db.close()
})
