// Numbers for people: bytes, counts, durations, times.

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–'
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let u = 0
  let x = n
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024
    u++
  }
  return `${u === 0 ? x : x.toFixed(x < 10 ? 2 : x < 100 ? 1 : 0)} ${units[u]}`
}

export function count(n: number | null | undefined): string {
  if (n === null || n === undefined) return '–'
  return Math.round(n).toLocaleString('en-US')
}

export function decimal(n: number | null | undefined, digits = 1): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–'
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 1)}%`
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  const h = Math.floor(m / 60)
  if (h < 48) return `${h} h ${m % 60} min`
  return `${Math.floor(h / 24)} d ${h % 24} h`
}

export function ago(t: number | null | undefined, now = Date.now()): string {
  if (t === null || t === undefined) return '–'
  return `${duration(Math.max(0, now - t))} ago`
}

export function clock(t: number): string {
  return new Date(t).toLocaleTimeString('en-GB')
}
