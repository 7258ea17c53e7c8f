/**
 * `kyrodb import <collection> <file>`: load a `.jsonl`, `.npy` or `.fvecs` file into a
 * collection, creating it if needed.
 *
 * All or nothing, in two passes over the file:
 *
 * 1. **Validate**: read the whole file and check every row as the engine would (JSON,
 *    dimension, finite float32s, zero vectors under cosine, ids, metadata size and depth,
 *    duplicate ids), with nothing written yet. A bad file fails here, naming the line
 *    (`.jsonl`) or byte offset (`.npy`/`.fvecs`), and the database is untouched.
 * 2. **Apply**: upsert in batches (each batch is atomic in the engine). What a failure at
 *    this stage (an I/O error, a full disk, SIGINT/SIGTERM, the file changed since step 1)
 *    leaves behind is undone before the command exits: a collection this import created
 *    is dropped; in an existing collection, the ids that were new are deleted and the rows
 *    the import replaced are written back, from an undo log kept in a temporary directory
 *    (the previous version of each replaced row is read with `get` just before its batch).
 *
 * The command holds the data directory's lock throughout, so nothing else writes to the
 * collection between the two passes or during an undo. A crash of the process itself
 * (SIGKILL, power loss) during step 2 cannot be undone by it: the rows of the batches
 * acknowledged so far stay; rerunning the same import converges (an upsert replaces).
 * @internal
 * @module
 */
import { type Command, InvalidArgumentError as CommanderArgError, Option } from 'commander'
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync, type WriteStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Collection, Metric } from '../collection.js'
import type { Database } from '../database.js'
import { KyroDBError } from '../errors.js'
import { U64_MAX } from '../ids.js'
import {
  addDataDirOption,
  apiId,
  CliError,
  dataDirOf,
  durabilityOf,
  durabilityOption,
  fmtInt,
  idTypeOf,
  interruptible,
  newCollectionOptions,
  openDatabase,
  runCommand,
  UsageError,
  type CliId,
  type IdType,
} from './common.js'
import { formatOf, LineReader, MAX_DIMENSION, openSource, type Batch, type IdSource, type ReadSpec, type Source } from './formats.js'
import { Progress, progressMode } from './progress.js'

interface ImportOptions {
  dataDir: string
  db?: string
  format?: string
  dimension?: number
  metric?: Metric
  index: boolean
  idType?: IdType
  startId?: bigint
  ids?: string
  batchSize: number
  buildIndex?: boolean
  durability: string
  quiet: boolean
  json: boolean
}

function parseInteger(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value)
    if (!/^[0-9]+$/.test(value) || n < min || n > max) throw new CommanderArgError(`${name} must be an integer in ${min}..${max}`)
    return n
  }
}

function parseStartId(value: string): bigint {
  if (!/^[0-9]{1,20}$/.test(value) || BigInt(value) > U64_MAX) throw new CommanderArgError('--start-id must be an integer in 0..2^64-1')
  return BigInt(value)
}

/** Size, modification time and inode: enough to notice the file was rewritten between the passes. */
function signature(path: string): string {
  const s = statSync(path)
  return `${s.size}:${s.mtimeMs}:${s.ino}`
}

// ---------------------------------------------------------------- duplicate ids

/** Ids seen during validation, to find an id given twice. */
class SeenIds {
  #u64 = new BigUint64Array(1024)
  #n = 0
  readonly #strings = new Set<string>()
  #stringDup: string | null = null

