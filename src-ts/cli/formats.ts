/**
 * The file formats of `kyrodb import` and `kyrodb export`, read and written as streams:
 *
 * - `.jsonl` (also `.ndjson`): one object per line, `{"id": 1, "vector": [0.1, ...],
 *   "metadata": {...}}`; `metadata` is optional; u64 ids above 2^53 − 1 are decimal strings.
 * - `.npy`: a 2-D little-endian float32 array in C order (`'<f4'`, `fortran_order: False`),
 *   one row per vector.
 * - `.fvecs`: per row, an int32 dimension then that many float32s (little-endian).
 *
 * Readers check everything the engine would refuse and report where: `line N` (1-based)
 * for `.jsonl`, `offset N` (bytes from the start of the file) and `row N` (0-based, as
 * numpy counts) for the binary formats.
 * @internal
 * @module
 */
import { createWriteStream, type WriteStream } from 'node:fs'
import { open as openFile, stat, type FileHandle } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'
import type { Writable } from 'node:stream'
import type { Metadata, Metric } from '../collection.js'
import { U64_MAX } from '../ids.js'
import { CliError, parseStringIdJson, parseU64Json, UsageError, type CliId, type IdType } from './common.js'

/** A file format the CLI reads and writes. */
export type Format = 'jsonl' | 'npy' | 'fvecs'

/** Largest dimension a collection can have. */
export const MAX_DIMENSION = 16384
/** Largest metadata object, as JSON, in bytes (the engine's limit). */
export const MAX_METADATA_BYTES = 64 * 1024
/** Deepest nesting of metadata the engine's JSON reader takes (objects and arrays, the top object included). */
export const MAX_METADATA_DEPTH = 127

/** The format of `file`: `explicit` (`--format`) or from its extension. */
export function formatOf(file: string, explicit?: string): Format {
  const f = explicit ?? /\.([A-Za-z0-9]+)$/.exec(file)?.[1]?.toLowerCase()
  if (f === 'jsonl' || f === 'ndjson') return 'jsonl'
  if (f === 'npy' || f === 'fvecs') return f
  if (explicit !== undefined) throw new UsageError(`unknown format '${explicit}': use jsonl, npy or fvecs`)
  throw new UsageError(`cannot tell the format of ${file} from its extension: name it .jsonl, .npy or .fvecs, or pass --format`)
}

/** A read failure at a place in the file. */
function fileError(path: string, where: string, message: string, code: 'INVALID_ARGUMENT' | 'DIMENSION_MISMATCH' = 'INVALID_ARGUMENT'): CliError {
  return new CliError(code, `${path} ${where}: ${message}`)
}

// ---------------------------------------------------------------------- line reading

/** Lines of a UTF-8 text file, read in 1 MiB chunks (no whole-file buffering). */
export class LineReader {
  readonly #path: string
  #fh: FileHandle | null = null
  readonly #decoder = new StringDecoder('utf8')
  readonly #buf = Buffer.allocUnsafe(1 << 20)
  #pending: string[] = []
  #partial = ''
  #eof = false
  /** Number of the line last returned (1-based). */
  lineNo = 0
  /** Bytes read from the file so far. */
  bytesRead = 0

  constructor(path: string) {
    this.#path = path
  }

  /** The next line without its `\n` / `\r\n` (a BOM at the start removed), or `null` at the end. */
  async next(): Promise<string | null> {
    while (this.#pending.length === 0) {
      if (this.#eof) return null
      await this.#fill()
    }
    this.lineNo++
    let line = this.#pending.pop()!
    if (line.endsWith('\r')) line = line.slice(0, -1)
    if (this.lineNo === 1 && line.charCodeAt(0) === 0xfeff) line = line.slice(1)
    return line
  }

  async #fill(): Promise<void> {
    this.#fh ??= await openFile(this.#path, 'r')
    const { bytesRead } = await this.#fh.read(this.#buf, 0, this.#buf.length, null)
    this.bytesRead += bytesRead
    let text: string
    if (bytesRead === 0) {
      this.#eof = true
      text = this.#partial + this.#decoder.end()
      this.#partial = ''
      if (text.length > 0) this.#pending = [text]
      return
    }
    text = this.#partial + this.#decoder.write(this.#buf.subarray(0, bytesRead))
    const parts = text.split('\n')
    this.#partial = parts.pop()!
    this.#pending = parts.reverse()
  }

