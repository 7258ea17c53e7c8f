/**
 * Request bodies: compressed bodies (`Content-Encoding: gzip`, `deflate`, `br`) are
 * inflated as they stream in, so the body limit counts **decompressed** bytes (a small
 * compressed body cannot expand past the limit: 413); any body that is not JSON reaches
 * the routes as a `Buffer` (raw values of `put_fast`, binary vectors).
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Readable } from 'node:stream'
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib'
import { HttpError } from './errors.js'
import { findUnsafeInteger } from './json.js'

const inflaters: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
}

/** Install the decompression hook and the raw-body parser on `app`. */
export function installBodyHandling(app: FastifyInstance): void {
  app.addHook('preParsing', (req: FastifyRequest, _reply, payload: Readable, done) => {
    const header = req.headers['content-encoding']
    if (header === undefined) return done(null, payload)
    const encoding = header.trim().toLowerCase()
    if (encoding === '' || encoding === 'identity') return done(null, payload)
    // Own properties only: `constructor` or `__proto__` must not find Object.prototype's.
    const make = Object.hasOwn(inflaters, encoding) ? inflaters[encoding] : undefined
    if (make === undefined) return done(new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported (gzip, deflate, br)`))
    const inflated = make() as NodeJS.ReadWriteStream & { receivedEncodedLength?: number }
    // fastify matches Content-Length against the bytes received on the wire.
    inflated.receivedEncodedLength = 0
    payload.on('data', (chunk: Buffer) => {
      inflated.receivedEncodedLength! += chunk.length
    })
    payload.on('error', (err) => inflated.emit('error', err))
    // A corrupt compressed body is the client's fault: 400, not 500.
    inflated.on('error', (err: Error & { statusCode?: number }) => {
      err.statusCode ??= 400
    })
    done(null, payload.pipe(inflated) as unknown as Readable)
  })
  // JSON: fastify's own parser (prototype-poisoning checks included), after a check that
  // no integer in the body is one JSON.parse would round (see json.ts).
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    const unsafe = findUnsafeInteger(text)
    if (unsafe !== null) {
      return done(
        new HttpError(
          400,
          'INVALID_ARGUMENT',
          `the JSON number ${unsafe.literal} at byte ${Buffer.byteLength(text.slice(0, unsafe.offset))} is an integer beyond 2^53 - 1, which would be rounded: send it as a string (ids and keys as decimal strings)`,
        ),
        undefined,
      )
    }
    parseJson(req, text, done)
  })
  // fastify's built-in text/plain parser would hand routes a string, which skips the JSON
  // schemas of routes that also take binary bodies (points): everything not JSON is bytes.
  app.removeContentTypeParser('text/plain')
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body))
}