  add(ids: readonly CliId[]): void {
    for (const id of ids) {
      if (typeof id === 'string') {
        if (this.#strings.has(id)) this.#stringDup ??= id
        else this.#strings.add(id)
        continue
      }
      if (this.#n === this.#u64.length) {
        const grown = new BigUint64Array(this.#u64.length * 2)
        grown.set(this.#u64)
        this.#u64 = grown
      }
      this.#u64[this.#n++] = id
    }
  }

  /** An id given more than once, if any. */
  duplicate(): CliId | null {
    if (this.#stringDup !== null) return this.#stringDup
    const ids = this.#u64.subarray(0, this.#n).sort()
    for (let i = 1; i < ids.length; i++) if (ids[i] === ids[i - 1]) return ids[i]
    return null
  }
}

/** Where `id` occurs first and second in the file. */
async function locateDuplicate(source: Source, spec: ReadSpec, id: CliId): Promise<[string, string]> {
  const found: string[] = []
  for await (const b of source.read({ ...spec, onBytes: undefined })) {
    b.ids.forEach((x, i) => {
      if (x === id && found.length < 2) found.push(b.where(i))
    })
    if (found.length === 2) break
  }
  return [found[0] ?? '?', found[1] ?? '?']
}

// ------------------------------------------------------------------------- undo log

/**
 * What an import into an existing collection must undo: ids that were new (to delete) and
 * the previous version of each row it replaced (to write back), in two temporary files.
 */
class UndoLog {
  readonly dir: string
  readonly #newPath: string
  readonly #oldPath: string
  readonly #newIds: WriteStream
  readonly #oldRows: WriteStream
  /** The collection was empty: every id is new, no lookups needed. */
  readonly #wasEmpty: boolean
  newCount = 0
  replacedCount = 0

  constructor(wasEmpty: boolean) {
    this.dir = mkdtempSync(join(tmpdir(), 'kyrodb-import-undo-'))
    this.#newPath = join(this.dir, 'new-ids.jsonl')
    this.#oldPath = join(this.dir, 'replaced-rows.jsonl')
    this.#newIds = createWriteStream(this.#newPath)
    this.#oldRows = createWriteStream(this.#oldPath)
    this.#wasEmpty = wasEmpty
  }

  /** Before upserting `ids`: note which are new and save the rows they replace. */
  async record(c: Collection, ids: readonly CliId[]): Promise<void> {
    let fresh = ''
    let old = ''
    const prevs = this.#wasEmpty ? null : await c.getMany(ids.map(apiId))
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      const prev = prevs === null ? null : prevs[i]
      const key = typeof id === 'string' ? JSON.stringify(id) : `"${id}"`
      if (prev === null) {
        fresh += `${key}\n`
        this.newCount++
      } else {
        old += `[${key},${JSON.stringify(Array.from(prev.vector))},${prev.metadata === undefined ? 'null' : JSON.stringify(prev.metadata)}]\n`
        this.replacedCount++
      }
    }
    await Promise.all([write(this.#newIds, fresh), write(this.#oldRows, old)])
  }

  /** Delete the new ids, then write the replaced rows back. */
  async rollback(c: Collection, idType: IdType, progress: Progress): Promise<void> {
    await Promise.all([end(this.#newIds), end(this.#oldRows)])
    const task = progress.start('undo', this.newCount + this.replacedCount, 'rows')
    let done = 0
    const parseId = (text: string): CliId => {
      const v = JSON.parse(text) as string
      return idType === 'string' ? v : BigInt(v)
    }
    const newIds = new LineReader(this.#newPath)
    try {
      let batch: CliId[] = []
      const flush = async () => {
        if (batch.length === 0) return
        await c.delete(batch.map(apiId))
        done += batch.length
        task.update(done)
        batch = []
      }
      for (let line = await newIds.next(); line !== null; line = await newIds.next()) {
        if (line === '') continue
        batch.push(parseId(line))
        if (batch.length === 10_000) await flush()
      }
      await flush()
    } finally {
      await newIds.close()
    }
    const oldRows = new LineReader(this.#oldPath)
    try {
      let ids: CliId[] = []
      let vectors: number[][] = []
      let metadata: (Record<string, unknown> | undefined)[] = []
      const flush = async () => {
        if (ids.length === 0) return
        await c.upsert(ids.map(apiId), vectors, metadata)
        done += ids.length
        task.update(done)
        ids = []
        vectors = []
        metadata = []
      }
      for (let line = await oldRows.next(); line !== null; line = await oldRows.next()) {
        if (line === '') continue
        const [id, vector, meta] = JSON.parse(line) as [string, number[], Record<string, unknown> | null]
        ids.push(idType === 'string' ? id : BigInt(id))
        vectors.push(vector)
        metadata.push(meta ?? undefined)
        if (ids.length === 1000) await flush()
      }
      await flush()
    } finally {
      await oldRows.close()
    }
    task.finish()
  }

  async close(): Promise<void> {
    await Promise.all([end(this.#newIds), end(this.#oldRows)])
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true })
  }
}

function write(stream: WriteStream, text: string): Promise<void> {
  if (text.length === 0) return Promise.resolve()
  return new Promise((resolve, reject) => stream.write(text, (err) => (err ? reject(err) : resolve())))
}

function end(stream: WriteStream): Promise<void> {
  if (stream.closed) return Promise.resolve()
  return new Promise((resolve, reject) => {
    stream.once('error', reject)
    stream.end(() => resolve())
  })
}

// ---------------------------------------------------------------------------- apply

/** Row `i` of `b` that an engine error message names (`vector 3 (id 7)`, `metadata of id 7`), if any. */
function rowNamedBy(message: string, b: Batch): number | undefined {
  const v = /\bvector (\d+) \(id /.exec(message)
  if (v) return Number(v[1])
  const m = /\bid (\S+?)[ ,:;)]/.exec(message)
  if (m) {
    const i = b.ids.findIndex((id) => String(id) === m[1] || JSON.stringify(id) === m[1])
    if (i >= 0) return i
  }
  return undefined
}

/** An upsert's error, located in the file. */
function locate(err: unknown, b: Batch, path: string): unknown {
  if (!(err instanceof KyroDBError)) return err
  const i = rowNamedBy(err.message, b)
  const where = i !== undefined ? b.where(i) : `${b.where(0)} to ${b.where(b.ids.length - 1)}`
  return new CliError(err.code, `${path} ${where}: ${err.message}`, { cause: err })
}

interface Plan {
  db: Database
  name: string
  source: Source
  spec: ReadSpec
  rows: number
  create: { dimension: number; metric: Metric; index: boolean; idType: IdType } | null
  buildIndex: boolean | undefined
  progress: Progress
  signature: string
}

interface Outcome {
  collection: string
  created: boolean
  rows: number
  inserted: number
  replaced: number
  indexBuilt: boolean
}

/** Where an import is: a signal during `apply` undoes it; during `post` (index build) the rows stay. */
type Phase = { value: 'validate' | 'apply' | 'post' }

async function apply(plan: Plan, interrupted: { check: () => void; phase: Phase }): Promise<Outcome> {
  const { db, name, source, spec, progress } = plan
  let c: Collection
  let undo: UndoLog | null = null
  if (plan.create) {
    const { dimension, metric, index, idType } = plan.create
    c = await db.createCollection(name, newCollectionOptions(dimension, metric, index, idType))
  } else {
    c = db.collection(name)
    undo = new UndoLog(c.count() === 0)
  }
  const task = progress.start('import', plan.rows, 'rows')
  let done = 0
  // From here on a second signal must not kill the process: a partial import would stay.
  interrupted.phase.value = 'apply'
  try {
    if (signature(source.path) !== plan.signature) throw new CliError('INVALID_ARGUMENT', `${source.path} changed after it was validated; nothing was imported`)
    for await (const b of source.read(spec)) {
      interrupted.check()
      await undo?.record(c, b.ids)
      try {
        await c.upsert(b.ids.map(apiId), b.vectors, b.metadata)
      } catch (err) {
        throw locate(err, b, source.path)
      }
      done += b.ids.length
      task.update(done)
    }
    if (done !== plan.rows || signature(source.path) !== plan.signature) {
      throw new CliError('INVALID_ARGUMENT', `${source.path} changed while it was being imported`)
    }
    task.finish()
    interrupted.phase.value = 'post'
  } catch (err) {
    task.abandon()
    const rolledBack = await undoImport(db, name, c, plan, undo, done, progress)
    if (err instanceof CliError || err instanceof KyroDBError) {
      throw new CliError(err.code, `${err.message}; ${rolledBack}`, { cause: err })
    }
    const e = err as NodeJS.ErrnoException
    throw new CliError('IO', `${e?.message ?? String(err)}; ${rolledBack}`, { cause: err })
  }
  const inserted = undo ? undo.newCount : done
  const replaced = undo ? undo.replacedCount : 0
  if (undo) {
    await undo.close()
    undo.remove()
  }
  // A bulk load (new collection, or at least doubling it) ends with one graph built over
  // everything; smaller imports leave indexing to the background builds.
  let indexBuilt = false
  const build = plan.buildIndex ?? (plan.create !== null || inserted >= c.count() / 2)
  const after = async (what: string, step: () => Promise<void>) => {
    try {
      await step()
    } catch (err) {
      const code = err instanceof KyroDBError ? err.code : 'IO'
      throw new CliError(code, `all ${fmtInt(done)} rows were imported into '${name}', but ${what} failed: ${(err as Error).message}`, { cause: err })
    }
  }
  if (build && done > 0) {
    await after('building the index', async () => {
      const t = progress.start('index', c.count(), 'rows')
      await c.buildIndex({ onProgress: (d, total) => t.update(d, total) })
      t.finish()
    })
    indexBuilt = true
    // The rows are in the graph segment now: trim the write-ahead log so the next open
    // replays nothing. (Without a build, this would build the hot tier into a segment:
    // left to the background builds and to `kyrodb serve`'s snapshots instead.)
    await after('the final flush', async () => {
      const t = progress.start('flush', 0, '')
      await db.flush()
      t.finish()
    })
  }
  return { collection: name, created: plan.create !== null, rows: done, inserted, replaced, indexBuilt }
}

/** Undo a failed apply; returns what to add to the error message. */
async function undoImport(db: Database, name: string, c: Collection, plan: Plan, undo: UndoLog | null, done: number, progress: Progress): Promise<string> {
  try {
    if (plan.create) {
      await db.dropCollection(name)
      return `the collection '${name}' this import created was dropped (nothing was imported)`
    }
    await undo!.rollback(c, plan.spec.idType, progress)
    undo!.remove()
    return done === 0 ? 'nothing was imported' : `the ${fmtInt(done)} rows written were undone (nothing was imported)`
  } catch (undoErr) {
    const where = undo ? `; the undo log is kept in ${undo.dir} (new-ids.jsonl: ids to delete; replaced-rows.jsonl: [id, vector, metadata] to write back)` : ''
    return `UNDO FAILED (${(undoErr as Error).message}): the collection '${name}' holds part of this import${where}`
  }
}

// -------------------------------------------------------------------------- command

/**
 * The id type an ids file suggests from its first id: integers are bare decimals; a JSON
 * string (how `kyrodb export` writes string ids) or any other text is a string id.
 */
async function sidecarIdType(path: string): Promise<IdType | undefined> {
  const lines = new LineReader(path)
  try {
    for (let line = await lines.next(); line !== null; line = await lines.next()) {
      const t = line.trim()
      if (t === '') continue
      return /^[0-9]+$/.test(t) ? 'u64' : 'string'
    }
    return undefined
  } finally {
    await lines.close()
  }
}

async function importCommand(name: string, file: string, opts: ImportOptions, cmd: Command): Promise<void> {
  const format = formatOf(file, opts.format)
  const binary = format !== 'jsonl'
  if (!binary && (opts.startId !== undefined || opts.ids !== undefined)) {
    throw new UsageError('--start-id and --ids apply to .npy and .fvecs files; a .jsonl line carries its own "id"')
  }
  if (opts.startId !== undefined && opts.ids !== undefined) throw new UsageError('pass either --start-id or --ids, not both')
  const progress = new Progress(progressMode(opts.quiet))
  const started = performance.now()
  try {
    statSync(file)
  } catch {
    throw new CliError('NOT_FOUND', `no such file: ${file}`)
  }
  // `kyrodb export x.npy` writes the ids to x.npy.ids: take them from there unless told otherwise.
  if (binary && opts.ids === undefined && opts.startId === undefined && existsSync(`${file}.ids`)) {
    opts.ids = `${file}.ids`
    progress.note(`import: ids from ${opts.ids} (pass --start-id to number the rows instead)`)
  }
  if (opts.ids !== undefined && !existsSync(opts.ids)) throw new CliError('NOT_FOUND', `no such file: ${opts.ids}`)
  const idSource: IdSource = opts.ids !== undefined ? { kind: 'file', path: opts.ids } : { kind: 'sequential', start: opts.startId ?? 0n }
  const source = openSource(file, format, idSource)
  const probe = await source.probe() // header errors (.npy) before the database is opened

  const dir = dataDirOf(opts)
  const db = await openDatabase(dir, { create: true, durability: durabilityOf(opts), maxUnindexedRows: 0 })
  const phase: Phase = { value: 'validate' }
  const signals = interruptible(
    (s) => {
      if (phase.value === 'post') {
        // Every row is written (and synced per --durability); only the index build is cut
        // short, which the background builds take over.
        progress.note(`${s}: the import is complete; stopping before the index build finished (background builds will index the rest)`)
        process.exit(130)
      }
      progress.note(`${s}: stopping${phase.value === 'apply' ? ' after the current batch; what was written will be undone' : ''}...`)
    },
    () => phase.value === 'apply',
  )
  try {
    const existing = db.listCollections().find((c) => c.name === name)
    let dimension: number
    let metric: Metric
    let idType: IdType
    let create: Plan['create'] = null
    let dimensionNote: string | undefined
    if (existing) {
      const c = db.collection(name)
      dimension = c.dimension
      metric = c.metric
      idType = idTypeOf(c)
      if (opts.dimension !== undefined && opts.dimension !== dimension) {
        throw new CliError('DIMENSION_MISMATCH', `--dimension is ${opts.dimension} but collection '${name}' has dimension ${dimension}`)
      }
      if (opts.metric !== undefined && opts.metric !== metric) {
        throw new CliError('INVALID_ARGUMENT', `--metric is ${opts.metric} but collection '${name}' uses ${metric}`)
      }
      if (opts.idType !== undefined && opts.idType !== idType) {
        throw new CliError('INVALID_ARGUMENT', `--id-type is ${opts.idType} but collection '${name}' has ${idType} ids`)
      }
      if (cmd.getOptionValueSource('index') === 'cli') progress.note(`collection '${name}' exists: --no-index only applies when the import creates it`)
    } else {
      const d = opts.dimension ?? probe.dimension
      if (d === undefined) throw new UsageError(`cannot infer the dimension of '${name}' from an empty file: pass --dimension`)
      if (d < 1 || d > MAX_DIMENSION) throw new CliError('INVALID_ARGUMENT', `dimension ${d} is out of range 1..${MAX_DIMENSION}`)
      dimension = d
      metric = opts.metric ?? 'cosine'
      idType = opts.idType ?? probe.idType ?? (opts.ids !== undefined ? await sidecarIdType(opts.ids) : undefined) ?? 'u64'
      if (opts.dimension === undefined && format === 'jsonl') dimensionNote = `the first row's vector has ${d} (the new collection's dimension)`
      create = { dimension, metric, index: opts.index, idType }
    }

    // 1. Validate the whole file; nothing is written.
    const spec: ReadSpec = { dimension, metric, idType, batchSize: opts.batchSize, dimensionNote }
    const sig = signature(file)
    const check = progress.start('validate', probe.bytes, 'bytes')
    const seen = binary && opts.ids === undefined ? null : new SeenIds()
    let rows = 0
    try {
      for await (const b of source.read({ ...spec, onBytes: (n) => check.update(n) })) {
        signals.check()
        seen?.add(b.ids)
        rows += b.ids.length
      }
      const dup = seen?.duplicate() ?? null
      if (dup !== null) {
        const [first, second] = await locateDuplicate(source, spec, dup)
        const shown = typeof dup === 'string' ? JSON.stringify(dup) : String(dup)
        throw new CliError('INVALID_ARGUMENT', `${opts.ids ?? file} ${second}: id ${shown} was already given at ${first}; ids must be unique within an import`)
      }
    } catch (err) {
      check.abandon()
      throw err
    }
    check.finish()

    // 2. Apply, undoing everything on failure.
    const outcome = await apply(
      { db, name, source, spec, rows, create, buildIndex: opts.buildIndex, progress, signature: sig },
      { check: signals.check, phase },
    )
    const secs = (performance.now() - started) / 1000
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ ...outcome, seconds: Number(secs.toFixed(3)) })}\n`)
    } else {
      progress.note(
        `imported ${fmtInt(outcome.rows)} rows into '${name}'${outcome.created ? ' (created)' : ''}: ${fmtInt(outcome.inserted)} new, ${fmtInt(outcome.replaced)} replaced, in ${secs.toFixed(1)} s`,
      )
    }
  } finally {
    signals.dispose()
    await db.close()
  }
}

/** Register `kyrodb import`. */
export function registerImport(program: Command): void {
  const cmd = program
    .command('import')
    .description('import a .jsonl, .npy or .fvecs file into a collection (created if missing); all or nothing')
    .argument('<collection>', 'collection name')
    .argument('<file>', '.jsonl ({"id", "vector", "metadata"} per line), .npy (2-D float32) or .fvecs')
  addDataDirOption(cmd)
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['jsonl', 'npy', 'fvecs']))
    .option('--dimension <n>', 'dimension of a new collection (default: from the file); checked against an existing one', parseInteger('--dimension', 1, MAX_DIMENSION))
    .addOption(new Option('--metric <metric>', 'metric of a new collection (default cosine)').choices(['l2', 'cosine', 'ip']))
    .option('--no-index', 'create the collection exact-only (no graph index)')
    .addOption(
      new Option('--id-type <type>', 'id type of a new collection (default: u64, or string when the first id of the .jsonl or --ids file is not a decimal integer)').choices(['u64', 'string']),
    )
    .option('--start-id <n>', 'first id of .npy/.fvecs rows, then +1 per row (default 0)', parseStartId)
    .option('--ids <file>', 'ids of .npy/.fvecs rows, one per line (what `kyrodb export` writes beside them)')
    .option('--batch-size <n>', 'rows per upsert', parseInteger('--batch-size', 1, 100_000), 5000)
    .option('--build-index', 'build the graph index over the whole collection afterwards (default: when the import creates the collection or at least doubles it)')
    .option('--no-build-index', 'never build the graph index afterwards (background builds still run)')
    .addOption(durabilityOption())
    .option('-q, --quiet', 'no progress and no summary', false)
    .option('--json', 'print a JSON summary on stdout', false)
    .addHelpText(
      'after',
      `
A bad file is refused before anything is written, with the line (.jsonl) or byte
offset (.npy/.fvecs) of the problem; if writing fails midway (I/O error, SIGINT), what
was written is undone. Exit codes: 0 done, 1 error, 2 usage, 130 interrupted.

Examples:
  kyrodb import docs docs.jsonl --data-dir ./kyrodb-data
  kyrodb import glove glove.npy --metric cosine --start-id 1
  kyrodb import sift sift_base.fvecs --metric l2 --batch-size 10000`,
    )
    .action(async (name: string, file: string, opts: ImportOptions) => runCommand('import', () => importCommand(name, file, opts, cmd)))
}
