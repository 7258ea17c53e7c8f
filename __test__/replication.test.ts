/**
 * Replication (issue 20) API pieces: the record codec round trip and its refusals, typed
 * errors for bad configuration, UNAVAILABLE with no NATS server (reads keep working), and —
 * with a single-server JetStream (`nats-server` on PATH; required when
 * KYRODB_REQUIRE_NATS=1) — two nodes converging, read-your-writes, message-id dedup, a
 * record of a newer format, a directory of another stream, a misconfigured stream, the
 * idempotent re-apply of a collection record, and bootstrap from a snapshot.
 * The fault test with 3 servers and 3 nodes is `npm run test:replication`.
 */
import test, { type ExecutionContext } from 'ava'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@nats-io/transport-node'
import { jetstream, jetstreamManager } from '@nats-io/jetstream'
import { open, ReplicationError, UnavailableError, type Database } from '../src-ts/index.js'
import { decodeRecord, encodeRecord, type ReplicatedRecord } from '../src-ts/replication/codec.js'
import { MARKER_KEY } from '../src-ts/replication/applier.js'

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-repl-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('codec: every record kind round trips', (t) => {
  const records: ReplicatedRecord[] = [
    { kind: 'create', collection: 'c', options: { dimension: 3, metric: 'l2', index: false, idType: 'u64' } },
    { kind: 'drop', collection: 'c' },
    { kind: 'upsert', collection: 'c', ids: new BigUint64Array([1n, 2n ** 64n - 1n]), dimension: 2, vectors: new Float32Array([1, 2, 3.5, -4]), metadata: ['{"a":1}', null] },
    { kind: 'upsert', collection: 's', ids: ['x', 'ü'], dimension: 1, vectors: new Float32Array([1, 2]), metadata: undefined },
    { kind: 'delete', collection: 'c', ids: new BigUint64Array([7n]) },
    { kind: 'delete', collection: 's', ids: ['x'] },
    { kind: 'kv', keys: new BigUint64Array([1n, 2n, 3n]), kinds: new Uint8Array([2, 0, 1]), ends: new Uint32Array([3, 3, 5]), values: new Uint8Array([97, 98, 99, 1, 2]) },
    { kind: 'kv', keys: new BigUint64Array(0), kinds: new Uint8Array(0), ends: new Uint32Array(0), values: new Uint8Array(0) },
  ]
  for (const r of records) t.deepEqual(decodeRecord(encodeRecord(r)), r)
})

test('codec: a newer format version, bad magic, truncation and trailing bytes are typed refusals', (t) => {
  const buf = encodeRecord({ kind: 'drop', collection: 'c' })
  const newer = Buffer.from(buf)
  newer[4] = 2
  const e = t.throws(() => decodeRecord(newer), { instanceOf: ReplicationError })
  t.is(e.reason, 'record-version')
  t.is(e.code, 'INVALID_ARGUMENT')
  const magic = Buffer.from(buf)
  magic[0] = 0
  t.is(t.throws(() => decodeRecord(magic), { instanceOf: ReplicationError }).reason, 'record-format')
  const up = encodeRecord({ kind: 'upsert', collection: 'c', ids: new BigUint64Array([1n]), dimension: 2, vectors: new Float32Array([1, 2]), metadata: undefined })
  t.is(t.throws(() => decodeRecord(up.subarray(0, up.length - 1)), { instanceOf: ReplicationError }).reason, 'record-format')
  t.is(t.throws(() => decodeRecord(Buffer.concat([up, Buffer.from([0])])), { instanceOf: ReplicationError }).reason, 'record-format')
})