  async close(): Promise<void> {
    const fh = this.#fh
    this.#fh = null
    await fh?.close()
  }
}

// ---------------------------------------------------------------------------- checks

/** Why `vector` (already float32) cannot be stored, or undefined. `at(c)` names component c. */
function vectorProblem(v: Float32Array, metric: Metric): { component?: number; message: string } | undefined {
  let sum = 0
  for (let c = 0; c < v.length; c++) {
    const x = v[c]
    if (!Number.isFinite(x)) return { component: c, message: `component ${c} is ${x}; vectors must contain only finite float32 numbers` }
    sum += x * x
  }
  if (metric === 'cosine' && sum === 0) return { message: 'the vector is all zeros; cosine distance is undefined for a zero vector' }
  return undefined
}

/** Why `metadata` cannot be stored, or undefined. */
export function metadataProblem(metadata: unknown): string | undefined {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return '"metadata" must be a JSON object'
  const stack: [unknown, number][] = [[metadata, 1]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!
    const children = Array.isArray(value) ? value : Object.values(value as object)
    for (const x of children) {
      if (typeof x === 'number' && Number.isInteger(x) && !Number.isSafeInteger(x)) {
        return `metadata holds the integer ${x}, beyond 2^53: a JSON number that large cannot be carried exactly (it was rounded when read); store it as a string`
      }
      if (typeof x === 'object' && x !== null) {
        if (depth + 1 > MAX_METADATA_DEPTH) return `metadata is nested more than ${MAX_METADATA_DEPTH} levels deep`
        stack.push([x, depth + 1])
      }
    }
  }
  const bytes = Buffer.byteLength(JSON.stringify(metadata), 'utf8')
  if (bytes > MAX_METADATA_BYTES) return `metadata is ${bytes} bytes as JSON; the limit is ${MAX_METADATA_BYTES}`
  return undefined
}

// --------------------------------------------------------------------------- reading

/** Rows read from a file, ready for one upsert. */
export interface Batch {
  ids: CliId[]
  /** `ids.length × dimension` floats, row-major. */
  vectors: Float32Array
  /** Per row, or `undefined` when no row of the batch has metadata. */
  metadata: (Metadata | undefined)[] | undefined
  /** Where row `i` of the batch is in the file (`line 7`, `row 12 (offset 4176)`). */
  where(i: number): string
}

/** What a reader checks rows against. */
export interface ReadSpec {
  dimension: number
  metric: Metric
  idType: IdType
  batchSize: number
  /** How to name the expected dimension in errors; default "the collection's dimension is N". */
  dimensionNote?: string
  /** Called with the bytes read so far. */
  onBytes?: (bytes: number) => void
}

/** What a file says about itself before its rows are read. */
export interface Probe {
  /** Dimension declared by the file (header, first row); undefined for an empty file. */
  dimension: number | undefined
  /** Rows, when the header or size tells (`.npy`, `.fvecs`). */
  rows: number | undefined
  /** For `.jsonl`: the id type the first row's id suggests (a non-numeric string: `string`). */
  idType: IdType | undefined
  /** File size in bytes. */
  bytes: number
}

/** A file of rows. */
export interface Source {
  readonly format: Format
  readonly path: string
  probe(): Promise<Probe>
  read(spec: ReadSpec): AsyncGenerator<Batch>
}

/** Where binary rows get their ids: sequential from a start, or one per line of a text file. */
export type IdSource = { kind: 'sequential'; start: bigint } | { kind: 'file'; path: string }

/** Open `path` as `format`; binary formats take ids from `ids`. */
export function openSource(path: string, format: Format, ids: IdSource): Source {
  if (format === 'jsonl') return new JsonlSource(path)
  return new BinarySource(path, format, ids)
}

const JSONL_KEYS = new Set(['id', 'vector', 'metadata'])

