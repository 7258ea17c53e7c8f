/**
 * The dashboard's overview (`GET /v1/dashboard/overview`): the server and engine, memory,
 * disk, every collection with its segments, and the key-value store — what `db.stats()`,
 * `collection.stats()` and `db.kv.stats()` report, joined with what the data directory
 * says (`files.ts`: bytes and write time of each segment file, index settings).
 * @module
 */
import type { CollectionStats } from '../../collection.js'
import type { Database, DatabaseStats } from '../../database.js'
import { engineInfo } from '../../info.js'
import type { KvStats } from '../../kv.js'
import { diskUse, readManifest, type DiskUse, type SegmentFile } from './files.js'

/** A segment as the overview shows it. */
export interface SegmentView {
  rows: number
  live: number
  graph: boolean
  /** Deleted rows over rows. */
  deletedShare: number
  /** File number in `seg/`, bytes on disk (segment and deletion bitmap), write time; `null` in memory or before the manifest names it. */
  file: number | null
  bytes: number | null
  writtenAt: number | null
}

export interface CollectionView {
  name: string
  dimension: number
  metric: string
  /** `collection.idType` where the API has it, else `'u64'`. */
  idType: string
  count: number
  hotRows: number
  indexing: boolean
  /** HNSW settings from the manifest, `false` for an exact-only collection, `null` when unknown (in memory). */
  index: { m: number; efConstruction: number; autoBuildRows: number } | false | null
  segments: SegmentView[]
  /** Bytes of its segment files, `null` when some are unknown. */
  bytes: number | null
  /** Write time of its newest segment file (the last build, merge or compaction that produced one). */
  lastBuildAt: number | null
  maxUnindexedRows: number
  writeStalls: number
  stallMs: number
  indexedRows: number
  mergedRows: number
}

export interface Overview {
  server: {
    version: string
    nativeVersion: string
    simd: string
    node: string
    platform: string
    pid: number
    startedAt: number
    uptimeMs: number
    dataDir: string | null
    durability: string
    /** Whether the server has API keys. */
    auth: boolean
  }
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; nativeBytes: number; reportedExternalBytes: number }
  disk: DiskUse | null
  database: DatabaseStats
  recoveryReport: string[]
  collections: CollectionView[]
  kv: KvStats & { runFiles: { file: number; entries: number; bytes: number | null }[] }
}

/**
 * Pair the engine's segments with the manifest's: in the same order when the row counts
 * agree one by one (both list oldest first), else each with the first unclaimed file of
 * the same row count. A segment the manifest does not name yet (a build whose checkpoint
 * is pending) gets no file.
 */
export function pairSegments(engine: CollectionStats['segments'], files: SegmentFile[]): (SegmentFile | null)[] {
  if (engine.length === files.length && engine.every((s, i) => s.rows === files[i]!.rows)) return files
  const free = [...files]
  return engine.map((s) => {
    const i = free.findIndex((f) => f.rows === s.rows)
    return i < 0 ? null : free.splice(i, 1)[0]!
  })
}

/** Everything the overview shows. */
export function overview(db: Database, info: { version: string; startedAt: number; auth: boolean }): Overview {
  const dir = db.path
  const manifest = dir === null ? null : readManifest(dir)
  const collections: CollectionView[] = []
  for (const c of db.listCollections()) {
    let handle
    let stats: CollectionStats
    try {
      handle = db.collection(c.name)
      stats = handle.stats()
    } catch {
      continue // dropped between the listing and now
    }
    const fromManifest = manifest?.collections.get(c.name)
    const files = pairSegments(stats.segments, fromManifest?.segments ?? [])
    const segments = stats.segments.map((s, i): SegmentView => ({
      rows: s.rows,
      live: s.live,
      graph: s.graph,
      deletedShare: s.rows === 0 ? 0 : (s.rows - s.live) / s.rows,
      file: files[i]?.file ?? null,
      bytes: files[i]?.bytes ?? null,
      writtenAt: files[i]?.writtenAt ?? null,
    }))
    const times = segments.map((s) => s.writtenAt).filter((t): t is number => t !== null)
    collections.push({
      name: c.name,
      dimension: c.dimension,
      metric: c.metric,
      idType: String((handle as { idType?: unknown }).idType ?? 'u64'),
      count: stats.count,
      hotRows: stats.hotRows,
      indexing: stats.indexing,
      index: fromManifest === undefined ? null : (fromManifest.index ?? false),
      segments,
      bytes: segments.every((s) => s.bytes !== null) ? segments.reduce((a, s) => a + s.bytes!, 0) : null,
      lastBuildAt: times.length > 0 ? Math.max(...times) : null,
      maxUnindexedRows: stats.maxUnindexedRows,
      writeStalls: stats.writeStalls,
      stallMs: stats.stallMs,
      indexedRows: stats.indexedRows,
      mergedRows: stats.mergedRows,
    })
  }
  const database = db.stats()
  const mem = process.memoryUsage()
  const engine = engineInfo()
  return {
    server: {
      version: info.version,
      nativeVersion: engine.nativeVersion,
      simd: engine.simd,
      node: process.version,
      platform: `${process.platform}-${process.arch}`,
      pid: process.pid,
      startedAt: info.startedAt,
      uptimeMs: Date.now() - info.startedAt,
      dataDir: dir,
      durability: db.durability,
      auth: info.auth,
    },
    memory: {
      rss: mem.rss,
      heapUsed: mem.heapUsed,
      heapTotal: mem.heapTotal,
      external: mem.external,
      nativeBytes: database.nativeMemoryBytes,
      reportedExternalBytes: database.reportedExternalBytes,
    },
    disk: dir === null ? null : diskUse(dir),
    database,
    recoveryReport: db.recoveryReport,
    collections,
    kv: { ...db.kv.stats(), runFiles: manifest?.kvRuns ?? [] },
  }
}