test('bad configuration: typed ReplicationError (reason config), nothing opened', async (t) => {
  const dir = tempDir(t)
  const bad: unknown[] = [
    null,
    { node: 'a' },
    { servers: [], node: 'a' },
    { servers: 'http://x:1', node: 'a' },
    { servers: 'nats://127.0.0.1:4222' },
    { servers: 'nats://127.0.0.1:4222', node: 'a b' },
    { servers: 'nats://127.0.0.1:4222', node: 'a', stream: 'x.y' },
    { servers: 'nats://127.0.0.1:4222', node: 'a', consistency: 'eventual' },
    { servers: 'nats://127.0.0.1:4222', node: 'a', replicas: 7 },
    { servers: 'nats://127.0.0.1:4222', node: 'a', timeoutMs: 0 },
    { servers: 'nats://127.0.0.1:4222', node: 'a', bogus: 1 },
  ]
  for (const replication of bad) {
    const err = await t.throwsAsync(open(dir, { replication: replication as never }), { instanceOf: ReplicationError })
    t.is(err.reason, 'config', JSON.stringify(replication))
  }
  const mem = await t.throwsAsync(open(null, { replication: { servers: 'nats://127.0.0.1:4222', node: 'a' } }), { instanceOf: ReplicationError })
  t.is(mem.reason, 'config')
})

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

test('no NATS server: open works, reads answer, writes fail with UNAVAILABLE after the bounded wait', async (t) => {
  const dir = tempDir(t)
  const port = await freePort()
  const t0 = Date.now()
  const db = await open(dir, { replication: { servers: `nats://127.0.0.1:${port}`, node: 'a', timeoutMs: 300 } })
  t.teardown(() => db.close())
  t.true(Date.now() - t0 < 3000)
  t.is(await db.kv.get(1), undefined)
  t.is(await db.kv.count(), 0)
  const t1 = Date.now()
  const err = await t.throwsAsync(db.kv.put(1, 'x'), { instanceOf: UnavailableError })
  t.is(err.code, 'UNAVAILABLE')
  t.true(Date.now() - t1 < 3000, `bounded wait, took ${Date.now() - t1} ms`)
  await t.throwsAsync(db.createCollection('c', { dimension: 2 }), { instanceOf: UnavailableError })
  const s = await db.replication!.status()
  t.false(s.connected)
  t.is(s.appliedSeq, 0)
  t.deepEqual(db.listCollections(), [])
})

// ---- with a JetStream server ----------------------------------------------------------------

const haveNats = spawnSync('nats-server', ['--version']).status === 0
const natsTest = haveNats || process.env.KYRODB_REQUIRE_NATS === '1' ? test.serial : test.skip

