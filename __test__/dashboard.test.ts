/**
 * The dashboard (`GET /`), in a real browser: Debian's Chromium driven by playwright-core.
 *
 * One server in this process (`createServer` over a database the test also holds, so
 * that a playground search can be checked against `collection.search`), and one started
 * through the CLI with `--api-key` for the key prompt. Checks: every view loads with no
 * console error and no failed request; a collection created through the API shows up with
 * its count; the playground returns the ids `collection.search` returns, and a malformed
 * filter shows the engine's error with a caret at its position; the live charts receive
 * new points; an admin action's progress reaches 100%; the key-value browser pages
 * forward and back; with keys, the page asks for one, refuses a wrong one, and shows no
 * actions to a read-only key.
 *
 * Screenshots of each view are written to `KYRODB_SCREENSHOT_DIR` (the ones in
 * docs/dashboard/ come from `KYRODB_SCREENSHOT_DIR=docs/dashboard`), else to a temporary
 * directory. Chromium is `/usr/bin/chromium` (or `KYRODB_CHROMIUM`); without it the tests
 * pass with a note, unless `KYRODB_REQUIRE_BROWSER=1` (CI sets it after installing it).
 */
import test, { type ExecutionContext } from 'ava'
import type { FastifyInstance } from 'fastify'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { open, type Database } from '../src-ts/index.js'
import { createServer } from '../src-ts/server/index.js'
import { rng } from './helpers/data.js'
import { repoRoot, request, startServer, type RunningServer } from './helpers/server.js'

/** The part of the DOM the page functions below use (this tsconfig has no DOM library). */
declare const document: {
  querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null
  querySelectorAll(selector: string): { length: number }
}

const CHROMIUM = process.env.KYRODB_CHROMIUM ?? '/usr/bin/chromium'
const haveBrowser = existsSync(CHROMIUM)
const SHOTS = process.env.KYRODB_SCREENSHOT_DIR ? resolve(repoRoot, process.env.KYRODB_SCREENSHOT_DIR) : mkdtempSync(join(tmpdir(), 'kyrodb-shots-'))
const ADMIN_KEY = 'admin-key-0123456789abcdef'
const READ_KEY = 'read-key-0123456789abcdef'
const DIM = 32

let browser: Browser
let db: Database
let dataDir: string
let app: FastifyInstance
let url: string
let keyed: RunningServer | undefined

/** A page that records what went wrong in it. */
interface WatchedPage {
  page: Page
  context: BrowserContext
  /** Console errors, uncaught exceptions, failed requests and HTTP errors, as text. */
  problems: string[]
}

