/**
 * Tags and write groups through the binding: `db.writeGroup` applies writes in order in as
 * few WAL groups as it can, each write's tag logged in its own WAL frame; `db.lastTag()`
 * after a reopen and after SIGKILLs (a child applying tagged groups is killed at random
 * moments: every write whose tag is at most `lastTag()` is present, and none after it);
 * typed errors for bad input.
 */
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { open } from '../src-ts/index.js'

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-tags-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('writeGroup applies in order, each write checked after the ones before it; lastTag survives a reopen', async (t) => {
  const dir = tempDir(t)
  const db = await open(dir)
  t.is(db.lastTag(), null)
  await db.createCollection('v', { dimension: 2, metric: 'l2', index: false, tag: 1n })
  t.is(db.lastTag(), 1n)
  const before = db.stats().walFsyncs
  const out = await db.writeGroup([
    { kind: 'upsert', collection: 'v', ids: [1, 2, 3], vectors: [[1, 0], [0, 1], [1, 1]], metadata: [{ a: 1 }, undefined, null], tag: 2n },
    { kind: 'kv', writes: [{ type: 'put', key: 5, value: 'five' }], tag: 3n },
    { kind: 'delete', collection: 'v', ids: [1, 9], tag: 4n },
    { kind: 'kv', writes: [{ type: 'del', key: 5 }], tag: 5n },
  ])
  t.deepEqual(out, [
    { ok: true, changed: 3 },
    { ok: true, changed: 1 },
    { ok: true, changed: 1 },
    { ok: true, changed: 1 },
  ])
  // Two WAL groups (the delete waits for the upsert before it): at most two fsyncs.
  t.true(db.stats().walFsyncs - before <= 2, `${db.stats().walFsyncs - before} fsyncs`)
  t.is(db.collection('v').count(), 2)
  t.is(await db.kv.get(5), undefined)
  t.deepEqual((await db.collection('v').get(3))?.metadata, undefined)
  t.deepEqual((await db.collection('v').get(2))?.vector, new Float32Array([0, 1]))
  t.is(db.lastTag(), 5n)
  await db.dropCollection('v', { tag: 6n })
  t.is(db.lastTag(), 6n)
  await db.close()
  const again = await open(dir)
  t.is(again.lastTag(), 6n)
  t.deepEqual(again.listCollections(), [])
  await again.close()
})

test('a refused write changes nothing, resolves with its typed error, and its tag is still recorded', async (t) => {
  const dir = tempDir(t)
  const db = await open(dir)
  await db.createCollection('v', { dimension: 2, metric: 'l2', index: false })
  const out = await db.writeGroup([
    { kind: 'upsert', collection: 'v', ids: [1], vectors: [[1, 0]], tag: 10n },
    { kind: 'upsert', collection: 'missing', ids: [1], vectors: [[1, 0]], tag: 11n },
    { kind: 'upsert', collection: 'v', ids: [2, 2], vectors: [[1, 0], [0, 1]], tag: 12n },
    { kind: 'tag', tag: 13n },
  ])
  t.deepEqual(out[0], { ok: true, changed: 1 })
  t.false(out[1]!.ok)
  t.is(!out[1]!.ok && out[1]!.error.code, 'NOT_FOUND')
  t.is(!out[2]!.ok && out[2]!.error.code, 'INVALID_ARGUMENT')
  t.deepEqual(out[3], { ok: true, changed: 0 })
  t.is(db.collection('v').count(), 1)
  t.is(db.lastTag(), 13n)
  await db.close()
  const again = await open(dir)
  t.is(again.lastTag(), 13n)
  await again.close()
})

