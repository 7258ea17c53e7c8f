/**
 * The HTTP server across restarts on the same data directory: writes acknowledged over
 * HTTP survive a SIGKILL (no shutdown at all), and a SIGTERM shuts down cleanly (exit
 * code 0) with everything still there on the next start.
 */
import test, { type ExecutionContext } from 'ava'
import { once } from 'node:events'
import { rmSync } from 'node:fs'
import { connect } from 'node:net'
import { rng } from './helpers/data.js'
import { request, startServer, tempDataDir, type RunningServer } from './helpers/server.js'

const dataDir = tempDataDir('kyrodb-restart-')
const running: RunningServer[] = []

async function start(): Promise<RunningServer> {
  const s = await startServer([], { dataDir })
  running.push(s)
  return s
}

test.after.always(async () => {
  for (const s of running) await s.kill()
  rmSync(dataDir, { recursive: true, force: true })
})

const U64_MAX = '18446744073709551615'
const DIM = 5

/** What the test wrote: string values, byte values, deleted keys, points by collection. */
const strings = new Map<string, string>()
const bytes = new Map<string, Buffer>()
const deletedKeys = new Set<string>()
const collections = new Map<string, { dimension: number; metric: string; points: Map<string, { vector: number[]; metadata?: object }>; deleted: Set<string> }>()

const jsonKey = (k: string) => (BigInt(k) <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(k) : k)
const f32 = (v: number[]) => Array.from(Float32Array.from(v))

async function writeKv(s: RunningServer, round: number): Promise<void> {
  const put = async (key: string, value: string) => {
    const r = await request(s.url, 'POST', '/v1/put', { key, value })
    if (r.status !== 200) throw new Error(`put ${key}: ${r.text}`)
    strings.set(key, value)
    bytes.delete(key)
  }
  const putFast = async (key: string, value: Buffer) => {
    const r = await request(s.url, 'POST', `/v1/put_fast/${key}`, value, { 'content-type': 'application/x-www-form-urlencoded' })
    if (r.status !== 204) throw new Error(`put_fast ${key}: ${r.text}`)
    bytes.set(key, value)
    strings.delete(key)
  }
  const base = round * 1000
  for (let i = 0; i < 40; i++) await put(String(base + i), `round ${round} value ${i} ✓ ${'x'.repeat(i)}`)
  for (let i = 40; i < 60; i++) await putFast(String(base + i), Buffer.from(Array.from({ length: 3 * i }, (_, j) => (i * 31 + j * 7) & 0xff)))
  await put(String(base + 3), `round ${round} overwritten`) // an overwrite
  await putFast(String(base + 4), Buffer.from([0x00, 0xff, 0x00])) // a string replaced by bytes
  for (const k of [String(base + 5), String(base + 41)]) {
    const r = await request(s.url, 'POST', '/v1/delete', { key: k })
    if (!r.json.deleted) throw new Error(`delete ${k}: ${r.text}`)
    strings.delete(k)
    bytes.delete(k)
    deletedKeys.add(k)
  }
  if (round === 1) {
    await put(U64_MAX, 'the largest key')
    await putFast('9007199254740993', Buffer.from([0xff, 0xfe, 0x00, 0x01]))
  }
}