async function watchedPage(): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } })
  const page = await context.newPage()
  const problems: string[] = []
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`)
  })
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`))
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`)
  })
  return { page, context, problems }
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true })
}

function randomVectors(n: number, rand: () => number): Float32Array {
  const v = new Float32Array(n * DIM)
  for (let i = 0; i < v.length; i++) v[i] = rand() * 2 - 1
  return v
}

const browserTest = (title: string, body: (t: ExecutionContext) => Promise<void>) =>
  test.serial(title, async (t) => {
    if (!haveBrowser) {
      if (process.env.KYRODB_REQUIRE_BROWSER === '1') t.fail(`no Chromium at ${CHROMIUM} (apt-get install chromium, or set KYRODB_CHROMIUM)`)
      else {
        t.log(`no Chromium at ${CHROMIUM}: not run (.ci/run installs it)`)
        t.pass()
      }
      return
    }
    await body(t)
  })

test.before(async () => {
  if (!haveBrowser) return
  mkdirSync(SHOTS, { recursive: true })
  const { chromium } = await import('playwright-core')
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
  dataDir = mkdtempSync(join(tmpdir(), 'kyrodb-dashboard-'))
  db = await open(dataDir)
  // A collection with a graph segment, a second segment with deletions, and a hot tier.
  const rand = rng(19)
  const docs = await db.createCollection('docs', { dimension: DIM, metric: 'cosine' })
  const categories = ['news', 'science', 'sport', 'arts']
  const meta = (i: number) => ({ title: `doc ${i}`, category: categories[i % 4]!, year: 2000 + (i % 25) })
  const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)
  await docs.upsert(ids(0, 3000), randomVectors(3000, rand), ids(0, 3000).map(meta))
  await docs.buildIndex()
  await docs.upsert(ids(3000, 3400), randomVectors(400, rand), ids(3000, 3400).map(meta))
  await db.flush()
  await docs.delete(ids(3000, 3040))
  await docs.upsert(ids(3400, 3550), randomVectors(150, rand), ids(3400, 3550).map(meta))
  const exactOnly = await db.createCollection('exact_l2', { dimension: 4, metric: 'l2', index: false })
  await exactOnly.upsert([1, 2, 3], [[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0]])
  // Ids as opaque strings: characters that need encoding in a URL.
  const named = await db.createCollection('named', { dimension: 4, metric: 'l2', idType: 'string' })
  await named.upsert(['doc-α/1', 'doc 2', 'x?y=3&z', '%41'], [[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0.9, 0.1]])
  await db.kv.putBatch(Array.from({ length: 300 }, (_, k) => [k, k % 7 === 0 ? Buffer.from([k & 255, 1, 2, 3]) : `value ${k}`] as [number, Buffer | string]))
  await db.flush()
  await db.kv.buildIndex()
  for (let k = 0; k < 500; k++) db.kv.getSync(k)
  app = createServer({ db })
  await app.listen({ host: '127.0.0.1', port: 0 })
  url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`
})

test.after.always(async () => {
  await browser?.close()
  await app?.close()
  await db?.close()
  if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  if (keyed) {
    await keyed.stop()
    rmSync(keyed.dataDir, { recursive: true, force: true })
  }
  if (!process.env.KYRODB_SCREENSHOT_DIR) rmSync(SHOTS, { recursive: true, force: true })
})

browserTest('the page and assets carry a Content-Security-Policy without unsafe-inline; unknown assets are 404', async (t) => {
  const page = await request(url, 'GET', '/')
  t.is(page.status, 200)
  const csp = page.headers.get('content-security-policy') ?? ''
  t.regex(csp, /script-src 'self'/)
  t.notRegex(csp, /unsafe-inline|unsafe-eval/)
  t.notRegex(page.text, /<script>|<style|style=/, 'no inline script or style in the page')
  const asset = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(page.text)![1]!
  const js = await request(url, 'GET', asset)
  t.is(js.status, 200)
  t.regex(js.headers.get('cache-control') ?? '', /immutable/)
  t.is((await request(url, 'GET', '/ui/assets/nothing.js')).status, 404)
  t.is((await request(url, 'GET', '/', undefined, { 'if-none-match': page.headers.get('etag')! })).status, 304)
})

browserTest('every view loads with no console error and no failed request', async (t) => {
  const { page, context, problems } = await watchedPage()
  await page.goto(url)
  await page.waitForSelector('#view-overview #collections')
  await page.click('tr[data-collection="docs"]') // open its segments
  await page.waitForSelector('table.segments')
  await shot(page, 'overview')
  for (const view of ['live', 'search', 'kv', 'actions']) {
    await page.click(`#nav-${view}`)
    await page.waitForSelector(`#view-${view}`)
  }
  await page.waitForTimeout(1500) // a poll or two of each kind
  t.deepEqual(problems, [])
  // The overview shows the engine's figures.
  await page.click('#nav-overview')
  const row = await page.textContent('tr[data-collection="docs"]')
  t.regex(row!, /3,510/) // 3,550 written, 40 deleted
  t.regex(row!, /cosine/)
  t.regex((await page.textContent('tr[data-collection="exact_l2"]'))!, /exact only/)
  t.regex((await page.textContent('tr[data-collection="named"]'))!, /string/)
  t.regex((await page.textContent('#view-overview'))!, /avx512|avx2|neon|scalar/)
  t.truthy(await page.$('#probe-histogram'))
  await context.close()
})

