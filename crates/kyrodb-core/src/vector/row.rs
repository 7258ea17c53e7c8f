//! Row-level pieces shared by the hot tier and segments: parsed metadata, and the hot tier
//! itself (recent writes, appended in memory and searched exactly).

use super::exact::{self, RowSet};
use super::filter::{Filter, FlatMeta};
use super::metric::Metric;
use super::topk::{Candidate, TopK};
use crate::error::{Error, Result};
use crate::simd::kernels;
use std::sync::Arc;

/// Largest serialized metadata object for one row, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;

/// A row's metadata: the JSON text as given (returned to callers unchanged) and its
/// flattened form (read by filters and indexes).
#[derive(Debug, PartialEq)]
pub struct RowMeta {
    /// JSON object text.
    pub json: Arc<str>,
    /// Flattened paths and values.
    pub flat: FlatMeta,
}

impl RowMeta {
    /// Parse and check one row's metadata (a JSON object of at most 64 KiB).
    pub fn parse(json: String, id: impl std::fmt::Display) -> Result<RowMeta> {
        if json.len() > MAX_METADATA_BYTES {
            return Err(Error::invalid(format!(
                "metadata of id {id} is {} bytes; the limit is {MAX_METADATA_BYTES}",
                json.len()
            )));
        }
        match serde_json::from_str::<serde_json::Value>(&json) {
            Ok(serde_json::Value::Object(obj)) => Ok(RowMeta { flat: FlatMeta::from_object(&obj), json: json.into() }),
            Ok(_) => Err(Error::invalid(format!("metadata of id {id} must be a JSON object"))),
            Err(e) => Err(Error::invalid(format!("metadata of id {id} is not valid JSON: {e}"))),
        }
    }
}

/// Recent writes: append-only rows with a tombstone bit each. Rows are never moved while
/// they are in the hot tier, so a freeze can snapshot a prefix and later drop exactly it.
#[derive(Default)]
pub struct HotTier {
    dim: usize,
    ids: Vec<u64>,
    vectors: Vec<f32>,
    metadata: Vec<Option<Arc<RowMeta>>>,
    /// String ids of the rows (string-id collections only; empty otherwise).
    names: Vec<Arc<str>>,
    dead: Vec<u64>,
    dead_count: usize,
    /// Estimated bytes of the rows' metadata (text and parsed form).
    meta_bytes: usize,
}

/// Estimated bytes one row's metadata holds in memory: its text, and the parsed form
/// (paths and values, about as large again) with the allocations' overhead.
fn meta_cost(meta: &Option<Arc<RowMeta>>) -> usize {
    meta.as_ref().map_or(0, |m| 2 * m.json.len() + 96)
}

impl HotTier {
    /// An empty hot tier for `dim`-dimensional rows.
    pub fn new(dim: usize) -> HotTier {
        HotTier { dim, ..HotTier::default() }
    }

    /// Rows, dead included.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether there are no rows at all.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Rows not dead.
    pub fn live(&self) -> usize {
        self.ids.len() - self.dead_count
    }

    /// Make room for `rows` more rows (one growth per batch instead of one per row).
    pub fn reserve(&mut self, rows: usize) {
        self.ids.reserve(rows);
        self.vectors.reserve(rows * self.dim);
        populate_next(&self.vectors, rows * self.dim);
        self.metadata.reserve(rows);
    }

    /// Append a row; returns its index.
    pub fn push(&mut self, id: u64, name: Option<Arc<str>>, vector: &[f32], meta: Option<Arc<RowMeta>>) -> u32 {
        let r = self.ids.len();
        self.ids.push(id);
        if let Some(name) = name {
            self.meta_bytes += name.len() + 16;
            self.names.push(name);
        }
        self.vectors.extend_from_slice(vector);
        self.meta_bytes += meta_cost(&meta);
        self.metadata.push(meta);
        if r.is_multiple_of(64) {
            self.dead.push(0);
        }
        r as u32
    }

    /// Mark row `r` dead (deleted or superseded).
    pub fn kill(&mut self, r: u32) {
        let r = r as usize;
        if self.dead[r >> 6] >> (r & 63) & 1 == 0 {
            self.dead[r >> 6] |= 1 << (r & 63);
            self.dead_count += 1;
        }
    }

    /// Whether row `r` is dead.
    pub fn is_dead(&self, r: u32) -> bool {
        let r = r as usize;
        self.dead[r >> 6] >> (r & 63) & 1 == 1
    }

