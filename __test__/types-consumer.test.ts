/**
 * The published typings as a strict consumer compiles them: a throwaway project in a temp
 * dir with `node_modules/kyrodb` linked to this package (so `exports`/`types` resolve as
 * in a user's install), a source file that imports and uses every public name, and the
 * repo's own `tsc` with `strict: true` and `skipLibCheck: false`, under `module: nodenext`
 * (an ES module and a CommonJS file) and `moduleResolution: bundler` (module esnext and
 * preserve). `skipLibCheck: false` makes tsc check every declaration file the import
 * reaches, the generated napi-rs `index.d.ts` included: a type it names but never declares
 * fails here, where the project's own `skipLibCheck: true` build would hide it.
 *
 * When the frameworks are installed (they are devDependencies), the consumer also imports
 * the subpaths `kyrodb/langchain` and `kyrodb/llamaindex` and uses them with the frameworks'
 * own types: the ES-module consumer gets the adapters' `.d.mts` typings, whose framework
 * imports resolve to the frameworks' ES-module typings like the consumer's own, so a store is
 * assignable to `VectorStoreInterface` / `BaseVectorStore` (with the CommonJS typings it
 * would not be: the frameworks' classes have protected members, so the two copies differ).
 */
import test from 'ava'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import ts from 'typescript'

const root = path.join(__dirname, '..')
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc')
const distIndex = path.join(root, 'dist', 'index.d.ts')

/** Value exports of the package (classes, functions, constants). */
const VALUES = [
  'open',
  'Database',
  'Collection',
  'KeyValueStore',
  'MAX_VALUE_BYTES',
  'engineInfo',
  'KyroDBError',
  'InvalidArgumentError',
  'DimensionMismatchError',
  'InvalidFilterError',
  'NotFoundError',
  'AlreadyExistsError',
  'ClosedError',
  'IoError',
  'CorruptionError',
  'LockedError',
  'ReadOnlyError',
  'InternalError',
  'UnavailableError',
  'ReplicationError',
]

/** Type-only exports of the package. */
const TYPES = [
  'CacheOptions',
  'CreateCollectionOptions',
  'QueryCacheStats',
  'CollectionInfo',
  'DatabaseStats',
  'IndexOptions',
  'OpenOptions',
  'Durability',
  'ProgressOptions',
  'Metric',
  'Metadata',
  'SearchOptions',
  'SearchResult',
  'StoredVector',
  'BuildIndexOptions',
  'CollectionStats',
  'Filter',
  'IdType',
  'NumericId',
  'FilterObject',
  'FieldCondition',
  'FilterValue',
  'Id',
  'IdList',
  'Key',
  'KvValue',
  'KvWrite',
  'KvStats',
  'RangeOptions',
  'VectorLike',
  'VectorBatch',
  'ErrorCode',
  'ProgressCallback',
  'EngineInfo',
  'ReplicationOptions',
  'ReplicationStatus',
  'ReplicationErrorReason',
  'Consistency',
  'Replication',
  'GroupWrite',
  'GroupOutcome',
]

