/**
 * Kill test: a child process writes random batches and is killed with SIGKILL at random
 * moments (during recovery, writes, flushes, compactions); after every kill the directory
 * must hold exactly the acknowledged batches (plus, at most, the whole batch in flight)
 * and search must still find the true neighbours. The long run is
 * `npm run test:crash -- --trials 1000`.
 */
import test from 'ava'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { runTrials } = require('./crash/harness.cjs') as {
  runTrials: (o: { dir: string; trials: number; seed: number }) => Promise<{
    trials: number
    batches: number
    inflightApplied: number
    inflightLost: number
    killedBeforeReady: number
  }>
}

test('20 SIGKILLs at random moments lose no acknowledged write and leave no partial batch', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kyrodb-kill-'))
  try {
    const s = await runTrials({ dir, trials: 20, seed: 42 })
    t.is(s.trials, 20)
    t.true(s.batches > 100, `only ${s.batches} batches acknowledged across the trials`)
    t.log(JSON.stringify(s))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
