/**
 * JSON schemas shared by the routes. fastify validates every request against them and
 * `/openapi.json` is generated from the same objects, so the document cannot drift from
 * what the server accepts. Validation is strict: no type coercion, unknown body fields
 * rejected.
 * @module
 */
import { InvalidArgumentError } from '../errors.js'
import { checkU64, U64_MAX } from '../ids.js'

/**
 * A `u64` key or id in JSON: a non-negative integer up to 2^53 − 1, or a decimal string
 * for any value up to 2^64 − 1 (JSON numbers above 2^53 lose digits, so they are refused
 * rather than rounded).
 */
export const u64 = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', pattern: '^[0-9]{1,20}$' },
  ],
  description: 'u64: an integer up to 2^53-1, or a decimal string up to 18446744073709551615',
} as const

/**
 * A point id in JSON: a `u64` (see {@link u64}) in a `u64` collection, any string of 1 to
 * 512 bytes in a `string` collection (the route checks which, against the collection).
 */
export const pointId = {
  anyOf: [
    { type: 'integer', minimum: 0 },
    { type: 'string', minLength: 1, maxLength: 512 },
  ],
  description: 'u64 collections: an integer up to 2^53-1 or a decimal string; string collections: the id string',
} as const

/** A `u64` in a URL path segment or query string: decimal digits. */
export const u64String = {
  type: 'string',
  pattern: '^[0-9]{1,20}$',
  description: 'u64 in decimal, up to 18446744073709551615',
} as const

/** A collection name. */
export const collectionName = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const

/** A vector in JSON. */
export const vector = { type: 'array', items: { type: 'number' }, minItems: 1, maxItems: 16384 } as const

/** A metadata filter: the object form or the string form. */
export const filter = {
  anyOf: [{ type: 'object' }, { type: 'string', maxLength: 65536 }],
  description: "{ category: 'science', year: { $gte: 2020 } } or \"category == 'science' AND year >= 2020\"",
} as const

/** A `u64` from JSON or a URL, as the engine takes it: a number when safe, else a bigint. */
export function toKey(value: unknown, what: string): number | bigint {
  if (typeof value === 'string') {
    if (!/^[0-9]{1,20}$/.test(value)) throw new InvalidArgumentError(`${what} must be a u64 in decimal, got ${JSON.stringify(value)}`)
    if (value.length < 16) return Number(value)
    const big = BigInt(value)
    if (big > U64_MAX) throw new InvalidArgumentError(`${what} ${value} is above 2^64 - 1`)
    // 16-digit strings and leading zeros can still be safe: a number, so that responses
    // echo the key as a number like every other safe key.
    return big <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError(`${what} ${value} is not a safe integer: send keys above 2^53 - 1 as decimal strings`)
  }
  checkU64(value, what)
  return value as number | bigint
}

/** A `u64` for a JSON response: a number when safe, else a decimal string; a string id as is. */
export function keyToJson(key: number | bigint | string): number | string {
  return typeof key === 'bigint' ? key.toString() : key
}

/** A point id from JSON or a URL for a collection with ids of type `idType`. */
export function toPointId(idType: 'u64' | 'string', value: unknown, what: string): number | bigint | string {
  if (idType === 'u64') return toKey(value, what)
  if (typeof value !== 'string') throw new InvalidArgumentError(`${what} must be a string: this collection has string ids`)
  return value
}
