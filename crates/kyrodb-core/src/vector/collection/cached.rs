//! The search path through the database's query cache (`crate::cache::query`): lookup,
//! lazy revalidation of a cached answer against the writes since, near-repeat answers
//! (`crate::cache::near`), and filling the cache.

use super::*;
use crate::cache::near;

impl Collection {
    /// Use `cache` for this collection's searches.
    pub(crate) fn attach_query_cache(&self, cache: Arc<QueryCache>) {
        let _ = self.query_cache.set(cache);
    }

    /// The `k` nearest live vectors to `query` (matching the filter), best first, ties by
    /// smaller id, on the calling thread. With `params.cache`, a repeated search is
    /// answered from the query cache when its answer provably still holds, and, when the
    /// database allows near repeats, so is a search close to a cached one whose answer the
    /// cached candidates provably contain.
    pub fn search(&self, query: &[f32], params: &SearchParams) -> Result<SearchHits> {
        self.search_inner(query, params, false).map(|h| h.expect("a search that may compute always answers"))
    }

    /// The query cache's answer to this search if it has one that still holds, else
    /// `None` without searching: lets a caller on a latency-sensitive thread (the
    /// JavaScript event loop) answer repeats inline and hand only misses to a worker.
    pub fn search_cached(&self, query: &[f32], params: &SearchParams) -> Result<Option<SearchHits>> {
        if !params.cache || !self.query_cache.get().is_some_and(|c| c.enabled()) {
            return Ok(None);
        }
        self.search_inner(query, params, true)
    }

    fn search_inner(&self, query: &[f32], params: &SearchParams, cache_only: bool) -> Result<Option<SearchHits>> {
        self.check_usable()?;
        let ef = params.validate()?;
        if query.len() != self.config.dimension {
            return Err(Error::dimension(self.config.dimension, query.len()));
        }
        let query = self.prepare_queries(query)?;
        // A probe from a latency-sensitive thread does not wait behind a writer queued for
        // the lock (or a long search holding it): it reports a miss, and the caller's full
        // search waits instead, off that thread.
        let st = if cache_only {
            match self.state.try_read() {
                Some(st) => st,
                None => return Ok(None),
            }
        } else {
            self.state.read()
        };
        let cache = self.query_cache.get().filter(|c| params.cache && c.enabled());
        let Some(cache) = cache else {
            let hot = st.hot.search(self.config.metric, &query, params.k, params.filter.as_ref());
            return self.merge(&st, &query, hot, params, ef).map(Some);
        };
        // Under the same read lock as the search itself: the answer and the marks it is
        // stored with describe one state, and every write acknowledged before this call
        // is in it.
        let key = QueryKey {
            collection: self.cache_id,
            query: query.iter().map(|x| x.to_bits()).collect(),
            k: params.k,
            ef,
            filter: params.filter.clone(),
            with_metadata: params.with_metadata,
            with_vectors: params.with_vectors,
        };
        let now = st.marks();
        // Near repeats: the largest query shift allowed (`None`: off, or a metric without
        // a triangle inequality).
        let near =
            cache.near_distance().map(|max| near::max_query_distance(self.config.metric, max)).filter(|&d| d > 0.0);
        let count_miss = !cache_only && near.is_none();
        if let Some(hits) = cache.lookup_counting(&key, now, cache_only, count_miss, |e| self.still_answers(&st, e)) {
            return Ok(Some(truncated(&hits, params.k)));
        }
        // Not an exact repeat: this query's buckets in the index of cached queries.
        let planes = near.and_then(|_| cache.planes(self.config.dimension));
        if near.is_some() && planes.is_none() && !cache_only {
            cache.count_miss(); // No near lookup will count it.
        }
        let near = near.filter(|_| planes.is_some());
        let buckets = planes.map(|p| {
            let sigs = p.signatures(crate::simd::kernels(), &query);
            near::bucket_keys(key.group_hash(), &sigs)
        });
        if let (Some(max), Some(buckets)) = (near, &buckets) {
            let found = cache.lookup_near(
                &key,
                buckets,
                max,
                now,
                cache_only,
                |e| self.still_answers(&st, e),
                |e, delta| self.near_answer(&st, e, &query, params.k, delta),
            );
            if found.is_some() {
                return Ok(found);
            }
        }
        if cache_only {
            return Ok(None);
        }
        // With near repeats on, keep up to 2k candidates (never more than the beam; graph
        // segments then re-rank more code candidates, so the top k can be better than a k
        // search's, never worse): their radius is what proves near answers.
        let kept = if near.is_some() { (2 * params.k).min(ef).min(MAX_K).max(params.k) } else { params.k };
        let wide = SearchParams { k: kept, ..params.clone() };
        let hot = st.hot.search(self.config.metric, &query, kept, params.filter.as_ref());
        // Near entries keep where their candidates are: valid while the layout is
        // unchanged (a swap invalidates them), so a near answer reads them directly.
        let mut locs = buckets.map(|_| Vec::with_capacity(kept));
        let hits = Arc::new(self.merge_located(&st, &query, hot, &wide, ef, locs.as_mut())?);
        cache.insert_kept(key, Arc::clone(&hits), kept, buckets.map(|b| (b, locs.unwrap_or_default())), now);
        Ok(Some(if kept == params.k { Arc::unwrap_or_clone(hits) } else { truncated(&hits, params.k) }))
    }

