/**
 * The HTTP server (`kyrodb serve`): a fastify app over one {@link Database}.
 *
 * Layout: `routes/` holds the routes by area (key-value, collections, maintenance,
 * system); `schemas.ts` the JSON schemas they validate with (and `/openapi.json` is
 * generated from); `auth.ts` API keys; `metrics.ts` Prometheus; `body.ts` compressed and
 * binary bodies; `errors.ts` the one error shape; `dashboard/` the web page at `/` and the
 * API it calls. See `docs/ARCHITECTURE.md` § Server.
 * @module
 */
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import Fastify, { LogController, type FastifyInstance } from 'fastify'
import type { Database } from '../database.js'
import { KeyRing, type Access, type ApiKeys } from './auth.js'
import { installBodyHandling } from './body.js'
import { errorBodySchema, errorHandler, HttpError } from './errors.js'
import { ServerMetrics } from './metrics.js'
import { replicationRoutes } from './routes/replication.js'
import { LoopLoad } from './load.js'
import { Jobs } from './dashboard/jobs.js'
import { LiveFigures } from './dashboard/live.js'
import { dashboardRoutes } from './dashboard/routes.js'
import { dashboardStatic } from './dashboard/static.js'
import { adminRoutes } from './routes/admin.js'
import { collectionRoutes } from './routes/collections.js'
import { kvRoutes } from './routes/kv.js'
import { packageVersion, systemRoutes } from './routes/system.js'

export type { Access, ApiKeys } from './auth.js'
export type { HttpErrorCode } from './errors.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (see `auth.ts`). */
    access?: Access
  }
}

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** The database to serve. The server does not close it. */
  db: Database
  /** fastify (pino) logger: `false`, `true` or pino options. Default `false`. */
  logger?: boolean | Record<string, unknown>
  /** Largest accepted request body in bytes, counted after decompression; default 64 MiB. */
  bodyLimit?: number
  /** API keys; none means every route is open. */
  apiKeys?: ApiKeys
  /** Requests per second per client address above which requests get 429; off when absent. */
  rateLimitRps?: number
  /** Time to receive a whole request, in ms; default 30,000. */
  requestTimeoutMs?: number
  /** Time to receive the request headers, in ms; default 10,000. */
  headersTimeoutMs?: number
  /** Where the built dashboard is (`index.html` and `assets/`); default `dist/ui` of this package. */
  uiDir?: string
}

