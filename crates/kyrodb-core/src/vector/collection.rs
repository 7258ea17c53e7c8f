//! A vector collection: validated writes into contiguous rows, exact search over them.
//!
//! Invariants (checked by the tests in `tests/collection.rs`):
//! 1. `ids`, `metadata` and the rows of `vectors` are parallel: row `r` is
//!    `vectors[r*dim..(r+1)*dim]`, with id `ids[r]` and metadata `metadata[r]`.
//! 2. `index[ids[r]] == r` for every row, and `index` has no other entries.
//! 3. A call that returns an error has changed nothing: batches are validated completely
//!    before the first row is touched.

use super::exact::{self, RowSet};
use super::metric::Metric;
use super::topk::Candidate;
use crate::error::{Error, Result};
use crate::simd::kernels;
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Largest accepted dimension.
pub const MAX_DIMENSION: usize = 16_384;
/// Largest accepted `k` for a search.
pub const MAX_K: usize = 10_000;
/// Most vectors in one upsert, delete or search batch.
pub const MAX_BATCH: usize = 1_000_000;
/// Largest serialized metadata object for one row, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// Shape of a collection, fixed at creation.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct CollectionConfig {
    /// Components per vector, `1..=MAX_DIMENSION`.
    pub dimension: usize,
    /// Distance used for ranking.
    pub metric: Metric,
}

impl CollectionConfig {
    /// Check the configuration's ranges.
    pub fn validate(&self) -> Result<()> {
        if self.dimension == 0 || self.dimension > MAX_DIMENSION {
            return Err(Error::invalid(format!(
                "dimension must be an integer in 1..={MAX_DIMENSION}, got {}",
                self.dimension
            )));
        }
        Ok(())
    }
}

/// Result of one search, best first. Parallel vectors: hit `i` is
/// `(ids[i], distances[i], metadata[i])`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SearchHits {
    /// External ids.
    pub ids: Vec<u64>,
    /// Distances (see [`Metric`] for the definition per metric).
    pub distances: Vec<f32>,
    /// Metadata JSON of each hit, when it has some.
    pub metadata: Vec<Option<Arc<str>>>,
}

/// A stored vector as returned by [`Collection::get`].
#[derive(Clone, Debug, PartialEq)]
pub struct StoredVector {
    /// The vector as stored (unit length under cosine).
    pub vector: Vec<f32>,
    /// Its metadata JSON, if any.
    pub metadata: Option<Arc<str>>,
}

#[derive(Default)]
struct Rows {
    ids: Vec<u64>,
    vectors: Vec<f32>,
    metadata: Vec<Option<Arc<str>>>,
    index: HashMap<u64, u32>,
}

/// A named set of vectors of one dimension and metric.
pub struct Collection {
    name: String,
    config: CollectionConfig,
    rows: RwLock<Rows>,
    dropped: AtomicBool,
    db_closed: Arc<AtomicBool>,
}

impl std::fmt::Debug for Collection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection").field("name", &self.name).field("config", &self.config).finish()
    }
}

impl Collection {
    pub(crate) fn new(name: String, config: CollectionConfig, db_closed: Arc<AtomicBool>) -> Collection {
        Collection { name, config, rows: RwLock::new(Rows::default()), dropped: AtomicBool::new(false), db_closed }
    }

    /// The collection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The collection's dimension and metric.
    pub fn config(&self) -> CollectionConfig {
        self.config
    }

    pub(crate) fn mark_dropped(&self) {
        self.dropped.store(true, Ordering::Release);
    }

    fn check_usable(&self) -> Result<()> {
        if self.db_closed.load(Ordering::Acquire) {
            return Err(Error::Closed);
        }
        if self.dropped.load(Ordering::Acquire) {
            return Err(Error::NotFound(format!("collection '{}' was dropped", self.name)));
        }
        Ok(())
    }

    /// Number of live vectors.
    pub fn count(&self) -> Result<usize> {
        self.check_usable()?;
        Ok(self.rows.read().ids.len())
    }

