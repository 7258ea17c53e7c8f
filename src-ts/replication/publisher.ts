/**
 * The write path: publish one encoded record to the stream and wait for JetStream's ack
 * (stored on a quorum of the stream's replicas), retrying with the same message id until
 * a deadline, so a retried publish is stored — and applied — once.
 * @module
 */
import { randomBytes } from 'node:crypto'
import { UnavailableError } from '../errors.js'
import type { ReplicationConfig } from './config.js'
import type { Link } from './connection.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** A fresh message id: `<node>-<time>-<random>` (unique across nodes and restarts). */
export function newMsgId(node: string): string {
  return `${node}-${Date.now().toString(36)}-${randomBytes(9).toString('base64url')}`
}

/** What JetStream answered. */
export interface Stored {
  seq: number
  /** JetStream recognised the message id as already stored (a retry). */
  duplicate: boolean
}

/**
 * Publish `data` with message id `msgId`; resolves once stored. `link()` returns the
 * current link or `null` while unconnected.
 * @throws UnavailableError when not stored by `deadline`
 */
export async function publishRecord(
  link: () => Link | null,
  cfg: ReplicationConfig,
  data: Uint8Array,
  msgId: string,
  deadline: number,
): Promise<Stored> {
  let lastErr: unknown = null
  let attempts = 0
  for (;;) {
    const remaining = deadline - Date.now()
    if (remaining <= 0) break
    const l = link()
    if (l === null || l.nc.isClosed()) {
      await sleep(Math.min(100, remaining))
      continue
    }
    attempts++
    try {
      const ack = await l.js.publish(cfg.subject, data, {
        msgID: msgId,
        expect: { streamName: cfg.stream },
        timeout: Math.max(50, Math.min(remaining, 2000)),
      })
      return { seq: ack.seq, duplicate: ack.duplicate }
    } catch (err) {
      lastErr = err
      await sleep(Math.min(100 * attempts, 500, Math.max(0, deadline - Date.now())))
    }
  }
  const why = lastErr === null ? 'not connected to NATS' : String((lastErr as Error)?.message ?? lastErr)
  throw new UnavailableError(
    `stream ${cfg.stream} did not store the write within ${cfg.timeoutMs} ms (${attempts} attempts; ${why}); ` +
      `it was not acknowledged — retrying it is safe (message id ${msgId})`,
    lastErr === null ? undefined : { cause: lastErr },
  )
}
