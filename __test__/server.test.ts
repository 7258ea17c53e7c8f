// The real server, started through the CLI, called over HTTP with fetch.
import test from 'ava'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { repoRoot, startServer, type RunningServer } from './helpers/server.js'

let server: RunningServer

test.before(async () => {
  server = await startServer()
})

test.after.always(async () => {
  await server?.stop()
})

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const r = await fetch(server.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: r.status, json: await r.json() }
}

test.serial('health and build_info', async (t) => {
  t.deepEqual(await call('GET', '/health'), { status: 200, json: { status: 'ok' } })
  const info = await call('GET', '/build_info')
  t.is(info.status, 200)
  t.is(info.json.name, 'kyrodb')
  t.regex(info.json.version, /^\d+\.\d+\.\d+/)
  t.true(['avx512', 'avx2', 'neon', 'scalar'].includes(info.json.simd))
})

test.serial('create, upsert, search', async (t) => {
  t.is((await call('POST', '/v1/collections', { name: 'docs', dimension: 3, metric: 'l2' })).status, 201)
  const up = await call('POST', '/v1/collections/docs/upsert', {
    ids: [1, 2, '18446744073709551615'],
    vectors: [
      [0, 0, 1],
      [1, 0, 0],
      [0, 1, 0],
    ],
    metadata: [{ t: 'a' }, { t: 'b' }, null],
  })
  t.deepEqual(up, { status: 200, json: { upserted: 3 } })
  const found = await call('POST', '/v1/collections/docs/search', { vector: [0, 0.1, 1], k: 2 })
  t.is(found.status, 200)
  t.deepEqual(found.json.results[0], { id: 1, distance: found.json.results[0].distance, metadata: { t: 'a' } })
  t.true(Math.abs(found.json.results[0].distance - 0.01) < 1e-6)
  t.is(found.json.results[1].id, '18446744073709551615', 'ids above 2^53 travel as decimal strings')
  const list = await call('GET', '/v1/collections')
  t.deepEqual(list.json.collections, [{ name: 'docs', dimension: 3, metric: 'l2', count: 3 }])
})

test.serial('bad input gets 4xx with the engine code', async (t) => {
  const cases: [string, string, unknown, number, string][] = [
    ['POST', '/v1/collections', { name: '../x', dimension: 3 }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'docs', dimension: 3 }, 409, 'ALREADY_EXISTS'],
    ['POST', '/v1/collections', { name: 'z', dimension: 0 }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/docs/search', { vector: [1, 2], k: 2 }, 400, 'DIMENSION_MISMATCH'],
    ['POST', '/v1/collections/docs/search', { vector: [1, 2, 3], k: 0 }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/docs/search', { vector: [1, 2, 3], k: 10001 }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/nope/search', { vector: [1, 2, 3], k: 1 }, 404, 'NOT_FOUND'],
    ['POST', '/v1/collections/docs/upsert', { ids: [9, 9], vectors: [[1, 2, 3], [1, 2, 3]] }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/docs/upsert', { ids: [-1], vectors: [[1, 2, 3]] }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/docs/upsert', { ids: [9], vectors: [[1, 2]] }, 400, 'DIMENSION_MISMATCH'],
  ]
  for (const [method, path, body, status, code] of cases) {
    const r = await call(method, path, body)
    t.is(r.status, status, `${path} ${JSON.stringify(body)}`)
    t.is(r.json.error.code, code, `${path} ${JSON.stringify(body)}`)
  }
  const malformed = await fetch(server.url + '/v1/collections', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' })
  t.is(malformed.status, 400)
  t.is((await call('GET', '/v1/collections')).json.collections[0].count, 3, 'nothing changed')
})

test.serial('SIGTERM shuts down cleanly', async (t) => {
  t.is(await server.stop(), 0, server.output())
})

test('refuses to bind a non-loopback address', async (t) => {
  const err = await t.throwsAsync(promisify(execFile)(process.execPath, ['dist/cli.js', 'serve', '0.0.0.0', '0'], { cwd: repoRoot }))
  t.regex(String((err as { stderr?: string }).stderr), /refusing to bind 0\.0\.0\.0/)
})
