/**
 * Metadata filters, in either of two forms that mean the same thing:
 *
 * ```ts
 * { category: 'science', year: { $gte: 2020 } }
 * "category == 'science' AND year >= 2020"
 * ```
 *
 * Object operators: `$eq $ne $gt $gte $lt $lte $in $nin $exists` on a field, `$and $or $not`
 * to combine. String form: `== != > >= < <=`, `IN [...]`, `NOT IN [...]`, `EXISTS(field)`,
 * `field NOT EXISTS`, `AND OR NOT` and parentheses; strings in single or double quotes.
 * Nested fields use dotted paths (`"author.name"`). A field holding an array matches when
 * any element does. Range operators take numbers only. Malformed filters throw
 * `INVALID_FILTER` with the position of the problem.
 * @module
 */
import { InvalidFilterError } from './errors.js'

/** A value a filter compares against. */
export type FilterValue = string | number | boolean | null

/** Operators on one field. */
export interface FieldCondition {
  /** Equal (or, for an array field, contains). */
  $eq?: FilterValue
  /** Not equal (holds when the field is absent). */
  $ne?: FilterValue
  /** Greater than (numbers). */
  $gt?: number
  /** Greater than or equal (numbers). */
  $gte?: number
  /** Less than (numbers). */
  $lt?: number
  /** Less than or equal (numbers). */
  $lte?: number
  /** Equal to any of. */
  $in?: FilterValue[]
  /** Equal to none of (holds when the field is absent). */
  $nin?: FilterValue[]
  /** Present (`true`) or absent (`false`). */
  $exists?: boolean
  /** Negation of a condition. */
  $not?: FieldCondition
}

/** The object form of a filter. */
export interface FilterObject {
  /** All of the filters. */
  $and?: FilterObject[]
  /** Any of the filters. */
  $or?: FilterObject[]
  /** The negation of a filter. */
  $not?: FilterObject
  /** A field (dotted path) and its value or condition. */
  [field: string]: FilterValue | FieldCondition | FilterObject | FilterObject[] | undefined
}

/** A filter: the object form or the string form. */
export type Filter = FilterObject | string

/** The filter as the JSON text the engine parses. @internal */
export function serializeFilter(filter: unknown): string | undefined {
  if (filter === undefined || filter === null) return undefined
  if (typeof filter !== 'string' && (typeof filter !== 'object' || Array.isArray(filter))) {
    throw new InvalidFilterError(`a filter must be an object or a string, got ${Array.isArray(filter) ? 'an array' : typeof filter}`)
  }
  try {
    // JSON has no NaN or Infinity (JSON.stringify would silently turn them into null).
    return JSON.stringify(filter, (_key, value: unknown) => {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        throw new InvalidFilterError(`filter values must be finite numbers, got ${value}`)
      }
      return value
    })
  } catch (err) {
    if (err instanceof InvalidFilterError) throw err
    throw new InvalidFilterError(`filter cannot be serialised: ${(err as Error).message}`, { cause: err })
  }
}
