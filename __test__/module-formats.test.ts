/**
 * The package as its consumers load it: `import ... from 'kyrodb'` (ESM) and
 * `require('kyrodb')` (CommonJS), resolved through package.json `name` + `exports`
 * (package self-reference), in fresh `node` processes.
 */
import test from 'ava'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.join(__dirname, '..')

test.before(() => {
  // The package entry point is dist/index.js; `npm test` builds it first (npm run build:ts).
  for (const f of fs.readdirSync(path.join(root, 'src-ts')).filter((f) => f.endsWith('.ts'))) {
    const js = path.join(root, 'dist', f.replace(/\.ts$/, '.js'))
    if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(path.join(root, 'src-ts', f)).mtimeMs) {
      throw new Error(`${path.relative(root, js)} is missing or older than src-ts/${f}: run \`npm run build:ts\` first`)
    }
  }
})

interface Output {
  format: string
  hits: { id: number | string; distance: number; metadata?: { title: string } }[]
  errorCode: string
  simd: string
  closed: boolean
}

function runFixture(file: string): Output {
  // cwd outside the package: resolution must come from the fixture's location, not the cwd.
  const stdout = execFileSync(process.execPath, [path.join(__dirname, 'fixtures', file)], {
    cwd: os.tmpdir(),
    encoding: 'utf8',
    timeout: 30_000,
    // No tsx loader here: this is plain Node resolving the built package.
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  const lines = stdout.trim().split('\n')
  return JSON.parse(lines[lines.length - 1]) as Output
}

function checkOutput(t: import('ava').ExecutionContext, out: Output, format: string): void {
  t.is(out.format, format)
  t.is(out.errorCode, 'NOT_FOUND')
  t.true(out.closed)
  t.true(['avx512', 'avx2', 'neon', 'scalar'].includes(out.simd))
  // Query (0.9, 0.1, 0) under cosine against (1,0,0), (1,1,0)/√2, (0,1,0).
  t.deepEqual(
    out.hits.map((h) => h.id),
    [1, `${2n ** 60n}n`, 2],
  )
  t.deepEqual(
    out.hits.map((h) => h.metadata?.title),
    ['a', 'big', 'b'],
  )
  const qn = Math.hypot(0.9, 0.1)
  const expected = [1 - 0.9 / qn, 1 - (0.9 + 0.1) / qn / Math.SQRT2, 1 - 0.1 / qn]
  out.hits.forEach((h, i) => t.true(Math.abs(h.distance - expected[i]) < 1e-6, `${h.distance} vs ${expected[i]}`))
}

const results: Partial<Record<'esm' | 'cjs', Output>> = {}

test.serial("ESM: import { open } from 'kyrodb'", (t) => {
  const out = runFixture('esm.mjs')
  checkOutput(t, out, 'esm')
  results.esm = out
})

test.serial("CommonJS: require('kyrodb')", (t) => {
  const out = runFixture('cjs.cjs')
  checkOutput(t, out, 'cjs')
  results.cjs = out
})

test.serial('ESM and CommonJS give identical results', (t) => {
  const esm = results.esm ?? runFixture('esm.mjs')
  const cjs = results.cjs ?? runFixture('cjs.cjs')
  t.deepEqual({ ...esm, format: '' }, { ...cjs, format: '' })
})

test('the package exports map: kyrodb/package.json is exported, internals are not', (t) => {
  const script = `
    const r = { pkg: require('kyrodb/package.json').name }
    try { require('kyrodb/dist/errors.js'); r.internal = 'loaded' } catch (e) { r.internal = e.code }
    console.log(JSON.stringify(r))`
  const stdout = execFileSync(process.execPath, ['-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } })
  t.deepEqual(JSON.parse(stdout.trim()), { pkg: 'kyrodb', internal: 'ERR_PACKAGE_PATH_NOT_EXPORTED' })
})
