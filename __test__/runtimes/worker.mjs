// Worker thread of smoke.mjs: the addon loaded a second time, in another JS environment.
import { parentPort, workerData } from 'node:worker_threads'

const { open } = await import(workerData.spec)
const db = await open()
const c = await db.createCollection('w', { dimension: 2, metric: 'l2' })
await c.upsert([workerData.id], [[1, 2]])
const hits = await c.search([1, 2], { k: 1 })
await db.close()
parentPort.postMessage(hits)
