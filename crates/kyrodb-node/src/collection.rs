//! `NativeCollection`: one collection as seen from JavaScript. Async methods copy their
//! input into Rust-owned memory before handing it to a libuv worker thread, so JavaScript
//! may reuse or mutate its arrays as soon as the call returns.

use crate::errors::guard;
use crate::external_memory::MemoryReport;
use kyrodb_core::{Collection, Filter, SearchHits, SearchParams, StoredVector};
use napi::bindgen_prelude::{AsyncTask, BigInt, BigUint64Array, Env, Float32Array, Uint32Array};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Status, Task};
use napi_derive::napi;
use std::sync::Arc;

/// Native collection handle (wrapped by `Collection` in the TypeScript API).
#[napi]
pub struct NativeCollection {
    inner: Arc<Collection>,
    memory: Arc<MemoryReport>,
}

impl NativeCollection {
    pub fn new(inner: Arc<Collection>, memory: Arc<MemoryReport>) -> NativeCollection {
        NativeCollection { inner, memory }
    }
}

/// Search results in columnar form; the TypeScript layer turns them into objects.
#[napi(object)]
pub struct NativeHits {
    pub ids: BigUint64Array,
    pub distances: Float32Array,
    /// Metadata JSON per hit (`null` when the row has none); empty unless requested.
    pub metadata: Vec<Option<String>>,
    /// Vector per hit; empty unless requested.
    pub vectors: Vec<Float32Array>,
    /// String ids of the hits, concatenated (string-id collections; `ids` then holds
    /// their keys): hit `i`'s id is `names.slice(nameEnds[i - 1] ?? 0, nameEnds[i])`, in
    /// UTF-16 units. One JS string for all hits instead of one per hit (each string
    /// crossing the boundary costs an allocation and a UTF-8 decode).
    pub names: String,
    pub name_ends: Uint32Array,
}

/// String ids concatenated, for [`NativeHits::names`] and [`NativeScanPage::names`].
fn joined(names: &[std::sync::Arc<str>]) -> String {
    names.iter().map(|n| &**n).collect()
}

/// Where each string id of [`joined`] ends, in UTF-16 units (JavaScript string indices).
fn name_ends(names: &[std::sync::Arc<str>]) -> Uint32Array {
    Uint32Array::new(
        names
            .iter()
            .scan(0u32, |end, n| {
                *end += n.encode_utf16().count() as u32;
                Some(*end)
            })
            .collect(),
    )
}

impl From<SearchHits> for NativeHits {
    fn from(h: SearchHits) -> NativeHits {
        NativeHits {
            ids: BigUint64Array::new(h.ids),
            distances: Float32Array::new(h.distances),
            metadata: h.metadata.into_iter().map(|m| m.map(|s| s.to_string())).collect(),
            vectors: h.vectors.into_iter().map(Float32Array::new).collect(),
            names: joined(&h.names),
            name_ends: name_ends(&h.names),
        }
    }
}

/// One page of `scan` (see `Collection::scan`); ids and names as in [`NativeHits`].
#[napi(object)]
pub struct NativeScanPage {
    pub ids: BigUint64Array,
    pub names: String,
    pub name_ends: Uint32Array,
    /// Vectors, row-major.
    pub vectors: Float32Array,
    pub metadata: Vec<Option<String>>,
    /// The key to continue after, or `null` after the last page.
    pub next: Option<BigInt>,
}

/// Options of a search (the TypeScript layer has already checked the JS types).
#[napi(object)]
pub struct NativeSearchOptions {
    pub k: u32,
    pub ef: Option<u32>,
    /// The filter as JSON text: an object (object syntax) or a string (string syntax).
    pub filter: Option<String>,
    pub with_metadata: bool,
    pub with_vectors: bool,
    /// Use the query cache (default true).
    pub cache: Option<bool>,
}

