// Chunk every .txt/.md file of a folder, embed the chunks with the local model, and store
// them in a KyroDB database through the LangChain vector store.
//   node ingest.mjs [folder=./docs] [database=./data]
// Re-running replaces each file's chunks (ids are "<file>#<n>", and a file's old chunks are
// deleted first, so a file that got shorter leaves nothing behind).
import fs from 'node:fs'
import path from 'node:path'
import { RecursiveCharacterTextSplitter } from '@langchain/textsplitters'
import { open } from 'kyrodb'
import { KyroDBVectorStore } from 'kyrodb/langchain'
import { MiniLMEmbeddings } from './embeddings.mjs'

const folder = process.argv[2] ?? './docs'
const dataDir = process.argv[3] ?? './data'

const files = fs
  .readdirSync(folder, { recursive: true })
  .map(String)
  .filter((f) => /\.(txt|md)$/i.test(f))
  .sort()
if (files.length === 0) throw new Error(`no .txt or .md files in ${folder}`)

const splitter = new RecursiveCharacterTextSplitter({ chunkSize: 600, chunkOverlap: 60 })
const db = await open(dataDir)
try {
  const store = new KyroDBVectorStore(new MiniLMEmbeddings(), { db, collectionName: 'chunks' })
  const started = Date.now()
  let total = 0
  for (const file of files) {
    const text = fs.readFileSync(path.join(folder, file), 'utf8')
    const chunks = await splitter.createDocuments([text], [{ source: file }])
    chunks.forEach((chunk, i) => {
      chunk.metadata = { source: file, chunk: i }
    })
    await store.delete({ filter: { source: file } })
    await store.addDocuments(chunks, { ids: chunks.map((_, i) => `${file}#${i}`) })
    total += chunks.length
    console.log(`${file}: ${chunks.length} chunks`)
  }
  await db.flush()
  console.log(`stored ${total} chunks from ${files.length} files in ${dataDir} (collection 'chunks', ${store.collection.count()} rows) in ${Date.now() - started} ms`)
} finally {
  await db.close()
}