// Uses every imported name (the consumer compiles with `noUnusedLocals`, so a name left
// unused fails too), and a few `@ts-expect-error` lines: if the package's types decayed
// to `any`, those directives would be unused, which is an error.
const BODY = `
export async function main(dir: string | null): Promise<number> {
  const durability: Durability = 'full'
  const openOptions: OpenOptions = { durability, syncIntervalMs: 10, salvage: false }
  const db: Database = await open(dir, openOptions)
  const index: IndexOptions = { m: 16, efConstruction: 64, autoBuildRows: 1000 }
  const metric: Metric = 'cosine'
  const createOptions: CreateCollectionOptions = { dimension: 3, metric, index }
  const docs: Collection = await db.createCollection('docs', createOptions)
  const idType: IdType = 'string'
  const named: Collection = await db.createCollection('named', { dimension: 3, idType })
  await named.upsert(['doc-1'], [[1, 0, 0]])
  const numeric: NumericId = 2n
  const ids: IdList = [1, numeric]
  const one: VectorLike = [1, 0, 0]
  const batch: VectorBatch = [one, new Float32Array([0, 1, 0])]
  const meta: Metadata = { title: 'a', n: 1 }
  const upserted: number = await docs.upsert(ids, batch, [meta, undefined])
  const condition: FieldCondition = { $gte: 0, $lt: 10 }
  const value: FilterValue = 'a'
  const filterObject: FilterObject = { title: value, n: condition }
  const filter: Filter = filterObject
  const searchOptions: SearchOptions = { k: 1, filter, withMetadata: true }
  const hits: SearchResult[] = await docs.search(one, searchOptions)
  const first: Id = hits[0]?.id ?? 1
  const stored: StoredVector | null = await docs.get(first)
  const onProgress: ProgressCallback = (done: number, total: number): void => {
    if (done > total) throw new Error('progress past the total')
  }
  const buildOptions: BuildIndexOptions = { onProgress }
  await docs.buildIndex(buildOptions)
  const collectionStats: CollectionStats = docs.stats()
  const progressOptions: ProgressOptions = { onProgress }
  await db.flush(progressOptions)
  await db.compact()
  const infos: CollectionInfo[] = db.listCollections()
  const databaseStats: DatabaseStats = db.stats()
  const cacheStats: QueryCacheStats = databaseStats.cache
  const cacheOptions: CacheOptions = { queryBytes: cacheStats.capacityBytes }
  const kv: KeyValueStore = db.kv
  const key: Key = 7
  const kvValue: KvValue = 'x'.repeat(Math.min(8, MAX_VALUE_BYTES))
  const writes: KvWrite[] = [
    { type: 'put', key, value: kvValue },
    { type: 'del', key: 8n },
  ]
  await kv.batch(writes)
  const group: GroupWrite[] = [{ kind: 'kv', writes, tag: 1n }, { kind: 'tag', tag: 2n }]
  const outcomes: GroupOutcome[] = dir === null ? [] : await db.writeGroup(group)
  const lastTag: bigint | null = db.lastTag()
  const got: Buffer | string | undefined = kv.getSync(key)
  const range: RangeOptions = { gte: 0, limit: 10 }
  let scanned = 0
  for await (const [k, v] of kv.range(range)) scanned += Number(k) + v.length
  const kvStats: KvStats = kv.stats()
  const info: EngineInfo = engineInfo()
  const consistency: Consistency = 'read-your-writes'
  const replicationOptions: ReplicationOptions = { servers: 'nats://127.0.0.1:4222', node: 'a', consistency }
  const replication: Replication | null = db.replication
  const replicationStatus: ReplicationStatus | undefined = replication === null ? undefined : await replication.status()
  const reason: ReplicationErrorReason = 'config'
  await db.close()

  // @ts-expect-error: k is a number
  await docs.search(one, { k: 'ten' })
  // @ts-expect-error: metrics are 'l2' | 'cosine' | 'ip'
  const badMetric: Metric = 'manhattan'
  // @ts-expect-error: open takes an options object, not a number
  await open(dir, 3)

  let code: ErrorCode | undefined
  try {
    db.collection('docs')
  } catch (e) {
    if (e instanceof KyroDBError) code = e.code
  }
  const errors: KyroDBError[] = [
    new InvalidArgumentError('a', { cause: 1 }),
    new DimensionMismatchError('b'),
    new InvalidFilterError('c'),
    new NotFoundError('d'),
    new AlreadyExistsError('e'),
    new ClosedError('f'),
    new IoError('g'),
    new CorruptionError('h'),
    new LockedError('i'),
    new ReadOnlyError('j'),
    new InternalError('k'),
    new KyroDBError('INTERNAL', 'l'),
    new UnavailableError('m'),
    new ReplicationError(reason, 'n'),
  ]
  return (
    upserted +
    (stored?.vector.length ?? 0) +
    collectionStats.segments.length +
    infos.length +
    databaseStats.walFrames +
    (cacheOptions.queryBytes ?? 0) +
    (got?.length ?? 0) +
    scanned +
    kvStats.keys +
    info.simd.length +
    replicationOptions.node.length +
    (replicationStatus?.appliedSeq ?? 0) +
    outcomes.filter((o) => o.ok).length +
    Number(lastTag ?? 0n) +
    badMetric.length +
    (code?.length ?? 0) +
    errors.filter((e) => e instanceof Error).length
  )
}
`

const CONSUMER = `import {
  ${VALUES.join(',\n  ')},
} from 'kyrodb'
import type {
  ${TYPES.join(',\n  ')},
} from 'kyrodb'
${BODY}`

/** Whether a package is installed in this repository (the frameworks are optional peers). */
function installed(name: string): boolean {
  return fs.existsSync(path.join(root, 'node_modules', name, 'package.json'))
}

/** The frameworks the integrations consumer needs, linked into the consumer's node_modules. */
const FRAMEWORKS = ['@langchain/core', '@llamaindex/core']
const WITH_INTEGRATIONS = FRAMEWORKS.every(installed)

