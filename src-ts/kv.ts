/**
 * {@link KeyValueStore}: `db.kv`, the key-value store with `u64` keys.
 *
 * Keys are a `bigint` in `0..2^64-1` or a `number` that is a safe non-negative integer;
 * anything else (−1, 1.5, 2^53, NaN, a string) is an `INVALID_ARGUMENT` error, never
 * rounded. Values are bytes (`Buffer`/`Uint8Array`, returned as `Buffer`) or strings
 * (returned as `string`) of at most {@link MAX_VALUE_BYTES} bytes. Keys read back (from
 * {@link KeyValueStore.range}) are `number`s up to `Number.MAX_SAFE_INTEGER` and
 * `bigint`s above, as vector ids are.
 * @module
 */
import { call, callAsync, fromNative, InvalidArgumentError } from './errors.js'
import { checkU64, fromNativeId, U64_MAX, type NumericId } from './ids.js'
import type { NativeKv } from './native.js'

/** A key: a non-negative safe integer or a bigint in `0..2^64-1`. */
export type Key = NumericId

/** A value as written: bytes or a string. */
export type KvValue = Buffer | Uint8Array | string

/** Largest value (bytes, or UTF-8 bytes of a string): 16 MiB. */
export const MAX_VALUE_BYTES = 16 * 1024 * 1024

/** Options of {@link KeyValueStore.range}. Bounds may be combined freely. */
export interface RangeOptions {
  /** Keys ≥ this. */
  gte?: Key
  /** Keys > this. */
  gt?: Key
  /** Keys < this. */
  lt?: Key
  /** Keys ≤ this. */
  lte?: Key
  /** Most entries returned; default: all. */
  limit?: number
  /** Descending key order. */
  reverse?: boolean
}

/** One write of {@link KeyValueStore.batch}. */
export type KvWrite = { type: 'put'; key: Key; value: KvValue } | { type: 'del'; key: Key }

/** Counters and shape of the store, from {@link KeyValueStore.stats}. */
export interface KvStats {
  /** Live keys. */
  keys: number
  /** Point lookups served. */
  lookups: number
  /** Lookups that found a value. */
  hits: number
  /** Searches inside a sorted run. */
  runProbes: number
  /** Keys examined by those searches. */
  probeKeys: number
  /** Bucket `b` counts run probes that examined at most `2^b` keys (the last: more). */
  probeHistogram: number[]
  /** Lookups outside the learned index's predicted window: zero unless a model is wrong. */
  mispredictions: number
  /** Writes applied. */
  appends: number
  /** Memtables written out as runs. */
  flushes: number
  /** Run merges. */
  compactions: number
  /** Learned-index builds. */
  indexBuilds: number
  /** Nanoseconds spent building learned indexes. */
  indexBuildNs: number
  /** Nanoseconds of the last build. */
  lastIndexBuildNs: number
  /** Sorted runs. */
  runs: number
  /** Entries in memtables. */
  memtableEntries: number
  /** Bytes of the learned indexes. */
  indexBytes: number
  /** Whether lookups use the learned index. */
  learnedIndex: boolean
  /** Last-mile search in use: `avx512`, `avx2`, `scalar` or `binary-search`. */
  probeKind: string
}

/** Values up to this size come back through the scratch buffer (no native object created). */
const SCRATCH_BYTES = 64 * 1024
const encoder = new TextEncoder()

function encodeValue(value: unknown, where: string): { kind: 1 | 2; bytes: Uint8Array } {
  let out: { kind: 1 | 2; bytes: Uint8Array }
  if (typeof value === 'string') out = { kind: 2, bytes: encoder.encode(value) }
  else if (value instanceof Uint8Array) out = { kind: 1, bytes: value }
  else {
    throw new InvalidArgumentError(`${where} must be a Buffer, a Uint8Array or a string, got ${value === null ? 'null' : typeof value}`)
  }
  if (out.bytes.length > MAX_VALUE_BYTES) {
    throw new InvalidArgumentError(`${where} is ${out.bytes.length} bytes, over the ${MAX_VALUE_BYTES} byte limit`)
  }
  return out
}

/** Encode writes into the flat arrays the native layer takes. @internal */
export function encodeWrites(writes: readonly KvWrite[]): [BigUint64Array, Uint8Array, Uint32Array, Buffer] {
  const n = writes.length
  const keys = new BigUint64Array(n)
  const kinds = new Uint8Array(n)
  const ends = new Uint32Array(n)
  const parts: Uint8Array[] = []
  let total = 0
  for (let i = 0; i < n; i++) {
    const w = writes[i] as KvWrite | undefined
    if (typeof w !== 'object' || w === null) throw new InvalidArgumentError(`writes[${i}] must be an object`)
    keys[i] = checkU64(w.key, `writes[${i}].key`)
    if (w.type === 'put') {
      const v = encodeValue(w.value, `writes[${i}].value`)
      kinds[i] = v.kind
      parts.push(v.bytes)
      total += v.bytes.length
    } else if (w.type !== 'del') {
      throw new InvalidArgumentError(`writes[${i}].type must be 'put' or 'del'`)
    }
    if (total > 0xffffffff) throw new InvalidArgumentError('a batch holds at most 4 GiB of values; split it')
    ends[i] = total
  }
  return [keys, kinds, ends, Buffer.concat(parts, total)]
}

