// The README's API example, run exactly as written (as an ES module importing 'kyrodb'),
// and its curl examples against a live server.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { repoRoot, startServer } from './helpers/server.js'

const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')

test('README API example runs and prints what it says', (t) => {
  const block = /## API example\s+```js\n([\s\S]*?)```/.exec(readme)
  t.truthy(block, 'README has an API example')
  const code = block![1]
  const dir = mkdtempSync(join(repoRoot, '.readme-test-'))
  try {
    // Inside the repo so that `import ... from 'kyrodb'` resolves to this package.
    writeFileSync(join(dir, 'example.mjs'), code)
    const out = execFileSync(process.execPath, ['example.mjs'], { cwd: dir, encoding: 'utf8' })
    const expected = [...code.matchAll(/^\/\/ (.+)$/gm)].map((m) => m[1])
    const printed = [...code.matchAll(/\/\/ ([A-Z_]+)$/gm)].map((m) => m[1])
    t.deepEqual(out.trim().split('\n'), [...expected, ...printed])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('README curl examples work against a live server', async (t) => {
  const block = /## Server\s+```sh\n([\s\S]*?)```/.exec(readme)
  t.truthy(block)
  const commands = block![1].replace(/\\\n\s*/g, '').split('\n').filter((l) => l.startsWith('curl'))
  t.is(commands.length, 9)
  const server = await startServer()
  try {
    const port = new URL(server.url).port
    const outputs = commands.map((c) => execFileSync('sh', ['-c', c.replace('localhost:3030', `127.0.0.1:${port}`)], { encoding: 'utf8' }))
    const [health, put, lookup, putFast, getFast, created, upserted, found, metrics] = outputs
    t.deepEqual(JSON.parse(health!), { status: 'ok' })
    t.deepEqual(JSON.parse(put!), { ok: true })
    t.deepEqual(JSON.parse(lookup!), { key: 123, value: 'hello world' })
    t.is(putFast, '', 'put_fast answers 204 with no body')
    t.is(getFast, 'binary data')
    t.is(JSON.parse(created!).name, 'docs')
    t.deepEqual(JSON.parse(upserted!), { upserted: 2 })
    const results = JSON.parse(found!).results
    t.is(results.length, 1)
    t.is(results[0].id, 1)
    t.deepEqual(results[0].metadata, { t: 'a' })
    t.regex(metrics!, /^kyrodb_appends_total 2$/m)
    t.regex(metrics!, /^kyrodb_rmi_reads_total \d+$/m)
  } finally {
    await server.stop()
    rmSync(server.dataDir, { recursive: true, force: true })
  }
})
