/**
 * `kyrodb import` through the real CLI (dist/cli.js) on temporary directories: each
 * format imported and then read back through the API (get, search), ids from
 * --start-id and from a sidecar, big u64 ids; bad files (bad JSON, wrong dimension,
 * truncated or mis-typed .npy/.fvecs, duplicate ids) refused with the line or offset,
 * leaving the collection exactly as it was; an import interrupted midway undone;
 * usage errors with exit code 2.
 */
import test from 'ava'
import { rmSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { open, type Metric } from '../src-ts/index.js'
import { f32Bytes, fvecsBytes, npyBytes, runCli, startCli, tempDir, writeJsonl } from './helpers/cli.js'
import { rng } from './helpers/data.js'

const dirs: string[] = []
test.after.always(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})
function fresh(): string {
  const d = tempDir()
  dirs.push(d)
  return d
}

function vectors(n: number, dim: number, seed: number): number[][] {
  const r = rng(seed)
  return Array.from({ length: n }, () => Array.from({ length: dim }, () => Math.fround(r() * 2 - 1)))
}

/** Every row of `ids` in `collection` (vector as a plain array, metadata), or null where absent. */
async function snapshot(dataDir: string, collection: string, ids: (number | bigint | string)[]) {
  const db = await open(dataDir)
  try {
    if (!db.listCollections().some((c) => c.name === collection)) return null
    const c = db.collection(collection)
    const rows: unknown[] = []
    for (const id of ids) {
      const got = await c.get(id as never)
      rows.push(got === null ? null : { id: String(got.id), vector: Array.from(got.vector), metadata: got.metadata ?? null })
    }
    return { count: c.count(), dimension: c.dimension, metric: c.metric, rows }
  } finally {
    await db.close()
  }
}

/** A collection made through the API: ids 0..n-1, l2, metadata { i } on every row. */
async function seed(dataDir: string, name: string, n: number, dim: number, metric: Metric = 'l2'): Promise<number[][]> {
  const vs = vectors(n, dim, 7)
  const db = await open(dataDir)
  try {
    const c = await db.createCollection(name, { dimension: dim, metric, index: false })
    await c.upsert(
      vs.map((_, i) => i),
      vs,
      vs.map((_, i) => ({ i, tag: `t${i % 3}` })),
    )
  } finally {
    await db.close()
  }
  return vs
}

test('jsonl: creates the collection, rows read back by get and search, big ids as strings, --json summary', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  const file = join(dir, 'docs.jsonl')
  const vs = vectors(2500, 8, 1)
  const big = '18446744073709551615'
  const rows: object[] = vs.map((v, i) => ({ id: i, vector: v, metadata: i % 2 === 0 ? { i, tag: `t${i % 5}` } : undefined }))
  rows.push({ id: big, vector: vs[0].map((x) => -x), metadata: { big: true } })
  writeJsonl(file, rows)
  const r = await runCli(['import', 'docs', file, '--data-dir', db, '--metric', 'l2', '--batch-size', '1000', '--json'])
  t.is(r.code, 0, r.stderr)
  const summary = JSON.parse(r.stdout)
  t.like(summary, { collection: 'docs', created: true, rows: 2501, inserted: 2501, replaced: 0 })
  t.regex(r.stderr, /^validate: \d+\/\d+ bytes \(100%\)$/m, 'plain progress lines off a terminal')
  t.regex(r.stderr, /^import: 2501\/2501 rows \(100%\)$/m)

  const d = await open(db)
  try {
    const c = d.collection('docs')
    t.is(c.count(), 2501)
    t.is(c.dimension, 8)
    t.is(c.metric, 'l2')
    const got = await c.get(42)
    t.deepEqual(Array.from(got!.vector), vs[42])
    t.deepEqual(got!.metadata, { i: 42, tag: 't2' })
    t.is((await c.get(43))!.metadata, undefined)
    const hit = await c.search(vs[1234], { k: 1 })
    t.is(hit[0].id, 1234)
    const b = await c.get(BigInt(big))
    t.truthy(b, 'an id beyond 2^53 given as a string')
    t.deepEqual(b!.metadata, { big: true })
    const filtered = await c.search(vs[10], { k: 3, filter: { tag: 't0' } })
    t.true(filtered.every((h) => (h.metadata as { tag: string }).tag === 't0'))
  } finally {
    await d.close()
  }
})

