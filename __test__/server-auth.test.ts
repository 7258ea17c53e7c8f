/**
 * The HTTP server's access control, started through the real CLI: the API-key matrix
 * (admin key from KYRODB_API_KEY, read key from --read-api-key; no key, a wrong key, the
 * read key and the admin key on read and on write routes, both header forms), keys never
 * written to the log, rate limiting (KYRODB_RL_RPS), the CLI's refusal to serve a
 * non-loopback address without a key, and the CLI help.
 */
import test, { type ExecutionContext } from 'ava'
import { execFile } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort, repoRoot, request, startServer, tempDataDir, type Reply, type RunningServer } from './helpers/server.js'

const run = promisify(execFile)

const ADMIN_KEY = 'admin-Key-6f1d2c9a8b7e4f30'
const READ_KEY = 'read-Key-0a9b8c7d6e5f4a3b'
const WRONG_KEY = 'wrong-Key-1234567890abcdef'

let auth: RunningServer // KYRODB_API_KEY + --read-api-key, debug logging
let limited: RunningServer // --enable-rate-limiting, KYRODB_RL_RPS=5, an admin key

test.before(async () => {
  ;[auth, limited] = await Promise.all([
    startServer(['--read-api-key', READ_KEY, '--log-level', 'debug'], { env: { KYRODB_API_KEY: ADMIN_KEY } }),
    startServer(['--enable-rate-limiting'], { env: { KYRODB_RL_RPS: '5', KYRODB_API_KEY: ADMIN_KEY } }),
  ])
})

test.after.always(async () => {
  for (const s of [auth, limited]) {
    if (!s) continue
    await s.stop()
    rmSync(s.dataDir, { recursive: true, force: true })
  }
})

function isError(t: ExecutionContext, r: Reply, status: number, code: string, what: string): void {
  t.is(r.status, status, `${what}: ${r.text}`)
  t.is(r.json?.error?.code, code, `${what}: ${r.text}`)
}

// ------------------------------------------------------------------ the auth matrix