class JsonlSource implements Source {
  readonly format = 'jsonl' as const
  readonly path: string

  constructor(path: string) {
    this.path = path
  }

  async probe(): Promise<Probe> {
    const bytes = (await stat(this.path)).size
    const lines = new LineReader(this.path)
    try {
      for (;;) {
        const line = await lines.next()
        if (line === null) return { dimension: undefined, rows: 0, idType: undefined, bytes }
        if (line.trim() === '') continue
        let row: unknown
        try {
          row = JSON.parse(line)
        } catch (err) {
          throw fileError(this.path, `line ${lines.lineNo}`, `invalid JSON (${(err as Error).message})`)
        }
        const r = row as { id?: unknown; vector?: unknown }
        if (typeof row !== 'object' || row === null || !Array.isArray(r.vector) || r.vector.length === 0) {
          throw fileError(this.path, `line ${lines.lineNo}`, 'expected an object like {"id": 1, "vector": [0.1, 0.2], "metadata": {...}} with a non-empty "vector"')
        }
        const dimension = r.vector.length
        const idType = typeof r?.id === 'string' && !/^[0-9]+$/.test(r.id) ? 'string' : 'u64'
        return { dimension, rows: undefined, idType, bytes }
      }
    } finally {
      await lines.close()
    }
  }

  async *read(spec: ReadSpec): AsyncGenerator<Batch> {
    const { dimension: dim, metric, idType, batchSize } = spec
    const path = this.path
    const lines = new LineReader(path)
    let ids: CliId[] = []
    let vectors = new Float32Array(batchSize * dim)
    let metadata: (Metadata | undefined)[] = []
    let lineNos: number[] = []
    let anyMeta = false
    const take = (): Batch => {
      const ln = lineNos
      const b: Batch = {
        ids,
        vectors: ids.length === batchSize ? vectors : vectors.slice(0, ids.length * dim),
        metadata: anyMeta ? metadata : undefined,
        where: (i) => `line ${ln[i]}`,
      }
      ids = []
      vectors = new Float32Array(batchSize * dim)
      metadata = []
      lineNos = []
      anyMeta = false
      return b
    }
    try {
      for (;;) {
        const line = await lines.next()
        if (line === null) break
        const n = lines.lineNo
        if (line.trim() === '') continue
        const fail = (message: string, code?: 'DIMENSION_MISMATCH') => fileError(path, `line ${n}`, message, code)
        let row: unknown
        try {
          row = JSON.parse(line)
        } catch (err) {
          throw fail(`invalid JSON (${(err as Error).message})`)
        }
        if (typeof row !== 'object' || row === null || Array.isArray(row)) {
          throw fail('expected an object like {"id": 1, "vector": [0.1, 0.2], "metadata": {...}}')
        }
        for (const k of Object.keys(row)) {
          if (!JSONL_KEYS.has(k)) {
            throw fail(`unknown field ${JSON.stringify(k)}: a line holds "id", "vector" and optionally "metadata" (put other fields inside "metadata")`)
          }
        }
        const r = row as { id?: unknown; vector?: unknown; metadata?: unknown }
        // id
        if (idType === 'u64') {
          const id = parseU64Json(r.id)
          if (typeof id === 'string') throw fail(id)
          ids.push(id)
        } else {
          const id = parseStringIdJson(r.id)
          if (typeof id === 'string') throw fail(id)
          ids.push(id.id)
        }
        // vector
        const v = r.vector
        if (!Array.isArray(v)) throw fail(v === undefined ? 'no "vector"' : '"vector" must be an array of numbers')
        if (v.length !== dim) {
          throw fail(`vector has ${v.length} components but ${spec.dimensionNote ?? `the collection's dimension is ${dim}`}`, 'DIMENSION_MISMATCH')
        }
        const at = (ids.length - 1) * dim
        for (let c = 0; c < dim; c++) {
          const x = v[c]
          if (typeof x !== 'number') throw fail(`vector[${c}] must be a number, got ${x === null ? 'null' : typeof x}`)
          vectors[at + c] = x
        }
        const problem = vectorProblem(vectors.subarray(at, at + dim), metric)
        if (problem) {
          const c = problem.component
          throw fail(c === undefined ? problem.message : `vector[${c}] is ${v[c]}, ${Number.isFinite(v[c]) ? 'beyond the float32 range' : 'not finite'}; vectors must contain only finite float32 numbers`)
        }
        // metadata
        if (r.metadata === undefined || r.metadata === null) {
          metadata.push(undefined)
        } else {
          const why = metadataProblem(r.metadata)
          if (why) throw fail(why)
          metadata.push(r.metadata as Metadata)
          anyMeta = true
        }
        lineNos.push(n)
        if (ids.length === batchSize) {
          spec.onBytes?.(lines.bytesRead)
          yield take()
        }
      }
      spec.onBytes?.(lines.bytesRead)
      if (ids.length > 0) yield take()
    } finally {
      await lines.close()
    }
  }
}

/** Ids for binary rows: sequential, or the lines of an ids file. */
class IdFeed {
  readonly #src: IdSource
  readonly #idType: IdType
  #next: bigint
  readonly #lines: LineReader | null
  #given = 0

