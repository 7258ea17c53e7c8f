// Child process of the crash test: opens the database (recovery), then writes batches
// start, start+1, ... printing `ack <b>` after each one resolves, until it is killed.
'use strict'

const { open } = require('../../dist/index.js')
const { DIM, batch } = require('./batches.cjs')

async function main() {
  const [dir, seedArg, startArg] = process.argv.slice(2)
  const seed = Number(seedArg)
  // Small memtables: key-value runs are written and merged in the background too.
  const db = await open(dir, { kvMemtableBytes: 16384 })
  let c
  try {
    c = db.collection('v')
  } catch {
    c = await db.createCollection('v', { dimension: DIM, metric: 'l2', index: { m: 8, efConstruction: 60, autoBuildRows: 400 } })
  }
  process.stdout.write('ready\n')
  for (let b = Number(startArg); ; b++) {
    const bt = batch(seed, b)
    if (bt.kind === 'upsert') await c.upsert(bt.ids, bt.vectors, bt.metadata.map((m) => m ?? undefined))
    else if (bt.kind === 'delete') await c.delete(bt.ids)
    else if (bt.kind === 'kv') await db.kv.batch(bt.writes)
    else if (bt.kind === 'flush') await db.flush()
    else await db.compact()
    process.stdout.write(`ack ${b}\n`)
  }
}

main().catch((e) => {
  process.stderr.write(`writer failed: ${e && e.stack}\n`)
  process.exit(3)
})
