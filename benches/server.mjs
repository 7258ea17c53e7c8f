#!/usr/bin/env node
// The HTTP path: `kyrodb serve` under autocannon beside a bare fastify route, one run.
//
//   node benches/server.mjs [--keys 1000000] [--duration 5] [--rounds 3] [--connections 32] [--n 331479] [--queries 2000]
//   node benches/server.mjs --dashboard [--n 200000] [--keys 1000000] [--duration 5] [--rounds 3]   (see lib/dashboard-bench.mjs)
//
// 1. Builds a data directory in-process: --keys key-value entries (100-byte values,
//    flushed, one learned index) and the GloVe-100 collection (cosine, M = 16,
//    efConstruction = 200, one graph).
// 2. In-process search latency on that directory: `await collection.search(q, { k: 10 })`
//    one query at a time (what the route calls), mean and p99, and recall@10.
// 3. Starts the bare fastify app (benches/lib/bare-server.mjs) and `kyrodb serve` on the
//    directory as child processes, one at a time, and points autocannon (its own process,
//    benches/lib/load.mjs) at them: GET /bare/{random key} vs GET /v1/get_fast/{random key}
//    (--connections), POST /bare vs POST /v1/collections/glove/search with the same JSON
//    bodies (one connection, so latency adds up).
// Targets (issue 6): get_fast ≥ 0.8× the bare route's requests/s; HTTP search mean latency
// ≤ 1.2 × (in-process search + bare POST route). Writes benches/RESULTS.md § server-http.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { loadGlove, machineInfo } from './datasets/glove.mjs'
import { normalizeRows, recallAtK } from './lib/vectors.mjs'
import { REPO_DIR, fmt, percentile, table, writeSection } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const KEYS = Number(args.keys ?? 1_000_000)
const DURATION = Number(args.duration ?? 5)
const CONNECTIONS = Number(args.connections ?? 32)
const N = args.n === undefined ? undefined : Number(args.n)
const QUERIES = Number(args.queries ?? 2000)
const ROUNDS = Number(args.rounds ?? 3)
const ONLY = args.only // 'get' skips the vector part (quick iterations); the report needs both
const VALUE_BYTES = 100
const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-bench-server-'))

async function freePort() {
  const srv = net.createServer().listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address()
  srv.close()
  await once(srv, 'close')
  return port
}

async function startChild(argv, url) {
  const child = spawn(process.execPath, argv, { cwd: REPO_DIR, stdio: ['ignore', 'ignore', 'inherit'] })
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(url)).ok) return child
    } catch {}
    await new Promise((r) => setTimeout(r, 50))
  }
  child.kill('SIGKILL')
  throw new Error(`${argv.join(' ')} did not start`)
}

async function stopChild(child) {
  child.kill('SIGTERM')
  await once(child, 'exit')
}