test('npy: float32 2-D, sequential ids from --start-id; dimension from the header', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  const file = join(dir, 'v.npy')
  const vs = vectors(1500, 16, 2)
  writeFileSync(file, npyBytes([1500, 16], f32Bytes(vs)))
  const r = await runCli(['import', 'vecs', file, '--data-dir', db, '--start-id', '100', '--metric', 'ip'])
  t.is(r.code, 0, r.stderr)
  t.regex(r.stderr, /imported 1,500 rows into 'vecs' \(created\)/)
  const d = await open(db)
  try {
    const c = d.collection('vecs')
    t.is(c.count(), 1500)
    t.is(c.dimension, 16)
    t.is(c.metric, 'ip')
    t.deepEqual(Array.from((await c.get(100))!.vector), vs[0])
    t.deepEqual(Array.from((await c.get(1599))!.vector), vs[1499])
    t.is(await c.get(99), null)
    t.is(await c.get(1600), null)
  } finally {
    await d.close()
  }
})

test('fvecs: ids from an --ids sidecar, one per line (u64 beyond 2^53 too)', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  const file = join(dir, 'v.fvecs')
  const idsFile = join(dir, 'ids.txt')
  const vs = vectors(300, 5, 3)
  writeFileSync(file, fvecsBytes(vs))
  const ids = vs.map((_, i) => (i === 0 ? '18446744073709551000' : String(i * 10)))
  writeFileSync(idsFile, ids.join('\n') + '\n')
  const r = await runCli(['import', 'sift', file, '--data-dir', db, '--ids', idsFile, '--metric', 'l2', '--no-index'])
  t.is(r.code, 0, r.stderr)
  const d = await open(db)
  try {
    const c = d.collection('sift')
    t.is(c.count(), 300)
    t.deepEqual(Array.from((await c.get(18446744073709551000n))!.vector), vs[0])
    t.deepEqual(Array.from((await c.get(2990))!.vector), vs[299])
    t.is(await c.get(1), null)
  } finally {
    await d.close()
  }
  // An ids file one line short names the row that has no id; nothing is created.
  writeFileSync(idsFile, ids.slice(0, 299).join('\n') + '\n')
  const short = await runCli(['import', 'sift2', file, '--data-dir', db, '--ids', idsFile])
  t.is(short.code, 1)
  t.regex(short.stderr, /error \[INVALID_ARGUMENT\]: .*ids\.txt has 299 ids but .*v\.fvecs has more rows \(row 299 has no id\)/)
  t.is(await snapshot(db, 'sift2', []), null)
})

/** The bad-file cases run against an existing collection, which must not change. */
async function refusedAndUnchanged(
  t: import('ava').ExecutionContext,
  file: string,
  args: string[],
  expect: { code: string; message: RegExp },
): Promise<void> {
  const dir = join(file, '..')
  const db = join(dir, 'db')
  const ids = Array.from({ length: 60 }, (_, i) => i)
  const before = await snapshot(db, 'docs', ids)
  const r = await runCli(['import', 'docs', file, '--data-dir', db, ...args])
  t.is(r.code, 1, r.stderr)
  t.true(r.stderr.includes(`error [${expect.code}]`), r.stderr)
  t.regex(r.stderr, expect.message)
  t.deepEqual(await snapshot(db, 'docs', ids), before, 'count and contents as before')
  // Into a new collection: refused the same way, and nothing is created.
  const r2 = await runCli(['import', 'other', file, '--data-dir', db, ...args])
  t.is(r2.code, 1, r2.stderr)
  t.regex(r2.stderr, expect.message)
  t.is(await snapshot(db, 'other', []), null, 'no collection created')
}