  constructor(src: IdSource, idType: IdType, dataPath: string) {
    this.#src = src
    this.#idType = idType
    this.#next = src.kind === 'sequential' ? src.start : 0n
    this.#lines = src.kind === 'file' ? new LineReader(src.path) : null
    if (src.kind === 'sequential' && idType === 'string') {
      throw new UsageError(`the collection has string ids: give ${dataPath}'s ids with --ids <file> (one per line)`)
    }
  }

  /** The next `n` ids. */
  async take(n: number, rowsSoFar: number, dataPath: string): Promise<CliId[]> {
    const out: CliId[] = new Array(n)
    if (this.#lines === null) {
      for (let i = 0; i < n; i++) {
        if (this.#next > U64_MAX) throw new CliError('INVALID_ARGUMENT', `sequential ids run past 2^64-1 at row ${rowsSoFar + i} of ${dataPath}; pass a smaller --start-id`)
        out[i] = this.#next++
      }
      return out
    }
    const path = (this.#src as { path: string }).path
    for (let i = 0; i < n; i++) {
      let line: string | null
      do line = await this.#lines.next()
      while (line !== null && line.trim() === '')
      if (line === null) {
        throw new CliError('INVALID_ARGUMENT', `${path} has ${this.#given} ids but ${dataPath} has more rows (row ${rowsSoFar + i} has no id)`)
      }
      out[i] = this.#parse(line, path)
      this.#given++
    }
    return out
  }

  #parse(line: string, path: string): CliId {
    const where = `line ${this.#lines!.lineNo}`
    const text = line.trim()
    let value: unknown = text
    if (text.startsWith('"')) {
      try {
        value = JSON.parse(text)
      } catch (err) {
        throw fileError(path, where, `invalid JSON string (${(err as Error).message})`)
      }
    }
    if (this.#idType === 'u64') {
      const id = parseU64Json(value)
      if (typeof id === 'string') throw fileError(path, where, id)
      return id
    }
    const id = parseStringIdJson(value)
    if (typeof id === 'string') throw fileError(path, where, id)
    return id.id
  }

  /** After the last row: the ids file must have no ids left. */
  async finish(rows: number, dataPath: string): Promise<void> {
    if (this.#lines === null) return
    let line: string | null
    do line = await this.#lines.next()
    while (line !== null && line.trim() === '')
    if (line !== null) {
      const path = (this.#src as { path: string }).path
      throw fileError(path, `line ${this.#lines.lineNo}`, `more ids than ${dataPath} has rows (${rows})`)
    }
  }

  async close(): Promise<void> {
    await this.#lines?.close()
  }
}

const NPY_MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]) // \x93NUMPY
const LE = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1

const DESCR_NAMES: Record<string, string> = {
  f2: 'float16',
  f4: 'float32',
  f8: 'float64',
  i1: 'int8',
  i2: 'int16',
  i4: 'int32',
  i8: 'int64',
  u1: 'uint8',
  u2: 'uint16',
  u4: 'uint32',
  u8: 'uint64',
  b1: 'bool',
}

function describeDescr(descr: string): string {
  const m = /^([<>|=]?)([a-zA-Z]\d+)$/.exec(descr)
  if (!m) return descr
  const name = DESCR_NAMES[m[2]] ?? m[2]
  return m[1] === '>' ? `big-endian ${name}` : name
}

interface NpyHeader {
  dataOffset: number
  rows: number
  dimension: number
}

/** Read and check the header of a `.npy` file of `size` bytes. */
async function readNpyHeader(path: string, fh: FileHandle, size: number): Promise<NpyHeader> {
  const fail = (offset: number, message: string) => fileError(path, `offset ${offset}`, message)
  const pre = Buffer.alloc(12)
  const { bytesRead } = await fh.read(pre, 0, 12, 0)
  if (bytesRead < 6 || !pre.subarray(0, 6).equals(NPY_MAGIC)) throw fail(0, 'not a .npy file (it does not start with \\x93NUMPY)')
  if (bytesRead < 10) throw fail(size, 'file is truncated inside the .npy preamble')
  const major = pre[6]
  let headerLen: number
  let headerStart: number
  if (major === 1) {
    headerLen = pre.readUInt16LE(8)
    headerStart = 10
  } else if (major === 2 || major === 3) {
    if (bytesRead < 12) throw fail(size, 'file is truncated inside the .npy preamble')
    headerLen = pre.readUInt32LE(8)
    headerStart = 12
  } else {
    throw fail(6, `unsupported .npy format version ${major}.${pre[7]} (1.0, 2.0 and 3.0 are read)`)
  }
  const dataOffset = headerStart + headerLen
  if (dataOffset > size) throw fail(size, `file is truncated inside the .npy header (it declares ${headerLen} header bytes from offset ${headerStart})`)
  const hbuf = Buffer.alloc(headerLen)
  await fh.read(hbuf, 0, headerLen, headerStart)
  const header = hbuf.toString(major === 3 ? 'utf8' : 'latin1')
  const field = (name: string, pattern: string): string => {
    const m = new RegExp(`['"]${name}['"]\\s*:\\s*${pattern}`).exec(header)
    if (!m) throw fail(headerStart, `the .npy header has no readable '${name}' field: ${header.trim()}`)
    return m[1]
  }
  const descr = field('descr', `['"]([^'"]*)['"]`)
  if (descr !== '<f4' && !(descr === '=f4' && LE)) {
    throw fail(
      headerStart,
      `header field 'descr' is '${descr}' (${describeDescr(descr)}): only '<f4' (little-endian float32) can be imported; convert it with numpy, e.g. np.save(path, a.astype('<f4'))`,
    )
  }
  const fortran = field('fortran_order', '(True|False)')
  if (fortran !== 'False') {
    throw fail(headerStart, `header field 'fortran_order' is True: only C order (row-major) can be imported; convert it with np.ascontiguousarray(a)`)
  }
  const shapeText = field('shape', '\\(([^)]*)\\)')
  const dims = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
  if (dims.length !== 2 || !dims.every((d) => /^[0-9]+L?$/.test(d))) {
    throw fail(headerStart, `header field 'shape' is (${shapeText}): a 2-D array of (rows, dimension) is needed`)
  }
  const [rows, dimension] = dims.map((d) => Number.parseInt(d, 10))
  if (dimension < 1 || dimension > MAX_DIMENSION) {
    throw fail(headerStart, `header field 'shape' is (${shapeText}): the dimension must be in 1..${MAX_DIMENSION}`)
  }
  const rowBytes = dimension * 4
  const expected = rows * rowBytes
  const have = size - dataOffset
  if (have < expected) {
    const row = Math.floor(have / rowBytes)
    throw fail(
      size,
      `file is truncated: it ends inside row ${row}, which starts at offset ${dataOffset + row * rowBytes} (shape (${rows}, ${dimension}) needs ${expected} bytes of data from offset ${dataOffset}; the file has ${have})`,
    )
  }
  if (have > expected) {
    throw fail(dataOffset + expected, `${have - expected} unexpected bytes after the last row of shape (${rows}, ${dimension})`)
  }
  return { dataOffset, rows, dimension }
}

class BinarySource implements Source {
  readonly format: 'npy' | 'fvecs'
  readonly path: string
  readonly #ids: IdSource

