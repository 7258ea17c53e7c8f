/**
 * Progress of the CLI's long commands, on stderr (stdout stays for data, e.g. `kyrodb
 * export` to stdout): a `cli-progress` bar when stderr is a terminal, otherwise plain
 * lines like `import: 120000/1000000 rows (12%)` at most once a second (and always the
 * first and last), nothing with `--quiet`.
 * @internal
 * @module
 */
import { SingleBar } from 'cli-progress'

/** How progress is shown. */
export type ProgressMode = 'bar' | 'lines' | 'none'

/** The mode for this process: `none` when quiet, a bar on a terminal, else plain lines. */
export function progressMode(quiet: boolean, stream: NodeJS.WriteStream = process.stderr): ProgressMode {
  if (quiet) return 'none'
  return stream.isTTY ? 'bar' : 'lines'
}

/** One phase of work with a known total (`rows`, `bytes`) or an open-ended one (`total` 0). */
export interface Task {
  /** Work done so far (and a new total, if it changed). */
  update(done: number, total?: number): void
  /** The phase finished: the last line / a full bar. */
  finish(): void
  /** The phase was abandoned: stop drawing, print nothing more. */
  abandon(): void
}

const MIB = 1024 * 1024

function formatAmount(n: number, unit: string, human: boolean): string {
  if (unit === 'bytes' && human) return `${(n / MIB).toFixed(1)} MiB`
  return String(n)
}

/** Progress reporter of one CLI run. */
export class Progress {
  readonly mode: ProgressMode
  readonly #stream: NodeJS.WriteStream
  readonly #intervalMs: number

  constructor(mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr, intervalMs = 1000) {
    this.mode = mode
    this.#stream = stream
    this.#intervalMs = intervalMs
  }

  /** A message line (not progress): printed unless quiet. */
  note(line: string): void {
    if (this.mode !== 'none') this.#stream.write(`${line}\n`)
  }

  /**
   * Start a phase named `label` of `total` units (`0`: unknown, e.g. `verify`, which shows
   * only the time spent).
   */
  start(label: string, total: number, unit: 'rows' | 'bytes' | ''): Task {
    if (this.mode === 'none') return { update() {}, finish() {}, abandon() {} }
    if (this.mode === 'bar') return this.#bar(label, total, unit)
    return this.#lines(label, total, unit)
  }

  #bar(label: string, total: number, unit: string): Task {
    const openEnded = total === 0
    const bar = new SingleBar({
      stream: this.#stream,
      format: openEnded
        ? `${label}: {status} {duration_formatted}`
        : `${label} [{bar}] {percentage}% | {value}/{total} ${unit === 'bytes' ? '' : unit} | {duration_formatted} elapsed, ETA {eta_formatted}`,
      formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? formatAmount(v, unit, true) : String(v)),
      hideCursor: true,
      clearOnComplete: false,
      barsize: 30,
      etaBuffer: 50,
      fps: 10,
    })
    bar.start(openEnded ? 1 : total, 0, { status: 'running' })
    // An open-ended phase shows time only: redraw every second.
    const tick = openEnded ? setInterval(() => bar.update(0, { status: 'running' }), 1000) : undefined
    tick?.unref()
    let stopped = false
    const stop = (final: boolean) => {
      if (stopped) return
      stopped = true
      if (tick) clearInterval(tick)
      if (final) {
        if (openEnded) bar.update(0, { status: 'done' })
        else bar.update(bar.getTotal())
      }
      bar.stop()
    }
    return {
      update: (done, newTotal) => {
        if (stopped || openEnded) return
        if (newTotal !== undefined && newTotal !== bar.getTotal()) bar.setTotal(newTotal)
        bar.update(done)
      },
      finish: () => stop(true),
      abandon: () => stop(false),
    }
  }

  #lines(label: string, total: number, unit: string): Task {
    const started = Date.now()
    let last = 0
    let current = 0
    let stopped = false
    const line = (done: number) => {
      last = Date.now()
      if (total === 0) {
        this.#stream.write(`${label}: running (${Math.round((last - started) / 1000)} s)\n`)
        return
      }
      const pct = total > 0 ? Math.floor((done / total) * 100) : 100
      this.#stream.write(`${label}: ${formatAmount(done, unit, false)}/${formatAmount(total, unit, false)} ${unit} (${pct}%)\n`)
    }
    line(0)
    const tick = total === 0 ? setInterval(() => line(0), Math.max(this.#intervalMs, 5000)) : undefined
    tick?.unref()
    return {
      update: (done, newTotal) => {
        if (stopped) return
        if (newTotal !== undefined) total = newTotal
        current = done
        if (total !== 0 && Date.now() - last >= this.#intervalMs) line(done)
      },
      finish: () => {
        if (stopped) return
        stopped = true
        if (tick) clearInterval(tick)
        if (total === 0) this.#stream.write(`${label}: done (${((Date.now() - started) / 1000).toFixed(1)} s)\n`)
        else line(Math.max(current, total))
      },
      abandon: () => {
        stopped = true
        if (tick) clearInterval(tick)
      },
    }
  }
}
