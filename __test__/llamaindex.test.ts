/**
 * `kyrodb/llamaindex`: the LlamaIndex.TS `BaseVectorStore` over a string-id collection,
 * checked against LlamaIndex's own in-memory `SimpleVectorStore` (from `llamaindex`, on the
 * `@llamaindex/core` it pins): the same nodes, the same queries with every metadata filter
 * operator that has a KyroDB equivalent, alone and combined with `and`/`or` → the same node
 * ids in the same order with the same similarities; MMR mode; delete(refDocId); then a
 * `VectorStoreIndex` built on the store end to end (documents → nodes → retrieve), a reopen
 * from disk, and the unsupported pieces (text_match, other modes) failing clearly.
 */
import test from 'ava'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {
  BaseEmbedding,
  Document,
  NodeRelationship,
  Settings,
  SimpleVectorStore,
  TextNode,
  VectorStoreIndex,
  VectorStoreQueryMode,
  storageContextFromDefaults,
  type MetadataFilter,
  type MetadataFilters,
} from 'llamaindex'
import { open, type Database } from '../src-ts/index.js'
import { KyroDBVectorStore, toKyroDBFilter } from '../src-ts/integrations/llamaindex.js'

/** Deterministic bag-of-letters embeddings (26 dimensions), for nodes and queries. */
class LetterEmbedding extends BaseEmbedding {
  constructor() {
    super()
  }
  async getTextEmbedding(text: string): Promise<number[]> {
    const v = new Array<number>(26).fill(0)
    for (const ch of text.toLowerCase()) {
      const c = ch.charCodeAt(0) - 97
      if (c >= 0 && c < 26) v[c] += 1
    }
    v[0] += 0.001 // never the zero vector
    return v
  }
}

const embedModel = new LetterEmbedding()

function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0
    return s / 2 ** 32
  }
}

const TOPICS = ['science', 'history', 'art']
const TAGS = ['red', 'green', 'blue', 'yellow']

/** 48 nodes with random 8-d embeddings, 6 source documents, and metadata for every operator. */
function nodes(): TextNode[] {
  const r = rng(42)
  const out: TextNode[] = []
  for (let i = 0; i < 48; i++) {
    const metadata: Record<string, unknown> = {
      topic: TOPICS[i % 3],
      n: i,
      tags: [TAGS[i % 4], TAGS[(i * 3 + 1) % 4]],
    }
    // is_empty: absent on some rows, null or '' on others.
    if (i % 5 === 1) metadata.note = null
    else if (i % 5 === 2) metadata.note = ''
    else if (i % 5 !== 3) metadata.note = `note ${i}`
    out.push(
      new TextNode({
        id_: `node-${String(i).padStart(2, '0')}`,
        text: `text of node ${i}`,
        metadata,
        embedding: Array.from({ length: 8 }, () => r() * 2 - 1),
        relationships: { [NodeRelationship.SOURCE]: { nodeId: `doc-${i % 6}`, metadata: {} } },
      }),
    )
  }
  return out
}

async function memoryDb(t: { teardown: (f: () => Promise<void>) => void }): Promise<Database> {
  const db = await open()
  t.teardown(() => db.close())
  return db
}

const f = (key: string, operator: MetadataFilter['operator'], value?: MetadataFilter['value']): MetadataFilter =>
  value === undefined ? { key, operator } : { key, operator, value }

const CASES: [string, MetadataFilters | undefined][] = [
  ['none', undefined],
  ['==', { filters: [f('topic', '==', 'art')] }],
  ['== number', { filters: [f('n', '==', 7)] }],
  ['!=', { filters: [f('topic', '!=', 'art')] }],
  ['!= on a sometimes-absent field', { filters: [f('note', '!=', 'note 0')] }],
  ['>', { filters: [f('n', '>', 30)] }],
  ['>=', { filters: [f('n', '>=', 30)] }],
  ['<', { filters: [f('n', '<', 10)] }],
  ['<=', { filters: [f('n', '<=', 10)] }],
  ['in', { filters: [f('topic', 'in', ['art', 'history'])] }],
  ['in numbers', { filters: [f('n', 'in', [1, 2, 3, 40])] }],
  ['nin', { filters: [f('topic', 'nin', ['art'])] }],
  ['nin on a sometimes-absent field', { filters: [f('note', 'nin', ['note 0', 'note 5'])] }],
  ['any', { filters: [f('tags', 'any', ['red', 'blue'])] }],
  ['all', { filters: [f('tags', 'all', ['red', 'green'])] }],
  ['contains', { filters: [f('tags', 'contains', 'yellow')] }],
  ['is_empty', { filters: [f('note', 'is_empty')] }],
  ['and', { filters: [f('topic', '==', 'science'), f('n', '>=', 12), f('tags', 'contains', 'green')], condition: 'and' }],
  ['or', { filters: [f('topic', '==', 'art'), f('n', '<', 6)], condition: 'or' }],
  ['matches nothing', { filters: [f('topic', '==', 'none')] }],
]

