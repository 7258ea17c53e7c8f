// Every SIMD level the CPU offers gives the same search answers through the real binding.
// KYRODB_SIMD caps the level chosen at startup, so each level runs in its own process.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'

type Out = { simd: string; results: Record<string, [number, number][][]> }

function run(level: string): Out {
  const out = execFileSync(process.execPath, [join(__dirname, 'fixtures', 'simd-search.cjs')], {
    env: { ...process.env, KYRODB_SIMD: level },
    encoding: 'utf8',
  })
  return JSON.parse(out) as Out
}

test('scalar, avx2 and avx512 kernels return the same neighbours', (t) => {
  const scalar = run('scalar')
  t.is(scalar.simd, 'scalar', 'KYRODB_SIMD=scalar forces the scalar kernels')
  let compared = 0
  for (const level of ['avx2', 'avx512']) {
    const other = run(level)
    // On a CPU without the level, selection falls back to the next best one.
    t.true(['avx512', 'avx2', 'scalar'].includes(other.simd))
    for (const metric of Object.keys(scalar.results)) {
      scalar.results[metric].forEach((hits, q) => {
        const mine = other.results[metric][q]
        t.is(mine.length, hits.length)
        hits.forEach(([id, d], i) => {
          t.true(Math.abs(mine[i][1] - d) <= 1e-4 * Math.max(1, Math.abs(d)), `${metric} q${q} rank ${i}: ${mine[i][1]} vs ${d}`)
          // Ids must agree unless two neighbours are closer than float noise.
          const gapBelow = i + 1 < hits.length ? hits[i + 1][1] - d : Infinity
          const gapAbove = i > 0 ? d - hits[i - 1][1] : Infinity
          if (gapBelow > 1e-4 && gapAbove > 1e-4) t.is(mine[i][0], id, `${metric} q${q} rank ${i}`)
        })
        compared++
      })
    }
  }
  t.is(compared, 2 * 3 * 20)
})
