/**
 * Maintenance routes of the original v1 API (admin key): snapshot, compact, learned-index
 * build, warmup. Each resolves when the work is done and durable.
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { Database } from '../../database.js'

const timed = { type: 'object', properties: { ok: { type: 'boolean' }, ms: { type: 'number' } }, required: ['ok', 'ms'] } as const

async function time<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now()
  const r = await f()
  return [r, Math.round((performance.now() - t0) * 1000) / 1000]
}

/** Register the maintenance routes. */
export async function adminRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  app.post(
    '/v1/snapshot',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary:
          'Write every recent write (key-value memtable, vector hot tiers, deletions) into immutable files and drop the write-ahead log they cover, so a restart replays nothing.',
        response: { 200: timed },
      },
    },
    async () => {
      const [, ms] = await time(() => db.flush())
      return { ok: true, ms }
    },
  )

  app.post(
    '/v1/compact',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Merge each collection into one segment and the key-value runs into one, purging deleted entries; then snapshot.',
        response: { 200: timed },
      },
    },
    async () => {
      const [, ms] = await time(() => db.compact())
      return { ok: true, ms }
    },
  )

  app.post(
    '/v1/rmi/build',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Build the learned index (RMI) over every key: flush, then merge all runs into one.',
        response: {
          200: {
            type: 'object',
            properties: { ok: { type: 'boolean' }, ms: { type: 'number' }, keys: { type: 'integer' }, indexBytes: { type: 'integer' } },
            required: ['ok', 'ms', 'keys'],
          },
        },
      },
    },
    async () => {
      const [, ms] = await time(() => db.kv.buildIndex())
      const s = db.kv.stats()
      return { ok: true, ms, keys: s.keys, indexBytes: s.indexBytes }
    },
  )

  app.post(
    '/v1/warmup',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Touch the pages of the key-value runs (keys and learned index) so the first lookups are served from memory.',
        response: {
          200: {
            type: 'object',
            properties: { ok: { type: 'boolean' }, ms: { type: 'number' }, bytes: { type: 'integer' } },
            required: ['ok', 'ms', 'bytes'],
          },
        },
      },
    },
    async () => {
      const [bytes, ms] = await time(() => db.kv.warmup())
      return { ok: true, ms, bytes }
    },
  )
}
