//! Paging through every live row of a collection in key order (export, dashboards).

use super::*;

/// One page of [`Collection::scan`]: rows in key order (the id for `u64` collections,
/// the string's hash for string ids), each with its vector and metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanPage {
    /// Row keys.
    pub ids: Vec<u64>,
    /// String ids (string-id collections).
    pub names: Vec<Arc<str>>,
    /// Vectors, row-major.
    pub vectors: Vec<f32>,
    /// Metadata JSON per row.
    pub metadata: Vec<Option<Arc<str>>>,
    /// The key to pass as `after` for the next page; `None` when this was the last.
    pub next: Option<u64>,
}

impl Collection {
    /// Every live row, a page at a time, in key order: up to `limit` rows with keys greater
    /// than `after` (`None`: from the start). A page costs one read-lock hold of about
    /// `limit` rows per segment plus one pass over the hot tier's ids (bounded by the
    /// backlog cap); writes between pages are seen or not, as for any reader, but no row
    /// is returned twice and a row live throughout is returned once.
    pub fn scan(&self, after: Option<u64>, limit: usize) -> Result<ScanPage> {
        self.check_usable()?;
        if limit == 0 || limit > MAX_BATCH {
            return Err(Error::invalid(format!("a scan page holds 1..={MAX_BATCH} rows, got {limit}")));
        }
        let st = self.state.read();
        let mut found: Vec<(u64, Loc)> = st
            .hot_ids
            .iter()
            .filter(|(&id, _)| after.is_none_or(|a| id > a))
            .map(|(&id, &abs)| (id, Loc::Hot(abs)))
            .collect();
        for (s, seg) in st.segments.iter().enumerate() {
            found.extend(
                seg.live_after(after, limit + 1).into_iter().map(|(id, row)| (id, Loc::Seg(st.seg_uids[s], row))),
            );
        }
        found.sort_unstable_by_key(|f| f.0);
        let more = found.len() > limit;
        found.truncate(limit);
        let mut page = ScanPage {
            ids: Vec::with_capacity(found.len()),
            vectors: Vec::with_capacity(found.len() * self.config.dimension),
            metadata: Vec::with_capacity(found.len()),
            ..ScanPage::default()
        };
        let named = self.config.id_type == IdType::String;
        for &(id, loc) in &found {
            page.ids.push(id);
            page.vectors.extend_from_slice(st.vector(loc)?);
            page.metadata.push(st.meta(loc));
            if named {
                page.names.push(st.name(loc).unwrap_or_else(|| Arc::from("")));
            }
        }
        page.next = if more { found.last().map(|f| f.0) } else { None };
        Ok(page)
    }
}
