// Key-value store from Node, side by side with lmdb-js in one run:
//
// 1. Durable batched writes: `--write-rows` entries (100-byte values) in batches of
//    `--batch`, each batch acknowledged only once fsynced: KyroDB `kv.putBatch` in `full`
//    mode vs lmdb-js `db.batch()` with its default sync commit.
// 2. Reads on `--keys` keys (default 10M) with 100-byte values, random present keys from a
//    fixed seed: `getSync` per second and its p50/p99 latency (each call timed with
//    `process.hrtime.bigint()`, the timer's own cost measured and subtracted); async `get`
//    in groups of 1,000 (KyroDB batches a tick's gets into one native lookup; lmdb-js `get`
//    is synchronous, its async batch read is `getMany`); `getMany` of 1,000 keys.
//    KyroDB is measured twice: right after the load (several sorted runs) and after
//    `kv.buildIndex()` (one run, one learned index over every key).
// 3. Recovery: `--wal-mb` (default 1024) MB of key-value batches left only in the WAL (the
//    memtable bound raised so nothing is flushed, the writer process killed), then the
//    time for a fresh process to open the database and answer a first get; replay MB/s.
//
//   node --expose-gc benches/kv.mjs [--keys 10000000] [--reads 1000000] [--write-rows 200000]
//        [--batch 1000] [--wal-mb 1024] [--peers lmdb] [--only write|read|recovery]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { machineInfo } from './datasets/glove.mjs'
import { ensurePeers, loadPeer } from './peers/load.mjs'
import { REPO_DIR, fmt, percentile, table, writeSection } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require(path.join(REPO_DIR, 'dist', 'index.js'))

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const KEYS = Number(args.keys ?? 10_000_000)
const READS = Number(args.reads ?? 1_000_000)
const WRITE_ROWS = Number(args['write-rows'] ?? 200_000)
const BATCH = Number(args.batch ?? 1000)
const VALUE_BYTES = 100
const PEERS = (args.peers ?? 'lmdb').split(',').filter(Boolean)
const ONLY = args.only
const TMP = fs.mkdtempSync(path.join(process.env.KYRODB_BENCH_DIR ?? os.tmpdir(), 'kyrodb-kv-bench-'))

// Keys: uniform sparse below 2^53 (so both stores take plain numbers), unique, fixed seed.
function lcg(seed) {
  let s = BigInt(seed)
  return () => {
    s = (s * 6364136223846793005n + 1442695040888963407n) & ((1n << 64n) - 1n)
    return s
  }
}
function makeKeys(n, seed) {
  const next = lcg(seed)
  const set = new Set()
  while (set.size < n) set.add(Number(next() >> 11n))
  return Float64Array.from(set)
}
function valueOf(key) {
  const b = Buffer.alloc(VALUE_BYTES)
  b.writeDoubleLE(key, 0)
  for (let i = 8; i < VALUE_BYTES; i++) b[i] = (key + i) & 255
  return b
}

function gc() {
  if (global.gc) global.gc()
}

async function kyroWrites(keys) {
  const dir = path.join(TMP, 'kyro-write')
  const db = await kyrodb.open(dir, { durability: 'full' })
  const t0 = performance.now()
  for (let i = 0; i < keys.length; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(i + BATCH, keys.length); j++) batch.push([keys[j], valueOf(keys[j])])
    await db.kv.putBatch(batch)
  }
  const secs = (performance.now() - t0) / 1000
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return { name: `KyroDB kv.putBatch (${BATCH}/batch, durability 'full')`, rate: keys.length / secs }
}

async function lmdbWrites(lmdb, keys) {
  const dir = path.join(TMP, 'lmdb-write')
  const db = lmdb.open({ path: dir, encoding: 'binary' })
  const t0 = performance.now()
  for (let i = 0; i < keys.length; i += BATCH) {
    await db.batch(() => {
      for (let j = i; j < Math.min(i + BATCH, keys.length); j++) db.put(keys[j], valueOf(keys[j]))
    })
  }
  const secs = (performance.now() - t0) / 1000
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return { name: `lmdb-js db.batch (${BATCH}/batch, sync commit)`, rate: keys.length / secs }
}

function timerOverheadNs() {
  let best = Infinity
  for (let r = 0; r < 5; r++) {
    const n = 200_000
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < n; i++) {
      process.hrtime.bigint()
    }
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n)
  }
  return best
}

