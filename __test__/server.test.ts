/**
 * The HTTP server (`kyrodb serve`), started through the real CLI as a child process and
 * called over HTTP with fetch: every route with a valid call and its response shape,
 * then bad input (4xx with the engine's or the HTTP layer's `error.code`, and nothing
 * changed afterwards), then body limits and content encodings on a server started with
 * `--body-limit 1024`.
 *
 * Auth, rate limits and the CLI's own refusals are in server-auth.test.ts; restarts on
 * the same data directory in server-restart.test.ts.
 */
import test, { type ExecutionContext } from 'ava'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { rng } from './helpers/data.js'
import { repoRoot, request, startServer, type Reply, type RunningServer } from './helpers/server.js'

let server: RunningServer // defaults
let small: RunningServer // --body-limit 1024

test.before(async () => {
  ;[server, small] = await Promise.all([startServer(), startServer(['--body-limit', '1024'])])
})

test.after.always(async () => {
  for (const s of [server, small]) {
    if (!s) continue
    await s.stop()
    rmSync(s.dataDir, { recursive: true, force: true })
  }
})

const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => request(server.url, method, path, body, headers)
const get = (path: string) => call('GET', path)
const post = (path: string, body?: unknown, headers?: Record<string, string>) => call('POST', path, body, headers)

const U64_MAX = '18446744073709551615'
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** How the server writes a u64 in JSON: a number when safe, else a decimal string. */
function jsonId(id: string | number | bigint): number | string {
  const b = BigInt(id)
  return b <= MAX_SAFE ? Number(b) : b.toString()
}

/** Assert an error response: status and `error.code` (and a human message). */
function isError(t: ExecutionContext, r: Reply, status: number, code: string, what: string): void {
  t.is(r.status, status, `${what}: ${r.text}`)
  t.is(r.json?.error?.code, code, `${what}: ${r.text}`)
  t.is(typeof r.json?.error?.message, 'string', what)
}

function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text)
  if (!m) throw new Error(`no sample of ${name} in /metrics`)
  return Number(m[1])
}

// ------------------------------------------------------------------ the vector model

const DIM = 8

interface Point {
  vector: Float32Array
  metadata?: Record<string, unknown>
}

/** What the test stored in collection `vecs`, by decimal id. */
const points = new Map<string, Point>()

function randomVector(rand: () => number): number[] {
  return Array.from({ length: DIM }, () => rand() * 2 - 1)
}

function l2(a: Float32Array, b: Float32Array): number {
  let s = 0
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2
  return s
}

function compareIds(a: string, b: string): number {
  const x = BigInt(a)
  const y = BigInt(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** Brute-force k nearest neighbours over the model (squared L2, then smaller id). */
function bruteForce(query: number[], k: number, accept: (p: Point) => boolean = () => true): { id: string; distance: number }[] {
  const q = Float32Array.from(query)
  return [...points]
    .filter(([, p]) => accept(p))
    .map(([id, p]) => ({ id, distance: l2(q, p.vector) }))
    .sort((a, b) => a.distance - b.distance || compareIds(a.id, b.id))
    .slice(0, k)
}

const close = (a: number, b: number) => Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b))

/**
 * The hits are the exact k nearest neighbours: same length as the brute force, each
 * distance equal (rank by rank) to the brute force's and to the true distance of the
 * returned point, no id twice. (Equal up to ties, which f32 rounding may order either way.)
 */
function assertNearest(t: ExecutionContext, hits: { id: number | string; distance: number }[], query: number[], expected: { id: string; distance: number }[], what: string): void {
  t.is(hits.length, expected.length, what)
  const q = Float32Array.from(query)
  hits.forEach((h, i) => {
    t.true(close(h.distance, expected[i]!.distance), `${what}: rank ${i} distance ${h.distance} vs ${expected[i]!.distance}`)
    const p = points.get(String(h.id))
    t.truthy(p, `${what}: hit ${h.id} is a stored point`)
    if (p) t.true(close(h.distance, l2(q, p.vector)), `${what}: hit ${h.id} distance`)
    t.is(h.id, jsonId(h.id), `${what}: id ${h.id} in its JSON form`)
  })
  t.is(new Set(hits.map((h) => String(h.id))).size, hits.length, `${what}: no id twice`)
  // Where there are no ties the ids are exactly those of the brute force.
  const gap = (i: number) => Math.min(i > 0 ? expected[i]!.distance - expected[i - 1]!.distance : Infinity, i + 1 < expected.length ? expected[i + 1]!.distance - expected[i]!.distance : Infinity)
  hits.forEach((h, i) => {
    if (gap(i) > 1e-3) t.is(String(h.id), expected[i]!.id, `${what}: rank ${i} id`)
  })
}

// ------------------------------------------------------------------ system routes

test.serial('GET /health, /build_info, /v1/stats', async (t) => {
  t.deepEqual((await get('/health')).json, { status: 'ok' })

  const info = await get('/build_info')
  t.is(info.status, 200)
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }
  t.is(info.json.name, 'kyrodb')
  t.is(info.json.version, pkg.version)
  t.regex(info.json.nativeVersion, /^\d+\.\d+\.\d+/)
  t.true(['avx512', 'avx2', 'neon', 'scalar'].includes(info.json.simd))
  t.is(typeof info.json.learnedIndex, 'boolean')
  t.is(typeof info.json.rmiProbe, 'string')
  t.is(info.json.node, process.version, 'the CLI runs on the node that spawned it')
  t.is(info.json.platform, `${process.platform}-${process.arch}`)

  const stats = await get('/v1/stats')
  t.is(stats.status, 200)
  for (const f of ['walFrames', 'walBytes', 'walGroups', 'walFsyncs', 'walDiskBytes', 'walFiles', 'segmentBuilds', 'merges', 'recoveryMs']) {
    t.is(typeof stats.json.database[f], 'number', `database.${f}`)
  }
  for (const f of ['keys', 'lookups', 'hits', 'appends', 'runs', 'memtableEntries', 'indexBytes']) t.is(typeof stats.json.kv[f], 'number', `kv.${f}`)
  t.deepEqual(stats.json.collections, [])
})

