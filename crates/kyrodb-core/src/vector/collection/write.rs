//! The write path of a collection: checks that refuse a bad batch before anything is
//! touched, the backlog cap that paces writers to the indexing rate, the WAL frame and
//! apply of upserts and deletes (one [`Request`] each, committed by the storage's group
//! committer, or applied at once in memory), and the replay of those frames at open.

use super::*;

/// An upsert that passed its checks (and the backlog wait): ready to log and apply.
struct ValidUpsert {
    ids: Vec<u64>,
    names: Option<Vec<Arc<str>>>,
    vectors: Vec<f32>,
    metadata: Vec<Option<Arc<RowMeta>>>,
}

/// A collection write of [`crate::Database::write_group`].
#[derive(Debug)]
pub enum CollectionWrite {
    /// [`Collection::upsert`].
    Upsert {
        /// Ids.
        ids: Vec<u64>,
        /// Row-major vectors.
        vectors: Vec<f32>,
        /// Metadata JSON per row.
        metadata: Option<Vec<Option<String>>>,
    },
    /// [`Collection::upsert_named`].
    UpsertNamed {
        /// String ids.
        names: Vec<String>,
        /// Row-major vectors.
        vectors: Vec<f32>,
        /// Metadata JSON per row.
        metadata: Option<Vec<Option<String>>>,
    },
    /// [`Collection::delete`].
    Delete {
        /// Ids.
        ids: Vec<u64>,
    },
    /// [`Collection::delete_named`].
    DeleteNamed {
        /// String ids.
        names: Vec<String>,
    },
}

impl CollectionWrite {
    /// Whether its checks read the collection's rows (deletes look up which ids are live,
    /// string-id upserts look for a different string with the same key): such a write must
    /// be validated after the writes before it are applied.
    pub(crate) fn reads_state(&self) -> bool {
        !matches!(self, CollectionWrite::Upsert { .. })
    }
}

impl Collection {
    /// Cap the unindexed backlog of an indexed collection: an upsert that would take the
    /// hot tier (searched exactly by every search) past `rows` live rows waits until
    /// background builds bring it back under, so a search's cost stays bounded whatever
    /// the write rate. `0` removes the cap (bulk loads: write everything, then
    /// `build_index`). A batch larger than the cap is let in when the hot tier is empty.
    /// Default: `DEFAULT_UNINDEXED_FACTOR × auto_build_rows`. Exact-only collections
    /// have no cap (they never build graphs; their flushes are cheap).
    pub fn set_max_unindexed_rows(&self, rows: usize) {
        self.max_unindexed_rows.store(rows, Ordering::Relaxed);
        self.indexed.notify_all();
    }

    /// The backlog cap in force (0: none).
    pub fn max_unindexed_rows(&self) -> usize {
        if self.config.index.is_none() {
            return 0;
        }
        self.max_unindexed_rows.load(Ordering::Relaxed)
    }

    /// Wait, if `incoming` more rows would take the hot tier past the cap, until builds
    /// make room. Returns early with the error if the collection becomes unusable or a
    /// background build fails while waiting.
    /// `live`: the hot tier's live rows, as the caller just read them.
    fn wait_for_backlog(self: &Arc<Self>, incoming: usize, mut live: usize) -> Result<()> {
        let admitted = |live: usize, cap: usize| cap == 0 || live == 0 || live + incoming <= cap;
        if admitted(live, self.max_unindexed_rows()) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        let since = self.epoch_micros();
        self.counters.write_stalls.fetch_add(1, Ordering::Relaxed);
        self.counters.waiting_since_sum.fetch_add(since, Ordering::Relaxed);
        self.counters.waiting.fetch_add(1, Ordering::Relaxed);
        *self.last_build_error.lock() = None;
        let outcome = loop {
            if let Err(e) = self.check_usable() {
                break Err(e);
            }
            if let Some(msg) = self.last_build_error.lock().take() {
                break Err(Error::Io(format!(
                    "collection '{}': writes wait for indexing, and the background build failed: {msg}",
                    self.name
                )));
            }
            self.start_background_build();
            {
                let mut g = self.indexed_lock.lock();
                self.indexed.wait_for(&mut g, std::time::Duration::from_millis(20));
            }
            live = self.state.read().hot.live();
            if admitted(live, self.max_unindexed_rows()) {
                break Ok(());
            }
        };
        self.counters.stall_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        self.counters.waiting.fetch_sub(1, Ordering::Relaxed);
        self.counters.waiting_since_sum.fetch_sub(since, Ordering::Relaxed);
        outcome
    }

