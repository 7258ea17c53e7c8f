// The serve command's upkeep and environment: --auto-snapshot-secs, --wal-max-bytes,
// KYRODB_WARM_ON_START, RUST_LOG reaching the engine's log, --rmi-rebuild-appends.
import test from 'ava'
import { rmSync } from 'node:fs'
import { request, startServer, type RunningServer } from './helpers/server.js'

const servers: RunningServer[] = []

test.after.always(async () => {
  for (const s of servers) {
    await s.stop()
    rmSync(s.dataDir, { recursive: true, force: true })
  }
})

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const v = await probe()
    if (v !== undefined) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const stats = async (s: RunningServer) => (await request(s.url, 'GET', '/v1/stats')).json

test('--auto-snapshot-secs flushes recent writes on a timer; warm-up and engine logs at RUST_LOG=info', async (t) => {
  const s = await startServer(['--auto-snapshot-secs', '1', '--wal-max-bytes', '0'], {
    env: { KYRODB_WARM_ON_START: '1', RUST_LOG: 'info' },
  })
  servers.push(s)
  t.is((await request(s.url, 'POST', '/v1/put', { key: 1, value: 'one' })).status, 200)
  const flushed = await until('an automatic snapshot', async () => {
    const st = await stats(s)
    return st.kv.flushes >= 1 ? st : undefined
  })
  t.is(flushed.kv.memtableEntries, 0, 'the write moved into a run')
  // The stats count the flush as soon as the engine has done it; the server logs it when the
  // flush's promise settles on the event loop, and the lines then cross a pipe — wait for them
  // (on a timeout the assertions below say which one is missing).
  const parse = () =>
    s
      .output()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; layer?: string; level: number })
  const logged = (ls: ReturnType<typeof parse>) =>
    ls.some((l) => l.msg === 'snapshot') && ls.some((l) => l.layer === 'engine' && /memtable written out/.test(l.msg))
  const lines = await until('the snapshot log lines', async () => {
    const ls = parse()
    return logged(ls) ? ls : undefined
  }).catch(() => parse())
  t.true(lines.some((l) => l.msg === 'warmed up'), 'KYRODB_WARM_ON_START=1 warms up before serving')
  t.true(lines.some((l) => l.msg === 'snapshot'), 'the snapshot is logged')
  t.true(
    lines.some((l) => l.layer === 'engine' && /^opened /.test(l.msg)),
    'the engine logs through the same stream at the RUST_LOG level',
  )
  t.true(lines.some((l) => l.layer === 'engine' && /memtable written out/.test(l.msg)))
})

test('--wal-max-bytes snapshots once the log on disk outgrows it; --rmi-rebuild-appends turns writes into runs', async (t) => {
  const s = await startServer(['--wal-max-bytes', '4096', '--rmi-rebuild-appends', '3', '--log-level', 'warn'])
  servers.push(s)
  const before = await stats(s)
  t.is(before.database.walFrames, 0)
  // 8 KiB into the log: over the limit, so the next check (every second) snapshots.
  t.is((await request(s.url, 'POST', '/v1/put', { key: 2, value: 'x'.repeat(8192) })).status, 200)
  const trimmed = await until('the WAL to be trimmed', async () => {
    const st = await stats(s)
    return st.database.walDiskBytes < 4096 ? st : undefined
  })
  t.true(trimmed.kv.flushes >= 1)
  // Three appends reach --rmi-rebuild-appends: the memtable becomes a run by itself.
  for (const key of [10, 11, 12]) t.is((await request(s.url, 'POST', '/v1/put', { key, value: 'v' })).status, 200)
  const runs = await until('a run from rmi-rebuild-appends', async () => {
    const st = await stats(s)
    return st.kv.flushes >= 2 ? st : undefined
  })
  t.is(runs.kv.keys, 4)
  t.is((await request(s.url, 'GET', '/v1/lookup?key=2')).json.value.length, 8192)
})

test('--auto-snapshot-secs beyond what a timer can wait (2^31-1 ms) is refused, not run as a snapshot every millisecond', async (t) => {
  // 30 days: Node turns a timer delay above 2^31-1 ms into 1 ms, so this served with a
  // snapshot (and a run per write) every millisecond.
  const started = startServer(['--auto-snapshot-secs', String(30 * 24 * 3600), '--wal-max-bytes', '0'])
  const err = await t.throwsAsync(
    started.then(async (s) => {
      servers.push(s)
      await request(s.url, 'POST', '/v1/put', { key: 1, value: 'one' })
      await new Promise((r) => setTimeout(r, 1000))
      return (await stats(s)).kv.flushes
    }),
  )
  t.regex(err?.message ?? '', /--auto-snapshot-secs must be an integer in 0\.\.2147483/)
})
