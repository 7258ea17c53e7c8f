//! The memtable: the key-value store's newest writes, in key order, in memory. Bounded by
//! bytes and by appends; when full it is frozen and written out as a sorted run.

use super::value::Entry;
use std::collections::BTreeMap;

/// Bytes counted per entry on top of the value (key, kind, map node share).
const ENTRY_OVERHEAD: usize = 48;

/// Writes not yet in a run. Deletes are kept as tombstones (they hide older runs).
#[derive(Default, Debug)]
pub struct Memtable {
    map: BTreeMap<u64, Entry>,
    bytes: usize,
    appends: u64,
}

impl Memtable {
    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Entries (tombstones included).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Approximate memory held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Writes applied since it was created.
    pub fn appends(&self) -> u64 {
        self.appends
    }

    /// A memtable holding `entries` (ascending, unique keys) in one bulk build.
    pub fn from_sorted(entries: Vec<(u64, Entry)>) -> Memtable {
        let appends = entries.len() as u64;
        let bytes = entries.iter().map(|(_, e)| e.value.len() + ENTRY_OVERHEAD).sum();
        Memtable { map: entries.into_iter().collect(), bytes, appends }
    }

    /// The entry for `key`, if this memtable has one.
    #[inline]
    pub fn get(&self, key: u64) -> Option<&Entry> {
        self.map.get(&key)
    }

    /// Record a put or a tombstone.
    pub fn insert(&mut self, key: u64, entry: Entry) {
        self.bytes += entry.value.len() + ENTRY_OVERHEAD;
        self.appends += 1;
        if let Some(old) = self.map.insert(key, entry) {
            self.bytes -= old.value.len() + ENTRY_OVERHEAD;
        }
    }

    /// Entries with keys in `lo..=hi`, in key order.
    pub fn range(&self, lo: u64, hi: u64) -> std::collections::btree_map::Range<'_, u64, Entry> {
        self.map.range(lo..=hi)
    }

    /// Every entry in key order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Entry)> {
        self.map.iter().map(|(&k, e)| (k, e))
    }
}
