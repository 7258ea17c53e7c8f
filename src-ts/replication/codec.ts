/**
 * The replicated record: one JetStream message per write, self-describing and versioned.
 *
 * ```
 * 0   4  magic "KYRR"
 * 4   1  format version (1)
 * 5   1  kind: 1 create collection, 2 drop collection, 3 upsert, 4 delete, 5 key-value batch
 * 6   2  reserved, 0
 * 8   4  header length H (u32 LE)
 * 12  H  header, UTF-8 JSON (names, counts, metadata strings, string ids, options)
 * 12+H   body, little-endian arrays: upsert = u64 ids (absent for string ids) then f32
 *        vectors; delete = u64 ids; key-value = u64 keys, u8 kinds, u32 value ends, values
 * ```
 * A reader refuses a newer version (`ReplicationError` reason `record-version`) rather
 * than guess, so a mixed-version cluster stops applying instead of diverging.
 * @module
 */
import { ReplicationError } from './errors.js'

/** Format version this build writes and the newest it reads. */
export const RECORD_VERSION = 1
const MAGIC = 0x5252594b // "KYRR" little-endian

/** One replicated write. */
export type ReplicatedRecord =
  | { kind: 'create'; collection: string; options: { dimension: number; metric: string; index: unknown; idType: string } }
  | { kind: 'drop'; collection: string }
  | {
      kind: 'upsert'
      collection: string
      /** u64 ids, or string ids (string-id collections). */
      ids: BigUint64Array | string[]
      dimension: number
      vectors: Float32Array
      metadata: (string | null)[] | undefined
    }
  | { kind: 'delete'; collection: string; ids: BigUint64Array | string[] }
  | { kind: 'kv'; keys: BigUint64Array; kinds: Uint8Array; ends: Uint32Array; values: Uint8Array }

const KIND = { create: 1, drop: 2, upsert: 3, delete: 4, kv: 5 } as const

function bytesOf(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength)
}

/** Encode a record (little-endian hosts; typed arrays are copied as they are). */
export function encodeRecord(r: ReplicatedRecord): Buffer {
  let header: object
  let body: Buffer[] = []
  switch (r.kind) {
    case 'create':
      header = { c: r.collection, o: r.options }
      break
    case 'drop':
      header = { c: r.collection }
      break
    case 'upsert':
      if (Array.isArray(r.ids)) {
        header = { c: r.collection, n: r.ids.length, d: r.dimension, s: r.ids, m: r.metadata ?? null }
      } else {
        header = { c: r.collection, n: r.ids.length, d: r.dimension, m: r.metadata ?? null }
        body.push(bytesOf(r.ids))
      }
      body.push(bytesOf(r.vectors))
      break
    case 'delete':
      if (Array.isArray(r.ids)) header = { c: r.collection, n: r.ids.length, s: r.ids }
      else {
        header = { c: r.collection, n: r.ids.length }
        body.push(bytesOf(r.ids))
      }
      break
    case 'kv':
      header = { n: r.keys.length }
      body = [bytesOf(r.keys), bytesOf(r.kinds), bytesOf(r.ends), bytesOf(r.values)]
      break
  }
  const h = Buffer.from(JSON.stringify(header), 'utf8')
  const fixed = Buffer.alloc(12)
  fixed.writeUInt32LE(MAGIC, 0)
  fixed.writeUInt8(RECORD_VERSION, 4)
  fixed.writeUInt8(KIND[r.kind], 5)
  fixed.writeUInt32LE(h.length, 8)
  return Buffer.concat([fixed, h, ...body])
}

function bad(message: string): never {
  throw new ReplicationError('record-format', `not a KyroDB replicated record: ${message}`)
}

