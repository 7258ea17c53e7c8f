/**
 * `kyrodb export` through the real CLI: .jsonl to stdout and to a file, .npy and .fvecs
 * with their ids sidecar, each re-imported into a fresh database and compared row by
 * row; big u64 ids; --ids-from for collections past the 10,000 rows one search returns;
 * refusals (too many rows without --ids-from, unknown collection, no database) that
 * write nothing.
 */
import test from 'ava'
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { open } from '../src-ts/index.js'
import { runCli, tempDir, writeJsonl } from './helpers/cli.js'
import { rng } from './helpers/data.js'

const dirs: string[] = []
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
function fresh(): string {
  const d = tempDir('kyrodb-cli-export-')
  dirs.push(d)
  return d
}

const BIG = '18446744073709551615'

/** Source rows: ids 0..n-1 plus one u64 beyond 2^53, half with metadata. */
function sourceRows(n: number, dim: number, seed: number): object[] {
  const r = rng(seed)
  const rows: object[] = []
  for (let i = 0; i < n; i++) {
    const vector = Array.from({ length: dim }, () => Math.fround(r() * 2 - 1))
    rows.push(i % 2 === 0 ? { id: i, vector, metadata: { i, tag: `t${i % 4}`, nested: { a: [1, 'x', null, true] } } } : { id: i, vector })
  }
  rows.push({ id: BIG, vector: Array.from({ length: dim }, (_, j) => j + 0.5), metadata: { big: 1 } })
  return rows
}

/** Every row of `ids`, as comparable values. */
async function rowsOf(dataDir: string, name: string, ids: (number | bigint)[]) {
  const db = await open(dataDir)
  try {
    const c = db.collection(name)
    const out: unknown[] = []
    for (const id of ids) {
      const got = await c.get(id)
      out.push(got === null ? null : [String(got.id), Array.from(got.vector), got.metadata ?? null])
    }
    return { count: c.count(), dimension: c.dimension, metric: c.metric, rows: out }
  } finally {
    await db.close()
  }
}

test('jsonl: export to stdout, re-import elsewhere, export again: the same text and the same rows', async (t) => {
  const dir = fresh()
  const a = join(dir, 'a')
  const b = join(dir, 'b')
  const src = join(dir, 'src.jsonl')
  writeJsonl(src, sourceRows(3000, 12, 1))
  t.is((await runCli(['import', 'docs', src, '--data-dir', a, '--metric', 'l2', '--quiet'])).code, 0)

  const first = await runCli(['export', 'docs', '--data-dir', a])
  t.is(first.code, 0, first.stderr)
  const lines = first.stdout.trimEnd().split('\n')
  t.is(lines.length, 3001)
  t.deepEqual(JSON.parse(lines[0]), { id: 0, vector: JSON.parse(lines[0]).vector, metadata: { i: 0, tag: 't0', nested: { a: [1, 'x', null, true] } } })
  t.false('metadata' in JSON.parse(lines[1]), 'no metadata key for a row without metadata')
  t.regex(lines[3000], new RegExp(`^\\{"id":"${BIG}",`), 'ids beyond 2^53 as strings, sorted last')
  t.regex(first.stderr, /exported 3,001 rows of 'docs' to stdout/)

  const file = join(dir, 'out.jsonl')
  const toFile = await runCli(['export', 'docs', file, '--data-dir', a, '--quiet'])
  t.is(toFile.code, 0, toFile.stderr)
  t.is(readFileSync(file, 'utf8'), first.stdout, 'to a file: the same bytes')
  t.is(toFile.stderr, '', '--quiet')

  t.is((await runCli(['import', 'copy', file, '--data-dir', b, '--metric', 'l2', '--quiet'])).code, 0)
  const second = await runCli(['export', 'copy', '--data-dir', b])
  t.is(second.code, 0)
  t.is(second.stdout, first.stdout, 'export → import → export is a fixed point')
  const ids: (number | bigint)[] = [0, 1, 2, 1499, 2999, BigInt(BIG), 3000]
  const ra = await rowsOf(a, 'docs', ids)
  const rb = await rowsOf(b, 'copy', ids)
  t.deepEqual(rb, ra, 'every row equal: vectors bit for bit, metadata, count')

  // Cosine stores unit vectors: they are exported as stored, and normalising them again
  // on import may move the last bit, no more.
  t.is((await runCli(['import', 'cos', src, '--data-dir', a, '--metric', 'cosine', '--quiet'])).code, 0)
  const cosOut = join(dir, 'cos.jsonl')
  t.is((await runCli(['export', 'cos', cosOut, '--data-dir', a, '--quiet'])).code, 0)
  t.is((await runCli(['import', 'cos', cosOut, '--data-dir', b, '--metric', 'cosine', '--quiet'])).code, 0)
  const ca = await rowsOf(a, 'cos', ids)
  const cb = await rowsOf(b, 'cos', ids)
  t.is(cb.count, ca.count)
  ca.rows.forEach((row, i) => {
    if (row === null) return t.is(cb.rows[i], null)
    const [ida, va, ma] = row as [string, number[], unknown]
    const [idb, vb, mb] = cb.rows[i] as [string, number[], unknown]
    t.is(idb, ida)
    t.deepEqual(mb, ma)
    t.true(va.every((x, j) => Math.abs(x - vb[j]) <= 1e-7), `row ${ida}`)
  })
})