    /// Insert or replace vectors. `vectors` is row-major, `ids.len() * dimension` long;
    /// `metadata`, when given, has one entry per id (each a JSON object or `None`).
    /// The whole batch is validated before anything changes. Returns the batch size.
    pub fn upsert(&self, ids: &[u64], mut vectors: Vec<f32>, metadata: Option<Vec<Option<String>>>) -> Result<usize> {
        self.check_usable()?;
        let dim = self.config.dimension;
        let n = ids.len();
        if n > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} vectors, got {n}")));
        }
        if vectors.len() % dim != 0 {
            return Err(Error::batch_length(dim, vectors.len()));
        }
        if vectors.len() / dim != n {
            return Err(Error::invalid(format!(
                "got {n} ids but {} vectors; pass exactly one vector per id",
                vectors.len() / dim
            )));
        }
        let mut seen = HashSet::with_capacity(n);
        for id in ids {
            if !seen.insert(*id) {
                return Err(Error::invalid(format!("id {id} appears more than once in one batch")));
            }
        }
        let metadata = match metadata {
            None => vec![None; n],
            Some(m) => {
                if m.len() != n {
                    return Err(Error::invalid(format!("got {n} ids but {} metadata entries", m.len())));
                }
                m.into_iter()
                    .enumerate()
                    .map(|(i, json)| json.map(|s| validate_metadata(&s, ids[i]).map(|()| Arc::<str>::from(s))).transpose())
                    .collect::<Result<Vec<_>>>()?
            }
        };
        for (i, v) in vectors.chunks_exact_mut(dim).enumerate() {
            self.config.metric.prepare(v, &|| format!("vector {i} (id {})", ids[i]))?;
        }

        let mut rows = self.rows.write();
        rows.ids.reserve(n);
        rows.vectors.reserve(n * dim);
        for ((id, v), meta) in ids.iter().zip(vectors.chunks_exact(dim)).zip(metadata) {
            match rows.index.get(id).copied() {
                Some(r) => {
                    let r = r as usize;
                    rows.vectors[r * dim..(r + 1) * dim].copy_from_slice(v);
                    rows.metadata[r] = meta;
                }
                None => {
                    let r = u32::try_from(rows.ids.len())
                        .map_err(|_| Error::invalid("a collection holds at most 2^32 − 1 vectors"))?;
                    rows.ids.push(*id);
                    rows.vectors.extend_from_slice(v);
                    rows.metadata.push(meta);
                    rows.index.insert(*id, r);
                }
            }
        }
        Ok(n)
    }

    /// Remove vectors by id; ids that are absent are ignored. Returns how many were removed.
    pub fn delete(&self, ids: &[u64]) -> Result<usize> {
        self.check_usable()?;
        if ids.len() > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} ids, got {}", ids.len())));
        }
        let dim = self.config.dimension;
        let mut rows = self.rows.write();
        let mut removed = 0;
        for id in ids {
            let Some(r) = rows.index.remove(id) else { continue };
            let r = r as usize;
            let last = rows.ids.len() - 1;
            // Swap-remove keeps rows contiguous; the moved row's index entry is updated.
            if r != last {
                let moved_id = rows.ids[last];
                rows.vectors.copy_within(last * dim..(last + 1) * dim, r * dim);
                rows.ids[r] = moved_id;
                rows.metadata.swap(r, last);
                rows.index.insert(moved_id, r as u32);
            }
            rows.ids.pop();
            rows.metadata.pop();
            rows.vectors.truncate(last * dim);
            removed += 1;
        }
        Ok(removed)
    }

    /// The stored vector and metadata of `id`, or `None`.
    pub fn get(&self, id: u64) -> Result<Option<StoredVector>> {
        self.check_usable()?;
        let rows = self.rows.read();
        let dim = self.config.dimension;
        Ok(rows.index.get(&id).map(|&r| {
            let r = r as usize;
            StoredVector { vector: rows.vectors[r * dim..(r + 1) * dim].to_vec(), metadata: rows.metadata[r].clone() }
        }))
    }

    fn validate_k(k: usize) -> Result<()> {
        if k == 0 || k > MAX_K {
            return Err(Error::invalid(format!("k must be an integer in 1..={MAX_K}, got {k}")));
        }
        Ok(())
    }

    fn prepare_queries(&self, queries: &[f32]) -> Result<Vec<f32>> {
        let dim = self.config.dimension;
        let mut prepared = queries.to_vec();
        for (i, q) in prepared.chunks_exact_mut(dim).enumerate() {
            self.config.metric.prepare(q, &|| format!("query {i}"))?;
        }
        Ok(prepared)
    }

    /// Exact `k` nearest neighbours of `query`, best first (ties by smaller id), on the
    /// calling thread.
    pub fn search(&self, query: &[f32], k: usize) -> Result<SearchHits> {
        self.check_usable()?;
        Self::validate_k(k)?;
        if query.len() != self.config.dimension {
            return Err(Error::dimension(self.config.dimension, query.len()));
        }
        let query = self.prepare_queries(query)?;
        let rows = self.rows.read();
        let found = exact::search_one(self.config.metric, kernels(), &query, self.row_set(&rows), k);
        Ok(hits(&rows, found))
    }

    /// Exact search for many queries at once (`queries` row-major), spread over every core.
    pub fn search_batch(&self, queries: &[f32], k: usize) -> Result<Vec<SearchHits>> {
        self.check_usable()?;
        Self::validate_k(k)?;
        let dim = self.config.dimension;
        if queries.len() % dim != 0 {
            return Err(Error::batch_length(dim, queries.len()));
        }
        if queries.len() / dim > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} queries")));
        }
        let queries = self.prepare_queries(queries)?;
        let rows = self.rows.read();
        let found = exact::search_batch(self.config.metric, kernels(), &queries, self.row_set(&rows), k);
        Ok(found.into_iter().map(|f| hits(&rows, f)).collect())
    }

    fn row_set<'a>(&self, rows: &'a Rows) -> RowSet<'a> {
        RowSet { vectors: &rows.vectors, ids: &rows.ids, dim: self.config.dimension }
    }

    /// Bytes of vector data held in memory (reported to V8 by the binding).
    pub fn memory_bytes(&self) -> usize {
        let rows = self.rows.read();
        rows.vectors.capacity() * 4 + rows.ids.capacity() * 8 + rows.index.capacity() * 16
    }
}

fn hits(rows: &Rows, found: Vec<Candidate>) -> SearchHits {
    let mut out = SearchHits {
        ids: Vec::with_capacity(found.len()),
        distances: Vec::with_capacity(found.len()),
        metadata: Vec::with_capacity(found.len()),
    };
    for c in found {
        out.ids.push(c.id);
        out.distances.push(c.distance);
        out.metadata.push(rows.metadata[c.row as usize].clone());
    }
    out
}

fn validate_metadata(json: &str, id: u64) -> Result<()> {
    if json.len() > MAX_METADATA_BYTES {
        return Err(Error::invalid(format!(
            "metadata of id {id} is {} bytes; the limit is {MAX_METADATA_BYTES}",
            json.len()
        )));
    }
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::Object(_)) => Ok(()),
        Ok(_) => Err(Error::invalid(format!("metadata of id {id} must be a JSON object"))),
        Err(e) => Err(Error::invalid(format!("metadata of id {id} is not valid JSON: {e}"))),
    }
}
