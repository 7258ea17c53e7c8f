/**
 * API keys. Two roles: an **admin** key may call every route; a **read** key only the
 * routes that change nothing (lookups, searches, listings, metrics). A request presents
 * its key as `Authorization: Bearer <key>` or `X-API-Key: <key>`. With no keys
 * configured every route is open (the CLI allows that only on loopback addresses).
 *
 * Keys are compared as SHA-256 digests with `crypto.timingSafeEqual`, against every
 * configured key without stopping at a match, so the time taken says nothing about how
 * much of a key was right. Keys are never logged.
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { HttpError } from './errors.js'

/** What a route needs: nothing, a read key, or an admin key. */
export type Access = 'public' | 'read' | 'admin'

/** Configured keys of each role. */
export interface ApiKeys {
  /** Keys that may call every route. */
  admin?: readonly string[]
  /** Keys that may only read. */
  read?: readonly string[]
}

const digest = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest()

function presentedKey(req: FastifyRequest): string | undefined {
  const auth = req.headers.authorization
  if (typeof auth === 'string' && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim()
  const header = req.headers['x-api-key']
  return typeof header === 'string' ? header : undefined
}

/** The configured keys and the check every request passes through. */
export class KeyRing {
  readonly #admin: Buffer[]
  readonly #read: Buffer[]

  constructor(keys: ApiKeys = {}) {
    for (const k of [...(keys.admin ?? []), ...(keys.read ?? [])]) {
      if (typeof k !== 'string' || k.length < 16) throw new Error('API keys must be strings of at least 16 characters')
    }
    this.#admin = (keys.admin ?? []).map(digest)
    this.#read = (keys.read ?? []).map(digest)
  }

  /** Whether any key is configured (otherwise every route is open). */
  get enabled(): boolean {
    return this.#admin.length + this.#read.length > 0
  }

  /** The role of `key`, or `null`. Constant time in the key's content. */
  roleOf(key: string | undefined): 'admin' | 'read' | null {
    const d = digest(key ?? '')
    let admin = false
    let read = false
    for (const k of this.#admin) admin = timingSafeEqual(k, d) || admin
    for (const k of this.#read) read = timingSafeEqual(k, d) || read
    if (key === undefined) return null
    return admin ? 'admin' : read ? 'read' : null
  }

  /**
   * What the request's key may do: `'admin'` or `'read'`, or `null` for no valid key. With
   * no keys configured every request may do everything: `'admin'`.
   */
  roleOfRequest(req: FastifyRequest): 'admin' | 'read' | null {
    return this.enabled ? this.roleOf(presentedKey(req)) : 'admin'
  }

  /** Throw 401/403 unless the request may call a route needing `access`. */
  check(req: FastifyRequest, access: Access): void {
    if (access === 'public' || !this.enabled) return
    const role = this.roleOf(presentedKey(req))
    if (role === null) throw new HttpError(401, 'UNAUTHORIZED', 'a valid API key is required (Authorization: Bearer <key> or X-API-Key)')
    if (access === 'admin' && role !== 'admin') throw new HttpError(403, 'FORBIDDEN', 'this route needs an admin key; the key given may only read')
  }
}
