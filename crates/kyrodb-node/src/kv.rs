//! `NativeKv`: the key-value store as seen from JavaScript. Keys arrive as a `number`
//! (checked here again: a safe non-negative integer) or a `bigint` (checked: 0..2^64);
//! values as bytes or a string and come back as what they were stored as. Writes and
//! maintenance run on the libuv pool (they wait for fsync); reads are synchronous.

use crate::errors::guard;
use crate::external_memory::MemoryReport;
use kyrodb_core::Error;
use kyrodb_core::{KvStore, ValueKind, Write};
use napi::bindgen_prelude::{
    AsyncTask, BigInt, BigUint64Array, Buffer, BufferSlice, Either, Env, Uint32Array, Uint8Array,
};
use napi::Task;
use napi_derive::napi;
use std::sync::Arc;

/// Largest key a `number` can carry exactly (2^53 − 1).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;

pub(crate) fn key_of_number(k: f64) -> kyrodb_core::Result<u64> {
    if (0.0..=MAX_SAFE).contains(&k) && k.fract() == 0.0 {
        Ok(k as u64)
    } else {
        Err(Error::invalid(format!("a key must be a bigint in 0..2^64 or a safe non-negative integer, got {k}")))
    }
}

fn key_of_bigint(k: &BigInt) -> kyrodb_core::Result<u64> {
    let (negative, value, lossless) = k.get_u64();
    if negative || !lossless {
        return Err(Error::invalid("a bigint key must be in 0..2^64"));
    }
    Ok(value)
}

fn key_of(k: &Either<f64, BigInt>) -> kyrodb_core::Result<u64> {
    match k {
        Either::A(n) => key_of_number(*n),
        Either::B(b) => key_of_bigint(b),
    }
}

/// A value back in JavaScript: a `Buffer` for bytes, a `string` for strings.
type JsValueOut<'env> = Either<BufferSlice<'env>, String>;

fn value_out<'env>(env: &Env, kind: ValueKind, bytes: &[u8]) -> napi::Result<JsValueOut<'env>> {
    Ok(match kind {
        // Strings were checked to be UTF-8 when written (and run files are checksummed).
        ValueKind::Str => Either::B(String::from_utf8_lossy(bytes).into_owned()),
        _ => Either::A(BufferSlice::copy_from(env, bytes)?),
    })
}

/// A write batch, encoded by the TypeScript layer into flat arrays: per operation a key,
/// a kind (0 delete, 1 bytes, 2 string) and the end offset of its value in `values`.
pub struct WriteTask {
    memory: Arc<MemoryReport>,
    kv: Arc<KvStore>,
    keys: Vec<u64>,
    kinds: Vec<u8>,
    ends: Vec<u32>,
    values: Vec<u8>,
}

impl Task for WriteTask {
    type Output = u32;
    type JsValue = u32;

    fn compute(&mut self) -> napi::Result<u32> {
        guard(|| {
            let n = self.keys.len();
            if self.kinds.len() != n || self.ends.len() != n {
                return Err(Error::invalid("keys, kinds and ends must have the same length"));
            }
            let mut writes = Vec::with_capacity(n);
            let mut start = 0usize;
            for i in 0..n {
                let end = self.ends[i] as usize;
                if end < start || end > self.values.len() {
                    return Err(Error::invalid("value offsets out of order"));
                }
                let v = &self.values[start..end];
                start = end;
                writes.push(match ValueKind::from_code(self.kinds[i]) {
                    Some(ValueKind::Deleted) => Write::Delete(self.keys[i]),
                    Some(kind) => Write::Put(self.keys[i], kind, v),
                    None => return Err(Error::invalid(format!("unknown value kind {}", self.kinds[i]))),
                });
            }
            Ok(self.kv.write(&writes)? as u32)
        })
    }

    fn resolve(&mut self, env: Env, n: u32) -> napi::Result<u32> {
        self.memory.sync(&env);
        Ok(n)
    }
}

/// Maintenance on the pool.
pub enum KvOp {
    Flush,
    Compact,
    Warmup(bool),
}

pub struct KvTask {
    kv: Arc<KvStore>,
    op: KvOp,
}

impl Task for KvTask {
    type Output = f64;
    type JsValue = f64;

    fn compute(&mut self) -> napi::Result<f64> {
        guard(|| {
            Ok(match self.op {
                KvOp::Flush => self.kv.flush()? as f64,
                KvOp::Compact => self.kv.compact()? as f64,
                KvOp::Warmup(values) => self.kv.warmup(values)? as f64,
            })
        })
    }

