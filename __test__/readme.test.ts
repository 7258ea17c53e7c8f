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
  t.true(commands.length >= 4)
  const server = await startServer()
  try {
    const port = new URL(server.url).port
    const outputs = commands.map((c) => execFileSync('sh', ['-c', c.replace('localhost:3030', `127.0.0.1:${port}`)], { encoding: 'utf8' }))
    t.deepEqual(JSON.parse(outputs[0]), { status: 'ok' })
    t.is(JSON.parse(outputs[1]).name, 'docs')
    t.deepEqual(JSON.parse(outputs[2]), { upserted: 2 })
    const results = JSON.parse(outputs[3]).results
    t.is(results.length, 1)
    t.is(results[0].id, 1)
    t.deepEqual(results[0].metadata, { t: 'a' })
  } finally {
    await server.stop()
  }
})
