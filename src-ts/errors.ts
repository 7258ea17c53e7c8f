/**
 * Errors thrown by KyroDB. Every error is a {@link KyroDBError} with a stable
 * {@link KyroDBError.code}; branch on the code (or the subclass), never on the message.
 * @module
 */

/** Every error code KyroDB produces. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'DIMENSION_MISMATCH'
  | 'INVALID_FILTER'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CLOSED'
  | 'IO'
  | 'CORRUPTION'
  | 'LOCKED'
  | 'READ_ONLY'
  | 'INTERNAL'
  | 'UNAVAILABLE'

/** Base class of every error KyroDB throws. A failed call changes nothing. */
export class KyroDBError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** An argument is malformed or out of range (bad id, NaN in a vector, k out of range, bad name...). */
export class InvalidArgumentError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options)
  }
}

/** A vector's length does not match the collection's dimension. */
export class DimensionMismatchError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('DIMENSION_MISMATCH', message, options)
  }
}

/** A metadata filter is malformed; the message points at the position or JSON path. */
export class InvalidFilterError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_FILTER', message, options)
  }
}

/** The named collection does not exist (or was dropped). */
export class NotFoundError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('NOT_FOUND', message, options)
  }
}

/** A collection with that name already exists. */
export class AlreadyExistsError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ALREADY_EXISTS', message, options)
  }
}

/** The database was closed. */
export class ClosedError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CLOSED', message, options)
  }
}

/** The operating system reported an I/O error. */
export class IoError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('IO', message, options)
  }
}

/**
 * Stored data failed a check; the message names the file and the offset. Open with
 * `{ salvage: true }` to recover what is intact (see {@link Database.recoveryReport}).
 */
export class CorruptionError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CORRUPTION', message, options)
  }
}

/** The database directory is already open, in this process or another. */
export class LockedError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LOCKED', message, options)
  }
}

/**
 * A write could not be made durable (an fsync failed), so the database refuses writes
 * until it is closed and reopened; reads go on working.
 */
export class ReadOnlyError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('READ_ONLY', message, options)
  }
}

/** A bug in KyroDB (an internal invariant failed or native code panicked). Please report it. */
export class InternalError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options)
  }
}

/**
 * A replicated database could not reach its NATS JetStream stream within the bounded wait
 * (`replication.timeoutMs`), so the write was not acknowledged; it may still have been
 * stored (its message id makes a retry apply once). Reads keep working.
 */
export class UnavailableError extends KyroDBError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options)
  }
}

const classes: Record<ErrorCode, new (message: string, options?: { cause?: unknown }) => KyroDBError> = {
  INVALID_ARGUMENT: InvalidArgumentError,
  DIMENSION_MISMATCH: DimensionMismatchError,
  INVALID_FILTER: InvalidFilterError,
  NOT_FOUND: NotFoundError,
  ALREADY_EXISTS: AlreadyExistsError,
  CLOSED: ClosedError,
  IO: IoError,
  CORRUPTION: CorruptionError,
  LOCKED: LockedError,
  READ_ONLY: ReadOnlyError,
  INTERNAL: InternalError,
  UNAVAILABLE: UnavailableError,
}

/** Build the error subclass for `code`. */
export function kyroError(code: ErrorCode, message: string, cause?: unknown): KyroDBError {
  return new classes[code](message, cause === undefined ? undefined : { cause })
}

/**
 * Convert an error thrown by the native layer. Native messages are `"<CODE>: <message>"`
 * (the code is set in Rust); anything else is a value napi-rs could not convert, which
 * is the caller's argument.
 * @internal
 */
export function fromNative(err: unknown): KyroDBError {
  if (err instanceof KyroDBError) return err
  const message = err instanceof Error ? err.message : String(err)
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(message)
  if (m && m[1] in classes) return kyroError(m[1] as ErrorCode, m[2], err)
  return new InvalidArgumentError(message, { cause: err })
}

/** Run a native call, translating its errors. @internal */
export function call<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/** Await a native promise, translating its rejection. @internal */
export async function callAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw fromNative(err)
  }
}
