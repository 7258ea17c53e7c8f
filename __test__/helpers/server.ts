// Start the real `kyrodb serve` CLI (dist/cli.js) as a child process on a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const repoRoot = join(__dirname, '..', '..')

export async function freePort(): Promise<number> {
  const srv = createServer()
  srv.listen(0, '127.0.0.1')
  await once(srv, 'listening')
  const { port } = srv.address() as { port: number }
  srv.close()
  await once(srv, 'close')
  return port
}

/** A fresh temporary directory (for a data dir the test then hands to several servers). */
export function tempDataDir(prefix = 'kyrodb-srv-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export interface StartOptions {
  /** Extra environment variables (on top of the parent's, minus any KYRODB_* and RUST_LOG). */
  env?: Record<string, string>
  /** Serve this directory instead of a fresh temporary one (e.g. to restart on the same data). */
  dataDir?: string
}

export interface RunningServer {
  url: string
  port: number
  dataDir: string
  child: ChildProcess
  /** Everything the process wrote to stdout and stderr so far. */
  output: () => string
  /** SIGTERM (graceful shutdown), then the exit code. */
  stop: () => Promise<number | null>
  /** SIGKILL (no shutdown at all), then the signal that ended the process. */
  kill: () => Promise<NodeJS.Signals | null>
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

export async function startServer(extraArgs: string[] = [], options: StartOptions = {}): Promise<RunningServer> {
  const port = await freePort()
  const dataDir = options.dataDir ?? tempDataDir()
  // The parent's own server settings must not leak into the child (a developer's
  // KYRODB_API_KEY would turn every unauthenticated test call into a 401).
  const env: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('KYRODB_') && k !== 'RUST_LOG') env[k] = v
  Object.assign(env, options.env)
  const child = spawn(process.execPath, ['dist/cli.js', 'serve', '127.0.0.1', String(port), '--data-dir', dataDir, ...extraArgs], {
    cwd: repoRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d) => (out += d))
  child.stderr!.on('data', (d) => (out += d))
  // 'close', not 'exit': the process can exit before its output has crossed the pipes, and
  // callers read output() once it stopped.
  const closed = once(child, 'close')
  closed.catch(() => undefined) // a spawn error surfaces through the loop below
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  // A server that never came up leaves no directory behind (one the caller passed in is
  // the caller's to remove).
  const discard = () => {
    if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true })
  }
  for (;;) {
    if (exited(child)) {
      await closed.catch(() => undefined)
      discard()
      throw new Error(`server exited early (${child.exitCode ?? child.signalCode}): ${out}`)
    }
    try {
      const r = await fetch(`${url}/health`)
      if (r.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      await closed
      discard()
      throw new Error(`server did not start: ${out}`)
    }
    await new Promise((r) => setTimeout(r, 50))
  }
  return {
    url,
    port,
    dataDir,
    child,
    output: () => out,
    stop: async () => {
      if (!exited(child)) child.kill('SIGTERM')
      await closed
      return child.exitCode
    },
    kill: async () => {
      if (!exited(child)) child.kill('SIGKILL')
      await closed
      return child.signalCode
    },
  }
}

/** A response, read whole: status, headers, raw bytes, text, and JSON when it parses. */
export interface Reply {
  status: number
  headers: Headers
  bytes: Buffer
  text: string
  json: any
}

/**
 * One HTTP call. A `Uint8Array` (Buffer) or string body is sent as is (give its
 * content-type in `headers`); any other defined body is sent as JSON.
 */
export async function request(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const h: Record<string, string> = { ...headers }
  let payload: Uint8Array | string | undefined
  if (body instanceof Uint8Array || typeof body === 'string') payload = body
  else if (body !== undefined) {
    payload = JSON.stringify(body)
    h['content-type'] ??= 'application/json'
  }
  const r = await fetch(base + path, { method, headers: h, body: payload })
  const bytes = Buffer.from(await r.arrayBuffer())
  const text = bytes.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: r.status, headers: r.headers, bytes, text, json }
}
