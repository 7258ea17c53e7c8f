//! The memtable: the key-value store's newest writes, in key order, in memory. Bounded by
//! bytes and by appends; when full it is frozen and written out as a sorted run.
//!
//! Two layouts. Writes applied one at a time go into a `BTreeMap` of boxed values. The
//! writes replayed at open are loaded in bulk ([`Memtable::from_log`]): one array of records
//! whose values stay where the log holds them (in the mapped WAL files), so recovery copies
//! and allocates nothing per value and sorts once
//! (`docs/decisions/0019-kv-recovery-bulk-memtable.md` has the figures). A sorted memtable
//! becomes a map at its first single write; a full one is written out as a run first (the
//! open schedules that flush), so the conversion only ever copies a bounded memtable.

use super::value::{Entry, ValueKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bytes counted per entry on top of the value (key, kind, map node share).
const ENTRY_OVERHEAD: usize = 48;

/// Bytes that replayed values lie in: a mapped WAL file (any byte buffer in tests).
pub type Chunk = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Bits of a value location that hold the byte offset in its chunk; the chunk's index is
/// above them.
const OFFSET_BITS: u32 = 40;

/// One replayed write: `kind` under `key`, its value `len` bytes at `loc` (the chunk's
/// index `<< 40 |` the byte offset in the chunk). Every write's value slice, even an empty
/// one, lies inside its WAL frame after the write's own header, so locations strictly grow
/// with log position and `(key, loc)` orders the writes of a key as the log did.
#[derive(Copy, Clone, Debug)]
struct LogEntry {
    key: u64,
    loc: u64,
    len: u32,
    kind: ValueKind,
}

impl LogEntry {
    #[inline]
    fn value<'c>(&self, chunks: &'c [Chunk]) -> &'c [u8] {
        let bytes: &[u8] = AsRef::<[u8]>::as_ref(&*chunks[(self.loc >> OFFSET_BITS) as usize]);
        let start = (self.loc & ((1 << OFFSET_BITS) - 1)) as usize;
        &bytes[start..start + self.len as usize]
    }
}

/// Writes replayed from the WAL, in log order; values stay in the chunks they lie in.
#[derive(Default)]
pub struct ReplayLog {
    entries: Vec<LogEntry>,
    /// The chunks values lie in, each held once.
    chunks: Vec<Chunk>,
}

impl ReplayLog {
    /// Append one write whose value is `value`, a slice of `chunk`'s bytes (the chunk is
    /// kept, not copied). Fails, appending nothing, when `value` does not lie in `chunk`.
    pub fn push(&mut self, key: u64, kind: ValueKind, chunk: &Chunk, value: &[u8]) -> Result<(), &'static str> {
        let bytes: &[u8] = AsRef::<[u8]>::as_ref(&**chunk);
        let offset = (value.as_ptr() as usize).wrapping_sub(bytes.as_ptr() as usize);
        if offset > bytes.len() || value.len() > bytes.len() - offset || offset >= 1 << OFFSET_BITS {
            return Err("a replayed value outside its WAL file");
        }
        let len = u32::try_from(value.len()).map_err(|_| "a replayed value over 4 GiB")?;
        if !self.chunks.last().is_some_and(|c| Arc::ptr_eq(c, chunk)) {
            if self.chunks.len() >= 1 << (64 - OFFSET_BITS) {
                return Err("more WAL files than a replay can hold");
            }
            self.chunks.push(Arc::clone(chunk));
        }
        let loc = ((self.chunks.len() as u64 - 1) << OFFSET_BITS) | offset as u64;
        self.entries.push(LogEntry { key, loc, len, kind });
        Ok(())
    }

    /// Writes held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drop every write after the first `n` (and the chunks only they used).
    pub fn truncate(&mut self, n: usize) {
        self.entries.truncate(n);
        self.chunks.truncate(self.entries.last().map_or(0, |e| (e.loc >> OFFSET_BITS) as usize + 1));
    }
}

/// A bulk-loaded memtable: entries with strictly ascending keys, values in `chunks`.
#[derive(Default)]
pub struct Sorted {
    entries: Vec<LogEntry>,
    chunks: Vec<Chunk>,
}

impl Sorted {
    #[inline]
    fn entry(&self, i: usize) -> (u64, ValueKind, &[u8]) {
        let e = &self.entries[i];
        (e.key, e.kind, e.value(&self.chunks))
    }
}

enum Layout {
    Map(BTreeMap<u64, Entry>),
    Sorted(Sorted),
}

impl Default for Layout {
    fn default() -> Self {
        Layout::Map(BTreeMap::new())
    }
}

/// Writes not yet in a run. Deletes are kept as tombstones (they hide older runs).
#[derive(Default)]
pub struct Memtable {
    layout: Layout,
    bytes: usize,
    appends: u64,
}