// Uses every public name of both subpaths, with the frameworks' own types; the
// `@ts-expect-error` lines fail if the adapters' types decayed to `any`.
const INTEGRATIONS = `import { open, type Database, type Filter } from 'kyrodb'
import {
  KyroDBVectorStore,
  type KyroDBAddOptions,
  type KyroDBCollectionConfig,
  type KyroDBDeleteParams,
  type KyroDBVectorStoreArgs,
} from 'kyrodb/langchain'
import {
  KyroDBVectorStore as LlamaIndexStore,
  toKyroDBFilter,
  type KyroDBCollectionConfig as LlamaIndexCollectionConfig,
  type KyroDBVectorStoreArgs as LlamaIndexStoreArgs,
} from 'kyrodb/llamaindex'
import { Document, type DocumentInterface } from '@langchain/core/documents'
import type { EmbeddingsInterface } from '@langchain/core/embeddings'
import type { BaseRetrieverInterface } from '@langchain/core/retrievers'
import type { VectorStoreInterface } from '@langchain/core/vectorstores'
import type { BaseEmbedding } from '@llamaindex/core/embeddings'
import {
  BaseVectorStore,
  VectorStoreQueryMode,
  type MetadataFilters,
  type VectorStoreQueryResult,
} from '@llamaindex/core/vector-store'

export async function integrations(dir: string | null, embeddings: EmbeddingsInterface, embedModel: BaseEmbedding): Promise<number> {
  const db: Database = await open(dir)
  const config: KyroDBCollectionConfig = { db, metric: 'cosine', index: { m: 16 }, ef: 64 }
  const args: KyroDBVectorStoreArgs = { ...config, collectionName: 'lc', textKey: 'body' }
  const store: KyroDBVectorStore = await KyroDBVectorStore.fromTexts(['a', 'b'], { n: 1 }, embeddings, args)
  const asInterface: VectorStoreInterface = store
  const retriever: BaseRetrieverInterface = store.asRetriever({ k: 1, filter: { n: 1 } })
  const add: KyroDBAddOptions = { ids: ['x'] }
  const ids: string[] = await store.addDocuments([new Document({ pageContent: 'x', metadata: { n: 2 } })], add)
  const filter: Filter = "n >= 1"
  const scored: [DocumentInterface, number][] = await store.similaritySearchWithScore('x', 2, filter)
  const diverse: DocumentInterface[] = await store.maxMarginalRelevanceSearch('x', { k: 1, fetchK: 4, lambda: 0.5, filter: { n: 2 } })
  const byId: DocumentInterface[] = await store.getByIds(ids)
  const del: KyroDBDeleteParams = { ids, filter: { n: { $gt: 5 } } }
  await store.delete(del)
  // @ts-expect-error: KyroDB filters are objects or strings, not predicates
  await store.similaritySearch('x', 1, (doc: DocumentInterface) => doc.metadata.n === 1)

  const llamaConfig: LlamaIndexCollectionConfig = { db }
  const llamaArgs: LlamaIndexStoreArgs = { ...llamaConfig, collectionName: 'li', embedModel }
  const nodes = new LlamaIndexStore(llamaArgs)
  const base: BaseVectorStore = nodes
  const filters: MetadataFilters = { filters: [{ key: 'n', operator: '>=', value: 1 }], condition: 'and' }
  const mapped: Filter | undefined = toKyroDBFilter(filters)
  const result: VectorStoreQueryResult = await nodes.query({ queryEmbedding: [1, 0], similarityTopK: 1, mode: VectorStoreQueryMode.MMR, filters })
  await nodes.delete('ref-doc')
  // @ts-expect-error: query takes a VectorStoreQuery
  await nodes.query('text')
  await db.close()
  return (
    ids.length + scored.length + diverse.length + byId.length + result.ids.length +
    (asInterface ? 1 : 0) + (retriever ? 1 : 0) + (base.storesText ? 1 : 0) + (mapped === undefined ? 0 : 1) +
    (nodes.client()?.count() ?? 0)
  )
}
`

const STRICT = {
  target: 'ES2022',
  strict: true,
  skipLibCheck: false,
  noEmit: true,
  noUnusedLocals: true,
  forceConsistentCasingInFileNames: true,
}

/** The consumer's tsconfig files: name → compilerOptions and files. */
const CONFIGS: Record<string, { compilerOptions: Record<string, unknown>; files: string[] }> = {
  'tsconfig.nodenext.json': {
    compilerOptions: { ...STRICT, module: 'nodenext', moduleResolution: 'nodenext' },
    // consumer.ts is an ES module (package.json "type": "module"), consumer-cjs.cts CommonJS.
    files: ['consumer.ts', 'consumer-cjs.cts', ...(WITH_INTEGRATIONS ? ['integrations.ts', 'integrations-cjs.cts'] : [])],
  },
  'tsconfig.bundler-esnext.json': {
    compilerOptions: { ...STRICT, module: 'esnext', moduleResolution: 'bundler' },
    files: ['consumer.ts', ...(WITH_INTEGRATIONS ? ['integrations.ts'] : [])],
  },
  'tsconfig.bundler-preserve.json': {
    compilerOptions: { ...STRICT, module: 'preserve', moduleResolution: 'bundler' },
    files: ['consumer.ts', ...(WITH_INTEGRATIONS ? ['integrations.ts'] : [])],
  },
}