/** Build the fastify app. Call `.listen()` on it to serve. */
export function createServer(options: ServerOptions): FastifyInstance {
  const { db } = options
  const keys = new KeyRing(options.apiKeys)
  const metrics = new ServerMetrics(db)
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 64 * 1024 * 1024,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    // Strict validation: no type coercion (a "10" is not a 10), no silently dropped fields.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Ids and keys reach the routes as decimal strings; keep them whole.
    routerOptions: { maxParamLength: 200 },
    return503OnClosing: true,
    // URLs the router refuses (bad percent-encoding, a parameter over maxParamLength): the
    // one error shape too, not fastify's own `{ "error": "Bad Request", ... }` (and 400, not 414).
    frameworkErrors: errorHandler,
    // One line per request at debug (below), not two at info: at tens of thousands of
    // requests per second the default request logging would cost more than the lookups.
    logController: new LogController({ disableRequestLogging: true }),
    // Requests log through the app's logger: a pino child per request (fastify's default)
    // costs more than a key lookup.
    childLoggerFactory: (logger) => logger,
  })
  app.server.headersTimeout = options.headersTimeoutMs ?? 10_000

  app.setErrorHandler(errorHandler)
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } })
  })
  // Keys are checked in the first preParsing hook: after every onRequest hook (the rate
  // limiter attaches its own to each route, so guessing keys is throttled too) and before
  // any byte of the body is read or inflated.
  if (keys.enabled) {
    app.addHook('preParsing', (req, _reply, payload, done) => {
      try {
        keys.check(req, req.routeOptions.config?.access ?? 'read')
      } catch (err) {
        return done(err as Error)
      }
      done(null, payload)
    })
  }
  installBodyHandling(app)
  // A route whose body schema is JSON only, sent anything else (plain `curl -d` sends
  // form-urlencoded): 415, not a confusing "body must have property" 400.
  app.addHook('preValidation', (req, _reply, done) => {
    const body = (req.routeOptions.schema as { body?: { content?: unknown } } | undefined)?.body
    if (body !== undefined && body.content === undefined && Buffer.isBuffer(req.body)) {
      return done(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `this route takes application/json, got ${req.headers['content-type'] ?? 'no content type'}`))
    }
    done()
  })

  if (options.rateLimitRps !== undefined) {
    void app.register(rateLimit, {
      max: options.rateLimitRps,
      timeWindow: 1000,
      keyGenerator: (req) => req.ip,
      errorResponseBuilder: (_req, ctx) =>
        new HttpError(429, 'RATE_LIMITED', `over ${ctx.max} requests per second from this address; retry in ${ctx.after}`),
    })
  }


  // While closing: server.close() closes the connections idle at that moment and then waits
  // for the rest, but a keep-alive connection whose request was in flight stays open after
  // its response until the client lets go (fastify's keep-alive timeout is 72 s), so close
  // would wait that long. Close such connections as soon as their response is sent.
  let closing = false
  app.addHook('preClose', (done) => {
    closing = true
    done()
  })

  // Whether the event loop is free to run a small search itself (load.ts).
  const load = new LoopLoad()
  app.addHook('onRequest', (req, _reply, done) => {
    load.arrived(req)
    done()
  })
  app.addHook('onRequestAbort', (req, done) => {
    load.finished(req)
    done()
  })

  const logRequests = app.log.level === 'debug' || app.log.level === 'trace'
  app.addHook('onResponse', (req, reply, done) => {
    load.finished(req)
    const ms = reply.elapsedTime
    metrics.requests.observe(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, ms / 1000)
    if (logRequests) req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms }, 'request')
    if (closing) app.server.closeIdleConnections()
    done()
  })

  app.addSchema(errorBodySchema)
  // Every documented route answers errors in the one shape.
  app.addHook('onRoute', (route) => {
    const schema = route.schema as { hide?: boolean; response?: Record<string, unknown> } | undefined
    if (schema && !schema.hide) schema.response = { ...schema.response, '4xx': { $ref: 'Error#' }, '5xx': { $ref: 'Error#' } }
  })
  void app.register(swagger, {
    openapi: {
      info: {
        title: 'KyroDB HTTP API',
        version: 'v1',
        description:
          'Vector collections and a learned-index key-value store. Errors: `{ "error": { "code", "message" } }`. ' +
          'u64 keys and ids: JSON integers up to 2^53-1 or decimal strings.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'an admin or read-only API key' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      security: [{ bearer: [] }, { apiKey: [] }],
    },
    // Binary bodies are Buffers to the validator (so their schema is empty), but the
    // document should say what they are.
    // (A copy: the route's own schema objects are left alone.)
    transform: ({ schema, url }) => {
      const s = schema as { body?: { content?: Record<string, { schema: Record<string, unknown> }> } } | undefined
      const content = s?.body?.content
      const binary = content?.['application/octet-stream']
      if (!s || !content || !binary) return { schema, url }
      const documented = { ...content, 'application/octet-stream': { ...binary, schema: { ...binary.schema, type: 'string', format: 'binary' } } }
      return { schema: { ...s, body: { ...s.body, content: documented } } as typeof schema, url }
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  })
  void app.register(systemRoutes, { db, metrics })
  void app.register(kvRoutes, { db })
  void app.register(adminRoutes, { db })
  void app.register(collectionRoutes, { db, metrics, load })
  void app.register(replicationRoutes, { db })

  // The dashboard: its page and assets, its API, the per-second live samples, its jobs.
  const live = new LiveFigures(db, metrics, () => jobs.busy)
  const jobs = new Jobs(db, () => live.jobSeen())
  live.start()
  app.addHook('onClose', async () => {
    live.stop()
    await jobs.idle()
  })
  void app.register(dashboardStatic, { dir: options.uiDir })
  void app.register(dashboardRoutes, { db, keys, live, jobs, version: packageVersion(), startedAt: Date.now() })
  return app
}
