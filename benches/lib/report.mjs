// Shared helpers for benchmark scripts: statistics, timing, and writing a section of
// benches/RESULTS.md (and the README table) between named markers, so each benchmark
// owns its own section and re-running one never clobbers another's figures.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
export const REPO_DIR = path.dirname(BENCH_DIR)

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[i]
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Replace the text between `<!-- name:start -->` and `<!-- name:end -->` in `file`
 *  (appending the block when the markers are missing). */
export function writeSection(file, name, body) {
  const start = `<!-- ${name}:start -->`
  const end = `<!-- ${name}:end -->`
  const block = `${start}\n${body.trim()}\n${end}`
  let text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
  const i = text.indexOf(start)
  const j = text.indexOf(end)
  if (i >= 0 && j > i) text = text.slice(0, i) + block + text.slice(j + end.length)
  else if (text.includes(name.toUpperCase().replace(/-/g, '_'))) text = text.replace(name.toUpperCase().replace(/-/g, '_'), block)
  else text = `${text.trimEnd()}\n\n${block}\n`
  fs.writeFileSync(file, text)
}

export function table(header, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function fmt(x, digits = 1) {
  if (!Number.isFinite(x)) return '–'
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}