test('jsonl: bad JSON at line 7 is refused with its line; the collection is unchanged', async (t) => {
  const dir = fresh()
  const vs = await seed(join(dir, 'db'), 'docs', 40, 4)
  const file = join(dir, 'bad.jsonl')
  // Lines 1-6 are fine (replacing ids 0-2, adding 50-52), line 7 is not JSON.
  const lines: (object | string)[] = [0, 1, 2, 50, 51, 52].map((id) => ({ id, vector: [1, 2, 3, 4], metadata: { new: true } }))
  lines.push('{"id": 53, "vector": [1, 2, 3, 4]')
  lines.push({ id: 54, vector: [1, 2, 3, 4] })
  writeJsonl(file, lines)
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: /bad\.jsonl line 7: invalid JSON/ })
  t.is(vs.length, 40)
})

test('jsonl: a wrong dimension at line 3 is refused with its line; the collection is unchanged', async (t) => {
  const dir = fresh()
  await seed(join(dir, 'db'), 'docs', 40, 4)
  const file = join(dir, 'dim.jsonl')
  writeJsonl(file, [
    { id: 1, vector: [1, 2, 3, 4] },
    { id: 100, vector: [1, 2, 3, 4] },
    { id: 101, vector: [1, 2, 3, 4, 5] },
    { id: 102, vector: [1, 2, 3, 4] },
  ])
  await refusedAndUnchanged(t, file, [], { code: 'DIMENSION_MISMATCH', message: /dim\.jsonl line 3: vector has 5 components but/ })
})

test('jsonl: every kind of bad row names its line', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  await seed(db, 'docs', 10, 3)
  const cases: [string, RegExp][] = [
    ['{"id": -1, "vector": [1,2,3]}', /line 2: id -1 is negative/],
    ['{"id": 1.5, "vector": [1,2,3]}', /line 2: id 1\.5 is not an integer/],
    ['{"id": 18446744073709551615, "vector": [1,2,3]}', /line 2: id .* is beyond 2\^53 .* write ids above 9007199254740991 as strings/],
    ['{"id": "18446744073709551616", "vector": [1,2,3]}', /line 2: id 18446744073709551616 is beyond 2\^64-1/],
    ['{"id": "abc", "vector": [1,2,3]}', /line 2: id "abc" is not a decimal integer/],
    ['{"vector": [1,2,3]}', /line 2: no "id"/],
    ['{"id": 5}', /line 2: no "vector"/],
    ['{"id": 5, "vector": [1,"x",3]}', /line 2: vector\[1\] must be a number, got string/],
    ['{"id": 5, "vector": [1,1e39,3]}', /line 2: vector\[1\] is 1e\+39, beyond the float32 range/],
    ['{"id": 5, "vector": [1,2,3], "metadata": [1]}', /line 2: "metadata" must be a JSON object/],
    ['{"id": 5, "vector": [1,2,3], "metadata": {"n": 9007199254740993}}', /line 2: metadata holds the integer .* beyond 2\^53/],
    [`{"id": 5, "vector": [1,2,3], "metadata": {"x": "${'a'.repeat(70_000)}"}}`, /line 2: metadata is \d+ bytes as JSON; the limit is 65536/],
    [`{"id": 5, "vector": [1,2,3], "metadata": {"x": ${'['.repeat(127)}1${']'.repeat(127)}}}`, /line 2: metadata is nested more than 127 levels deep/],
    ['{"id": 5, "vector": [1,2,3], "text": "hello"}', /line 2: unknown field "text"/],
    ['[5, [1,2,3]]', /line 2: expected an object/],
  ]
  const ids = Array.from({ length: 10 }, (_, i) => i)
  const before = await snapshot(db, 'docs', ids)
  for (const [line, pattern] of cases) {
    const file = join(dir, 'case.jsonl')
    writeJsonl(file, [{ id: 0, vector: [9, 9, 9] }, line, { id: 7, vector: [1, 1, 1] }])
    const r = await runCli(['import', 'docs', file, '--data-dir', db, '--quiet'])
    t.is(r.code, 1, `${line.slice(0, 60)}: ${r.stderr}`)
    t.regex(r.stderr, pattern, line.slice(0, 60))
  }
  // Cosine refuses zero vectors, at their line.
  const file = join(dir, 'zero.jsonl')
  writeJsonl(file, [{ id: 1, vector: [1, 0, 0] }, { id: 2, vector: [0, 0, 0] }])
  const z = await runCli(['import', 'cos', file, '--data-dir', db, '--quiet'])
  t.is(z.code, 1)
  t.regex(z.stderr, /zero\.jsonl line 2: the vector is all zeros/)
  // A metadata nesting the engine takes (127 levels) goes in.
  writeJsonl(file, [{ id: 1, vector: [1, 0, 0], metadata: JSON.parse(`{"x": ${'['.repeat(126)}1${']'.repeat(126)}}`) }])
  t.is((await runCli(['import', 'deep', file, '--data-dir', db, '--quiet'])).code, 0)
  t.deepEqual(await snapshot(db, 'docs', ids), before)
})

