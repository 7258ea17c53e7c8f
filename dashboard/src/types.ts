// The shapes of the dashboard API's answers (src-ts/server/dashboard/), as the page uses them.

export interface SegmentView {
  rows: number
  live: number
  graph: boolean
  deletedShare: number
  file: number | null
  bytes: number | null
  writtenAt: number | null
}

export interface CollectionView {
  name: string
  dimension: number
  metric: string
  idType: string
  count: number
  hotRows: number
  indexing: boolean
  index: { m: number; efConstruction: number; autoBuildRows: number } | false | null
  segments: SegmentView[]
  bytes: number | null
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
    auth: boolean
  }
  memory: { rss: number; heapUsed: number; heapTotal: number; external: number; nativeBytes: number; reportedExternalBytes: number }
  disk: { total: number; wal: number; walFiles: number; segments: number; deletions: number; kvRuns: number; other: number } | null
  database: { walFrames: number; walBytes: number; walGroups: number; walFsyncs: number; walDiskBytes: number; walFiles: number; segmentBuilds: number; merges: number; recoveryMs: number }
  recoveryReport: string[]
  collections: CollectionView[]
  kv: {
    keys: number
    lookups: number
    hits: number
    runProbes: number
    probeKeys: number
    probeHistogram: number[]
    mispredictions: number
    appends: number
    flushes: number
    compactions: number
    indexBuilds: number
    lastIndexBuildNs: number
    runs: number
    memtableEntries: number
    indexBytes: number
    learnedIndex: boolean
    probeKind: string
    runFiles: { file: number; entries: number; bytes: number | null }[]
  }
}

export interface LiveSample {
  t: number
  searches: number
  p50: number | null
  p99: number | null
  vectorWrites: number
  kvWrites: number
  walFrames: number
  fsyncs: number
  groupSize: number | null
  building: boolean
  merging: boolean
  kvMaintenance: boolean
  job: boolean
  rss: number
  nativeBytes: number
  cacheExact: number
  cacheNear: number
  cacheMiss: number
}

export interface Hit {
  id: number | string
  distance: number
  metadata?: Record<string, unknown>
}

export interface Job {
  id: number
  kind: 'flush' | 'compact' | 'build_index' | 'verify'
  collection?: string
  state: 'running' | 'done' | 'failed'
  done: number
  total: number
  startedAt: number
  endedAt?: number
  error?: { code: string; message: string }
}
