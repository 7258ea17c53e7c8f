#!/usr/bin/env node
// Replication fault harness (issue 20): 3 nats-server processes (JetStream cluster, R3 stream)
// and 3 `kyrodb serve --nats` nodes with a writer on every node; during the load it SIGKILLs a
// NATS server and restarts it, SIGKILLs a node and restarts it, wipes a node and lets it
// bootstrap from a snapshot, and cuts a node off from NATS (its own network namespace, veth
// link down) then heals it. Afterwards: every acknowledged write is on every node, every node
// equals a model built by reading the stream once in order (so nothing was applied twice or
// out of order), each message id is in the stream once, and all nodes answer the same searches.
//
//   node __test__/replication/harness.mjs [--rounds N] [--seed S] [--short] [--keep]
//
// Needs nats-server on PATH (Debian: apt-get install nats-server) and `npm run build:ts`.
// Without permission for `ip netns`, isolation falls back to SIGSTOP/SIGCONT of the node
// (said in the summary line).
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, openSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const { connect } = require('@nats-io/transport-node')
const { jetstream, jetstreamManager, DeliverPolicy } = require('@nats-io/jetstream')
const { decodeRecord } = require(join(ROOT, 'dist/replication/codec.js'))

const argv = process.argv.slice(2)
const arg = (name, dflt) => {
  const i = argv.indexOf(`--${name}`)
  return i < 0 ? dflt : argv[i + 1]
}
const SHORT = argv.includes('--short')
const KEEP = argv.includes('--keep')
const ROUNDS = Number(arg('rounds', SHORT ? 1 : 3))
const SEED = Number(arg('seed', Date.now() % 100000))
const PHASE_MS = Number(arg('phase-ms', SHORT ? 2500 : 5000))
const DIM = 8
const API_KEY = 'replication-harness-admin-key'
const STREAM = `H${SEED}`

