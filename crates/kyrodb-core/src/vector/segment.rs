//! An immutable segment: a frozen set of rows (vectors in graph order, ids, metadata),
//! its HNSW graph (when large enough to need one), its metadata indexes, its id order
//! (ids sorted, for lookups by id), and a deletion bitset — the only part that changes
//! after the segment is built. A segment read from a file keeps everything mapped except
//! the field index and the deletion bitset; its metadata is read when a row is returned.

use super::aligned::{AlignedF32, Block};
use super::exact::{self, RowSet};
use super::filter::cache::{plan_hash, FilterCache};
use super::filter::index::FieldIndex;
use super::filter::Filter;
use super::hnsw::{
    build_graph_seeded, search_graph_with, Admission, BuildParams, ExactRows, FrozenGraph, NodeDistance, QuantRows,
};
use super::metric::Metric;
use super::quant::{self, Sq8};
use super::row::RowMeta;
use super::topk::{Candidate, TopK};
use crate::error::{Error, Result};
use crate::simd::kernels;
use crate::storage::deferred::DeferredCheck;
use crate::storage::segment_file::{IdOrder, MappedStrings, SegmentFile, SegmentParts};
use crate::storage::slab::Slab;
use parking_lot::Mutex;
use roaring::RoaringBitmap;
use std::sync::Arc;

/// Bytes of evaluated filters kept per segment (segments are immutable apart from
/// deletions, which are applied separately, so a cached row set never goes stale): about
/// 30 filters' row sets of a 1M-row segment.
const FILTER_CACHE_BYTES: usize = 8 << 20;

/// A filter evaluated over one segment: the matching rows (deleted ones included) as a
/// roaring bitmap and as a dense bitset for the graph walk.
struct FilterRows {
    rows: RoaringBitmap,
    bits: Vec<u64>,
}

/// How a build grows an existing segment's graph instead of building a new one.
pub struct SegmentGrowth {
    /// The graph over the first `graph.n` input rows (the grown segment's rows, in its
    /// stored order, deleted ones included); `None` builds anew.
    pub graph: Option<FrozenGraph>,
    /// Per input row: whether it arrives deleted (rows kept only so the grown graph's node
    /// numbers still match). Shorter than the input: the rest arrive live.
    pub born_deleted: Vec<bool>,
}

/// Segments with fewer rows than this are searched exactly (no graph): small graphs lose
/// recall, and scanning a couple of thousand rows is as fast as walking a graph.
pub const GRAPH_MIN_ROWS: usize = 2048;

/// A filtered search scans the allowed rows exactly instead of walking the graph when
/// fewer than this fraction of the segment's rows pass the filter (see
/// `docs/ARCHITECTURE.md`, "Filtered search").
pub const EXACT_FILTER_SELECTIVITY: f64 = 0.05;

/// Where a segment is stored, for segments of a durable collection.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct SegmentFiles {
    /// Segment file number.
    pub file: u64,
    /// Current deletion bitmap file, if one was written.
    pub deletes: Option<u64>,
    /// Deleted rows recorded in that bitmap file.
    pub persisted_deleted: usize,
}

/// Per-row strings of a segment (metadata JSON, string ids).
enum SegmentStrings {
    /// A segment built in memory (an in-memory collection's, or one not yet stored).
    Owned(Vec<Option<Arc<str>>>),
    /// Read from the segment file's mapped sections.
    Mapped(MappedStrings),
}

impl SegmentStrings {
    fn get(&self, r: u32) -> Option<&str> {
        match self {
            SegmentStrings::Owned(v) => v[r as usize].as_deref(),
            SegmentStrings::Mapped(m) => m.get(r as usize),
        }
    }

    fn get_shared(&self, r: u32) -> Option<Arc<str>> {
        match self {
            SegmentStrings::Owned(v) => v[r as usize].clone(),
            SegmentStrings::Mapped(m) => m.get(r as usize).map(Arc::from),
        }
    }

