// Vector helpers shared by the benchmark scripts.

/** Unit-normalised copy of row-major `data` (`dim` per row), for cosine as inner product. */
export function normalizeRows(data, dim) {
  const out = new Float32Array(data.length)
  for (let r = 0; r < data.length / dim; r++) {
    let s = 0
    for (let j = 0; j < dim; j++) s += data[r * dim + j] ** 2
    const inv = 1 / Math.sqrt(s)
    for (let j = 0; j < dim; j++) out[r * dim + j] = data[r * dim + j] * inv
  }
  return out
}

/** Fraction of the true top-k (row indices `gt[qi*k .. qi*k+k]`) present in `found`. */
export function recallAtK(found, gt, qi, k = 10) {
  const want = new Set(gt.subarray(qi * k, qi * k + k))
  let hit = 0
  for (const r of found) if (want.has(Number(r))) hit++
  return hit / k
}
