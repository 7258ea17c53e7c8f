// The requests the dashboard page makes, without a browser: GET /v1/dashboard/session once,
// then /v1/dashboard/live?since=<last> every second (the Live view) and /v1/dashboard/overview
// every 3 s (the Overview view), as two open tabs would. Runs until killed; prints the number
// of requests made on SIGTERM.
//   node benches/lib/dashboard-poller.mjs <base url>
const base = process.argv[2]
let since = 0
let requests = 0
const get = async (path) => {
  const r = await fetch(base + path)
  requests++
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`)
  return r.json()
}
await get('/v1/dashboard/session')
const live = setInterval(async () => {
  const r = await get(`/v1/dashboard/live?since=${since}`)
  if (r.samples.length > 0) since = r.samples[r.samples.length - 1].t
}, 1000)
const overview = setInterval(() => get('/v1/dashboard/overview'), 3000)
process.on('SIGTERM', () => {
  clearInterval(live)
  clearInterval(overview)
  console.log(JSON.stringify({ requests }))
  process.exit(0)
})