test('bad input: typed errors, nothing written; in memory, tags are refused', async (t) => {
  const db = await open(tempDir(t))
  await db.createCollection('v', { dimension: 2, metric: 'l2', index: false })
  const bad: unknown[] = [
    [{ kind: 'tag', tag: -1n }],
    [{ kind: 'tag', tag: 1n << 64n }],
    [{ kind: 'tag', tag: 5 }],
    [{ kind: 'tag' }],
    [{ kind: 'nope', tag: 1n }],
    [{ kind: 'upsert', collection: 7, ids: [1], vectors: [[1, 0]] }],
    [null],
    'not an array',
  ]
  for (const b of bad) {
    await t.throwsAsync(db.writeGroup(b as never), { code: 'INVALID_ARGUMENT' }, JSON.stringify(b, (_, v) => (typeof v === 'bigint' ? String(v) : v)))
  }
  await t.throwsAsync(db.createCollection('w', { dimension: 2, tag: -1n }), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(db.dropCollection('v', { tag: 'x' as never }), { code: 'INVALID_ARGUMENT' })
  t.is(db.lastTag(), null)
  t.is(db.collection('v').count(), 0)
  await db.close()
  const mem = await open()
  await mem.createCollection('v', { dimension: 2, metric: 'l2', index: false })
  await t.throwsAsync(mem.writeGroup([{ kind: 'tag', tag: 1n }]), { code: 'INVALID_ARGUMENT' })
  await t.throwsAsync(mem.createCollection('w', { dimension: 2, tag: 1n }), { code: 'INVALID_ARGUMENT' })
  t.deepEqual(await mem.writeGroup([{ kind: 'upsert', collection: 'v', ids: [1], vectors: [[1, 0]] }]), [{ ok: true, changed: 1 }])
  t.is(mem.lastTag(), null)
  await mem.close()
})

// A child applying tagged writes: position p is a key-value put (even p) or an upsert (odd
// p), tagged p, four to a group; it resumes after lastTag() (exactly once) until killed.
const CHILD = `
const { open } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))})
;(async () => {
  const db = await open(process.argv[1])
  let c
  try { c = db.collection('v') } catch { c = await db.createCollection('v', { dimension: 2, metric: 'l2', index: false }) }
  let p = Number(db.lastTag() ?? 0n) + 1
  process.stdout.write('ready\\n')
  for (;;) {
    const ws = []
    for (let i = 0; i < 4; i++, p++) {
      ws.push(p % 2 === 0
        ? { kind: 'kv', writes: [{ type: 'put', key: p, value: 'v' + p }], tag: BigInt(p) }
        : { kind: 'upsert', collection: 'v', ids: [p], vectors: [[p, 1]], tag: BigInt(p) })
    }
    const out = await db.writeGroup(ws)
    if (out.some((o) => !o.ok)) throw new Error('a write failed: ' + JSON.stringify(out))
  }
})().catch((e) => { process.stderr.write(String(e && e.stack)); process.exit(3) })
`

async function runAndKill(dir: string, ms: number): Promise<void> {
  const child = spawn(process.execPath, ['-e', CHILD, dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve())
    child.once('exit', (code) => reject(new Error(`child exited with ${code} before it was ready`)))
  })
  await new Promise((r) => setTimeout(r, ms))
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGKILL')
  await exited
}

test('SIGKILL at random moments: every write tagged up to lastTag() is present, none after it', async (t) => {
  const dir = tempDir(t)
  let last = 0
  for (let trial = 0; trial < 6; trial++) {
    await runAndKill(dir, 80 + ((trial * 97) % 250))
    const db = await open(dir)
    const tag = Number(db.lastTag() ?? 0n)
    t.true(tag >= last, `trial ${trial}: lastTag ${tag} went back from ${last}`)
    const v = db.collection('v')
    // Odd positions ≤ tag are rows, even positions are keys; nothing past the tag.
    t.is(v.count(), Math.ceil(tag / 2), `trial ${trial}: rows at tag ${tag}`)
    t.is(await db.kv.count(), Math.floor(tag / 2), `trial ${trial}: keys at tag ${tag}`)
    for (const p of [tag - 1, tag, tag + 1, tag + 2].filter((p) => p > 0)) {
      const present = p % 2 === 0 ? (await db.kv.get(p)) === `v${p}` : (await v.get(p)) !== null
      t.is(present, p <= tag, `trial ${trial}: position ${p} at tag ${tag}`)
    }
    last = tag
    await db.close()
  }
  t.true(last > 40, `only ${last} writes applied across the trials`)
})
