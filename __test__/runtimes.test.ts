/**
 * The package under other JavaScript runtimes: `__test__/runtimes/smoke.mjs` (the public API
 * end to end, no test framework) under the Node running this suite, and under Bun and Deno
 * when they are found: `KYRODB_BUN` / `KYRODB_DENO` (paths to the binaries), else `bun` /
 * `deno` on PATH. Without them those tests pass with a note, unless
 * `KYRODB_REQUIRE_RUNTIMES=1` (set by `scripts/runtime-smoke.sh`, which installs both).
 *
 * Also: a runtime that refuses to load native addons (Deno without `--allow-ffi`, Node's
 * permission model without `--allow-addons`) fails with an error naming the flag to add,
 * not the generated loader's "Cannot find native binding ... npm has a bug".
 */
import test, { type ExecutionContext } from 'ava'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.join(__dirname, '..')
const smoke = path.join(__dirname, 'runtimes', 'smoke.mjs')
const DENO_FLAGS = ['--allow-ffi', '--allow-read', '--allow-write', '--allow-env']

test.before(() => {
  // The smoke test loads the compiled API; `npm test` builds it first (npm run build:ts).
  for (const f of fs.readdirSync(path.join(root, 'src-ts')).filter((f) => f.endsWith('.ts'))) {
    const js = path.join(root, 'dist', f.replace(/\.ts$/, '.js'))
    if (!fs.existsSync(js) || fs.statSync(js).mtimeMs < fs.statSync(path.join(root, 'src-ts', f)).mtimeMs) {
      throw new Error(`${path.relative(root, js)} is missing or older than src-ts/${f}: run \`npm run build:ts\` first`)
    }
  }
})

/** The runtime's binary (from `envVar`, else `name` on PATH), or null when there is none. */
function findRuntime(envVar: string, name: string): string | null {
  const fromEnv = process.env[envVar]
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`${envVar}=${fromEnv} does not exist`)
    return fromEnv
  }
  const r = spawnSync(name, ['--version'], { encoding: 'utf8' })
  return r.status === 0 ? name : null
}

/** The runtime, or null after noting why its tests do not run (a failure where CI requires it). */
function runtimeOrSkip(t: ExecutionContext, envVar: string, name: string): string | null {
  const bin = findRuntime(envVar, name)
  if (bin === null) {
    if (process.env.KYRODB_REQUIRE_RUNTIMES === '1') t.fail(`${name} not found (set ${envVar} or put ${name} on PATH)`)
    else {
      t.log(`${name} not found (set ${envVar} or put ${name} on PATH): not run; scripts/runtime-smoke.sh installs it`)
      t.pass()
    }
  }
  return bin
}

function run(bin: string, args: string[], cwd = os.tmpdir()): SpawnSyncReturns<string> {
  return spawnSync(bin, args, {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
    // Plain runtimes: no tsx loader; no colour codes in Deno's error output.
    env: { ...process.env, NODE_OPTIONS: '', NO_COLOR: '1' },
  })
}

interface SmokeResult {
  runtime: string
  ok: number
  checks: string[]
}

