/**
 * `kyrodb stats [collection]`: figures of a database (and its collections): a table on a
 * terminal, JSON when stdout is not one or with `--json`.
 * @internal
 * @module
 */
import type { Command } from 'commander'
import type { CollectionStats, Metric } from '../collection.js'
import type { DatabaseStats } from '../database.js'
import type { KvStats } from '../kv.js'
import { addDataDirOption, dataDirOf, directoryBytes, fmtBytes, fmtInt, idTypeOf, openDatabase, plural, runCommand, UsageError, type IdType } from './common.js'

interface StatsOptions {
  dataDir: string
  db?: string
  json: boolean
  table: boolean
}

/** One collection in `kyrodb stats`. */
export interface CollectionReport extends CollectionStats {
  name: string
  dimension: number
  metric: Metric
  idType: IdType
}

/** What `kyrodb stats --json` prints. */
export interface StatsReport {
  dataDir: string
  /** Bytes of every file in the directory. */
  diskBytes: number
  database: DatabaseStats
  kv: KvStats
  collections: CollectionReport[]
}

/** Left-aligned columns of text. */
function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function human(r: StatsReport, one: boolean): string {
  const d = r.database
  const out: string[] = []
  out.push(`database ${r.dataDir}: ${fmtBytes(r.diskBytes)} on disk${one ? '' : `, ${plural(r.collections.length, 'collection')}`}`)
  out.push(
    `  write-ahead log ${fmtBytes(d.walDiskBytes)} in ${plural(d.walFiles, 'file')}; native memory ${fmtBytes(d.nativeMemoryBytes)}; opened (recovery) in ${Math.round(d.recoveryMs)} ms`,
  )
  if (!one) out.push(`key-value store: ${plural(r.kv.keys, 'key')} in ${plural(r.kv.runs, 'run')}, ${fmtInt(r.kv.memtableEntries)} in the memtable`)
  if (r.collections.length > 0) {
    out.push('')
    out.push(
      table(
        ['COLLECTION', 'DIM', 'METRIC', 'IDS', 'ROWS', 'HOT', 'SEGMENTS', 'GRAPH ROWS', 'INDEXING'],
        r.collections.map((c) => [
          c.name,
          String(c.dimension),
          c.metric,
          c.idType,
          fmtInt(c.count),
          fmtInt(c.hotRows),
          String(c.segments.length),
          fmtInt(c.segments.filter((s) => s.graph).reduce((n, s) => n + s.live, 0)),
          c.indexing ? 'yes' : 'no',
        ]),
        new Set([1, 4, 5, 6, 7]),
      ),
    )
  }
  if (one && r.collections.length === 1) {
    const c = r.collections[0]
    if (c.segments.length > 0) {
      out.push('')
      out.push(
        table(
          ['SEGMENT', 'ROWS', 'LIVE', 'GRAPH'],
          c.segments.map((s, i) => [String(i), fmtInt(s.rows), fmtInt(s.live), s.graph ? 'yes' : 'no']),
          new Set([0, 1, 2]),
        ),
      )
    }
    out.push('')
    out.push(
      `unindexed cap ${c.maxUnindexedRows === 0 ? 'none' : fmtInt(c.maxUnindexedRows)}; since open: ${fmtInt(c.indexedRows)} rows indexed, ${fmtInt(c.mergedRows)} merged, ${fmtInt(c.writeStalls)} write stalls`,
    )
  }
  return out.join('\n')
}

async function statsCommand(name: string | undefined, opts: StatsOptions): Promise<void> {
  if (opts.json && opts.table) throw new UsageError('pass --json or --table, not both')
  const dir = dataDirOf(opts)
  const db = await openDatabase(dir)
  let report: StatsReport
  try {
    const infos = db.listCollections().filter((c) => name === undefined || c.name === name)
    if (name !== undefined && infos.length === 0) db.collection(name) // throws NOT_FOUND
    report = {
      dataDir: dir,
      diskBytes: directoryBytes(dir),
      database: db.stats(),
      kv: db.kv.stats(),
      collections: infos.map((info) => {
        const c = db.collection(info.name)
        return { name: c.name, dimension: c.dimension, metric: c.metric, idType: idTypeOf(c), ...c.stats() }
      }),
    }
  } finally {
    await db.close()
  }
  const asJson = opts.json || (!opts.table && !process.stdout.isTTY)
  process.stdout.write(asJson ? `${JSON.stringify(report, null, 2)}\n` : `${human(report, name !== undefined)}\n`)
}

/** Register `kyrodb stats`. */
export function registerStats(program: Command): void {
  const cmd = program
    .command('stats')
    .description('figures of a database and its collections (a table on a terminal, JSON otherwise)')
    .argument('[collection]', 'only this collection')
  addDataDirOption(cmd)
    .option('--json', 'JSON even on a terminal', false)
    .option('--table', 'a table even when stdout is not a terminal', false)
    .action(async (name: string | undefined, opts: StatsOptions) => runCommand('stats', () => statsCommand(name, opts)))
}