    fn resolve(&mut self, _env: Env, n: f64) -> napi::Result<f64> {
        Ok(n)
    }
}

/// One page of a range scan.
#[napi(object)]
pub struct NativeRangePage<'env> {
    pub keys: BigUint64Array,
    // Typed by hand: napi's typegen would print the alias `JsValueOut`, which `index.d.ts` does not declare.
    #[napi(ts_type = "Array<Buffer | string>")]
    pub values: Vec<JsValueOut<'env>>,
    /// `[lo, hi]` to continue with, or absent when done.
    pub next: Option<Vec<BigInt>>,
}

/// Counters and shape of the store (`db.kv.stats()`).
#[napi(object)]
pub struct NativeKvStats {
    pub keys: f64,
    pub lookups: f64,
    pub hits: f64,
    pub run_probes: f64,
    pub probe_keys: f64,
    pub probe_histogram: Vec<f64>,
    pub mispredictions: f64,
    pub appends: f64,
    pub flushes: f64,
    pub compactions: f64,
    pub index_builds: f64,
    pub index_build_ns: f64,
    pub last_index_build_ns: f64,
    pub runs: u32,
    pub memtable_entries: f64,
    pub index_bytes: f64,
    pub learned_index: bool,
    pub probe_kind: String,
}

/// Native key-value handle (wrapped by `KeyValueStore` in the TypeScript API).
#[napi]
pub struct NativeKv {
    pub(crate) inner: Arc<KvStore>,
    /// A JavaScript-owned buffer the fast reads copy values into (see `read_num`).
    pub(crate) scratch: Option<Buffer>,
    pub(crate) memory: Arc<MemoryReport>,
}

/// What `read_num`/`read_big` return for an absent key.
pub(crate) const READ_ABSENT: f64 = -1.0;

impl NativeKv {
    fn read(&mut self, key: kyrodb_core::Result<u64>) -> napi::Result<f64> {
        let NativeKv { inner, scratch, .. } = self;
        let Some(scratch) = scratch.as_mut() else {
            return Err(crate::errors::to_js(Error::Internal("no scratch buffer set".into())));
        };
        let scratch: &mut [u8] = scratch;
        let got = guard(|| inner.get_with(key?, |kind, v| copy_out(scratch, kind, v)))?;
        Ok(got.unwrap_or(READ_ABSENT))
    }
}

/// Copy a found value into `scratch` and say what it is, as the fast reads return it:
/// `len` for bytes, `-2 - len` for a string, `Infinity` when it does not fit (nothing copied).
pub(crate) fn copy_out(scratch: &mut [u8], kind: ValueKind, v: &[u8]) -> f64 {
    if v.len() > scratch.len() {
        return f64::INFINITY;
    }
    scratch[..v.len()].copy_from_slice(v);
    match kind {
        ValueKind::Str => -(v.len() as f64) - 2.0,
        _ => v.len() as f64,
    }
}

#[napi]
impl NativeKv {
    /// Give the store the buffer that `readNum`/`readBig` copy values into.
    #[napi]
    pub fn set_scratch(&mut self, buf: Buffer) {
        self.scratch = Some(buf);
    }