test('duplicate ids in one file are refused, naming both places', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  await seed(db, 'docs', 60, 2)
  const file = join(dir, 'dup.jsonl')
  writeJsonl(file, [
    { id: 1, vector: [1, 2] },
    { id: 2, vector: [1, 2] },
    { id: 3, vector: [1, 2] },
    { id: '2', vector: [3, 4] },
  ])
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: /dup\.jsonl line 4: id 2 was already given at line 2/ })
})

test('npy: truncated data, wrong dtype, Fortran order, 1-D shape and a bad magic are refused naming the offset and header field', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  await seed(db, 'docs', 60, 4)
  const vs = vectors(10, 4, 5)
  const full = npyBytes([10, 4], f32Bytes(vs))
  const headerEnd = full.length - 160
  const file = join(dir, 'v.npy')

  // Cut inside row 7: the file ends at headerEnd + 7*16 + 5.
  writeFileSync(file, full.subarray(0, headerEnd + 7 * 16 + 5))
  await refusedAndUnchanged(t, file, [], {
    code: 'INVALID_ARGUMENT',
    message: new RegExp(`v\\.npy offset ${headerEnd + 7 * 16 + 5}: file is truncated: it ends inside row 7, which starts at offset ${headerEnd + 112}`),
  })
  writeFileSync(file, npyBytes([10, 4], Buffer.alloc(320), { descr: '<f8' }))
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: /v\.npy offset 10: header field 'descr' is '<f8' \(float64\): only '<f4'/ })
  writeFileSync(file, npyBytes([10, 4], f32Bytes(vs), { descr: '>f4' }))
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: /header field 'descr' is '>f4' \(big-endian float32\)/ })
  writeFileSync(file, npyBytes([10, 4], f32Bytes(vs), { fortran: true }))
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: /header field 'fortran_order' is True/ })
  writeFileSync(file, npyBytes([40], f32Bytes(vs)))
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: /header field 'shape' is \(40,\): a 2-D array/ })
  writeFileSync(file, Buffer.from('not numpy at all'))
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: /v\.npy offset 0: not a \.npy file/ })
  // A NaN names the offset of the component.
  const nan = f32Bytes(vs)
  nan.writeFloatLE(Number.NaN, (3 * 4 + 2) * 4)
  writeFileSync(file, npyBytes([10, 4], nan))
  await refusedAndUnchanged(t, file, [], { code: 'INVALID_ARGUMENT', message: new RegExp(`offset ${headerEnd + 56}: row 3: component 2 is NaN`) })
  // A dimension other than the collection's.
  writeFileSync(file, npyBytes([10, 2], f32Bytes(vectors(10, 2, 1))))
  const r = await runCli(['import', 'docs', file, '--data-dir', db])
  t.is(r.code, 1)
  t.regex(r.stderr, /error \[DIMENSION_MISMATCH\]: .*v\.npy offset 0: header field 'shape' is \(10, 2\) but the collection's dimension is 4/)
})

