/**
 * Model-based property test: random sequences of upsert / delete / get / count / search
 * over one collection, checked after every step against a plain JavaScript model.
 *
 * Vectors have small integer components (-3..3), so under l2 and ip every distance is an
 * integer that f32 represents exactly: results must match the brute-force model exactly,
 * order included (ties by smaller id). Under cosine the stored form is modelled bit for
 * bit (the engine normalises each component as f32(x / norm), with x and norm in f64), distances
 * are compared with a tolerance, and order is checked wherever the model separates
 * distances by more than that tolerance.
 */
import test from 'ava'
import fc from 'fast-check'
import { deepStrictEqual, ok, strictEqual } from 'node:assert/strict'
import { open, type Collection, type Id, type Metadata, type Metric, type SearchResult } from '../src-ts/index.js'

const ID_POOL = 20
const TOL = 1e-5

type IdForm = 'number' | 'bigint' | 'u64'
type VecForm = 'flat' | 'f32[]' | 'number[][]'

interface Row {
  id: number
  vector: number[]
  metadata: Metadata | undefined
}

type Op =
  | { type: 'upsert'; rows: Row[]; idForm: IdForm; vecForm: VecForm; withMeta: boolean }
  | { type: 'delete'; ids: number[]; idForm: IdForm }
  | { type: 'get'; id: number; asBigint: boolean }
  | { type: 'count' }
  | { type: 'search'; query: number[]; other: number[]; k: number }

interface Scenario {
  dim: number
  metric: Metric
  ops: Op[]
}

interface Stored {
  vector: Float32Array
  metadata: Metadata | undefined
}

/** The engine's stored form: unchanged for l2/ip; for cosine f32(x / ‖x‖₆₄). */
function prepare(metric: Metric, v: number[]): Float32Array {
  const out = Float32Array.from(v)
  if (metric === 'cosine') {
    let s = 0
    for (const x of out) s += x * x
    const norm = Math.sqrt(s)
    for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i] / norm)
  }
  return out
}

function distance(metric: Metric, q: Float32Array, v: Float32Array): number {
  let acc = 0
  if (metric === 'l2') {
    for (let i = 0; i < q.length; i++) acc += (q[i] - v[i]) ** 2
    return acc
  }
  for (let i = 0; i < q.length; i++) acc += q[i] * v[i]
  return 1 - acc
}

function ids(list: number[], form: IdForm): Id[] | BigUint64Array {
  if (form === 'number') return list
  if (form === 'bigint') return list.map(BigInt)
  return BigUint64Array.from(list.map(BigInt))
}

function vectors(rows: Row[], form: VecForm, dim: number): Float32Array | Float32Array[] | number[][] {
  if (form === 'number[][]') return rows.map((r) => r.vector)
  if (form === 'f32[]') return rows.map((r) => Float32Array.from(r.vector))
  const flat = new Float32Array(rows.length * dim)
  rows.forEach((r, i) => flat.set(r.vector, i * dim))
  return flat
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => Object.is(x, b[i]))
}

function expectMetadata(hit: { metadata?: Metadata }, m: Metadata | undefined, where: string): void {
  if (m === undefined) ok(!('metadata' in hit), `${where}: unexpected metadata ${JSON.stringify(hit.metadata)}`)
  else deepStrictEqual(hit.metadata, m, `${where}: metadata`)
}

