//! `NativeDatabase`: the database handle as seen from JavaScript.

use crate::collection::{NativeCollection, ProgressFn};
use crate::errors::guard;
use crate::external_memory::MemoryReport;
use kyrodb_core::{
    BuildParams, CollectionConfig, Database, Durability, Error, IdType, IndexConfig, Metric, OpenOptions,
};
use napi::bindgen_prelude::{AsyncTask, BigInt, Env};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::Task;
use napi_derive::napi;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Options of `open`; absent fields take the defaults (`full`, no salvage).
#[napi(object)]
pub struct NativeOpenOptions {
    /// `full`, `normal` or `none`.
    pub durability: Option<String>,
    /// fsync interval of the `normal` mode, in milliseconds.
    pub sync_interval_ms: Option<u32>,
    /// Recover what is intact from a damaged directory instead of failing.
    pub salvage: Option<bool>,
    /// Key-value memtable bytes that trigger a flush into a run.
    pub kv_memtable_bytes: Option<f64>,
    /// Key-value appends after which the memtable becomes a run with a new learned index.
    pub rmi_rebuild_appends: Option<f64>,
    /// Byte budget of the query-result cache (`0`: off).
    pub query_cache_bytes: Option<f64>,
    /// Near repeats: the largest query distance (the collection's metric) a cached answer
    /// may serve (`0`/absent: off).
    pub query_cache_near_distance: Option<f64>,
    /// The query cache's policy: `s3fifo` (default), `tinylfu` or `learned`.
    pub query_cache_admission: Option<String>,
}

fn open_options(o: Option<NativeOpenOptions>) -> kyrodb_core::Result<OpenOptions> {
    let Some(o) = o else { return Ok(OpenOptions::default()) };
    let interval = Duration::from_millis(o.sync_interval_ms.unwrap_or(100).max(1) as u64);
    let durability = match o.durability.as_deref() {
        None | Some("full") => Durability::Full,
        Some("normal") => Durability::Normal { interval },
        Some("none") => Durability::None,
        Some(other) => {
            return Err(Error::invalid(format!("durability must be 'full', 'normal' or 'none', got {other:?}")))
        }
    };
    let positive = |name: &str, v: Option<f64>, default: u64| -> kyrodb_core::Result<u64> {
        match v {
            None => Ok(default),
            Some(x) if (1.0..=9_007_199_254_740_991.0).contains(&x) && x.fract() == 0.0 => Ok(x as u64),
            Some(x) => Err(Error::invalid(format!("{name} must be a positive integer, got {x}"))),
        }
    };
    let kv = kyrodb_core::KvConfig {
        memtable_bytes: positive("kvMemtableBytes", o.kv_memtable_bytes, kyrodb_core::DEFAULT_MEMTABLE_BYTES as u64)?
            as usize,
        rmi_rebuild_appends: positive(
            "rmiRebuildAppends",
            o.rmi_rebuild_appends,
            kyrodb_core::DEFAULT_RMI_REBUILD_APPENDS,
        )?,
    };
    let query_cache_bytes = match o.query_cache_bytes {
        None => kyrodb_core::DEFAULT_QUERY_CACHE_BYTES,
        Some(x) if (0.0..=(1u64 << 40) as f64).contains(&x) && x.fract() == 0.0 => x as usize,
        Some(x) => return Err(Error::invalid(format!("cache.queryBytes must be an integer in 0..=2^40, got {x}"))),
    };
    let query_cache_admission = match o.query_cache_admission.as_deref() {
        None => kyrodb_core::AdmissionMode::default(),
        Some(s) => kyrodb_core::AdmissionMode::parse(s).ok_or_else(|| {
            Error::invalid(format!("cache.admission must be 's3fifo', 'tinylfu' or 'learned', got {s:?}"))
        })?,
    };
    let near_repeat_distance = match o.query_cache_near_distance {
        None => 0.0,
        Some(x) if x.is_finite() && (0.0..=f32::MAX as f64).contains(&x) => x as f32,
        Some(x) => return Err(Error::invalid(format!("cache.nearDistance must be a finite number ≥ 0, got {x}"))),
    };
    Ok(OpenOptions {
        durability,
        salvage: o.salvage.unwrap_or(false),
        kv,
        query_cache_bytes,
        query_cache_admission,
        near_repeat_distance,
        ..OpenOptions::default()
    })
}