// autocannon runs in a child process (benches/lib/load.mjs): this process holds the data
// set, and a load generator sharing its heap and event loop would measure itself.
// Mean latency by Little's law (connections / throughput, exact for a closed loop);
// autocannon's own percentiles have 1 ms resolution.
async function measure(name, opts) {
  const child = spawn(process.execPath, ['benches/lib/load.mjs', JSON.stringify({ duration: DURATION, ...opts })], { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const [code] = await once(child, 'exit')
  if (code !== 0) throw new Error(`${name}: load generator exited with ${code}`)
  const r = JSON.parse(out)
  if (r.errors) throw new Error(`${name}: ${r.errors} errors, non-2xx responses or timeouts`)
  return { name, connections: opts.connections, ...r }
}

// --dashboard: the same server with the dashboard closed, its requests polling, and open in
// Chromium (benches/lib/dashboard-bench.mjs); writes § server-dashboard instead.
if (process.argv.includes('--dashboard')) {
  const { dashboardBench } = await import('./lib/dashboard-bench.mjs')
  fs.rmSync(DIR, { recursive: true, force: true })
  await dashboardBench({ args, startChild, stopChild, measure, freePort })
  process.exit(0)
}

// ------------------------------------------------------------------ 1. the data directory
console.log(`data directory ${DIR}`)
const VECTORS = ONLY !== 'get'
const glove = VECTORS ? await loadGlove() : { nBase: 0, dim: 1, base: new Float32Array(0), queries: new Float32Array(QUERIES) }
const nBase = Math.min(N ?? glove.nBase, glove.nBase)
const base = normalizeRows(glove.base.subarray(0, nBase * glove.dim), glove.dim)
const queries = normalizeRows(glove.queries.subarray(0, QUERIES * glove.dim), glove.dim)
{
  const db = await kyrodb.open(DIR, { durability: 'none' })
  const t0 = performance.now()
  const value = Buffer.alloc(VALUE_BYTES, 7)
  for (let s = 0; s < KEYS; s += 100_000) {
    const batch = []
    for (let k = s; k < Math.min(KEYS, s + 100_000); k++) batch.push([k, value])
    await db.kv.putBatch(batch)
  }
  await db.kv.buildIndex()
  console.log(`kv: ${KEYS.toLocaleString('en-US')} keys in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const t1 = performance.now()
  const col = VECTORS && await db.createCollection('glove', { dimension: glove.dim, metric: 'cosine', index: { m: 16, efConstruction: 200, autoBuildRows: 2 ** 31 } })
  for (let s = 0; VECTORS && s < nBase; s += 50_000) {
    const e = Math.min(nBase, s + 50_000)
    const ids = new BigUint64Array(e - s)
    for (let i = 0; i < ids.length; i++) ids[i] = BigInt(s + i)
    await col.upsert(ids, base.subarray(s * glove.dim, e * glove.dim))
  }
  if (VECTORS) await col.buildIndex()
  if (VECTORS) console.log(`glove: ${nBase.toLocaleString('en-US')} vectors indexed in ${((performance.now() - t1) / 1000).toFixed(1)} s`)
  await db.close()
}

// ------------------------------------------------------------------ 2. in-process search
// `await collection.search(q, { k: 10 })` one query at a time, the call the route makes;
// measured once per round, between the HTTP rounds (the server holds the directory lock
// while it runs), so that both sides see the same state of this shared machine.
const q = (i) => queries.subarray((i % QUERIES) * glove.dim, ((i % QUERIES) + 1) * glove.dim)
async function inProcessSearch() {
  const db = await kyrodb.open(DIR)
  const col = db.collection('glove')
  for (let i = 0; i < 200; i++) await col.search(q(i), { k: 10, cache: false }) // warm
  const lat = []
  const found = []
  for (let i = 0; i < QUERIES; i++) {
    const t0 = performance.now()
    const hits = await col.search(q(i), { k: 10, cache: false })
    lat.push(performance.now() - t0)
    found.push(hits.map((h) => h.id))
  }
  // The same queries through searchSync (no thread hop): what the route runs on the event
  // loop when a search has no competition (src-ts/server/load.ts). Reported beside.
  const t1 = performance.now()
  for (let i = 0; i < QUERIES; i++) col.searchSync(q(i), { k: 10, cache: false })
  const syncMean = (performance.now() - t1) / QUERIES
  await db.close()
  lat.sort((a, b) => a - b)
  // Ground truth over the full set only (a --n subset has none).
  const recall = nBase === glove.nBase ? found.reduce((sum, ids, i) => sum + recallAtK(ids, glove.groundTruth, i), 0) / QUERIES : NaN
  return { mean: lat.reduce((a, b) => a + b, 0) / lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99), recall, syncMean }
}

// ------------------------------------------------------------------ 3. HTTP
const results = {}
const bodiesFile = path.join(os.tmpdir(), `kyrodb-bench-bodies-${process.pid}.json`)
fs.writeFileSync(bodiesFile, JSON.stringify(Array.from({ length: QUERIES }, (_, i) => JSON.stringify({ vector: Array.from(q(i)), k: 10, cache: false }))))
// The same client work for both GET routes: a random key in the path of every request.
const randomPath = (prefix) => ({ prefix, keys: KEYS })
const inprocRounds = []
{
  // The bare server runs throughout; kyrodb serve is started for each round (after the
  // in-process measurement, which needs the directory). Routes are measured in interleaved
  // rounds and each figure is the median round, so a slow minute of this shared machine
  // does not land on one side only.
  const barePort = await freePort()
  const bare = `http://127.0.0.1:${barePort}`
  const bareChild = await startChild(['benches/lib/bare-server.mjs', String(barePort)], `${bare}/bare/1`)
  const rounds = {}
  for (let round = 0; round < ROUNDS; round++) {
    if (VECTORS) inprocRounds.push(await inProcessSearch())
    const kyroPort = await freePort()
    const kyro = `http://127.0.0.1:${kyroPort}`
    const kyroChild = await startChild(['dist/cli.js', 'serve', '127.0.0.1', String(kyroPort), '--data-dir', DIR, '--log-level', 'warn'], `${kyro}/health`)
    await fetch(`${kyro}/v1/warmup`, { method: 'POST' })
    const runs = {
      bareGet: () => measure('bare GET', { url: bare, connections: CONNECTIONS, randomPath: randomPath('/bare/') }),
      getFast: () => measure('get_fast', { url: kyro, connections: CONNECTIONS, randomPath: randomPath('/v1/get_fast/') }),
      ...(VECTORS && {
        barePost: () => measure('bare POST', { url: `${bare}/bare`, connections: 1, bodiesFile }),
        search: () => measure('search', { url: `${kyro}/v1/collections/glove/search`, connections: 1, bodiesFile }),
        searchConc: () => measure('search', { url: `${kyro}/v1/collections/glove/search`, connections: 8, bodiesFile }),
      }),
    }
    for (const [name, run] of Object.entries(runs)) (rounds[name] ??= []).push(await run())
    await stopChild(kyroChild)
  }
  for (const [name, list] of Object.entries(rounds)) results[name] = [...list].sort((a, b) => a.rps - b.rps)[list.length >> 1]
  await stopChild(bareChild)
}
const inproc = VECTORS ? [...inprocRounds].sort((a, b) => a.mean - b.mean)[inprocRounds.length >> 1] : null
console.log('in-process search per round', inprocRounds)
fs.rmSync(DIR, { recursive: true, force: true })
fs.rmSync(bodiesFile, { force: true })

// ------------------------------------------------------------------ report
if (!VECTORS) {
  console.log(results, `get_fast / bare GET = ${(results.getFast.rps / results.bareGet.rps).toFixed(2)}`)
  process.exit(0)
}
const m = machineInfo()
const getRatio = results.getFast.rps / results.bareGet.rps
const searchBudget = 1.2 * (inproc.mean + results.barePost.mean)
const row = (r) => [r.name, String(r.connections), fmt(r.rps, 0), fmt(r.mean, 3), fmt(r.p50, 0), fmt(r.p99, 0)]
const body = `
### HTTP server (\`kyrodb serve\`) against a bare fastify route

${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}; loopback; autocannon ${DURATION} s per run (after 1 s of warm-up)
in its own process, each server a child process, routes interleaved over ${ROUNDS} rounds, median round shown; ${KEYS.toLocaleString('en-US')} keys × ${VALUE_BYTES} B; GloVe-100 ${nBase.toLocaleString('en-US')} × 100,
cosine, M = 16, efConstruction = 200, k = 10, default ef; \`node benches/server.mjs --keys ${KEYS} --duration ${DURATION} --connections ${CONNECTIONS} --rounds ${ROUNDS}\`.

${table(['route', 'connections', 'requests/s', 'mean ms (connections / rate)', 'p50 ms (autocannon, 1 ms steps)', 'p99 ms'], [
  row(results.bareGet),
  row(results.getFast),
  row(results.barePost),
  row(results.search),
  row(results.searchConc),
])}

- \`GET /v1/get_fast/{random key}\` serves **${fmt(getRatio, 2)}×** the bare route's requests/s (target ≥ 0.80).
- Search over HTTP, one connection: mean ${fmt(results.search.mean, 3)} ms; in-process \`await search\` mean ${fmt(inproc.mean, 3)} ms
  (p99 ${fmt(inproc.p99, 3)} ms, recall@10 ${fmt(inproc.recall, 3)}) + bare POST ${fmt(results.barePost.mean, 3)} ms, × 1.2 = ${fmt(searchBudget, 3)} ms budget:
  **${fmt(results.search.mean / searchBudget, 2)}×** of the budget (target ≤ 1.0). The route runs a small unfiltered search on the event loop
  when no other request competes (\`src-ts/server/load.ts\`); against in-process \`searchSync\` (mean ${fmt(inproc.syncMean, 3)} ms) the budget would be
  ${fmt(1.2 * (inproc.syncMean + results.barePost.mean), 3)} ms and the route is at **${fmt(results.search.mean / (1.2 * (inproc.syncMean + results.barePost.mean)), 2)}×** of it.
`
writeSection(path.join(REPO_DIR, 'benches', 'RESULTS.md'), 'server-http', body)
console.log(body)