async function startNats(t: ExecutionContext): Promise<string> {
  const port = await freePort()
  const store = tempDir(t)
  const p: ChildProcess = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', String(port), '-sd', store], { stdio: 'ignore' })
  t.teardown(() => void p.kill('SIGKILL'))
  const url = `nats://127.0.0.1:${port}`
  for (let i = 0; i < 100; i++) {
    try {
      const nc = await connect({ servers: url })
      await (await jetstreamManager(nc)).getAccountInfo()
      await nc.close()
      return url
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  throw new Error('nats-server did not start')
}

async function node(t: ExecutionContext, servers: string, name: string, dir = tempDir(t), stream = 'T', extra: object = {}): Promise<Database> {
  const db = await open(dir, { durability: 'none', replication: { servers, node: name, stream, replicas: 1, timeoutMs: 3000, ...extra } })
  t.teardown(() => db.close())
  return db
}

async function dump(db: Database): Promise<unknown> {
  const kv: [string, unknown][] = []
  for await (const [k, v] of db.kv.range()) kv.push([String(k), v])
  const cols = db.listCollections()
  const rows = []
  for (const c of cols) {
    const hits = c.count === 0 ? [] : await db.collection(c.name).search(new Float32Array(c.dimension).fill(0.5), { k: c.count, withVectors: true })
    rows.push([c.name, hits.map((h) => [h.id, Array.from(h.vector!), h.metadata])])
  }
  return { kv, cols, rows }
}

natsTest('two nodes: writes on either node are acknowledged after the local apply and converge', async (t) => {
  const url = await startNats(t)
  const a = await node(t, url, 'a')
  const b = await node(t, url, 'b')
  const c = await a.createCollection('docs', { dimension: 2, metric: 'l2', index: false })
  t.is(await c.upsert([1, 2, 3], [[1, 0], [0, 1], [1, 1]], [{ x: 1 }, undefined, { y: 'z' }]), 3)
  t.is(c.count(), 3) // read-your-writes on a
  await a.kv.putBatch([[1, 'one'], [2, Buffer.from([2])]])
  await b.replication!.waitForSeq(a.replication!.appliedSeq)
  t.is(await b.collection('docs').delete([2]), 1)
  await b.kv.delete(1)
  t.is(await b.kv.get(1), undefined)
  await a.replication!.waitForSeq(b.replication!.appliedSeq)
  t.deepEqual(await dump(a), await dump(b))
  t.is(await a.kv.count(), 1) // the marker key is hidden
  await t.throwsAsync(a.kv.put(MARKER_KEY, 'x'), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(a.collection('docs').upsert([9], [[NaN, 0]]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(a.createCollection('docs', { dimension: 2 }), { code: 'ALREADY_EXISTS' })
  const s = await a.replication!.status()
  t.is(s.appliedSeq, s.streamLastSeq)
  t.is(s.lagMessages, 0)
  t.is(s.error, null)
  t.is(s.streamState?.lastSeq, s.appliedSeq)
})

natsTest('Nats-Msg-Id: a record published twice with one id is stored and applied once', async (t) => {
  const url = await startNats(t)
  const a = await node(t, url, 'a')
  await a.kv.put(1, 'first')
  const nc = await connect({ servers: url })
  t.teardown(() => nc.close())
  const js = jetstream(nc)
  const rec = encodeRecord({ kind: 'kv', keys: new BigUint64Array([5n]), kinds: new Uint8Array([2]), ends: new Uint32Array([1]), values: new Uint8Array([120]) })
  const x = await js.publish('kyrodb.T.w', rec, { msgID: 'retry-1' })
  const y = await js.publish('kyrodb.T.w', rec, { msgID: 'retry-1' })
  t.false(x.duplicate)
  t.true(y.duplicate)
  t.is(x.seq, y.seq)
  await a.replication!.waitForSeq(x.seq)
  const s = await a.replication!.status()
  t.is(s.streamState?.messages, 2)
  t.is(await a.kv.get(5), 'x')
})

natsTest('a record of a newer format version stops the applier with a typed error; nothing applied; writes UNAVAILABLE', async (t) => {
  const url = await startNats(t)
  const a = await node(t, url, 'a')
  await a.kv.put(1, 'one')
  const before = a.replication!.appliedSeq
  const nc = await connect({ servers: url })
  t.teardown(() => nc.close())
  const rec = encodeRecord({ kind: 'kv', keys: new BigUint64Array([2n]), kinds: new Uint8Array([2]), ends: new Uint32Array([1]), values: new Uint8Array([120]) })
  rec[4] = 9
  await jetstream(nc).publish('kyrodb.T.w', rec)
  let s = await a.replication!.status()
  for (let i = 0; i < 100 && s.error === null; i++) {
    await new Promise((r) => setTimeout(r, 20))
    s = await a.replication!.status()
  }
  t.is(s.error?.reason, 'record-version')
  t.is(s.appliedSeq, before)
  t.is(await a.kv.get(2), undefined)
  t.is(await a.kv.get(1), 'one')
  await t.throwsAsync(a.kv.put(3, 'x'), { instanceOf: UnavailableError })
})

natsTest('a directory of another stream, or with data not from a stream, is refused (foreign-data)', async (t) => {
  const url = await startNats(t)
  const dir = tempDir(t)
  const a = await open(dir, { replication: { servers: url, node: 'a', stream: 'S1', replicas: 1 } })
  await a.kv.put(1, 'x')
  await a.close()
  const e = await t.throwsAsync(open(dir, { replication: { servers: url, node: 'a', stream: 'S2', replicas: 1 } }), { instanceOf: ReplicationError })
  t.is(e.reason, 'foreign-data')
  const plainDir = tempDir(t)
  const plain = await open(plainDir)
  await plain.kv.put(1, 'local')
  await plain.close()
  const f = await t.throwsAsync(open(plainDir, { replication: { servers: url, node: 'a', stream: 'S1', replicas: 1 } }), { instanceOf: ReplicationError })
  t.is(f.reason, 'foreign-data')
  // Nothing was applied to it: still the local data only.
  const again = await open(plainDir)
  t.is(await again.kv.count(), 1)
  t.is(await again.kv.get(MARKER_KEY), undefined)
  await again.close()
})

natsTest('a stream with a configuration that does not fit is refused (stream-config)', async (t) => {
  const url = await startNats(t)
  const nc = await connect({ servers: url })
  t.teardown(() => nc.close())
  const jsm = await jetstreamManager(nc)
  await jsm.streams.add({ name: 'W', subjects: ['other.>'], max_msgs: 10 })
  const e = await t.throwsAsync(open(tempDir(t), { replication: { servers: url, node: 'a', stream: 'W', replicas: 1 } }), { instanceOf: ReplicationError })
  t.is(e.reason, 'stream-config')
  t.regex(e.message, /subjects/)
})

natsTest('exactly once: each record is tagged with its sequence; a reopened node re-applies nothing, even with a stale marker', async (t) => {
  const url = await startNats(t)
  const dir = tempDir(t)
  const a = await node(t, url, 'a', dir)
  const c = await a.createCollection('docs', { dimension: 2, metric: 'l2', index: false })
  await c.upsert([1, 2], [[1, 0], [0, 1]])
  await c.delete([1])
  await c.upsert([3], [[2, 2]], [{ m: 1 }])
  await a.kv.put(4, 'four')
  const seq = a.replication!.appliedSeq
  const before = await dump(a)
  await a.close()
  // The engine's tag is the sequence of the last record applied, in the same WAL frame.
  const raw = await open(dir)
  t.is(raw.lastTag(), BigInt(seq))
  // A marker of the scheme before tags (applied sequence in a separate frame), behind.
  const m = JSON.parse((await raw.kv.get(MARKER_KEY)) as string) as { seq: number }
  await raw.kv.put(MARKER_KEY, JSON.stringify({ ...m, seq: seq - 3 }))
  await raw.close()
  const again = await node(t, url, 'a', dir)
  t.is(again.replication!.appliedSeq, seq)
  await again.kv.put(5, 'five')
  t.deepEqual(await dump(again), { ...(before as object), kv: [...(before as { kv: [string, unknown][] }).kv, ['5', 'five']] })
  t.is((await again.replication!.status()).appliedRecords, 1) // only the new record
})

natsTest('batches: records delivered together are applied as write groups, in stream order; a refused record is a no-op', async (t) => {
  const url = await startNats(t)
  const a = await node(t, url, 'a')
  const c = await a.createCollection('docs', { dimension: 2, metric: 'l2', index: false })
  await c.upsert([1], [[1, 1]])
  const nc = await connect({ servers: url })
  t.teardown(() => nc.close())
  const js = jetstream(nc)
  const kv = (key: bigint, value: string) =>
    encodeRecord({ kind: 'kv', keys: new BigUint64Array([key]), kinds: new Uint8Array([2]), ends: new Uint32Array([value.length]), values: Buffer.from(value) })
  const records: { data: Uint8Array; key?: bigint; value?: string; row?: number | null }[] = []
  for (let i = 0; i < 400; i++) {
    if (i % 50 === 7) records.push({ data: encodeRecord({ kind: 'delete', collection: 'docs', ids: new BigUint64Array([1n]) }), row: null })
    else if (i % 50 === 8) records.push({ data: encodeRecord({ kind: 'upsert', collection: 'docs', ids: new BigUint64Array([1n]), dimension: 2, vectors: new Float32Array([i, 1]), metadata: undefined }), row: i })
    else if (i === 100) records.push({ data: encodeRecord({ kind: 'upsert', collection: 'missing', ids: new BigUint64Array([1n]), dimension: 2, vectors: new Float32Array([1, 1]), metadata: undefined }) })
    else records.push({ data: kv(i % 3 === 0 ? 1n : BigInt(1000 + i), `v${i}`), key: i % 3 === 0 ? 1n : BigInt(1000 + i), value: `v${i}` })
  }
  const acks = await Promise.all(records.map((r) => js.publish('kyrodb.T.w', r.data)))
  const last = Math.max(...acks.map((x) => x.seq))
  await a.replication!.waitForSeq(last)
  // In stream order: the hot key holds the value of its record with the highest sequence.
  const order = acks.map((x, i) => ({ seq: x.seq, r: records[i]! })).sort((x, y) => x.seq - y.seq)
  const hot = order.filter((x) => x.r.key === 1n).pop()!.r.value
  t.is(await a.kv.get(1), hot)
  const row = order.filter((x) => x.r.row !== undefined).pop()!.r.row
  const v = await c.get(1)
  t.deepEqual(v === null ? null : Array.from(v.vector), row === null ? null : [row, 1])
  t.is(await a.kv.count(), new Set(records.filter((r) => r.key !== undefined).map((r) => r.key)).size)
  const s = await a.replication!.status()
  t.is(s.refusedRecords, 1)
  t.true(s.appliedBatches < s.appliedRecords, `${s.appliedRecords} records in ${s.appliedBatches} batches`)
  t.log(`${s.appliedRecords} records in ${s.appliedBatches} batches`)
  t.is(s.error, null)
})

natsTest('bootstrap: a new node restores the newest snapshot, the stream is trimmed below it, then it applies the tail', async (t) => {
  const url = await startNats(t)
  const a = await node(t, url, 'a')
  const c = await a.createCollection('docs', { dimension: 2, metric: 'l2', index: false })
  for (let i = 0; i < 20; i++) await c.upsert([i], [[i, 1]], [{ i }])
  await a.kv.put(7, 'seven')
  const snap = await a.replication!.publishSnapshot()
  t.is(snap.seq, a.replication!.appliedSeq)
  t.is(snap.trimmedBelow, snap.seq + 1)
  await c.delete([3])
  await a.kv.put(8, 'eight')
  const s = await a.replication!.status()
  t.is(s.streamState?.firstSeq, snap.seq + 1)
  t.is(s.snapshot?.seq, snap.seq)
  const b = await node(t, url, 'b')
  await b.replication!.waitForSeq(a.replication!.appliedSeq)
  t.deepEqual(await dump(b), await dump(a))
  t.is(b.collection('docs').count(), 19)
})

natsTest('a node down past the trim replaces its directory with the newest snapshot when it reopens', async (t) => {
  const url = await startNats(t)
  const a = await node(t, url, 'a', undefined, 'T', { keepSnapshots: 1 })
  const bDir = tempDir(t)
  const b = await node(t, url, 'b', bDir)
  const c = await a.createCollection('docs', { dimension: 2, metric: 'l2', index: false })
  await c.upsert([1, 2], [[1, 0], [0, 1]])
  await b.replication!.waitForSeq(a.replication!.appliedSeq)
  const bApplied = b.replication!.appliedSeq
  await b.close()
  for (let i = 3; i < 10; i++) await c.upsert([i], [[i, i]])
  await a.kv.put(1, 'one')
  const snap = await a.replication!.publishSnapshot()
  t.true(snap.trimmedBelow > bApplied + 1, `trimmed below ${snap.trimmedBelow}, b applied ${bApplied}`)
  await c.delete([2])
  const back = await node(t, url, 'b', bDir)
  t.true(back.replication!.appliedSeq >= snap.seq)
  await back.replication!.waitForSeq(a.replication!.appliedSeq)
  t.deepEqual(await dump(back), await dump(a))
  t.is((await back.replication!.status()).error, null)
})

natsTest('consistency stored: resolves when JetStream stored it; the node applies it right after', async (t) => {
  const url = await startNats(t)
  const a = await node(t, url, 'a', undefined, 'T', { consistency: 'stored' })
  await a.kv.put(1, 'x')
  const seq = (await a.replication!.status()).streamLastSeq
  await a.replication!.waitForSeq(seq)
  t.is(await a.kv.get(1), 'x')
})
