/**
 * Deeply nested input from an untrusted caller — filters (string and object form), metadata,
 * request bodies — is a typed error, never a stack overflow. A recursive reader that runs
 * off its thread's stack kills the whole process (SIGSEGV: no exception to catch), so one
 * request could take a server down. Depths up to 200,000, through the API and over HTTP.
 */
import test from 'ava'
import { open, InvalidArgumentError, InvalidFilterError } from '../src-ts/index.js'
import { request, startServer } from './helpers/server.js'

const DEPTHS = [129, 1_000, 20_000, 200_000]

const parens = (d: number) => `${'('.repeat(d)}tag == 'a'${')'.repeat(d)}`
const nots = (d: number) => `${'NOT '.repeat(d)}tag == 'a'`
/** `{"$not": {"$not": ... {"tag": "a"} }}` as an object, built without recursion. */
function notObject(d: number): Record<string, unknown> {
  let f: Record<string, unknown> = { tag: 'a' }
  for (let i = 0; i < d; i++) f = { $not: f }
  return f
}
const notJson = (d: number) => `${'{"$not":'.repeat(d)}{"tag":"a"}${'}'.repeat(d)}`
const nestedMetaJson = (d: number) => `{"x":${'['.repeat(d)}1${']'.repeat(d)}}`

test('deeply nested filters and metadata through the API are typed errors; the process lives on', async (t) => {
  const db = await open()
  const c = await db.createCollection('deep', { dimension: 2, metric: 'l2', index: false })
  await c.upsert([1, 2], [[0, 0], [1, 1]], [{ tag: 'a' }, { tag: 'b' }])
  for (const d of DEPTHS) {
    for (const filter of [parens(d), nots(d)]) {
      const e = await t.throwsAsync(c.search([0, 0], { k: 2, filter }), { instanceOf: InvalidFilterError }, `string filter, depth ${d}`)
      t.is(e?.code, 'INVALID_FILTER')
      t.throws(() => c.searchSync([0, 0], { k: 2, filter }), { instanceOf: InvalidFilterError }, `searchSync, depth ${d}`)
    }
    // The object form: refused while it is serialised or by the engine's JSON reader.
    const e = await t.throwsAsync(c.search([0, 0], { k: 2, filter: notObject(d) as never }), { instanceOf: InvalidFilterError })
    t.is(e?.code, 'INVALID_FILTER', `object filter, depth ${d}`)
    // Metadata nested as deep: an invalid-argument error, and nothing written.
    let meta: unknown = 1
    for (let i = 0; i < d; i++) meta = [meta]
    await t.throwsAsync(c.upsert([3], [[2, 2]], [{ x: meta } as never]), { instanceOf: InvalidArgumentError }, `metadata, depth ${d}`)
    t.is(c.count(), 2)
  }
  // Nesting within the limits still works and means what it says.
  const ok = await c.search([0, 0], { k: 2, filter: parens(100) })
  t.deepEqual(ok.map((r) => r.id), [1])
  const notNot = await c.search([0, 0], { k: 2, filter: nots(2) })
  t.deepEqual(notNot.map((r) => r.id), [1])
  await db.close()
})

test('deeply nested filters and bodies over HTTP get 4xx answers and the server stays up', async (t) => {
  const srv = await startServer()
  t.teardown(() => srv.stop())
  const base = srv.url
  t.is((await request(base, 'POST', '/v1/collections', { name: 'deep', dimension: 2, metric: 'l2', index: false })).status, 201)
  t.is((await request(base, 'POST', '/v1/collections/deep/points', { ids: [1, 2], vectors: [[0, 0], [1, 1]], metadata: [{ tag: 'a' }, { tag: 'b' }] })).status, 200)
  for (const d of DEPTHS) {
    for (const filter of [parens(d), nots(d)]) {
      const r = await request(base, 'POST', '/v1/collections/deep/search', { vector: [0, 0], k: 2, filter })
      t.true(r.status >= 400 && r.status < 500, `string filter depth ${d}: ${r.status} ${r.text.slice(0, 200)}`)
    }
    // Raw JSON text, so the client's own serialiser is not the one that gives up.
    for (const body of [
      `{"vector":[0,0],"k":2,"filter":${notJson(d)}}`,
      `{"ids":[3],"vectors":[[2,2]],"metadata":[${nestedMetaJson(d)}]}`,
    ]) {
      const path = body.includes('"filter"') ? '/v1/collections/deep/search' : '/v1/collections/deep/points'
      const r = await request(base, 'POST', path, body, { 'content-type': 'application/json' })
      t.true(r.status >= 400 && r.status < 500, `${path} depth ${d}: ${r.status} ${r.text.slice(0, 200)}`)
    }
  }
  // Still serving, nothing changed.
  const health = await request(base, 'GET', '/health')
  t.is(health.status, 200)
  const r = await request(base, 'POST', '/v1/collections/deep/search', { vector: [0, 0], k: 5, filter: "tag == 'a'" })
  t.is(r.status, 200)
  t.deepEqual(r.json.results.map((x: { id: unknown }) => Number(x.id)), [1])
  t.is(srv.child.exitCode, null)
  t.is(srv.child.signalCode, null)
})