/** Read figures of one store given its sync get, async get and getMany. */
async function readFigures(name, queries, { getSync, getAsync, getMany }) {
  // Warm (page cache + JIT) with a first pass over a slice.
  for (let i = 0; i < Math.min(queries.length, 100_000); i++) getSync(queries[i])
  gc()
  let found = 0
  let t0 = performance.now()
  for (let i = 0; i < queries.length; i++) if (getSync(queries[i]) !== undefined) found++
  const syncRate = queries.length / ((performance.now() - t0) / 1000)
  if (found !== queries.length) throw new Error(`${name}: found ${found} of ${queries.length} keys`)
  // Latency of single calls.
  const overhead = timerOverheadNs()
  const lat = new Float64Array(Math.min(queries.length, 200_000))
  for (let i = 0; i < lat.length; i++) {
    const a = process.hrtime.bigint()
    getSync(queries[i])
    lat[i] = Math.max(0, Number(process.hrtime.bigint() - a) - overhead)
  }
  lat.sort()
  gc()
  t0 = performance.now()
  for (let i = 0; i < queries.length; i += 1000) {
    await Promise.all(Array.from(queries.subarray(i, i + 1000), (k) => getAsync(k)))
  }
  const asyncRate = queries.length / ((performance.now() - t0) / 1000)
  gc()
  t0 = performance.now()
  for (let i = 0; i < queries.length; i += 1000) await getMany(Array.from(queries.subarray(i, i + 1000)))
  const manyRate = queries.length / ((performance.now() - t0) / 1000)
  return { name, syncRate, p50: percentile(lat, 50), p99: percentile(lat, 99), asyncRate, manyRate }
}

/** Fill a WAL with `--wal-mb` MB of batches in a child process that is then killed; reopen. */
async function recovery() {
  const { execFileSync, spawn } = await import('node:child_process')
  const WAL_MB = Number(args['wal-mb'] ?? 1024)
  const dir = path.join(TMP, 'kyro-recovery')
  const writer = `
    const kyrodb = require(${JSON.stringify(path.join(REPO_DIR, 'dist', 'index.js'))})
    ;(async () => {
      const db = await kyrodb.open(${JSON.stringify(dir)}, { durability: 'none', kvMemtableBytes: 64 * 2 ** 30, rmiRebuildAppends: 2 ** 50 })
      const target = ${WAL_MB} * 2 ** 20
      let bytes = 0, k = 0
      while (bytes < target) {
        const batch = []
        for (let i = 0; i < 10000; i++, k++) { const v = Buffer.alloc(${VALUE_BYTES}, k & 255); batch.push([k * 3, v]) }
        await db.kv.putBatch(batch)
        bytes += 10000 * (${VALUE_BYTES} + 17)
      }
      process.stdout.write(String(k) + '\\n')
      setInterval(() => {}, 1000)
    })()`
  const child = spawn(process.execPath, ['-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] })
  const keys = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))))
  child.kill('SIGKILL')
  await new Promise((r) => child.once('exit', r))
  const walBytes = fs.readdirSync(path.join(dir, 'wal')).reduce((s, f) => s + fs.statSync(path.join(dir, 'wal', f)).size, 0)
  const reader = `
    const kyrodb = require(${JSON.stringify(path.join(REPO_DIR, 'dist', 'index.js'))})
    ;(async () => {
      const t0 = performance.now()
      const db = await kyrodb.open(${JSON.stringify(dir)}, { kvMemtableBytes: 64 * 2 ** 30, rmiRebuildAppends: 2 ** 50 })
      const open = performance.now() - t0
      const v = db.kv.getSync(${(keys - 1) * 3})
      const first = performance.now() - t0
      if (!v) throw new Error('last key missing')
      const count = await db.kv.count()
      process.stdout.write(JSON.stringify({ open, first, count }))
      process.exit(0)
    })()`
  const out = JSON.parse(execFileSync(process.execPath, ['-e', reader], { encoding: 'utf8' }))
  if (out.count !== keys) throw new Error(`recovered ${out.count} keys, wrote ${keys}`)
  fs.rmSync(dir, { recursive: true, force: true })
  const mb = walBytes / 2 ** 20
  console.log(`recovery: ${fmt(mb, 0)} MiB WAL, ${keys} keys: open ${fmt(out.open, 0)} ms, first get ${fmt(out.first, 0)} ms, ${fmt(mb / (out.open / 1000), 0)} MiB/s`)
  return (
    `Recovery: ${fmt(mb, 0)} MiB of key-value WAL (${keys.toLocaleString('en-US')} puts of ${VALUE_BYTES}-byte values in batches of 10,000, nothing flushed), writer SIGKILLed, reopened in a fresh process.\n\n` +
    table(['WAL MiB', 'keys', 'open ms', 'first get ms', 'replay MiB/s'], [[fmt(mb, 0), keys.toLocaleString('en-US'), fmt(out.open, 0), fmt(out.first, 0), fmt(mb / (out.open / 1000), 0)]])
  )
}