    fn owned_bytes(&self) -> usize {
        match self {
            SegmentStrings::Owned(v) => v.iter().map(|m| 16 + m.as_ref().map_or(0, |j| j.len() + 16)).sum(),
            SegmentStrings::Mapped(_) => 0,
        }
    }
}

/// An immutable segment of a collection.
pub struct Segment {
    dim: usize,
    vectors: Block<f32>,
    ids: Slab<u64>,
    id_order: IdOrder,
    /// Set once the segment is stored in a file.
    pub files: Option<SegmentFiles>,
    metadata: SegmentStrings,
    /// String ids (string-id collections); `ids` holds their keys.
    names: Option<SegmentStrings>,
    graph: Option<FrozenGraph>,
    /// 8-bit codes of the rows, present with the graph: the walk scores these and
    /// re-ranks its final candidates with the exact vectors.
    quant: Option<Sq8>,
    index: FieldIndex,
    deleted: Vec<u64>,
    deleted_count: usize,
    filter_cache: Mutex<FilterCache<FilterRows>>,
    /// Checks owed on the mapped vectors (a large segment's are verified on first use
    /// and by a background sweep): every read of `vectors` goes through
    /// [`Segment::check_rows`] or [`Segment::check_vectors`] first.
    deferred: Option<Arc<DeferredCheck>>,
    /// Bytes held in memory apart from the deletion bitset, fixed at construction.
    resident_bytes: usize,
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("rows", &self.ids.len()).field("graph", &self.graph.is_some()).finish()
    }
}

fn bit(bits: &[u64], r: usize) -> bool {
    bits[r >> 6] >> (r & 63) & 1 == 1
}