/// Entries of a memtable in a key range, as `(key, kind, value)`, either direction.
pub enum MemRange<'a> {
    /// Over the map layout.
    Map(std::collections::btree_map::Range<'a, u64, Entry>),
    /// Over the sorted layout: positions `front..back`.
    Sorted {
        /// The sorted records.
        sorted: &'a Sorted,
        /// Next position from the front.
        front: usize,
        /// One past the next position from the back.
        back: usize,
    },
}

impl<'a> Iterator for MemRange<'a> {
    type Item = (u64, ValueKind, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            MemRange::Map(it) => it.next().map(|(&k, e)| (k, e.kind, &e.value[..])),
            MemRange::Sorted { sorted, front, back } => (*front < *back).then(|| {
                *front += 1;
                sorted.entry(*front - 1)
            }),
        }
    }
}

impl DoubleEndedIterator for MemRange<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        match self {
            MemRange::Map(it) => it.next_back().map(|(&k, e)| (k, e.kind, &e.value[..])),
            MemRange::Sorted { sorted, front, back } => (*front < *back).then(|| {
                *back -= 1;
                sorted.entry(*back)
            }),
        }
    }
}

impl Memtable {
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries (tombstones included).
    pub fn len(&self) -> usize {
        match &self.layout {
            Layout::Map(m) => m.len(),
            Layout::Sorted(s) => s.entries.len(),
        }
    }

    /// Approximate memory held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Writes applied since it was created.
    pub fn appends(&self) -> u64 {
        self.appends
    }

    /// The memtable the replayed writes `log` leave: the last write of each key, kept when
    /// `keep(key, kind)` says it changes something (it is called once per key, in key
    /// order). The writes are sorted in place by (key, log position) on every core and
    /// become the memtable: nothing is copied or allocated per write.
    pub fn from_log(log: ReplayLog, keep: &mut dyn FnMut(u64, ValueKind) -> bool) -> Memtable {
        use rayon::slice::ParallelSliceMut;
        let ReplayLog { mut entries, chunks } = log;
        let appends = entries.len() as u64;
        // Unstable is enough: no two writes have the same location.
        entries.par_sort_unstable_by_key(|e| (e.key, e.loc));
        let mut bytes = 0;
        let mut kept = 0;
        for j in 0..entries.len() {
            let e = entries[j];
            if entries.get(j + 1).is_some_and(|next| next.key == e.key) {
                continue; // a later write of this key follows
            }
            if keep(e.key, e.kind) {
                bytes += e.len as usize + ENTRY_OVERHEAD;
                entries[kept] = e;
                kept += 1;
            }
        }
        entries.truncate(kept);
        Memtable { layout: Layout::Sorted(Sorted { entries, chunks }), bytes, appends }
    }

    /// The entry for `key`, if this memtable has one: its kind (`Deleted` for a
    /// tombstone) and value bytes.
    #[inline]
    pub fn get(&self, key: u64) -> Option<(ValueKind, &[u8])> {
        match &self.layout {
            Layout::Map(m) => m.get(&key).map(|e| (e.kind, &e.value[..])),
            Layout::Sorted(s) => s.entries.binary_search_by_key(&key, |e| e.key).ok().map(|i| {
                let (_, kind, v) = s.entry(i);
                (kind, v)
            }),
        }
    }

    /// The same entries in the map layout, values copied out of the chunks they lay in
    /// (which are released).
    pub fn into_map(mut self) -> Memtable {
        self.make_map();
        self
    }

    fn make_map(&mut self) {
        if let Layout::Sorted(s) = &self.layout {
            let map: BTreeMap<u64, Entry> = (0..s.entries.len())
                .map(|i| {
                    let (k, kind, v) = s.entry(i);
                    (k, Entry { kind, value: v.into() })
                })
                .collect();
            self.layout = Layout::Map(map);
        }
    }

    /// Record a put or a tombstone.
    pub fn insert(&mut self, key: u64, entry: Entry) {
        self.make_map();
        let Layout::Map(map) = &mut self.layout else { unreachable!("converted above") };
        self.bytes += entry.value.len() + ENTRY_OVERHEAD;
        self.appends += 1;
        if let Some(old) = map.insert(key, entry) {
            self.bytes -= old.value.len() + ENTRY_OVERHEAD;
        }
    }

