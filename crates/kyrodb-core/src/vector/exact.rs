//! Exact (brute-force) top-k scans over contiguous row storage.
//!
//! A single query streams every row once: the scan is memory-bound, so the loop does
//! nothing but one kernel call and one compare per row. A batch of queries is tiled:
//! a block of rows small enough to stay in L2 is compared against a group of queries
//! before moving on, so memory traffic is paid once per group instead of once per query,
//! and the groups are spread over every core with rayon.

use super::metric::Metric;
use super::topk::{Candidate, TopK};
use crate::simd::Kernels;
use rayon::prelude::*;

/// Rows `rows[i*dim..(i+1)*dim]` with external ids `ids[i]`.
#[derive(Copy, Clone, Debug)]
pub struct RowSet<'a> {
    /// Vector components, row-major.
    pub vectors: &'a [f32],
    /// External id of each row.
    pub ids: &'a [u64],
    /// Components per row.
    pub dim: usize,
}

impl RowSet<'_> {
    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Scan rows `[start, end)` for one query, offering each row to `top`.
#[inline]
fn scan_range(
    metric: Metric,
    kernels: &Kernels,
    query: &[f32],
    rows: RowSet<'_>,
    start: usize,
    end: usize,
    top: &mut TopK,
) {
    let dim = rows.dim;
    for r in start..end {
        let v = &rows.vectors[r * dim..(r + 1) * dim];
        let distance = metric.distance(kernels, query, v);
        // `<=`: a row tying the k-th distance may still win on its smaller id.
        if distance <= top.threshold() {
            top.push(Candidate { distance, id: rows.ids[r], row: r as u32 });
        }
    }
}

/// Exact top-`k` of one prepared query over all rows, on the calling thread.
pub fn search_one(metric: Metric, kernels: &Kernels, query: &[f32], rows: RowSet<'_>, k: usize) -> Vec<Candidate> {
    let mut top = TopK::new(k);
    scan_range(metric, kernels, query, rows, 0, rows.len(), &mut top);
    top.into_sorted()
}

/// Bytes of row data compared against a whole query group before moving on; sized to
/// sit comfortably in a 512 KiB–1 MiB L2 cache next to the queries.
const ROW_BLOCK_BYTES: usize = 256 * 1024;
/// Queries that share one pass over a row block.
const QUERY_GROUP: usize = 32;
/// Below this many rows per thread, splitting a small batch by rows is not worth it.
const MIN_ROWS_PER_TASK: usize = 4096;

/// Exact top-`k` of many prepared queries (`queries` holds `n = queries.len() / dim`
/// of them, row-major), using every rayon worker thread.
pub fn search_batch(
    metric: Metric,
    kernels: &Kernels,
    queries: &[f32],
    rows: RowSet<'_>,
    k: usize,
) -> Vec<Vec<Candidate>> {
    let dim = rows.dim;
    let nq = queries.len() / dim;
    let threads = rayon::current_num_threads().max(1);
    let block_rows = (ROW_BLOCK_BYTES / (dim * 4)).max(1);

    if nq >= 2 * threads || rows.len() < 2 * MIN_ROWS_PER_TASK {
        // Enough queries to keep every core busy: each task takes a query group and
        // walks all rows block by block.
        let group = (nq / threads).clamp(1, QUERY_GROUP);
        queries
            .par_chunks(group * dim)
            .flat_map_iter(|group_queries| {
                let g = group_queries.len() / dim;
                let mut tops: Vec<TopK> = (0..g).map(|_| TopK::new(k)).collect();
                let mut start = 0;
                while start < rows.len() {
                    let end = (start + block_rows).min(rows.len());
                    for (q, top) in group_queries.chunks_exact(dim).zip(tops.iter_mut()) {
                        scan_range(metric, kernels, q, rows, start, end, top);
                    }
                    start = end;
                }
                tops.into_iter().map(TopK::into_sorted)
            })
            .collect()
    } else {
        // Few queries over many rows: split the rows, then merge the partial selections.
        let chunk = rows.len().div_ceil(threads).max(MIN_ROWS_PER_TASK);
        let ranges: Vec<(usize, usize)> =
            (0..rows.len()).step_by(chunk).map(|s| (s, (s + chunk).min(rows.len()))).collect();
        let partials: Vec<Vec<TopK>> = ranges
            .into_par_iter()
            .map(|(s, e)| {
                queries
                    .chunks_exact(dim)
                    .map(|q| {
                        let mut top = TopK::new(k);
                        scan_range(metric, kernels, q, rows, s, e, &mut top);
                        top
                    })
                    .collect()
            })
            .collect();
        let mut merged: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
        for part in partials {
            for (m, p) in merged.iter_mut().zip(part) {
                m.merge(p);
            }
        }
        merged.into_iter().map(TopK::into_sorted).collect()
    }
}