impl Segment {
    /// Build a segment from rows; with `params`, a graph is built when there are at least
    /// [`GRAPH_MIN_ROWS`] rows (without, the segment is always searched exactly).
    /// Row `i` is `ids[i]`, `source[i·dim..(i+1)·dim]` (stored form) and `metas[i]`. The
    /// graph is built on `source` directly; the one copy of the vectors made here is the
    /// block in graph order the segment keeps (at 10M × 128-d every copy is 5 GB).
    ///
    /// `grow`: a graph over the first rows for the new graph to extend instead of being
    /// built from scratch, and the input rows that arrive deleted (see [`SegmentGrowth`]).
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        ids: &[u64],
        mut names: Option<Vec<Arc<str>>>,
        source: &[f32],
        mut metas: Vec<Option<Arc<RowMeta>>>,
        dim: usize,
        metric: Metric,
        params: Option<BuildParams>,
        grow: SegmentGrowth,
        progress: &mut dyn FnMut(usize, usize),
        keep_going: &dyn Fn() -> bool,
    ) -> Result<Segment> {
        let n = ids.len();
        if source.len() != n * dim || metas.len() != n || names.as_ref().is_some_and(|v| v.len() != n) {
            return Err(Error::Internal(format!(
                "segment build: {n} ids, {} floats and {} metadata for dimension {dim}",
                source.len(),
                metas.len()
            )));
        }
        let (graph, order): (Option<FrozenGraph>, Vec<u32>) =
            if let Some(params) = params.filter(|_| n >= GRAPH_MIN_ROWS) {
                let (g, order) =
                    build_graph_seeded(source, dim, metric, params, grow.graph.as_ref(), progress, keep_going)?;
                (Some(g), order)
            } else {
                progress(n, n);
                (None, (0..n as u32).collect())
            };
        let mut vectors = AlignedF32::zeroed(n * dim);
        let mut ordered_ids = Vec::with_capacity(n);
        let mut metadata = Vec::with_capacity(n);
        let mut ordered_names = names.as_ref().map(|_| Vec::with_capacity(n));
        for (u, &src) in order.iter().enumerate() {
            let src = src as usize;
            vectors[u * dim..(u + 1) * dim].copy_from_slice(&source[src * dim..(src + 1) * dim]);
            ordered_ids.push(ids[src]);
            metadata.push(metas[src].take());
            if let (Some(out), Some(input)) = (ordered_names.as_mut(), names.as_mut()) {
                out.push(Some(std::mem::replace(&mut input[src], Arc::from(""))));
            }
        }
        let ids = ordered_ids;
        let index = FieldIndex::build(metadata.iter().map(|m: &Option<Arc<RowMeta>>| m.as_deref().map(|m| &m.flat)));
        // The parsed form was needed only for the index: keep the text.
        let metadata = metadata.into_iter().map(|m| m.map(|m| Arc::clone(&m.json))).collect();
        let id_order = IdOrder::compute(&ids);
        let quant = graph.as_ref().map(|_| Sq8::encode(&vectors, dim));
        let mut deleted = vec![0u64; n.div_ceil(64)];
        let mut deleted_count = 0;
        for (u, &src) in order.iter().enumerate() {
            if grow.born_deleted.get(src as usize).copied().unwrap_or(false) {
                deleted[u >> 6] |= 1 << (u & 63);
                deleted_count += 1;
            }
        }
        Ok(Segment {
            dim,
            vectors: Block::Owned(vectors),
            ids: ids.into(),
            id_order,
            files: None,
            metadata: SegmentStrings::Owned(metadata),
            names: ordered_names.map(SegmentStrings::Owned),
            graph,
            quant,
            index,
            deleted,
            deleted_count,
            filter_cache: Mutex::new(FilterCache::new(FILTER_CACHE_BYTES)),
            deferred: None,
            resident_bytes: 0,
        }
        .with_resident_bytes())
    }

    /// Record the bytes this segment holds in memory (everything is fixed but deletions).
    fn with_resident_bytes(mut self) -> Segment {
        let mut bytes = self.index.memory_bytes() + self.id_order.memory_bytes();
        bytes += self.metadata.owned_bytes() + self.names.as_ref().map_or(0, SegmentStrings::owned_bytes);
        if !self.ids.is_mapped() {
            bytes += self.vectors.len() * 4
                + self.ids.len() * 8
                + self.graph.as_ref().map_or(0, FrozenGraph::memory_bytes)
                + self.quant.as_ref().map_or(0, Sq8::memory_bytes);
        }
        self.resident_bytes = bytes;
        self
    }

    /// A handle on this segment's graph a build can grow without the collection's lock
    /// (graphs read from a file only; see [`FrozenGraph::share_mapped`]).
    pub fn shared_graph(&self) -> Option<FrozenGraph> {
        self.graph.as_ref().and_then(FrozenGraph::share_mapped)
    }

    /// A segment read from its file, with the deletion bitmap `deleted` (one bit per row),
    /// as file `files`.
    pub fn from_file(f: SegmentFile, deleted: Option<Vec<u64>>, files: SegmentFiles) -> Result<Segment> {
        let n = f.rows;
        let index = match f.index {
            Some(index) => index,
            None => {
                // Files before format version 4 carry no index: parse every row once.
                let mut parsed = Vec::with_capacity(n);
                for r in 0..n {
                    parsed.push(match f.metadata.get(r) {
                        None => None,
                        Some(json) => Some(RowMeta::parse(json.to_string(), f.ids[r]).map_err(|e| {
                            Error::Corruption(format!("segment file {}: metadata of row {r}: {e}", files.file))
                        })?),
                    });
                }
                FieldIndex::build(parsed.iter().map(|m| m.as_ref().map(|m| &m.flat)))
            }
        };
        let id_order = f.id_order.unwrap_or_else(|| IdOrder::compute(&f.ids));
        let deleted = deleted.unwrap_or_else(|| vec![0; n.div_ceil(64)]);
        let deleted_count = deleted.iter().map(|w| w.count_ones() as usize).sum();
        // Format version 1 files carry no codes: compute them once here.
        let quant = f.quant.or_else(|| f.graph.as_ref().map(|_| Sq8::encode(&f.vectors, f.dim)));
        Ok(Segment {
            resident_bytes: 0,
            dim: f.dim,
            vectors: Block::Mapped(f.vectors),
            ids: f.ids,
            id_order,
            files: Some(files),
            metadata: SegmentStrings::Mapped(f.metadata),
            names: f.names.map(SegmentStrings::Mapped),
            graph: f.graph,
            quant,
            index,
            deleted,
            deleted_count,
            filter_cache: Mutex::new(FilterCache::new(FILTER_CACHE_BYTES)),
            deferred: f.deferred.map(Arc::new),
        }
        .with_resident_bytes())
    }

    /// Start verifying the vectors whose checks were deferred, on a background thread.
    pub fn start_background_check(&self) {
        if let Some(d) = &self.deferred {
            DeferredCheck::sweep_in_background(d);
        }
    }

    /// The checks still owed on this segment's vectors, to run without holding the
    /// collection's lock (`None` once none are).
    pub fn pending_check(&self) -> Option<Arc<DeferredCheck>> {
        self.deferred.as_ref().filter(|d| !d.is_complete()).cloned()
    }

    /// Verify every stored vector not verified yet (`CORRUPTION` if one is damaged).
    pub fn check_vectors(&self) -> Result<()> {
        self.pending_check().map_or(Ok(()), |d| d.check_all())
    }

    /// Verify the stored vectors of `rows` (a no-op once everything is verified).
    fn check_rows(&self, rows: impl IntoIterator<Item = u32>) -> Result<()> {
        let Some(d) = self.deferred.as_deref().filter(|d| !d.is_complete()) else { return Ok(()) };
        let row_bytes = (self.dim * 4) as u64;
        for r in rows {
            d.check_bytes(r as u64 * row_bytes, (r as u64 + 1) * row_bytes)?;
        }
        Ok(())
    }

    /// The segment's contents, for writing it to a file (a freshly built segment: its
    /// vectors are in memory, not behind deferred checks).
    pub fn parts(&self, metric: Metric) -> SegmentParts<'_> {
        SegmentParts {
            dim: self.dim,
            metric,
            vectors: &self.vectors,
            ids: &self.ids,
            metadata: (0..self.len() as u32).map(|r| self.meta_str(r)).collect(),
            graph: self.graph.as_ref(),
            quant: self.quant.as_ref(),
            id_order: (&self.id_order.ids, &self.id_order.rows),
            index: &self.index,
            names: self.names.as_ref().map(|n| (0..self.len() as u32).map(|r| n.get(r).unwrap_or_default()).collect()),
        }
    }

    /// The deletion bitset (bit `r` set = row `r` deleted) and the number of deleted rows.
    pub fn deletions(&self) -> (&[u64], usize) {
        (&self.deleted, self.deleted_count)
    }

    /// Rows, deleted included.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the segment holds no rows at all.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Rows not deleted.
    pub fn live(&self) -> usize {
        self.ids.len() - self.deleted_count
    }

    /// Whether the segment has a graph (otherwise it is searched exactly).
    pub fn has_graph(&self) -> bool {
        self.graph.is_some()
    }

    /// Mark row `r` deleted.
    pub fn delete_row(&mut self, r: u32) {
        let r = r as usize;
        if !bit(&self.deleted, r) {
            self.deleted[r >> 6] |= 1 << (r & 63);
            self.deleted_count += 1;
        }
    }

    /// Whether row `r` is deleted.
    pub fn is_deleted(&self, r: u32) -> bool {
        bit(&self.deleted, r as usize)
    }

    /// External id of row `r`.
    pub fn id(&self, r: u32) -> u64 {
        self.ids[r as usize]
    }

    /// Vector of row `r` (`CORRUPTION` if its stored bytes are damaged).
    pub fn vector(&self, r: u32) -> Result<&[f32]> {
        self.check_rows([r])?;
        Ok(self.row_vector(r))
    }

    /// Vector of row `r`, whose bytes the caller has checked.
    fn row_vector(&self, r: u32) -> &[f32] {
        let s = r as usize * self.dim;
        &self.vectors[s..s + self.dim]
    }

    /// Metadata JSON of row `r`.
    pub fn meta_str(&self, r: u32) -> Option<&str> {
        self.metadata.get(r)
    }

    /// Metadata JSON of row `r`, as returned to callers.
    pub fn meta_json(&self, r: u32) -> Option<Arc<str>> {
        self.metadata.get_shared(r)
    }

    /// String id of row `r` (string-id collections).
    pub fn name(&self, r: u32) -> Option<Arc<str>> {
        self.names.as_ref().and_then(|n| n.get_shared(r))
    }

    /// Whether row `r`'s string id is `name` (no copy).
    pub fn name_is(&self, r: u32, name: &str) -> bool {
        self.names.as_ref().and_then(|n| n.get(r)) == Some(name)
    }

    /// Up to `limit` live rows with ids greater than `after`, in id order, as `(id, row)`.
    pub fn live_after(&self, after: Option<u64>, limit: usize) -> Vec<(u64, u32)> {
        let mut out = Vec::with_capacity(limit.min(self.live()));
        let mut i = self.id_order.first_after(after);
        while out.len() < limit && i < self.id_order.ids.len() {
            let (id, row) = (self.id_order.ids[i], self.id_order.rows[i]);
            if !self.is_deleted(row) && self.ids[row as usize] == id {
                out.push((id, row));
            }
            i += 1;
        }
        out
    }

    /// The live row holding `id`, if any (a binary search of the id order).
    pub fn find_live(&self, id: u64) -> Option<u32> {
        self.id_order.rows_of(id).iter().copied().find(|&r| !self.is_deleted(r) && self.ids[r as usize] == id)
    }

    /// Search this segment: the best `k` live rows (matching `filter`) as candidates whose
    /// `row` is the segment row. Returns `min(k, matching live rows)` results, or
    /// `CORRUPTION` if a stored vector it had to read is damaged.
    pub fn search(
        &self,
        metric: Metric,
        query: &[f32],
        k: usize,
        ef: usize,
        filter: Option<&Filter>,
    ) -> Result<Vec<Candidate>> {
        let live = self.live();
        if live == 0 {
            return Ok(Vec::new());
        }
        let allowed = filter.map(|f| self.filter_rows(f));
        let matching = match &allowed {
            None => live,
            Some(a) => {
                // Matching live rows: the filter's rows minus those deleted since.
                let mut dead_matches = 0u64;
                for (w, &word) in self.deleted.iter().enumerate() {
                    dead_matches += (word & a.bits[w]).count_ones() as u64;
                }
                (a.rows.len() - dead_matches) as usize
            }
        };
        if matching == 0 {
            return Ok(Vec::new());
        }
        let want = k.min(matching);
        if let Some(g) = &self.graph {
            let selective = (matching as f64) < EXACT_FILTER_SELECTIVITY * self.len() as f64;
            if !selective {
                let deleted = (self.deleted_count > 0).then_some(self.deleted.as_slice());
                let adm = Admission { deleted, allowed: allowed.as_ref().map(|a| a.bits.as_slice()) };
                let found = self.walk(g, metric, query, k, ef, adm, want)?;
                if found.len() >= want {
                    let mut hits: Vec<Candidate> = found
                        .into_iter()
                        .map(|(d, u)| Candidate { distance: d, id: self.ids[u as usize], row: u })
                        .collect();
                    hits.sort();
                    hits.truncate(k);
                    return Ok(hits);
                }
                // The beam could not reach enough admitted rows (a filter that isolates
                // part of the graph): fall through to the exact scan, which cannot miss.
            }
        }
        self.exact(metric, query, k, allowed.as_ref().map(|a| &a.rows))
    }

    /// Walk the graph for up to `ef` candidates, scoring 8-bit codes when the segment has
    /// them and then re-ranking the best few by the exact distance (quantization steers
    /// the walk, it never decides a reported distance); `want` is the least to re-rank.
    /// Only the re-ranked rows' vectors are read (and checked, when their checks were
    /// deferred); a walk over the vectors themselves checks them all first.
    #[allow(clippy::too_many_arguments)]
    fn walk(
        &self,
        g: &FrozenGraph,
        metric: Metric,
        query: &[f32],
        k: usize,
        ef: usize,
        adm: Admission<'_>,
        want: usize,
    ) -> Result<Vec<(f32, u32)>> {
        let kernels = kernels();
        let exact = ExactRows { vectors: &self.vectors, dim: self.dim, metric, kernels, query };
        let Some(codes) = self.quant.as_ref().filter(|_| quant::walk_enabled()) else {
            self.check_vectors()?;
            return Ok(search_graph_with(g, &exact, k, ef, adm));
        };
        let q = codes.query(metric, query);
        let mut found = search_graph_with(g, &QuantRows { codes, query: &q, kernels }, k, ef, adm);
        let keep = quant::rerank_count(k).max(want);
        if found.len() > keep {
            found.select_nth_unstable_by(keep - 1, |a, b| a.0.total_cmp(&b.0));
            // Rows tied with the last kept one stay too: equal distances are broken by id
            // later, and node numbers are not ids.
            let boundary = found[keep - 1].0;
            let mut end = keep;
            for i in keep..found.len() {
                if found[i].0 <= boundary {
                    found.swap(i, end);
                    end += 1;
                }
            }
            found.truncate(end);
        }
        self.check_rows(found.iter().map(|&(_, u)| u))?;
        for (d, u) in found.iter_mut() {
            *d = exact.distance(*u);
        }
        Ok(found)
    }

    /// The rows matching `f` (deleted rows included), from the cache when possible.
    fn filter_rows(&self, f: &Filter) -> Arc<FilterRows> {
        let hash = plan_hash(f);
        if let Some(hit) = self.filter_cache.lock().get(hash, f) {
            return hit;
        }
        let rows = self.index.evaluate(f);
        let computed = Arc::new(FilterRows { bits: to_bitset(&rows, self.len()), rows });
        let bytes = computed.bits.len() * 8 + computed.rows.serialized_size();
        self.filter_cache.lock().insert(hash, f, Arc::clone(&computed), bytes);
        computed
    }

    fn exact(
        &self,
        metric: Metric,
        query: &[f32],
        k: usize,
        allowed: Option<&RoaringBitmap>,
    ) -> Result<Vec<Candidate>> {
        match allowed {
            Some(rows) => self.check_rows(rows.iter())?,
            None => self.check_vectors()?,
        }
        let k_ = kernels();
        if allowed.is_none() && self.deleted_count == 0 {
            // The common case gets the tight memory-bound scan.
            let rows = RowSet { vectors: &self.vectors, ids: &self.ids, dim: self.dim };
            return Ok(exact::search_one(metric, k_, query, rows, k));
        }
        let mut top = TopK::new(k);
        let mut offer = |r: u32| {
            let d = metric.distance(k_, query, self.row_vector(r));
            if d <= top.threshold() {
                top.push(Candidate { distance: d, id: self.ids[r as usize], row: r });
            }
        };
        match allowed {
            Some(rows) => rows.iter().filter(|&r| !self.is_deleted(r)).for_each(&mut offer),
            None => (0..self.len() as u32).filter(|&r| !self.is_deleted(r)).for_each(&mut offer),
        }
        Ok(top.into_sorted())
    }

    /// Bytes held in memory (mapped arrays not counted: the page cache holds them).
    pub fn memory_bytes(&self) -> usize {
        self.resident_bytes + self.deleted.len() * 8
    }
}

fn to_bitset(b: &RoaringBitmap, n: usize) -> Vec<u64> {
    let mut bits = vec![0u64; n.div_ceil(64)];
    for r in b {
        bits[(r >> 6) as usize] |= 1 << (r & 63);
    }
    bits
}
