// Zipf sampling shared by the benchmark scripts.

/**
 * A sampler of ranks `0..n-1` with P(r) ∝ 1 / (r + 1)^alpha (inverse CDF, binary search),
 * drawing uniforms from `rand`. `alpha = 0` is uniform.
 */
export function zipfSampler(n, alpha, rand) {
  if (alpha === 0) return () => Math.floor(rand() * n)
  const cdf = new Float64Array(n)
  let acc = 0
  for (let r = 0; r < n; r++) cdf[r] = acc += 1 / Math.pow(r + 1, alpha)
  for (let r = 0; r < n; r++) cdf[r] /= acc
  return () => {
    const u = rand()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid] < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}
