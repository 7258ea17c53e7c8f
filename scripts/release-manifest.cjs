#!/usr/bin/env node
// The root package's release manifest, napi-rs v3 layout: the root `kyrodb` package lists one
// platform package per `napi.targets` entry as an optional dependency, at its own version,
// and npm installs only the one whose os/cpu/libc match the machine.
//
// The repository's package.json does not carry these optionalDependencies: until the platform
// packages are on the registry, `npm ci` in a checkout would fail on them ("Missing from lock
// file"). `napi prepublish -t npm` (the `prepublishOnly` script, run by the release workflow)
// adds them when publishing; this script does the same to a staged copy of the manifest so a
// locally packed tarball is the one that would be published, and checks the npm/<platform>/
// package manifests agree with it (name, version, os, cpu, libc, main, files), and that the
// release workflow's build matrix covers exactly napi.targets.
//
//   node scripts/release-manifest.cjs --check                 # check npm/*/package.json only
//   node scripts/release-manifest.cjs <staged package.json>   # check, then write into it
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { parseTriple } = require('@napi-rs/cli')

const root = path.resolve(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const { binaryName, targets } = pkg.napi
const problems = []

const optionalDependencies = {}
for (const triple of targets) {
  const t = parseTriple(triple)
  const name = `${pkg.name}-${t.platformArchABI}`
  optionalDependencies[name] = pkg.version
  const file = path.join(root, 'npm', t.platformArchABI, 'package.json')
  if (!fs.existsSync(file)) {
    problems.push(`${triple}: ${path.relative(root, file)} is missing (npx napi create-npm-dirs)`)
    continue
  }
  const sub = JSON.parse(fs.readFileSync(file, 'utf8'))
  const binary = `${binaryName}.${t.platformArchABI}.node`
  const want = {
    name,
    version: pkg.version,
    main: binary,
    os: [t.platform],
    cpu: [t.arch],
    ...(t.abi === 'gnu' || t.abi === 'musl' ? { libc: [t.abi === 'gnu' ? 'glibc' : 'musl'] } : {}),
  }
  for (const [key, value] of Object.entries(want)) {
    if (JSON.stringify(sub[key]) !== JSON.stringify(value)) {
      problems.push(`${path.relative(root, file)}: ${key} is ${JSON.stringify(sub[key])}, expected ${JSON.stringify(value)}`)
    }
  }
  if (!Array.isArray(sub.files) || !sub.files.includes(binary)) {
    problems.push(`${path.relative(root, file)}: files must include ${binary}`)
  }
  if (sub.license !== pkg.license) problems.push(`${path.relative(root, file)}: license ${sub.license} != ${pkg.license}`)
}

// The release workflow must build every target (and only those).
const workflow = path.join(root, '.github', 'workflows', 'release.yml')
if (fs.existsSync(workflow)) {
  const text = fs.readFileSync(workflow, 'utf8')
  const buildJob = text.slice(text.indexOf('\n  build:'), text.indexOf('\n  test-'))
  const built = new Set([...buildJob.matchAll(/^\s+target: ([\w.-]+)$/gm)].map((m) => m[1]))
  for (const triple of targets) if (!built.has(triple)) problems.push(`release.yml builds no ${triple}`)
  for (const triple of built) if (!targets.includes(triple)) problems.push(`release.yml builds ${triple}, not in napi.targets`)
}

if (problems.length > 0) {
  console.error(`release-manifest: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`)
  process.exit(1)
}

const target = process.argv[2]
if (target === undefined || target === '--check') {
  console.log(`release-manifest: ${targets.length} platform packages and the release workflow agree with package.json (version ${pkg.version})`)
  process.exit(0)
}
const staged = JSON.parse(fs.readFileSync(target, 'utf8'))
if (staged.name !== pkg.name || staged.version !== pkg.version) {
  console.error(`release-manifest: ${target} is ${staged.name}@${staged.version}, not ${pkg.name}@${pkg.version}`)
  process.exit(1)
}
staged.optionalDependencies = { ...staged.optionalDependencies, ...optionalDependencies }
fs.writeFileSync(target, JSON.stringify(staged, null, 2) + '\n')
console.log(`release-manifest: ${target}: optionalDependencies ${JSON.stringify(optionalDependencies)}`)
