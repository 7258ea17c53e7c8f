/**
 * The search route's choice between the event loop and the thread pool
 * (src-ts/server/load.ts): a small search runs on the loop only while its request is the
 * only one in progress and no competition was seen in the last CONTENDED_MS.
 */
import test from 'ava'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { CONTENDED_MS, LoopLoad } from '../src-ts/server/load.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

test('one request at a time: the loop is free; two in progress: it is not; each request counts once', (t) => {
  const load = new LoopLoad()
  const [a, b] = [{}, {}]
  t.true(load.loopIsFree(), 'idle')
  load.arrived(a)
  t.true(load.loopIsFree(), 'only its own request')
  load.arrived(b)
  t.false(load.loopIsFree(), 'another request in progress')
  load.finished(b)
  load.finished(b) // an abort followed by a response: counted once
  t.true(load.loopIsFree())
  load.finished(a)
  load.arrived({})
  t.true(load.loopIsFree(), 'the count did not go below zero')
})

test('a request arriving in the same turn as a search on the loop sends searches to the pool for a while', async (t) => {
  const load = new LoopLoad()
  const first = {}
  load.arrived(first)
  t.true(load.loopIsFree())
  load.ranOnLoop()
  load.finished(first)
  const waiting = {}
  load.arrived(waiting) // it was queued behind the search
  load.finished(waiting)
  t.false(load.loopIsFree(), 'competition seen')
  await sleep(CONTENDED_MS + 20)
  t.true(load.loopIsFree(), 'the loop tries again after the window')

  // A request arriving in a later turn (after the client read the answer) is no competition.
  load.ranOnLoop()
  await nextTurn()
  load.arrived({})
  t.true(load.loopIsFree())
})
