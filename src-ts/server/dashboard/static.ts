/**
 * The dashboard's page and assets: `GET /` answers `dist/ui/index.html`, `GET /ui/*` the
 * files Vite built beside it (`npm run build:ui`, part of `build:ts`). The files are read
 * once, when the server starts, and answered from memory with an ETag; the hashed names
 * under `/ui/assets/` are cached for a year, the page itself revalidated.
 *
 * Every answer carries a Content-Security-Policy without `unsafe-inline` or `unsafe-eval`:
 * scripts, styles, images and requests from this origin only (the page has no inline
 * script or style; charts draw on canvas and set styles through the CSSOM, which the
 * policy allows). The page and assets hold no data, so they are public; every figure the
 * page shows comes from the API, with the key the page asks for.
 * @module
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { extname, join, relative, sep } from 'node:path'

/** Where Vite writes the dashboard: `<package>/dist/ui` (this file is 3 levels below the package root in both src-ts/ and dist/). */
export const UI_DIR = join(__dirname, '..', '..', '..', 'dist', 'ui')

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
}

interface Asset {
  body: Buffer
  type: string
  etag: string
  immutable: boolean
}

function readAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>()
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name)
      if (statSync(path).isDirectory()) walk(path)
      else {
        const url = relative(dir, path).split(sep).join('/')
        const body = readFileSync(path)
        assets.set(url, {
          body,
          type: TYPES[extname(name)] ?? 'application/octet-stream',
          etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
          immutable: url.startsWith('assets/'),
        })
      }
    }
  }
  if (existsSync(dir)) walk(dir)
  return assets
}

function securityHeaders(reply: FastifyReply): void {
  void reply
    .header('content-security-policy', CONTENT_SECURITY_POLICY)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer')
    .header('x-frame-options', 'DENY')
    .header('cross-origin-opener-policy', 'same-origin')
}

/** Register `GET /` and `GET /ui/*`. */
export async function dashboardStatic(app: FastifyInstance, { dir = UI_DIR }: { dir?: string } = {}): Promise<void> {
  const assets = readAssets(dir)
  const send = (reply: FastifyReply, ifNoneMatch: string | undefined, asset: Asset) => {
    securityHeaders(reply)
    void reply
      .header('etag', asset.etag)
      .header('cache-control', asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    if (ifNoneMatch === asset.etag) return reply.status(304).send()
    return reply.type(asset.type).send(asset.body)
  }
  const hidden = { config: { access: 'public' as const, rateLimit: false as const }, schema: { hide: true } }

  app.get('/', hidden, async (req, reply) => {
    const page = assets.get('index.html')
    if (page === undefined) {
      securityHeaders(reply)
      return reply
        .status(503)
        .type('text/plain; charset=utf-8')
        .send(`the dashboard is not built: run \`npm run build:ui\` (expected ${join(dir, 'index.html')})`)
    }
    return send(reply, req.headers['if-none-match'], page)
  })

  app.get<{ Params: { '*': string } }>('/ui/*', hidden, async (req, reply) => {
    const asset = assets.get(req.params['*'])
    if (asset === undefined || req.params['*'] === 'index.html') {
      return reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no dashboard file ${req.params['*']}` } })
    }
    return send(reply, req.headers['if-none-match'], asset)
  })
}
