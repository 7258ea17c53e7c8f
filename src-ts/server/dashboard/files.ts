/**
 * What the data directory says that the engine's stats do not: bytes on disk by kind,
 * and per segment its file, size and when it was written (`docs/ARCHITECTURE.md` § 6:
 * `MANIFEST` names every live file; `seg/<n:016>.kseg` and `.kdel` beside it). Read only,
 * never locked: the manifest is replaced by rename, so a read sees one whole version.
 *
 * Everything here is best effort: an in-memory database, a manifest of a format this
 * reader does not know, or a file removed between the listing and the `stat` gives
 * `null`s, never an error.
 * @module
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** Bytes on disk by kind. */
export interface DiskUse {
  total: number
  wal: number
  walFiles: number
  segments: number
  deletions: number
  kvRuns: number
  other: number
}

/** A segment file as the manifest names it. */
export interface SegmentFile {
  file: number
  rows: number
  /** Bytes of the `.kseg` file plus its deletion bitmap, `null` when unreadable. */
  bytes: number | null
  /** When the segment file was written (ms since the epoch), `null` when unreadable. */
  writtenAt: number | null
}

/** What the manifest says about the directory's collections and key-value runs. */
export interface ManifestView {
  collections: Map<string, { segments: SegmentFile[]; index: { m: number; efConstruction: number; autoBuildRows: number } | null }>
  kvRuns: { file: number; entries: number; bytes: number | null }[]
}

const segPath = (dir: string, file: number, ext: string) => join(dir, 'seg', `${String(file).padStart(16, '0')}.${ext}`)

function statOrNull(path: string): { size: number; mtimeMs: number } | null {
  try {
    const s = statSync(path)
    return { size: s.size, mtimeMs: s.mtimeMs }
  } catch {
    return null
  }
}

/** Bytes of every file in the directory, by kind. */
export function diskUse(dir: string): DiskUse {
  const use: DiskUse = { total: 0, wal: 0, walFiles: 0, segments: 0, deletions: 0, kvRuns: 0, other: 0 }
  const walk = (d: string) => {
    let names: string[]
    try {
      names = readdirSync(d)
    } catch {
      return
    }
    for (const name of names) {
      const path = join(d, name)
      let s
      try {
        s = statSync(path)
      } catch {
        continue // removed meanwhile
      }
      if (s.isDirectory()) {
        walk(path)
        continue
      }
      use.total += s.size
      if (name.endsWith('.wal')) {
        use.wal += s.size
        use.walFiles++
      } else if (name.endsWith('.kseg')) use.segments += s.size
      else if (name.endsWith('.kdel')) use.deletions += s.size
      else if (name.endsWith('.krun')) use.kvRuns += s.size
      else use.other += s.size
    }
  }
  walk(dir)
  return use
}

interface ManifestJson {
  collections?: {
    name?: unknown
    index?: { m?: number; ef_construction?: number; auto_build_rows?: number } | null
    segments?: { file?: unknown; rows?: unknown; deletes?: unknown }[]
  }[]
  kv?: { runs?: { file?: unknown; entries?: unknown }[] }
}

/** The manifest's view of the directory, or `null` when it cannot be read. */
export function readManifest(dir: string): ManifestView | null {
  let json: ManifestJson
  try {
    const bytes = readFileSync(join(dir, 'MANIFEST'))
    // Header: magic "KYROMANI", version u32, body length u32, crc u32; then the JSON body.
    if (bytes.subarray(0, 8).toString('latin1') !== 'KYROMANI') return null
    const length = bytes.readUInt32LE(12)
    json = JSON.parse(bytes.subarray(20, 20 + length).toString('utf8')) as ManifestJson
  } catch {
    return null
  }
  const view: ManifestView = { collections: new Map(), kvRuns: [] }
  for (const c of json.collections ?? []) {
    if (typeof c.name !== 'string') continue
    const segments: SegmentFile[] = []
    for (const s of c.segments ?? []) {
      if (typeof s.file !== 'number' || typeof s.rows !== 'number') continue
      const seg = statOrNull(segPath(dir, s.file, 'kseg'))
      const del = typeof s.deletes === 'number' ? statOrNull(segPath(dir, s.deletes, 'kdel')) : null
      segments.push({
        file: s.file,
        rows: s.rows,
        bytes: seg === null ? null : seg.size + (del?.size ?? 0),
        writtenAt: seg?.mtimeMs ?? null,
      })
    }
    const index =
      c.index === null || c.index === undefined
        ? null
        : { m: c.index.m ?? 0, efConstruction: c.index.ef_construction ?? 0, autoBuildRows: c.index.auto_build_rows ?? 0 }
    view.collections.set(c.name, { segments, index })
  }
  for (const r of json.kv?.runs ?? []) {
    if (typeof r.file !== 'number' || typeof r.entries !== 'number') continue
    view.kvRuns.push({ file: r.file, entries: r.entries, bytes: statOrNull(segPath(dir, r.file, 'krun'))?.size ?? null })
  }
  return view
}