  constructor(path: string, format: 'npy' | 'fvecs', ids: IdSource) {
    this.path = path
    this.format = format
    this.#ids = ids
  }

  async probe(): Promise<Probe> {
    const fh = await openFile(this.path, 'r')
    try {
      const size = (await fh.stat()).size
      if (this.format === 'npy') {
        const h = await readNpyHeader(this.path, fh, size)
        return { dimension: h.dimension, rows: h.rows, idType: undefined, bytes: size }
      }
      if (size === 0) return { dimension: undefined, rows: 0, idType: undefined, bytes: 0 }
      const d = await this.#fvecsDim(fh, 0, 0, size)
      const rowBytes = 4 + 4 * d
      return { dimension: d, rows: size % rowBytes === 0 ? size / rowBytes : undefined, idType: undefined, bytes: size }
    } finally {
      await fh.close()
    }
  }

  /** The dimension field of the `.fvecs` row at `offset`. */
  async #fvecsDim(fh: FileHandle, offset: number, row: number, size: number): Promise<number> {
    const b = Buffer.alloc(4)
    const { bytesRead } = await fh.read(b, 0, 4, offset)
    if (bytesRead < 4) throw fileError(this.path, `offset ${size}`, `file is truncated: it ends inside the dimension field of row ${row}, which starts at offset ${offset}`)
    const d = b.readInt32LE(0)
    if (d < 1 || d > MAX_DIMENSION) {
      throw fileError(this.path, `offset ${offset}`, `row ${row} declares dimension ${d}; .fvecs rows start with an int32 dimension in 1..${MAX_DIMENSION} (is this an .fvecs file?)`)
    }
    return d
  }

