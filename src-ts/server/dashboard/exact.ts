/**
 * "Compare with exact": the recall@k of one search against a brute-force search over the
 * same rows.
 *
 * The API has no scan of a collection's rows, so the rows are fetched with one search
 * that returns every one of them: `k` = the collection's count with `ef` = 10,000 (the
 * maximum) and the stored vectors. With `ef` at least the rows of every segment the
 * graph walk never fills its beam and visits every node (every node is reachable, § 5 of
 * `docs/ARCHITECTURE.md`), the hot tier is scanned anyway, and with a filter a search
 * returns every matching row when `k` is at least their number (§ 4). The distances are
 * then computed here, in JavaScript, from the returned vectors, and sorted: a
 * brute-force search that does not depend on the engine's ranking. Unfiltered, the
 * fetch is checked to have returned `count` rows (`complete`).
 *
 * Hence the limit: collections of at most {@link MAX_EXACT_ROWS} rows (the largest `k`).
 * @module
 */
import type { Collection, SearchOptions, SearchResult } from '../../collection.js'
import { HttpError } from '../errors.js'

/** Largest collection a brute-force comparison can fetch whole (the largest `k` and `ef`). */
export const MAX_EXACT_ROWS = 10_000

export interface ExactComparison {
  /** The search as asked (`k`, `ef`, filter), ids only. */
  approx: SearchResult[]
  /** The brute-force top `k`. */
  exact: SearchResult[]
  /** Share of the exact top `k` the search found. */
  recall: number
  /** Rows the brute force compared. */
  scanned: number
  /** Whether those were all the collection's rows (unfiltered; `null` with a filter: the matching rows are not counted apart). */
  complete: boolean | null
  ms: { approx: number; exact: number }
}

function distance(metric: string, q: Float64Array, v: Float32Array): number {
  let s = 0
  if (metric === 'l2') {
    for (let i = 0; i < q.length; i++) {
      const d = q[i]! - v[i]!
      s += d * d
    }
    return s
  }
  for (let i = 0; i < q.length; i++) s += q[i]! * v[i]!
  return 1 - s
}

/** Order of results: distance, then id (as the engine orders ties). */
function byDistanceThenId(a: { id: unknown; distance: number }, b: { id: unknown; distance: number }): number {
  if (a.distance !== b.distance) return a.distance - b.distance
  const x = a.id as number | bigint | string
  const y = b.id as number | bigint | string
  if (typeof x === typeof y || (typeof x !== 'string' && typeof y !== 'string')) return x < y ? -1 : x > y ? 1 : 0
  return String(x) < String(y) ? -1 : 1
}

/** Run the search and the brute force, and compare. */
export async function compareWithExact(c: Collection, query: number[], options: SearchOptions): Promise<ExactComparison> {
  const count = c.count()
  if (count > MAX_EXACT_ROWS) {
    throw new HttpError(
      400,
      'INVALID_ARGUMENT',
      `brute force fetches every row through one search (the API has no scan), so it is limited to ${MAX_EXACT_ROWS} rows; ${c.name} has ${count}`,
    )
  }
  const t0 = performance.now()
  const approx = await c.search(query, { ...options, withMetadata: false, withVectors: false })
  const t1 = performance.now()
  if (count === 0) return { approx, exact: [], recall: 1, scanned: 0, complete: true, ms: { approx: t1 - t0, exact: 0 } }
  const rows = await c.search(query, { k: count, ef: MAX_EXACT_ROWS, filter: options.filter, withMetadata: false, withVectors: true })
  const q = Float64Array.from(query)
  if (c.metric === 'cosine') {
    // Stored vectors are unit length under cosine; the query is normalised as the engine does.
    const norm = Math.sqrt(q.reduce((a, x) => a + x * x, 0))
    if (norm > 0) for (let i = 0; i < q.length; i++) q[i]! /= norm
  }
  const scored = rows.map((r) => ({ id: r.id, distance: distance(c.metric, q, r.vector!) }))
  scored.sort(byDistanceThenId)
  const exact = scored.slice(0, options.k)
  const t2 = performance.now()
  const found = new Set(approx.map((r) => String(r.id)))
  const hits = exact.filter((r) => found.has(String(r.id))).length
  return {
    approx,
    exact,
    recall: exact.length === 0 ? 1 : hits / exact.length,
    scanned: rows.length,
    complete: options.filter === undefined ? rows.length >= count : null,
    ms: { approx: t1 - t0, exact: t2 - t1 },
  }
}
