/**
 * `kyrodb verify`: open the database (which checks everything but the stored vectors of
 * large segments) and run `db.verify()` (which checks those), showing the time spent.
 * `db.verify()` reports no progress of its own, so the bar is open-ended: phase and time.
 * Damage fails with `CORRUPTION`, naming the file and offset (exit code 1).
 * @internal
 * @module
 */
import type { Command } from 'commander'
import { addDataDirOption, dataDirOf, openDatabase, plural, runCommand } from './common.js'
import { Progress, progressMode } from './progress.js'

interface VerifyOptions {
  dataDir: string
  db?: string
  quiet: boolean
  json: boolean
}

async function verifyCommand(opts: VerifyOptions): Promise<void> {
  const progress = new Progress(progressMode(opts.quiet))
  const started = performance.now()
  const dir = dataDirOf(opts)
  const opening = progress.start('verify: open and check', 0, '')
  let db
  try {
    db = await openDatabase(dir)
  } catch (err) {
    opening.abandon()
    throw err
  }
  opening.finish()
  try {
    const checking = progress.start('verify: large segments', 0, '')
    try {
      await db.verify()
    } catch (err) {
      checking.abandon()
      throw err
    }
    checking.finish()
    const collections = db.listCollections()
    const rows = collections.reduce((n, c) => n + c.count, 0)
    const seconds = (performance.now() - started) / 1000
    const recovery = db.recoveryReport
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ ok: true, dataDir: dir, collections: collections.length, rows, kvKeys: db.kv.stats().keys, recoveryReport: recovery, seconds: Number(seconds.toFixed(3)) })}\n`)
    } else {
      for (const line of recovery) progress.note(`verify: recovery: ${line}`)
      if (!opts.quiet) {
        process.stdout.write(
          `ok: ${dir}: ${plural(collections.length, 'collection')}, ${plural(rows, 'row')}, ${plural(db.kv.stats().keys, 'key')} verified in ${seconds.toFixed(1)} s\n`,
        )
      }
    }
  } finally {
    await db.close()
  }
}

/** Register `kyrodb verify`. */
export function registerVerify(program: Command): void {
  const cmd = program.command('verify').description('check a database for damage (checksums of every file, vectors of large segments)')
  addDataDirOption(cmd)
    .option('-q, --quiet', 'no progress and no summary (the exit code tells)', false)
    .option('--json', 'print the result as JSON', false)
    .action(async (opts: VerifyOptions) => runCommand('verify', () => verifyCommand(opts)))
}
