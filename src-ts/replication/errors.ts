/**
 * Typed errors of replicated databases, beyond `UNAVAILABLE` ({@link UnavailableError}).
 * @module
 */
import { KyroDBError } from '../errors.js'

/** Why a {@link ReplicationError} was raised. */
export type ReplicationErrorReason =
  /** `replication` options are malformed (servers, stream, node, consistency, timeouts). */
  | 'config'
  /** The stream exists with a configuration this node cannot use (subjects, replicas, retention). */
  | 'stream-config'
  /** The local directory holds data of another stream (or data not written through a stream). */
  | 'foreign-data'
  /** A record in the stream has a newer format version than this build understands. */
  | 'record-version'
  /** A record in the stream is not a KyroDB record (bad magic or truncated). */
  | 'record-format'
  /** The stream was trimmed past this node's applied sequence: restart it empty to bootstrap from a snapshot. */
  | 'needs-bootstrap'

/**
 * A replication misconfiguration or an unusable stream record. Code `INVALID_ARGUMENT`
 * (the input — options, directory or stream — is what is wrong); branch on
 * {@link ReplicationError.reason}. Nothing is applied when it is raised.
 */
export class ReplicationError extends KyroDBError {
  /** What is wrong. */
  readonly reason: ReplicationErrorReason

  constructor(reason: ReplicationErrorReason, message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options)
    this.reason = reason
  }
}