let rngState = SEED >>> 0 || 1
function rand() {
  rngState = (rngState + 0x6d2b79f5) >>> 0
  let t = rngState
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const pick = (xs) => xs[Math.floor(rand() * xs.length)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const log = (...a) => console.log(`[${((Date.now() - T0) / 1000).toFixed(1)}s]`, ...a)
const T0 = Date.now()

const dir = mkdtempSync(join(tmpdir(), 'kyrodb-repl-'))
const slot = process.pid % 40
const BASE = 21000 + slot * 20
const cport = (i) => BASE + i
const rport = (i) => BASE + 5 + i
const mport = (i) => BASE + 10 + i
const procs = new Set()
const NATS_BIN = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server'

// ---- network namespaces -------------------------------------------------------------------
const sh = (cmd, ...args) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString()
const ns = (i) => `kr${slot}n${i}`
const vethA = (i) => `kra${slot}x${i}` // node ↔ NATS
const vethB = (i) => `krb${slot}x${i}` // harness ↔ node HTTP
const ipA = (i, side) => `10.213.${slot * 3 + i}.${side}`
const ipB = (i, side) => `10.214.${slot * 3 + i}.${side}`
let NETNS = false
function setupNetns() {
  try {
    for (let i = 0; i < 3; i++) {
      sh('ip', 'netns', 'add', ns(i))
      sh('ip', 'netns', 'exec', ns(i), 'ip', 'link', 'set', 'lo', 'up')
      for (const [veth, ip] of [[vethA(i), ipA], [vethB(i), ipB]]) {
        sh('ip', 'link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`)
        sh('ip', 'link', 'set', `${veth}p`, 'netns', ns(i))
        sh('ip', 'addr', 'add', `${ip(i, 1)}/24`, 'dev', veth)
        sh('ip', 'link', 'set', veth, 'up')
        sh('ip', 'netns', 'exec', ns(i), 'ip', 'addr', 'add', `${ip(i, 2)}/24`, 'dev', `${veth}p`)
        sh('ip', 'netns', 'exec', ns(i), 'ip', 'link', 'set', `${veth}p`, 'up')
      }
    }
    NETNS = true
  } catch (err) {
    log(`ip netns not usable here (${String(err.stderr ?? err.message).trim()}); isolation falls back to SIGSTOP/SIGCONT`)
    teardownNetns()
  }
}
function teardownNetns() {
  for (let i = 0; i < 3; i++) {
    for (const v of [vethA(i), vethB(i)]) {
      try {
        sh('ip', 'link', 'del', v)
      } catch {}
    }
    try {
      sh('ip', 'netns', 'del', ns(i))
    } catch {}
  }
}

// ---- NATS ---------------------------------------------------------------------------------
const nats = [null, null, null]
function natsConf(i) {
  const routes = [0, 1, 2].filter((j) => j !== i).map((j) => `nats-route://127.0.0.1:${rport(j)}`)
  return `server_name: n${i}
listen: 0.0.0.0:${cport(i)}
http: 127.0.0.1:${mport(i)}
max_payload: 8MB
jetstream { store_dir: "${dir}/js${i}", max_memory_store: 256MB, max_file_store: 8GB }
cluster { name: kyro, listen: 127.0.0.1:${rport(i)}, no_advertise: true, routes: [${routes.join(', ')}] }
`
}
function startNats(i) {
  const conf = join(dir, `nats${i}.conf`)
  writeFileSync(conf, natsConf(i))
  const out = openSync(join(dir, `nats${i}.log`), 'a')
  const p = spawn(NATS_BIN, ['-c', conf], { stdio: ['ignore', out, out] })
  procs.add(p)
  p.on('exit', () => procs.delete(p))
  nats[i] = p
}
const hostUrls = () => [0, 1, 2].map((i) => `nats://127.0.0.1:${cport(i)}`)

// ---- KyroDB nodes -------------------------------------------------------------------------
const nodes = [null, null, null]
const httpBase = (i) => (NETNS ? `http://${ipB(i, 2)}:7700` : `http://127.0.0.1:${BASE + 15 + i}`)
function startNode(i) {
  const urls = NETNS ? [0, 1, 2].map((j) => `nats://${ipA(i, 1)}:${cport(j)}`) : hostUrls()
  const serve = [join(ROOT, 'dist/cli.js'), 'serve', NETNS ? '0.0.0.0' : '127.0.0.1', String(NETNS ? 7700 : BASE + 15 + i),
    '--data-dir', join(dir, `node${i}`), '--nats', urls.join(','), '--node', `k${i}`, '--stream', STREAM,
    '--api-key', API_KEY, '--log-level', 'warn']
  const out = openSync(join(dir, `node${i}.log`), 'a')
  const p = NETNS
    ? spawn('ip', ['netns', 'exec', ns(i), process.execPath, ...serve], { stdio: ['ignore', out, out] })
    : spawn(process.execPath, serve, { stdio: ['ignore', out, out] })
  procs.add(p)
  p.on('exit', () => procs.delete(p))
  nodes[i] = p
}
async function http(i, method, path, body, timeoutMs = 20000) {
  const res = await fetch(httpBase(i) + path, {
    method,
    headers: { authorization: `Bearer ${API_KEY}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  })
  const text = await res.text()
  let json = null
  try {
    json = JSON.parse(text)
  } catch {}
  return { status: res.status, json }
}
async function waitHealthy(i, ms = 90000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    try {
      const r = await http(i, 'GET', '/health', undefined, 1000)
      if (r.status === 200) return
    } catch {}
    await sleep(200)
  }
  throw new Error(`node ${i} not healthy after ${ms} ms (see ${dir}/node${i}.log)`)
}
async function kill(p, sig = 'SIGKILL') {
  if (!p || p.exitCode !== null || p.signalCode !== null) return
  const done = new Promise((r) => p.once('exit', r))
  p.kill(sig)
  await done
}

// ---- model: the stream read once, in order -----------------------------------------------
const model = { kv: new Map(), vec: new Map(), lastSeq: 0, gaps: 0, msgIds: new Set(), dupIds: 0, records: 0 }
async function startModel() {
  const nc = await connect({ servers: hostUrls(), maxReconnectAttempts: -1, reconnectTimeWait: 250 })
  const js = jetstream(nc)
  const jsm = await jetstreamManager(nc, { checkAPI: false })
  let it = null
  let progressAt = Date.now()
  let stopped = false
  const apply = (m) => {
    if (m.seq <= model.lastSeq) return
    if (m.seq !== model.lastSeq + 1) {
      // A consumer reset can skip what it had buffered (the nodes handle it the same way):
      // a real gap only if the stream no longer holds the records.
      log(`model: delivery skipped ${model.lastSeq + 1} → ${m.seq}; restarting the model consumer`)
      throw new Error('skip')
    }
    model.lastSeq = m.seq
    progressAt = Date.now()
    model.records++
    const id = m.headers?.get('Nats-Msg-Id')
    if (model.msgIds.has(id)) model.dupIds++
    model.msgIds.add(id)
    const r = decodeRecord(m.data)
    if (r.kind === 'kv') {
      let start = 0
      for (let k = 0; k < r.keys.length; k++) {
        const end = r.ends[k]
        if (r.kinds[k] === 0) model.kv.delete(r.keys[k])
        else model.kv.set(r.keys[k], Buffer.from(r.values.subarray(start, end)).toString('utf8'))
        start = end
      }
    } else if (r.kind === 'upsert' && r.collection === 'docs') {
      for (let k = 0; k < r.ids.length; k++) {
        model.vec.set(BigInt(r.ids[k]), { vector: Array.from(r.vectors.subarray(k * DIM, (k + 1) * DIM)), metadata: r.metadata?.[k] ? JSON.parse(r.metadata[k]) : undefined })
      }
    } else if (r.kind === 'delete' && r.collection === 'docs') {
      for (const id of r.ids) model.vec.delete(BigInt(id))
    }
  }
  // Same scheme as the nodes: an ordered consumer from the next sequence, restarted when it stalls.
  ;(async () => {
    while (!stopped) {
      try {
        const c = await js.consumers.get(STREAM, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: model.lastSeq + 1 })
        it = await c.consume({ max_messages: 1024 })
        progressAt = Date.now()
        for await (const m of it) apply(m)
      } catch {
        await it?.close().catch(() => {})
        const info = await jsm.streams.info(STREAM).catch(() => null)
        if (info && info.state.first_seq > model.lastSeq + 1) {
          log(`model: stream starts at ${info.state.first_seq}, model at ${model.lastSeq}: real gap`)
          model.gaps++
          model.lastSeq = info.state.first_seq - 1
        }
        await sleep(250)
      }
    }
  })()
  const watchdog = setInterval(async () => {
    if (Date.now() - progressAt < 3000) return
    try {
      const info = await jsm.streams.info(STREAM)
      if (info.state.last_seq > model.lastSeq && Date.now() - progressAt >= 3000) {
        progressAt = Date.now()
        await it?.close().catch(() => {})
      }
    } catch {}
  }, 1000)
  return {
    close: async () => {
      stopped = true
      clearInterval(watchdog)
      await it?.close().catch(() => {})
      await nc.close()
    },
  }
}

// ---- writers ------------------------------------------------------------------------------
const acked = [] // { kind: 'kv'|'vec'|'del', key, value }
const stats = { ok: 0, failed: 0, unavailable: 0, byCode: {} }
let writing = false
const everIds = new Set()
async function writer(i, round) {
  let n = 0
  while (writing) {
    n++
    const r = rand()
    const unique = BigInt(1_000_000_000 + (round * 10 + i) * 10_000_000 + n) // clear of the hot keys and ids
    try {
      let res, rec
      if (r < 0.5) {
        const value = `r${round}k${i}#${n}`
        rec = { kind: 'kv', key: unique, value }
        res = await http(i, 'POST', '/v1/put', { key: String(unique), value })
      } else if (r < 0.65) {
        const key = BigInt(Math.floor(rand() * 50))
        const value = `hot r${round}k${i}#${n}`
        rec = { kind: 'hot' }
        res = await http(i, 'POST', '/v1/put', { key: String(key), value })
      } else if (r < 0.9) {
        const hot = rand() < 0.3
        const id = hot ? BigInt(1000 + Math.floor(rand() * 20)) : unique
        const vector = Array.from({ length: DIM }, () => Math.fround(rand() * 2 - 1))
        rec = hot ? { kind: 'hot' } : { kind: 'vec', key: id, vector }
        everIds.add(id)
        res = await http(i, 'POST', '/v1/collections/docs/points', { ids: [String(id)], vectors: [vector], metadata: [{ w: i, n }] })
      } else {
        const id = BigInt(1000 + Math.floor(rand() * 20))
        rec = { kind: 'hot' }
        res = await http(i, 'POST', '/v1/collections/docs/points/delete', { ids: [String(id)] })
      }
      if (res.status === 200) {
        stats.ok++
        acked.push(rec)
      } else {
        stats.failed++
        const code = res.json?.error?.code ?? String(res.status)
        stats.byCode[code] = (stats.byCode[code] ?? 0) + 1
        if (code === 'UNAVAILABLE') stats.unavailable++
        await sleep(50)
      }
    } catch (err) {
      stats.failed++
      stats.byCode.network = (stats.byCode.network ?? 0) + 1
      await sleep(100)
    }
  }
}

// ---- faults -------------------------------------------------------------------------------
const faultLog = []
async function faultKillNats() {
  const i = Math.floor(rand() * 3)
  log(`fault: SIGKILL nats-server n${i}`)
  await kill(nats[i])
  await sleep(PHASE_MS * (0.5 + rand()))
  startNats(i)
  log(`heal: nats-server n${i} restarted`)
  faultLog.push(`kill-nats:n${i}`)
}
async function faultKillNode() {
  const i = Math.floor(rand() * 3)
  const st = await http(i, 'GET', '/v1/replication/status').catch(() => null)
  log(`fault: SIGKILL node k${i} (applied ${st?.json?.appliedSeq}, lag ${st?.json?.lagMessages})`)
  await kill(nodes[i])
  await sleep(PHASE_MS * (0.3 + rand() * 0.5))
  startNode(i)
  await waitHealthy(i)
  log(`heal: node k${i} restarted`)
  faultLog.push(`kill-node:k${i}`)
}
async function faultWipeNode() {
  const i = Math.floor(rand() * 3)
  const j = (i + 1 + Math.floor(rand() * 2)) % 3
  const snap = await http(j, 'POST', '/v1/replication/snapshot', undefined, 120000)
  if (snap.status !== 200) throw new Error(`snapshot on k${j} failed: ${JSON.stringify(snap.json)}`)
  log(`snapshot published by k${j}: seq ${snap.json.seq}, ${snap.json.bytes} bytes, ${snap.json.ms} ms; stream trimmed below ${snap.json.trimmedBelow}`)
  log(`fault: SIGKILL node k${i} and wipe its directory`)
  await kill(nodes[i])
  rmSync(join(dir, `node${i}`), { recursive: true, force: true })
  const t = Date.now()
  startNode(i)
  await waitHealthy(i)
  const st = (await http(i, 'GET', '/v1/replication/status')).json
  log(`heal: node k${i} bootstrapped in ${Date.now() - t} ms (applied ${st.appliedSeq}, lag ${st.lagMessages})`)
  faultLog.push(`wipe-node:k${i}@${snap.json.seq}`)
}
async function faultIsolate() {
  const i = Math.floor(rand() * 3)
  if (NETNS) {
    log(`fault: isolate node k${i} from NATS (veth ${vethA(i)} down)`)
    sh('ip', 'link', 'set', vethA(i), 'down')
    await sleep(PHASE_MS * (1 + rand()))
    // While cut off: reads answer, writes fail with UNAVAILABLE.
    const read = await http(i, 'GET', '/v1/kv/stats').catch((e) => ({ status: String(e) }))
    const write = await http(i, 'POST', '/v1/put', { key: '7', value: 'isolated' }, 30000).catch((e) => ({ status: String(e) }))
    log(`  isolated k${i}: read → ${read.status}, write → ${write.status} ${write.json?.error?.code ?? ''}`)
    if (read.status !== 200 || write.status !== 503 || write.json?.error?.code !== 'UNAVAILABLE') isolationProblems++
    sh('ip', 'link', 'set', vethA(i), 'up')
  } else {
    log(`fault: isolate node k${i} (SIGSTOP: no netns here)`)
    nodes[i].kill('SIGSTOP')
    await sleep(PHASE_MS * (1 + rand()))
    nodes[i].kill('SIGCONT')
  }
  log(`heal: node k${i} reconnected`)
  faultLog.push(`isolate:k${i}`)
}
let isolationProblems = 0
const totals = { missing: 0, differ: 0, searchDiffs: 0 }

// ---- checks -------------------------------------------------------------------------------
async function converge(ms = 120000) {
  const end = Date.now() + ms
  let sts
  while (Date.now() < end) {
    sts = await Promise.all([0, 1, 2].map((i) => http(i, 'GET', '/v1/replication/status').then((r) => r.json).catch(() => null)))
    const last = Math.max(model.lastSeq, ...sts.map((s) => s?.streamState?.lastSeq ?? 0))
    if (sts.every((s) => s && s.appliedSeq === last && s.error === null) && model.lastSeq === last) return sts
    await sleep(250)
  }
  throw new Error(`nodes did not converge: ${JSON.stringify(sts?.map((s) => s && { applied: s.appliedSeq, err: s.error }))} model ${model.lastSeq}`)
}
async function dumpKv(i) {
  const out = new Map()
  let gt
  for (;;) {
    const q = new URLSearchParams({ limit: '10000', ...(gt === undefined ? {} : { gt: String(gt) }) })
    const r = await http(i, 'GET', `/v1/range?${q}`)
    if (r.status !== 200) throw new Error(`range on k${i}: ${r.status}`)
    for (const e of r.json.entries) out.set(BigInt(e.key), e.value)
    if (r.json.next === undefined) return out
    gt = r.json.next
  }
}
async function dumpVec(i, ids) {
  const out = new Map()
  for (let s = 0; s < ids.length; s += 5000) {
    const chunk = ids.slice(s, s + 5000)
    const r = await http(i, 'POST', '/v1/collections/docs/points/get', { ids: chunk.map(String) })
    if (r.status !== 200) throw new Error(`points/get on k${i}: ${r.status} ${JSON.stringify(r.json)}`)
    r.json.points.forEach((p, k) => {
      if (p !== null) out.set(chunk[k], { vector: p.vector, metadata: p.metadata })
    })
  }
  return out
}
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b)
async function check(round) {
  const problems = []
  const sts = await converge()
  if (model.gaps > 0) problems.push(`model consumer saw ${model.gaps} gaps`)
  if (model.dupIds > 0) problems.push(`${model.dupIds} message ids stored twice`)
  const ids = [...new Set([...everIds, ...model.vec.keys()])]
  let missing = 0
  let differ = 0
  const kvs = []
  for (let i = 0; i < 3; i++) {
    const kv = await dumpKv(i)
    kvs.push(kv)
    if (kv.size !== model.kv.size) problems.push(`k${i} has ${kv.size} keys, the stream model ${model.kv.size}`)
    for (const [k, v] of model.kv) if (kv.get(k) !== v) differ++
    const vec = await dumpVec(i, ids)
    if (vec.size !== model.vec.size) problems.push(`k${i} has ${vec.size} vectors, the stream model ${model.vec.size}`)
    for (const [k, v] of model.vec) {
      const got = vec.get(k)
      if (!got || !same(got.vector, v.vector) || !same(got.metadata, v.metadata)) differ++
    }
    for (const a of acked) {
      if (a.kind === 'kv' && kv.get(a.key) !== a.value) missing++
      if (a.kind === 'vec' && !(vec.has(a.key) && same(vec.get(a.key).vector, a.vector))) missing++
    }
  }
  totals.missing += missing
  totals.differ += differ
  if (missing > 0) problems.push(`${missing} acknowledged writes missing (over 3 nodes)`)
  if (differ > 0) problems.push(`${differ} entries differ from the stream model (over 3 nodes)`)
  let searchDiffs = 0
  for (let q = 0; q < 20; q++) {
    const vector = Array.from({ length: DIM }, () => rand() * 2 - 1)
    const answers = await Promise.all([0, 1, 2].map((i) => http(i, 'POST', '/v1/collections/docs/search', { vector, k: 10 })))
    if (!answers.every((a) => a.status === 200 && same(a.json.results, answers[0].json.results))) searchDiffs++
  }
  totals.searchDiffs += searchDiffs
  if (searchDiffs > 0) problems.push(`${searchDiffs}/20 searches answered differently`)
  if (isolationProblems > 0) problems.push(`${isolationProblems} isolation checks failed (read must answer, write must be 503 UNAVAILABLE)`)
  const ackKv = acked.filter((a) => a.kind === 'kv').length
  const ackVec = acked.filter((a) => a.kind === 'vec').length
  log(
    `round ${round}: stream seq ${model.lastSeq}, ${model.kv.size} keys and ${model.vec.size} vectors on each node; ` +
      `acked ${acked.length} (${ackKv} unique kv, ${ackVec} unique vectors, ${acked.length - ackKv - ackVec} hot-key writes), ` +
      `failed ${stats.failed} ${JSON.stringify(stats.byCode)}; applied seqs ${sts.map((s) => s.appliedSeq).join('/')}` +
      (problems.length ? `\n  PROBLEMS: ${problems.join('; ')}` : ' — OK'),
  )
  return problems
}

// ---- main ---------------------------------------------------------------------------------
let modelConn
async function main() {
  log(`seed ${SEED}, ${ROUNDS} round(s), phase ${PHASE_MS} ms, dir ${dir}`)
  setupNetns()
  for (let i = 0; i < 3; i++) startNats(i)
  // Wait for the JetStream meta group.
  const nc = await connect({ servers: hostUrls(), maxReconnectAttempts: -1, waitOnFirstConnect: true })
  for (let t = 0; ; t++) {
    try {
      await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo()
      break
    } catch {
      if (t > 200) throw new Error('JetStream cluster did not form')
      await sleep(250)
    }
  }
  await nc.close()
  log(`NATS cluster up (ports ${cport(0)}-${cport(2)}); netns isolation: ${NETNS ? 'yes' : 'no (SIGSTOP substitute)'}`)
  startNode(0)
  await waitHealthy(0)
  for (let i = 1; i < 3; i++) startNode(i)
  for (let i = 1; i < 3; i++) await waitHealthy(i)
  const c = await http(0, 'POST', '/v1/collections', { name: 'docs', dimension: DIM, metric: 'l2', index: false })
  if (c.status !== 201) throw new Error(`create collection: ${c.status} ${JSON.stringify(c.json)}`)
  modelConn = await startModel()
  log('3 nodes up, collection docs created')
  const allProblems = []
  for (let round = 0; round < ROUNDS; round++) {
    writing = true
    const writers = [0, 1, 2].map((i) => writer(i, round))
    await sleep(PHASE_MS)
    const faults = [faultKillNats, faultKillNode, faultWipeNode, faultIsolate]
    for (let k = faults.length - 1; k > 0; k--) {
      const j = Math.floor(rand() * (k + 1))
      ;[faults[k], faults[j]] = [faults[j], faults[k]]
    }
    for (const f of faults) {
      await f()
      await sleep(PHASE_MS * (0.3 + rand() * 0.4))
    }
    writing = false
    await Promise.all(writers)
    allProblems.push(...(await check(round)))
  }
  const ackKv = acked.filter((a) => a.kind === 'kv').length
  const ackVec = acked.filter((a) => a.kind === 'vec').length
  const line =
    `replication harness: ${allProblems.length === 0 ? 'PASS' : 'FAIL'} seed=${SEED} rounds=${ROUNDS} faults=${faultLog.length} ` +
    `[${faultLog.join(' ')}] stream_seq=${model.lastSeq} acked=${acked.length} (kv ${ackKv}, vectors ${ackVec}) ` +
    `failed=${stats.failed} (unavailable ${stats.unavailable}) missing=${totals.missing} model_mismatch=${totals.differ} dup_msg_ids=${model.dupIds} ` +
    `stream_gaps=${model.gaps} search_diffs=${totals.searchDiffs} isolation=${NETNS ? 'netns' : 'sigstop'} ${((Date.now() - T0) / 1000).toFixed(0)}s`
  console.log(allProblems.length === 0 ? line : `${line}\n${allProblems.join('\n')}`)
  return allProblems.length === 0 ? 0 : 1
}

async function cleanup() {
  writing = false
  await modelConn?.close().catch(() => {})
  for (const p of [...procs]) {
    try {
      p.kill('SIGCONT')
    } catch {}
    await kill(p)
  }
  teardownNetns()
  if (!KEEP) rmSync(dir, { recursive: true, force: true })
}
process.on('SIGINT', () => cleanup().then(() => process.exit(130)))
main()
  .then(async (code) => {
    await cleanup()
    process.exit(code)
  })
  .catch(async (err) => {
    console.error('replication harness: ERROR', err)
    console.error(`logs kept in ${dir}`)
    const keep = true
    writing = false
    for (const p of [...procs]) await kill(p).catch(() => {})
    teardownNetns()
    if (!keep) rmSync(dir, { recursive: true, force: true })
    process.exit(1)
  })
