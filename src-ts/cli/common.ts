/**
 * What the CLI's data commands (`import`, `export`, `stats`, `verify`) share: the data
 * directory option, opening a database that must exist, errors and exit codes, ids.
 *
 * Exit codes: 0 done; 1 failed (the message names `error.code`); 2 usage (bad flags or
 * arguments); 130 interrupted (SIGINT/SIGTERM; an interrupted import is rolled back).
 * @internal
 * @module
 */
import { Command, CommanderError, Option } from 'commander'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Collection, Metric } from '../collection.js'
import { open, type CreateCollectionOptions, type Database, type Durability, type OpenOptions } from '../database.js'
import { KyroDBError, type ErrorCode } from '../errors.js'
import { U64_MAX, type Id, type IdType } from '../ids.js'

/** Codes of failures the CLI itself raises on top of the engine's {@link ErrorCode}s. */
export type CliErrorCode = ErrorCode | 'INTERRUPTED' | 'NOT_SUPPORTED'

/** A failure with a code, reported as `error [CODE]: message` and exit code 1 (130 when interrupted). */
export class CliError extends Error {
  readonly code: CliErrorCode
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'CliError'
  }
}

/** A usage error: exit code 2, the command's help hint. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

/** Exit code and line for any error a command threw. */
export function describeError(err: unknown): { exitCode: number; line: string } {
  if (err instanceof UsageError) return { exitCode: 2, line: `error: ${err.message}` }
  if (err instanceof CliError || err instanceof KyroDBError) {
    let message = err.message
    if (err.code === 'LOCKED') message += ' (is `kyrodb serve` or another program using this data directory? stop it first)'
    return { exitCode: err.code === 'INTERRUPTED' ? 130 : 1, line: `error [${err.code}]: ${message}` }
  }
  const sys = err as NodeJS.ErrnoException
  // The reader of stdout went away (`kyrodb export docs | head`): stop quietly, as a
  // SIGPIPE would have (128 + 13).
  if (sys?.code === 'EPIPE') return { exitCode: 141, line: '' }
  if (sys && typeof sys === 'object' && typeof sys.code === 'string' && typeof sys.message === 'string') {
    const code = sys.code === 'ENOENT' ? 'NOT_FOUND' : 'IO'
    return { exitCode: 1, line: `error [${code}]: ${sys.message}` }
  }
  return { exitCode: 1, line: `error [INTERNAL]: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}` }
}

/**
 * Run a command's body: errors become `kyrodb <name>: error [CODE]: ...` on stderr and
 * the exit code; the process exits once the body settled (its database is closed by then).
 */
export async function runCommand(name: string, body: () => Promise<void>): Promise<void> {
  try {
    await body()
    process.exitCode = process.exitCode ?? 0
  } catch (err) {
    const { exitCode, line } = describeError(err)
    if (line !== '') process.stderr.write(`kyrodb ${name}: ${line}\n`)
    if (exitCode === 2) process.stderr.write(`run 'kyrodb ${name} --help' for usage\n`)
    process.exitCode = exitCode
  }
}

/**
 * Commander's parse errors (unknown option, missing argument, bad value) exit 2; help
 * and version exit 0; `command.error()` calls keep the exit code they give.
 */
export function exitCodeOf(err: CommanderError): number {
  if (err.exitCode === 0) return 0
  if (err.code === 'commander.error') return err.exitCode
  return 2
}

/** Install {@link exitCodeOf} on a program (inherited by commands created after it). */
export function usageExitCodes(program: Command): Command {
  return program.exitOverride((err) => {
    process.exit(exitCodeOf(err))
  })
}

/** The data directory options every data command takes: `--data-dir` (as `serve`), alias `--db`. */
export function addDataDirOption(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'database directory (the one `kyrodb serve --data-dir` serves)', './kyrodb-data')
    .addOption(new Option('--db <dir>', 'same as --data-dir').hideHelp())
}

/** The directory chosen with `--data-dir` / `--db`. */
export function dataDirOf(opts: { dataDir: string; db?: string }): string {
  return opts.db ?? opts.dataDir
}

/** Whether `dir` holds a database (a directory with files in it). */
function looksLikeDatabase(dir: string): boolean {
  try {
    return statSync(dir).isDirectory() && readdirSync(dir).length > 0
  } catch {
    return false
  }
}

/**
 * Open the database at `dir`. Unless `create`, a directory that does not exist (or is
 * empty) is `NOT_FOUND` rather than a new, empty database.
 */
export async function openDatabase(dir: string, options: OpenOptions & { create?: boolean } = {}): Promise<Database> {
  const { create = false, ...openOptions } = options
  if (!create && !looksLikeDatabase(dir)) {
    throw new CliError('NOT_FOUND', `no database at ${dir}${existsSync(dir) ? ' (the directory is empty)' : ''}; pass --data-dir <dir>`)
  }
  return open(dir, openOptions)
}

/** `--durability`, as `serve` has it. */
export function durabilityOption(): Option {
  return new Option('--durability <mode>', 'full: every batch fsynced; normal: fsync every 100 ms; none: tests only')
    .choices(['full', 'normal', 'none'])
    .default('full')
}

