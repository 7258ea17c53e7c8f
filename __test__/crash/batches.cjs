// Deterministic write batches shared by the crash-test parent and its child writer:
// batch `b` of run `seed` is always the same, so the parent can model what the child did.
'use strict'

const DIM = 16
const IDS = 3000
/** Keys of the key-value store used by the batches: 0..KV_KEYS, plus a few near 2^64. */
const KV_KEYS = 2000
const KV_HIGH = [(1n << 64n) - 1n, (1n << 64n) - 2n, 1n << 63n]

function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Model key of a key-value key. */
function kvName(key) {
  return `kv:${key}`
}

/**
 * Batch number `b`: { kind: 'upsert', ids, vectors, metadata } | { kind: 'delete', ids } |
 * { kind: 'kv', writes } (a key-value batch of puts and deletes) | { kind: 'flush' } | { kind: 'compact' }.
 */
function batch(seed, b) {
  if (b % 40 === 39) return { kind: 'flush' }
  if (b % 97 === 96) return { kind: 'compact' }
  const rand = rng(seed * 1_000_003 + b)
  if (rand() < 0.35) {
    const writes = Array.from({ length: 1 + Math.floor(rand() * 40) }, () => {
      const key = rand() < 0.05 ? KV_HIGH[Math.floor(rand() * KV_HIGH.length)] : Math.floor(rand() * KV_KEYS)
      if (rand() < 0.2) return { type: 'del', key }
      const value = rand() < 0.5 ? `v${b}-${key}` : Buffer.from(`bytes ${b} ${key}`)
      return { type: 'put', key, value }
    })
    return { kind: 'kv', writes }
  }
  const n = 1 + Math.floor(rand() * 60)
  const ids = [...new Set(Array.from({ length: n }, () => Math.floor(rand() * IDS)))].sort((x, y) => x - y)
  if (rand() < 0.2) return { kind: 'delete', ids }
  const vectors = ids.map(() => Array.from({ length: DIM }, () => Math.fround(rand() * 2 - 1)))
  const metadata = ids.map((id) => (rand() < 0.5 ? { b, id, tag: `t${Math.floor(rand() * 4)}` } : null))
  return { kind: 'upsert', ids, vectors, metadata }
}

/** Apply batch `b` to a model Map(id → { vector, metadata }). */
function applyToModel(model, bt) {
  if (bt.kind === 'upsert') {
    bt.ids.forEach((id, i) => model.set(id, { vector: bt.vectors[i], metadata: bt.metadata[i] ?? undefined }))
  } else if (bt.kind === 'delete') {
    for (const id of bt.ids) model.delete(id)
  } else if (bt.kind === 'kv') {
    for (const w of bt.writes) {
      if (w.type === 'put') model.set(kvName(w.key), { value: w.value })
      else model.delete(kvName(w.key))
    }
  }
}

module.exports = { DIM, IDS, KV_KEYS, KV_HIGH, kvName, batch, applyToModel }