async function writeVectors(s: RunningServer, name: string, round: number): Promise<void> {
  if (!collections.has(name)) {
    const r = await request(s.url, 'POST', '/v1/collections', { name, dimension: DIM, metric: 'l2' })
    if (r.status !== 201) throw new Error(`create ${name}: ${r.text}`)
    collections.set(name, { dimension: DIM, metric: 'l2', points: new Map(), deleted: new Set() })
  }
  const c = collections.get(name)!
  const rand = rng(round * 17 + name.length)
  const vec = () => Array.from({ length: DIM }, () => rand() * 4 - 2)
  // JSON, with metadata, ids above 2^53 as strings.
  const ids: (number | string)[] = []
  const vectors: number[][] = []
  const metadata: (object | null)[] = []
  for (let i = 0; i < 30; i++) {
    ids.push(round * 10_000 + i)
    vectors.push(vec())
    metadata.push(i % 4 === 0 ? null : { round, i, label: `p${i}` })
  }
  if (round === 1) {
    ids.push(U64_MAX)
    vectors.push(vec())
    metadata.push({ big: true })
  }
  const up = await request(s.url, 'POST', `/v1/collections/${name}/points`, { ids, vectors, metadata })
  if (up.json?.upserted !== ids.length) throw new Error(`upsert: ${up.text}`)
  ids.forEach((id, i) => c.points.set(String(id), { vector: f32(vectors[i]!), ...(metadata[i] ? { metadata: metadata[i]! } : {}) }))
  // Binary, no metadata.
  const n = 25
  const body = Buffer.alloc(n * (8 + 4 * DIM))
  for (let i = 0; i < n; i++) {
    const id = round * 10_000 + 5_000 + i
    const v = f32(vec())
    body.writeBigUInt64LE(BigInt(id), 8 * i)
    v.forEach((x, j) => body.writeFloatLE(x, 8 * n + 4 * (i * DIM + j)))
    c.points.set(String(id), { vector: v })
  }
  const bin = await request(s.url, 'POST', `/v1/collections/${name}/points`, body, { 'content-type': 'application/octet-stream' })
  if (bin.json?.upserted !== n) throw new Error(`binary upsert: ${bin.text}`)
  // Deletes, one of each kind.
  const gone = [String(round * 10_000 + 1), String(round * 10_000 + 5_001)]
  if ((await request(s.url, 'DELETE', `/v1/collections/${name}/points/${gone[0]}`)).json?.deleted !== 1) throw new Error('delete point')
  if ((await request(s.url, 'POST', `/v1/collections/${name}/points/delete`, { ids: [gone[1]] })).json?.deleted !== 1) throw new Error('delete points')
  for (const id of gone) {
    c.points.delete(id)
    c.deleted.add(id)
  }
}

/** Everything written so far reads back exactly. */
async function verify(t: ExecutionContext, s: RunningServer, when: string): Promise<void> {
  for (const [k, v] of strings) t.deepEqual((await request(s.url, 'GET', `/v1/lookup?key=${k}`)).json, { key: jsonKey(k), value: v }, `${when}: lookup ${k}`)
  for (const [k, v] of bytes) {
    const r = await request(s.url, 'GET', `/v1/get_fast/${k}`)
    t.is(r.status, 200, `${when}: get_fast ${k}`)
    t.deepEqual(r.bytes, v, `${when}: get_fast ${k} bytes`)
    t.deepEqual((await request(s.url, 'GET', `/v1/lookup?key=${k}`)).json, { key: jsonKey(k), value: v.toString('base64'), encoding: 'base64' })
  }
  for (const k of deletedKeys) t.is((await request(s.url, 'GET', `/v1/lookup?key=${k}`)).status, 404, `${when}: deleted key ${k}`)
  const all = (await request(s.url, 'GET', '/v1/range?limit=10000')).json.entries as { key: number | string }[]
  const expectedKeys = [...strings.keys(), ...bytes.keys()].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).map(jsonKey)
  t.deepEqual(
    all.map((e) => e.key),
    expectedKeys,
    `${when}: the range holds exactly the live keys`,
  )
  t.is((await request(s.url, 'GET', '/v1/kv/stats')).json.keys, expectedKeys.length, `${when}: kv key count`)

  const list = (await request(s.url, 'GET', '/v1/collections')).json.collections
  t.deepEqual(
    list,
    [...collections].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, c]) => ({ name, dimension: c.dimension, metric: c.metric, count: c.points.size, idType: 'u64' })),
    `${when}: collections and counts`,
  )
  for (const [name, c] of collections) {
    for (const [id, p] of c.points) {
      t.deepEqual((await request(s.url, 'GET', `/v1/collections/${name}/points/${id}`)).json, { id: jsonKey(id), ...p }, `${when}: ${name}/${id}`)
    }
    for (const id of c.deleted) t.is((await request(s.url, 'GET', `/v1/collections/${name}/points/${id}`)).status, 404, `${when}: deleted ${name}/${id}`)
    // Search still finds each of a few points first, at distance 0.
    for (const id of [...c.points.keys()].slice(0, 5)) {
      const r = await request(s.url, 'POST', `/v1/collections/${name}/search`, { vector: c.points.get(id)!.vector, k: 1, withMetadata: false })
      t.deepEqual(r.json.results, [{ id: jsonKey(id), distance: 0 }], `${when}: search ${name}/${id}`)
    }
  }
}