fn search_params(o: &NativeSearchOptions) -> kyrodb_core::Result<SearchParams> {
    Ok(SearchParams {
        k: o.k as usize,
        ef: o.ef.map(|e| e as usize),
        filter: o.filter.as_deref().map(Filter::parse_json).transpose()?,
        with_metadata: o.with_metadata,
        with_vectors: o.with_vectors,
        cache: o.cache.unwrap_or(true),
    })
}

/// Layout counts of a collection.
#[napi(object)]
pub struct NativeStats {
    pub count: f64,
    pub hot_rows: f64,
    pub segments: Vec<NativeSegmentStats>,
    pub max_unindexed_rows: f64,
    pub write_stalls: f64,
    pub stall_ms: f64,
    pub writers_waiting: f64,
    pub indexed_rows: f64,
    pub merged_rows: f64,
    pub indexing: bool,
}

#[napi(object)]
pub struct NativeSegmentStats {
    pub rows: f64,
    pub live: f64,
    pub graph: bool,
}

/// Progress callback of `buildIndex`, `flush`, `compact` and `snapshot`: called from the
/// worker thread with one argument, the array `[done, total]`. A type alias is invisible
/// to napi's typegen (it would print the bare name `ProgressFn` into `index.d.ts`, which
/// declares no such type), so each parameter of this type spells its TypeScript type
/// with `ts_arg_type`.
pub type ProgressFn = ThreadsafeFunction<(u32, u32), (), (u32, u32), Status, false>;

/// A stored vector returned by `get`.
#[napi(object)]
pub struct NativeStored {
    pub vector: Float32Array,
    pub metadata: Option<String>,
}

impl From<StoredVector> for NativeStored {
    fn from(s: StoredVector) -> NativeStored {
        NativeStored { vector: Float32Array::new(s.vector), metadata: s.metadata.map(|m| m.to_string()) }
    }
}

fn id_from_bigint(id: BigInt) -> kyrodb_core::Result<u64> {
    let (signed, value, lossless) = id.get_u64();
    if signed || !lossless {
        return Err(kyrodb_core::Error::invalid("id must be an integer in 0..=2^64−1"));
    }
    Ok(value)
}

#[napi]
impl NativeCollection {
    #[napi(getter)]
    pub fn name(&self) -> String {
        self.inner.name().to_string()
    }

    #[napi(getter)]
    pub fn dimension(&self) -> u32 {
        self.inner.config().dimension as u32
    }

    #[napi(getter)]
    pub fn metric(&self) -> String {
        self.inner.config().metric.name().to_string()
    }

    /// `"u64"` or `"string"`.
    #[napi(getter)]
    pub fn id_type(&self) -> String {
        self.inner.config().id_type.name().to_string()
    }

    #[napi]
    pub fn count(&self) -> napi::Result<f64> {
        guard(|| Ok(self.inner.count()? as f64))
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn upsert(
        &self,
        ids: BigUint64Array,
        vectors: Float32Array,
        metadata: Option<Vec<Option<String>>>,
    ) -> AsyncTask<UpsertTask> {
        AsyncTask::new(UpsertTask {
            memory: self.memory.clone(),
            collection: self.inner.clone(),
            ids: ids.to_vec(),
            names: None,
            vectors: vectors.to_vec(),
            metadata,
        })
    }

    /// `upsert` of a string-id collection.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn upsert_named(
        &self,
        ids: Vec<String>,
        vectors: Float32Array,
        metadata: Option<Vec<Option<String>>>,
    ) -> AsyncTask<UpsertTask> {
        AsyncTask::new(UpsertTask {
            memory: self.memory.clone(),
            collection: self.inner.clone(),
            ids: Vec::new(),
            names: Some(ids),
            vectors: vectors.to_vec(),
            metadata,
        })
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn delete(&self, ids: BigUint64Array) -> AsyncTask<DeleteTask> {
        AsyncTask::new(DeleteTask {
            collection: self.inner.clone(),
            ids: ids.to_vec(),
            names: None,
            memory: self.memory.clone(),
        })
    }

    /// `delete` of a string-id collection.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn delete_named(&self, ids: Vec<String>) -> AsyncTask<DeleteTask> {
        AsyncTask::new(DeleteTask {
            collection: self.inner.clone(),
            ids: Vec::new(),
            names: Some(ids),
            memory: self.memory.clone(),
        })
    }

