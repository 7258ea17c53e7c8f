/**
 * `kyrodb stats` and `kyrodb verify` through the real CLI: JSON off a terminal (and with
 * --json), the table with --table, one collection; verify on a sound directory and on one
 * with a damaged segment (CORRUPTION, exit 1); the progress bar on a pseudo-terminal.
 */
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { open } from '../src-ts/index.js'
import { runCli, tempDir } from './helpers/cli.js'
import { repoRoot } from './helpers/server.js'

const dirs: string[] = []
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

/** A database with two collections and a few keys. */
async function makeDb(): Promise<string> {
  const dir = tempDir('kyrodb-cli-stats-')
  dirs.push(dir)
  const db = await open(dir)
  try {
    const a = await db.createCollection('alpha', { dimension: 3, metric: 'l2' })
    await a.upsert([1, 2, 3], [[1, 0, 0], [0, 1, 0], [0, 0, 1]])
    const b = await db.createCollection('beta', { dimension: 2, index: false })
    await b.upsert([7], [[1, 1]])
    await db.kv.put(1, 'one')
    await db.kv.put(2, 'two')
    await db.flush()
  } finally {
    await db.close()
  }
  return dir
}

test('stats: JSON when stdout is not a terminal, every collection, the key-value store, disk bytes', async (t) => {
  const dir = await makeDb()
  const r = await runCli(['stats', '--data-dir', dir])
  t.is(r.code, 0, r.stderr)
  const s = JSON.parse(r.stdout)
  t.is(s.dataDir, dir)
  t.true(s.diskBytes > 0)
  t.is(typeof s.database.walFrames, 'number')
  t.is(s.kv.keys, 2)
  t.deepEqual(
    s.collections.map((c: { name: string; dimension: number; metric: string; count: number; idType: string }) => [c.name, c.dimension, c.metric, c.count, c.idType]),
    [
      ['alpha', 3, 'l2', 3, 'u64'],
      ['beta', 2, 'cosine', 1, 'u64'],
    ],
  )
  t.true(Array.isArray(s.collections[0].segments))
  // --json says the same; one collection by name.
  t.deepEqual(JSON.parse((await runCli(['stats', '--json', '--db', dir])).stdout).collections, s.collections)
  const one = JSON.parse((await runCli(['stats', 'beta', '--data-dir', dir])).stdout)
  t.deepEqual(
    one.collections.map((c: { name: string }) => c.name),
    ['beta'],
  )
  // --table: the human form.
  const table = await runCli(['stats', '--table', '--data-dir', dir])
  t.is(table.code, 0)
  t.regex(table.stdout, /^database .*: .* on disk, 2 collections$/m)
  t.regex(table.stdout, /^COLLECTION\s+DIM\s+METRIC\s+IDS\s+ROWS/m)
  t.regex(table.stdout, /^alpha\s+3\s+l2\s+u64\s+3\s/m)
  t.regex(table.stdout, /^key-value store: 2 keys/m)
  // Refusals.
  const missing = await runCli(['stats', 'gamma', '--data-dir', dir])
  t.is(missing.code, 1)
  t.regex(missing.stderr, /error \[NOT_FOUND\]/)
  const nodb = await runCli(['stats', '--data-dir', join(dir, 'absent')])
  t.is(nodb.code, 1)
  t.regex(nodb.stderr, /error \[NOT_FOUND\]: no database at/)
  t.is((await runCli(['stats', '--json', '--table', '--data-dir', dir])).code, 2)
})

test('verify: ok on a sound directory (text and --json); CORRUPTION with exit 1 on a damaged segment', async (t) => {
  const dir = await makeDb()
  const ok = await runCli(['verify', '--data-dir', dir])
  t.is(ok.code, 0, ok.stderr)
  t.regex(ok.stdout, /^ok: .*: 2 collections, 4 rows, 2 keys verified in [\d.]+ s$/m)
  t.regex(ok.stderr, /^verify: large segments: done/m)
  const json = await runCli(['verify', '--json', '--quiet', '--data-dir', dir])
  t.is(json.code, 0)
  t.like(JSON.parse(json.stdout), { ok: true, collections: 2, rows: 4, kvKeys: 2 })
  t.is(json.stderr, '')

  // Flip a byte in the middle of a segment file.
  const segs = readdirSync(join(dir, 'seg')).filter((f) => f.endsWith('.kseg'))
  t.true(segs.length > 0)
  const path = join(dir, 'seg', segs[0])
  const bytes = readFileSync(path)
  bytes[Math.floor(bytes.length / 2)] ^= 0xff
  writeFileSync(path, bytes)
  const bad = await runCli(['verify', '--data-dir', dir])
  t.is(bad.code, 1, bad.stdout + bad.stderr)
  t.regex(bad.stderr, /kyrodb verify: error \[CORRUPTION\]: /)
  t.notRegex(bad.stdout, /^ok/m)
})

test('progress: a bar on a terminal (a pseudo-terminal from script(1)), plain lines otherwise', async (t) => {
  const dir = await makeDb()
  let script = ''
  try {
    script = execFileSync('sh', ['-c', 'command -v script'], { encoding: 'utf8' }).trim()
  } catch {
    script = ''
  }
  const file = join(dir, 'rows.jsonl')
  writeFileSync(file, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: 100 + i, vector: [i + 1, 1, 2] })).join('\n') + '\n')
  const plain = await runCli(['import', 'alpha', file, '--data-dir', dir])
  t.is(plain.code, 0, plain.stderr)
  t.notRegex(plain.stderr, /\x1b\[/, 'no escape sequences off a terminal')
  t.regex(plain.stderr, /^import: 3000\/3000 rows \(100%\)$/m)
  if (script === '') {
    t.log('script(1) is not installed: the terminal case is not checked')
    return
  }
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(join(repoRoot, 'dist', 'cli.js'))} import alpha ${JSON.stringify(file)} --data-dir ${JSON.stringify(dir)}`
  const out = execFileSync(script, ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' } })
  t.regex(out, /import \[=+\] 100% \| 3000\/3000 rows/, 'a cli-progress bar')
  t.regex(out, /imported 3,000 rows into 'alpha': 0 new, 3,000 replaced/)
})