/** Names the package's entry point exports, as the TypeScript checker sees them. */
function exportedNames(): string[] {
  const program = ts.createProgram([distIndex], { noEmit: true, skipLibCheck: true, types: [] })
  const checker = program.getTypeChecker()
  const source = program.getSourceFile(distIndex)
  const moduleSymbol = source && checker.getSymbolAtLocation(source)
  if (!moduleSymbol) throw new Error(`no module symbol for ${distIndex}`)
  return checker.getExportsOfModule(moduleSymbol).map((s) => s.name)
}

function consumerProject(t: { teardown: (f: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kyrodb-consumer-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'node_modules', '@types'), { recursive: true })
  // The package as installed: node_modules/kyrodb is this repository (its package.json
  // `exports` and `types` decide what resolves), and @types/node as a user has it.
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'kyrodb'), 'dir')
  fs.symlinkSync(path.join(root, 'node_modules', '@types', 'node'), path.join(dir, 'node_modules', '@types', 'node'), 'dir')
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }, null, 2))
  fs.writeFileSync(path.join(dir, 'consumer.ts'), CONSUMER)
  fs.writeFileSync(path.join(dir, 'consumer-cjs.cts'), CONSUMER)
  if (WITH_INTEGRATIONS) {
    for (const name of FRAMEWORKS) {
      fs.mkdirSync(path.dirname(path.join(dir, 'node_modules', name)), { recursive: true })
      fs.symlinkSync(path.join(root, 'node_modules', name), path.join(dir, 'node_modules', name), 'dir')
    }
    fs.writeFileSync(path.join(dir, 'integrations.ts'), INTEGRATIONS)
    fs.writeFileSync(path.join(dir, 'integrations-cjs.cts'), INTEGRATIONS)
  }
  for (const [name, config] of Object.entries(CONFIGS)) {
    fs.writeFileSync(path.join(dir, name), JSON.stringify(config, null, 2))
  }
  return dir
}

test.before(() => {
  // `npm test` builds dist first (npm run build:ts); stale typings would test old code.
  for (const f of fs.readdirSync(path.join(root, 'src-ts')).filter((f) => f.endsWith('.ts'))) {
    const dts = path.join(root, 'dist', f.replace(/\.ts$/, '.d.ts'))
    if (!fs.existsSync(dts) || fs.statSync(dts).mtimeMs < fs.statSync(path.join(root, 'src-ts', f)).mtimeMs) {
      throw new Error(`${path.relative(root, dts)} is missing or older than src-ts/${f}: run \`npm run build:ts\` first`)
    }
  }
  if (WITH_INTEGRATIONS) {
    for (const f of fs.readdirSync(path.join(root, 'src-ts', 'integrations')).filter((f) => f.endsWith('.ts'))) {
      for (const ext of ['.d.ts', '.d.mts']) {
        const dts = path.join(root, 'dist', 'integrations', f.replace(/\.ts$/, ext))
        if (!fs.existsSync(dts) || fs.statSync(dts).mtimeMs < fs.statSync(path.join(root, 'src-ts', 'integrations', f)).mtimeMs) {
          throw new Error(`${path.relative(root, dts)} is missing or older than src-ts/integrations/${f}: run \`npm run build:ts\` first`)
        }
      }
    }
  }
})

test('the integrations are part of the consumer when the frameworks are installed', (t) => {
  t.true(WITH_INTEGRATIONS, `${FRAMEWORKS.join(' and ')} are devDependencies of this repository`)
})

test('the consumer imports every public name of the package', (t) => {
  t.deepEqual([...exportedNames()].sort(), [...VALUES, ...TYPES].sort())
})

for (const config of Object.keys(CONFIGS)) {
  test(`a strict consumer with skipLibCheck: false compiles (${config})`, (t) => {
    const dir = consumerProject(t)
    const run = spawnSync(process.execPath, [tsc, '-p', config, '--pretty', 'false'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 120_000,
    })
    const diagnostics = `${run.stdout}${run.stderr}`.trim()
    t.is(run.status, 0, `tsc -p ${config} in ${dir}:\n${diagnostics}`)
    t.is(diagnostics, '')
  })
}
