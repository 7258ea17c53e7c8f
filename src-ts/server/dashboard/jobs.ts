/**
 * Maintenance started from the dashboard (admin key): flush, compact, build a
 * collection's index, verify. The HTTP maintenance routes answer when the work is done;
 * these run as jobs instead, so the page can show their progress from the API's progress
 * callbacks (`onProgress(done, total)`) while they run. One job at a time; the last
 * {@link KEEP} are remembered. The server waits for a running job before it closes the
 * database.
 * @module
 */
import type { Database } from '../../database.js'
import { HttpError } from '../errors.js'

/** What a job does. */
export type JobKind = 'flush' | 'compact' | 'build_index' | 'verify'

export const JOB_KINDS: readonly JobKind[] = ['flush', 'compact', 'build_index', 'verify']

export interface Job {
  id: number
  kind: JobKind
  /** The collection, for `build_index`. */
  collection?: string
  state: 'running' | 'done' | 'failed'
  /** Work done and total work as the progress callback last reported (rows); `done = total` once finished. */
  done: number
  total: number
  startedAt: number
  endedAt?: number
  error?: { code: string; message: string }
}

/** Jobs remembered. */
const KEEP = 20

export class Jobs {
  readonly #db: Database
  readonly #onStart: () => void
  readonly #jobs: Job[] = []
  #nextId = 1
  #running: Promise<void> | null = null

  /** `onStart` is told of each job as it starts (the live figures mark it). */
  constructor(db: Database, onStart: () => void = () => {}) {
    this.#db = db
    this.#onStart = onStart
  }

  /** Whether a job is running. */
  get busy(): boolean {
    return this.#running !== null
  }

  /** The remembered jobs, newest first. */
  list(): Job[] {
    return this.#jobs.map((j) => ({ ...j })).reverse()
  }

  get(id: number): Job | undefined {
    const j = this.#jobs.find((x) => x.id === id)
    return j === undefined ? undefined : { ...j }
  }

  /** Resolves once no job is running (for shutdown). */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running
  }

  /** Start a job; throws 409 while another runs, 404 for an unknown collection. */
  start(kind: JobKind, collection?: string): Job {
    const running = this.#jobs.find((j) => j.state === 'running')
    if (running !== undefined) {
      throw new HttpError(409, 'ALREADY_EXISTS', `job ${running.id} (${running.kind}) is still running; one maintenance job at a time`)
    }
    let work: (onProgress: (done: number, total: number) => void) => Promise<void>
    if (kind === 'build_index') {
      if (collection === undefined) throw new HttpError(400, 'INVALID_ARGUMENT', 'build_index needs a collection')
      const c = this.#db.collection(collection) // NOT_FOUND before the job exists
      work = (onProgress) => c.buildIndex({ onProgress })
    } else if (kind === 'flush') work = (onProgress) => this.#db.flush({ onProgress })
    else if (kind === 'compact') work = (onProgress) => this.#db.compact({ onProgress })
    else work = () => this.#db.verify() // no progress callback: 0 of 1, then 1 of 1
    const job: Job = { id: this.#nextId++, kind, state: 'running', done: 0, total: 1, startedAt: Date.now() }
    if (collection !== undefined) job.collection = collection
    this.#jobs.push(job)
    if (this.#jobs.length > KEEP) this.#jobs.shift()
    this.#onStart()
    this.#running = work((done, total) => {
      job.done = done
      job.total = Math.max(total, done)
    })
      .then(() => {
        job.state = 'done'
        job.total = Math.max(job.total, 1)
        job.done = job.total
      })
      .catch((err: unknown) => {
        job.state = 'failed'
        const e = err as { code?: unknown; message?: unknown }
        job.error = { code: typeof e.code === 'string' ? e.code : 'INTERNAL', message: String(e.message ?? err) }
      })
      .finally(() => {
        job.endedAt = Date.now()
        this.#running = null
      })
    return { ...job }
  }
}