async function main() {
  const m = machineInfo()
  const machine = `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}`
  console.log(`machine: ${machine}`)
  if (PEERS.length) await ensurePeers({ faiss: false, verbose: false })
  const peers = {}
  for (const p of PEERS) peers[p] = await loadPeer(p)
  const sections = []

  if (ONLY === undefined || ONLY === 'recovery') sections.push(['recovery', await recovery()])

  if (ONLY === undefined || ONLY === 'write') {
    const keys = makeKeys(WRITE_ROWS, 7)
    const rows = [await kyroWrites(keys)]
    if (peers.lmdb) rows.push(await lmdbWrites(peers.lmdb, keys))
    const base = rows.find((r) => r.name.startsWith('lmdb'))
    for (const r of rows) console.log(`${r.name}: ${fmt(r.rate, 0)}/s`)
    sections.push([
      'writes',
      `Durable batched writes: ${WRITE_ROWS.toLocaleString('en-US')} entries of ${VALUE_BYTES} bytes, ${BATCH} per batch, one writer, each batch acknowledged when fsynced.\n\n` +
        table(
          ['store', 'entries/s', 'vs lmdb-js'],
          rows.map((r) => [r.name, fmt(r.rate, 0), base ? `${fmt(r.rate / base.rate, 2)}×` : '-']),
        ),
    ])
  }

  if (ONLY === undefined || ONLY === 'read') {
    const keys = makeKeys(KEYS, 11)
    const next = lcg(99)
    const queries = Float64Array.from({ length: READS }, () => keys[Number(next() % BigInt(KEYS))])
    const rows = []
    // KyroDB: load, read, build the index, read again.
    {
      const dir = path.join(TMP, 'kyro-read')
      const db = await kyrodb.open(dir, { durability: 'none' })
      const t0 = performance.now()
      for (let i = 0; i < KEYS; i += 10_000) {
        const batch = []
        for (let j = i; j < Math.min(i + 10_000, KEYS); j++) batch.push([keys[j], valueOf(keys[j])])
        await db.kv.putBatch(batch)
      }
      await db.kv.flush()
      const loadSecs = (performance.now() - t0) / 1000
      const kv = db.kv
      const fns = { getSync: (k) => kv.getSync(k), getAsync: (k) => kv.get(k), getMany: (ks) => kv.getMany(ks) }
      const runs = kv.stats().runs
      rows.push({ ...(await readFigures(`KyroDB after load (${runs} runs)`, queries, fns)), load: loadSecs })
      const t1 = performance.now()
      await kv.buildIndex()
      const buildSecs = (performance.now() - t1) / 1000
      const s = kv.stats()
      rows.push({ ...(await readFigures(`KyroDB after buildIndex (1 run)`, queries, fns)), load: buildSecs })
      console.log(
        `KyroDB index: ${s.indexBytes} bytes, probe ${s.probeKind}, mean window ${fmt(s.probeKeys / Math.max(1, s.runProbes), 1)} keys, mispredictions ${s.mispredictions}`,
      )
      rows.at(-1).note = `index ${fmt(s.indexBytes / 1048576, 1)} MiB, mean window ${fmt(s.probeKeys / Math.max(1, s.runProbes), 1)} keys`
      await db.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    if (peers.lmdb) {
      const dir = path.join(TMP, 'lmdb-read')
      const db = peers.lmdb.open({ path: dir, encoding: 'binary', noSync: true })
      const t0 = performance.now()
      for (let i = 0; i < KEYS; i += 10_000) {
        await db.batch(() => {
          for (let j = i; j < Math.min(i + 10_000, KEYS); j++) db.put(keys[j], valueOf(keys[j]))
        })
      }
      const loadSecs = (performance.now() - t0) / 1000
      const fns = { getSync: (k) => db.get(k), getAsync: async (k) => db.get(k), getMany: (ks) => db.getMany(ks) }
      rows.push({ ...(await readFigures('lmdb-js', queries, fns)), load: loadSecs })
      await db.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
    const base = rows.find((r) => r.name === 'lmdb-js')
    const ratio = (a, b) => (base ? `${fmt(a / b, 2)}×` : '-')
    for (const r of rows) console.log(r)
    sections.push([
      'reads',
      `Reads: ${KEYS.toLocaleString('en-US')} keys (uniform random below 2^53, fixed seed) with ${VALUE_BYTES}-byte values, ${READS.toLocaleString('en-US')} random present keys; ` +
        `latency per single \`getSync\`/\`get\` call, timer cost subtracted. "load s" is the load time (for the second KyroDB row: the \`buildIndex\` time).\n\n` +
        table(
          ['store', 'getSync/s', 'vs lmdb-js', 'p50 µs', 'p99 µs', 'get (async, 1000 in flight)/s', 'vs lmdb-js', 'getMany(1000)/s', 'load s', 'note'],
          rows.map((r) => [
            r.name,
            fmt(r.syncRate, 0),
            ratio(r.syncRate, base?.syncRate),
            fmt(r.p50 / 1000, 2),
            fmt(r.p99 / 1000, 2),
            fmt(r.asyncRate, 0),
            ratio(r.asyncRate, base?.asyncRate),
            fmt(r.manyRate, 0),
            fmt(r.load, 1),
            r.note ?? '',
          ]),
        ),
    ])
  }
  // One section per part, so that a partial run (--only) replaces only its own figures.
  for (const [part, text] of sections) {
    const body = `Machine: ${machine}. Command: \`node --expose-gc benches/kv.mjs ${process.argv.slice(2).join(' ')}\`.\n\n${text}`
    writeSection(path.join(REPO_DIR, 'benches', 'RESULTS.md'), `kv-node-${part}`, body)
  }
  fs.rmSync(TMP, { recursive: true, force: true })
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