test('query with every mappable filter operator equals SimpleVectorStore', async (t) => {
  const db = await memoryDb(t)
  const store = new KyroDBVectorStore({ db, embedModel })
  const ref = new SimpleVectorStore({ embedModel })
  const all = nodes()
  t.deepEqual(await store.add(all), all.map((n) => n.id_))
  await ref.add(all)
  const r = rng(7)
  for (let qi = 0; qi < 5; qi++) {
    const queryEmbedding = Array.from({ length: 8 }, () => r() * 2 - 1)
    for (const [name, filters] of CASES) {
      for (const similarityTopK of [1, 5, 48]) {
        const query = { queryEmbedding, similarityTopK, mode: VectorStoreQueryMode.DEFAULT, filters }
        const want = await ref.query(query)
        const got = await store.query(query)
        t.deepEqual(got.ids, want.ids, `${name} k=${similarityTopK}`)
        if (name !== 'matches nothing') t.true(want.ids.length > 0, `${name} matches something`)
        got.similarities.forEach((s, i) => t.true(Math.abs(s - want.similarities[i]) < 1e-5, `${name}: ${s} vs ${want.similarities[i]}`))
        t.deepEqual(
          got.nodes?.map((n) => [n.id_, (n as TextNode).text, n.metadata]),
          got.ids.map((id) => {
            const node = all.find((x) => x.id_ === id) as TextNode
            return [id, node.text, node.metadata]
          }),
        )
      }
    }
  }
})

test('MMR mode equals SimpleVectorStore when every match is a candidate', async (t) => {
  const db = await memoryDb(t)
  const store = new KyroDBVectorStore({ db, embedModel })
  const ref = new SimpleVectorStore({ embedModel })
  const all = nodes().slice(0, 12)
  await store.add(all)
  await ref.add(all)
  const r = rng(9)
  for (let qi = 0; qi < 5; qi++) {
    const queryEmbedding = Array.from({ length: 8 }, () => r() * 2 - 1)
    for (const [name, filters] of CASES.slice(0, 4)) {
      // 4 × similarityTopK ≥ 12: the candidates are every match, as in SimpleVectorStore.
      const query = { queryEmbedding, similarityTopK: 3, mode: VectorStoreQueryMode.MMR, filters }
      const want = await ref.query(query)
      const got = await store.query(query)
      t.deepEqual(got.ids, want.ids, name)
      got.similarities.forEach((s, i) => t.true(Math.abs(s - want.similarities[i]) < 1e-5))
    }
  }
})

test('delete(refDocId) removes the nodes of that source document, as SimpleVectorStore does', async (t) => {
  const db = await memoryDb(t)
  const store = new KyroDBVectorStore({ db, embedModel })
  const ref = new SimpleVectorStore({ embedModel })
  await t.notThrowsAsync(store.delete('doc-0'), 'no collection yet: nothing to delete')
  const all = nodes()
  await store.add(all)
  await ref.add(all)
  await store.delete('doc-2')
  await ref.delete('doc-2')
  await store.delete('no-such-doc')
  t.is(store.client()?.count(), 40)
  const query = { queryEmbedding: all[2].getEmbedding(), similarityTopK: 48, mode: VectorStoreQueryMode.DEFAULT }
  t.deepEqual((await store.query(query)).ids, (await ref.query(query)).ids)
  t.false((await store.query(query)).ids.includes('node-02'))
  // Re-adding a node id replaces it.
  const moved = new TextNode({ id_: 'node-00', text: 'moved', embedding: all[2].getEmbedding(), metadata: { topic: 'moved' } })
  await store.add([moved])
  t.is(store.client()?.count(), 40)
  const top = await store.query({ ...query, similarityTopK: 1, filters: { filters: [f('topic', '==', 'moved')] } })
  t.deepEqual(top.ids, ['node-00'])
  t.is((top.nodes?.[0] as TextNode).text, 'moved')
})

test('docIds restrict a query to those nodes', async (t) => {
  const db = await memoryDb(t)
  const store = new KyroDBVectorStore({ db, embedModel })
  const ref = new SimpleVectorStore({ embedModel })
  const all = nodes()
  await store.add(all)
  await ref.add(all)
  const docIds = ['node-03', 'node-10', 'node-11', 'node-40', 'missing']
  const query = { queryEmbedding: all[11].getEmbedding(), similarityTopK: 3, mode: VectorStoreQueryMode.DEFAULT, docIds }
  const want = await ref.query(query)
  const got = await store.query(query)
  t.deepEqual(got.ids, want.ids)
  got.similarities.forEach((s, i) => t.true(Math.abs(s - want.similarities[i]) < 1e-5))
  await t.throwsAsync(store.query({ ...query, filters: { filters: [f('n', '>', 1)] } }), { code: 'INVALID_ARGUMENT' })
})

