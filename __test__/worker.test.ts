/**
 * The API inside `node:worker_threads`: the native addon must load in several threads at
 * once, each with its own databases, and survive workers being terminated.
 */
import test from 'ava'
import fs from 'node:fs'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { open } from '../src-ts/index.js'

const root = path.join(__dirname, '..')
const fixture = path.join(__dirname, 'fixtures', 'worker.cjs')

test.before(() => {
  // The worker loads the compiled API; `npm test` builds it first (npm run build:ts).
  for (const f of fs.readdirSync(path.join(root, 'src-ts')).filter((f) => f.endsWith('.ts'))) {
    const js = path.join(root, 'dist', f.replace(/\.ts$/, '.js'))
    if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(path.join(root, 'src-ts', f)).mtimeMs) {
      throw new Error(`${path.relative(root, js)} is missing or older than src-ts/${f}: run \`npm run build:ts\` first`)
    }
  }
})

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Msg = any

function spawn(offset: number, n: number): Worker {
  return new Worker(fixture, { workerData: { offset, n } })
}

/** The next message of `type` from `worker`; rejects on an error message, error or exit. */
function next(worker: Worker, type: string, timeoutMs = 20_000): Promise<Msg> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(reject, new Error(`no '${type}' message within ${timeoutMs} ms`)), timeoutMs)
    const onMessage = (m: Msg) => {
      if (m.type === 'error') done(reject, new Error(`worker error ${m.code}: ${m.message}`))
      else if (m.type === type) done(resolve, m)
    }
    const onError = (e: Error) => done(reject, e)
    const onExit = (code: number) => done(reject, new Error(`worker exited with code ${code}`))
    function done<T>(settle: (v: T) => void, v: T) {
      clearTimeout(timer)
      worker.off('message', onMessage).off('error', onError).off('exit', onExit)
      settle(v)
    }
    worker.on('message', onMessage).on('error', onError).on('exit', onExit)
  })
}

function expectedHits(offset: number, threadId: number) {
  // Rows are (offset + i, 0); the query is (offset + 2.25, 0).
  return [
    { id: offset + 2, distance: 0.0625, metadata: { from: threadId, id: offset + 2 } },
    { id: offset + 3, distance: 0.5625, metadata: { from: threadId, id: offset + 3 } },
    { id: offset + 1, distance: 1.5625, metadata: { from: threadId, id: offset + 1 } },
  ]
}

async function mainThreadStillWorks(): Promise<unknown> {
  const db = await open()
  const c = await db.createCollection('main', { dimension: 1, metric: 'l2' })
  await c.upsert([1, 2], [[1], [2]])
  const hits = await c.search([2], { k: 1 })
  await db.close()
  return hits
}

test('a worker thread creates a collection, upserts, searches and posts the result back', async (t) => {
  const worker = spawn(100, 10)
  try {
    const ready = await next(worker, 'ready')
    t.is(ready.threadId, worker.threadId)
    t.is(ready.count, 10)
    t.true(['avx512', 'avx2', 'neon', 'scalar'].includes(ready.simd))
    t.deepEqual(ready.hits, expectedHits(100, worker.threadId))

    worker.postMessage({ queries: [[109, 0], [100.4, 0]], k: 2 })
    const res = await next(worker, 'result')
    const q = Math.fround(100.4) // the query as f32; l2 = f32((q − x)²)
    t.deepEqual(
      res.batch.map((r: Msg[]) => r.map((h) => [h.id, h.distance])),
      [
        [
          [109, 0],
          [108, 1],
        ],
        [
          [100, Math.fround((q - 100) ** 2)],
          [101, Math.fround((101 - q) ** 2)],
        ],
      ],
    )
    t.deepEqual(res.sync, res.batch[0])
  } finally {
    t.is(await worker.terminate(), 1)
  }
  t.deepEqual(await mainThreadStillWorks(), [{ id: 2, distance: 0 }])
})

test('two workers run concurrently, each with its own database', async (t) => {
  const a = spawn(0, 20)
  const b = spawn(1000, 5)
  try {
    const [ra, rb] = await Promise.all([next(a, 'ready'), next(b, 'ready')])
    t.not(ra.threadId, rb.threadId)
    t.is(ra.count, 20)
    t.is(rb.count, 5)
    t.deepEqual(ra.hits, expectedHits(0, a.threadId))
    t.deepEqual(rb.hits, expectedHits(1000, b.threadId))
    // Interleaved requests: each worker only sees its own rows.
    a.postMessage({ queries: [[1004, 0]], k: 1 })
    b.postMessage({ queries: [[4, 0]], k: 1 })
    const [xa, xb] = await Promise.all([next(a, 'result'), next(b, 'result')])
    t.deepEqual(
      xa.batch[0].map((h: Msg) => h.id),
      [19],
    )
    t.deepEqual(
      xb.batch[0].map((h: Msg) => h.id),
      [1000],
    )
  } finally {
    const codes = await Promise.all([a.terminate(), b.terminate()])
    t.deepEqual(codes, [1, 1])
  }
  t.deepEqual(await mainThreadStillWorks(), [{ id: 2, distance: 0 }])
})

test('terminating a worker while its search runs on the thread pool does not crash the process', async (t) => {
  const worker = spawn(0, 20000)
  await next(worker, 'ready')
  const queries = Array.from({ length: 2000 }, (_, i) => [i * 7.5, 0])
  worker.postMessage({ queries, k: 100 })
  t.is(await worker.terminate(), 1)
  // Give any in-flight native task time to finish against the torn-down environment.
  await new Promise((r) => setTimeout(r, 300))
  t.deepEqual(await mainThreadStillWorks(), [{ id: 2, distance: 0 }])
})