test('npy and fvecs: export writes the vectors and <file>.ids; re-import takes the ids from there', async (t) => {
  const dir = fresh()
  const a = join(dir, 'a')
  const src = join(dir, 'src.jsonl')
  writeJsonl(src, sourceRows(1200, 7, 2))
  t.is((await runCli(['import', 'vecs', src, '--data-dir', a, '--metric', 'l2', '--quiet'])).code, 0)
  const ids: (number | bigint)[] = [0, 1, 600, 1199, BigInt(BIG)]
  const want = await rowsOf(a, 'vecs', ids)
  for (const ext of ['npy', 'fvecs']) {
    const file = join(dir, `out.${ext}`)
    const r = await runCli(['export', 'vecs', file, '--data-dir', a])
    t.is(r.code, 0, r.stderr)
    t.regex(r.stderr, new RegExp(`601 rows have metadata, which \\.${ext} cannot hold`))
    t.true(existsSync(`${file}.ids`))
    const idLines = readFileSync(`${file}.ids`, 'utf8').trimEnd().split('\n')
    t.is(idLines.length, 1201)
    t.is(idLines[1200], BIG)
    if (ext === 'npy') {
      const buf = readFileSync(file)
      t.is(buf.subarray(1, 6).toString(), 'NUMPY')
      const headerLen = buf.readUInt16LE(8)
      t.is((10 + headerLen) % 64, 0, 'header padded to 64 bytes')
      t.regex(buf.subarray(10, 10 + headerLen).toString('latin1'), /'descr': '<f4', 'fortran_order': False, 'shape': \(1201, 7\)/)
      t.is(buf.length, 10 + headerLen + 1201 * 7 * 4)
    } else {
      t.is(readFileSync(file).length, 1201 * (4 + 7 * 4))
    }
    const b = join(dir, `b-${ext}`)
    const back = await runCli(['import', 'vecs', file, '--data-dir', b, '--metric', 'l2'])
    t.is(back.code, 0, back.stderr)
    t.regex(back.stderr, /ids from .*\.ids/)
    const got = await rowsOf(b, 'vecs', ids)
    t.is(got.count, want.count)
    // Same ids and vectors; the binary formats carry no metadata.
    t.deepEqual(
      got.rows.map((r) => (r as unknown[]).slice(0, 2)),
      want.rows.map((r) => (r as unknown[]).slice(0, 2)),
    )
  }
  // --ids-out puts the ids elsewhere; stdout cannot take a binary format.
  const file = join(dir, 'x.fvecs')
  t.is((await runCli(['export', 'vecs', file, '--data-dir', a, '--ids-out', join(dir, 'x-ids.txt'), '--quiet'])).code, 0)
  t.true(existsSync(join(dir, 'x-ids.txt')))
  t.false(existsSync(`${file}.ids`))
  t.is((await runCli(['export', 'vecs', '--format', 'npy', '--data-dir', a])).code, 2)
})