    /// `getSync`'s read of a `number` key as a raw Node-API function over `scratch` (see
    /// `fast_read.rs`): answers as `readNum`, and `NaN` where `readNum` would throw.
    #[napi(ts_return_type = "(key: number) => number")]
    pub fn fast_reader<'env>(
        &self,
        env: &'env Env,
        #[napi(ts_arg_type = "Buffer")] scratch: napi::bindgen_prelude::Unknown<'env>,
    ) -> napi::Result<napi::bindgen_prelude::Unknown<'env>> {
        crate::fast_read::create(env, Arc::clone(&self.inner), scratch)
    }

    /// The fast read path of `getSync`: copy the value of a `number` key into the scratch
    /// buffer and return its length `len` for bytes, `-2 - len` for a string, `-1` when
    /// the key is absent, `Infinity` when the value does not fit (then use `getNum`).
    /// Creating no JavaScript object here saves most of a call's cost.
    #[napi]
    pub fn read_num(&mut self, key: f64) -> napi::Result<f64> {
        self.read(key_of_number(key))
    }

    /// `read_num` for a `bigint` key.
    #[napi]
    pub fn read_big(&mut self, key: BigInt) -> napi::Result<f64> {
        self.read(key_of_bigint(&key))
    }

    /// Value of a `number` key, or null.
    #[napi(ts_return_type = "Buffer | string | null")]
    pub fn get_num<'env>(&self, env: &'env Env, key: f64) -> napi::Result<Option<JsValueOut<'env>>> {
        let found = guard(|| {
            let k = key_of_number(key)?;
            self.inner.get_with(k, |kind, v| value_out(env, kind, v))
        })?;
        found.transpose()
    }

    /// Value of a `bigint` key, or null.
    #[napi(ts_return_type = "Buffer | string | null")]
    pub fn get_big<'env>(&self, env: &'env Env, key: BigInt) -> napi::Result<Option<JsValueOut<'env>>> {
        let found = guard(|| {
            let k = key_of_bigint(&key)?;
            self.inner.get_with(k, |kind, v| value_out(env, kind, v))
        })?;
        found.transpose()
    }

    #[napi]
    pub fn has(&self, key: Either<f64, BigInt>) -> napi::Result<bool> {
        guard(|| self.inner.has(key_of(&key)?))
    }

    /// Values of many keys (null where absent), under one read lock.
    #[napi(ts_return_type = "Array<Buffer | string | null>")]
    pub fn get_many<'env>(&self, env: &'env Env, keys: BigUint64Array) -> napi::Result<Vec<Option<JsValueOut<'env>>>> {
        let mut out: Vec<Option<JsValueOut<'env>>> = Vec::with_capacity(keys.len());
        out.resize_with(keys.len(), || None);
        let mut failure = None;
        guard(|| {
            self.inner.get_many_with(&keys, |i, kind, v| match value_out(env, kind, v) {
                Ok(x) => out[i] = Some(x),
                Err(e) => failure = Some(e),
            })
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    /// Apply a batch (see `WriteTask`); resolves with the keys changed.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn write(
        &self,
        keys: BigUint64Array,
        kinds: Uint8Array,
        ends: Uint32Array,
        values: Buffer,
    ) -> AsyncTask<WriteTask> {
        AsyncTask::new(WriteTask {
            memory: self.memory.clone(),
            kv: self.inner.clone(),
            keys: keys.to_vec(),
            kinds: kinds.to_vec(),
            ends: ends.to_vec(),
            values: values.to_vec(),
        })
    }

    #[napi]
    pub fn count(&self) -> napi::Result<f64> {
        guard(|| Ok(self.inner.count()? as f64))
    }

    /// Up to `limit` entries with keys in `lo..=hi`.
    #[napi]
    pub fn range_page<'env>(
        &self,
        env: &'env Env,
        lo: BigInt,
        hi: BigInt,
        reverse: bool,
        limit: u32,
    ) -> napi::Result<NativeRangePage<'env>> {
        let page = guard(|| self.inner.range_page(key_of_bigint(&lo)?, key_of_bigint(&hi)?, reverse, limit as usize))?;
        let mut keys = Vec::with_capacity(page.entries.len());
        let mut values = Vec::with_capacity(page.entries.len());
        for (k, v) in &page.entries {
            keys.push(*k);
            values.push(value_out(env, v.kind, &v.bytes)?);
        }
        Ok(NativeRangePage {
            keys: BigUint64Array::new(keys),
            values,
            next: page.next.map(|(a, b)| vec![BigInt::from(a), BigInt::from(b)]),
        })
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn flush(&self) -> AsyncTask<KvTask> {
        AsyncTask::new(KvTask { kv: self.inner.clone(), op: KvOp::Flush })
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn compact(&self) -> AsyncTask<KvTask> {
        AsyncTask::new(KvTask { kv: self.inner.clone(), op: KvOp::Compact })
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn warmup(&self, values: bool) -> AsyncTask<KvTask> {
        AsyncTask::new(KvTask { kv: self.inner.clone(), op: KvOp::Warmup(values) })
    }

    #[napi]
    pub fn stats(&self) -> napi::Result<NativeKvStats> {
        guard(|| {
            let s = self.inner.stats()?;
            Ok(NativeKvStats {
                keys: s.keys as f64,
                lookups: s.lookups as f64,
                hits: s.hits as f64,
                run_probes: s.run_probes as f64,
                probe_keys: s.probe_keys as f64,
                probe_histogram: s.probe_histogram.iter().map(|&x| x as f64).collect(),
                mispredictions: s.mispredictions as f64,
                appends: s.appends as f64,
                flushes: s.flushes as f64,
                compactions: s.compactions as f64,
                index_builds: s.index_builds as f64,
                index_build_ns: s.index_build_ns as f64,
                last_index_build_ns: s.last_index_build_ns as f64,
                runs: s.runs as u32,
                memtable_entries: s.memtable_entries as f64,
                index_bytes: s.index_bytes as f64,
                learned_index: s.learned_index,
                probe_kind: s.probe_kind,
            })
        })
    }
}