browserTest('a collection created through the API appears with its count', async (t) => {
  const { page, context, problems } = await watchedPage()
  await page.goto(url)
  await page.waitForSelector('#collections')
  t.is(await page.$('tr[data-collection="fresh"]'), null)
  t.is((await request(url, 'POST', '/v1/collections', { name: 'fresh', dimension: 3, metric: 'l2' })).status, 201)
  const ids = Array.from({ length: 37 }, (_, i) => i + 1)
  const vectors = ids.map((i) => [i, i / 2, 1])
  t.is((await request(url, 'POST', '/v1/collections/fresh/points', { ids, vectors })).status, 200)
  await page.waitForFunction(() => document.querySelector('tr[data-collection="fresh"] .count')?.textContent === '37', undefined, { timeout: 15_000 })
  t.deepEqual(problems, [])
  await context.close()
})

/** The ids in the playground's result table. */
const resultIds = (page: Page) => page.$$eval('#results .result-id', (cells) => cells.map((c) => c.textContent ?? ''))

browserTest('a playground search returns the ids collection.search returns; compare with exact shows recall@k', async (t) => {
  const { page, context, problems } = await watchedPage()
  await page.goto(`${url}/#search`)
  await page.waitForSelector('#search-form')
  await page.selectOption('#search-collection', 'docs')
  await page.fill('#search-id', '42')
  await page.fill('#search-k', '10')
  await page.click('#search-run')
  await page.waitForSelector('#results tbody tr')
  const docs = db.collection('docs')
  const query = (await docs.get(42))!.vector
  const expected = (await docs.search(query, { k: 10 })).map((h) => String(h.id))
  t.deepEqual(await resultIds(page), expected)
  t.is((await resultIds(page))[0], '42')

  // With ef and a filter, by a pasted vector.
  await page.check('#mode-vector')
  await page.fill('#search-vector', JSON.stringify(Array.from(query)))
  await page.fill('#search-ef', '80')
  await page.fill('#search-filter', "category == 'science' AND year >= 2010")
  await page.click('#search-run')
  const filtered = (await docs.search(query, { k: 10, ef: 80, filter: "category == 'science' AND year >= 2010" })).map((h) => String(h.id))
  await page.waitForFunction((first) => document.querySelector('#results .result-id')?.textContent === first, filtered[0])
  t.deepEqual(await resultIds(page), filtered)
  t.regex((await page.textContent('#results tbody tr'))!, /"category":"science"/)

  // A string-id collection: the id typed goes to the server as it is.
  await page.selectOption('#search-collection', 'named')
  await page.check('#mode-id')
  await page.fill('#search-filter', '')
  await page.fill('#search-ef', '')
  for (const id of ['doc-α/1', '%41']) {
    await page.fill('#search-id', id)
    await page.click('#search-run')
    await page.waitForFunction((first) => document.querySelector('#results .result-id')?.textContent === first, id)
    const named = db.collection('named')
    t.deepEqual(await resultIds(page), (await named.search((await named.get(id))!.vector, { k: 10 })).map((h) => String(h.id)))
  }

  // Back to docs for the comparison.
  await page.selectOption('#search-collection', 'docs')
  await page.check('#mode-vector')
  await page.fill('#search-filter', "category == 'science' AND year >= 2010")
  await page.click('#search-compare')
  await page.waitForSelector('#recall')
  const recall = Number((await page.textContent('#recall'))!.replace('%', ''))
  t.true(recall >= 0 && recall <= 100)
  t.regex((await page.textContent('#comparison'))!, /Brute force over/)
  await shot(page, 'search')
  t.deepEqual(problems, [])
  await context.close()
})

