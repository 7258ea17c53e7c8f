/**
 * Ids. A collection's ids are chosen at creation ({@link IdType}): unsigned 64-bit
 * integers (the default) or strings. Integer ids are passed as safe-integer `number`s or
 * `bigint`s and come back as `number` when at most `Number.MAX_SAFE_INTEGER`, as
 * `bigint` above it, so they never lose precision. String ids (1 to 512 bytes of UTF-8)
 * come back as given.
 * @module
 */
import { InvalidArgumentError } from './errors.js'

/**
 * A vector id: in a `'u64'` collection a non-negative safe integer or a bigint in
 * `0..2^64-1`; in a `'string'` collection a string of 1 to 512 UTF-8 bytes.
 */
export type Id = NumericId | string

/** An unsigned 64-bit integer: a non-negative safe integer or a bigint in `0..2^64-1`. */
export type NumericId = number | bigint

/** What a collection's ids are: `'u64'` integers (default) or `'string'`s. */
export type IdType = 'u64' | 'string'

/** Accepted forms of an id list. */
export type IdList = readonly Id[] | BigUint64Array

/** 2^64 − 1. @internal */
export const U64_MAX = (1n << 64n) - 1n

/**
 * Validate an unsigned 64-bit integer (an id or a key-value key) named `where` in errors;
 * returns it as a bigint. @internal
 */
export function checkU64(id: unknown, where: string): bigint {
  if (typeof id === 'number') {
    if (!Number.isSafeInteger(id) || id < 0) {
      throw new InvalidArgumentError(
        `${where} is ${id}; numbers must be integers in 0..${Number.MAX_SAFE_INTEGER} (use a bigint for larger values)`,
      )
    }
    return BigInt(id)
  }
  if (typeof id === 'bigint') {
    if (id < 0n || id > U64_MAX) throw new InvalidArgumentError(`${where} is ${id}; bigints must be in 0..2^64-1`)
    return id
  }
  throw new InvalidArgumentError(`${where} must be a number or a bigint, got ${typeof id}`)
}

/** Validate one id and convert it for the native layer. @internal */
export function toNativeId(id: unknown): bigint {
  return checkU64(id, 'id')
}

/** Validate a string-id list (lengths are checked natively, in bytes). @internal */
export function toNativeNames(ids: unknown): string[] {
  if (!Array.isArray(ids)) throw new InvalidArgumentError('ids must be an array of strings (this collection has string ids)')
  for (let i = 0; i < ids.length; i++) {
    if (typeof ids[i] !== 'string') {
      throw new InvalidArgumentError(`ids[${i}] must be a string (this collection has string ids), got ${typeof ids[i]}`)
    }
  }
  return ids as string[]
}

/** Validate one string id. @internal */
export function toNativeName(id: unknown): string {
  if (typeof id !== 'string') throw new InvalidArgumentError(`id must be a string (this collection has string ids), got ${typeof id}`)
  return id
}

/** Validate an id list and convert it for the native layer. @internal */
export function toNativeIds(ids: unknown): BigUint64Array {
  if (ids instanceof BigUint64Array) return ids
  if (!Array.isArray(ids)) throw new InvalidArgumentError('ids must be an array of numbers or bigints, or a BigUint64Array')
  const out = new BigUint64Array(ids.length)
  for (let i = 0; i < ids.length; i++) out[i] = checkU64(ids[i], `ids[${i}]`)
  return out
}

/** Native id → public id. @internal */
export function fromNativeId(id: bigint): NumericId {
  return id <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(id) : id
}
