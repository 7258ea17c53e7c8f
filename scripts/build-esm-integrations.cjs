#!/usr/bin/env node
// The ES-module flavour of the framework adapters (`kyrodb/langchain`, `kyrodb/llamaindex`),
// run by `npm run build:ts` after tsc has built dist/.
//
// Why: @langchain/core and @llamaindex/core ship separate CommonJS and ES-module builds (and
// typings). An adapter class extends the framework's base class, so it must extend the same
// copy the application uses: an ES-module application gets dist/integrations/*.mjs, which
// imports the frameworks' ES builds, and TypeScript gets *.d.mts, whose imports resolve to the
// frameworks' ESM typings (with the CommonJS ones, `store` would not be assignable to the
// application's `VectorStoreInterface` or `BaseVectorStore`). CommonJS keeps *.js / *.d.ts.
//
// Each src-ts/integrations/*.ts is transpiled on its own (no type information is needed: the
// sources use `import type` for types) to ES2022 modules; relative imports between adapter
// files get the .mjs extension, and imports of the core (../errors.js...) stay on the
// CommonJS dist files, which Node's ESM loader imports by name.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const ts = require('typescript')

const root = path.resolve(__dirname, '..')
const src = path.join(root, 'src-ts', 'integrations')
const out = path.join(root, 'dist', 'integrations')

/** `./common.js` → `./common.mjs` (same folder); other specifiers unchanged. */
function retarget(code) {
  return code.replace(/((?:from|import)\s*\(?\s*['"])(\.\/[^'"]+)\.js(['"])/g, '$1$2.mjs$3')
}

const files = fs.readdirSync(src).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
for (const file of files) {
  const base = file.replace(/\.ts$/, '')
  const source = fs.readFileSync(path.join(src, file), 'utf8')
  const { outputText, diagnostics } = ts.transpileModule(source, {
    fileName: file,
    reportDiagnostics: true,
    compilerOptions: {
      module: ts.ModuleKind.ES2022,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: false,
      sourceMap: false,
      removeComments: false,
    },
  })
  if (diagnostics && diagnostics.length > 0) {
    const text = ts.formatDiagnostics(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => root,
      getNewLine: () => '\n',
    })
    throw new Error(`transpiling ${file}:\n${text}`)
  }
  fs.writeFileSync(path.join(out, `${base}.mjs`), retarget(outputText))
  const dts = path.join(out, `${base}.d.ts`)
  if (!fs.existsSync(dts)) throw new Error(`${path.relative(root, dts)} is missing: run tsc -p tsconfig.build.json first`)
  fs.writeFileSync(path.join(out, `${base}.d.mts`), retarget(fs.readFileSync(dts, 'utf8')))
}
