/**
 * Conversion of vector arguments into the flat `Float32Array` the engine takes.
 * @internal
 * @module
 */
import { DimensionMismatchError, InvalidArgumentError } from './errors.js'

/** One vector: a `Float32Array` or a plain array of numbers. */
export type VectorLike = Float32Array | readonly number[]

/** Many vectors: one flat row-major `Float32Array`, or one entry per vector. */
export type VectorBatch = Float32Array | readonly VectorLike[]

/** A single vector as a `Float32Array` (copied only when it is a plain array). */
export function toVector(v: unknown, what = 'vector'): Float32Array {
  if (v instanceof Float32Array) return v
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (typeof v[i] !== 'number') throw new InvalidArgumentError(`${what}[${i}] must be a number, got ${typeof v[i]}`)
    }
    return Float32Array.from(v as number[])
  }
  throw new InvalidArgumentError(`${what} must be a Float32Array or an array of numbers`)
}

/**
 * A batch as one flat row-major array. Entries of an array batch are checked one by one
 * against `dimension`, so two wrong lengths can never add up to a right total.
 */
export function toFlatBatch(batch: unknown, dimension: number, what = 'vectors'): Float32Array {
  if (batch instanceof Float32Array) return batch
  if (!Array.isArray(batch)) throw new InvalidArgumentError(`${what} must be a Float32Array or an array of vectors`)
  const flat = new Float32Array(batch.length * dimension)
  batch.forEach((entry, i) => {
    const v = toVector(entry, `${what}[${i}]`)
    if (v.length !== dimension) {
      throw new DimensionMismatchError(`${what}[${i}] has ${v.length} components but the collection's dimension is ${dimension}`)
    }
    flat.set(v, i * dimension)
  })
  return flat
}