browserTest('a malformed filter shows the parser error with a caret at its position', async (t) => {
  const { page, context, problems } = await watchedPage()
  await page.goto(`${url}/#search`)
  await page.waitForSelector('#search-form')
  await page.selectOption('#search-collection', 'docs')
  await page.fill('#search-id', '7')
  const filter = "category == 'news' AND (year >"
  await page.fill('#search-filter', filter)
  await page.click('#search-run')
  await page.waitForSelector('#filter-error')
  const message = (await page.textContent('#filter-error'))!
  t.regex(message, /INVALID_FILTER/)
  const position = Number(/position (\d+)/.exec(message)![1])
  t.is(position, filter.length) // "expected a value ... at position 31, found the end of the filter"
  const [line, caret] = (await page.textContent('#filter-caret'))!.split('\n')
  t.is(line, filter)
  t.is(caret!.indexOf('^'), position)
  await shot(page, 'filter-error')
  // The 400 of the search is the only problem.
  t.true(problems.length > 0 && problems.every((p) => /400/.test(p)), problems.join('\n'))
  await context.close()
})

browserTest('the live charts receive new points', async (t) => {
  const { page, context, problems } = await watchedPage()
  await page.goto(`${url}/#live`)
  await page.waitForSelector('#chart-throughput canvas')
  const points = async () => Number(await page.getAttribute('#chart-throughput', 'data-points'))
  const before = await points()
  // Traffic for the charts to show: searches and writes over HTTP for a few seconds.
  const docs = db.collection('docs')
  const rand = rng(7)
  const until = Date.now() + 6000
  let n = 0
  while (Date.now() < until) {
    const v = Array.from(randomVectors(1, rand))
    await request(url, 'POST', '/v1/collections/docs/search', { vector: v, k: 10 })
    if (n++ % 20 === 0) await request(url, 'POST', '/v1/collections/docs/points', { ids: [10_000 + n], vectors: [v] })
    await new Promise((r) => setTimeout(r, 5))
  }
  await page.waitForFunction((b) => Number(document.querySelector('#chart-throughput')!.getAttribute('data-points')) >= b + 3, before, { timeout: 15_000 })
  t.true((await points()) >= before + 3)
  // The query-cache chart samples on the same clock.
  await page.waitForSelector('#chart-cache canvas')
  t.true(Number(await page.getAttribute('#chart-cache', 'data-points')) >= before + 3)
  const live = await request(url, 'GET', '/v1/dashboard/live')
  t.true(live.json.samples.some((s: { searches: number; p50: number | null }) => s.searches > 0 && s.p50 !== null))
  t.true(docs.count() > 3510)
  await page.waitForTimeout(1200)
  await shot(page, 'live')
  t.deepEqual(problems, [])
  await context.close()
})

browserTest("an admin action runs and its progress reaches 100%", async (t) => {
  const { page, context, problems } = await watchedPage()
  await page.goto(`${url}/#actions`)
  await page.waitForSelector('#action-build')
  await page.selectOption('#action-collection', 'docs')
  await page.click('#action-build')
  const done = 'tr[data-job][data-state="done"] .pct'
  await page.waitForSelector(done, { timeout: 60_000 })
  t.is(await page.textContent(done), '100%')
  t.regex((await page.textContent('#jobs tbody tr'))!, /Build index docs/)
  // Compact too: every collection into one segment.
  await page.click('#action-compact')
  await page.waitForFunction(() => document.querySelectorAll('tr[data-job][data-state="done"]').length === 2, undefined, { timeout: 60_000 })
  t.is(db.collection('docs').stats().segments.length, 1)
  await page.click('#action-verify')
  await page.waitForFunction(() => document.querySelectorAll('tr[data-job][data-state="done"]').length === 3, undefined, { timeout: 60_000 })
  const jobs = (await request(url, 'GET', '/v1/dashboard/jobs')).json.jobs as { kind: string; done: number; total: number; state: string }[]
  t.deepEqual(jobs.map((j) => [j.kind, j.state, j.done === j.total]), [['verify', 'done', true], ['compact', 'done', true], ['build_index', 'done', true]])
  await shot(page, 'actions')
  t.deepEqual(problems, [])
  await context.close()
})

