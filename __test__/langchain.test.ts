/**
 * `kyrodb/langchain`: the LangChain.js `VectorStore` over a string-id collection, checked
 * against `@langchain/core`'s own in-memory store (`FakeVectorStore` in
 * `@langchain/core/utils/testing`, the 1.x successor of `MemoryVectorStore`, which moved out
 * of `langchain` 1.x) with its `SyntheticEmbeddings` and `FakeEmbeddings`: same documents, same
 * queries, same filters (a KyroDB filter here, the equivalent predicate there) → same
 * documents in the same order with the same cosine scores. Then LangChain's documented id
 * semantics (an existing id is overwritten, deleting a missing id does not throw, missing
 * ids return nothing), MMR against LangChain's `maximalMarginalRelevance` over the reference
 * store's candidates, fromTexts/fromDocuments, a retriever, and a reopen from disk.
 */
import test from 'ava'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Document } from '@langchain/core/documents'
import { maximalMarginalRelevance } from '@langchain/core/utils/math'
import { FakeEmbeddings, FakeVectorStore, SyntheticEmbeddings } from '@langchain/core/utils/testing'
import { open, KyroDBError, type Database, type Filter } from '../src-ts/index.js'
import { KyroDBVectorStore } from '../src-ts/integrations/langchain.js'

const WORDS = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima', 'mike']
const TOPICS = ['science', 'history', 'art']

/** 60 documents with distinct SyntheticEmbeddings vectors, ids, and metadata to filter on. */
function corpus(): Document[] {
  const docs: Document[] = []
  for (let i = 0; docs.length < 60; i++) {
    const text = `${WORDS[i % WORDS.length]} ${WORDS[(i * 7 + 3) % WORDS.length]} ${WORDS[(i * 5 + 1) % WORDS.length]} number ${'x'.repeat(i % 11)}`
    docs.push(
      new Document({
        id: `doc-${String(i).padStart(3, '0')}`,
        pageContent: text,
        metadata: { topic: TOPICS[i % 3], n: i, tags: [WORDS[i % 4], WORDS[(i + 1) % 4]], nested: { even: i % 2 === 0 } },
      }),
    )
  }
  return docs
}

const embeddings = new SyntheticEmbeddings({ vectorSize: 16 })

async function memoryDb(t: { teardown: (f: () => Promise<void>) => void }): Promise<Database> {
  const db = await open()
  t.teardown(() => db.close())
  return db
}

