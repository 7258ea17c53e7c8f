#!/usr/bin/env node
// Replication figures (issue 20), all in one run on one machine:
//  - write throughput and ack latency (p50/p99): local durable writes (durability 'full') vs
//    replicated writes through a 3-server JetStream R3 cluster ('read-your-writes' and 'stored'),
//    1 writer and 16 concurrent writers, key-value puts of 100 bytes and upserts of one 128-d vector;
//  - replica lag under load: stored → applied on the two other nodes (p50/p99);
//  - catch-up rate of a node reopened after missing N records;
//  - bootstrap: snapshot publish time of a node holding V vectors and restore + open + catch-up
//    time of a new node (--bootstrap-vectors, default 1,000,000; exact-only collection, 128-d).
// The three nodes run in this process (one event loop, sharing the 2 cores with 3 nats-servers).
//
//   node benches/replication.mjs [--secs 5] [--catchup 20000] [--bootstrap-vectors 1000000] [--only-bootstrap]
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync, openSync, existsSync } from 'node:fs'
import { tmpdir, cpus } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const { open } = require(join(ROOT, 'dist/index.js'))
const { connect } = require('@nats-io/transport-node')
const { jetstreamManager } = require('@nats-io/jetstream')

const argv = process.argv.slice(2)
const arg = (n, d) => (argv.includes(`--${n}`) ? Number(argv[argv.indexOf(`--${n}`) + 1]) : d)
const SECS = arg('secs', 5)
const CATCHUP = arg('catchup', 20000)
const BOOT = arg('bootstrap-vectors', 1_000_000)
const ONLY_BOOT = argv.includes('--only-bootstrap')
const DIM = 128
const dir = mkdtempSync(join(tmpdir(), 'kyrodb-replbench-'))
const BASE = 23000 + (process.pid % 50) * 10
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const procs = []
const NATS_BIN = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server'
const urls = [0, 1, 2].map((i) => `nats://127.0.0.1:${BASE + i}`)

function startNats(i) {
  const routes = [0, 1, 2].filter((j) => j !== i).map((j) => `nats-route://127.0.0.1:${BASE + 5 + j}`)
  const conf = join(dir, `nats${i}.conf`)
  writeFileSync(conf, `server_name: b${i}\nlisten: 127.0.0.1:${BASE + i}\nmax_payload: 8MB\njetstream { store_dir: "${dir}/js${i}", max_file_store: 64GB }\ncluster { name: bench, listen: 127.0.0.1:${BASE + 5 + i}, no_advertise: true, routes: [${routes.join(', ')}] }\n`)
  const out = openSync(join(dir, `nats${i}.log`), 'a')
  procs.push(spawn(NATS_BIN, ['-c', conf], { stdio: ['ignore', out, out] }))
}

function pct(xs, p) {
  const s = Float64Array.from(xs).sort()
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN
}
const f1 = (x) => (x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0))

/** Run `concurrency` writers for SECS seconds; returns ops/s and latency percentiles (ms). */
async function load(write, concurrency) {
  const lat = []
  const end = performance.now() + SECS * 1000
  let n = 0
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const t = performance.now()
        await write(w * 1e9 + i + n)
        lat.push(performance.now() - t)
        n++
      }
    }),
  )
  return { ops: n / SECS, p50: pct(lat, 0.5), p99: pct(lat, 0.99) }
}

const value = 'v'.repeat(100)
const vec = new Float32Array(DIM).map((_, i) => (i % 7) / 7 + 0.01)
const rows = []
async function measure(label, db, conc) {
  const c = db.collection('docs')
  const kv = await load((k) => db.kv.put(k, value), conc)
  const up = await load((k) => c.upsert([k], vec), conc)
  rows.push([label, conc, kv, up])
  console.log(`${label.padEnd(34)} c=${String(conc).padEnd(3)} kv put ${f1(kv.ops)}/s p50 ${f1(kv.p50)} p99 ${f1(kv.p99)} ms | upsert ${f1(up.ops)}/s p50 ${f1(up.p50)} p99 ${f1(up.p99)} ms`)
}

