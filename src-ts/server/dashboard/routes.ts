/**
 * The API the dashboard page calls, under `/v1/dashboard/` (read key, admin key for
 * jobs): who the caller is, the overview, the live samples, "compare with exact", and
 * maintenance jobs with progress. The page also uses the ordinary routes (collections,
 * search, points, key-value lookup and range).
 * @module
 */
import type { FastifyInstance } from 'fastify'
import type { SearchOptions } from '../../collection.js'
import type { Database } from '../../database.js'
import type { KeyRing } from '../auth.js'
import { HttpError } from '../errors.js'
import { collectionName, filter, vector } from '../schemas.js'
import { compareWithExact, MAX_EXACT_ROWS } from './exact.js'
import { JOB_KINDS, type JobKind, type Jobs } from './jobs.js'
import { INTERVAL_MS, WINDOW_MS, type LiveFigures } from './live.js'
import { overview } from './overview.js'

/** An id for JSON: a bigint as a decimal string, anything else as it is. */
const idToJson = (id: unknown) => (typeof id === 'bigint' ? id.toString() : id)

const tags = ['dashboard']

export interface DashboardContext {
  db: Database
  keys: KeyRing
  live: LiveFigures
  jobs: Jobs
  version: string
  startedAt: number
}

/** Register the dashboard's API routes. */
export async function dashboardRoutes(app: FastifyInstance, ctx: DashboardContext): Promise<void> {
  const { db, keys, live, jobs } = ctx

  app.get(
    '/v1/dashboard/session',
    {
      // Public, so that the page can ask whether it needs a key (and whether the one it
      // has is valid) without a 401: it learns the role of the key it sent, nothing else.
      config: { access: 'public' },
      schema: {
        tags,
        summary:
          "Whether the server has API keys, and the role of the key sent: admin, read, or null (no key, or not a valid one). Without keys every caller is admin.",
        security: [],
        response: {
          200: {
            type: 'object',
            properties: { auth: { type: 'boolean' }, role: { type: ['string', 'null'], enum: ['admin', 'read', null] } },
            required: ['auth', 'role'],
          },
        },
      },
    },
    async (req) => ({ auth: keys.enabled, role: keys.roleOfRequest(req) }),
  )

  app.get(
    '/v1/dashboard/overview',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary:
          'Server, engine, memory and disk figures; every collection with its segments (rows, live, graph or exact, bytes, write time); the key-value store.',
      },
    },
    async () => overview(db, { version: ctx.version, startedAt: ctx.startedAt, auth: keys.enabled }),
  )

  app.get<{ Querystring: { since?: string } }>(
    '/v1/dashboard/live',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: `Per-second samples (searches/s, p50/p99, writes/s, fsyncs/s, group size, background work, memory) of the last ${WINDOW_MS / 60000} minutes, after \`since\` (ms since the epoch).`,
        querystring: {
          type: 'object',
          properties: { since: { type: 'string', pattern: '^[0-9]{1,16}$' } },
          additionalProperties: false,
        },
      },
    },
    async (req) => ({
      intervalMs: INTERVAL_MS,
      windowMs: WINDOW_MS,
      now: Date.now(),
      samples: live.since(req.query.since === undefined ? 0 : Number(req.query.since)),
    }),
  )

  app.post<{ Params: { name: string }; Body: { vector: number[]; k: number; ef?: number; filter?: SearchOptions['filter'] } }>(
    '/v1/dashboard/collections/:name/compare',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: `Run a search and a brute-force search of the same query; recall@k of the first against the second (collections up to ${MAX_EXACT_ROWS} rows).`,
        params: { type: 'object', properties: { name: collectionName }, required: ['name'] },
        body: {
          type: 'object',
          properties: { vector, k: { type: 'integer', minimum: 1, maximum: 10000, default: 10 }, ef: { type: 'integer', minimum: 1, maximum: 10000 }, filter },
          required: ['vector'],
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const { vector: query, k, ef, filter: f } = req.body
      const r = await compareWithExact(db.collection(req.params.name), query, { k, ef, filter: f })
      const hits = (list: typeof r.exact) => list.map((h) => ({ id: idToJson(h.id), distance: h.distance }))
      return { ...r, approx: hits(r.approx), exact: hits(r.exact) }
    },
  )

  const jobSchema = { type: 'object', additionalProperties: true } as const

  app.get(
    '/v1/dashboard/jobs',
    {
      config: { access: 'read' },
      schema: { tags, summary: 'Maintenance jobs started from the dashboard, newest first, with progress.' },
    },
    async () => ({ jobs: jobs.list() }),
  )

  app.get<{ Params: { id: string } }>(
    '/v1/dashboard/jobs/:id',
    {
      config: { access: 'read' },
      schema: {
        tags,
        summary: 'One job: state (running, done, failed), progress (done of total), error.',
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^[0-9]{1,9}$' } }, required: ['id'] },
        response: { 200: jobSchema },
      },
    },
    async (req) => {
      const job = jobs.get(Number(req.params.id))
      if (job === undefined) throw new HttpError(404, 'NOT_FOUND', `no job ${req.params.id}`)
      return job
    },
  )

  app.post<{ Body: { kind: JobKind; collection?: string } }>(
    '/v1/dashboard/jobs',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Start a maintenance job (flush, compact, build_index of a collection, verify); 202 with the job, 409 while another runs.',
        body: {
          type: 'object',
          properties: { kind: { type: 'string', enum: [...JOB_KINDS] }, collection: collectionName },
          required: ['kind'],
          additionalProperties: false,
        },
        response: { 202: jobSchema },
      },
    },
    async (req, reply) => reply.status(202).send(jobs.start(req.body.kind, req.body.collection)),
  )
}