/// Opening (recovery) off the JS thread.
pub struct OpenTask {
    path: Option<String>,
    options: Option<NativeOpenOptions>,
}

impl Task for OpenTask {
    type Output = Arc<Database>;
    type JsValue = NativeDatabase;

    fn compute(&mut self) -> napi::Result<Arc<Database>> {
        let options = self.options.take();
        guard(|| Ok(Arc::new(Database::open_with(self.path.as_deref().map(Path::new), open_options(options)?)?)))
    }

    fn resolve(&mut self, env: Env, db: Arc<Database>) -> napi::Result<NativeDatabase> {
        Ok(NativeDatabase::new(db, &env))
    }
}

/// A database-wide background operation.
pub enum DbOp {
    Flush,
    Compact,
    Snapshot(PathBuf),
    Verify,
    /// The blocking half of `close` (the database is already marked closed).
    Close,
}

pub struct DbTask {
    memory: Arc<MemoryReport>,
    db: Arc<Database>,
    op: DbOp,
    on_progress: Option<ProgressFn>,
}

impl Task for DbTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> napi::Result<()> {
        let cb = self.on_progress.take();
        let mut progress = |done: usize, total: usize| {
            if let Some(cb) = &cb {
                cb.call((done as u32, total as u32), ThreadsafeFunctionCallMode::NonBlocking);
            }
        };
        guard(|| match &self.op {
            DbOp::Flush => self.db.flush(&mut progress),
            DbOp::Compact => self.db.compact(&mut progress),
            DbOp::Snapshot(dest) => self.db.snapshot(dest, &mut progress),
            DbOp::Verify => self.db.verify(),
            DbOp::Close => self.db.finish_close(),
        })
    }

    fn resolve(&mut self, env: Env, _: ()) -> napi::Result<()> {
        self.memory.sync(&env);
        Ok(())
    }
}

/// Native database handle (wrapped by `Database` in the TypeScript API).
#[napi]
pub struct NativeDatabase {
    inner: Arc<Database>,
    memory: Arc<MemoryReport>,
}

impl NativeDatabase {
    /// A handle on `db`, its native memory reported to V8 from now on.
    fn new(db: Arc<Database>, env: &Env) -> NativeDatabase {
        let memory = MemoryReport::new(db.clone());
        memory.sync(env);
        NativeDatabase { inner: db, memory }
    }
}

/// Graph index options of `createCollection`; absent fields take the engine defaults.
#[napi(object)]
pub struct NativeIndexOptions {
    pub m: Option<u32>,
    pub ef_construction: Option<u32>,
    pub auto_build_rows: Option<u32>,
}

/// Write-ahead log and maintenance figures since open (`db.stats()`).
#[napi(object)]
pub struct NativeDatabaseStats {
    pub wal_frames: f64,
    pub wal_bytes: f64,
    pub wal_groups: f64,
    pub wal_fsyncs: f64,
    pub wal_disk_bytes: f64,
    pub wal_files: u32,
    pub segment_builds: f64,
    pub merges: f64,
    pub recovery_ms: f64,
    /// Bytes held in native memory now (`Database::memory_bytes`).
    pub native_memory_bytes: f64,
    /// The query cache's counters and size.
    pub cache: NativeQueryCacheStats,
    /// Of which reported to V8 as external memory (updated after writes, builds, flushes).
    pub reported_external_bytes: f64,
}

/// Query-cache figures (`db.stats().cache`).
#[napi(object)]
pub struct NativeQueryCacheStats {
    pub hits: f64,
    pub near_hits: f64,
    pub misses: f64,
    pub invalidations: f64,
    pub evictions: f64,
    pub rejections: f64,
    pub entries: f64,
    pub bytes: f64,
    pub capacity_bytes: f64,
    /// The policy in force: `s3fifo`, `tinylfu` or `learned`.
    #[napi(ts_type = "'s3fifo' | 'tinylfu' | 'learned'")]
    pub admission: String,
    /// Learned admission: microseconds since the model in force was made (0 otherwise).
    pub model_age_us: f64,
    /// Learned admission: how long the last retrain took, microseconds (0: none yet).
    pub last_retrain_us: f64,
    /// Learned admission: retrains completed.
    pub retrains: f64,
}

