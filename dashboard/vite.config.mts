// The dashboard served by `kyrodb serve` at `/`: built into dist/ui (npm run build:ui),
// assets under /ui/. No inline script or style, no external URL: the server's
// Content-Security-Policy allows this origin only (src-ts/server/dashboard/static.ts).
import { defineConfig } from 'vite'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))

export default defineConfig({
  root: here,
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/ui', import.meta.url)),
    emptyOutDir: true,
    // Vite would inline small assets as data: URLs; the policy allows none.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 200,
  },
  logLevel: 'warn',
})
