#!/usr/bin/env node
// `npm install` hook: make sure a native binary for this platform can be loaded.
// 1. A prebuilt binary from the optional `kyrodb-<platform>` package (napi-rs layout), or a
//    `kyrodb.<platform>.node` next to index.js, loads → done. cargo is never looked for.
// 2. In a development checkout (the Rust sources are present) build it with cargo, so a fresh
//    clone works with nothing but `npm install` and a Rust toolchain.
// 3. In an installed package (no sources are shipped) fail with a message that says why:
//    an unsupported platform, or a supported one whose platform package is missing.
// KYRODB_SKIP_NATIVE_BUILD=1 skips all of this (e.g. installing on one machine for another).
'use strict'
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const fs = require('node:fs')

const root = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))

if (process.env.KYRODB_SKIP_NATIVE_BUILD === '1') process.exit(0)

/** napi-rs's name for this machine: `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`, ... */
function platformKey() {
  const { platform, arch } = process
  if (platform === 'linux') {
    const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : null
    const glibc = report?.header?.glibcVersionRuntime
    return `linux-${arch}-${glibc ? 'gnu' : 'musl'}`
  }
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** The napi-rs platform key of each target triple in package.json's `napi.targets`. */
function supportedKeys() {
  const archs = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }
  return (pkg.napi?.targets ?? []).map((triple) => {
    const [cpu, , sys, abi] = triple.split('-')
    const arch = archs[cpu] ?? cpu
    if (sys === 'darwin') return `darwin-${arch}`
    if (sys === 'windows') return `win32-${arch}-${abi}`
    return `${sys}-${arch}-${abi}`
  })
}

/** First lines of an error and of its `cause` chain (how the loader reports what it tried). */
function messagesOf(err) {
  const messages = []
  for (let e = err; e != null && messages.length < 50; e = e.cause) messages.push(String(e.message ?? e).split('\n')[0])
  return messages
}
const PROBE = `const messagesOf = ${messagesOf}
try {
  require('./index.js').simdLevel()
} catch (err) {
  process.stdout.write(JSON.stringify(messagesOf(err)))
  process.exit(1)
}`

/**
 * Load the binding in a child process (a damaged binary can crash the process that loads it):
 * null when it loads, else the loader's messages. Where this node cannot start a child of
 * itself (an emulated node under qemu-user without binfmt_misc) it loads in this process.
 */
function loadFailure() {
  const r = spawnSync(process.execPath, ['-e', PROBE], { cwd: root, encoding: 'utf8' })
  if (r.status === 0) return null
  if (spawnSync(process.execPath, ['-e', '0']).status !== 0) {
    try {
      require(path.join(root, 'index.js')).simdLevel()
      return null
    } catch (err) {
      return messagesOf(err)
    }
  }
  if (r.signal) return [`the native binary crashed the process loading it (${r.signal})`]
  try {
    return JSON.parse(r.stdout)
  } catch {
    return [String(r.stderr || r.stdout || `exit ${r.status}`).trim().split('\n')[0]]
  }
}

const key = platformKey()
const prebuilt = `${pkg.name}-${key}`
const failure = loadFailure()
if (failure === null) {
  let from = `${pkg.name}.${key}.node`
  try {
    from = path.dirname(require.resolve(`${prebuilt}/package.json`, { paths: [root] }))
  } catch {
    // not from the platform package: a binary beside index.js
  }
  console.log(`kyrodb: native binary for ${key} loaded (${from})`)
  process.exit(0)
}

const devCheckout = fs.existsSync(path.join(root, 'crates', 'kyrodb-node', 'Cargo.toml'))
if (devCheckout) {
  console.log(`kyrodb: no native binary for ${key} in this checkout, building from source with cargo...`)
  const napiCli = path.join(root, 'node_modules', '@napi-rs', 'cli', 'dist', 'cli.js')
  let r = { status: 1 }
  if (fs.existsSync(napiCli)) {
    // The napi CLI names the binary for this platform.
    r = spawnSync('npm', ['run', 'build:native'], { cwd: root, stdio: 'inherit', shell: process.platform === 'win32' })
  } else {
    console.error('kyrodb: cannot build: @napi-rs/cli is missing (run npm install without --omit=dev)')
  }
  if (r.status !== 0 || loadFailure() !== null) {
    console.error('kyrodb: native build failed. Install a Rust toolchain (https://rustup.rs) and run `npm install` again.')
    process.exit(1)
  }
  console.log('kyrodb: native binary built')
  process.exit(0)
}

const supported = supportedKeys()
/** The loader's reason for the platform package, out of everything it tried. */
const reason = (messages) =>
  messages.find((m) => m.includes(prebuilt) || m.includes(`.${key}.node`) || m.includes('crashed')) ?? messages[0]
let installed = false
try {
  require.resolve(`${prebuilt}/package.json`, { paths: [root] })
  installed = true
} catch {
  // not installed
}
const lines = []
if (supported.includes(key) && installed) {
  lines.push(
    `kyrodb: the prebuilt native binary for ${key} did not load.`,
    `  Its package ${prebuilt} is installed but failed to load: ${reason(failure)}`,
    `  Reinstall it (remove node_modules/${prebuilt} and run npm install). An error naming a`,
    `  GLIBC_ version means this system's C library is older than the binary needs.`,
  )
} else if (supported.includes(key)) {
  lines.push(
    `kyrodb: the prebuilt native binary for ${key} did not load.`,
    `  It comes in the optional dependency ${prebuilt}@${pkg.version}, which is not installed.`,
    `  Reinstall without --omit=optional / --no-optional. If the lockfile was made on another`,
    `  platform, delete node_modules and package-lock.json and run npm install again`,
    `  (npm bug https://github.com/npm/cli/issues/4828).`,
  )
} else {
  lines.push(
    `kyrodb: unsupported platform ${key} (node ${process.version}).`,
    `  Prebuilt binaries exist for: ${supported.join(', ')}.`,
    `  The npm package carries no Rust sources, so it cannot build one here. Build from the`,
    `  repository instead (Rust toolchain needed: npm install && npm run build, then npm pack),`,
    `  or set KYRODB_SKIP_NATIVE_BUILD=1 to install anyway (require('kyrodb') will then throw).`,
  )
}
console.error(lines.join('\n'))
process.exit(1)