test('fvecs: a truncated last row and a row declaring another dimension are refused naming the offset', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  await seed(db, 'docs', 60, 4)
  const vs = vectors(20, 4, 6)
  const file = join(dir, 'v.fvecs')
  const full = fvecsBytes(vs) // 20 rows of 20 bytes
  writeFileSync(file, full.subarray(0, 20 * 19 + 9))
  await refusedAndUnchanged(t, file, [], {
    code: 'INVALID_ARGUMENT',
    message: /v\.fvecs offset 389: file is truncated: it ends inside row 19, which starts at offset 380 and needs 20 bytes \(9 are there\)/,
  })
  writeFileSync(file, fvecsBytes(vs, (i) => (i === 12 ? 3 : 4)))
  await refusedAndUnchanged(t, file, [], { code: 'DIMENSION_MISMATCH', message: /v\.fvecs offset 240: row 12 declares dimension 3 but row 0 has 4/ })
  writeFileSync(file, fvecsBytes(vectors(3, 5, 1)))
  const r = await runCli(['import', 'docs', file, '--data-dir', db])
  t.is(r.code, 1)
  t.regex(r.stderr, /error \[DIMENSION_MISMATCH\]: .*v\.fvecs offset 0: row 0 declares dimension 5 but the collection's dimension is 4/)
})

test('an import into an existing collection replaces and adds; an interrupted one (SIGINT) is undone', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  const dim = 8
  await seed(db, 'docs', 1000, dim)
  const probe = [0, 1, 499, 500, 501, 999, 1000, 1500, 5000, 150_000]
  const before = await snapshot(db, 'docs', probe)
  // Ids 500..200499: 500 replace existing rows, the rest are new.
  const n = 200_000
  const r = rng(11)
  const lines: string[] = new Array(n)
  for (let i = 0; i < n; i++) {
    const v = Array.from({ length: dim }, () => Math.fround(r()))
    lines[i] = JSON.stringify({ id: 500 + i, vector: v, metadata: { imported: true } })
  }
  const file = join(dir, 'many.jsonl')
  writeFileSync(file, lines.join('\n') + '\n')
  const run = startCli(['import', 'docs', file, '--data-dir', db, '--batch-size', '500'])
  await run.waitForStderr(/^import: \d+\/200000 rows/m)
  run.child.kill('SIGINT')
  const res = await run.done
  t.is(res.code, 130, res.stderr)
  t.regex(res.stderr, /error \[INTERRUPTED\]: interrupted by SIGINT; (the [\d,]+ rows written were undone|nothing was imported)/)
  t.deepEqual(await snapshot(db, 'docs', probe), before, 'every replaced row restored, every new id deleted')

  // Finished, the same import replaces 500 and adds 199,500.
  const ok = await runCli(['import', 'docs', file, '--data-dir', db, '--batch-size', '10000', '--json', '--durability', 'normal'])
  t.is(ok.code, 0, ok.stderr)
  t.like(JSON.parse(ok.stdout), { rows: n, inserted: n - 500, replaced: 500, created: false })
  const after = await snapshot(db, 'docs', probe)
  t.is(after!.count, 1000 + n - 500)
  t.deepEqual(after!.rows[0], before!.rows[0])
  t.deepEqual((after!.rows[3] as { metadata: unknown }).metadata, { imported: true })
})

test('usage errors exit 2; a missing file or a locked directory exit 1 with the code', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  const file = join(dir, 'a.jsonl')
  writeJsonl(file, [{ id: 1, vector: [1, 2] }])
  const usage = [
    ['import', 'docs'],
    ['import', 'docs', file, '--bogus'],
    ['import', 'docs', file, '--start-id', '5'],
    ['import', 'docs', join(dir, 'a.csv')],
    ['import', 'docs', file, '--batch-size', '0'],
    ['import', 'docs', file, '--metric', 'hamming'],
  ]
  for (const args of usage) {
    const r = await runCli([...args, '--data-dir', db])
    t.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
  }
  t.false(existsSync(db), 'no database created by a usage error')
  const missing = await runCli(['import', 'docs', join(dir, 'nope.jsonl'), '--data-dir', db])
  t.is(missing.code, 1)
  t.regex(missing.stderr, /error \[NOT_FOUND\]: no such file/)
  t.is((await runCli(['import', '--help'])).code, 0)

  const held = await open(db)
  try {
    const r = await runCli(['import', 'docs', file, '--data-dir', db])
    t.is(r.code, 1)
    t.regex(r.stderr, /error \[LOCKED\]: .*is `kyrodb serve` or another program using this data directory/)
  } finally {
    await held.close()
  }
  // An existing collection's dimension wins over --dimension.
  t.is((await runCli(['import', 'docs', file, '--data-dir', db, '--quiet'])).code, 0)
  const r = await runCli(['import', 'docs', file, '--data-dir', db, '--dimension', '3'])
  t.is(r.code, 1)
  t.regex(r.stderr, /error \[DIMENSION_MISMATCH\]: --dimension is 3 but collection 'docs' has dimension 2/)
})