    #[napi]
    pub fn get(&self, id: BigInt) -> napi::Result<Option<NativeStored>> {
        guard(|| Ok(self.inner.get(id_from_bigint(id)?)?.map(NativeStored::from)))
    }

    /// `get` of a string-id collection.
    #[napi]
    pub fn get_named(&self, id: String) -> napi::Result<Option<NativeStored>> {
        guard(|| Ok(self.inner.get_named(&id)?.map(NativeStored::from)))
    }

    #[napi(ts_return_type = "Promise<NativeHits[]>")]
    pub fn search(&self, query: Float32Array, options: NativeSearchOptions) -> AsyncTask<SearchTask> {
        AsyncTask::new(SearchTask { collection: self.inner.clone(), queries: query.to_vec(), options, batch: false })
    }

    #[napi(ts_return_type = "Promise<NativeHits[]>")]
    pub fn search_batch(&self, queries: Float32Array, options: NativeSearchOptions) -> AsyncTask<SearchTask> {
        AsyncTask::new(SearchTask { collection: self.inner.clone(), queries: queries.to_vec(), options, batch: true })
    }

    /// The query cache's answer to this search, on the calling thread, or `null` (nothing
    /// searched): `search` answers repeats without a thread hop and queues only misses.
    #[napi]
    pub fn search_cached(&self, query: Float32Array, options: NativeSearchOptions) -> napi::Result<Option<NativeHits>> {
        guard(|| Ok(self.inner.search_cached(&query, &search_params(&options)?)?.map(NativeHits::from)))
    }

    /// Up to `limit` live rows after key `after` (`null`: from the start), in key order.
    #[napi]
    pub fn scan_page(&self, after: Option<BigInt>, limit: u32) -> napi::Result<NativeScanPage> {
        guard(|| {
            let after = after.map(id_from_bigint).transpose()?;
            let p = self.inner.scan(after, limit as usize)?;
            Ok(NativeScanPage {
                ids: BigUint64Array::new(p.ids),
                names: joined(&p.names),
                name_ends: name_ends(&p.names),
                vectors: Float32Array::new(p.vectors),
                metadata: p.metadata.into_iter().map(|m| m.map(|s| s.to_string())).collect(),
                next: p.next.map(BigInt::from),
            })
        })
    }

    /// Search on the calling (JS) thread, reading the query in place: no copy, no hop.
    #[napi]
    pub fn search_sync(&self, query: Float32Array, options: NativeSearchOptions) -> napi::Result<NativeHits> {
        guard(|| Ok(self.inner.search(&query, &search_params(&options)?)?.into()))
    }

    /// Merge everything into one graph segment; `on_progress(done, total)` while it runs.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn build_index(
        &self,
        #[napi(ts_arg_type = "((pair: [number, number]) => void) | undefined | null")] on_progress: Option<ProgressFn>,
    ) -> AsyncTask<BuildTask> {
        AsyncTask::new(BuildTask { collection: self.inner.clone(), on_progress, memory: self.memory.clone() })
    }

    /// Cap the unindexed backlog (0: no cap); see `Collection::set_max_unindexed_rows`.
    #[napi]
    pub fn set_max_unindexed_rows(&self, rows: f64) -> napi::Result<()> {
        guard(|| {
            if !(rows.is_finite() && rows >= 0.0 && rows.fract() == 0.0 && rows <= u32::MAX as f64) {
                return Err(kyrodb_core::Error::invalid(format!(
                    "maxUnindexedRows must be an integer in 0..=4294967295 (0: no cap), got {rows}"
                )));
            }
            self.inner.set_max_unindexed_rows(rows as usize);
            Ok(())
        })
    }

    #[napi]
    pub fn stats(&self) -> napi::Result<NativeStats> {
        guard(|| {
            let s = self.inner.stats()?;
            Ok(NativeStats {
                count: s.count as f64,
                hot_rows: s.hot_rows as f64,
                segments: s
                    .segments
                    .into_iter()
                    .map(|(rows, live, graph)| NativeSegmentStats { rows: rows as f64, live: live as f64, graph })
                    .collect(),
                max_unindexed_rows: s.max_unindexed_rows as f64,
                write_stalls: s.write_stalls as f64,
                stall_ms: s.stall_micros as f64 / 1e3,
                writers_waiting: s.writers_waiting as f64,
                indexed_rows: s.indexed_rows as f64,
                merged_rows: s.merged_rows as f64,
                indexing: s.indexing,
            })
        })
    }
}