test.serial('GET /openapi.json documents every route; /v1/put requires key and value', async (t) => {
  const r = await get('/openapi.json')
  t.is(r.status, 200)
  const doc = r.json
  t.regex(doc.openapi, /^3\.\d+\.\d+$/)
  const routes: [string, string][] = [
    ['get', '/health'],
    ['get', '/build_info'],
    ['get', '/metrics'],
    ['get', '/v1/stats'],
    ['post', '/v1/put'],
    ['get', '/v1/lookup'],
    ['post', '/v1/put_fast/{key}'],
    ['get', '/v1/get_fast/{key}'],
    ['post', '/v1/delete'],
    ['get', '/v1/range'],
    ['get', '/v1/kv/stats'],
    ['post', '/v1/snapshot'],
    ['post', '/v1/compact'],
    ['post', '/v1/rmi/build'],
    ['post', '/v1/warmup'],
    ['get', '/v1/collections'],
    ['post', '/v1/collections'],
    ['get', '/v1/collections/{name}'],
    ['delete', '/v1/collections/{name}'],
    ['post', '/v1/collections/{name}/points'],
    ['get', '/v1/collections/{name}/points/{id}'],
    ['delete', '/v1/collections/{name}/points/{id}'],
    ['post', '/v1/collections/{name}/points/delete'],
    ['post', '/v1/collections/{name}/search'],
    ['post', '/v1/collections/{name}/search_batch'],
    ['post', '/v1/collections/{name}/build_index'],
  ]
  for (const [method, path] of routes) t.truthy(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} is documented`)

  const put = doc.paths['/v1/put'].post.requestBody.content['application/json'].schema
  t.deepEqual([...put.required].sort(), ['key', 'value'])
  t.false(put.additionalProperties)
  const upsert = doc.paths['/v1/collections/{name}/points'].post.requestBody.content
  t.truthy(upsert['application/json'])
  t.truthy(upsert['application/octet-stream'], 'the binary points layout is documented')
  t.truthy(doc.paths['/v1/lookup'].get.responses['404'] ?? doc.paths['/v1/lookup'].get.responses['4XX'], 'error responses are documented')
  // The document says which routes need a key: /health needs none.
  t.truthy(doc.security?.length, 'routes need a key by default')
  t.deepEqual(doc.paths['/health'].get.security, [], '/health is documented as open')
  // put_fast takes a raw body: documented as bytes.
  const fast = doc.paths['/v1/put_fast/{key}'].post.requestBody?.content?.['application/octet-stream']?.schema
  t.like(fast, { type: 'string', format: 'binary' }, 'put_fast documents its raw body')
})

// ------------------------------------------------------------------ key-value routes

test.serial('KV: put and lookup; put_fast of any content type; get_fast returns the exact bytes; delete', async (t) => {
  t.deepEqual((await post('/v1/put', { key: 1, value: 'hello' })).json, { ok: true })
  t.deepEqual((await get('/v1/lookup?key=1')).json, { key: 1, value: 'hello' })
  t.deepEqual((await post('/v1/put', { key: '42', value: 'héllo 日本 🚀' })).json, { ok: true }, 'a key as a decimal string')
  t.deepEqual((await get('/v1/lookup?key=42')).json, { key: 42, value: 'héllo 日本 🚀' })
  t.deepEqual((await post('/v1/put', { key: 43, value: '' })).json, { ok: true })
  t.deepEqual((await get('/v1/lookup?key=43')).json, { key: 43, value: '' })
  const asText = await get('/v1/get_fast/42')
  t.is(asText.status, 200)
  t.regex(asText.headers.get('content-type')!, /^text\/plain/)
  t.deepEqual(asText.bytes, Buffer.from('héllo 日本 🚀', 'utf8'), 'a string value through get_fast: its UTF-8 bytes')

  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
  const bodies: [number, string | undefined, Buffer][] = [
    [100, 'application/octet-stream', allBytes],
    [101, 'application/x-www-form-urlencoded', Buffer.from('a=1&b=%20two&c')], // what curl --data-binary sends
    [102, 'text/plain; charset=utf-8', Buffer.from('plain text é\n')],
    [103, 'application/json', Buffer.from('{"not": json')], // stored, not parsed
    [104, 'image/png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0xff])],
    [105, undefined, Buffer.from([0x00, 0xff, 0x00, 0xff])],
    [106, 'application/octet-stream', Buffer.alloc(0)],
  ]
  for (const [key, type, bytes] of bodies) {
    const r = await post(`/v1/put_fast/${key}`, bytes, type ? { 'content-type': type } : {})
    t.is(r.status, 204, `put_fast ${type}: ${r.text}`)
    t.is(r.bytes.length, 0, '204 has no body')
  }
  for (const [key, type, bytes] of bodies) {
    const r = await get(`/v1/get_fast/${key}`)
    t.is(r.status, 200)
    t.is(r.headers.get('content-type'), 'application/octet-stream', `get_fast of ${type}`)
    t.deepEqual(r.bytes, bytes, `get_fast returns exactly the bytes stored with ${type}`)
    t.deepEqual((await get(`/v1/lookup?key=${key}`)).json, { key, value: bytes.toString('base64'), encoding: 'base64' }, `lookup of ${type}`)
  }

  // Keys above 2^53 travel as decimal strings, both ways.
  t.deepEqual((await post('/v1/put', { key: U64_MAX, value: 'max' })).json, { ok: true })
  t.deepEqual((await get(`/v1/lookup?key=${U64_MAX}`)).json, { key: U64_MAX, value: 'max' })
  t.deepEqual((await post('/v1/put', { key: '9007199254740993', value: '2^53+1' })).json, { ok: true })
  t.deepEqual((await get('/v1/lookup?key=9007199254740993')).json, { key: '9007199254740993', value: '2^53+1' })
  t.deepEqual((await post('/v1/put', { key: Number.MAX_SAFE_INTEGER, value: 'safe' })).json, { ok: true })
  t.deepEqual((await get(`/v1/lookup?key=${Number.MAX_SAFE_INTEGER}`)).json, { key: Number.MAX_SAFE_INTEGER, value: 'safe' })
  t.deepEqual((await post('/v1/put', { key: '1000000000000000', value: '16 digits' })).json, { ok: true })
  t.deepEqual((await get('/v1/lookup?key=1000000000000000')).json, { key: 1e15, value: '16 digits' }, 'a safe key is a number, however long')
  t.deepEqual((await get('/v1/lookup?key=0001000000000000000')).json, { key: 1e15, value: '16 digits' }, 'leading zeros')
  t.is((await post('/v1/put_fast/18446744073709551614', allBytes, { 'content-type': 'application/octet-stream' })).status, 204)
  t.deepEqual((await get('/v1/get_fast/18446744073709551614')).bytes, allBytes)
  t.deepEqual((await get('/v1/lookup?key=0')).status, 404)
  t.deepEqual((await post('/v1/put', { key: 0, value: 'zero' })).json, { ok: true })
  t.deepEqual((await get('/v1/lookup?key=0')).json, { key: 0, value: 'zero' })

  // Overwrite: a byte value replaced by a string and back.
  await post('/v1/put', { key: 104, value: 'now a string' })
  t.deepEqual((await get('/v1/lookup?key=104')).json, { key: 104, value: 'now a string' })

  t.deepEqual((await post('/v1/delete', { key: 1 })).json, { deleted: true })
  t.deepEqual((await post('/v1/delete', { key: 1 })).json, { deleted: false })
  isError(t, await get('/v1/lookup?key=1'), 404, 'NOT_FOUND', 'lookup after delete')
  isError(t, await get('/v1/get_fast/1'), 404, 'NOT_FOUND', 'get_fast after delete')
  t.deepEqual((await post('/v1/delete', { key: U64_MAX })).json, { deleted: true })
  t.deepEqual((await post('/v1/delete', { key: U64_MAX })).json, { deleted: false })
  t.deepEqual((await post('/v1/delete', { key: '777777' })).json, { deleted: false }, 'a key never written')
})

test.serial('KV: range with bounds, limit, reverse; pagination through next covers every entry once', async (t) => {
  const expected: number[] = []
  for (let i = 0; i < 130; i++) expected.push(10_000 + 7 * i)
  for (let i = 0; i < expected.length; i += 26) {
    await Promise.all(expected.slice(i, i + 26).map((k) => post('/v1/put', { key: k, value: `v${k}` })))
  }
  // Outside the bounds, just below and just at the upper bound.
  await post('/v1/put', { key: 9_999, value: 'below' })
  await post('/v1/put', { key: 20_000, value: 'at lt' })

  const seen: number[] = []
  let path = '/v1/range?gte=10000&lt=20000&limit=25'
  let pages = 0
  for (;;) {
    const r = await get(path)
    t.is(r.status, 200, r.text)
    pages++
    for (const e of r.json.entries) {
      t.deepEqual(e, { key: e.key, value: `v${e.key}` })
      seen.push(e.key)
    }
    if (r.json.next === undefined) break
    t.is(r.json.entries.length, 25, 'a page with a next is full')
    t.is(r.json.next, r.json.entries.at(-1).key, 'next is the last key returned')
    path = `/v1/range?gt=${r.json.next}&lt=20000&limit=25`
  }
  t.deepEqual(seen, expected, 'every entry exactly once, in key order')
  t.is(pages, 6)

  const back: number[] = []
  path = '/v1/range?gte=10000&lt=20000&limit=40&reverse=true'
  for (;;) {
    const r = await get(path)
    back.push(...r.json.entries.map((e: { key: number }) => e.key))
    if (r.json.next === undefined) break
    path = `/v1/range?gte=10000&lt=${r.json.next}&limit=40&reverse=true`
  }
  t.deepEqual(back, [...expected].reverse(), 'reverse pagination passes next as lt')

  t.deepEqual((await get('/v1/range?gt=10000&lte=10021')).json, {
    entries: [
      { key: 10007, value: 'v10007' },
      { key: 10014, value: 'v10014' },
      { key: 10021, value: 'v10021' },
    ],
  })
  t.deepEqual((await get('/v1/range?gte=10001&lt=10007')).json, { entries: [] })
  t.is((await get('/v1/range?gte=10000&lt=20000')).json.entries.length, 100, 'the default limit is 100')
  t.is((await get('/v1/range?gte=10000&lt=20000&limit=10000')).json.entries.length, 130)
  // Keys above 2^53 as strings, and byte values in base64.
  const top = await get('/v1/range?gte=9007199254740992')
  t.deepEqual(top.json, {
    entries: [
      { key: '9007199254740993', value: '2^53+1' },
      { key: '18446744073709551614', value: Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('base64'), encoding: 'base64' },
    ],
  })
})

test.serial('KV stats and maintenance: snapshot, compact, rmi/build, warmup', async (t) => {
  const all = (await get('/v1/range?limit=10000')).json.entries as unknown[]
  const kv = (await get('/v1/kv/stats')).json
  t.is(kv.keys, all.length)
  for (const f of ['lookups', 'hits', 'appends', 'runs', 'memtableEntries', 'flushes', 'compactions', 'indexBuilds', 'indexBytes', 'mispredictions']) {
    t.is(typeof kv[f], 'number', f)
  }
  t.true(Array.isArray(kv.probeHistogram))
  t.true(kv.memtableEntries > 0, 'writes so far sit in the memtable')

  const snap = await post('/v1/snapshot')
  t.is(snap.status, 200)
  t.true(snap.json.ok)
  t.is(typeof snap.json.ms, 'number')
  t.is((await get('/v1/kv/stats')).json.memtableEntries, 0, 'a snapshot writes the memtable into a run')

  await post('/v1/put', { key: 5, value: 'after snapshot' })
  const compact = await post('/v1/compact')
  t.is(compact.status, 200)
  t.true(compact.json.ok)
  t.is((await get('/v1/kv/stats')).json.runs, 1, 'compact merges the runs into one')

  const rmi = await post('/v1/rmi/build')
  t.is(rmi.status, 200)
  t.true(rmi.json.ok)
  t.is(rmi.json.keys, all.length + 1, 'rmi/build reports every key')
  t.true(rmi.json.indexBytes > 0)

  const warm = await post('/v1/warmup')
  t.is(warm.status, 200)
  t.true(warm.json.ok)
  t.true(warm.json.bytes > 0)

  // Everything still reads back the same.
  t.deepEqual((await get('/v1/range?limit=10000')).json.entries.length, all.length + 1)
  t.deepEqual((await get('/v1/lookup?key=5')).json, { key: 5, value: 'after snapshot' })
  t.deepEqual((await get('/v1/lookup?key=42')).json, { key: 42, value: 'héllo 日本 🚀' })
  t.deepEqual((await get('/v1/get_fast/100')).bytes, Buffer.from(Array.from({ length: 256 }, (_, i) => i)))
})

// ------------------------------------------------------------------ collections

test.serial('collections: create (201), list, get; points as JSON and binary; get and delete points', async (t) => {
  const created = await post('/v1/collections', { name: 'vecs', dimension: DIM, metric: 'l2', index: { m: 12, efConstruction: 100, autoBuildRows: 100_000 } })
  t.is(created.status, 201, created.text)
  t.deepEqual(created.json, { name: 'vecs', dimension: DIM, metric: 'l2', count: 0, idType: 'u64' })
  const other = await post('/v1/collections', { name: 'other_Coll-1', dimension: 3 })
  t.deepEqual([other.status, other.json], [201, { name: 'other_Coll-1', dimension: 3, metric: 'cosine', count: 0, idType: 'u64' }], 'metric defaults to cosine')
  const longName = 'n'.repeat(64)
  t.is((await post('/v1/collections', { name: longName, dimension: 2, metric: 'ip', index: false })).status, 201, 'a 64-character name')
  t.deepEqual((await get('/v1/collections')).json, {
    collections: [
      { name: longName, dimension: 2, metric: 'ip', count: 0, idType: 'u64' },
      { name: 'other_Coll-1', dimension: 3, metric: 'cosine', count: 0, idType: 'u64' },
      { name: 'vecs', dimension: DIM, metric: 'l2', count: 0, idType: 'u64' },
    ],
  })

  // JSON: ids as numbers and decimal strings (one above 2^53), vectors, metadata.
  const rand = rng(7)
  const ids: (number | string)[] = []
  const vectors: number[][] = []
  const metadata: (Record<string, unknown> | null)[] = []
  for (let i = 1; i <= 200; i++) {
    ids.push(i % 10 === 0 ? String(i) : i)
    vectors.push(randomVector(rand))
    metadata.push({ cat: ['a', 'b', 'c'][i % 3], n: i, tags: i % 2 ? ['odd'] : ['even'] })
  }
  ids.push(U64_MAX, '9007199254740993')
  vectors.push(randomVector(rand), randomVector(rand))
  metadata.push({ cat: 'a', n: -1, big: true }, null)
  const up = await post('/v1/collections/vecs/points', { ids, vectors, metadata })
  t.deepEqual([up.status, up.json], [200, { upserted: 202 }], up.text)
  ids.forEach((id, i) => points.set(String(id), { vector: Float32Array.from(vectors[i]!), ...(metadata[i] ? { metadata: metadata[i]! } : {}) }))

  // Binary: n little-endian u64 ids, then n x dim little-endian f32.
  const n = 2500
  const body = Buffer.alloc(n * (8 + 4 * DIM))
  for (let i = 0; i < n; i++) {
    const id = 1000 + i
    const v = Float32Array.from(randomVector(rand))
    body.writeBigUInt64LE(BigInt(id), 8 * i)
    v.forEach((x, j) => body.writeFloatLE(x, 8 * n + 4 * (i * DIM + j)))
    points.set(String(id), { vector: v })
  }
  const bin = await post('/v1/collections/vecs/points', body, { 'content-type': 'application/octet-stream' })
  t.deepEqual([bin.status, bin.json], [200, { upserted: n }], bin.text)

  const info = await get('/v1/collections/vecs')
  t.is(info.status, 200)
  t.like(info.json, { name: 'vecs', dimension: DIM, metric: 'l2', count: 202 + n, idType: 'u64' })
  t.is(typeof info.json.hotRows, 'number')
  t.true(Array.isArray(info.json.segments))
  t.is(info.json.hotRows + info.json.segments.reduce((s: number, x: { live: number }) => s + x.live, 0), 202 + n)

  // Points come back exactly (f32), with their metadata; binary points have none.
  for (const id of ['1', '30', '200', U64_MAX, '9007199254740993', '1000', '3499']) {
    const r = await get(`/v1/collections/vecs/points/${id}`)
    t.is(r.status, 200, `point ${id}: ${r.text}`)
    const p = points.get(id)!
    t.deepEqual(r.json, { id: jsonId(id), vector: Array.from(p.vector), ...(p.metadata ? { metadata: p.metadata } : {}) }, `point ${id}`)
  }

  // Upsert replaces the whole point.
  const v10 = randomVector(rand)
  t.deepEqual((await post('/v1/collections/vecs/points', { ids: [10], vectors: [v10], metadata: [{ cat: 'z', n: 10 }] })).json, { upserted: 1 })
  points.set('10', { vector: Float32Array.from(v10), metadata: { cat: 'z', n: 10 } })
  t.deepEqual((await get('/v1/collections/vecs/points/10')).json, { id: 10, vector: Array.from(Float32Array.from(v10)), metadata: { cat: 'z', n: 10 } })

  // Deletes.
  t.deepEqual((await call('DELETE', '/v1/collections/vecs/points/7')).json, { deleted: 1 })
  t.deepEqual((await call('DELETE', '/v1/collections/vecs/points/7')).json, { deleted: 0 })
  points.delete('7')
  isError(t, await get('/v1/collections/vecs/points/7'), 404, 'NOT_FOUND', 'deleted point')
  t.deepEqual((await post('/v1/collections/vecs/points/delete', { ids: [8, '9', 999_999, '1001'] })).json, { deleted: 3 })
  t.deepEqual((await post('/v1/collections/vecs/points/delete', { ids: [8, '9'] })).json, { deleted: 0 })
  for (const id of ['8', '9', '1001']) points.delete(id)
  t.deepEqual((await post('/v1/collections/vecs/points/delete', { ids: [] })).json, { deleted: 0 })
  t.is((await get('/v1/collections/vecs')).json.count, points.size)
  t.is((await get('/v1/collections')).json.collections.find((c: { name: string }) => c.name === 'vecs').count, points.size)
})

test.serial('search: exact k nearest neighbours against brute force, filters, withMetadata, withVectors, search_batch, build_index', async (t) => {
  const rand = rng(99)
  const queries = Array.from({ length: 6 }, () => randomVector(rand))
  const search = (body: Record<string, unknown>) => post('/v1/collections/vecs/search', body)

  // Before build_index every point is in the hot tier: searched exactly.
  for (const [i, q] of queries.entries()) {
    const r = await search({ vector: q, k: 10 })
    t.is(r.status, 200, r.text)
    assertNearest(t, r.json.results, q, bruteForce(q, 10), `query ${i}`)
    for (const h of r.json.results) {
      const p = points.get(String(h.id))!
      if (p.metadata) t.deepEqual(h.metadata, p.metadata, 'metadata by default')
      else t.false('metadata' in h)
      t.false('vector' in h, 'no vectors by default')
    }
  }
  t.is((await search({ vector: queries[0] })).json.results.length, 10, 'k defaults to 10')
  t.is((await search({ vector: queries[0], k: 10_000 })).json.results.length, points.size, 'k above the count: every point')

  // A stored vector finds itself at distance 0, with its id (also above 2^53).
  const big = points.get(U64_MAX)!
  const self = await search({ vector: Array.from(big.vector), k: 1 })
  t.deepEqual(self.json.results, [{ id: U64_MAX, distance: 0, metadata: big.metadata }])

  const noMeta = await search({ vector: queries[1], k: 5, withMetadata: false })
  t.true(noMeta.json.results.every((h: object) => !('metadata' in h)))
  const withVec = await search({ vector: queries[1], k: 5, withVectors: true, withMetadata: false })
  for (const h of withVec.json.results) t.deepEqual(h.vector, Array.from(points.get(String(h.id))!.vector), `vector of ${h.id}`)
  assertNearest(t, withVec.json.results, queries[1]!, bruteForce(queries[1]!, 5), 'withVectors')

  // Filters: the object form and the string form mean the same; both match the brute force.
  const filters: [unknown, unknown, (p: Point) => boolean][] = [
    [{ cat: 'a' }, "cat == 'a'", (p) => p.metadata?.cat === 'a'],
    [{ n: { $gte: 100 }, cat: { $in: ['a', 'b'] } }, "n >= 100 AND cat IN ['a', 'b']", (p) => (p.metadata?.n as number) >= 100 && ['a', 'b'].includes(p.metadata?.cat as string)],
    [{ $or: [{ big: true }, { tags: 'even', n: { $lt: 20 } }] }, 'big == true OR (tags == "even" AND n < 20)', (p) => p.metadata?.big === true || ((p.metadata?.tags as string[] | undefined)?.includes('even') === true && (p.metadata?.n as number) < 20)],
    [{ cat: { $exists: false } }, 'cat NOT EXISTS', (p) => p.metadata?.cat === undefined],
  ]
  for (const [object, text, accept] of filters) {
    for (const [qi, q] of queries.slice(0, 3).entries()) {
      const expected = bruteForce(q, 8, accept)
      const a = await search({ vector: q, k: 8, filter: object })
      const b = await search({ vector: q, k: 8, filter: text })
      t.is(a.status, 200, a.text)
      t.is(b.status, 200, b.text)
      assertNearest(t, a.json.results, q, expected, `${JSON.stringify(object)} q${qi}`)
      t.deepEqual(b.json.results, a.json.results, `${text} q${qi}`)
      for (const h of a.json.results) t.true(accept(points.get(String(h.id))!), `${h.id} passes ${text}`)
    }
  }
  t.deepEqual((await search({ vector: queries[0], filter: { cat: 'nothing' } })).json, { results: [] })

  const batch = await post('/v1/collections/vecs/search_batch', { vectors: queries.slice(0, 4), k: 5, filter: "cat == 'b'", withVectors: true })
  t.is(batch.status, 200, batch.text)
  t.is(batch.json.results.length, 4)
  for (const [i, q] of queries.slice(0, 4).entries()) {
    t.deepEqual(batch.json.results[i], (await search({ vector: q, k: 5, filter: "cat == 'b'", withVectors: true })).json.results, `batch entry ${i}`)
  }

  const built = await post('/v1/collections/vecs/build_index')
  t.deepEqual([built.status, built.json], [200, { ok: true, count: points.size }], built.text)
  const info = (await get('/v1/collections/vecs')).json
  t.is(info.hotRows, 0)
  t.is(info.segments.length, 1, 'one segment over everything')
  t.like(info.segments[0], { live: points.size, graph: true })

  // Through the graph with a beam as wide as the collection: still the exact answer.
  for (const [i, q] of queries.entries()) {
    const r = await search({ vector: q, k: 10, ef: 10_000 })
    assertNearest(t, r.json.results, q, bruteForce(q, 10), `graph query ${i}`)
    const f = await search({ vector: q, k: 5, ef: 10_000, filter: { cat: 'c' } })
    assertNearest(t, f.json.results, q, bruteForce(q, 5, (p) => p.metadata?.cat === 'c'), `graph filtered query ${i}`)
  }
  const approx = await search({ vector: queries[0], k: 10, ef: 16 })
  t.is(approx.status, 200)
  t.is(approx.json.results.length, 10)
  t.true(approx.json.results.every((h: { distance: number }, i: number, a: { distance: number }[]) => i === 0 || a[i - 1]!.distance <= h.distance), 'closest first')
  // One at a time, small searches run on the event loop; sent together they compete and
  // go to the thread pool (server/load.ts): the answers are the same either way.
  const oneAtATime = []
  for (const q of queries) oneAtATime.push((await search({ vector: q, k: 10, ef: 64 })).json)
  const together = await Promise.all(queries.map((q) => search({ vector: q, k: 10, ef: 64 })))
  t.deepEqual(together.map((r) => r.json), oneAtATime)
  // Points stay readable after the build.
  t.deepEqual((await get(`/v1/collections/vecs/points/${U64_MAX}`)).json, { id: U64_MAX, vector: Array.from(big.vector), metadata: big.metadata })
})

test.serial('GET /metrics: Prometheus text with the engine figures; kyrodb_appends_total counts the puts', async (t) => {
  const r = await get('/metrics')
  t.is(r.status, 200)
  t.regex(r.headers.get('content-type')!, /^text\/plain/)
  for (const name of [
    'kyrodb_appends_total',
    'kyrodb_rmi_reads_total',
    'kyrodb_rmi_probe_length_bucket',
    'kyrodb_http_request_duration_seconds',
    'kyrodb_search_duration_seconds',
    'kyrodb_wal_fsyncs_total',
    'kyrodb_wal_bytes_total',
    'kyrodb_segments',
    'process_resident_memory_bytes',
  ]) {
    t.true(r.text.includes(name), `${name} in /metrics`)
  }
  t.regex(r.text, /^kyrodb_rmi_probe_length_bucket\{le="\+Inf"\} \d+$/m)
  t.regex(r.text, /^kyrodb_http_request_duration_seconds_count\{method="POST",route="\/v1\/put",status="200"\} \d+$/m)
  t.regex(r.text, /^kyrodb_search_duration_seconds_count\{kind="single"\} [1-9]\d*$/m)
  t.regex(r.text, /^kyrodb_search_duration_seconds_count\{kind="batch"\} [1-9]\d*$/m)
  t.regex(r.text, /^kyrodb_segments\{collection="vecs"\} 1$/m)
  t.regex(r.text, /^kyrodb_write_stalls_total\{collection="vecs"\} \d+$/m)
  t.regex(r.text, /^kyrodb_write_stall_seconds_total\{collection="vecs"\} [\d.e+-]+$/m)
  t.regex(r.text, /^kyrodb_indexed_rows_total\{collection="vecs"\} \d+$/m)
  t.regex(r.text, /^kyrodb_vectors\{collection="vecs"\} \d+$/m)
  t.true(metricValue(r.text, 'process_resident_memory_bytes') > 0)
  t.true(metricValue(r.text, 'kyrodb_wal_fsyncs_total') > 0)

  const before = await get('/metrics')
  const appends = metricValue(before.text, 'kyrodb_appends_total')
  const walBytes = metricValue(before.text, 'kyrodb_wal_bytes_total')
  const reads = metricValue(before.text, 'kyrodb_rmi_reads_total')
  for (let i = 0; i < 7; i++) await post('/v1/put', { key: 50_000 + i, value: `m${i}` })
  for (let i = 0; i < 3; i++) await post(`/v1/put_fast/${50_100 + i}`, Buffer.from([i]), { 'content-type': 'application/octet-stream' })
  for (let i = 0; i < 4; i++) await get(`/v1/lookup?key=${50_000 + i}`)
  const after = await get('/metrics')
  t.is(metricValue(after.text, 'kyrodb_appends_total') - appends, 10, 'one append per put')
  t.true(metricValue(after.text, 'kyrodb_wal_bytes_total') > walBytes)
  t.is(metricValue(after.text, 'kyrodb_rmi_reads_total') - reads, 4, 'one read per lookup')
})

test.serial('DELETE /v1/collections/:name, then 404', async (t) => {
  t.deepEqual((await call('DELETE', '/v1/collections/other_Coll-1')).json, { dropped: true })
  isError(t, await get('/v1/collections/other_Coll-1'), 404, 'NOT_FOUND', 'get dropped')
  isError(t, await post('/v1/collections/other_Coll-1/search', { vector: [1, 2, 3] }), 404, 'NOT_FOUND', 'search dropped')
  isError(t, await post('/v1/collections/other_Coll-1/points', { ids: [1], vectors: [[1, 2, 3]] }), 404, 'NOT_FOUND', 'upsert dropped')
  isError(t, await call('DELETE', '/v1/collections/other_Coll-1'), 404, 'NOT_FOUND', 'drop twice')
  t.deepEqual(
    (await get('/v1/collections')).json.collections.map((c: { name: string }) => c.name),
    ['n'.repeat(64), 'vecs'],
  )
  // The name can be used again, for a fresh, empty collection.
  t.is((await post('/v1/collections', { name: 'other_Coll-1', dimension: 5, metric: 'l2' })).status, 201)
  t.is((await get('/v1/collections/other_Coll-1')).json.count, 0)
  t.deepEqual((await call('DELETE', '/v1/collections/other_Coll-1')).json, { dropped: true })
})

// ------------------------------------------------------------------ bad input

/** Everything the key-value store holds, and its key and append counters. */
async function kvState() {
  const range = await get('/v1/range?limit=10000')
  const stats = (await get('/v1/kv/stats')).json
  return { entries: range.json.entries, keys: stats.keys, appends: stats.appends }
}

test.serial('bad input to the key-value routes: 4xx with the error code, nothing changed', async (t) => {
  const before = await kvState()
  const json = { 'content-type': 'application/json' }
  const cases: [string, string, unknown, Record<string, string> | undefined, number, string][] = [
    ['POST', '/v1/put', '{"key":1,', json, 400, 'INVALID_ARGUMENT'], // malformed JSON
    ['POST', '/v1/put', '', json, 400, 'INVALID_ARGUMENT'], // empty JSON body
    ['POST', '/v1/put', undefined, undefined, 400, 'INVALID_ARGUMENT'], // no body
    ['POST', '/v1/put', { key: 1, value: 'x', extra: true }, undefined, 400, 'INVALID_ARGUMENT'], // unknown field
    ['POST', '/v1/put', { key: 1 }, undefined, 400, 'INVALID_ARGUMENT'], // no value
    ['POST', '/v1/put', { value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'], // no key
    ['POST', '/v1/put', { key: 1, value: 5 }, undefined, 400, 'INVALID_ARGUMENT'], // not a string: no coercion
    ['POST', '/v1/put', { key: 1, value: null }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', { key: -1, value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', { key: 1.5, value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', { key: 'abc', value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', { key: '-1', value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', { key: '', value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', { key: '18446744073709551616', value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'], // 2^64
    ['POST', '/v1/put', { key: '99999999999999999999', value: 'x' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', '{"key":9007199254740993,"value":"x"}', json, 400, 'INVALID_ARGUMENT'], // a JSON number above 2^53
    ['POST', '/v1/put', '{"key":18446744073709551615,"value":"x"}', json, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put', '{"key":1e3,"value":"x"}', json, 200, ''], // 1e3 is the integer 1000: fine (undone below)
    ['POST', '/v1/put', { key: 1, value: 'x' }, { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'], // a JSON route, not JSON
    ['POST', '/v1/put', 'key=1&value=x', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE'], // plain curl -d
    ['GET', '/v1/lookup?key=-1', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/lookup?key=1.5', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/lookup?key=abc', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/lookup?key=18446744073709551616', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/lookup', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/lookup?key=424242', undefined, undefined, 404, 'NOT_FOUND'],
    ['GET', '/v1/get_fast/424242', undefined, undefined, 404, 'NOT_FOUND'],
    ['GET', `/v1/get_fast/${U64_MAX}`, undefined, undefined, 404, 'NOT_FOUND'], // deleted earlier
    ['GET', '/v1/get_fast/abc', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/get_fast/-1', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/get_fast/18446744073709551616', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put_fast/-1', Buffer.from('x'), { 'content-type': 'application/octet-stream' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put_fast/1.5', Buffer.from('x'), { 'content-type': 'application/octet-stream' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put_fast/abc', Buffer.from('x'), { 'content-type': 'application/octet-stream' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/put_fast/18446744073709551616', Buffer.from('x'), { 'content-type': 'application/octet-stream' }, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/delete', { key: 'abc' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/delete', { key: -1 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/delete', { key: 1, also: 2 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/delete', { key: '18446744073709551616' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/range?limit=0', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/range?limit=10001', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/range?limit=ten', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/range?reverse=yes', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/range?gte=-5', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/range?lt=18446744073709551616', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/range?from=5', undefined, undefined, 400, 'INVALID_ARGUMENT'], // unknown parameter
  ]
  for (const [method, path, body, headers, status, code] of cases) {
    const r = await call(method, path, body, headers)
    const what = `${method} ${path} ${typeof body === 'string' ? body : JSON.stringify(body)}`
    if (status === 200) {
      t.is(r.status, 200, what)
      continue
    }
    isError(t, r, status, code, what)
  }
  t.deepEqual((await get('/v1/lookup?key=1000')).json, { key: 1000, value: 'x' })
  t.deepEqual((await post('/v1/delete', { key: 1000 })).json, { deleted: true })
  const after = await kvState()
  t.deepEqual(after.entries, before.entries, 'no entry changed')
  t.is(after.keys, before.keys)
  t.is(after.appends, before.appends + 2, 'only the valid put and its delete were applied')
})

/** What the collections hold: the listing, vecs' layout, a few points and a search. */
async function vectorState() {
  const probe = Array.from(points.get('2')!.vector)
  return {
    list: (await get('/v1/collections')).json,
    vecs: (await get('/v1/collections/vecs')).json,
    points: await Promise.all(['1', '2', '3', U64_MAX].map(async (id) => (await get(`/v1/collections/vecs/points/${id}`)).json)),
    search: (await post('/v1/collections/vecs/search', { vector: probe, k: 20, ef: 10_000 })).json,
  }
}

test.serial('bad input to the collection routes: 4xx with the error code, nothing changed', async (t) => {
  const before = await vectorState()
  const v = Array.from({ length: DIM }, (_, i) => i / 10)
  const json = { 'content-type': 'application/json' }
  const bin = { 'content-type': 'application/octet-stream' }
  const row = 8 + 4 * DIM
  const withNaN = Buffer.alloc(2 * row)
  withNaN.writeBigUInt64LE(1n, 0)
  withNaN.writeBigUInt64LE(2n, 8)
  withNaN.writeFloatLE(Number.NaN, 16 + 4 * (DIM + 3))
  const withInf = Buffer.alloc(row)
  withInf.writeFloatLE(Number.POSITIVE_INFINITY, 8)
  const search = '/v1/collections/vecs/search'
  const upsert = '/v1/collections/vecs/points'
  const cases: [string, string, unknown, Record<string, string> | undefined, number, string][] = [
    // create
    ['POST', '/v1/collections', '{"name":"x",', json, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'x', dimension: 3, colour: 'red' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'bad name!', dimension: 3 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'n'.repeat(65), dimension: 3 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: '../x', dimension: 3 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: '', dimension: 3 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'vecs', dimension: DIM }, undefined, 409, 'ALREADY_EXISTS'],
    ['POST', '/v1/collections', { name: 'x', dimension: 0 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'x', dimension: 16385 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'x', dimension: '3' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'x', dimension: 3, metric: 'manhattan' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'x', dimension: 3, index: { m: 1 } }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { name: 'x', dimension: 3, index: true }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections', { dimension: 3 }, undefined, 400, 'INVALID_ARGUMENT'],
    // names in paths, unknown collections
    ['GET', '/v1/collections/bad%20name!', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', `/v1/collections/${'n'.repeat(65)}`, undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/bad%20name!/search', { vector: v }, undefined, 400, 'INVALID_ARGUMENT'],
    ['DELETE', '/v1/collections/bad%20name!', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/collections/nope', undefined, undefined, 404, 'NOT_FOUND'],
    ['DELETE', '/v1/collections/nope', undefined, undefined, 404, 'NOT_FOUND'],
    ['POST', '/v1/collections/nope/search', { vector: v }, undefined, 404, 'NOT_FOUND'],
    ['POST', '/v1/collections/nope/search_batch', { vectors: [v] }, undefined, 404, 'NOT_FOUND'],
    ['POST', '/v1/collections/nope/points', { ids: [1], vectors: [v] }, undefined, 404, 'NOT_FOUND'],
    ['GET', '/v1/collections/nope/points/1', undefined, undefined, 404, 'NOT_FOUND'],
    ['POST', '/v1/collections/nope/build_index', undefined, undefined, 404, 'NOT_FOUND'],
    // search
    ['POST', search, '{"vector":[1,', json, 400, 'INVALID_ARGUMENT'],
    ['POST', search, undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v, k: 0 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v, k: 10001 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v, k: '10' }, undefined, 400, 'INVALID_ARGUMENT'], // no coercion
    ['POST', search, { vector: v, k: 2.5 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v, ef: 0 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v, withVectors: 'true' }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v, limit: 3 }, undefined, 400, 'INVALID_ARGUMENT'], // unknown field
    ['POST', search, { vector: v.slice(1) }, undefined, 400, 'DIMENSION_MISMATCH'],
    ['POST', search, { vector: [...v, 1] }, undefined, 400, 'DIMENSION_MISMATCH'],
    ['POST', search, { vector: [] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: [...v.slice(1), 'x'] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: [...v.slice(1), null] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v.map(String) }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { k: 3 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', search, { vector: v, filter: "cat == 'a' AND" }, undefined, 400, 'INVALID_FILTER'],
    ['POST', search, { vector: v, filter: 'cat ==' }, undefined, 400, 'INVALID_FILTER'],
    ['POST', search, { vector: v, filter: "cat ~= 'a'" }, undefined, 400, 'INVALID_FILTER'], // unknown operator, string form
    ['POST', search, { vector: v, filter: { cat: { $regex: 'a' } } }, undefined, 400, 'INVALID_FILTER'], // unknown operator, object form
    ['POST', search, { vector: v, filter: { n: { $gt: 'x' } } }, undefined, 400, 'INVALID_FILTER'], // range operators take numbers
    ['POST', search, { vector: v, filter: [1] }, undefined, 400, 'INVALID_ARGUMENT'], // neither object nor string
    ['POST', search, { vector: v, filter: 5 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/vecs/search_batch', { vectors: [] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/vecs/search_batch', { vectors: [v, v.slice(1)] }, undefined, 400, 'DIMENSION_MISMATCH'],
    ['POST', '/v1/collections/vecs/search_batch', { vectors: [v], k: 0 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/vecs/search_batch', { vectors: [v], filter: '((' }, undefined, 400, 'INVALID_FILTER'],
    // upsert, JSON
    ['POST', upsert, '{"ids":[1],', json, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1], vectors: [v], extra: 1 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1], vectors: [v.slice(1)] }, undefined, 400, 'DIMENSION_MISMATCH'],
    ['POST', upsert, { ids: [1, 2], vectors: [v, v.slice(1)] }, undefined, 400, 'DIMENSION_MISMATCH'],
    ['POST', upsert, { ids: [1], vectors: [[...v.slice(1), 'x']] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1], vectors: [[...v.slice(1), null]] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, '{"ids":[1],"vectors":[[1e39,0,0,0,0,0,0,0]]}', json, 400, 'INVALID_ARGUMENT'], // overflows f32
    ['POST', upsert, { ids: [1, 2], vectors: [v] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1, 1], vectors: [v, v] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [-1], vectors: [v] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1.5], vectors: [v] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: ['abc'], vectors: [v] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: ['18446744073709551616'], vectors: [v] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, `{"ids":[9007199254740993],"vectors":[${JSON.stringify(v)}]}`, json, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1], vectors: [v], metadata: [{}, {}] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, { ids: [1], vectors: [v], metadata: ['tag'] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, JSON.stringify({ ids: [1], vectors: [v] }), { 'content-type': 'text/plain' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['POST', upsert, '<points/>', { 'content-type': 'application/xml' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['POST', upsert, undefined, undefined, 400, 'INVALID_ARGUMENT'], // no body at all
    // upsert, binary
    ['POST', upsert, withNaN, bin, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, withInf, bin, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, withNaN.subarray(0, 2 * row - 1), bin, 400, 'INVALID_ARGUMENT'], // not a multiple of 8 + 4 x dim
    ['POST', upsert, Buffer.alloc(row + 8), bin, 400, 'INVALID_ARGUMENT'],
    ['POST', upsert, Buffer.alloc(0), bin, 400, 'INVALID_ARGUMENT'],
    // points by id
    ['GET', '/v1/collections/vecs/points/abc', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/collections/vecs/points/-1', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/collections/vecs/points/18446744073709551616', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['GET', '/v1/collections/vecs/points/123456789', undefined, undefined, 404, 'NOT_FOUND'],
    ['DELETE', '/v1/collections/vecs/points/1.5', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['DELETE', '/v1/collections/vecs/points/18446744073709551616', undefined, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/vecs/points/delete', { ids: [1, -1] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/vecs/points/delete', { ids: [1, '18446744073709551616'] }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/vecs/points/delete', { ids: 1 }, undefined, 400, 'INVALID_ARGUMENT'],
    ['POST', '/v1/collections/vecs/points/delete', { id: [1] }, undefined, 400, 'INVALID_ARGUMENT'],
  ]
  for (const [method, path, body, headers, status, code] of cases) {
    const r = await call(method, path, body, headers)
    const shown = Buffer.isBuffer(body) ? `<${body.length} bytes>` : typeof body === 'string' ? body : JSON.stringify(body)
    isError(t, r, status, code, `${method} ${path} ${shown}`)
  }
  // More than a million hits in one answer (queries x min(k, count)) is refused before
  // searching: 10,000 queries x k = 10,000 would build 10^8 hits and exhaust the heap.
  const many = Math.floor(1_000_000 / points.size) + 1
  const tooMany = await post('/v1/collections/vecs/search_batch', { vectors: Array(many).fill(v), k: 10_000 })
  t.is(tooMany.status, 400, `search_batch of ${many} queries x k = 10000 over ${points.size} points: ${tooMany.text.slice(0, 200)}`)
  t.is(tooMany.json?.error?.code, 'INVALID_ARGUMENT')
  t.regex(tooMany.json?.error?.message ?? '', /1000000/)
  const fits = await post('/v1/collections/vecs/search_batch', { vectors: Array(Math.floor(1_000_000 / points.size)).fill(v), k: 10_000, withMetadata: false })
  t.is(fits.status, 200, 'at most a million hits is fine')
  t.is(fits.json.results[0].length, points.size)
  t.deepEqual(await vectorState(), before, 'nothing changed')
})

test.serial('unknown routes and methods: 404 NOT_FOUND', async (t) => {
  isError(t, await get('/nope'), 404, 'NOT_FOUND', 'GET /nope')
  isError(t, await get('/v2/lookup?key=1'), 404, 'NOT_FOUND', 'GET /v2/lookup')
  isError(t, await post('/v1/collections/vecs/upsert', { ids: [1], vectors: [[1]] }), 404, 'NOT_FOUND', 'the old upsert route')
  isError(t, await get('/v1/put'), 404, 'NOT_FOUND', 'GET on a POST route')
  isError(t, await call('PUT', '/v1/collections/vecs', { name: 'vecs' }), 404, 'NOT_FOUND', 'PUT')
  isError(t, await call('DELETE', '/v1/lookup?key=1'), 404, 'NOT_FOUND', 'DELETE')
  // URLs the router itself refuses answer in the one error shape too.
  isError(t, await get('/v1/get_fast/%ZZ'), 400, 'INVALID_ARGUMENT', 'malformed percent-encoding')
  isError(t, await post('/v1/collections/%ZZ/search', { vector: [1] }), 400, 'INVALID_ARGUMENT', 'malformed percent-encoding in a name')
  isError(t, await get(`/v1/collections/${'n'.repeat(201)}`), 400, 'INVALID_ARGUMENT', 'a path parameter over 200 characters')
})

// ------------------------------------------------------------------ body limits and encodings

test.serial('--body-limit 1024: larger bodies get 413, also when they are only large decompressed', async (t) => {
  const s = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => request(small.url, method, path, body, headers)
  const octet = { 'content-type': 'application/octet-stream' }

  // At the limit and one byte over, raw.
  t.is((await s('POST', '/v1/put_fast/1', Buffer.alloc(1024, 1), octet)).status, 204)
  t.is((await s('GET', '/v1/get_fast/1')).bytes.length, 1024)
  isError(t, await s('POST', '/v1/put_fast/2', Buffer.alloc(1025, 2), octet), 413, 'PAYLOAD_TOO_LARGE', 'put_fast over the limit')
  isError(t, await s('POST', '/v1/put', { key: 3, value: 'x'.repeat(2000) }), 413, 'PAYLOAD_TOO_LARGE', 'JSON over the limit')

  // Small compressed, large decompressed: refused (the limit counts decompressed bytes).
  const gz = { 'content-type': 'application/json', 'content-encoding': 'gzip' }
  const bomb = gzipSync(JSON.stringify({ key: 4, value: 'x'.repeat(100_000) }))
  t.true(bomb.length < 1024, 'compressed it fits the limit')
  isError(t, await s('POST', '/v1/put', bomb, gz), 413, 'PAYLOAD_TOO_LARGE', 'gzip JSON bomb')
  const rawBomb = gzipSync(Buffer.alloc(1_000_000))
  t.true(rawBomb.length < 1024)
  isError(t, await s('POST', '/v1/put_fast/5', rawBomb, { ...octet, 'content-encoding': 'gzip' }), 413, 'PAYLOAD_TOO_LARGE', 'gzip raw bomb')
  isError(t, await s('POST', '/v1/put_fast/5', deflateSync(Buffer.alloc(1_000_000)), { ...octet, 'content-encoding': 'deflate' }), 413, 'PAYLOAD_TOO_LARGE', 'deflate bomb')
  isError(t, await s('POST', '/v1/put_fast/5', brotliCompressSync(Buffer.alloc(1_000_000)), { ...octet, 'content-encoding': 'br' }), 413, 'PAYLOAD_TOO_LARGE', 'brotli bomb')

  // Compressed bodies below the limit are decompressed and stored exactly.
  const value = 'héllo, wörld 日本 '.repeat(20) // 400+ bytes of UTF-8
  t.deepEqual((await s('POST', '/v1/put', gzipSync(JSON.stringify({ key: 6, value })), gz)).json, { ok: true })
  t.deepEqual((await s('GET', '/v1/lookup?key=6')).json, { key: 6, value })
  const bytes = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 37) & 0xff))
  for (const [key, encoding, packed] of [
    [7, 'gzip', gzipSync(bytes)],
    [8, 'x-gzip', gzipSync(bytes)],
    [9, 'deflate', deflateSync(bytes)],
    [10, 'br', brotliCompressSync(bytes)],
    [11, 'GZIP', gzipSync(bytes)],
  ] as const) {
    t.is((await s('POST', `/v1/put_fast/${key}`, packed, { ...octet, 'content-encoding': encoding })).status, 204, encoding)
    t.deepEqual((await s('GET', `/v1/get_fast/${key}`)).bytes, bytes, `${encoding} body stored decompressed`)
  }
  t.is((await s('POST', '/v1/put_fast/12', bytes, { ...octet, 'content-encoding': 'identity' })).status, 204)
  t.deepEqual((await s('GET', '/v1/get_fast/12')).bytes, bytes)

  // A corrupt compressed body is the client's fault; an unknown encoding is unsupported.
  isError(t, await s('POST', '/v1/put', Buffer.from('this is not gzip'), gz), 400, 'INVALID_ARGUMENT', 'corrupt gzip')
  isError(t, await s('POST', '/v1/put', gzipSync(JSON.stringify({ key: 13, value: 'v' })).subarray(0, 12), gz), 400, 'INVALID_ARGUMENT', 'truncated gzip')
  isError(t, await s('POST', '/v1/put_fast/13', Buffer.from('not deflate'), { ...octet, 'content-encoding': 'deflate' }), 400, 'INVALID_ARGUMENT', 'corrupt deflate')
  isError(t, await s('POST', '/v1/put', JSON.stringify({ key: 13, value: 'v' }), { 'content-type': 'application/json', 'content-encoding': 'zstd' }), 415, 'UNSUPPORTED_MEDIA_TYPE', 'zstd')
  isError(t, await s('POST', '/v1/put_fast/13', Buffer.from('x'), { ...octet, 'content-encoding': 'compress' }), 415, 'UNSUPPORTED_MEDIA_TYPE', 'compress')
  // Names of Object.prototype properties are just unknown encodings too (not a 500).
  for (const encoding of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    isError(t, await s('POST', '/v1/put', JSON.stringify({ key: 13, value: 'v' }), { 'content-type': 'application/json', 'content-encoding': encoding }), 415, 'UNSUPPORTED_MEDIA_TYPE', encoding)
  }

  // Nothing refused was stored.
  const keys = (await s('GET', '/v1/range')).json.entries.map((e: { key: number }) => e.key)
  t.deepEqual(keys, [1, 6, 7, 8, 9, 10, 11, 12])
  // The server is still healthy after the refusals.
  t.deepEqual((await s('GET', '/health')).json, { status: 'ok' })
})