/** The durability mode chosen. */
export function durabilityOf(opts: { durability: string }): Durability {
  return opts.durability as Durability
}

// ------------------------------------------------------------------------------ ids

/** The id type of a collection: unsigned 64-bit integers, or strings (string-id collections). */
export type { IdType }

/** An id as the CLI carries it: a bigint (u64 collections) or a string. */
export type CliId = bigint | string

/** Longest string id, in UTF-8 bytes. */
export const MAX_STRING_ID_BYTES = 512

/** A collection's id type. */
export function idTypeOf(c: Collection): IdType {
  return c.idType
}

/** A CLI id as the public API takes it. */
export function apiId(id: CliId): Id {
  return id as Id
}

/** Public API id → CLI id. */
export function cliId(id: unknown): CliId {
  if (typeof id === 'string') return id
  if (typeof id === 'bigint') return id
  return BigInt(id as number)
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** An id as JSON: u64 ids as numbers up to 2^53 − 1 and decimal strings above, strings as strings. */
export function idToJson(id: CliId): number | string {
  if (typeof id === 'string') return id
  return id <= SAFE ? Number(id) : id.toString()
}

/** Order of ids (numeric for u64, by code unit for strings). */
export function compareIds(a: CliId, b: CliId): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * A u64 id from JSON (`number` or decimal `string`), or a message saying what is wrong.
 * Numbers beyond 2^53 cannot be trusted: `JSON.parse` has already rounded them.
 */
export function parseU64Json(value: unknown): bigint | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || !Number.isInteger(value)) return `id ${value} is not an integer`
    if (value < 0) return `id ${value} is negative; ids are integers in 0..2^64-1`
    if (!Number.isSafeInteger(value)) {
      return `id ${value} is beyond 2^53 and was rounded when read as a JSON number; write ids above ${Number.MAX_SAFE_INTEGER} as strings, e.g. "id": "18446744073709551615"`
    }
    return BigInt(value)
  }
  if (typeof value === 'string') {
    if (!/^[0-9]{1,20}$/.test(value)) return `id ${JSON.stringify(value)} is not a decimal integer in 0..2^64-1 (this collection has integer ids)`
    const b = BigInt(value)
    if (b > U64_MAX) return `id ${value} is beyond 2^64-1`
    return b
  }
  if (value === undefined) return 'no "id"'
  return `id must be a number or a decimal string, got ${value === null ? 'null' : typeof value}`
}

/** A string id from JSON, or a message saying what is wrong. */
export function parseStringIdJson(value: unknown): { id: string } | string {
  if (typeof value !== 'string') {
    if (value === undefined) return 'no "id"'
    return `this collection has string ids: write the id as a JSON string (got ${value === null ? 'null' : typeof value})`
  }
  if (value.length === 0) return 'id is an empty string'
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > MAX_STRING_ID_BYTES) return `id is ${bytes} bytes of UTF-8; string ids are at most ${MAX_STRING_ID_BYTES}`
  return { id: value }
}

/** Options of a new collection, including the id type when it is not the default. */
export function newCollectionOptions(dimension: number, metric: Metric, index: boolean, idType: IdType): CreateCollectionOptions {
  return { dimension, metric, index: index ? {} : false, idType }
}

/** `1 collection`, `2 collections`. */
export function plural(n: number, word: string): string {
  return `${fmtInt(n)} ${word}${n === 1 ? '' : 's'}`
}

/** Human number: `1,234,567`. */
export function fmtInt(n: number): string {
  return n.toLocaleString('en-US')
}

/** Human bytes: `12.3 MiB`. */
export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`
}

/** Total size of the files under `dir` (recursively). */
export function directoryBytes(dir: string): number {
  let total = 0
  const stack = [dir]
  while (stack.length > 0) {
    const d = stack.pop()!
    let entries
    try {
      entries = readdirSync(d, { withFileTypes: true })
    } catch {
      continue
    }
    for (const e of entries) {
      const p = join(d, e.name)
      if (e.isDirectory()) stack.push(p)
      else if (e.isFile()) {
        try {
          total += statSync(p).size
        } catch {
          // removed meanwhile
        }
      }
    }
  }
  return total
}

/**
 * Stop at the next safe point on SIGINT/SIGTERM instead of dying mid-write: returns a
 * check that throws `INTERRUPTED` once a signal came, and a function that removes the
 * handlers. A second signal while `critical()` is true is only acknowledged.
 */
export function interruptible(onSignal: (signal: string) => void, critical: () => boolean): { check: () => void; dispose: () => void } {
  let signal: string | null = null
  const handler = (s: NodeJS.Signals) => {
    if (signal !== null && !critical()) process.exit(130)
    if (signal !== null) {
      process.stderr.write(`${s} again: finishing safely (a partial import is being undone; killing it now would leave part of it behind)\n`)
      return
    }
    signal = s
    onSignal(s)
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return {
    check: () => {
      if (signal !== null) throw new CliError('INTERRUPTED', `interrupted by ${signal}`)
    },
    dispose: () => {
      process.off('SIGINT', handler)
      process.off('SIGTERM', handler)
    },
  }
}