    /// `INVALID_ARGUMENT` unless the collection's ids are of type `want`.
    pub(super) fn expect_ids(&self, want: IdType) -> Result<()> {
        if self.config.id_type == want {
            return Ok(());
        }
        Err(Error::invalid(format!(
            "collection '{}' has {} ids; pass {}",
            self.name,
            self.config.id_type.name(),
            match self.config.id_type {
                IdType::U64 => "numbers or bigints",
                IdType::String => "strings",
            }
        )))
    }

    /// Insert or replace vectors of a string-id collection: [`Collection::upsert`] with
    /// string ids (1..=512 UTF-8 bytes). A string whose 64-bit key is held by a different
    /// live string is refused (see [`super::ids`]).
    pub fn upsert_named(
        self: &Arc<Self>,
        names: Vec<String>,
        vectors: Vec<f32>,
        metadata: Option<Vec<Option<String>>>,
    ) -> Result<usize> {
        let valid = self.validate_upsert_named(names, vectors, metadata)?;
        self.upsert_valid(valid)
    }

    /// The checks of [`Collection::upsert_named`].
    fn validate_upsert_named(
        self: &Arc<Self>,
        names: Vec<String>,
        vectors: Vec<f32>,
        metadata: Option<Vec<Option<String>>>,
    ) -> Result<ValidUpsert> {
        self.check_usable()?;
        self.expect_ids(IdType::String)?;
        if names.len() > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} vectors, got {}", names.len())));
        }
        let names: Vec<Arc<str>> =
            names.into_iter().enumerate().map(|(i, n)| check_string_id(n, i)).collect::<Result<_>>()?;
        let keys: Vec<u64> = names.iter().map(|n| string_key(n)).collect();
        let mut first: IdMap<usize> = IdMap::default();
        for (i, &key) in keys.iter().enumerate() {
            if let Some(&j) = first.get(&key) {
                return Err(if names[j] == names[i] {
                    Error::invalid(format!("id {:?} appears more than once in one batch", &*names[i]))
                } else {
                    collision(&names[i], &names[j])
                });
            }
            first.insert(key, i);
        }
        {
            let st = self.state.read();
            for (name, &key) in names.iter().zip(&keys) {
                if let Some(loc) = st.find(key) {
                    if !st.name_is(loc, name) {
                        return Err(collision(name, &st.name(loc).unwrap_or_else(|| Arc::from("?"))));
                    }
                }
            }
        }
        self.validate_rows(keys, Some(names), vectors, metadata)
    }

    /// Insert or replace vectors. `vectors` is row-major, `ids.len() * dimension` long;
    /// `metadata`, when given, has one entry per id (each a JSON object or `None`).
    /// The whole batch is validated before anything changes. Returns the batch size.
    pub fn upsert(
        self: &Arc<Self>,
        ids: &[u64],
        vectors: Vec<f32>,
        metadata: Option<Vec<Option<String>>>,
    ) -> Result<usize> {
        let valid = self.validate_upsert(ids.to_vec(), vectors, metadata)?;
        self.upsert_valid(valid)
    }

    /// The checks of [`Collection::upsert`].
    fn validate_upsert(
        self: &Arc<Self>,
        ids: Vec<u64>,
        vectors: Vec<f32>,
        metadata: Option<Vec<Option<String>>>,
    ) -> Result<ValidUpsert> {
        self.check_usable()?;
        self.expect_ids(IdType::U64)?;
        self.validate_rows(ids, None, vectors, metadata)
    }

    /// The checks of both id types (`ids` are row keys, `names` the string ids), then the
    /// wait for the unindexed backlog: what is left is to log and apply.
    fn validate_rows(
        self: &Arc<Self>,
        ids: Vec<u64>,
        names: Option<Vec<Arc<str>>>,
        mut vectors: Vec<f32>,
        metadata: Option<Vec<Option<String>>>,
    ) -> Result<ValidUpsert> {
        // How errors name row `i`: its string id, or its number.
        let label =
            |i: usize| -> String { names.as_ref().map_or_else(|| ids[i].to_string(), |n| format!("{:?}", &*n[i])) };
        let dim = self.config.dimension;
        let n = ids.len();
        if n > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} vectors, got {n}")));
        }
        if !vectors.len().is_multiple_of(dim) {
            return Err(Error::batch_length(dim, vectors.len()));
        }
        if vectors.len() / dim != n {
            return Err(Error::invalid(format!(
                "got {n} ids but {} vectors; pass exactly one vector per id",
                vectors.len() / dim
            )));
        }
        let mut seen = HashSet::with_capacity(n);
        for id in &ids {
            if !seen.insert(*id) {
                return Err(Error::invalid(format!("id {id} appears more than once in one batch")));
            }
        }
        let metadata: Vec<Option<Arc<RowMeta>>> = match metadata {
            None => vec![None; n],
            Some(m) => {
                if m.len() != n {
                    return Err(Error::invalid(format!("got {n} ids but {} metadata entries", m.len())));
                }
                m.into_iter()
                    .enumerate()
                    .map(|(i, json)| json.map(|s| RowMeta::parse(s, label(i)).map(Arc::new)).transpose())
                    .collect::<Result<_>>()?
            }
        };
        for (i, v) in vectors.chunks_exact_mut(dim).enumerate() {
            self.config.metric.prepare(v, &|| format!("vector {i} (id {})", label(i)))?;
        }

        let (hot_rows, hot_live) = {
            let st = self.state.read();
            (st.hot.len(), st.hot.live())
        };
        if hot_rows + n > u32::MAX as usize {
            return Err(Error::invalid("the hot tier holds at most 2^32 − 1 rows; call buildIndex()"));
        }
        self.wait_for_backlog(n, hot_live)?;
        Ok(ValidUpsert { ids, names, vectors, metadata })
    }

    /// Log (when durable) and apply a validated upsert.
    fn upsert_valid(self: &Arc<Self>, valid: ValidUpsert) -> Result<usize> {
        let n = valid.ids.len();
        match self.storage() {
            None => {
                let ValidUpsert { ids, names, vectors, metadata } = valid;
                self.apply_upsert(&ids, names, &vectors, metadata, 0);
            }
            Some(storage) => {
                let r = self.upsert_request(valid, None);
                storage.committer.commit(r.kind, r.payload, r.apply)?;
            }
        }
        self.after_write();
        Ok(n)
    }

    /// A validated upsert as a WAL frame and the apply that follows it.
    fn upsert_request(self: &Arc<Self>, valid: ValidUpsert, tag: Option<u64>) -> Request {
        let ValidUpsert { ids, names, vectors, metadata } = valid;
        let n = ids.len();
        let metas: Vec<Option<&str>> = metadata.iter().map(|m| m.as_ref().map(|m| &*m.json)).collect();
        let payload = records::encode_upsert(self.id, self.config.dimension, &ids, &vectors, &metas, names.as_deref());
        drop(metas);
        let me = Arc::clone(self);
        Request {
            kind: FrameKind::Upsert,
            payload,
            tag,
            apply: Box::new(move |seq| {
                me.apply_upsert(&ids, names, &vectors, metadata, seq);
                n
            }),
        }
    }

    /// After a write: start the background build a full hot tier calls for.
    pub(crate) fn after_write(self: &Arc<Self>) {
        let hot_live = self.state.read().hot.live();
        self.maybe_build_in_background(hot_live);
    }

    /// Validate a write of [`crate::Database::write_group`] against the state now and
    /// return its frame (`None`: a delete of ids none of which is live needs none).
    /// Durable collections only.
    pub(crate) fn prepare(self: &Arc<Self>, write: CollectionWrite, tag: Option<u64>) -> Result<Option<Request>> {
        match write {
            CollectionWrite::Upsert { ids, vectors, metadata } => {
                let valid = self.validate_upsert(ids, vectors, metadata)?;
                Ok(Some(self.upsert_request(valid, tag)))
            }
            CollectionWrite::UpsertNamed { names, vectors, metadata } => {
                let valid = self.validate_upsert_named(names, vectors, metadata)?;
                Ok(Some(self.upsert_request(valid, tag)))
            }
            CollectionWrite::Delete { ids } => {
                let present = self.present_ids(&ids)?;
                Ok(self.delete_request(present, tag))
            }
            CollectionWrite::DeleteNamed { names } => {
                let present = self.present_names(&names)?;
                Ok(self.delete_request(present, tag))
            }
        }
    }

    /// Apply a validated upsert (logged as frame `seq` when durable).
    fn apply_upsert(
        &self,
        ids: &[u64],
        names: Option<Vec<Arc<str>>>,
        vectors: &[f32],
        metadata: Vec<Option<Arc<RowMeta>>>,
        seq: u64,
    ) {
        let dim = self.config.dimension;
        let mut st = self.state.write();
        st.hot.reserve(ids.len());
        let mut names = names.map(Vec::into_iter);
        for ((&id, v), meta) in ids.iter().zip(vectors.chunks_exact(dim)).zip(metadata) {
            // One hash operation for an id already hot: the new row goes in first, the row
            // it replaces (never the same one) is killed after.
            let r = st.hot.push(id, names.as_mut().and_then(Iterator::next), v, meta);
            let abs = st.hot_base + r as u64;
            match st.hot_ids.insert(id, abs) {
                Some(old) => {
                    let old = st.hot_row(old);
                    st.hot.kill(old);
                    st.note_killed(id);
                }
                None => match st.find_in_segments(id) {
                    Some((s, row)) => {
                        st.segments[s].delete_row(row);
                        st.note_killed(id);
                    }
                    None => st.live += 1,
                },
            }
        }
        self.note_applied(&mut st, seq);
    }

    /// Apply a delete; returns how many ids were live.
    fn apply_delete(&self, ids: &[u64], seq: u64) -> usize {
        let mut st = self.state.write();
        let mut removed = 0;
        for &id in ids {
            if st.kill_id(id) {
                removed += 1;
            }
        }
        st.live -= removed;
        self.note_applied(&mut st, seq);
        removed
    }

    fn note_applied(&self, st: &mut State, seq: u64) {
        if let Some(storage) = self.storage() {
            if st.applied_seq <= st.flushed_seq {
                // First write since the last checkpoint: the WAL must keep it.
                storage.set_floor(self.id, Some(st.flushed_seq + 1));
            }
        }
        st.applied_seq = st.applied_seq.max(seq);
    }

    /// Re-apply a WAL frame at open (frames at or below the flushed sequence are skipped
    /// by the caller).
    pub(crate) fn replay(&self, kind: FrameKind, payload: &[u8], seq: u64) -> Result<()> {
        let bad = |e: crate::storage::codec::ReadError| {
            Error::Corruption(format!("WAL frame {seq}: {} at payload offset {}", e.what, e.offset))
        };
        match kind {
            FrameKind::Upsert => {
                thread_local! {
                    // One decode buffer per replaying thread, reused frame after frame.
                    static VECTORS: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
                }
                let mut rec = records::decode_upsert_reusing(payload, VECTORS.with(|b| b.take())).map_err(bad)?;
                if rec.dim != self.config.dimension {
                    return Err(Error::Corruption(format!(
                        "WAL frame {seq}: dimension {} for collection '{}' of dimension {}",
                        rec.dim, self.name, self.config.dimension
                    )));
                }
                let names: Option<Vec<Arc<str>>> = rec.names.take().map(|v| v.into_iter().map(Arc::from).collect());
                if names.is_some() != (self.config.id_type == IdType::String) {
                    return Err(Error::Corruption(format!(
                        "WAL frame {seq}: an upsert {} string ids for collection '{}' of {} ids",
                        if names.is_some() { "with" } else { "without" },
                        self.name,
                        self.config.id_type.name()
                    )));
                }
                if let Some(i) = names.as_ref().and_then(|n| (0..n.len()).find(|&i| string_key(&n[i]) != rec.ids[i])) {
                    return Err(Error::Corruption(format!("WAL frame {seq}: row {i}'s key is not its string id's")));
                }
                let metadata = rec
                    .metadata
                    .into_iter()
                    .zip(&rec.ids)
                    .map(|(m, &id)| m.map(|json| RowMeta::parse(json, id).map(Arc::new)).transpose())
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| Error::Corruption(format!("WAL frame {seq}: {e}")))?;
                self.apply_upsert(&rec.ids, names, &rec.vectors, metadata, seq);
                // Keep a frame-sized buffer for the next frame; give back a huge one.
                if rec.vectors.capacity() <= 16 << 20 {
                    VECTORS.with(|b| b.replace(std::mem::take(&mut rec.vectors)));
                }
            }
            FrameKind::Delete => {
                let rec = records::decode_delete(payload).map_err(bad)?;
                self.apply_delete(&rec.ids, seq);
            }
            FrameKind::KvBatch | FrameKind::Tag => {
                return Err(Error::Corruption(format!(
                    "WAL frame {seq}: a key-value batch or tag frame for collection '{}'",
                    self.name
                )))
            }
        }
        Ok(())
    }

    /// Remove vectors by id; ids that are absent are ignored. Returns how many were removed.
    pub fn delete(self: &Arc<Self>, ids: &[u64]) -> Result<usize> {
        let present = self.present_ids(ids)?;
        self.delete_keys(present)
    }

    /// The checks of [`Collection::delete`], and the ids of `ids` live now.
    fn present_ids(&self, ids: &[u64]) -> Result<Vec<u64>> {
        self.check_usable()?;
        self.expect_ids(IdType::U64)?;
        if ids.len() > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} ids, got {}", ids.len())));
        }
        // Every acknowledged write is already applied, so ids absent now need no log entry.
        let st = self.state.read();
        Ok(ids.iter().copied().filter(|&id| st.find(id).is_some()).collect())
    }

    /// [`Collection::delete`] for a string-id collection.
    pub fn delete_named(self: &Arc<Self>, names: &[String]) -> Result<usize> {
        let present = self.present_names(names)?;
        self.delete_keys(present)
    }

    /// The checks of [`Collection::delete_named`], and the keys of the names live now.
    fn present_names(&self, names: &[String]) -> Result<Vec<u64>> {
        self.check_usable()?;
        self.expect_ids(IdType::String)?;
        if names.len() > MAX_BATCH {
            return Err(Error::invalid(format!("a batch holds at most {MAX_BATCH} ids, got {}", names.len())));
        }
        let mut present: Vec<u64> = {
            let st = self.state.read();
            names
                .iter()
                .map(|n| string_key(n))
                .zip(names)
                .filter(|(k, n)| st.find_name(*k, n).is_some())
                .map(|(k, _)| k)
                .collect()
        };
        present.sort_unstable();
        present.dedup();
        Ok(present)
    }

    /// Delete the rows of `present` (keys found live just before).
    fn delete_keys(self: &Arc<Self>, present: Vec<u64>) -> Result<usize> {
        let Some(storage) = self.storage() else { return Ok(self.apply_delete(&present, 0)) };
        match self.delete_request(present, None) {
            None => Ok(0),
            Some(r) => storage.committer.commit(r.kind, r.payload, r.apply),
        }
    }

    /// The frame and apply of a delete of `present` (`None` when empty: nothing to log).
    fn delete_request(self: &Arc<Self>, present: Vec<u64>, tag: Option<u64>) -> Option<Request> {
        if present.is_empty() {
            return None;
        }
        let payload = records::encode_delete(self.id, &present);
        let me = Arc::clone(self);
        Some(Request {
            kind: FrameKind::Delete,
            payload,
            tag,
            apply: Box::new(move |seq| me.apply_delete(&present, seq)),
        })
    }
}
