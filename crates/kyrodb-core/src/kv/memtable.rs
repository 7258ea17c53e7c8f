//! The memtable: the key-value store's newest writes, in key order, in memory. Bounded by
//! bytes and by appends; when full it is frozen and written out as a sorted run.
//!
//! Two layouts. Writes applied one at a time go into a `BTreeMap` of boxed values. The
//! writes replayed at open are loaded in bulk ([`Memtable::from_log`]): sorted key columns
//! over one buffer that holds the values in log order, so recovery allocates nothing per
//! value and sorts once (`docs/ARCHITECTURE.md` §14 has the figures). A sorted memtable
//! becomes a map at its first single write; a full one is written out as a run first (the
//! open schedules that flush), so the conversion only ever copies a bounded memtable.

use super::value::{Entry, ValueKind};
use std::collections::BTreeMap;

/// Bytes counted per entry on top of the value (key, kind, map node share).
const ENTRY_OVERHEAD: usize = 48;

/// Writes replayed from the WAL, in log order, as columns: write `i` stores `kinds[i]`
/// under `keys[i]` with the value `values[ends[i-1]..ends[i]]` (from 0 for `i = 0`).
#[derive(Default, Debug)]
pub struct LogColumns {
    /// Keys, in log order.
    pub keys: Vec<u64>,
    /// Kind of each write (`Deleted` for a delete).
    pub kinds: Vec<ValueKind>,
    /// End of each write's value in `values`.
    pub ends: Vec<u64>,
    /// Every value, concatenated in log order.
    pub values: Vec<u8>,
}

impl LogColumns {
    /// Append one write.
    pub fn push(&mut self, key: u64, kind: ValueKind, value: &[u8]) {
        self.keys.push(key);
        self.kinds.push(kind);
        self.values.extend_from_slice(value);
        self.ends.push(self.values.len() as u64);
    }

    /// Writes held.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Drop every write after the first `n`.
    pub fn truncate(&mut self, n: usize) {
        if n < self.keys.len() {
            let end = if n == 0 { 0 } else { self.ends[n - 1] as usize };
            self.keys.truncate(n);
            self.kinds.truncate(n);
            self.ends.truncate(n);
            self.values.truncate(end);
        }
    }
}

/// A bulk-loaded memtable: entry `i` is `keys[i]` (strictly ascending), `kinds[i]`, and
/// `values[starts[i]..starts[i] + lens[i]]`.
#[derive(Debug, Default)]
pub struct Sorted {
    keys: Vec<u64>,
    kinds: Vec<ValueKind>,
    starts: Vec<u64>,
    lens: Vec<u32>,
    values: Vec<u8>,
}

impl Sorted {
    #[inline]
    fn entry(&self, i: usize) -> (u64, ValueKind, &[u8]) {
        let start = self.starts[i] as usize;
        (self.keys[i], self.kinds[i], &self.values[start..start + self.lens[i] as usize])
    }
}

#[derive(Debug)]
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
#[derive(Default, Debug)]
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
        /// The columns.
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
            Layout::Sorted(s) => s.keys.len(),
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
    /// order). The sort of `(key, log position)` pairs runs on every core; values stay
    /// where the log put them.
    pub fn from_log(log: LogColumns, keep: &mut dyn FnMut(u64, ValueKind) -> bool) -> Memtable {
        use rayon::slice::ParallelSliceMut;
        let appends = log.keys.len() as u64;
        let mut order: Vec<(u64, usize)> = log.keys.iter().enumerate().map(|(i, &k)| (k, i)).collect();
        // Unstable is enough: no two pairs are equal (positions differ), and equal keys
        // end up in log order.
        order.par_sort_unstable();
        let mut s = Sorted {
            keys: Vec::with_capacity(order.len()),
            kinds: Vec::with_capacity(order.len()),
            starts: Vec::with_capacity(order.len()),
            lens: Vec::with_capacity(order.len()),
            values: Vec::new(),
        };
        let mut bytes = 0;
        // In key order the log positions are random: start loading a write's kind and value
        // bounds this many entries ahead (a cache miss each otherwise; ARCHITECTURE §14).
        const AHEAD: usize = 16;
        for (j, &(key, i)) in order.iter().enumerate() {
            if let Some(&(_, a)) = order.get(j + AHEAD) {
                crate::simd::prefetch(&log.ends[a.saturating_sub(1)..], 16);
                crate::simd::prefetch(&log.kinds[a..], 1);
            }
            if order.get(j + 1).is_some_and(|next| next.0 == key) {
                continue; // a later write of this key follows
            }
            let kind = log.kinds[i];
            if !keep(key, kind) {
                continue;
            }
            let start = if i == 0 { 0 } else { log.ends[i - 1] };
            let len = log.ends[i] - start;
            s.keys.push(key);
            s.kinds.push(kind);
            s.starts.push(start);
            s.lens.push(len as u32);
            bytes += len as usize + ENTRY_OVERHEAD;
        }
        s.values = log.values;
        Memtable { layout: Layout::Sorted(s), bytes, appends }
    }

    /// The entry for `key`, if this memtable has one: its kind (`Deleted` for a
    /// tombstone) and value bytes.
    #[inline]
    pub fn get(&self, key: u64) -> Option<(ValueKind, &[u8])> {
        match &self.layout {
            Layout::Map(m) => m.get(&key).map(|e| (e.kind, &e.value[..])),
            Layout::Sorted(s) => s.keys.binary_search(&key).ok().map(|i| {
                let (_, kind, v) = s.entry(i);
                (kind, v)
            }),
        }
    }

    /// Record a put or a tombstone.
    pub fn insert(&mut self, key: u64, entry: Entry) {
        if let Layout::Sorted(s) = &self.layout {
            let map: BTreeMap<u64, Entry> = (0..s.keys.len())
                .map(|i| {
                    let (k, kind, v) = s.entry(i);
                    (k, Entry { kind, value: v.into() })
                })
                .collect();
            self.layout = Layout::Map(map);
        }
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
                front: s.keys.partition_point(|&k| k < lo),
                back: s.keys.partition_point(|&k| k <= hi),
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

    fn log(writes: &[(u64, ValueKind, &str)]) -> LogColumns {
        let mut l = LogColumns::default();
        for &(k, kind, v) in writes {
            l.push(k, kind, v.as_bytes());
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
    fn truncating_a_log_drops_the_values_of_the_dropped_writes() {
        let mut l = log(&[(1, ValueKind::Bytes, "abc"), (2, ValueKind::Bytes, "de"), (3, ValueKind::Bytes, "f")]);
        l.truncate(1);
        assert_eq!((l.len(), l.values.len()), (1, 3));
        l.truncate(0);
        assert!(l.is_empty() && l.values.is_empty());
    }
}