  async *read(spec: ReadSpec): AsyncGenerator<Batch> {
    const { dimension: dim, metric, batchSize } = spec
    const path = this.path
    const feed = new IdFeed(this.#ids, spec.idType, path)
    const fh = await openFile(path, 'r').catch(async (err: unknown) => {
      await feed.close()
      throw err
    })
    try {
      const size = (await fh.stat()).size
      let dataOffset = 0
      let rowBytes: number
      let rows: number | undefined
      if (this.format === 'npy') {
        const h = await readNpyHeader(path, fh, size)
        if (h.dimension !== dim) {
          throw fileError(path, 'offset 0', `header field 'shape' is (${h.rows}, ${h.dimension}) but the collection's dimension is ${dim}`, 'DIMENSION_MISMATCH')
        }
        dataOffset = h.dataOffset
        rowBytes = dim * 4
        rows = h.rows
      } else {
        rowBytes = 4 + 4 * dim
        if (size > 0) {
          const d = await this.#fvecsDim(fh, 0, 0, size)
          if (d !== dim) throw fileError(path, 'offset 0', `row 0 declares dimension ${d} but the collection's dimension is ${dim}`, 'DIMENSION_MISMATCH')
        }
      }
      const isFvecs = this.format === 'fvecs'
      const buf = Buffer.alloc(batchSize * rowBytes)
      let row = 0
      let offset = dataOffset
      for (;;) {
        const want = rows === undefined ? batchSize : Math.min(batchSize, rows - row)
        if (want === 0) break
        const { bytesRead } = await fh.read(buf, 0, want * rowBytes, offset)
        const n = Math.floor(bytesRead / rowBytes)
        const firstRow = row
        const firstOffset = offset
        const vectors = new Float32Array(n * dim)
        for (let i = 0; i < n; i++) {
          const at = i * rowBytes
          const rowOffset = offset + at
          if (isFvecs) {
            const d = buf.readInt32LE(at)
            if (d !== dim) {
              throw fileError(path, `offset ${rowOffset}`, `row ${row + i} declares dimension ${d} but ${row + i === 0 ? 'the collection' : 'row 0'} has ${dim}`, 'DIMENSION_MISMATCH')
            }
          }
          const start = at + (isFvecs ? 4 : 0)
          const v = vectors.subarray(i * dim, (i + 1) * dim)
          if (LE && (buf.byteOffset + start) % 4 === 0) v.set(new Float32Array(buf.buffer, buf.byteOffset + start, dim))
          else for (let c = 0; c < dim; c++) v[c] = buf.readFloatLE(start + c * 4)
          const problem = vectorProblem(v, metric)
          if (problem) {
            const c = problem.component
            const where = c === undefined ? `offset ${rowOffset}` : `offset ${rowOffset + (isFvecs ? 4 : 0) + c * 4}`
            throw fileError(path, where, `row ${row + i}: ${problem.message}`)
          }
        }
        if (n < want && bytesRead % rowBytes !== 0 && bytesRead < want * rowBytes) {
          // A partial row at the end (only .fvecs gets here; .npy sizes were checked).
          const partialAt = offset + n * rowBytes
          if (isFvecs && bytesRead - n * rowBytes >= 4) {
            const d = buf.readInt32LE(n * rowBytes)
            if (d !== dim) throw fileError(path, `offset ${partialAt}`, `row ${row + n} declares dimension ${d} but row 0 has ${dim}`, 'DIMENSION_MISMATCH')
          }
          throw fileError(
            path,
            `offset ${size}`,
            `file is truncated: it ends inside row ${row + n}, which starts at offset ${partialAt} and needs ${rowBytes} bytes (${size - partialAt} are there)`,
          )
        }
        if (n === 0) break
        const ids = await feed.take(n, row, path)
        row += n
        offset += n * rowBytes
        spec.onBytes?.(offset)
        yield {
          ids,
          vectors,
          metadata: undefined,
          where: (i) => `row ${firstRow + i} (offset ${firstOffset + i * rowBytes})`,
        }
        if (n < want) break
      }
      await feed.finish(row, path)
    } finally {
      await feed.close()
      await fh.close()
    }
  }
}

// --------------------------------------------------------------------------- writing

/**
 * Shortest decimal text that reads back as the same float32 (`0.1`, not
 * `0.10000000149011612`): about half the bytes of printing the double.
 */
export function float32Text(x: number): string {
  const s = String(x)
  if (s.length <= 9) return Object.is(x, -0) ? '-0' : s
  for (let p = 6; p <= 9; p++) {
    const d = Number(x.toPrecision(p))
    if (Math.fround(d) === x) return String(d)
  }
  return s
}

/** A stored row to write. */
export interface OutRow {
  id: CliId
  vector: Float32Array
  metadata?: Metadata
}

/** Writes rows to a file (or stdout) in one format. */
export interface RowWriter {
  write(row: OutRow): Promise<void>
  /** Flush and close; returns the rows written. */
  end(): Promise<number>
  /** Close after a failure (removing a partial output file is the caller's choice). */
  abort(): Promise<void>
}

/** A buffered writer with backpressure over a stream. */
class Sink {
  readonly #out: Writable
  #chunks: (string | Buffer)[] = []
  #size = 0
  #error: Error | null = null

