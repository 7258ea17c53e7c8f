/**
 * Replication routes (only when `kyrodb serve --nats ...`): status and snapshot publishing.
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { Database } from '../../database.js'

/** Register `GET /v1/replication/status` and `POST /v1/replication/snapshot`. */
export async function replicationRoutes(app: FastifyInstance, { db }: { db: Database }): Promise<void> {
  const r = db.replication
  if (r === null) return
  app.get(
    '/v1/replication/status',
    {
      config: { access: 'read' },
      schema: {
        tags: ['replication'],
        summary: "This node's applied stream sequence, lag (messages, ms), the stream's state and the newest snapshot.",
      },
    },
    async () => r.status(),
  )
  app.post(
    '/v1/replication/snapshot',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['replication'],
        summary: 'Publish a snapshot of this node to the stream object store; trims the stream below the oldest snapshot kept.',
      },
    },
    async () => r.publishSnapshot(),
  )
}
