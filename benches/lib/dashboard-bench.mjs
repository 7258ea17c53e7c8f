// `node benches/server.mjs --dashboard`: does an open dashboard cost the search path anything?
//
// One `kyrodb serve` on a directory holding clustered-128 (--n rows, L2, M = 16,
// efConstruction = 200, one graph) and --keys key-value entries. Each route is measured under
// three conditions, interleaved over --rounds rounds (median round shown):
//   closed    no page open;
//   polling   the page's own requests, without a browser (benches/lib/dashboard-poller.mjs:
//             /v1/dashboard/live every second, /v1/dashboard/overview every 3 s): the
//             server's share of the cost;
//   browser   the page open in headless Chromium (playwright-core, /usr/bin/chromium), one tab
//             on Live and one on Overview: what a person watching costs, the browser's own
//             rendering on this machine's cores included.
// Writes benches/RESULTS.md § server-dashboard.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { loadClustered } from '../datasets/clustered.mjs'
import { machineInfo } from '../datasets/glove.mjs'
import { REPO_DIR, fmt, table, writeSection } from './report.mjs'

const require = createRequire(import.meta.url)

export async function dashboardBench({ args, startChild, stopChild, measure, freePort }) {
  const kyrodb = require('../../dist/index.js')
  const N = Number(args.n ?? 200_000)
  const KEYS = Number(args.keys ?? 1_000_000)
  const ROUNDS = Number(args.rounds ?? 3)
  const DURATION = Number(args.duration ?? 5)
  const QUERIES = 2000
  const CHROMIUM = process.env.KYRODB_CHROMIUM ?? '/usr/bin/chromium'
  const DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-bench-dashboard-'))

  const ds = await loadClustered({ n: N })
  {
    const db = await kyrodb.open(DIR, { durability: 'none' })
    const value = Buffer.alloc(100, 7)
    for (let s = 0; s < KEYS; s += 100_000) {
      const batch = []
      for (let k = s; k < Math.min(KEYS, s + 100_000); k++) batch.push([k, value])
      await db.kv.putBatch(batch)
    }
    await db.kv.buildIndex()
    const t0 = performance.now()
    const col = await db.createCollection('clustered', { dimension: ds.dim, metric: 'l2', index: { m: 16, efConstruction: 200, autoBuildRows: 2 ** 31 } })
    for (let s = 0; s < N; s += 50_000) {
      const e = Math.min(N, s + 50_000)
      const ids = new BigUint64Array(e - s)
      for (let i = 0; i < ids.length; i++) ids[i] = BigInt(s + i)
      await col.upsert(ids, ds.base.subarray(s * ds.dim, e * ds.dim))
    }
    await col.buildIndex()
    console.log(`clustered-128: ${N.toLocaleString('en-US')} vectors indexed in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
    await db.close()
  }
  const bodiesFile = path.join(os.tmpdir(), `kyrodb-bench-dashboard-bodies-${process.pid}.json`)
  fs.writeFileSync(
    bodiesFile,
    JSON.stringify(Array.from({ length: QUERIES }, (_, i) => JSON.stringify({ vector: Array.from(ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim)), k: 10, cache: false }))),
  )

  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const server = await startChild(['dist/cli.js', 'serve', '127.0.0.1', String(port), '--data-dir', DIR, '--log-level', 'warn'], `${url}/health`)
  await fetch(`${url}/v1/warmup`, { method: 'POST' })

  const { chromium } = require('playwright-core')
  const browser = fs.existsSync(CHROMIUM) ? await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] }) : null
  if (browser === null) console.log(`no Chromium at ${CHROMIUM}: the browser condition is skipped`)

  const conditions = {
    closed: async () => async () => {},
    polling: async () => {
      const child = spawn(process.execPath, ['benches/lib/dashboard-poller.mjs', url], { cwd: REPO_DIR, stdio: ['ignore', 'pipe', 'inherit'] })
      await new Promise((r) => setTimeout(r, 1500))
      return async () => {
        child.kill('SIGTERM')
        await once(child, 'exit')
      }
    },
    ...(browser && {
      browser: async () => {
        const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
        const live = await context.newPage()
        await live.goto(`${url}/#live`)
        await live.waitForSelector('#chart-throughput canvas')
        const overview = await context.newPage()
        await overview.goto(`${url}/#overview`)
        await overview.waitForSelector('#collections')
        await live.bringToFront()
        return async () => context.close()
      },
    }),
  }
  const routes = {
    'search, 1 connection': () => measure('search', { url: `${url}/v1/collections/clustered/search`, connections: 1, bodiesFile }),
    'search, 8 connections': () => measure('search', { url: `${url}/v1/collections/clustered/search`, connections: 8, bodiesFile }),
    'get_fast, 32 connections': () => measure('get_fast', { url, connections: 32, randomPath: { prefix: '/v1/get_fast/', keys: KEYS } }),
  }
  const runs = {}
  for (let round = 0; round < ROUNDS; round++) {
    for (const [condition, setUp] of Object.entries(conditions)) {
      const tearDown = await setUp()
      for (const [route, run] of Object.entries(routes)) {
        const r = await run()
        ;((runs[route] ??= {})[condition] ??= []).push(r)
        console.log(`round ${round + 1} ${condition} ${route}: ${fmt(r.rps, 0)} requests/s`)
      }
      await tearDown()
    }
  }
  await browser?.close()
  await stopChild(server)
  fs.rmSync(DIR, { recursive: true, force: true })
  fs.rmSync(bodiesFile, { force: true })

  const median = (list) => [...list].sort((a, b) => a.rps - b.rps)[list.length >> 1]
  const names = Object.keys(conditions)
  const rows = Object.entries(runs).map(([route, byCondition]) => {
    const closed = median(byCondition.closed)
    return [
      route,
      ...names.flatMap((c) => {
        const m = median(byCondition[c])
        return c === 'closed' ? [fmt(m.rps, 0), fmt(m.mean, 3)] : [fmt(m.rps, 0), fmt(m.mean, 3), `**${fmt(m.rps / closed.rps, 3)}×**`]
      }),
    ]
  })
  const header = ['route', ...names.flatMap((c) => (c === 'closed' ? ['closed: requests/s', 'mean ms'] : [`${c}: requests/s`, 'mean ms', `${c} / closed`]))]
  const m = machineInfo()
  const body = `
### The dashboard open while serving (\`node benches/server.mjs --dashboard\`)

2-core Intel Xeon KVM guest with AVX-512 (${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB), Node ${m.node}; loopback; autocannon ${DURATION} s per run
(after 1 s of warm-up) in its own process; one \`kyrodb serve\` on clustered-128 ${N.toLocaleString('en-US')} × 128 (L2, M = 16, efConstruction = 200,
one graph, k = 10, default ef) and ${KEYS.toLocaleString('en-US')} keys × 100 B; conditions interleaved over ${ROUNDS} rounds, median round shown.
*closed*: no page open. *polling*: the page's requests without a browser (\`/v1/dashboard/live\` every second, \`/v1/dashboard/overview\`
every 3 s), the server's share. *browser*: the page open in headless Chromium on this machine, one tab on Live and one on Overview
(the browser's own rendering shares the two cores).

${table(header, rows)}

Spread of the closed condition over the rounds (min–max requests/s), for scale: ${Object.entries(runs)
    .map(([route, c]) => `${route} ${fmt(Math.min(...c.closed.map((r) => r.rps)), 0)}–${fmt(Math.max(...c.closed.map((r) => r.rps)), 0)}`)
    .join('; ')}.

The live samples are taken once a second by a timer whether a page is open or not (a few native stats calls); nothing is added
to the search or write paths, so a ratio below 1 is the cost of answering the page's requests (polling) and of the browser's own
rendering on the same two cores (browser).
`
  writeSection(path.join(REPO_DIR, 'benches', 'RESULTS.md'), 'server-dashboard', body)
  console.log(body)
}
