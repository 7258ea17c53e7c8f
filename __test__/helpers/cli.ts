// Run the real `kyrodb` CLI (dist/cli.js) as a child process, and write the files it reads.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from './server.js'

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface CliRun {
  child: ChildProcess
  /** Resolves once the process exited and its output was read. */
  done: Promise<CliResult>
  /** Resolves when stderr first matches `pattern`. */
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>
}

/** The environment of a child CLI: the parent's, minus KYRODB_* and RUST_LOG. */
function childEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KYRODB_') && k !== 'RUST_LOG') env[k] = v
  return { ...env, ...extra }
}

/** Start `node dist/cli.js ...args` in the repository root (stdin closed, output captured). */
export function startCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): CliRun {
  const child = spawn(process.execPath, [join(repoRoot, 'dist', 'cli.js'), ...args], {
    cwd: options.cwd ?? repoRoot,
    env: childEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  const watchers: { pattern: RegExp; resolve: () => void }[] = []
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    for (const w of [...watchers]) {
      if (w.pattern.test(stderr)) {
        watchers.splice(watchers.indexOf(w), 1)
        w.resolve()
      }
    }
  })
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return {
    child,
    done,
    waitForStderr(pattern, timeoutMs = 60_000) {
      if (pattern.test(stderr)) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`stderr never matched ${pattern}: ${stderr}`)), timeoutMs)
        watchers.push({
          pattern,
          resolve: () => {
            clearTimeout(timer)
            resolve()
          },
        })
        void done.then(() => {
          clearTimeout(timer)
          reject(new Error(`exited before stderr matched ${pattern}: ${stderr}`))
        })
      })
    },
  }
}

/** Run the CLI to completion. */
export function runCli(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return startCli(args, options).done
}

/** A fresh temporary directory. */
export function tempDir(prefix = 'kyrodb-cli-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

/** A `.jsonl` file of `rows` (objects are written as given, strings as raw lines). */
export function writeJsonl(path: string, rows: (object | string)[]): void {
  writeFileSync(path, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n')
}

/** Bytes of a `.npy` file (version 1.0) with `header` fields as given and `data` after it. */
export function npyBytes(shape: number[], data: Buffer, header: { descr?: string; fortran?: boolean } = {}): Buffer {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`
  let dict = `{'descr': '${header.descr ?? '<f4'}', 'fortran_order': ${header.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`
  const pad = 64 - ((10 + dict.length + 1) % 64)
  dict = dict + ' '.repeat(pad % 64) + '\n'
  const pre = Buffer.alloc(10)
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(pre)
  pre.writeUInt16LE(dict.length, 8)
  return Buffer.concat([pre, Buffer.from(dict, 'latin1'), data])
}

/** Little-endian float32 bytes of `rows` (row-major). */
export function f32Bytes(rows: number[][]): Buffer {
  const b = Buffer.alloc(rows.reduce((n, r) => n + r.length, 0) * 4)
  let at = 0
  for (const r of rows) for (const x of r) at = b.writeFloatLE(x, at)
  return b
}

/** `.fvecs` bytes of `rows`: per row an int32 dimension then its float32s. */
export function fvecsBytes(rows: number[][], declared?: (row: number) => number): Buffer {
  const parts = rows.map((r, i) => {
    const b = Buffer.alloc(4 + r.length * 4)
    b.writeInt32LE(declared ? declared(i) : r.length, 0)
    r.forEach((x, j) => b.writeFloatLE(x, 4 + j * 4))
    return b
  })
  return Buffer.concat(parts)
}
