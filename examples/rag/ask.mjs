// Ask a question: embed it with the same local model and print the passages closest to it.
//   node ask.mjs "your question" [--k 3] [--source file.txt] [--mmr] [--db ./data]
// This is the retrieval half of RAG; hand the passages to the chat model of your choice as
// context to generate an answer.
import { open } from 'kyrodb'
import { KyroDBVectorStore } from 'kyrodb/langchain'
import { MiniLMEmbeddings } from './embeddings.mjs'

const args = process.argv.slice(2)
const flag = (name) => {
  const i = args.indexOf(name)
  if (i === -1) return undefined
  const [, value] = args.splice(i, 2)
  return value
}
const k = Number(flag('--k') ?? 3)
const source = flag('--source')
const dataDir = flag('--db') ?? './data'
const mmr = args.includes('--mmr')
const question = args.filter((a) => a !== '--mmr').join(' ') || 'How do bees tell each other where the flowers are?'

const db = await open(dataDir)
try {
  const store = await KyroDBVectorStore.fromExistingIndex(new MiniLMEmbeddings(), { db, collectionName: 'chunks' })
  if (store.collection === null) throw new Error(`no chunks in ${dataDir}: run \`npm run ingest\` first`)
  const filter = source === undefined ? undefined : { source }
  console.log(`Q: ${question}${filter ? `  (only ${source})` : ''}${mmr ? '  (MMR)' : ''}\n`)
  const hits = mmr
    ? (await store.maxMarginalRelevanceSearch(question, { k, fetchK: 20, lambda: 0.5, filter })).map((d) => [d, null])
    : await store.similaritySearchWithScore(question, k, filter)
  for (const [doc, score] of hits) {
    const where = `${doc.metadata.source} #${doc.metadata.chunk}`
    console.log(`${score === null ? '' : `${score.toFixed(3)}  `}${where}`)
    console.log(`   ${doc.pageContent.replace(/\s+/g, ' ').trim()}\n`)
  }
} finally {
  await db.close()
}
