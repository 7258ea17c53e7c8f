#!/usr/bin/env node
// String ids against u64 ids, same data, same graph settings, one run: GloVe-100 (331k ×
// 100, cosine) stored twice — ids `0..n` in one collection, the words themselves (string
// ids) in the other — each built into one HNSW graph (M = 16, efConstruction = 200), then
// searched one query at a time with `searchSync` at each ef, the two collections taking
// turns round by round. Reports QPS (median round) and recall@10 per collection and the
// string/u64 QPS ratio. Writes a section of benches/RESULTS.md.
//
//   node benches/string-ids.mjs [--queries 1000] [--rounds 5] [--efs 32,64,128]
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { loadGlove, machineInfo } from './datasets/glove.mjs'
import { normalizeRows, recallAtK } from './lib/vectors.mjs'
import { BENCH_DIR, fmt, median, table, writeSection } from './lib/report.mjs'

const require = createRequire(import.meta.url)
const kyrodb = require('../dist/index.js')

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []),
)
const QUERIES = Number(args.queries ?? 1000)
const ROUNDS = Number(args.rounds ?? 5)
const EFS = (args.efs ?? '32,64,128').split(',').map(Number)
const K = 10

const raw = await loadGlove({ nQueries: QUERIES, words: true })
const ds = { ...raw, base: normalizeRows(raw.base, raw.dim), queries: normalizeRows(raw.queries, raw.dim) }
const words = Array.from(ds.baseIds, (w) => ds.words[w])
if (new Set(words).size !== words.length) throw new Error('GloVe words are not unique')
const rowOfWord = new Map(words.map((w, r) => [w, r]))

const dir = fs.mkdtempSync(path.join(process.env.KYRODB_BENCH_DIR ?? os.tmpdir(), 'kyrodb-strids-'))
const db = await kyrodb.open(dir, { durability: 'none' })
const index = { m: 16, efConstruction: 200, autoBuildRows: 10_000_000 }

async function load(name, idType) {
  const c = await db.createCollection(name, { dimension: ds.dim, metric: 'cosine', index, idType })
  c.setMaxUnindexedRows(0)
  const batch = 10_000
  for (let s = 0; s < ds.nBase; s += batch) {
    const e = Math.min(ds.nBase, s + batch)
    const ids = idType === 'string' ? words.slice(s, e) : Array.from({ length: e - s }, (_, i) => s + i)
    await c.upsert(ids, ds.base.subarray(s * ds.dim, e * ds.dim))
  }
  const t0 = performance.now()
  await c.buildIndex()
  console.log(`${name}: ${ds.nBase} rows built in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  return c
}

const systems = [
  { name: 'u64 ids', c: await load('u64', 'u64'), row: (id) => id },
  { name: 'string ids', c: await load('str', 'string'), row: (id) => rowOfWord.get(id) },
]

const q = (i) => ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)
const rows = []
for (const ef of EFS) {
  const qps = systems.map(() => [])
  const recall = systems.map(() => 0)
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which system goes first, so neither always runs on a warmer cache.
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const s of order) {
      const { c, row } = systems[s]
      const t0 = performance.now()
      let hits = 0
      for (let i = 0; i < ds.nQueries; i++) {
        const found = c.searchSync(q(i), { k: K, ef, withMetadata: false, cache: false })
        if (round === 0) hits += recallAtK(found.map((h) => row(h.id)), ds.groundTruth, i, K)
      }
      qps[s].push(ds.nQueries / ((performance.now() - t0) / 1000))
      if (round === 0) recall[s] = hits / ds.nQueries
    }
  }
  const [u, str] = qps.map(median)
  rows.push([String(ef), fmt(recall[0], 3), fmt(u, 0), fmt(recall[1], 3), fmt(str, 0), fmt(str / u, 3)])
  console.log(`ef ${ef}: u64 ${fmt(u, 0)} q/s (recall ${fmt(recall[0], 3)}), string ${fmt(str, 0)} q/s (recall ${fmt(recall[1], 3)}), ratio ${fmt(str / u, 3)}`)
}
await db.close()
fs.rmSync(dir, { recursive: true, force: true })

const m = machineInfo()
const body = [
  `String ids against u64 ids on ${ds.nBase.toLocaleString('en-US')} GloVe-100 vectors (cosine; string ids are the words), one graph each (M 16, efConstruction 200), ` +
    `${ds.nQueries} queries one at a time with \`searchSync\`, k = ${K}, median of ${ROUNDS} alternating rounds; ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}.`,
  '',
  table(['ef', 'u64 recall@10', 'u64 q/s', 'string recall@10', 'string q/s', 'string / u64'], rows),
  '',
  `Reproduce: \`node benches/string-ids.mjs --queries ${QUERIES} --rounds ${ROUNDS} --efs ${EFS.join(',')}\`.`,
].join('\n')
writeSection(path.join(BENCH_DIR, 'RESULTS.md'), 'string-ids-glove', body)
console.log(body)