test('a VectorStoreIndex on the store: documents in, nodes with text out, filters, reopen from disk', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-llamaindex-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  // The index embeds queries with Settings.embedModel (this file runs in a process of its own).
  Settings.embedModel = embedModel
  let db = await open(dir)
  const vectorStore = new KyroDBVectorStore({ db, collectionName: 'docs' })
  const storageContext = await storageContextFromDefaults({ vectorStore })
  const documents = [
    new Document({ id_: 'cats', text: 'cats purr and sleep all day', metadata: { animal: 'cat', legs: 4 } }),
    new Document({ id_: 'birds', text: 'birds fly south in winter', metadata: { animal: 'bird', legs: 2 } }),
    new Document({ id_: 'fish', text: 'fish swim in water', metadata: { animal: 'fish', legs: 0 } }),
  ]
  const index = await VectorStoreIndex.fromDocuments(documents, { storageContext })
  t.is(vectorStore.client()?.count(), 3)
  const retriever = index.asRetriever({ similarityTopK: 1 })
  const [hit] = await retriever.retrieve({ query: 'birds fly' })
  t.is((hit.node as TextNode).text, 'birds fly south in winter')
  t.is(hit.node.metadata.animal, 'bird')
  const filtered = index.asRetriever({ similarityTopK: 3, filters: { filters: [f('legs', '>', 1)] } })
  const legs = await filtered.retrieve({ query: 'birds fly' })
  t.deepEqual(legs.map((h) => h.node.metadata.animal).sort(), ['bird', 'cat'])
  await index.deleteRefDoc('birds')
  t.is(vectorStore.client()?.count(), 2)
  await db.close()

  db = await open(dir)
  t.teardown(() => db.close())
  const reopened = new KyroDBVectorStore({ db, collectionName: 'docs' })
  const again = await VectorStoreIndex.fromVectorStore(reopened)
  const [cat] = await again.asRetriever({ similarityTopK: 1 }).retrieve({ query: 'cats purr' })
  t.is((cat.node as TextNode).text, 'cats purr and sleep all day')
  t.is(cat.node.sourceNode?.nodeId, 'cats')
})

test('filter mapping, and what has no KyroDB equivalent', async (t) => {
  t.is(toKyroDBFilter(undefined), undefined)
  t.is(toKyroDBFilter({ filters: [] }), undefined)
  t.deepEqual(toKyroDBFilter({ filters: [f('a', '==', 1)] }), { a: { $eq: 1 } })
  t.deepEqual(toKyroDBFilter({ filters: [f('a', '!=', 'x'), f('b', 'all', ['p', 'q'])], condition: 'or' }), {
    $or: [{ $and: [{ a: { $exists: true } }, { a: { $ne: 'x' } }] }, { $and: [{ b: { $eq: 'p' } }, { b: { $eq: 'q' } }] }],
  })
  t.deepEqual(toKyroDBFilter({ filters: [{ filters: [f('a', 'in', [1, 2]), f('b', '<=', 3)], condition: 'or' } as never, f('c', 'contains', 'z')] }), {
    $and: [{ $or: [{ a: { $in: [1, 2] } }, { b: { $lte: 3 } }] }, { c: { $eq: 'z' } }],
  })
  t.throws(() => toKyroDBFilter({ filters: [f('a', 'text_match', 'x')] }), { code: 'INVALID_FILTER', message: /text_match/ })
  t.throws(() => toKyroDBFilter({ filters: [f('a', '>', 'x')] }), { code: 'INVALID_FILTER', message: /numbers only/ })
  t.throws(() => toKyroDBFilter({ filters: [f('a', 'in', 'x')] }), { code: 'INVALID_FILTER', message: /array/ })
  t.throws(() => toKyroDBFilter({ filters: [f('a', '==', ['x'])] }), { code: 'INVALID_FILTER' })
  t.throws(() => toKyroDBFilter({ filters: [f('a', '==', 1)], condition: 'xor' as never }), { code: 'INVALID_FILTER' })

  const db = await memoryDb(t)
  const store = new KyroDBVectorStore({ db, embedModel })
  await store.add(nodes().slice(0, 3))
  const q = { queryEmbedding: nodes()[0].getEmbedding(), similarityTopK: 2 }
  await t.throwsAsync(store.query({ ...q, mode: VectorStoreQueryMode.HYBRID }), { code: 'INVALID_ARGUMENT', message: /hybrid/ })
  await t.throwsAsync(store.query({ ...q, mode: VectorStoreQueryMode.DEFAULT, filters: { filters: [f('topic', 'text_match', 'sci')] } }), {
    code: 'INVALID_FILTER',
  })
  await db.createCollection('numeric', { dimension: 8 })
  await t.throwsAsync(new KyroDBVectorStore({ db, collectionName: 'numeric', embedModel }).add(nodes().slice(0, 1)), {
    code: 'INVALID_ARGUMENT',
    message: /idType: 'string'/,
  })
})
