// The baseline of benches/server.mjs: a bare fastify app on the same machine, same
// runtime, same fastify version. GET /bare/{key} returns a constant; POST /bare parses a JSON
// body (like a search request) and returns a constant of a search response's size.
//   node benches/lib/bare-server.mjs <port>
import Fastify from 'fastify'

const port = Number(process.argv[2])
const app = Fastify({ logger: false })
const constant = Buffer.alloc(100, 'x')
const hits = { results: Array.from({ length: 10 }, (_, i) => ({ id: i, distance: 0.5 })) }
app.get('/bare/:key', (_req, reply) => {
  void reply.type('application/octet-stream').send(constant)
  return reply
})
app.post('/bare', async (req) => {
  if (!Array.isArray(req.body?.vector)) throw new Error('no vector')
  return hits
})
await app.listen({ host: '127.0.0.1', port })
process.on('SIGTERM', () => app.close().then(() => process.exit(0)))