  constructor(out: Writable) {
    this.#out = out
    out.on('error', (err) => {
      this.#error = err
    })
  }

  async push(chunk: string | Buffer): Promise<void> {
    this.#chunks.push(chunk)
    this.#size += chunk.length
    if (this.#size >= 1 << 20) await this.flush()
  }

  async flush(): Promise<void> {
    if (this.#error) throw this.#error
    if (this.#chunks.length === 0) return
    const chunks = this.#chunks
    this.#chunks = []
    this.#size = 0
    const data = typeof chunks[0] === 'string' ? (chunks as string[]).join('') : Buffer.concat(chunks as Buffer[])
    if (!this.#out.write(data)) await this.#drain()
    if (this.#error) throw this.#error
  }

  #drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = () => {
        this.#out.off('drain', done)
        this.#out.off('error', fail)
        resolve()
      }
      const fail = (err: Error) => {
        this.#out.off('drain', done)
        reject(err)
      }
      this.#out.on('drain', done)
      this.#out.once('error', fail)
    })
  }

  /** Flush, then end the stream (not stdout) and wait until it is closed. */
  async end(): Promise<void> {
    await this.flush()
    const out = this.#out
    if (out === process.stdout) return
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject)
      ;(out as WriteStream).once('close', () => resolve())
      out.end()
    })
    if (this.#error) throw this.#error
  }