/** Check one result list against the model. */
function checkSearch(metric: Metric, model: Map<number, Stored>, query: number[], k: number, got: SearchResult[]): void {
  const q = prepare(metric, query)
  const all = [...model.entries()].map(([id, s]) => ({ id, d: distance(metric, q, s.vector), s }))
  all.sort((a, b) => a.d - b.d || a.id - b.id)
  const n = Math.min(k, model.size)
  strictEqual(got.length, n, 'result length')
  for (const h of got) strictEqual(typeof h.id, 'number', 'small ids come back as numbers')

  if (metric !== 'cosine') {
    // Exact arithmetic: exact distances and exact order.
    deepStrictEqual(
      got.map((h) => [h.id, h.distance]),
      all.slice(0, n).map((e) => [e.id, e.d]),
      `query ${JSON.stringify(query)} k=${k}`,
    )
  } else {
    const byId = new Map(all.map((e) => [e.id, e]))
    const returned = new Set<number>()
    got.forEach((h, i) => {
      const e = byId.get(h.id as number)
      ok(e, `returned id ${String(h.id)} is not stored`)
      ok(!returned.has(e.id), `id ${e.id} returned twice`)
      returned.add(e.id)
      ok(Math.abs(h.distance - e.d) <= TOL, `id ${e.id}: distance ${h.distance}, model ${e.d}`)
      if (i > 0) {
        const p = got[i - 1]
        // The engine sorts by its own f32 distance, then by id.
        ok(p.distance < h.distance || (p.distance === h.distance && (p.id as number) < (h.id as number)), `order at ${i}`)
      }
    })
    for (let i = 0; i < got.length; i++) {
      const a = byId.get(got[i].id as number)!
      for (let j = i + 1; j < got.length; j++) {
        const b = byId.get(got[j].id as number)!
        ok(a.d <= b.d + TOL, `id ${a.id} (model ${a.d}) ranked before id ${b.id} (model ${b.d})`)
        if (sameVector(a.s.vector, b.s.vector)) ok(a.id < b.id, `identical vectors ${a.id}, ${b.id} not ordered by id`)
      }
    }
    // Nothing left out that is clearly closer than what was returned.
    for (const e of all) {
      if (returned.has(e.id)) continue
      for (const h of got) {
        const r = byId.get(h.id as number)!
        ok(e.d >= r.d - TOL, `id ${e.id} (model ${e.d}) left out but id ${r.id} (model ${r.d}) returned`)
        if (sameVector(e.s.vector, r.s.vector)) ok(e.id > r.id, `id ${e.id} left out for identical id ${r.id}`)
      }
    }
  }
  got.forEach((h) => expectMetadata(h, model.get(h.id as number)!.metadata, `search hit ${String(h.id)}`))
}

async function run(c: Collection, s: Scenario): Promise<void> {
  const { dim, metric } = s
  const model = new Map<number, Stored>()
  for (const op of s.ops) {
    switch (op.type) {
      case 'upsert': {
        const meta = op.withMeta ? op.rows.map((r) => r.metadata) : undefined
        const n = await c.upsert(ids(op.rows.map((r) => r.id), op.idForm), vectors(op.rows, op.vecForm, dim), meta)
        strictEqual(n, op.rows.length, 'upsert returns the batch size')
        for (const r of op.rows) {
          model.set(r.id, { vector: prepare(metric, r.vector), metadata: op.withMeta ? r.metadata : undefined })
        }
        break
      }
      case 'delete': {
        const present = new Set(op.ids.filter((id) => model.has(id)))
        strictEqual(await c.delete(ids(op.ids, op.idForm)), present.size, `delete ${JSON.stringify(op.ids)}`)
        for (const id of present) model.delete(id)
        break
      }
      case 'get': {
        const got = await c.get(op.asBigint ? BigInt(op.id) : op.id)
        const want = model.get(op.id)
        if (want === undefined) {
          strictEqual(got, null, `get ${op.id}`)
        } else {
          ok(got !== null, `get ${op.id} returned null`)
          strictEqual(got.id, op.id)
          ok(got.vector instanceof Float32Array)
          ok(sameVector(got.vector, want.vector), `get ${op.id}: ${Array.from(got.vector)} vs model ${Array.from(want.vector)}`)
          expectMetadata(got, want.metadata, `get ${op.id}`)
        }
        break
      }
      case 'count':
        strictEqual(c.count(), model.size, 'count')
        break
      case 'search': {
        const got = await c.search(op.query, { k: op.k })
        checkSearch(metric, model, op.query, op.k, got)
        deepStrictEqual(c.searchSync(Float32Array.from(op.query), { k: op.k }), got, 'searchSync ≠ search')
        const batch = await c.searchBatch([op.query, op.other], { k: op.k })
        strictEqual(batch.length, 2)
        deepStrictEqual(batch[0], got, 'searchBatch[0] ≠ search')
        checkSearch(metric, model, op.other, op.k, batch[1])
        deepStrictEqual(batch[1], await c.search(op.other, { k: op.k }), 'searchBatch[1] ≠ search')
        break
      }
    }
  }
  // Final full comparison over the whole id pool.
  strictEqual(c.count(), model.size, 'final count')
  for (let id = 0; id <= ID_POOL; id++) {
    const got = await c.get(id)
    const want = model.get(id)
    if (want === undefined) strictEqual(got, null, `final get ${id}`)
    else ok(got !== null && sameVector(got.vector, want.vector), `final get ${id}`)
  }
}

