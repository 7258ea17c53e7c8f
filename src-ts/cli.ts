#!/usr/bin/env node
/**
 * `kyrodb` command line. `kyrodb serve [host] [port]` opens a database directory and
 * serves it over HTTP until SIGINT/SIGTERM; `kyrodb --help` and `kyrodb serve --help`
 * document every flag and environment variable. The data commands `import`, `export`,
 * `stats` and `verify` live in `cli/`, one module each.
 * @module
 */
import { Command, InvalidArgumentError as CommanderArgError, Option } from 'commander'
import { isIP } from 'node:net'
import { open, type Database, type Durability } from './database.js'
import { native } from './native.js'
import { createServer } from './server/index.js'
import { usageExitCodes } from './cli/common.js'
import { registerExport } from './cli/export.js'
import { registerImport } from './cli/import.js'
import { registerStats } from './cli/stats.js'
import { registerVerify } from './cli/verify.js'

function parsePort(value: string): number {
  const port = Number(value)
  if (!/^[0-9]+$/.test(value) || port > 65535) throw new CommanderArgError('port must be an integer in 0..65535')
  return port
}

function parseCount(name: string, min: number, max?: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
      throw new CommanderArgError(max === undefined ? `${name} must be an integer >= ${min}` : `${name} must be an integer in ${min}..${max}`)
    }
    return n
  }
}

/** Longest timer delay Node honours, in whole seconds (2^31 - 1 ms; longer fires after 1 ms). */
const MAX_TIMER_SECS = Math.floor(0x7fffffff / 1000)

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

/** `127.0.0.0/8`, `::1` and `localhost`: the addresses that need no API key. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true
  if (isIP(host) === 4) return host.startsWith('127.')
  return host === '::1' || host === '[::1]'
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']

/**
 * A pino level from `RUST_LOG` (env_logger syntax: `info`, `kyrodb=debug`,
 * `warn,kyrodb=trace`): the bare level if there is one, else the first `target=level`.
 */
export function levelFromRustLog(value: string | undefined): string | undefined {
  if (!value) return undefined
  const words = value.split(',').map((d) => d.trim().toLowerCase())
  const pick = words.find((w) => !w.includes('=')) ?? words[0]?.split('=')[1]
  if (pick === 'off') return 'silent'
  return pick !== undefined && LEVELS.includes(pick) ? pick : undefined
}

function splitKeys(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter((k) => k.length > 0)
}

interface ServeOptions {
  dataDir: string
  autoSnapshotSecs: number
  walMaxBytes: number
  rmiRebuildAppends?: number
  kvMemtableBytes?: number
  durability: Durability
  enableRateLimiting: boolean
  apiKey: string[]
  readApiKey: string[]
  bodyLimit: number
  logLevel: string
  nats?: string
  node?: string
  stream?: string
  streamReplicas?: number
  replicationSnapshotSecs: number
  consistency: 'read-your-writes' | 'stored'
}

/**
 * Background upkeep of a served database: a snapshot every `autoSnapshotSecs`, and one
 * whenever the write-ahead log on disk grows past `walMaxBytes` (checked every second),
 * which bounds what a restart must replay. One at a time.
 */
type LogFn = (msg: string, extra?: object) => void

function startUpkeep(db: Database, opts: ServeOptions, log: LogFn, warn: LogFn): () => Promise<void> {
  let running: Promise<void> | null = null
  const snapshot = (why: string) => {
    if (running || db.closed) return
    const t0 = performance.now()
    running = db
      .flush()
      .then(() => log('snapshot', { why, ms: Math.round(performance.now() - t0) }))
      .catch((err: unknown) => warn('snapshot failed', { why, err: String(err) }))
      .finally(() => {
        running = null
      })
  }
  const timers: NodeJS.Timeout[] = []
  if (opts.autoSnapshotSecs > 0) timers.push(setInterval(() => snapshot('auto-snapshot-secs'), opts.autoSnapshotSecs * 1000))
  if (opts.walMaxBytes > 0) {
    timers.push(
      setInterval(() => {
        if (!db.closed && db.stats().walDiskBytes > opts.walMaxBytes) snapshot('wal-max-bytes')
      }, 1000),
    )
  }
  for (const t of timers) t.unref()
  return async () => {
    for (const t of timers) clearInterval(t)
    await running
  }
}