async function main() {
  console.log(`machine: ${cpus().length} × ${cpus()[0].model}; node ${process.version}; dir ${dir}`)
  for (let i = 0; i < 3; i++) startNats(i)
  const nc = await connect({ servers: urls, waitOnFirstConnect: true })
  for (let t = 0; ; t++) {
    try {
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo()
      break
    } catch {
      if (t > 200) throw new Error('no JetStream')
      await sleep(250)
    }
  }
  // Local durable baseline, same run.
  const local = await open(join(dir, 'local'), { durability: 'full' })
  await local.createCollection('docs', { dimension: DIM, metric: 'l2', index: false })
  const repl = (name, consistency = 'read-your-writes', d = join(dir, name)) =>
    open(d, { replication: { servers: urls, node: name, stream: 'BENCH', consistency, timeoutMs: 30000 } })
  const a = await repl('a')
  const b = await repl('b')
  const c = await repl('c')
  await a.createCollection('docs', { dimension: DIM, metric: 'l2', index: false })
  const aStored = null
  if (!ONLY_BOOT) {
  for (const conc of [1, 16]) {
    await measure('local, durability full', local, conc)
    await measure('replicated R3, read-your-writes', a, conc)
    const lb = (await b.replication.status()).applyDelayMs
    const lc = (await c.replication.status()).applyDelayMs
    console.log(`  replica lag under that load (stored → applied on the other nodes, last 4096 records): b p50 ${lb.p50} p99 ${lb.p99} ms; c p50 ${lc.p50} p99 ${lc.p99} ms`)
  }
  // 'stored' consistency: a second handle can't share a's directory; open a 4th node.
  const d = await repl('d', 'stored')
  await d.replication.waitForSeq(a.replication.appliedSeq, 60000)
  await measure('replicated R3, stored', d, 16)
  const lagB = (await b.replication.status()).applyDelayMs
  const lagC = (await c.replication.status()).applyDelayMs
  console.log(`replica lag under the last load (stored → applied, last 4096 records): b p50 ${lagB.p50} p99 ${lagB.p99} ms; c p50 ${lagC.p50} p99 ${lagC.p99} ms`)
  void aStored
  // The 'stored' load outran the appliers: time how long every node takes to drain it.
  const last = (await d.replication.status()).streamLastSeq
  const tDrain = performance.now()
  const behind = Math.min(...[a, b, c].map((x) => x.replication.appliedSeq))
  await Promise.all([a, b, c, d].map((x) => x.replication.waitForSeq(last, 900000)))
  const drainS = (performance.now() - tDrain) / 1000
  console.log(`drain after the 'stored' load: ${last - behind} records behind → all 4 nodes (one process) applied in ${drainS.toFixed(1)} s = ${f1((last - behind) / drainS)} records/s per node`)
  // Catch-up: c misses CATCHUP records, then reopens.
  await c.close()
  const dc = a.collection('docs')
  let k = 5e9
  const t0 = performance.now()
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (k < 5e9 + CATCHUP) {
      const key = k++
      if (key % 2) await a.kv.put(key, value)
      else await dc.upsert([key], vec)
    }
  }))
  const writeSecs = (performance.now() - t0) / 1000
  const target = a.replication.appliedSeq
  const t1 = performance.now()
  const c2 = await repl('c')
  const from = c2.replication.appliedSeq
  await c2.replication.waitForSeq(target, 600000)
  const cs = (performance.now() - t1) / 1000
  console.log(`catch-up: ${target - from} records (half 100-byte puts, half 128-d upserts) in ${cs.toFixed(2)} s = ${f1((target - from) / cs)} records/s (open included); they were written at ${f1(CATCHUP / writeSecs)}/s`)
  await Promise.all([c2.close(), d.close()])
  }
  await Promise.all([b.close(), local.close()])
  // Bootstrap of a node holding BOOT vectors.
  if (BOOT > 0) {
    const col = await a.createCollection('big', { dimension: DIM, metric: 'l2', index: false })
    const batch = 4000 // 4000 × 128 × 4 = 2 MB per record
    const tIn = performance.now()
    const flat = new Float32Array(batch * DIM)
    for (let s = 0; s < BOOT; s += batch) {
      const n = Math.min(batch, BOOT - s)
      for (let i = 0; i < n * DIM; i++) flat[i] = Math.sin(s * DIM + i)
      await col.upsert(Array.from({ length: n }, (_, i) => s + i), n === batch ? flat : flat.subarray(0, n * DIM))
    }
    const inSecs = (performance.now() - tIn) / 1000
    console.log(`bootstrap: ingested ${BOOT} vectors through the stream in ${inSecs.toFixed(1)} s (${f1(BOOT / inSecs)} vectors/s, batches of ${batch})`)
    const snap = await a.replication.publishSnapshot()
    console.log(`bootstrap: snapshot published: seq ${snap.seq}, ${(snap.bytes / 2 ** 20).toFixed(0)} MiB in ${snap.files} files, ${(snap.ms / 1000).toFixed(1)} s; stream trimmed below ${snap.trimmedBelow}`)
    const tb = performance.now()
    const e = await repl('e')
    await e.replication.waitForSeq(a.replication.appliedSeq, 600000)
    const bs = (performance.now() - tb) / 1000
    console.log(`bootstrap: new node restored + opened + caught up with ${e.collection('big').count()} vectors in ${bs.toFixed(1)} s`)
    await e.close()
  }
  const tc = performance.now()
  await a.close()
  await nc.close()
  console.log(`closed in ${(performance.now() - tc).toFixed(0)} ms`)
}

main()
  .catch((err) => {
    console.error(err)
    process.exitCode = 1
  })
  .finally(async () => {
    for (const p of procs) p.kill('SIGKILL')
    await sleep(200)
    rmSync(dir, { recursive: true, force: true })
    process.exit()
  })
