//! `NativeDatabase`: the database handle as seen from JavaScript.

use crate::collection::NativeCollection;
use crate::errors::guard;
use kyrodb_core::vector::hnsw::BuildParams;
use kyrodb_core::{CollectionConfig, Database, IndexConfig, Metric};
use napi_derive::napi;
use std::path::Path;
use std::sync::Arc;

/// Native database handle (wrapped by `Database` in the TypeScript API).
#[napi]
pub struct NativeDatabase {
    inner: Arc<Database>,
}

/// Graph index options of `createCollection`; absent fields take the engine defaults.
#[napi(object)]
pub struct NativeIndexOptions {
    pub m: Option<u32>,
    pub ef_construction: Option<u32>,
    pub auto_build_rows: Option<u32>,
}

/// One row of `listCollections()`.
#[napi(object)]
pub struct NativeCollectionInfo {
    pub name: String,
    pub dimension: u32,
    pub metric: String,
    pub count: f64,
}

#[napi]
impl NativeDatabase {
    /// Open a database at `path` (created if missing), or in memory when `path` is null.
    #[napi(factory)]
    pub fn open(path: Option<String>) -> napi::Result<NativeDatabase> {
        guard(|| Ok(NativeDatabase { inner: Arc::new(Database::open(path.as_deref().map(Path::new))?) }))
    }

    /// `index` null makes an exact-only collection (no graph is ever built).
    #[napi]
    pub fn create_collection(
        &self,
        name: String,
        dimension: u32,
        metric: String,
        index: Option<NativeIndexOptions>,
    ) -> napi::Result<NativeCollection> {
        guard(|| {
            let metric = Metric::parse(&metric)?;
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
            let config = CollectionConfig { dimension: dimension as usize, metric, index };
            Ok(NativeCollection::new(self.inner.create_collection(&name, config)?))
        })
    }

    #[napi]
    pub fn collection(&self, name: String) -> napi::Result<NativeCollection> {
        guard(|| Ok(NativeCollection::new(self.inner.collection(&name)?)))
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
                })
                .collect())
        })
    }

    #[napi]
    pub fn drop_collection(&self, name: String) -> napi::Result<()> {
        guard(|| self.inner.drop_collection(&name))
    }

    #[napi]
    pub fn close(&self) {
        self.inner.close();
    }

    #[napi(getter)]
    pub fn closed(&self) -> bool {
        self.inner.is_closed()
    }
}
