// The kill test: a child process writes batches and reports each acknowledged one; the
// parent kills it with SIGKILL at a random moment (while it opens and recovers, writes,
// flushes or compacts), reopens the directory and checks it against its model: every
// acknowledged batch present, the batch in flight applied wholly or not at all, nothing
// else, and search still finds the true nearest neighbours. Used by
// __test__/crash.test.ts (20 trials) and `npm run test:crash -- --trials N`.
'use strict'

const { spawn } = require('node:child_process')
const path = require('node:path')
const { open } = require('../../dist/index.js')
const { IDS, KV_KEYS, KV_HIGH, kvName, batch, applyToModel } = require('./batches.cjs')

function sameVector(a, b) {
  return a.length === b.length && a.every((x, i) => Math.fround(x) === Math.fround(b[i]))
}

function sameEntry(got, want) {
  if (!got || !want) return got === want
  if ('value' in want) {
    if (!('value' in got)) return false
    return Buffer.isBuffer(want.value)
      ? Buffer.isBuffer(got.value) && want.value.equals(got.value)
      : got.value === want.value
  }
  return sameVector(got.vector, want.vector) && JSON.stringify(got.metadata ?? null) === JSON.stringify(want.metadata ?? null)
}

async function readState(dir) {
  const db = await open(dir)
  const state = new Map()
  let c = null
  try {
    c = db.collection('v')
  } catch (e) {
    if (e.code !== 'NOT_FOUND') throw e
  }
  if (c) {
    for (let id = 0; id < IDS; id++) {
      const v = await c.get(id)
      if (v) state.set(id, { vector: v.vector, metadata: v.metadata })
    }
  }
  const kvKeys = [...Array.from({ length: KV_KEYS }, (_, k) => k), ...KV_HIGH]
  const values = await db.kv.getMany(kvKeys)
  values.forEach((value, i) => {
    if (value !== undefined) state.set(kvName(kvKeys[i]), { value })
  })
  if ((await db.kv.count()) !== values.filter((v) => v !== undefined).length) {
    throw new Error('kv.count() disagrees with the values found')
  }
  return { db, c, state }
}

function equalsModel(state, model) {
  if (state.size !== model.size) return false
  for (const [id, want] of model) if (!sameEntry(state.get(id), want)) return false
  return true
}

async function checkSearch(c, all, trial) {
  const model = new Map([...all].filter(([id]) => typeof id === 'number'))
  if (!c || model.size === 0) return
  for (let q = 0; q < 3; q++) {
    const query = Array.from({ length: 16 }, (_, j) => Math.sin(trial * 7 + q * 13 + j))
    const truth = [...model.entries()]
      .map(([id, e]) => [e.vector.reduce((s, x, j) => s + (x - query[j]) ** 2, 0), id])
      .sort((a, b) => a[0] - b[0] || a[1] - b[1])
      .slice(0, 10)
      .map((t) => t[1])
    const hits = await c.search(query, { k: 10, ef: 200 })
    const found = hits.filter((h) => truth.includes(Number(h.id))).length
    if (hits.length !== truth.length || found < 0.9 * truth.length) {
      throw new Error(`trial ${trial}: search found ${found} of ${truth.length} true neighbours`)
    }
    for (const h of hits) if (!model.has(Number(h.id))) throw new Error(`trial ${trial}: search returned unknown id ${h.id}`)
  }
}

function runChild(dir, seed, start, killAfterMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(__dirname, 'writer.cjs'), dir, String(seed), String(start)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    child.on('error', reject)
    // 'close', not 'exit': acks still in the pipe when the process died count too.
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      if (signal !== 'SIGKILL') return reject(new Error(`writer exited on its own (code ${code}): ${err}`))
      const acks = out.split('\n').filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4)))
      resolve({ acks, ready: out.includes('ready') })
    })
  })
}

/**
 * Run `trials` kill/reopen cycles on `dir`. Returns a summary; throws on the first
 * violation.
 */
async function runTrials({ dir, trials, seed = 1, maxKillMs = 600, log = () => {} }) {
  const model = new Map()
  let next = 0 // first batch not yet known to be applied
  let rand = seed
  const random = () => ((rand = (rand * 1103515245 + 12345) % 2147483648) / 2147483648)
  const summary = { trials: 0, batches: 0, inflightApplied: 0, inflightLost: 0, killedBeforeReady: 0 }
  for (let t = 0; t < trials; t++) {
    // A quarter of the kills land while the child starts and recovers.
    const killAfter = random() < 0.25 ? random() * 150 : random() * maxKillMs
    const { acks, ready } = await runChild(dir, seed, next, Math.floor(killAfter))
    if (!ready) summary.killedBeforeReady++
    for (let i = 0; i < acks.length; i++) {
      if (acks[i] !== next + i) throw new Error(`trial ${t}: acks out of order: ${acks.join(',')}`)
    }
    const acked = new Map(model)
    for (const b of acks) applyToModel(acked, batch(seed, b))
    const inflight = next + acks.length
    const withInflight = new Map(acked)
    applyToModel(withInflight, batch(seed, inflight))
    const { db, c, state } = await readState(dir)
    try {
      let applied
      if (equalsModel(state, acked)) applied = false
      else if (equalsModel(state, withInflight)) applied = true
      else {
        const missing = [...acked.keys()].filter((id) => !sameEntry(state.get(id), acked.get(id))).slice(0, 5)
        throw new Error(`trial ${t}: state (${state.size} ids) matches neither the acknowledged model (${acked.size}) nor it plus batch ${inflight}; first differing ids ${missing}`)
      }
      const truth = applied ? withInflight : acked
      await checkSearch(c, truth, t)
      model.clear()
      for (const [k, v] of truth) model.set(k, v)
      next = inflight + (applied ? 1 : 0)
      if (applied) summary.inflightApplied++
      else summary.inflightLost++
    } finally {
      await db.close()
    }
    summary.trials++
    summary.batches = next
    log(`trial ${t}: ${acks.length} acked, next batch ${next}, ${model.size} ids`)
  }
  return summary
}

module.exports = { runTrials }

if (require.main === module) {
  const args = process.argv.slice(2)
  const get = (name, d) => {
    const i = args.indexOf(`--${name}`)
    return i >= 0 ? Number(args[i + 1]) : d
  }
  const trials = get('trials', 100)
  const seed = get('seed', Date.now() % 100000)
  const fs = require('node:fs')
  const os = require('node:os')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-crash-'))
  const t0 = Date.now()
  runTrials({ dir, trials, seed, log: trials <= 50 ? console.log : () => {} })
    .then((s) => {
      console.log(JSON.stringify({ ...s, seed, failures: 0, seconds: (Date.now() - t0) / 1000 }))
      fs.rmSync(dir, { recursive: true, force: true })
    })
    .catch((e) => {
      console.error(`FAILED (seed ${seed}, dir ${dir}): ${e.stack}`)
      process.exit(1)
    })
}
