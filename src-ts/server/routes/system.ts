/**
 * Health, metrics, build information, engine figures and the OpenAPI document.
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Database } from '../../database.js'
import { ClosedError } from '../../errors.js'
import { engineInfo } from '../../info.js'
import type { ServerMetrics } from '../metrics.js'
import { prometheusLines } from '../../replication/status.js'

/** The package's version, from its package.json. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

/** Register the system routes. */
export async function systemRoutes(app: FastifyInstance, { db, metrics }: { db: Database; metrics: ServerMetrics }): Promise<void> {
  const version = packageVersion()

  app.get(
    '/health',
    {
      config: { access: 'public', rateLimit: false },
      schema: {
        tags: ['system'],
        summary: 'Liveness: 200 while the database is open, 503 once it is closed (shutting down).',
        // Open to all: no key needed (the document's default is a key).
        security: [],
        response: { 200: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] } },
      },
    },
    async () => {
      if (db.closed) throw new ClosedError('the database is closed (shutting down)')
      return { status: 'ok' }
    },
  )

  app.get(
    '/metrics',
    {
      config: { access: 'read' },
      schema: { tags: ['system'], summary: 'Prometheus metrics (text exposition format).' },
    },
    async (_req, reply) => {
      let text = await metrics.scrape()
      if (db.replication !== null && !db.closed) text += prometheusLines(await db.replication.status())
      return reply.type(metrics.registry.contentType).send(text)
    },
  )

  app.get(
    '/build_info',
    {
      config: { access: 'read' },
      schema: {
        tags: ['system'],
        summary: 'Package and engine versions, the SIMD level in use, runtime and platform.',
        response: {
          200: {
            type: 'object',
            properties: {
              name: { type: 'string' },
              version: { type: 'string' },
              nativeVersion: { type: 'string' },
              simd: { type: 'string' },
              learnedIndex: { type: 'boolean' },
              rmiProbe: { type: 'string' },
              node: { type: 'string' },
              platform: { type: 'string' },
            },
          },
        },
      },
    },
    async () => {
      const kv = db.kv.stats()
      return {
        name: 'kyrodb',
        version,
        ...engineInfo(),
        learnedIndex: kv.learnedIndex,
        rmiProbe: kv.probeKind,
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
      }
    },
  )

  app.get(
    '/v1/stats',
    {
      config: { access: 'read' },
      schema: { tags: ['system'], summary: 'Engine figures: write-ahead log, maintenance, key-value store, collections.' },
    },
    async () => ({
      database: db.stats(),
      kv: db.kv.stats(),
      collections: db.listCollections().map((c) => ({ ...c, ...db.collection(c.name).stats() })),
    }),
  )

  app.get(
    '/openapi.json',
    { config: { access: 'public' }, schema: { hide: true } },
    async () => app.swagger(),
  )
}