test('past 10,000 rows (more than one search returns) export scans every row; --ids-from exports the rows listed', async (t) => {
  const dir = fresh()
  const a = join(dir, 'a')
  const src = join(dir, 'src.jsonl')
  writeJsonl(src, sourceRows(10_500, 4, 3))
  t.is((await runCli(['import', 'many', src, '--data-dir', a, '--metric', 'l2', '--no-index', '--quiet'])).code, 0)
  const out = join(dir, 'out.jsonl')
  const r = await runCli(['export', 'many', out, '--data-dir', a])
  t.is(r.code, 0, r.stderr)
  const scanned = readFileSync(out, 'utf8').trimEnd().split('\n')
  t.is(scanned.length, 10_501)
  t.is(new Set(scanned.map((l) => String(JSON.parse(l).id))).size, 10_501, 'every row once')
  t.deepEqual(
    readdirSync(dir).filter((f) => f.includes('partial')),
    [],
    'no temporary file left',
  )

  // With the source file as --ids-from: every row, in the file's order; unknown ids skipped.
  writeJsonl(join(dir, 'ids.jsonl'), [...sourceRows(10_500, 4, 3), { id: 99_999_999, vector: [0, 0, 0, 0] }])
  const ok = await runCli(['export', 'many', out, '--data-dir', a, '--ids-from', join(dir, 'ids.jsonl')])
  t.is(ok.code, 0, ok.stderr)
  t.regex(ok.stderr, /1 ids of .* are not in 'many' \(skipped\)/)
  t.regex(ok.stderr, /^export: 10501\/10501 rows \(100%\)$/m)
  const lines = readFileSync(out, 'utf8').trimEnd().split('\n')
  t.is(lines.length, 10_501)
  const b = join(dir, 'b')
  t.is((await runCli(['import', 'many', out, '--data-dir', b, '--metric', 'l2', '--quiet'])).code, 0)
  const ids = [0, 5000, 10_499, BigInt(BIG)]
  t.deepEqual(await rowsOf(b, 'many', ids), await rowsOf(a, 'many', ids))
  // A plain list of ids works as well.
  const plain = join(dir, 'plain.txt')
  writeFileSync(plain, `3\n${BIG}\n"7"\n`)
  const few = await runCli(['export', 'many', '--data-dir', a, '--ids-from', plain])
  t.is(few.code, 0, few.stderr)
  t.deepEqual(
    few.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l).id),
    [3, BIG, 7],
  )
})

test('export refusals: unknown collection, no database, a bad --ids-from line', async (t) => {
  const dir = fresh()
  const a = join(dir, 'a')
  writeJsonl(join(dir, 'src.jsonl'), sourceRows(10, 2, 4))
  t.is((await runCli(['import', 'docs', join(dir, 'src.jsonl'), '--data-dir', a, '--quiet'])).code, 0)
  const missing = await runCli(['export', 'nope', '--data-dir', a])
  t.is(missing.code, 1)
  t.regex(missing.stderr, /error \[NOT_FOUND\]/)
  const nodb = await runCli(['export', 'docs', '--data-dir', join(dir, 'nothing-here')])
  t.is(nodb.code, 1)
  t.regex(nodb.stderr, /error \[NOT_FOUND\]: no database at .*nothing-here/)
  t.false(existsSync(join(dir, 'nothing-here')), 'no database created by looking')
  writeFileSync(join(dir, 'bad.txt'), '1\n2\n-3\n')
  const bad = await runCli(['export', 'docs', '--data-dir', a, '--ids-from', join(dir, 'bad.txt')])
  t.is(bad.code, 1)
  t.regex(bad.stderr, /bad\.txt line 3: id -3 is negative/)
})