/// One row of `listCollections()`.
#[napi(object)]
pub struct NativeCollectionInfo {
    pub name: String,
    pub dimension: u32,
    pub metric: String,
    pub count: f64,
    /// `"u64"` or `"string"`.
    pub id_type: String,
}

#[napi]
impl NativeDatabase {
    /// Open a database at `path` (created if missing), or in memory when `path` is null.
    #[napi(factory)]
    pub fn open(env: Env, path: Option<String>, options: Option<NativeOpenOptions>) -> napi::Result<NativeDatabase> {
        let db = guard(|| {
            let options = open_options(options)?;
            Ok(Arc::new(Database::open_with(path.as_deref().map(Path::new), options)?))
        })?;
        Ok(NativeDatabase::new(db, &env))
    }

    /// Open (and recover) on the libuv thread pool.
    #[napi(ts_return_type = "Promise<NativeDatabase>")]
    pub fn open_async(path: Option<String>, options: Option<NativeOpenOptions>) -> AsyncTask<OpenTask> {
        AsyncTask::new(OpenTask { path, options })
    }

    /// What recovery cut or dropped at open.
    #[napi(getter)]
    pub fn recovery_report(&self) -> Vec<String> {
        self.inner.recovery_report().to_vec()
    }

    /// WAL totals and size, segment builds and merges, recovery time.
    #[napi]
    pub fn stats(&self) -> NativeDatabaseStats {
        let s = self.inner.stats();
        NativeDatabaseStats {
            wal_frames: s.wal.frames as f64,
            wal_bytes: s.wal.bytes as f64,
            wal_groups: s.wal.groups as f64,
            wal_fsyncs: s.wal.fsyncs as f64,
            wal_disk_bytes: s.wal.disk_bytes as f64,
            wal_files: s.wal.files as u32,
            segment_builds: s.segment_builds as f64,
            merges: s.merges as f64,
            recovery_ms: s.recovery_time.as_secs_f64() * 1e3,
            native_memory_bytes: if self.inner.is_closed() { 0.0 } else { self.inner.memory_bytes() as f64 },
            cache: {
                let c = self.inner.query_cache_stats();
                NativeQueryCacheStats {
                    hits: c.hits as f64,
                    near_hits: c.near_hits as f64,
                    misses: c.misses as f64,
                    invalidations: c.invalidations as f64,
                    evictions: c.evictions as f64,
                    rejections: c.rejections as f64,
                    entries: c.entries as f64,
                    bytes: c.bytes as f64,
                    capacity_bytes: c.capacity_bytes as f64,
                    admission: c.admission.name().to_string(),
                    model_age_us: c.model_age_us as f64,
                    last_retrain_us: c.last_retrain_us as f64,
                    retrains: c.retrains as f64,
                }
            },
            reported_external_bytes: self.memory.reported() as f64,
        }
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn flush(
        &self,
        #[napi(ts_arg_type = "((pair: [number, number]) => void) | undefined | null")] on_progress: Option<ProgressFn>,
    ) -> AsyncTask<DbTask> {
        AsyncTask::new(DbTask { db: self.inner.clone(), op: DbOp::Flush, on_progress, memory: self.memory.clone() })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn compact(
        &self,
        #[napi(ts_arg_type = "((pair: [number, number]) => void) | undefined | null")] on_progress: Option<ProgressFn>,
    ) -> AsyncTask<DbTask> {
        AsyncTask::new(DbTask { db: self.inner.clone(), op: DbOp::Compact, on_progress, memory: self.memory.clone() })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn verify(&self) -> AsyncTask<DbTask> {
        AsyncTask::new(DbTask {
            db: self.inner.clone(),
            op: DbOp::Verify,
            on_progress: None,
            memory: self.memory.clone(),
        })
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub fn snapshot(
        &self,
        dest: String,
        #[napi(ts_arg_type = "((pair: [number, number]) => void) | undefined | null")] on_progress: Option<ProgressFn>,
    ) -> AsyncTask<DbTask> {
        AsyncTask::new(DbTask {
            db: self.inner.clone(),
            op: DbOp::Snapshot(PathBuf::from(dest)),
            on_progress,
            memory: self.memory.clone(),
        })
    }

    /// `index` null makes an exact-only collection (no graph is ever built).
    #[napi]
    pub fn create_collection(
        &self,
        name: String,
        dimension: u32,
        metric: String,
        index: Option<NativeIndexOptions>,
        id_type: Option<String>,
        tag: Option<BigInt>,
    ) -> napi::Result<NativeCollection> {
        guard(|| {
            let tag = crate::group::tag_of(tag)?;
            let metric = Metric::parse(&metric)?;
            let id_type = id_type.as_deref().map_or(Ok(IdType::U64), IdType::parse)?;
            let index = index.map(|o| {
                let d = IndexConfig::default();
                IndexConfig {
                    params: BuildParams {
                        m: o.m.map_or(d.params.m, |x| x as usize),
                        ef_construction: o.ef_construction.map_or(d.params.ef_construction, |x| x as usize),
                        ..d.params
                    },
                    auto_build_rows: o.auto_build_rows.map_or(d.auto_build_rows, |x| x as usize),
                }
            });
            let config = CollectionConfig { dimension: dimension as usize, metric, index, id_type };
            Ok(NativeCollection::new(self.inner.create_collection_tagged(&name, config, tag)?, self.memory.clone()))
        })
    }

    #[napi]
    pub fn collection(&self, name: String) -> napi::Result<NativeCollection> {
        guard(|| Ok(NativeCollection::new(self.inner.collection(&name)?, self.memory.clone())))
    }

    #[napi]
    pub fn list_collections(&self) -> napi::Result<Vec<NativeCollectionInfo>> {
        guard(|| {
            Ok(self
                .inner
                .list_collections()?
                .into_iter()
                .map(|c| NativeCollectionInfo {
                    name: c.name,
                    dimension: c.config.dimension as u32,
                    metric: c.config.metric.name().to_string(),
                    count: c.count as f64,
                    id_type: c.config.id_type.name().to_string(),
                })
                .collect())
        })
    }

    #[napi]
    pub fn drop_collection(&self, name: String, tag: Option<BigInt>) -> napi::Result<()> {
        guard(|| self.inner.drop_collection_tagged(&name, crate::group::tag_of(tag)?))
    }

    /// The tag of the last tagged write applied (`Database::last_tag`), or null.
    #[napi]
    pub fn last_tag(&self) -> napi::Result<Option<BigInt>> {
        guard(|| Ok(self.inner.last_tag()?.map(BigInt::from)))
    }

    /// Several writes, each optionally tagged, in as few WAL groups as possible
    /// (`Database::write_group`); one result per write.
    #[napi(ts_return_type = "Promise<NativeGroupResult[]>")]
    pub fn write_group(
        &self,
        ops: Vec<crate::group::NativeGroupOp>,
    ) -> napi::Result<AsyncTask<crate::group::GroupTask>> {
        let writes = crate::group::group_writes(ops)?;
        Ok(AsyncTask::new(crate::group::GroupTask {
            memory: self.memory.clone(),
            db: self.inner.clone(),
            writes: Some(writes),
        }))
    }

    #[napi]
    pub fn close(&self, env: Env) -> napi::Result<()> {
        let closed = guard(|| self.inner.close());
        self.memory.sync(&env);
        closed
    }

    /// `close` without blocking the JavaScript thread: the database is marked closed now
    /// (every later call fails with `CLOSED`); stopping builds, syncing and releasing the
    /// lock run on the libuv thread pool, and the promise settles once they are done.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close_async(&self) -> AsyncTask<DbTask> {
        self.inner.begin_close();
        AsyncTask::new(DbTask {
            db: self.inner.clone(),
            op: DbOp::Close,
            on_progress: None,
            memory: self.memory.clone(),
        })
    }

    /// The key-value store.
    #[napi]
    pub fn kv(&self) -> crate::kv::NativeKv {
        crate::kv::NativeKv { inner: self.inner.kv().clone(), scratch: None, memory: self.memory.clone() }
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}
