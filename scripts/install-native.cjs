#!/usr/bin/env node
// `npm install` hook: make sure a native binary for this platform can be loaded.
// 1. A prebuilt binary from an optional `kyrodb-<platform>` package, or a `kyrodb.*.node`
//    next to index.js, loads → nothing to do.
// 2. Otherwise build it from source with cargo (needs a Rust toolchain), so a fresh clone
//    works with nothing but `npm install`.
'use strict'
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const fs = require('node:fs')

const root = path.resolve(__dirname, '..')

function loads() {
  const r = spawnSync(process.execPath, ['-e', "require('./index.js').simdLevel()"], { cwd: root, stdio: 'pipe' })
  return r.status === 0
}

if (process.env.KYRODB_SKIP_NATIVE_BUILD === '1') process.exit(0)
if (loads()) {
  console.log('kyrodb: native binary found')
  process.exit(0)
}

console.log('kyrodb: no prebuilt native binary for this platform, building from source with cargo...')
const napiCli = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
let r
if (fs.existsSync(napiCli) && fs.existsSync(path.join(root, 'crates'))) {
  // Development checkout: the napi CLI names the binary for this platform.
  r = spawnSync('npm', ['run', 'build:native'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
} else {
  r = { status: 1 }
  console.error('kyrodb: cannot build: the Rust sources or @napi-rs/cli are missing from this install')
}
if (r.status !== 0 || !loads()) {
  console.error('kyrodb: native build failed. Install a Rust toolchain (https://rustup.rs) and run `npm rebuild kyrodb`.')
  process.exit(1)
}
console.log('kyrodb: native binary built')
