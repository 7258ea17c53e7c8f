/**
 * HTTP errors: every error response is `{ "error": { "code", "message" } }`, with the
 * engine's {@link ErrorCode} where the engine refused, and one of the HTTP-only codes
 * below where the HTTP layer did.
 * @module
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { KyroDBError, type ErrorCode } from '../errors.js'

/** Codes only the HTTP layer produces. */
export type HttpOnlyCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'RATE_LIMITED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'TIMEOUT'

/** Every `error.code` a response can carry. */
export type HttpErrorCode = ErrorCode | HttpOnlyCode

/** An error the HTTP layer raises itself (auth, media type, a missing key). */
export class HttpError extends Error {
  readonly statusCode: number
  readonly code: HttpErrorCode
  constructor(statusCode: number, code: HttpErrorCode, message: string) {
    super(message)
    this.statusCode = statusCode
    this.code = code
  }
}

const engineStatus: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  DIMENSION_MISMATCH: 400,
  INVALID_FILTER: 400,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  CLOSED: 503,
  IO: 500,
  CORRUPTION: 500,
  LOCKED: 423,
  READ_ONLY: 503,
  INTERNAL: 500,
  UNAVAILABLE: 503,
}

const fastifyCodes: Record<string, [number, HttpErrorCode]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_ARGUMENT'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_ARGUMENT'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'INVALID_ARGUMENT'],
  FST_ERR_VALIDATION: [400, 'INVALID_ARGUMENT'],
  FST_ERR_REQ_TIMEOUT: [408, 'TIMEOUT'],
}

/** Status and code of any error a route or hook threw. */
export function classify(err: unknown): { status: number; code: HttpErrorCode; message: string } {
  const message = err instanceof Error ? err.message : String((err as { message?: unknown })?.message ?? err)
  if (err instanceof KyroDBError) return { status: engineStatus[err.code], code: err.code, message }
  if (err instanceof HttpError) return { status: err.statusCode, code: err.code, message }
  const e = err as Partial<FastifyError> & { validation?: unknown }
  if (e.validation) return { status: 400, code: 'INVALID_ARGUMENT', message }
  const known = e.code ? fastifyCodes[e.code] : undefined
  if (known) return { status: known[0], code: known[1], message }
  const status = typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 600 ? e.statusCode : 500
  if (status === 413) return { status, code: 'PAYLOAD_TOO_LARGE', message }
  if (status === 429) return { status, code: 'RATE_LIMITED', message }
  if (status === 408) return { status, code: 'TIMEOUT', message }
  if (status === 415) return { status, code: 'UNSUPPORTED_MEDIA_TYPE', message }
  // Malformed JSON, a corrupt gzip body and the like: the client's fault.
  if (status < 500) return { status: 400, code: 'INVALID_ARGUMENT', message }
  return { status, code: 'INTERNAL', message }
}

/** fastify error handler: the error body, and a log line for server-side failures. */
export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, code, message } = classify(err)
  if (status >= 500) req.log.error({ err, code }, 'request failed')
  void reply.status(status).send({ error: { code, message } })
}

/** The JSON schema of an error body (for the OpenAPI document). */
export const errorBodySchema = {
  $id: 'Error',
  type: 'object',
  description: 'Every error response. `code` is stable; `message` is for humans.',
  properties: {
    error: {
      type: 'object',
      properties: {
        code: { type: 'string', description: 'INVALID_ARGUMENT, DIMENSION_MISMATCH, NOT_FOUND, UNAUTHORIZED, ...' },
        message: { type: 'string' },
      },
      required: ['code', 'message'],
    },
  },
  required: ['error'],
} as const