pub struct BuildTask {
    memory: Arc<MemoryReport>,
    collection: Arc<Collection>,
    on_progress: Option<ProgressFn>,
}

impl Task for BuildTask {
    type Output = u32;
    type JsValue = u32;

    /// Resolves with the number of rows indexed.
    fn compute(&mut self) -> napi::Result<u32> {
        let cb = self.on_progress.take();
        guard(|| {
            let built = self.collection.build_index(&mut |done, total| {
                if let Some(cb) = &cb {
                    cb.call((done as u32, total as u32), ThreadsafeFunctionCallMode::NonBlocking);
                }
            })?;
            Ok(built as u32)
        })
    }

    fn resolve(&mut self, env: Env, built: u32) -> napi::Result<u32> {
        self.memory.sync(&env);
        Ok(built)
    }
}

pub struct UpsertTask {
    memory: Arc<MemoryReport>,
    collection: Arc<Collection>,
    ids: Vec<u64>,
    /// String ids instead of `ids` (string-id collections).
    names: Option<Vec<String>>,
    vectors: Vec<f32>,
    metadata: Option<Vec<Option<String>>>,
}

impl Task for UpsertTask {
    type Output = u32;
    type JsValue = u32;

    fn compute(&mut self) -> napi::Result<u32> {
        let vectors = std::mem::take(&mut self.vectors);
        let metadata = self.metadata.take();
        let names = self.names.take();
        guard(|| {
            let n = match names {
                Some(names) => self.collection.upsert_named(names, vectors, metadata)?,
                None => self.collection.upsert(&self.ids, vectors, metadata)?,
            };
            Ok(n as u32)
        })
    }

    fn resolve(&mut self, env: Env, n: u32) -> napi::Result<u32> {
        self.memory.sync(&env);
        Ok(n)
    }
}

pub struct DeleteTask {
    memory: Arc<MemoryReport>,
    collection: Arc<Collection>,
    ids: Vec<u64>,
    /// String ids instead of `ids` (string-id collections).
    names: Option<Vec<String>>,
}

impl Task for DeleteTask {
    type Output = u32;
    type JsValue = u32;

    fn compute(&mut self) -> napi::Result<u32> {
        guard(|| {
            let n = match &self.names {
                Some(names) => self.collection.delete_named(names)?,
                None => self.collection.delete(&self.ids)?,
            };
            Ok(n as u32)
        })
    }

    fn resolve(&mut self, env: Env, n: u32) -> napi::Result<u32> {
        self.memory.sync(&env);
        Ok(n)
    }
}

pub struct SearchTask {
    collection: Arc<Collection>,
    queries: Vec<f32>,
    options: NativeSearchOptions,
    batch: bool,
}

impl Task for SearchTask {
    type Output = Vec<SearchHits>;
    type JsValue = Vec<NativeHits>;

    fn compute(&mut self) -> napi::Result<Vec<SearchHits>> {
        guard(|| {
            let params = search_params(&self.options)?;
            if self.batch {
                self.collection.search_batch(&self.queries, &params)
            } else {
                Ok(vec![self.collection.search(&self.queries, &params)?])
            }
        })
    }

    fn resolve(&mut self, _env: Env, hits: Vec<SearchHits>) -> napi::Result<Vec<NativeHits>> {
        Ok(hits.into_iter().map(NativeHits::from).collect())
    }
}
