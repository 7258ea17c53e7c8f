//! The search path through the database's query cache (`crate::cache::query`): lookup,
//! lazy revalidation of a cached answer against the writes since, and filling the cache.

use super::*;

impl Collection {
    /// Use `cache` for this collection's searches.
    pub(crate) fn attach_query_cache(&self, cache: Arc<QueryCache>) {
        let _ = self.query_cache.set(cache);
    }

    /// The `k` nearest live vectors to `query` (matching the filter), best first, ties by
    /// smaller id, on the calling thread. With `params.cache`, a repeated search is
    /// answered from the query cache when its answer provably still holds.
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
        let st = self.state.read();
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
        if let Some(hits) = cache.lookup(&key, now, cache_only, |e| self.still_answers(&st, e, &query)) {
            return Ok(Some((*hits).clone()));
        }
        if cache_only {
            return Ok(None);
        }
        let hot = st.hot.search(self.config.metric, &query, params.k, params.filter.as_ref());
        let hits = Arc::new(self.merge(&st, &query, hot, params, ef)?);
        cache.insert(key, Arc::clone(&hits), now);
        Ok(Some(Arc::unwrap_or_clone(hits)))
    }

    /// Whether cached answer `e` (of prepared query `query`) still answers its search in
    /// state `st`: nothing that happened since its marks could change it. A change of
    /// layout, or more history than is kept, says no without looking.
    fn still_answers(&self, st: &State, e: &Entry, query: &[f32]) -> bool {
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
        // A new row could enter the answer: live, matching the filter, and no farther than
        // the k-th hit (ties go by id, so an equal distance may enter too).
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
}
