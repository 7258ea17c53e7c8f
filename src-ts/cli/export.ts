/**
 * `kyrodb export <collection> [file]`: write a collection's rows as `.jsonl` (default;
 * stdout when no file is given), `.npy` or `.fvecs` (with their ids in `<file>.ids`).
 *
 * The rows come from a scan of the whole collection ({@link Collection.entries}, in key
 * order, streamed a page at a time), or with `--ids-from <file>` from the ids listed there
 * (one per line, or a `.jsonl` whose lines have an `"id"`), each read with `get`.
 *
 * Rows are written to a temporary file beside the target, renamed over it when complete.
 * @internal
 * @module
 */
import { type Command, Option } from 'commander'
import { existsSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { Collection, Metadata } from '../collection.js'
import {
  addDataDirOption,
  apiId,
  CliError,
  cliId,
  dataDirOf,
  fmtInt,
  idTypeOf,
  openDatabase,
  parseStringIdJson,
  parseU64Json,
  runCommand,
  UsageError,
  type CliId,
  type IdType,
} from './common.js'
import { binaryWriter, formatOf, IdsWriter, jsonlWriter, LineReader, type Format, type OutRow, type RowWriter } from './formats.js'
import { Progress, progressMode } from './progress.js'
import { createWriteStream } from 'node:fs'

/** The engine's largest `k`: the most rows one search returns. */

interface ExportOptions {
  dataDir: string
  db?: string
  format?: string
  idsFrom?: string
  idsOut?: string
  quiet: boolean
}

/** Count the non-empty lines of a text file (for the progress total). */
async function countLines(path: string): Promise<number> {
  const lines = new LineReader(path)
  let n = 0
  try {
    for (let l = await lines.next(); l !== null; l = await lines.next()) if (l.trim() !== '') n++
  } finally {
    await lines.close()
  }
  return n
}

/** The id on one line of an `--ids-from` file: a bare id, a JSON string, or a JSON object with `"id"`. */
function idOnLine(text: string, idType: IdType, fail: (m: string) => never): CliId {
  const t = text.trim()
  let value: unknown
  if (/^[0-9]+$/.test(t)) value = t
  else {
    try {
      value = JSON.parse(t)
    } catch (err) {
      if (idType === 'string') value = t
      else fail(`not an id nor a JSON line with "id" (${(err as Error).message})`)
    }
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) value = (value as { id?: unknown }).id
  }
  if (idType === 'u64') {
    const id = parseU64Json(value)
    if (typeof id === 'string') fail(id)
    return id
  }
  const id = parseStringIdJson(value)
  if (typeof id === 'string') fail(id)
  return id.id
}

/** Rows by the ids of `path`, in its order; ids not in the collection are counted, not written. */
async function* rowsByIds(c: Collection, path: string, idType: IdType, missing: { n: number }): AsyncGenerator<OutRow> {
  const lines = new LineReader(path)
  try {
    for (let line = await lines.next(); line !== null; line = await lines.next()) {
      if (line.trim() === '') continue
      const n = lines.lineNo
      const id = idOnLine(line, idType, (m) => {
        throw new CliError('INVALID_ARGUMENT', `${path} line ${n}: ${m}`)
      })
      const found = await c.get(apiId(id))
      if (found === null) {
        missing.n++
        continue
      }
      yield { id, vector: found.vector, metadata: found.metadata }
    }
  } finally {
    await lines.close()
  }
}

/** Every row, streamed a page at a time through {@link Collection.entries}, in key order. */
async function* rowsByScan(c: Collection): AsyncGenerator<OutRow> {
  for await (const r of c.entries({ pageSize: 2000 })) {
    yield { id: cliId(r.id), vector: r.vector, metadata: r.metadata as Metadata | undefined }
  }
}

