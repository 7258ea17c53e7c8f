/**
 * Bootstrap: snapshots of a node's database in a JetStream object store
 * (`<stream>_snapshots`), and the restore a new or wiped node does before it opens.
 *
 * A snapshot is `db.snapshot(tmp)` taken while the applier is paused between records (so
 * it holds exactly the records up to its marker's sequence), uploaded as one object per
 * file (`<seq:020>/<path>`) and then an index object (`<seq:020>.index`, JSON: files,
 * sizes, stream, created) written last — a snapshot without its index does not exist.
 * After an upload, snapshots beyond `keepSnapshots` are deleted and the stream is purged
 * below the oldest snapshot kept.
 * @module
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Objm, StorageType, type ObjectStore } from '@nats-io/obj'
import type { ReplicationConfig } from './config.js'
import type { Link } from './connection.js'

/** The index object of a snapshot. */
export interface SnapshotIndex {
  v: 1
  stream: string
  created: string
  seq: number
  node: string
  at: string
  files: { path: string; bytes: number }[]
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Run `fn` until it succeeds or `deadline` passes (JetStream answers timeouts while a stream elects a leader). */
async function retry<T>(deadline: number, fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() + 250 * attempt > deadline) throw err
      await sleep(Math.min(250 * attempt, 2000))
    }
  }
}

/** How long a snapshot upload or restore keeps retrying one step. */
const STEP_MS = 60_000

export async function snapshotStore(link: Link, cfg: ReplicationConfig): Promise<ObjectStore> {
  return new Objm(link.js).create(cfg.bucket, { replicas: cfg.replicas, storage: StorageType.File })
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(relative(dir, join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)))
  }
  return out.sort()
}

const pad = (seq: number): string => String(seq).padStart(20, '0')

/** Snapshots in the store, newest first. */
export async function listSnapshots(os: ObjectStore): Promise<SnapshotIndex[]> {
  const out: SnapshotIndex[] = []
  for (const info of await os.list()) {
    if (info.deleted || !info.name.endsWith('.index')) continue
    const blob = await os.getBlob(info.name)
    if (blob === null) continue
    try {
      out.push(JSON.parse(Buffer.from(blob).toString('utf8')) as SnapshotIndex)
    } catch {
      /* not ours */
    }
  }
  return out.sort((a, b) => b.seq - a.seq)
}

/**
 * Upload a snapshot directory taken at `seq`, then prune old snapshots and purge the
 * stream below the oldest one kept.
 */
export async function uploadSnapshot(
  link: Link,
  cfg: ReplicationConfig,
  dir: string,
  seq: number,
  created: string,
): Promise<SnapshotIndex & { bytes: number; trimmedBelow: number }> {
  const os = await retry(Date.now() + STEP_MS, () => snapshotStore(link, cfg))
  const files: SnapshotIndex['files'] = []
  let bytes = 0
  for (const path of await filesUnder(dir)) {
    const size = (await stat(join(dir, path))).size
    await retry(Date.now() + STEP_MS, () =>
      os.put({ name: `${pad(seq)}/${path}` }, Readable.toWeb(createReadStream(join(dir, path))) as unknown as ReadableStream<Uint8Array>),
    )
    files.push({ path, bytes: size })
    bytes += size
  }
  const index: SnapshotIndex = { v: 1, stream: cfg.stream, created, seq, node: cfg.node, at: new Date().toISOString(), files }
  await retry(Date.now() + STEP_MS, () => os.putBlob({ name: `${pad(seq)}.index` }, Buffer.from(JSON.stringify(index))))
  // Keep the newest `keepSnapshots`; trim the stream below the oldest kept.
  const all = await retry(Date.now() + STEP_MS, () => listSnapshots(os))
  const kept = all.slice(0, cfg.keepSnapshots)
  for (const old of all.slice(cfg.keepSnapshots)) {
    await os.delete(`${pad(old.seq)}.index`)
    for (const f of old.files) await os.delete(`${pad(old.seq)}/${f.path}`).catch(() => {})
  }
  const oldest = kept[kept.length - 1]!.seq
  if (oldest > 0) await retry(Date.now() + STEP_MS, () => link.jsm.streams.purge(cfg.stream, { seq: oldest + 1 }))
  return { ...index, bytes, trimmedBelow: oldest + 1 }
}

/**
 * Restore the newest snapshot of the stream into `dest` (which must not exist yet):
 * download into a temporary sibling directory, then rename it. Resolves with its index,
 * or `null` when the store holds none.
 */
export async function restoreLatest(link: Link, cfg: ReplicationConfig, dest: string): Promise<SnapshotIndex | null> {
  const os = await retry(Date.now() + STEP_MS, () => snapshotStore(link, cfg))
  const latest = (await retry(Date.now() + STEP_MS, () => listSnapshots(os))).find((s) => s.stream === cfg.stream)
  if (latest === undefined) return null
  await mkdir(dirname(dest), { recursive: true })
  const tmp = await mkdtemp(`${dest}.restore-`)
  try {
    for (const f of latest.files) {
      const r = await os.get(`${pad(latest.seq)}/${f.path}`)
      if (r === null) throw new Error(`snapshot ${latest.seq} lacks ${f.path}`)
      const target = join(tmp, f.path)
      await mkdir(dirname(target), { recursive: true })
      await pipeline(Readable.fromWeb(r.data as never), createWriteStream(target))
      const err = await r.error
      if (err) throw err
    }
    await rm(dest, { recursive: true, force: true })
    await rename(tmp, dest)
  } catch (err) {
    await rm(tmp, { recursive: true, force: true })
    throw err
  }
  return latest
}

export { mkdtemp }