test('string ids: a .jsonl with string ids makes a string-id collection; export and re-import through .jsonl and .npy', async (t) => {
  const dir = fresh()
  const db = join(dir, 'db')
  const file = join(dir, 's.jsonl')
  writeJsonl(file, [
    { id: 'doc-1', vector: [1, 0], metadata: { t: 'a' } },
    { id: 'doc-2', vector: [0, 1] },
    { id: 'ünïcödé "quoted"', vector: [1, 1] },
    { id: '42', vector: [2, 1] },
  ])
  const r = await runCli(['import', 'docs', file, '--data-dir', db, '--metric', 'l2'])
  t.is(r.code, 0, r.stderr)
  const ids = ['doc-1', 'doc-2', 'ünïcödé "quoted"', '42']
  const before = await snapshot(db, 'docs', ids)
  const d = await open(db)
  try {
    const c = d.collection('docs')
    t.is(c.idType, 'string', 'inferred from the first id')
    t.deepEqual((await c.get('doc-1'))!.metadata, { t: 'a' })
    t.is((await c.search([0, 1], { k: 1 }))[0].id, 'doc-2')
    t.deepEqual(Array.from((await c.get('42'))!.vector), [2, 1])
  } finally {
    await d.close()
  }
  // A number in a string-id collection, an empty id and a too-long one name their line.
  for (const [bad, pattern] of [
    [5, /line 2: this collection has string ids/],
    ['', /line 2: id is an empty string/],
    ['x'.repeat(513), /line 2: id is 513 bytes of UTF-8; string ids are at most 512/],
  ] as const) {
    writeJsonl(file, [{ id: 'x', vector: [1, 0] }, { id: bad, vector: [1, 0] }])
    const res = await runCli(['import', 'docs', file, '--data-dir', db])
    t.is(res.code, 1)
    t.regex(res.stderr, pattern)
  }
  t.deepEqual(await snapshot(db, 'docs', ids), before)

  // .jsonl round trip.
  const out = await runCli(['export', 'docs', '--data-dir', db])
  t.is(out.code, 0, out.stderr)
  t.regex(out.stdout, /^\{"id":"doc-1","vector":\[1,0\],"metadata":\{"t":"a"\}\}$/m)
  t.regex(out.stdout, /^\{"id":"42","vector":\[2,1\]\}$/m, 'a numeric-looking string id stays a string')
  writeFileSync(join(dir, 'out.jsonl'), out.stdout)
  const db2 = join(dir, 'db2')
  t.is((await runCli(['import', 'docs', join(dir, 'out.jsonl'), '--data-dir', db2, '--metric', 'l2', '--id-type', 'string', '--quiet'])).code, 0)
  t.deepEqual(await snapshot(db2, 'docs', ids), before)
  // .npy with its ids file (JSON strings, one per line): the id type is taken from it.
  const npy = join(dir, 'out.npy')
  t.is((await runCli(['export', 'docs', npy, '--data-dir', db, '--quiet'])).code, 0)
  const db3 = join(dir, 'db3')
  const back = await runCli(['import', 'docs', npy, '--data-dir', db3, '--metric', 'l2'])
  t.is(back.code, 0, back.stderr)
  const got = await snapshot(db3, 'docs', ids)
  t.deepEqual(
    got!.rows.map((row) => (row as { id: string; vector: number[] }).vector),
    before!.rows.map((row) => (row as { id: string; vector: number[] }).vector),
  )
})
