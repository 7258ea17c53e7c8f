/**
 * The framework adapters as ES-module applications load them: `kyrodb/langchain` and
 * `kyrodb/llamaindex` resolve (package `exports`, "import" condition) to dist/integrations/*.mjs,
 * which extend the frameworks' ES builds, so `instanceof` holds against the classes the
 * application imports and LlamaIndex's `VectorStoreIndex` runs on the store. `require` still
 * gets the CommonJS build. A fresh `node` process runs the fixture, with no tsx loader.
 */
import test from 'ava'
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.join(__dirname, '..')

test.before(() => {
  const src = path.join(root, 'src-ts', 'integrations')
  for (const f of fs.readdirSync(src).filter((f) => f.endsWith('.ts'))) {
    for (const ext of ['.js', '.mjs']) {
      const built = path.join(root, 'dist', 'integrations', f.replace(/\.ts$/, ext))
      if (!fs.existsSync(built) || fs.statSync(built).mtimeMs < fs.statSync(path.join(src, f)).mtimeMs) {
        throw new Error(`${path.relative(root, built)} is missing or older than src-ts/integrations/${f}: run \`npm run build:ts\` first`)
      }
    }
  }
})

test('ESM: the adapters extend the frameworks ES builds and run end to end', (t) => {
  const stdout = execFileSync(process.execPath, [path.join(__dirname, 'fixtures', 'integrations-esm.mjs')], {
    cwd: os.tmpdir(),
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NODE_OPTIONS: '' },
  })
  const lines = stdout.trim().split('\n')
  t.deepEqual(JSON.parse(lines[lines.length - 1]), {
    langchainIsEsmVectorStore: true,
    llamaindexIsEsmBaseVectorStore: true,
    langchain: ['good bye'],
    llamaindex: ['dogs bark'],
    cjsIsSeparate: true,
  })
})