  /** Drop what is buffered and close the stream (not stdout); resolves once it is closed. */
  async destroy(): Promise<void> {
    const out = this.#out
    if (out === process.stdout || out.closed) return
    const closed = new Promise<void>((resolve) => out.once('close', () => resolve()))
    out.destroy()
    await closed
  }
}

function idText(id: CliId): string {
  return typeof id === 'string' ? JSON.stringify(id) : id <= BigInt(Number.MAX_SAFE_INTEGER) ? id.toString() : `"${id}"`
}

/** A text file with one id per line (u64 ids in decimal, string ids as JSON strings): the sidecar of `.npy`/`.fvecs`. */
export class IdsWriter {
  readonly #sink: Sink
  constructor(path: string) {
    this.#sink = new Sink(createWriteStream(path))
  }
  async write(id: CliId): Promise<void> {
    await this.#sink.push(`${typeof id === 'string' ? JSON.stringify(id) : id.toString()}\n`)
  }
  async end(): Promise<void> {
    await this.#sink.end()
  }
  async abort(): Promise<void> {
    await this.#sink.destroy()
  }
}

/** `.jsonl` rows to `out` (a file stream or stdout). */
export function jsonlWriter(out: Writable): RowWriter {
  const sink = new Sink(out)
  let rows = 0
  return {
    async write(row) {
      const parts = new Array<string>(row.vector.length)
      for (let i = 0; i < row.vector.length; i++) parts[i] = float32Text(row.vector[i])
      let line = `{"id":${idText(row.id)},"vector":[${parts.join(',')}]`
      if (row.metadata !== undefined) line += `,"metadata":${JSON.stringify(row.metadata)}`
      await sink.push(`${line}}\n`)
      rows++
    },
    async end() {
      await sink.end()
      return rows
    },
    async abort() {
      await sink.destroy()
    },
  }
}

/** `.npy` header text for `rows × dimension` float32, padded to `length` bytes when given. */
function npyHeader(rows: number, dimension: number, length?: number): Buffer {
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dimension}), }`
  // Room for any row count, so the header can be rewritten in place at the end.
  const total = length ?? Math.ceil((10 + dict.length + 24 + 1) / 64) * 64
  const text = dict.padEnd(total - 10 - 1, ' ') + '\n'
  const b = Buffer.alloc(total)
  NPY_MAGIC.copy(b, 0)
  b[6] = 1
  b[7] = 0
  b.writeUInt16LE(total - 10, 8)
  b.write(text, 10, 'latin1')
  return b
}

/** `.npy` (float32, C order) or `.fvecs` rows to the file `path`. */
export async function binaryWriter(path: string, format: 'npy' | 'fvecs', dimension: number): Promise<RowWriter> {
  const stream = createWriteStream(path)
  await new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve())
    stream.once('error', reject)
  })
  const sink = new Sink(stream)
  const header = format === 'npy' ? npyHeader(0, dimension) : null
  if (header) await sink.push(header)
  let rows = 0
  return {
    async write(row) {
      const b = Buffer.alloc((format === 'fvecs' ? 4 : 0) + dimension * 4)
      let at = 0
      if (format === 'fvecs') at = b.writeInt32LE(dimension, 0)
      for (let i = 0; i < dimension; i++) at = b.writeFloatLE(row.vector[i], at)
      await sink.push(b)
      rows++
    },
    async end() {
      await sink.end()
      if (header) {
        const fh = await openFile(path, 'r+')
        try {
          await fh.write(npyHeader(rows, dimension, header.length), 0, header.length, 0)
        } finally {
          await fh.close()
        }
      }
      return rows
    },
    async abort() {
      await sink.destroy()
    },
  }
}
