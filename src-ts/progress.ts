/**
 * Progress callbacks of long operations (`buildIndex`, `flush`, `compact`, `snapshot`).
 * @module
 */
import { InvalidArgumentError } from './errors.js'

/** Called from time to time with work done and total work (rows). Advisory only. */
export type ProgressCallback = (done: number, total: number) => void

/** Check a user-supplied `onProgress`. */
function checkProgress(onProgress: unknown): ProgressCallback | undefined {
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new InvalidArgumentError('onProgress must be a function')
  }
  return onProgress as ProgressCallback | undefined
}

/** The checked `onProgress` of an options object like `{ onProgress }`. */
export function progressOption(options: unknown): ProgressCallback | undefined {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options must be an object like { onProgress }')
  return checkProgress((options as { onProgress?: unknown }).onProgress)
}

/**
 * Run a native operation that reports progress. Native reports are queued to this thread
 * and may arrive after the operation settles; only reports before then are passed on, in
 * increasing order, and when the operation resolves with a row count `n > 0` a final
 * `(n, n)` is delivered before the promise resolves. A throwing callback is ignored.
 */
export async function withProgress<T>(
  onProgress: ProgressCallback | undefined,
  run: (cb: ((pair: [number, number]) => void) | undefined) => Promise<T>,
): Promise<T> {
  let settled = false
  let last = 0
  const report = (done: number, total: number) => {
    if (settled || done <= last) return
    last = done
    try {
      onProgress?.(done, total)
    } catch {
      // ignored: progress is advisory
    }
  }
  const cb = onProgress === undefined ? undefined : ([done, total]: [number, number]) => report(done, total)
  try {
    const result = await run(cb)
    if (typeof result === 'number' && result > 0) report(result, result)
    return result
  } finally {
    settled = true
  }
}