async function serve(host: string, port: number, opts: ServeOptions, program: Command): Promise<void> {
  const adminKeys = [...opts.apiKey, ...splitKeys(process.env.KYRODB_API_KEY)]
  const readKeys = [...opts.readApiKey, ...splitKeys(process.env.KYRODB_READ_API_KEY)]
  if (!isLoopback(host) && adminKeys.length === 0) {
    program.error(`refusing to bind ${host} without an API key: set --api-key or KYRODB_API_KEY, or bind 127.0.0.1`)
  }
  for (const k of [...adminKeys, ...readKeys]) {
    if (k.length < 16) program.error('API keys must be at least 16 characters long')
  }
  let rateLimitRps: number | undefined
  if (opts.enableRateLimiting) {
    rateLimitRps = parseCount('KYRODB_RL_RPS', 1)(process.env.KYRODB_RL_RPS ?? '5000')
  }
  native.initLogging(opts.logLevel)
  if (opts.nats !== undefined && opts.node === undefined) program.error('--nats needs --node <name> (this node\'s name in the stream)')
  const db = await open(opts.dataDir, {
    durability: opts.durability,
    rmiRebuildAppends: opts.rmiRebuildAppends,
    kvMemtableBytes: opts.kvMemtableBytes,
    replication:
      opts.nats === undefined
        ? undefined
        : {
            servers: opts.nats,
            node: opts.node!,
            stream: opts.stream,
            replicas: opts.streamReplicas,
            consistency: opts.consistency,
            snapshotIntervalMs: opts.replicationSnapshotSecs * 1000,
          },
  })
  const app = createServer({
    db,
    logger: { level: opts.logLevel, redact: ['req.headers.authorization', 'req.headers["x-api-key"]'] },
    apiKeys: { admin: adminKeys, read: readKeys },
    rateLimitRps,
    bodyLimit: opts.bodyLimit,
  })
  const log = (msg: string, extra: object = {}) => app.log.info(extra, msg)
  if (process.env.KYRODB_WARM_ON_START === '1') {
    const t0 = performance.now()
    const bytes = await db.kv.warmup()
    log('warmed up', { bytes, ms: Math.round(performance.now() - t0) })
  }
  const stopUpkeep = startUpkeep(db, opts, log, (msg, extra = {}) => app.log.warn(extra, msg))

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting without waiting')
      process.exit(1)
    }
    stopping = true
    app.log.info({ signal }, 'shutting down: finishing in-flight requests')
    const force = setTimeout(() => {
      app.log.error('shutdown took over 30 s: exiting')
      process.exit(1)
    }, 30_000)
    force.unref()
    let code = 0
    try {
      await app.close() // stops accepting, waits for in-flight requests
      await stopUpkeep()
      await db.close() // syncs the write-ahead log, releases the directory lock
      app.log.info('database closed')
    } catch (err) {
      app.log.error({ err }, 'shutdown failed')
      code = 1
    }
    process.exit(code)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  await app.listen({ host, port })
  log('serving', {
    dataDir: opts.dataDir,
    auth: adminKeys.length + readKeys.length > 0,
    rateLimitRps: rateLimitRps ?? null,
    recoveryMs: Math.round(db.stats().recoveryMs),
  })
}

/** The environment variables, listed by both `kyrodb --help` and `kyrodb serve --help`. */
const ENVIRONMENT_HELP = `
Environment:
  KYRODB_API_KEY         admin API keys, comma-separated (same as --api-key)
  KYRODB_READ_API_KEY    read-only API keys, comma-separated (same as --read-api-key)
  KYRODB_RL_RPS          requests per second per client address with --enable-rate-limiting (default 5000)
  KYRODB_WARM_ON_START=1 touch the key-value runs before serving, so the first lookups are warm
  RUST_LOG               log level of both the server and the engine (error, warn, info, debug, trace, off)

Example:
  kyrodb serve 127.0.0.1 3030 --data-dir ./kyrodb-data`

