// autocannon in its own process (so the load generator never shares a heap or an event
// loop with a benchmark's data set). Prints one JSON line: requests/s and latency.
//   node benches/lib/load.mjs '<json>'   where json = { url, connections, duration, method?,
//     randomPath?: { prefix, keys }, bodiesFile?: path of a JSON array of request bodies }
import autocannon from 'autocannon'
import fs from 'node:fs'

const o = JSON.parse(process.argv[2])
const requests = []
if (o.randomPath) {
  const { prefix, keys } = o.randomPath
  requests.push({ method: 'GET', setupRequest: (req) => ({ ...req, path: `${prefix}${Math.floor(Math.random() * keys)}` }) })
} else if (o.bodiesFile) {
  const bodies = JSON.parse(fs.readFileSync(o.bodiesFile, 'utf8'))
  let i = 0
  requests.push({ method: 'POST', setupRequest: (req) => ({ ...req, body: bodies[i++ % bodies.length] }) })
}
const opts = { url: o.url, connections: o.connections, duration: o.duration, headers: o.bodiesFile ? { 'content-type': 'application/json' } : {}, requests }
await autocannon({ ...opts, duration: 1 }) // warm: JIT, connections, pages
const r = await autocannon(opts)
const rps = r.requests.total / r.duration
console.log(JSON.stringify({ rps, mean: (o.connections * 1000) / rps, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts }))