async function exportCommand(name: string, file: string | undefined, opts: ExportOptions): Promise<void> {
  const toStdout = file === undefined || file === '-'
  const format: Format = toStdout ? (opts.format as Format | undefined) ?? 'jsonl' : formatOf(file, opts.format)
  if (toStdout && format !== 'jsonl') throw new UsageError(`.${format} is written to a file: give a file name`)
  if (format === 'jsonl' && opts.idsOut !== undefined) throw new UsageError('--ids-out applies to .npy/.fvecs (a .jsonl line carries its id)')
  const progress = new Progress(progressMode(opts.quiet))
  const started = performance.now()

  const db = await openDatabase(dataDirOf(opts))
  let writer: RowWriter | null = null
  let ids: IdsWriter | null = null
  const temps: string[] = []
  // Interrupted: leave no partial file behind (the database was only read).
  const onSignal = () => {
    for (const t of temps) rmSync(t, { force: true })
    process.exit(130)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const c = db.collection(name)
    const idType = idTypeOf(c)
    const missing = { n: 0 }
    let total: number
    let rows: AsyncIterable<OutRow> | Iterable<OutRow>
    if (opts.idsFrom !== undefined) {
      if (!existsSync(opts.idsFrom)) throw new CliError('NOT_FOUND', `no such file: ${opts.idsFrom}`)
      total = await countLines(opts.idsFrom)
      rows = rowsByIds(c, opts.idsFrom, idType, missing)
    } else {
      total = c.count()
      rows = rowsByScan(c)
    }

    // Write into temporary files; rename them over the targets once complete.
    const temp = (target: string) => {
      const t = join(dirname(target), `.${basename(target)}.partial-${process.pid}`)
      temps.push(t)
      return t
    }
    const out = toStdout ? null : temp(file)
    const idsTarget = format === 'jsonl' || toStdout ? null : (opts.idsOut ?? `${file}.ids`)
    const idsTemp = idsTarget === null ? null : temp(idsTarget)
    if (format === 'jsonl') writer = jsonlWriter(out === null ? process.stdout : createWriteStream(out))
    else writer = await binaryWriter(out!, format, c.dimension)
    if (idsTemp !== null) ids = new IdsWriter(idsTemp)

    const task = progress.start('export', total, 'rows')
    let done = 0
    let withMetadata = 0
    try {
      for await (const row of rows) {
        await writer.write(row)
        await ids?.write(row.id)
        if (row.metadata !== undefined) withMetadata++
        done++
        task.update(done)
      }
      const written = await writer.end()
      writer = null
      await ids?.end()
      ids = null
      task.update(written, written)
      task.finish()
    } catch (err) {
      task.abandon()
      throw err
    }
    if (out !== null) renameSync(out, file!)
    if (idsTemp !== null) renameSync(idsTemp, idsTarget!)
    temps.length = 0
    if (missing.n > 0) progress.note(`export: ${fmtInt(missing.n)} ids of ${opts.idsFrom} are not in '${name}' (skipped)`)
    if (format !== 'jsonl' && withMetadata > 0) {
      progress.note(`export: ${fmtInt(withMetadata)} rows have metadata, which .${format} cannot hold: export to .jsonl to keep it`)
    }
    const secs = ((performance.now() - started) / 1000).toFixed(1)
    const where = toStdout ? 'stdout' : idsTarget ? `${file} (ids in ${idsTarget})` : file
    progress.note(`exported ${fmtInt(done)} rows of '${name}' to ${where} in ${secs} s`)
  } finally {
    await writer?.abort()
    await ids?.abort()
    for (const t of temps) rmSync(t, { force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await db.close()
  }
}

/** Register `kyrodb export`. */
export function registerExport(program: Command): void {
  const cmd = program
    .command('export')
    .description('write a collection as .jsonl (default; stdout without a file), .npy or .fvecs')
    .argument('<collection>', 'collection name')
    .argument('[file]', 'output file (.jsonl, .npy, .fvecs); omitted or -: .jsonl to stdout')
  addDataDirOption(cmd)
    .addOption(new Option('--format <format>', 'file format (default: from the extension)').choices(['jsonl', 'npy', 'fvecs']))
    .option('--ids-from <file>', 'export only the rows of these ids, in that order (one per line, or a .jsonl with "id" fields)')
    .option('--ids-out <file>', 'where .npy/.fvecs ids go, one per line (default <file>.ids)')
    .option('-q, --quiet', 'no progress and no summary', false)
    .addHelpText(
      'after',
      `
Without --ids-from, every row is exported, streamed in key order (by id; for string ids,
by their hash).

Examples:
  kyrodb export docs > docs.jsonl
  kyrodb export docs docs.jsonl --ids-from source.jsonl
  kyrodb export glove glove.npy        # also writes glove.npy.ids`,
    )
    .action(async (name: string, file: string | undefined, opts: ExportOptions) => runCommand('export', () => exportCommand(name, file, opts)))
}