/** Check that the smoke test passed and return its summary line. */
function passed(t: ExecutionContext, r: SpawnSyncReturns<string>): SmokeResult {
  if (r.status !== 0) t.fail(`exit ${r.status ?? r.signal}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)
  const lines = r.stdout.trim().split('\n')
  const out = JSON.parse(lines[lines.length - 1]!) as SmokeResult
  t.is(out.ok, out.checks.length)
  t.true(out.checks.includes('reopen: every acknowledged write is there'))
  t.true(out.checks.includes('error codes on bad input'))
  t.log(`${out.runtime}: ${out.ok} checks passed`)
  return out
}

/**
 * A project that installed the package: `node_modules/kyrodb` holding what `npm pack`
 * ships (package.json, dist, the loader) and the native binary found next to the loader.
 */
function consumerProject(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-consumer-'))
  const pkg = path.join(dir, 'node_modules', 'kyrodb')
  fs.mkdirSync(pkg, { recursive: true })
  for (const f of ['package.json', 'index.js', 'index.d.ts']) fs.copyFileSync(path.join(root, f), path.join(pkg, f))
  fs.cpSync(path.join(root, 'dist'), path.join(pkg, 'dist'), { recursive: true })
  for (const f of fs.readdirSync(root).filter((f) => /^kyrodb\..*\.node$/.test(f))) {
    fs.copyFileSync(path.join(root, f), path.join(pkg, f))
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, dependencies: { kyrodb: '*' } }))
  for (const f of ['smoke.mjs', 'worker.mjs']) fs.copyFileSync(path.join(__dirname, 'runtimes', f), path.join(dir, f))
  return dir
}

test('smoke test under this Node', (t) => {
  const out = passed(t, run(process.execPath, [smoke]))
  t.is(out.runtime, `node ${process.versions.node}`)
})

test('smoke test under Bun', (t) => {
  const bun = runtimeOrSkip(t, 'KYRODB_BUN', 'bun')
  if (bun === null) return
  t.regex(passed(t, run(bun, [smoke])).runtime, /^bun /)
})

test('smoke test under Deno, from the checkout', (t) => {
  const deno = runtimeOrSkip(t, 'KYRODB_DENO', 'deno')
  if (deno === null) return
  t.regex(passed(t, run(deno, ['run', ...DENO_FLAGS, smoke])).runtime, /^deno /)
})

test('smoke test under Deno, installed in node_modules', (t) => {
  const deno = runtimeOrSkip(t, 'KYRODB_DENO', 'deno')
  if (deno === null) return
  const dir = consumerProject()
  try {
    t.regex(passed(t, run(deno, ['run', ...DENO_FLAGS, 'smoke.mjs'], dir)).runtime, /^deno /)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('Deno without --allow-ffi (or --allow-env) fails saying which flag to add', (t) => {
  const deno = runtimeOrSkip(t, 'KYRODB_DENO', 'deno')
  if (deno === null) return
  for (const [flags, missing] of [
    [['--allow-read', '--allow-write', '--allow-env'], '--allow-ffi'],
    [['--allow-ffi', '--allow-read', '--allow-write'], '--allow-env'],
  ] as const) {
    const r = run(deno, ['run', '--no-prompt', ...flags, smoke])
    t.not(r.status, 0, `deno run ${flags.join(' ')}`)
    // The first line is the error Deno reports; the loader's message stays in its cause chain.
    const first = r.stderr.split('\n').find((l) => l.includes('error:')) ?? r.stderr
    t.true(
      first.includes(`kyrodb cannot load its native addon because Deno was run without ${missing}.`),
      `deno run ${flags.join(' ')}:\n${r.stderr}`,
    )
    t.true(first.includes('deno run --allow-ffi --allow-read --allow-env'), first)
    t.false(first.includes('npm has a bug'), first)
  }
})

test("Node's permission model without --allow-addons fails saying to add it", (t) => {
  const flag = process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission'
  if (!process.allowedNodeEnvironmentFlags.has(flag)) {
    t.log(`node ${process.version} has no permission model: not run`)
    t.pass()
    return
  }
  const load = `require(${JSON.stringify(root)})`
  const denied = run(process.execPath, [flag, '--allow-fs-read=*', '-e', load])
  t.not(denied.status, 0)
  t.true(denied.stderr.includes("kyrodb cannot load its native addon because Node's permission model"), denied.stderr)
  t.true(denied.stderr.includes('add --allow-addons'), denied.stderr)
  const allowed = run(process.execPath, [flag, '--allow-addons', '--allow-fs-read=*', '-e', `${load}.engineInfo()`])
  t.is(allowed.status, 0, allowed.stderr)
})
