// A dependency-free SVG line chart: recall@10 (x) against queries/s (y, log scale), one
// polyline per system. Enough for the recall/QPS curves the benchmarks publish.
const COLORS = ['#d62728', '#1f77b4', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2']

export function recallQpsSvg(title, series, { xMin = 0.8, width = 760, height = 480 } = {}) {
  const m = { l: 70, r: 190, t: 40, b: 50 }
  const pts = series.flatMap((s) => s.points).filter((p) => p.recall >= xMin && p.qps > 0)
  const yMin = Math.pow(10, Math.floor(Math.log10(Math.min(...pts.map((p) => p.qps)))))
  const yMax = Math.pow(10, Math.ceil(Math.log10(Math.max(...pts.map((p) => p.qps)))))
  const X = (r) => m.l + ((r - xMin) / (1 - xMin)) * (width - m.l - m.r)
  const Y = (q) => m.t + (1 - (Math.log10(q) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (height - m.t - m.b)
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2 - m.r / 2}" y="22" text-anchor="middle" font-size="15">${title}</text>`,
  ]
  for (let r = xMin; r <= 1.0001; r += 0.02) {
    out.push(`<line x1="${X(r)}" y1="${m.t}" x2="${X(r)}" y2="${height - m.b}" stroke="#eee"/>`)
    out.push(`<text x="${X(r)}" y="${height - m.b + 16}" text-anchor="middle">${r.toFixed(2)}</text>`)
  }
  for (let q = yMin; q <= yMax * 1.0001; q *= 10) {
    for (const f of [1, 2, 5]) {
      const v = q * f
      if (v > yMax) break
      out.push(`<line x1="${m.l}" y1="${Y(v)}" x2="${width - m.r}" y2="${Y(v)}" stroke="${f === 1 ? '#ccc' : '#f3f3f3'}"/>`)
      out.push(`<text x="${m.l - 6}" y="${Y(v) + 4}" text-anchor="end">${v >= 1000 ? `${v / 1000}k` : v}</text>`)
    }
  }
  out.push(`<text x="${(m.l + width - m.r) / 2}" y="${height - 12}" text-anchor="middle">recall@10</text>`)
  out.push(`<text transform="translate(18 ${(m.t + height - m.b) / 2}) rotate(-90)" text-anchor="middle">queries/s, one thread (log)</text>`)
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length]
    const p = s.points.filter((p) => p.recall >= xMin).sort((a, b) => a.recall - b.recall)
    if (p.length) {
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${p.map((x) => `${X(x.recall).toFixed(1)},${Y(x.qps).toFixed(1)}`).join(' ')}"/>`)
      p.forEach((x) => out.push(`<circle cx="${X(x.recall).toFixed(1)}" cy="${Y(x.qps).toFixed(1)}" r="3" fill="${c}"/>`))
    }
    const ly = m.t + 10 + i * 20
    out.push(`<line x1="${width - m.r + 15}" y1="${ly}" x2="${width - m.r + 40}" y2="${ly}" stroke="${c}" stroke-width="3"/>`)
    out.push(`<text x="${width - m.r + 46}" y="${ly + 4}">${s.name}</text>`)
  })
  out.push('</svg>')
  return out.join('\n')
}