    /// Entries with keys in `lo..=hi` (`lo ≤ hi`), in key order (reverse it for descending).
    pub fn range(&self, lo: u64, hi: u64) -> MemRange<'_> {
        match &self.layout {
            Layout::Map(m) => MemRange::Map(m.range(lo..=hi)),
            Layout::Sorted(s) => MemRange::Sorted {
                sorted: s,
                front: s.entries.partition_point(|e| e.key < lo),
                back: s.entries.partition_point(|e| e.key <= hi),
            },
        }
    }

    /// Every entry in key order.
    pub fn iter(&self) -> MemRange<'_> {
        self.range(0, u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(writes: &[(u64, ValueKind, &str)]) -> ReplayLog {
        // As in a WAL frame, a header byte precedes each value, so even empty values have
        // distinct, growing positions.
        let chunk: Chunk =
            Arc::new(writes.iter().flat_map(|w| [b'#'].into_iter().chain(w.2.bytes())).collect::<Vec<u8>>());
        let bytes: &[u8] = AsRef::<[u8]>::as_ref(&*chunk);
        let mut l = ReplayLog::default();
        let mut at = 0;
        for &(k, kind, v) in writes {
            l.push(k, kind, &chunk, &bytes[at + 1..at + 1 + v.len()]).unwrap();
            at += 1 + v.len();
        }
        l
    }

    fn all(m: &Memtable) -> Vec<(u64, ValueKind, Vec<u8>)> {
        m.iter().map(|(k, kind, v)| (k, kind, v.to_vec())).collect()
    }

    #[test]
    fn a_bulk_load_keeps_the_last_write_of_each_key_in_key_order() {
        use ValueKind::*;
        let l =
            log(&[(5, Bytes, "a"), (1, Str, "b"), (5, Str, "cc"), (9, Bytes, "d"), (1, Deleted, ""), (7, Bytes, "")]);
        let mut asked = Vec::new();
        let m = Memtable::from_log(l, &mut |k, kind| {
            asked.push(k);
            !(k == 9 && kind == Bytes) // drop one, as a no-op delete would be
        });
        assert_eq!(asked, vec![1, 5, 7, 9], "asked once per key, in key order");
        assert_eq!(all(&m), vec![(1, Deleted, vec![]), (5, Str, b"cc".to_vec()), (7, Bytes, vec![])]);
        assert_eq!(m.appends(), 6);
        assert_eq!(m.len(), 3);
        assert_eq!(m.get(5), Some((Str, &b"cc"[..])));
        assert_eq!(m.get(1), Some((Deleted, &b""[..])));
        assert_eq!(m.get(9), None);
        assert_eq!(m.get(6), None);
        let rev: Vec<u64> = m.range(2, 7).rev().map(|(k, _, _)| k).collect();
        assert_eq!(rev, vec![7, 5]);
        let none: Vec<u64> = m.range(8, 8).map(|(k, _, _)| k).collect();
        assert!(none.is_empty());
    }

    #[test]
    fn the_first_single_write_turns_a_bulk_load_into_a_map_with_the_same_entries() {
        use ValueKind::*;
        let mut m =
            Memtable::from_log(log(&[(3, Bytes, "x"), (u64::MAX, Str, "max"), (0, Bytes, "zero")]), &mut |_, _| true);
        let before = m.bytes();
        m.insert(3, Entry { kind: Str, value: b"yy".to_vec().into() });
        m.insert(4, Entry { kind: Bytes, value: b"z".to_vec().into() });
        assert_eq!(
            all(&m),
            vec![
                (0, Bytes, b"zero".to_vec()),
                (3, Str, b"yy".to_vec()),
                (4, Bytes, b"z".to_vec()),
                (u64::MAX, Str, b"max".to_vec())
            ]
        );
        assert_eq!(m.bytes(), before + 1 + (1 + ENTRY_OVERHEAD));
        assert_eq!(m.appends(), 5);
    }

    #[test]
    fn truncating_a_log_drops_the_dropped_writes_and_the_chunks_only_they_used() {
        let mut l = log(&[(1, ValueKind::Bytes, "abc"), (2, ValueKind::Bytes, "de")]);
        let other: Chunk = Arc::new(b"xyz".to_vec());
        l.push(3, ValueKind::Str, &other, &AsRef::<[u8]>::as_ref(&*other)[1..]).unwrap();
        assert_eq!((l.len(), l.chunks.len()), (3, 2));
        l.truncate(1);
        assert_eq!((l.len(), l.chunks.len()), (1, 1));
        let m = Memtable::from_log(l, &mut |_, _| true);
        assert_eq!(all(&m), vec![(1, ValueKind::Bytes, b"abc".to_vec())]);
        let mut empty = log(&[(1, ValueKind::Bytes, "a")]);
        empty.truncate(0);
        assert!(empty.is_empty() && empty.chunks.is_empty());
    }

    #[test]
    fn a_value_outside_its_chunk_is_refused_and_nothing_is_appended() {
        let chunk: Chunk = Arc::new(b"abc".to_vec());
        let elsewhere = b"abc".to_vec();
        let mut l = ReplayLog::default();
        assert!(l.push(1, ValueKind::Bytes, &chunk, &elsewhere).is_err());
        assert!(l.is_empty() && l.chunks.is_empty());
        l.push(2, ValueKind::Deleted, &chunk, &AsRef::<[u8]>::as_ref(&*chunk)[3..]).unwrap();
        assert_eq!(all(&Memtable::from_log(l, &mut |_, _| true)), vec![(2, ValueKind::Deleted, vec![])]);
        let l = ReplayLog::default();
        let m = Memtable::from_log(l, &mut |_, _| true).into_map();
        assert!(m.is_empty());
    }
}