    /// Live rows in order, a tombstone word (64 rows) at a time: a tier whose rows were
    /// mostly deleted costs a search one load per 64 of them, not a check per row.
    fn live_rows(&self) -> impl Iterator<Item = u32> + '_ {
        let n = self.len();
        self.dead.iter().enumerate().flat_map(move |(w, &dead)| {
            let rows = n.saturating_sub(w * 64).min(64);
            let valid = if rows == 64 { u64::MAX } else { (1u64 << rows) - 1 };
            let mut live = !dead & valid;
            std::iter::from_fn(move || {
                (live != 0).then(|| {
                    let b = live.trailing_zeros();
                    live &= live - 1;
                    (w * 64) as u32 + b
                })
            })
        })
    }

    /// Id of row `r`.
    pub fn id(&self, r: u32) -> u64 {
        self.ids[r as usize]
    }

    /// Vector of row `r`.
    pub fn vector(&self, r: u32) -> &[f32] {
        let s = r as usize * self.dim;
        &self.vectors[s..s + self.dim]
    }

    /// Metadata of row `r`.
    pub fn meta(&self, r: u32) -> Option<&Arc<RowMeta>> {
        self.metadata[r as usize].as_ref()
    }

    /// String id of row `r` (string-id collections).
    pub fn name(&self, r: u32) -> Option<&Arc<str>> {
        self.names.get(r as usize)
    }

    /// Drop the first `h` rows (they have been frozen into a segment); later rows move
    /// down by `h`.
    pub fn drain_front(&mut self, h: usize) {
        let dead: Vec<bool> = (h..self.len()).map(|r| self.is_dead(r as u32)).collect();
        self.ids.drain(..h);
        self.vectors.drain(..h * self.dim);
        self.meta_bytes -= self.metadata.drain(..h).map(|m| meta_cost(&m)).sum::<usize>();
        if !self.names.is_empty() {
            self.meta_bytes -= self.names.drain(..h).map(|n| n.len() + 16).sum::<usize>();
        }
        // Give back what a large backlog (a bulk load, a replayed WAL) left allocated:
        // without this the hot tier's capacity only ever grows.
        let keep = (2 * self.ids.len()).max(8192);
        if self.ids.capacity() > 2 * keep {
            self.ids.shrink_to(keep);
            self.vectors.shrink_to(keep * self.dim);
            self.metadata.shrink_to(keep);
            self.names.shrink_to(keep);
        }
        self.dead = vec![0; self.ids.len().div_ceil(64)];
        self.dead_count = 0;
        for (r, d) in dead.into_iter().enumerate() {
            if d {
                self.kill(r as u32);
            }
        }
    }

    /// Exact best `k` live rows matching `filter`; `row` of each candidate is a hot row.
    pub fn search(&self, metric: Metric, query: &[f32], k: usize, filter: Option<&Filter>) -> Vec<Candidate> {
        if self.live() == 0 {
            // Empty, or every row deleted since the last flush: nothing to look at.
            return Vec::new();
        }
        let kern = kernels();
        if self.dead_count == 0 && filter.is_none() {
            // The common case gets the tight memory-bound scan.
            return exact::search_one(metric, kern, query, self.row_set(), k);
        }
        let mut top = TopK::new(k);
        for r in self.live_rows() {
            if let Some(f) = filter {
                if !f.matches(self.meta(r).map(|m| &m.flat)) {
                    continue;
                }
            }
            let d = metric.distance(kern, query, self.vector(r));
            if d <= top.threshold() {
                top.push(Candidate { distance: d, id: self.ids[r as usize], row: r });
            }
        }
        top.into_sorted()
    }

    /// Exact search for many queries at once (tiled over every core when the tier has no
    /// dead rows and there is no filter; otherwise one query per task).
    pub fn search_batch(
        &self,
        metric: Metric,
        queries: &[f32],
        k: usize,
        filter: Option<&Filter>,
    ) -> Vec<Vec<Candidate>> {
        use rayon::prelude::*;
        if self.dead_count == 0 && filter.is_none() {
            return exact::search_batch(metric, kernels(), queries, self.row_set(), k);
        }
        queries.par_chunks(self.dim).map(|q| self.search(metric, q, k, filter)).collect()
    }

    fn row_set(&self) -> RowSet<'_> {
        RowSet { vectors: &self.vectors, ids: &self.ids, dim: self.dim }
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> usize {
        self.vectors.capacity() * 4 + self.ids.capacity() * 8 + self.metadata.capacity() * 8 + self.meta_bytes
    }
}

/// Map the pages the next `n` appended elements will occupy in one call
/// (`MADV_POPULATE_WRITE`) instead of one page fault per 4 KiB as they are written: filling
/// a hot tier of hundreds of MiB (WAL replay above all) otherwise spends a quarter of its
/// time in the fault path (docs/ARCHITECTURE.md §14). Only those pages, so resident memory
/// stays what is used. Advice only: kernels without it return an error that is ignored,
/// and the pages fault in as before.
fn populate_next(v: &Vec<f32>, n: usize) {
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let base = v.as_ptr() as usize;
        let start = (base + v.len() * 4).next_multiple_of(PAGE);
        let end = (base + (v.len() + n).min(v.capacity()) * 4) / PAGE * PAGE;
        if end > start && end - start >= 16 * PAGE {
            // SAFETY: whole pages inside this Vec's own allocation, past its initialized
            // length; populating maps zeroed pages and never changes mapped contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_POPULATE_WRITE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (v, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_rows_skip_dead_words_and_stop_at_the_last_row() {
        let mut t = HotTier::new(1);
        for r in 0..150u64 {
            t.push(r, None, &[r as f32], None);
        }
        // Kill all of word 1 (rows 64..128), and a few rows around it.
        for r in (64..128).chain([0, 63, 128, 149]) {
            t.kill(r);
        }
        let expect: Vec<u32> = (0..150).filter(|&r| !t.is_dead(r)).collect();
        assert_eq!(t.live_rows().collect::<Vec<_>>(), expect);
        assert_eq!(expect.len(), t.live());
        // A search sees exactly the live rows: the nearest to 96 are 129 and 62 now.
        let hits = t.search(Metric::L2, &[96.0], 2, None);
        assert_eq!(hits.iter().map(|c| c.id).collect::<Vec<_>>(), vec![129, 62]);
        // Every row deleted: no result, with and without a filter.
        for r in 0..150 {
            t.kill(r);
        }
        assert_eq!(t.live(), 0);
        assert!(t.search(Metric::L2, &[96.0], 2, None).is_empty());
        assert!(t.search_batch(Metric::L2, &[96.0, 1.0], 2, None).iter().all(Vec::is_empty));
    }
}