interface Call {
  name: string
  method: string
  path: string
  body?: unknown
  headers?: Record<string, string>
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` })
const xApiKey = (key: string) => ({ 'x-api-key': key })
const as = (c: Call, key: Record<string, string>) => request(auth.url, c.method, c.path, c.body, { ...c.headers, ...key })

/** Routes that change nothing: any key may call them. */
const reads: Call[] = [
  { name: 'lookup', method: 'GET', path: '/v1/lookup?key=1' },
  { name: 'get_fast', method: 'GET', path: '/v1/get_fast/2' },
  { name: 'range', method: 'GET', path: '/v1/range' },
  { name: 'kv stats', method: 'GET', path: '/v1/kv/stats' },
  { name: 'search', method: 'POST', path: '/v1/collections/docs/search', body: { vector: [1, 0, 0], k: 2 } },
  { name: 'search_batch', method: 'POST', path: '/v1/collections/docs/search_batch', body: { vectors: [[1, 0, 0]], k: 2 } },
  { name: 'get point', method: 'GET', path: '/v1/collections/docs/points/1' },
  { name: 'list collections', method: 'GET', path: '/v1/collections' },
  { name: 'get collection', method: 'GET', path: '/v1/collections/docs' },
  { name: 'metrics', method: 'GET', path: '/metrics' },
  { name: 'build_info', method: 'GET', path: '/build_info' },
  { name: 'stats', method: 'GET', path: '/v1/stats' },
]

/** Routes that write or maintain: admin key only. `n` keeps each admin run's writes apart. */
function writes(n: number, drop = `made${n}`): Call[] {
  return [
    { name: 'put', method: 'POST', path: '/v1/put', body: { key: 100 + n, value: `v${n}` } },
    { name: 'put_fast', method: 'POST', path: `/v1/put_fast/${200 + n}`, body: Buffer.from([n]), headers: { 'content-type': 'application/octet-stream' } },
    { name: 'delete', method: 'POST', path: '/v1/delete', body: { key: 100 + n } },
    { name: 'points upsert', method: 'POST', path: '/v1/collections/docs/points', body: { ids: [300 + n], vectors: [[0, 0, 1]] } },
    { name: 'point delete', method: 'DELETE', path: `/v1/collections/docs/points/${300 + n}` },
    { name: 'points delete', method: 'POST', path: '/v1/collections/docs/points/delete', body: { ids: [300 + n] } },
    { name: 'build_index', method: 'POST', path: '/v1/collections/docs/build_index' },
    { name: 'snapshot', method: 'POST', path: '/v1/snapshot' },
    { name: 'compact', method: 'POST', path: '/v1/compact' },
    { name: 'rmi/build', method: 'POST', path: '/v1/rmi/build' },
    { name: 'warmup', method: 'POST', path: '/v1/warmup' },
    { name: 'create collection', method: 'POST', path: '/v1/collections', body: { name: `made${n}`, dimension: 2 } },
    { name: 'drop collection', method: 'DELETE', path: `/v1/collections/${drop}` },
  ]
}

/** What the database holds, to show that refused writes changed nothing. */
async function state() {
  const admin = bearer(ADMIN_KEY)
  return {
    kv: (await request(auth.url, 'GET', '/v1/range', undefined, admin)).json,
    collections: (await request(auth.url, 'GET', '/v1/collections', undefined, admin)).json,
    points: (await request(auth.url, 'POST', '/v1/collections/docs/search', { vector: [1, 0, 0], k: 100 }, admin)).json,
  }
}

test.serial('setup with the admin key', async (t) => {
  const admin = bearer(ADMIN_KEY)
  t.is((await request(auth.url, 'POST', '/v1/put', { key: 1, value: 'one' }, admin)).status, 200)
  t.is((await request(auth.url, 'POST', '/v1/put_fast/2', Buffer.from('two'), { ...admin, 'content-type': 'application/octet-stream' })).status, 204)
  t.is((await request(auth.url, 'POST', '/v1/collections', { name: 'docs', dimension: 3, metric: 'l2' }, admin)).status, 201)
  const up = await request(auth.url, 'POST', '/v1/collections/docs/points', { ids: [1, 2], vectors: [[1, 0, 0], [0, 1, 0]], metadata: [{ t: 'a' }, null] }, admin)
  t.deepEqual(up.json, { upserted: 2 })
})

test.serial('/health and /openapi.json need no key', async (t) => {
  t.deepEqual((await request(auth.url, 'GET', '/health')).json, { status: 'ok' })
  const doc = await request(auth.url, 'GET', '/openapi.json')
  t.is(doc.status, 200)
  t.regex(doc.json.openapi, /^3\./)
  t.truthy(doc.json.components.securitySchemes.bearer)
  t.truthy(doc.json.components.securitySchemes.apiKey)
  t.is((await request(auth.url, 'GET', '/health', undefined, bearer(WRONG_KEY))).status, 200, 'a wrong key does not hurt a public route')
})

test.serial('no key or a wrong key: 401 UNAUTHORIZED on every route; nothing changed', async (t) => {
  const before = await state()
  const badKeys: [string, Record<string, string>][] = [
    ['no key', {}],
    ['wrong bearer', bearer(WRONG_KEY)],
    ['wrong x-api-key', xApiKey(WRONG_KEY)],
    ['empty bearer', { authorization: 'Bearer ' }],
    ['admin key in another scheme', { authorization: `Basic ${ADMIN_KEY}` }],
    ['admin key with a suffix', bearer(`${ADMIN_KEY}x`)],
    ['admin key prefix', xApiKey(ADMIN_KEY.slice(0, -1))],
  ]
  for (const [what, key] of badKeys) {
    for (const c of [...reads, ...writes(0, 'docs')]) isError(t, await as(c, key), 401, 'UNAUTHORIZED', `${c.name} with ${what}`)
  }
  t.deepEqual(await state(), before)
})

test.serial('read key: 200 on read routes, 403 FORBIDDEN on write and admin routes; nothing changed', async (t) => {
  for (const key of [bearer(READ_KEY), xApiKey(READ_KEY), { authorization: `bearer ${READ_KEY}` }]) {
    for (const c of reads) {
      const r = await as(c, key)
      t.is(r.status, 200, `${c.name} with ${JSON.stringify(Object.keys(key))}: ${r.text}`)
    }
  }
  t.deepEqual((await as(reads[0]!, bearer(READ_KEY))).json, { key: 1, value: 'one' })
  t.is((await as(reads[1]!, xApiKey(READ_KEY))).text, 'two')
  t.is((await as(reads[4]!, bearer(READ_KEY))).json.results[0].id, 1)
  t.regex((await as(reads[9]!, bearer(READ_KEY))).text, /^kyrodb_appends_total \d+$/m)

  const before = await state()
  for (const key of [bearer(READ_KEY), xApiKey(READ_KEY)]) {
    for (const c of writes(0, 'docs')) isError(t, await as(c, key), 403, 'FORBIDDEN', `${c.name} with the read key`)
  }
  t.deepEqual(await state(), before)
})

test.serial('admin key: every route succeeds, as Bearer and as X-API-Key', async (t) => {
  for (const [n, key] of [bearer(ADMIN_KEY), xApiKey(ADMIN_KEY)].entries()) {
    for (const c of reads) t.is((await as(c, key)).status, 200, `${c.name} with the admin key`)
    for (const c of writes(n + 1)) {
      const r = await as(c, key)
      t.true(r.status >= 200 && r.status < 300, `${c.name} with ${Object.keys(key)[0]}: ${r.status} ${r.text}`)
    }
  }
  const admin = bearer(ADMIN_KEY)
  t.deepEqual((await request(auth.url, 'GET', '/v1/get_fast/201', undefined, admin)).bytes, Buffer.from([1]))
  t.deepEqual((await request(auth.url, 'GET', '/v1/get_fast/202', undefined, admin)).bytes, Buffer.from([2]))
  t.is((await request(auth.url, 'GET', '/v1/lookup?key=101', undefined, admin)).status, 404, 'put then delete')
  t.deepEqual((await request(auth.url, 'GET', '/v1/collections', undefined, admin)).json.collections.map((c: { name: string }) => c.name), ['docs'])
})

test.serial('the server output never contains a key', async (t) => {
  const out = auth.output()
  t.regex(out, /"msg":"request"/, 'requests were logged (debug)')
  t.regex(out, /"auth":true/)
  t.false(out.includes(ADMIN_KEY), 'admin key not in the output')
  t.false(out.includes(READ_KEY), 'read key not in the output')
  t.false(out.includes(WRONG_KEY), 'presented keys not in the output')
})

// ------------------------------------------------------------------ rate limiting

test.serial('rate limiting: a burst gets 429 RATE_LIMITED with Retry-After; /health is never limited', async (t) => {
  const burst = await Promise.all(
    Array.from({ length: 20 }, () => request(limited.url, 'GET', '/build_info', undefined, { 'x-api-key': ADMIN_KEY })),
  )
  const ok = burst.filter((r) => r.status === 200)
  const limitedReplies = burst.filter((r) => r.status === 429)
  t.is(ok.length + limitedReplies.length, 20, `only 200 and 429: ${burst.map((r) => r.status).join(' ')}`)
  t.true(ok.length >= 1, 'the first requests pass')
  t.true(limitedReplies.length >= 1, 'some are limited')
  for (const r of limitedReplies) {
    t.is(r.json.error.code, 'RATE_LIMITED')
    t.regex(r.headers.get('retry-after') ?? '', /^\d+$/)
  }
  // Guessing keys is throttled too: the limit applies before the key check.
  await new Promise((r) => setTimeout(r, 1100))
  const guesses = await Promise.all(
    Array.from({ length: 20 }, () => request(limited.url, 'GET', '/build_info', undefined, { 'x-api-key': WRONG_KEY })),
  )
  const statuses = new Set(guesses.map((r) => r.status))
  t.true(statuses.has(401) && statuses.has(429), `wrong keys: 401 then 429, got ${[...statuses].join(' ')}`)
  const health = await Promise.all(Array.from({ length: 30 }, () => request(limited.url, 'GET', '/health')))
  t.deepEqual(
    health.map((r) => r.status),
    Array(30).fill(200),
  )
})

// ------------------------------------------------------------------ the CLI

const node = (args: string[], env: Record<string, string> = {}) => {
  const clean: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KYRODB_') && k !== 'RUST_LOG') clean[k] = v
  return run(process.execPath, args, { cwd: repoRoot, env: { ...clean, ...env }, timeout: 30_000, killSignal: 'SIGKILL' })
}

interface ExecFailure {
  code?: number | string
  killed?: boolean
  signal?: string | null
  stderr?: string
}

test('serve refuses a non-loopback address without an API key, before opening anything', async (t) => {
  const parent = tempDataDir('kyrodb-refuse-')
  try {
    for (const host of ['0.0.0.0', '10.1.2.3', '::']) {
      const dir = join(parent, 'data')
      const err = (await t.throwsAsync(node(['dist/cli.js', 'serve', host, String(await freePort()), '--data-dir', dir]))) as ExecFailure
      t.false(err.killed, `${host}: exited by itself`)
      t.is(typeof err.code, 'number', `${host}: an exit code`)
      t.not(err.code, 0)
      t.regex(err.stderr ?? '', /API key/, host)
      t.regex(err.stderr ?? '', /KYRODB_API_KEY/, host)
      t.false(existsSync(dir), `${host}: no data directory created`)
    }
    // A key shorter than 16 characters is refused too.
    const err = (await t.throwsAsync(node(['dist/cli.js', 'serve', '127.0.0.1', String(await freePort()), '--data-dir', join(parent, 'd2')], { KYRODB_API_KEY: 'short' }))) as ExecFailure
    t.false(err.killed)
    t.not(err.code, 0)
    t.regex(err.stderr ?? '', /at least 16 characters/)
    t.false(existsSync(join(parent, 'd2')))
  } finally {
    rmSync(parent, { recursive: true, force: true })
  }
})

test('a second server on a data directory in use exits with an error; the first keeps serving', async (t) => {
  const err = (await t.throwsAsync(node(['dist/cli.js', 'serve', '127.0.0.1', String(await freePort()), '--data-dir', limited.dataDir]))) as ExecFailure
  t.false(err.killed)
  t.not(err.code, 0)
  t.regex(err.stderr ?? '', /already open/)
  t.deepEqual((await request(limited.url, 'GET', '/health')).json, { status: 'ok' })
})

test('--help and serve --help document every flag and environment variable', async (t) => {
  const top = (await node(['dist/cli.js', '--help'])).stdout
  const serve = (await node(['dist/cli.js', 'serve', '--help'])).stdout
  t.regex(top, /serve/)
  const flags = ['--data-dir', '--auto-snapshot-secs', '--wal-max-bytes', '--rmi-rebuild-appends', '--enable-rate-limiting', '--api-key', '--read-api-key', '--body-limit', '--log-level']
  for (const f of flags) t.true(serve.includes(f), `serve --help mentions ${f}`)
  const env = ['KYRODB_API_KEY', 'KYRODB_READ_API_KEY', 'KYRODB_RL_RPS', 'KYRODB_WARM_ON_START', 'RUST_LOG']
  for (const v of env) {
    t.true(top.includes(v), `--help mentions ${v}`)
    t.true(serve.includes(v), `serve --help mentions ${v}`)
  }
})
