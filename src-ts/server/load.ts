/**
 * Whether the event loop is free to run a small search itself.
 *
 * Handing a search to the thread pool costs two cross-thread wake-ups (the worker's, then
 * the event loop's when the result is ready): ~50 µs on the 2-core VM of
 * `benches/RESULTS.md`, a third of a GloVe search. When the server is handling one request
 * at a time, the loop would only sit idle waiting for that search, so running it on the
 * loop (`searchSync`) is pure gain. When requests compete, searches must go to the pool so
 * that they use every core while the loop parses and answers HTTP.
 *
 * Competition is seen two ways: another request already between arrival and response
 * (`inFlight > 1`); or a request arriving in the same turn of the event loop as a search
 * that ran on the loop (it was waiting while that search ran: with one request at a time
 * the next one cannot arrive before the client has read the answer). After that, searches
 * go to the pool for {@link CONTENDED_MS}, then the loop tries again.
 * @module
 */

/** How long searches go to the pool after competition was seen. */
export const CONTENDED_MS = 50

export class LoopLoad {
  /** Requests between arrival and response (or abort). */
  #inFlight = 0
  #requests = new WeakSet<object>()
  /** A search ran on the loop in this turn of the event loop. */
  #loopSearchThisTurn = false
  #contendedUntil = 0

  /** `onRequest`: a request arrived. */
  arrived(req: object): void {
    this.#requests.add(req)
    this.#inFlight++
    if (this.#loopSearchThisTurn) this.#contendedUntil = performance.now() + CONTENDED_MS
  }

  /** `onResponse` / `onRequestAbort`: a request is done (counted once). */
  finished(req: object): void {
    if (this.#requests.delete(req)) this.#inFlight--
  }

  /** Whether a small search may run on the event loop now. */
  loopIsFree(): boolean {
    return this.#inFlight <= 1 && performance.now() >= this.#contendedUntil
  }

  /** Call after running a search on the loop. */
  ranOnLoop(): void {
    if (this.#loopSearchThisTurn) return
    this.#loopSearchThisTurn = true
    setImmediate(() => {
      this.#loopSearchThisTurn = false
    })
  }
}