/** Copy `n` elements of a typed array out of `buf` at `off` (copies: the message buffer is not aligned). */
function take<T extends BigUint64Array | Float32Array | Uint32Array | Uint8Array>(
  buf: Uint8Array,
  off: number,
  n: number,
  Ctor: { new (len: number): T; BYTES_PER_ELEMENT: number },
): [T, number] {
  const bytes = n * Ctor.BYTES_PER_ELEMENT
  if (!Number.isSafeInteger(bytes) || off + bytes > buf.length) bad('body shorter than its header says')
  const out = new Ctor(n)
  new Uint8Array(out.buffer).set(buf.subarray(off, off + bytes))
  return [out, off + bytes]
}

function int(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) bad(`${what} is not a count`)
  return v
}
function str(v: unknown, what: string): string {
  if (typeof v !== 'string') bad(`${what} is not a string`)
  return v
}

/** Decode a record. @throws ReplicationError `record-version` (newer format) or `record-format` */
export function decodeRecord(buf: Uint8Array): ReplicatedRecord {
  if (buf.length < 12) bad(`${buf.length} bytes`)
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength)
  if (b.readUInt32LE(0) !== MAGIC) bad('bad magic')
  const version = b.readUInt8(4)
  if (version > RECORD_VERSION) {
    throw new ReplicationError(
      'record-version',
      `record format version ${version} is newer than this build reads (${RECORD_VERSION}); upgrade this node — nothing was applied`,
    )
  }
  if (version === 0) bad('version 0')
  const kind = b.readUInt8(5)
  const hlen = b.readUInt32LE(8)
  if (12 + hlen > b.length) bad('header runs past the end')
  let h: Record<string, unknown>
  try {
    h = JSON.parse(b.toString('utf8', 12, 12 + hlen)) as Record<string, unknown>
  } catch {
    bad('header is not JSON')
  }
  if (typeof h !== 'object' || h === null) bad('header is not an object')
  let off = 12 + hlen
  const end = (): void => {
    if (off !== b.length) bad(`${b.length - off} trailing bytes`)
  }
  switch (kind) {
    case 1: {
      const o = h.o as { dimension: number; metric: string; index: unknown; idType: string }
      if (typeof o !== 'object' || o === null) bad('create without options')
      end()
      return { kind: 'create', collection: str(h.c, 'collection'), options: o }
    }
    case 2:
      end()
      return { kind: 'drop', collection: str(h.c, 'collection') }
    case 3: {
      const n = int(h.n, 'n')
      const d = int(h.d, 'dimension')
      let ids: BigUint64Array | string[]
      if (Array.isArray(h.s)) {
        if (h.s.length !== n) bad('string id count')
        ids = (h.s as unknown[]).map((s) => str(s, 'id'))
      } else [ids, off] = take(b, off, n, BigUint64Array)
      let vectors: Float32Array
      ;[vectors, off] = take(b, off, n * d, Float32Array)
      end()
      const m = h.m
      if (m !== null && !(Array.isArray(m) && m.length === n)) bad('metadata count')
      return { kind: 'upsert', collection: str(h.c, 'collection'), ids, dimension: d, vectors, metadata: m === null ? undefined : (m as (string | null)[]) }
    }
    case 4: {
      const n = int(h.n, 'n')
      let ids: BigUint64Array | string[]
      if (Array.isArray(h.s)) {
        if (h.s.length !== n) bad('string id count')
        ids = (h.s as unknown[]).map((s) => str(s, 'id'))
      } else [ids, off] = take(b, off, n, BigUint64Array)
      end()
      return { kind: 'delete', collection: str(h.c, 'collection'), ids }
    }
    case 5: {
      const n = int(h.n, 'n')
      let keys: BigUint64Array, kinds: Uint8Array, ends: Uint32Array
      ;[keys, off] = take(b, off, n, BigUint64Array)
      ;[kinds, off] = take(b, off, n, Uint8Array)
      ;[ends, off] = take(b, off, n, Uint32Array)
      const total = n === 0 ? 0 : ends[n - 1]!
      if (off + total !== b.length) bad('value bytes do not match the value ends')
      const values = new Uint8Array(b.subarray(off, off + total))
      return { kind: 'kv', keys, kinds, ends, values }
    }
    default:
      bad(`unknown kind ${kind}`)
  }
}