/** The reference store's `k` best for a vector, sorted by score (ties by content), with ids. */
async function reference(ref: FakeVectorStore, ids: Map<string, string>, query: number[], k: number, pred?: (d: Document) => boolean) {
  // FakeVectorStore's comparator (`a > b ? -1 : 0`) is not a total order, so take every
  // match and sort here.
  const all = await ref.similaritySearchVectorWithScore(query, ref.memoryVectors.length, pred)
  return all
    .map(([doc, score]) => ({ id: ids.get(doc.pageContent) as string, text: doc.pageContent, metadata: doc.metadata, score }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
    .slice(0, k)
}

const FILTERS: [string, Filter | undefined, ((d: Document) => boolean) | undefined][] = [
  ['no filter', undefined, undefined],
  ['object equality', { topic: 'science' }, (d) => d.metadata.topic === 'science'],
  ['string form range', 'n >= 10 AND n < 25', (d) => d.metadata.n >= 10 && d.metadata.n < 25],
  ['$or and $in', { $or: [{ topic: { $in: ['art'] } }, { n: { $lt: 5 } }] }, (d) => d.metadata.topic === 'art' || d.metadata.n < 5],
  ['array contains', { tags: 'bravo' }, (d) => d.metadata.tags.includes('bravo')],
  ['nested path', { 'nested.even': true, topic: { $ne: 'art' } }, (d) => d.metadata.nested.even === true && d.metadata.topic !== 'art'],
  ['matches nothing', { topic: 'none' }, () => false],
]

test('similarity search with KyroDB filters equals the in-memory store (SyntheticEmbeddings)', async (t) => {
  const db = await memoryDb(t)
  const docs = corpus()
  const vectors = await embeddings.embedDocuments(docs.map((d) => d.pageContent))
  t.is(new Set(vectors.map((v) => v.join())).size, docs.length, 'the corpus has distinct vectors')
  const store = new KyroDBVectorStore(embeddings, { db, collectionName: 'lc' })
  const ids = await store.addDocuments(docs)
  t.deepEqual(ids, docs.map((d) => d.id))
  const ref = new FakeVectorStore(embeddings)
  await ref.addDocuments(docs)
  const idOf = new Map(docs.map((d) => [d.pageContent, d.id as string]))

  for (const query of ['alpha bravo number', 'golf hotel india', 'mike number xxxxxxx', 'delta']) {
    const q = await embeddings.embedQuery(query)
    for (const [name, filter, pred] of FILTERS) {
      for (const k of [1, 4, 60]) {
        const want = await reference(ref, idOf, q, k, pred)
        const got = await store.similaritySearchVectorWithScore(q, k, filter)
        t.is(got.length, want.length, `${query} / ${name} / k=${k}`)
        if (name !== 'matches nothing') t.true(want.length > 0, `${name} matches something`)
        got.forEach(([doc, score], i) => {
          t.true(Math.abs(score - want[i].score) < 1e-5, `${query} / ${name} / k=${k} / #${i}: score ${score} vs ${want[i].score}`)
          t.is(doc.id, want[i].id)
          t.is(doc.pageContent, want[i].text)
          t.deepEqual(doc.metadata, want[i].metadata)
        })
      }
    }
    // The string-query entry points go through embedQuery and the same search.
    const viaText = await store.similaritySearch(query, 3, { topic: 'history' })
    const want = await reference(ref, idOf, q, 3, (d) => d.metadata.topic === 'history')
    t.deepEqual(
      viaText.map((d) => d.pageContent),
      want.map((w) => w.text),
    )
  }
})

test('FakeEmbeddings (every vector equal): every document scores 1', async (t) => {
  const db = await memoryDb(t)
  const fake = new FakeEmbeddings()
  const store = await KyroDBVectorStore.fromTexts(['c', 'a', 'b'], [{ i: 0 }, { i: 1 }, { i: 2 }], fake, { db })
  const ref = await FakeVectorStore.fromTexts(['c', 'a', 'b'], [{ i: 0 }, { i: 1 }, { i: 2 }], fake)
  const got = await store.similaritySearchWithScore('anything', 3)
  const want = await ref.similaritySearchWithScore('anything', 3)
  t.is(got.length, 3)
  for (const [, score] of [...got, ...want]) t.true(Math.abs(score - 1) < 1e-6)
  t.deepEqual(got.map(([d]) => d.pageContent).sort(), want.map(([d]) => d.pageContent).sort())
  const ids = got.map(([d]) => d.id as string)
  t.true(ids.every((id) => /^[0-9a-f-]{36}$/.test(id)), 'random UUIDs when documents have no id')
  t.is(store.collection?.name, 'langchain')
  t.is(store.collection?.idType, 'string')
})

test('ids: an existing id is overwritten, deleting a missing id does not throw, missing ids return nothing', async (t) => {
  const db = await memoryDb(t)
  const store = new KyroDBVectorStore(embeddings, { db })
  // Nothing stored yet (the collection does not exist): reads are empty, deletes are no-ops.
  t.deepEqual(await store.getByIds(['nope']), [])
  t.deepEqual(await store.similaritySearch('alpha', 2), [])
  await t.notThrowsAsync(store.delete({ ids: ['nope'] }))

  const ids = await store.addDocuments([
    new Document({ pageContent: 'alpha one', metadata: { v: 1 } }),
    new Document({ pageContent: 'bravo two', metadata: { v: 2 } }),
  ], { ids: ['a', 'b'] })
  t.deepEqual(ids, ['a', 'b'])
  await store.addDocuments([new Document({ id: 'a', pageContent: 'charlie three', metadata: { v: 3 } })])
  t.is(store.collection?.count(), 2, 'adding an existing id replaces it')
  const [a] = await store.getByIds(['a'])
  t.is(a.pageContent, 'charlie three')
  t.deepEqual(a.metadata, { v: 3 })
  t.is(a.id, 'a')
  const [top] = await store.similaritySearch('charlie three', 1)
  t.is(top.id, 'a')

  // One batch naming an id twice: the last one wins, as if added one at a time.
  await store.addVectors(
    [await embeddings.embedQuery('delta'), await embeddings.embedQuery('echo')],
    [new Document({ pageContent: 'delta', metadata: {} }), new Document({ pageContent: 'echo', metadata: {} })],
    { ids: ['d', 'd'] },
  )
  t.is((await store.getByIds(['d']))[0].pageContent, 'echo')

  // getByIds: found ones in the order asked, missing ones left out.
  t.deepEqual(
    (await store.getByIds(['d', 'missing', 'b', 'a'])).map((d) => [d.id, d.pageContent]),
    [
      ['d', 'echo'],
      ['b', 'bravo two'],
      ['a', 'charlie three'],
    ],
  )
  await t.notThrowsAsync(store.delete({ ids: ['missing', 'b'] }))
  t.deepEqual((await store.getByIds(['a', 'b', 'd'])).map((d) => d.id), ['a', 'd'])
  await store.delete({ filter: { v: 3 } })
  t.deepEqual((await store.getByIds(['a', 'b', 'd'])).map((d) => d.id), ['d'])
  await t.throwsAsync(store.delete({}), { instanceOf: KyroDBError, message: /ids.*filter/ })
})

test('delete by filter removes exactly the matching documents, past one page of 10,000', async (t) => {
  const db = await memoryDb(t)
  const store = new KyroDBVectorStore(new FakeEmbeddings(), { db, index: false })
  const n = 12_000 // 10,800 to delete: more than one search page
  const docs = Array.from({ length: n }, (_, i) => new Document({ pageContent: `d${i}`, metadata: { drop: i % 10 !== 0 } }))
  await store.addVectors(
    docs.map(() => [0.1, 0.2, 0.3, 0.4]),
    docs,
    { ids: docs.map((_, i) => `id-${i}`) },
  )
  await store.delete({ filter: { drop: true } })
  t.is(store.collection?.count(), 1200)
  const left = await store.similaritySearch('x', 10_000)
  t.is(left.length, 1200)
  t.true(left.every((d) => d.metadata.drop === false))
})

test('maxMarginalRelevanceSearch equals LangChain maximalMarginalRelevance over the same candidates', async (t) => {
  const db = await memoryDb(t)
  const docs = corpus()
  const store = await KyroDBVectorStore.fromDocuments(docs, embeddings, { db })
  const ref = await FakeVectorStore.fromDocuments(docs, embeddings)
  const idOf = new Map(docs.map((d) => [d.pageContent, d.id as string]))
  const vectorOf = new Map(ref.memoryVectors.map((m) => [m.content, m.embedding]))
  for (const [query, k, fetchK, lambda] of [
    ['alpha bravo number', 4, 20, 0.5],
    ['golf hotel', 5, 30, 0.0],
    ['kilo lima mike', 3, 10, 1.0],
    ['echo', 6, 60, 0.3],
  ] as const) {
    const q = await embeddings.embedQuery(query)
    for (const [name, filter, pred] of FILTERS.slice(0, 4)) {
      const candidates = await reference(ref, idOf, q, fetchK, pred)
      const picked = candidates.length === 0 ? [] : maximalMarginalRelevance(q, candidates.map((c) => vectorOf.get(c.text) as number[]), lambda, Math.min(k, candidates.length))
      const got = await store.maxMarginalRelevanceSearch(query, { k, fetchK, lambda, filter })
      t.deepEqual(
        got.map((d) => d.id),
        picked.map((i) => candidates[i].id),
        `${query} / ${name} / k=${k} fetchK=${fetchK} lambda=${lambda}`,
      )
    }
  }
  // lambda 0 picks diverse documents where plain similarity returns near-duplicates.
  const dupDb = await memoryDb(t)
  const texts = ['alpha alpha alpha', 'alpha alpha alpha', 'alpha alpha alpha', 'mike lima kilo']
  const dup = await KyroDBVectorStore.fromTexts(texts, {}, embeddings, { db: dupDb })
  const plain = await dup.similaritySearch('alpha alpha alpha', 2)
  t.deepEqual(plain.map((d) => d.pageContent), ['alpha alpha alpha', 'alpha alpha alpha'])
  const diverse = await dup.maxMarginalRelevanceSearch('alpha alpha alpha', { k: 2, fetchK: 4, lambda: 0 })
  t.deepEqual(diverse.map((d) => d.pageContent).sort(), ['alpha alpha alpha', 'mike lima kilo'])
})

test('fromTexts / fromDocuments / fromExistingIndex, a retriever, and a reopen from disk', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-langchain-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  let db = await open(dir)
  const texts = ['alpha bravo', 'charlie delta', 'echo foxtrot']
  const a = await KyroDBVectorStore.fromTexts(texts, [{ i: 0 }, { i: 1 }, { i: 2 }], embeddings, { db, collectionName: 'texts' })
  const b = await KyroDBVectorStore.fromTexts(texts, { shared: true }, embeddings, { db, collectionName: 'shared' })
  const c = await KyroDBVectorStore.fromDocuments([new Document({ id: 'x', pageContent: 'golf hotel', metadata: { k: 'v' } })], embeddings, {
    db,
    collectionName: 'docs',
    metric: 'l2',
  })
  t.deepEqual((await a.similaritySearch('charlie delta', 1))[0].metadata, { i: 1 })
  t.deepEqual((await b.similaritySearch('echo foxtrot', 1))[0].metadata, { shared: true })
  const [[, l2Score]] = await c.similaritySearchWithScore('golf hotel', 1)
  t.true(Math.abs(l2Score) < 1e-6, 'l2: negated squared distance, 0 for the same vector')
  const retriever = a.asRetriever({ k: 2, filter: { i: { $gte: 1 } } })
  const got = await retriever.invoke('alpha bravo')
  t.is(got.length, 2)
  t.true(got.every((d) => d.metadata.i >= 1))
  await db.close()

  db = await open(dir)
  t.teardown(() => db.close())
  const again = await KyroDBVectorStore.fromExistingIndex(embeddings, { db, collectionName: 'texts' })
  t.is(again.collection?.count(), 3)
  t.is((await again.similaritySearch('echo foxtrot', 1))[0].pageContent, 'echo foxtrot')
  const byHandle = new KyroDBVectorStore(embeddings, { collection: db.collection('docs') })
  t.deepEqual((await byHandle.getByIds(['x']))[0].metadata, { k: 'v' })
})

test('errors: a u64 collection, the text field used as metadata, mismatched lengths, bad config', async (t) => {
  const db = await memoryDb(t)
  await db.createCollection('numeric', { dimension: 16 })
  const numeric = new KyroDBVectorStore(embeddings, { db, collectionName: 'numeric' })
  await t.throwsAsync(numeric.addDocuments([new Document({ pageContent: 'a', metadata: {} })]), { code: 'INVALID_ARGUMENT', message: /idType: 'string'/ })
  t.throws(() => new KyroDBVectorStore(embeddings, { collection: db.collection('numeric') }), { message: /idType: 'string'/ })
  const store = new KyroDBVectorStore(embeddings, { db })
  await t.throwsAsync(store.addDocuments([new Document({ pageContent: 'a', metadata: { text: 'x' } })]), { message: /textKey/ })
  const custom = new KyroDBVectorStore(embeddings, { db, collectionName: 'custom', textKey: 'body' })
  await custom.addDocuments([new Document({ id: 'one', pageContent: 'alpha', metadata: { text: 'kept' } })])
  t.deepEqual(await custom.getByIds(['one']), [new Document({ id: 'one', pageContent: 'alpha', metadata: { text: 'kept' } })])
  t.is((await custom.collection?.get('one'))?.metadata?.body, 'alpha')
  await t.throwsAsync(store.addVectors([[1, 2]], []), { message: /1 vectors but 0 documents/ })
  await t.throwsAsync(store.addDocuments([new Document({ pageContent: 'a', metadata: {} })], { ids: ['a', 'b'] }), { message: /2 ids but 1 documents/ })
  t.throws(() => new KyroDBVectorStore(embeddings, {}), { message: /db.*collection/ })
  await t.throwsAsync(custom.similaritySearch('alpha', 1, 'topic ==='), { code: 'INVALID_FILTER' })
})