test.serial('acknowledged writes survive SIGKILL; a restart on the same directory reads them back exactly', async (t) => {
  const first = await start()
  await writeKv(first, 1)
  await writeVectors(first, 'alpha', 1)
  await writeVectors(first, 'beta', 1)
  await verify(t, first, 'before the kill')
  t.is(await first.kill(), 'SIGKILL')

  const second = await start()
  await verify(t, second, 'after SIGKILL')
  // The restarted server takes writes as usual, also after a snapshot and more writes
  // that only the write-ahead log holds.
  await writeKv(second, 2)
  await writeVectors(second, 'alpha', 2)
  t.is((await request(second.url, 'POST', '/v1/snapshot')).status, 200)
  await writeKv(second, 3)
  await writeVectors(second, 'gamma', 3)
  t.is(await second.kill(), 'SIGKILL')

  const third = await start()
  await verify(t, third, 'after the second SIGKILL')
  t.is(await third.kill(), 'SIGKILL')
})

test.serial('SIGTERM shuts down cleanly (exit code 0) and the data is there on the next start', async (t) => {
  const s = await start()
  await writeKv(s, 4)
  await writeVectors(s, 'beta', 4)
  const code = await s.stop()
  t.is(code, 0, s.output())
  t.regex(s.output(), /shutting down/)
  t.regex(s.output(), /database closed/)

  const again = await start()
  await verify(t, again, 'after SIGTERM')
  t.is(await again.stop(), 0, again.output())
})

test.serial('SIGTERM during a request on a keep-alive connection: the request completes, then the server exits 0 at once', async (t) => {
  const s = await startServer()
  running.push(s)
  try {
    // A request in flight when SIGTERM arrives (headers received, body not yet sent), on a
    // connection the client keeps open afterwards, as pooling clients and load balancers do.
    const body = JSON.stringify({ key: 7, value: 'written during shutdown' })
    const socket = connect(s.port, '127.0.0.1')
    await once(socket, 'connect')
    let response = ''
    socket.on('data', (d) => (response += d))
    const until = async (what: string, ok: () => boolean) => {
      for (const deadline = Date.now() + 10_000; !ok(); await new Promise((r) => setTimeout(r, 20))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      }
    }
    socket.write(`POST /v1/put HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n`)
    await until('100 Continue (the server has the request)', () => response.includes('100 Continue'))
    s.child.kill('SIGTERM')
    await until('the shutdown to start', () => s.output().includes('shutting down'))
    socket.write(body)
    const exited = once(s.child, 'close').then(() => s.child.exitCode)
    // The client keeps its keep-alive connection open (it is destroyed only after this), so
    // the server exiting at all shows shutdown does not wait for an idle connection; the
    // 10 s race only turns a server that would wait forever into a failure.
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running after 10 s'), 10_000))])
    socket.destroy()
    t.regex(response, /HTTP\/1\.1 200 /, 'the request in flight is answered')
    t.regex(response, /\{"ok":true\}$/)
    t.is(code, 0, `the server exits with 0 while an idle keep-alive connection stays open: ${s.output()}`)
    t.regex(s.output(), /database closed/)

    const again = await startServer([], { dataDir: s.dataDir })
    running.push(again)
    t.deepEqual((await request(again.url, 'GET', '/v1/lookup?key=7')).json, { key: 7, value: 'written during shutdown' })
    t.is(await again.stop(), 0)
  } finally {
    rmSync(s.dataDir, { recursive: true, force: true })
  }
})