const scenario: fc.Arbitrary<Scenario> = fc
  .record({ dim: fc.integer({ min: 1, max: 8 }), metric: fc.constantFrom<Metric>('l2', 'cosine', 'ip') })
  .chain(({ dim, metric }) => {
    const anyVec = fc.array(fc.integer({ min: -3, max: 3 }), { minLength: dim, maxLength: dim })
    const nonZero = anyVec.filter((v) => v.some((x) => x !== 0))
    const vec = metric === 'cosine' ? nonZero : anyVec
    const id = fc.integer({ min: 0, max: ID_POOL })
    const idForm = fc.constantFrom<IdForm>('number', 'bigint', 'u64')
    const metadata = fc.option(
      fc.record(
        { tag: fc.string({ maxLength: 4 }), n: fc.integer(), list: fc.array(fc.boolean(), { maxLength: 2 }) },
        { noNullPrototype: true },
      ),
      { nil: undefined },
    )
    const row: fc.Arbitrary<Row> = fc.record({ id, vector: vec, metadata })
    const op: fc.Arbitrary<Op> = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.record({
          type: fc.constant('upsert' as const),
          rows: fc.uniqueArray(row, { minLength: 1, maxLength: 5, selector: (r) => r.id }),
          idForm,
          vecForm: fc.constantFrom<VecForm>('flat', 'f32[]', 'number[][]'),
          withMeta: fc.boolean(),
        }),
      },
      { weight: 2, arbitrary: fc.record({ type: fc.constant('delete' as const), ids: fc.array(id, { maxLength: 5 }), idForm }) },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('get' as const), id, asBigint: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ type: fc.constant('count' as const) }) },
      {
        weight: 3,
        arbitrary: fc.record({ type: fc.constant('search' as const), query: vec, other: vec, k: fc.integer({ min: 1, max: 10 }) }),
      },
    )
    return fc.record({ dim: fc.constant(dim), metric: fc.constant(metric), ops: fc.array(op, { minLength: 5, maxLength: 40, size: 'max' }) })
  })

test('engine agrees with a brute-force model on random command sequences', async (t) => {
  let searches = 0
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      const db = await open()
      try {
        const c = await db.createCollection('m', { dimension: s.dim, metric: s.metric })
        await run(c, s)
        searches += s.ops.filter((o) => o.type === 'search').length
      } finally {
        await db.close()
      }
    }),
    { numRuns: Number(process.env.KYRODB_MODEL_RUNS ?? 200) },
  )
  t.log(`${searches} searches checked`)
  t.true(searches > 500)
})

test('model sanity: the cosine stored form has unit length and the checker rejects a wrong order', (t) => {
  const v = prepare('cosine', [1, 2, 2])
  t.deepEqual(Array.from(v), [Math.fround(1 / 3), Math.fround(2 / 3), Math.fround(2 / 3)])
  const model = new Map<number, Stored>([
    [1, { vector: prepare('l2', [0]), metadata: undefined }],
    [2, { vector: prepare('l2', [1]), metadata: undefined }],
  ])
  t.notThrows(() => checkSearch('l2', model, [0], 2, [{ id: 1, distance: 0 }, { id: 2, distance: 1 }]))
  t.throws(() => checkSearch('l2', model, [0], 2, [{ id: 2, distance: 1 }, { id: 1, distance: 0 }]))
  t.throws(() => checkSearch('l2', model, [0], 1, [{ id: 2, distance: 1 }]))
  const cos = new Map<number, Stored>([
    [1, { vector: prepare('cosine', [1, 0]), metadata: undefined }],
    [2, { vector: prepare('cosine', [0, 1]), metadata: undefined }],
    [3, { vector: prepare('cosine', [0, 2]), metadata: undefined }],
  ])
  t.notThrows(() => checkSearch('cosine', cos, [1, 0], 2, [{ id: 1, distance: 0 }, { id: 2, distance: 1 }]))
  // identical stored vectors must come by id; a far id must not displace a near one
  t.throws(() => checkSearch('cosine', cos, [1, 0], 2, [{ id: 1, distance: 0 }, { id: 3, distance: 1 }]))
  t.throws(() => checkSearch('cosine', cos, [0, 1], 1, [{ id: 1, distance: 1 }]))
})