browserTest('the key-value browser gets a key and pages forward and back', async (t) => {
  const { page, context, problems } = await watchedPage()
  await page.goto(`${url}/#kv`)
  await page.fill('#kv-key', '5')
  await page.click('#kv-get-form button')
  await page.waitForSelector('#kv-value')
  t.is(await page.textContent('#kv-value dd'), 'value 5')
  await page.fill('#kv-key', '14')
  await page.click('#kv-get-form button')
  await page.waitForFunction(() => /4 bytes: 0e 01 02 03/.test(document.querySelector('#kv-value dd')?.textContent ?? ''))
  const keys = () => page.$$eval('#kv-entries .kv-entry-key', (cells) => cells.map((c) => c.textContent))
  await page.fill('#kv-from', '100')
  await page.fill('#kv-limit', '25')
  await page.click('#kv-range-form button')
  await page.waitForSelector('#kv-entries tbody tr')
  t.is((await keys())[0], '100')
  t.is((await keys()).length, 25)
  await page.click('#kv-next')
  await page.waitForFunction(() => document.querySelector('#kv-entries .kv-entry-key')?.textContent === '125')
  await page.click('#kv-next')
  await page.waitForFunction(() => document.querySelector('#kv-entries .kv-entry-key')?.textContent === '150')
  await page.click('#kv-prev')
  await page.waitForFunction(() => document.querySelector('#kv-entries .kv-entry-key')?.textContent === '125')
  t.is(await page.textContent('#kv-page'), 'page 2')
  await shot(page, 'kv')
  t.deepEqual(problems, [])
  await context.close()
})

browserTest('with --api-key the page asks for a key, refuses a wrong one, and shows no actions to a read-only key', async (t) => {
  keyed = await startServer(['--api-key', ADMIN_KEY, '--read-api-key', READ_KEY])
  {
    const { page, context, problems } = await watchedPage()
    await page.goto(keyed.url)
    await page.waitForSelector('#key-form')
    t.is(await page.$('#view-overview'), null, 'nothing is shown before a key is given')
    await shot(page, 'key-prompt')
    await page.fill('#api-key', 'not-the-key-0123456789')
    await page.click('#key-form button[type="submit"]')
    await page.waitForSelector('#key-error')
    t.regex((await page.textContent('#key-error'))!, /That key was refused/)
    t.is(await page.$('#view-overview'), null)
    // And the API refuses it: 401.
    const wrong = await request(keyed.url, 'GET', '/v1/dashboard/overview', undefined, { authorization: 'Bearer not-the-key-0123456789' })
    t.is(wrong.status, 401)
    t.is(wrong.json.error.code, 'UNAUTHORIZED')
    await page.fill('#api-key', READ_KEY)
    await page.click('#key-form button[type="submit"]')
    await page.waitForSelector('#view-overview')
    t.regex((await page.textContent('#role'))!, /read-only key/)
    t.is(await page.$('#nav-actions'), null)
    await page.goto(`${keyed.url}/#actions`) // asking for it by hand shows the overview
    await page.waitForSelector('#view-overview')
    // The server refuses a read key's job anyway.
    const refused = await request(keyed.url, 'POST', '/v1/dashboard/jobs', { kind: 'flush' }, { authorization: `Bearer ${READ_KEY}` })
    t.is(refused.status, 403)
    t.deepEqual(problems, [])
    await context.close()
  }
  {
    const { page, context, problems } = await watchedPage()
    await page.goto(keyed.url)
    await page.fill('#api-key', ADMIN_KEY)
    await page.click('#key-form button[type="submit"]')
    await page.waitForSelector('#nav-actions')
    await page.click('#nav-actions')
    await page.click('#action-flush')
    await page.waitForSelector('tr[data-job][data-state="done"]')
    t.is(await page.textContent('tr[data-job] .pct'), '100%')
    t.deepEqual(problems, [])
    await context.close()
  }
})