/** Parse `argv` and run the chosen command. */
export async function main(argv: string[]): Promise<void> {
  const program = new Command()
  program
    .name('kyrodb')
    .description('KyroDB: embedded vector database and learned-index key-value store, served over HTTP')
    .addHelpText('after', ENVIRONMENT_HELP)
  // Usage errors exit 2 (help 0; `program.error()` keeps its code).
  usageExitCodes(program)

  program
    .command('serve')
    .description('serve a database directory over HTTP (the v1 API, /metrics, /health, /openapi.json)')
    .argument('[host]', 'address to bind; anything but loopback needs an API key', '127.0.0.1')
    .argument('[port]', 'TCP port', parsePort, 3030)
    .option('--data-dir <dir>', 'database directory (created if missing)', './kyrodb-data')
    .option('--auto-snapshot-secs <n>', 'snapshot (write recent writes into segments and runs, trim the WAL) every n seconds (at most 2147483); 0 = off', parseCount('--auto-snapshot-secs', 0, MAX_TIMER_SECS), 0)
    .option('--wal-max-bytes <n>', 'snapshot whenever the WAL on disk exceeds n bytes (bounds restart time); 0 = off', parseCount('--wal-max-bytes', 0), 1 << 30)
    .option('--rmi-rebuild-appends <n>', 'key-value writes after which the memtable becomes a run with a fresh learned index (default 1000000)', parseCount('--rmi-rebuild-appends', 1))
    .option('--kv-memtable-bytes <n>', 'key-value memtable size that triggers a run (default 64 MiB)', parseCount('--kv-memtable-bytes', 1))
    .addOption(new Option('--durability <mode>', 'full: every acknowledged write fsynced; normal: fsync every 100 ms; none: tests only').choices(['full', 'normal', 'none']).default('full'))
    .option('--enable-rate-limiting', 'answer 429 with Retry-After above KYRODB_RL_RPS requests per second per client address', false)
    .option('--api-key <key>', 'admin API key (all routes); repeatable; prefer KYRODB_API_KEY, argv is visible to other users', collect, [])
    .option('--read-api-key <key>', 'read-only API key (lookups, searches, listings, metrics); repeatable', collect, [])
    .option('--body-limit <bytes>', 'largest request body, counted after decompression', parseCount('--body-limit', 1), 64 * 1024 * 1024)
    .addOption(new Option('--log-level <level>', 'log level of both layers (default: from RUST_LOG, else info)').choices(LEVELS).default(levelFromRustLog(process.env.RUST_LOG) ?? 'info'))
    .option('--nats <urls>', 'replicate through NATS JetStream: comma-separated server URLs (nats://host:port,...)')
    .option('--node <name>', "this node's name in the stream (with --nats)")
    .option('--stream <name>', 'JetStream stream to follow (with --nats; default KYRODB)')
    .option('--stream-replicas <n>', 'replicas of the stream when this node creates it (default 3)', parseCount('--stream-replicas', 1, 5))
    .option('--replication-snapshot-secs <n>', 'publish a snapshot to the stream object store every n seconds (with --nats); 0 = off', parseCount('--replication-snapshot-secs', 0, MAX_TIMER_SECS), 0)
    .addOption(new Option('--consistency <mode>', 'read-your-writes: ack after stored and applied here; stored: after stored').choices(['read-your-writes', 'stored']).default('read-your-writes'))
    .addHelpText('after', ENVIRONMENT_HELP)
    .action(async (host: string, port: number, opts: ServeOptions) => serve(host, port, opts, program))

  registerImport(program)
  registerExport(program)
  registerStats(program)
  registerVerify(program)

  await program.parseAsync(argv)
}

if (require.main === module) {
  main(process.argv).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err)
    process.exit(1)
  })
}