/**
 * The key-value store of a database (`db.kv`). Point reads are served from memory or
 * memory-mapped runs through a learned index; writes are logged (group commit, the
 * database's durability mode) before they resolve.
 */
export class KeyValueStore {
  readonly #native: NativeKv
  #pending: { keys: bigint[]; resolve: ((v: Buffer | string | undefined) => void)[]; reject: ((e: unknown) => void)[] } | null =
    null

  /** Values read by {@link KeyValueStore.getSync} are copied here by the native side. */
  readonly #scratch: Buffer = Buffer.allocUnsafeSlow(SCRATCH_BYTES)

  /** `getSync`'s read of a `number` key: a raw native function (no per-call binding
   * bookkeeping) answering as `readNum` does, or `NaN` where `readNum` would throw. */
  readonly #read: (key: number) => number

  /** @internal */
  constructor(nativeKv: NativeKv) {
    this.#native = nativeKv
    nativeKv.setScratch(this.#scratch)
    this.#read = nativeKv.fastReader(this.#scratch)
  }

  /** Store `value` under `key` (replacing any value). Resolves once durable per the mode. */
  async put(key: Key, value: KvValue): Promise<void> {
    await this.batch([{ type: 'put', key, value }])
  }

  /** Store many entries in one logged batch (later entries win). Resolves with the count. */
  async putBatch(entries: Iterable<readonly [Key, KvValue]>): Promise<number> {
    if (entries === null || typeof entries !== 'object' || !(Symbol.iterator in entries)) {
      throw new InvalidArgumentError('putBatch takes an iterable of [key, value] pairs')
    }
    const writes: KvWrite[] = []
    for (const e of entries) {
      if (!Array.isArray(e) || e.length !== 2) throw new InvalidArgumentError('putBatch entries must be [key, value] pairs')
      writes.push({ type: 'put', key: e[0] as Key, value: e[1] as KvValue })
    }
    return this.batch(writes)
  }

  /** Apply puts and deletes atomically, in order, as one logged batch. Resolves with the keys changed. */
  async batch(writes: readonly KvWrite[]): Promise<number> {
    if (!Array.isArray(writes)) throw new InvalidArgumentError('batch takes an array of writes')
    const [keys, kinds, ends, values] = encodeWrites(writes)
    return callAsync(() => this.#native.write(keys, kinds, ends, values))
  }

  /** Remove `key`; resolves with whether it existed. */
  async delete(key: Key): Promise<boolean> {
    return (await this.batch([{ type: 'del', key }])) > 0
  }

  /** The value of `key` (a `Buffer` or a `string`, as stored), or `undefined`. */
  getSync(key: Key): Buffer | string | undefined {
    // Valid numbers take the fast path; everything else goes through the shared check.
    const fast = typeof key === 'number' && Number.isSafeInteger(key) && key >= 0
    const big = fast ? 0n : checkU64(key, 'key')
    let r: number
    r = fast ? this.#read(key as number) : NaN
    if (r !== r) {
      // Not read by the fast function (a bigint key, or an error to throw): the checked path.
      try {
        r = fast ? this.#native.readNum(key as number) : this.#native.readBig(big)
      } catch (e) {
        throw fromNative(e)
      }
    }
    if (r >= 0) {
      if (r === Infinity) {
        const v = call(() => (fast ? this.#native.getNum(key as number) : this.#native.getBig(big)))
        return v ?? undefined
      }
      // `set` from a view: half the cost of `Buffer#copy` for small values.
      const out = Buffer.allocUnsafe(r)
      out.set(this.#scratch.subarray(0, r))
      return out
    }
    if (r === -1) return undefined
    return this.#scratch.toString('utf8', 0, -r - 2)
  }

  /**
   * The value of `key`, or `undefined`. Calls made in the same tick are answered together
   * by one native batch lookup.
   */
  get(key: Key): Promise<Buffer | string | undefined> {
    let k: bigint
    try {
      k = checkU64(key, 'key')
    } catch (e) {
      return Promise.reject(e)
    }
    return new Promise((resolve, reject) => {
      if (this.#pending === null) {
        this.#pending = { keys: [], resolve: [], reject: [] }
        queueMicrotask(() => this.#flushGets())
      }
      this.#pending.keys.push(k)
      this.#pending.resolve.push(resolve)
      this.#pending.reject.push(reject)
    })
  }

  #flushGets(): void {
    const p = this.#pending
    this.#pending = null
    if (p === null) return
    try {
      const values = call(() => this.#native.getMany(BigUint64Array.from(p.keys)))
      for (let i = 0; i < values.length; i++) p.resolve[i]!(values[i] ?? undefined)
    } catch (e) {
      for (const r of p.reject) r(e)
    }
  }

  /** Values of `keys`, in order (`undefined` where absent), read under one consistent view. */
  async getMany(keys: readonly Key[]): Promise<Array<Buffer | string | undefined>> {
    if (!Array.isArray(keys)) throw new InvalidArgumentError('getMany takes an array of keys')
    const big = new BigUint64Array(keys.length)
    for (let i = 0; i < keys.length; i++) big[i] = checkU64(keys[i], `keys[${i}]`)
    return call(() => this.#native.getMany(big)).map((v) => v ?? undefined)
  }

  /** Whether `key` has a value. */
  async has(key: Key): Promise<boolean> {
    const k = checkU64(key, 'key')
    return call(() => this.#native.has(k))
  }

  /** Live keys. */
  async count(): Promise<number> {
    return call(() => this.#native.count())
  }

  /**
   * Entries in key order (or reverse) within the bounds, as `[key, value]` pairs. Served in
   * pages, each a consistent view; writes made while iterating may or may not be seen.
   */
  async *range(options: RangeOptions = {}): AsyncGenerator<[Key, Buffer | string]> {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('range options must be an object')
    const known = new Set(['gte', 'gt', 'lt', 'lte', 'limit', 'reverse'])
    for (const k of Object.keys(options)) {
      if (!known.has(k)) throw new InvalidArgumentError(`unknown range option '${k}'`)
    }
    let lo = 0n
    let hi = U64_MAX
    if (options.gte !== undefined) lo = checkU64(options.gte, 'gte')
    if (options.gt !== undefined) {
      const g = checkU64(options.gt, 'gt')
      if (g === U64_MAX) return
      if (g + 1n > lo) lo = g + 1n
    }
    if (options.lte !== undefined) {
      const l = checkU64(options.lte, 'lte')
      if (l < hi) hi = l
    }
    if (options.lt !== undefined) {
      const l = checkU64(options.lt, 'lt')
      if (l === 0n) return
      if (l - 1n < hi) hi = l - 1n
    }
    let remaining = options.limit ?? Infinity
    if (remaining !== Infinity && (!Number.isSafeInteger(remaining) || remaining < 0)) {
      throw new InvalidArgumentError(`limit must be a non-negative integer, got ${String(options.limit)}`)
    }
    const reverse = options.reverse ?? false
    if (typeof reverse !== 'boolean') throw new InvalidArgumentError('reverse must be a boolean')
    let bounds: [bigint, bigint] | null = lo <= hi ? [lo, hi] : null
    while (bounds !== null && remaining > 0) {
      const [a, b] = bounds
      const page = call(() => this.#native.rangePage(a, b, reverse, Math.min(remaining, 1024)))
      for (let i = 0; i < page.keys.length; i++) {
        yield [fromNativeId(page.keys[i]!), page.values[i]!]
      }
      remaining -= page.keys.length
      bounds = page.next ? [page.next[0]!, page.next[1]!] : null
    }
  }

  /** Write the memtable out as a sorted run with its learned index. Resolves with its entries. */
  async flush(): Promise<number> {
    return callAsync(() => this.#native.flush())
  }

  /**
   * The original server's snapshot: write the memtable out as a sorted run and record it
   * in the manifest, so reopening replays none of these writes from the log. The same as
   * {@link KeyValueStore.flush}; resolves with the entries written once they are durable.
   */
  async snapshot(): Promise<number> {
    return this.flush()
  }

  /** Merge every run into one, purging deleted keys, with a fresh learned index over all keys. */
  async compact(): Promise<number> {
    return callAsync(() => this.#native.compact())
  }

  /** Build the learned index over every key (flush, then merge everything into one run). */
  async buildIndex(): Promise<number> {
    return callAsync(() => this.#native.compact())
  }

  /**
   * Touch the pages of every run so that the first lookups are served from memory; with
   * `{ values: true }` the values too. Resolves with the bytes touched.
   */
  async warmup(options: { values?: boolean } = {}): Promise<number> {
    return callAsync(() => this.#native.warmup(options.values ?? false))
  }

  /** Counters and shape. */
  stats(): KvStats {
    return call(() => this.#native.stats())
  }
}