    /// Whether cached answer `e` still answers its search in state `st`: nothing that
    /// happened since its marks could change it. A change of layout, or more history than
    /// is kept, says no without looking.
    fn still_answers(&self, st: &State, e: &Entry) -> bool {
        let then = e.marks;
        let now = st.marks();
        if then.layout != now.layout || now.killed - then.killed > st.killed_log.len() as u64 {
            return false;
        }
        if then.hot_end < st.hot_base || now.hot_end - then.hot_end > REVALIDATE_MAX_ROWS {
            return false;
        }
        // A row among the answer died (deleted, or replaced by a newer version).
        let killed = (now.killed - then.killed) as usize;
        if st.killed_log.iter().rev().take(killed).any(|&id| e.holds(id)) {
            return false;
        }
        if then.hot_end == now.hot_end {
            return true;
        }
        // A new row could enter the answer: live, matching the filter, and no farther than
        // the radius (ties go by id, so an equal distance may enter too).
        let query: &[f32] = bytemuck::cast_slice(&e.key.query);
        let kernels = crate::simd::kernels();
        for abs in then.hot_end..now.hot_end {
            let r = st.hot_row(abs);
            if e.holds(st.hot.id(r)) {
                return false;
            }
            if st.hot.is_dead(r) {
                continue;
            }
            if let Some(f) = &e.key.filter {
                if !f.matches(st.hot.meta(r).map(|m| &m.flat)) {
                    continue;
                }
            }
            if self.config.metric.distance(kernels, query, st.hot.vector(r)) <= e.radius {
                return false;
            }
        }
        true
    }

    /// The answer to prepared `query` (`delta` from the query of valid entry `e`, in
    /// Euclidean distance) from `e`'s candidates re-ranked exactly, if the triangle
    /// inequality proves no other row could be in it (`crate::cache::near`).
    fn near_answer(&self, st: &State, e: &Entry, query: &[f32], k: usize, delta: f64) -> Option<SearchHits> {
        let kernels = crate::simd::kernels();
        let metric = self.config.metric;
        let mut ranked: Vec<(Candidate, usize)> = Vec::with_capacity(e.hits.ids.len());
        // Valid entry: every candidate is live, where it was when cached.
        let locs = e.locs()?;
        for (i, (&id, &loc)) in e.hits.ids.iter().zip(locs).enumerate() {
            let distance = metric.distance(kernels, query, st.vector(Loc::decode(loc)).ok()?);
            ranked.push((Candidate { distance, id, row: 0 }, i));
        }
        ranked.sort_by_key(|r| r.0);
        ranked.truncate(k);
        if ranked.len() < k && !e.complete {
            return None;
        }
        let dk = ranked.last().map_or(0.0, |r| r.0.distance);
        if !near::proves(metric, self.config.dimension, e.complete, e.radius, dk, delta) {
            return None;
        }
        let h = &e.hits;
        Some(SearchHits {
            ids: ranked.iter().map(|r| r.0.id).collect(),
            distances: ranked.iter().map(|r| r.0.distance).collect(),
            metadata: if h.metadata.is_empty() {
                Vec::new()
            } else {
                ranked.iter().map(|r| h.metadata[r.1].clone()).collect()
            },
            vectors: if h.vectors.is_empty() {
                Vec::new()
            } else {
                ranked.iter().map(|r| h.vectors[r.1].clone()).collect()
            },
            names: if h.names.is_empty() {
                Vec::new()
            } else {
                ranked.iter().map(|r| Arc::clone(&h.names[r.1])).collect()
            },
        })
    }
}

/// The first `k` hits of `h`.
fn truncated(h: &SearchHits, k: usize) -> SearchHits {
    let n = h.ids.len().min(k);
    SearchHits {
        ids: h.ids[..n].to_vec(),
        distances: h.distances[..n].to_vec(),
        metadata: h.metadata.iter().take(n).cloned().collect(),
        vectors: h.vectors.iter().take(n).cloned().collect(),
        names: h.names.iter().take(n).cloned().collect(),
    }
}
